import type { ReactNode } from 'react';
import { useEffect, useId, useRef, useState } from 'react';
import { byteLength, cleanBody } from '../lib/validate';

export interface ComposerProps {
  room: string;
  /** Not connected: nothing can be sent, and `reason` says why. */
  disabled?: boolean;
  reason?: ReactNode;
  maxBytes: number;
  onSend(body: string): void;
  onTyping(): void;
}

const MAX_ROWS = 8;

export function Composer({ room, disabled = false, reason, maxBytes, onSend, onTyping }: ComposerProps) {
  const [text, setText] = useState('');
  const area = useRef<HTMLTextAreaElement>(null);
  const id = useId();
  const bytes = byteLength(text);
  const tooLong = bytes > maxBytes;
  const canSend = !disabled && !tooLong && cleanBody(text) !== '';

  // Grow with the text up to MAX_ROWS lines.
  useEffect(() => {
    const el = area.current;
    if (!el) return;
    el.style.height = 'auto';
    const line = parseFloat(getComputedStyle(el).lineHeight) || 20;
    const max = line * MAX_ROWS + 16;
    el.style.height = `${Math.min(el.scrollHeight, max)}px`;
  }, [text]);

  // Focus follows the room on devices with a keyboard.
  useEffect(() => {
    if (!disabled && window.matchMedia?.('(pointer: fine)').matches) area.current?.focus();
  }, [room, disabled]);

  const submit = () => {
    if (!canSend) return;
    onSend(cleanBody(text));
    setText('');
  };

  return (
    <form
      className={`composer${disabled ? ' composer-disabled' : ''}`}
      onSubmit={(e) => {
        e.preventDefault();
        submit();
      }}
      data-testid="composer"
    >
      {disabled && (
        <div className="composer-reason" role="status" data-testid="composer-reason">
          {reason ?? 'Not connected.'}
        </div>
      )}
      <div className="composer-box">
        <label htmlFor={id} className="sr-only">
          Message #{room}
        </label>
        <textarea
          id={id}
          ref={area}
          rows={1}
          value={text}
          disabled={disabled}
          placeholder={disabled ? 'Not connected' : `Message #${room}`}
          aria-describedby={tooLong ? `${id}-count` : undefined}
          aria-invalid={tooLong || undefined}
          onChange={(e) => {
            setText(e.target.value);
            if (e.target.value.trim() !== '') onTyping();
          }}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
              e.preventDefault();
              submit();
            }
          }}
          data-testid="composer-input"
        />
        <button type="submit" className="send-button" disabled={!canSend} aria-label="Send message" data-testid="composer-send">
          <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true">
            <path d="M3.4 20.4 21 12 3.4 3.6l-.01 6.53L15 12 3.39 13.87z" fill="currentColor" />
          </svg>
        </button>
      </div>
      <div className="composer-hint">
        <span>
          <kbd>Enter</kbd> to send · <kbd>Shift</kbd> + <kbd>Enter</kbd> for a new line
        </span>
        {bytes > maxBytes * 0.8 && (
          <span id={`${id}-count`} className={tooLong ? 'count count-over' : 'count'} data-testid="composer-count">
            {tooLong ? `Too long: ${bytes.toLocaleString()} / ${maxBytes.toLocaleString()} bytes` : `${bytes.toLocaleString()} / ${maxBytes.toLocaleString()} bytes`}
          </span>
        )}
      </div>
    </form>
  );
}
