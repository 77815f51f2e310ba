import type { KeyboardEvent } from 'react';
import { useEffect, useRef } from 'react';
import type { Anchor } from './Popover';
import { Popover } from './Popover';

/** The quick reactions offered on every message. */
export const COMMON_EMOJI = ['👍', '❤️', '😂', '🎉', '😮', '😢', '🙏', '👀'];

/** The picker's emoji: the common ones, then those already on the message. */
export function pickerEmoji(existing: string[]): string[] {
  return [...new Set([...COMMON_EMOJI, ...existing])];
}

export interface EmojiPickerProps {
  anchor: Anchor;
  /** Emoji already on the message (also offered), and the ones the user picked (pressed). */
  existing: string[];
  mine: string[];
  onPick(emoji: string): void;
  onClose(): void;
}

export function EmojiPicker({ anchor, existing, mine, onPick, onClose }: EmojiPickerProps) {
  const grid = useRef<HTMLDivElement>(null);
  useEffect(() => {
    grid.current?.querySelector<HTMLElement>('button')?.focus();
  }, []);
  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    const all = [...(grid.current?.querySelectorAll<HTMLElement>('button') ?? [])];
    const i = all.indexOf(document.activeElement as HTMLElement);
    const cols = 4;
    const moves: Record<string, number> = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: cols, ArrowUp: -cols };
    const d = moves[e.key];
    if (d === undefined || i < 0) return;
    e.preventDefault();
    all[Math.max(0, Math.min(all.length - 1, i + d))]?.focus();
  };
  return (
    <Popover anchor={anchor} onClose={onClose} className="emoji-picker" label="Add reaction" testId="emoji-picker">
      <div ref={grid} className="emoji-grid" onKeyDown={onKeyDown}>
        {pickerEmoji(existing).map((emoji) => (
          <button
            key={emoji}
            type="button"
            className={`emoji-option${mine.includes(emoji) ? ' on' : ''}`}
            aria-label={mine.includes(emoji) ? `Remove your ${emoji} reaction` : `React with ${emoji}`}
            aria-pressed={mine.includes(emoji)}
            onClick={() => {
              onClose();
              onPick(emoji);
            }}
            data-testid="emoji-option"
          >
            {emoji}
          </button>
        ))}
      </div>
    </Popover>
  );
}
