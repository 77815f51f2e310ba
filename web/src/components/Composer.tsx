import type { ReactNode } from 'react';
import { useEffect, useId, useMemo, useRef, useState } from 'react';
import { Avatar } from './Avatar';
import type { Member } from '../lib/mentions';
import { completeMention, matchMembers, mentionQuery } from '../lib/mentions';
import { byteLength, cleanBody } from '../lib/validate';

export interface ComposerProps {
  room: string;
  /** Nothing can be written (the server refused us for good). */
  disabled?: boolean;
  /** Why messages are not going out right now (offline, connecting); shown above the box. */
  reason?: ReactNode;
  maxBytes: number;
  onSend(body: string): void;
  onTyping(): void;
  /** People to complete after "@" (the room's members, the user left out): names, or people with labels. */
  members?: (string | Member)[];
  /** How the room is named in the placeholder: "#general", or the other person of a direct message. */
  target?: string;
  /** ArrowUp in an empty box: edit the user's last message. Returns false when there is none. */
  onEditLast?(): boolean;
}

const MAX_ROWS = 8;

/**
 * Whether Enter sends. On a device with a keyboard it does (Shift+Enter for a new line); on a
 * touch keyboard Enter inserts a new line and the send button sends, as people expect there.
 */
export function enterSendsOn(match: ((q: string) => boolean) | null): boolean {
  if (!match) return true;
  return !(match('(pointer: coarse)') && !match('(any-pointer: fine)'));
}

export function useEnterSends(): boolean {
  return useMemo(() => enterSendsOn(typeof window !== 'undefined' && window.matchMedia ? (q) => window.matchMedia(q).matches : null), []);
}

export function Composer({ room, disabled = false, reason, maxBytes, onSend, onTyping, members = [], onEditLast, target = `#${room}` }: ComposerProps) {
  const [text, setText] = useState('');
  const [caret, setCaret] = useState(0);
  const [closedAt, setClosedAt] = useState<number | null>(null);
  const [index, setIndex] = useState(0);
  const area = useRef<HTMLTextAreaElement>(null);
  const id = useId();
  const enterSends = useEnterSends();
  const bytes = byteLength(text);
  const tooLong = bytes > maxBytes;
  const canSend = !disabled && !tooLong && cleanBody(text) !== '';

  const query = useMemo(() => mentionQuery(text, caret), [text, caret]);
  const people = useMemo(() => members.map((m): Member => (typeof m === 'string' ? { key: m, name: m } : m)), [members]);
  const matches = useMemo(() => (query && query.start !== closedAt ? matchMembers(people, query.query) : []), [query, closedAt, people]);
  const open = matches.length > 0;
  const selected = Math.min(index, matches.length - 1);

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
    setCaret(0);
    setClosedAt(null);
  };

  const complete = (name: string) => {
    if (!query) return;
    const next = completeMention(text, query.start, caret, name);
    setText(next.text);
    setCaret(next.caret);
    setIndex(0);
    requestAnimationFrame(() => {
      const el = area.current;
      if (!el) return;
      el.focus();
      el.setSelectionRange(next.caret, next.caret);
    });
  };

  const syncCaret = () => setCaret(area.current?.selectionStart ?? 0);

  return (
    <form
      className={`composer${disabled ? ' composer-disabled' : ''}`}
      onSubmit={(e) => {
        e.preventDefault();
        submit();
      }}
      data-testid="composer"
    >
      {reason && (
        <div className="composer-reason" role="status" data-testid="composer-reason">
          {reason}
        </div>
      )}
      <div className="composer-box">
        {open && (
          <ul className="mention-list" role="listbox" id={`${id}-mentions`} aria-label="People to mention" data-testid="mention-list">
            {matches.map((m, i) => (
              <li
                key={m.key}
                id={`${id}-opt-${i}`}
                role="option"
                aria-selected={i === selected}
                className={i === selected ? 'selected' : undefined}
                onMouseDown={(e) => {
                  e.preventDefault();
                  complete(m.name);
                }}
                onMouseEnter={() => setIndex(i)}
                data-testid="mention-option"
              >
                <Avatar name={m.name} color={m.color} size="sm" />
                <span className="mention-name">{m.label ?? m.name}</span>
              </li>
            ))}
          </ul>
        )}
        <label htmlFor={id} className="sr-only">
          Message {target}
        </label>
        <textarea
          id={id}
          ref={area}
          rows={1}
          value={text}
          dir="auto"
          disabled={disabled}
          placeholder={disabled ? 'Not connected' : `Message ${target}`}
          enterKeyHint={enterSends ? 'send' : 'enter'}
          aria-autocomplete="list"
          aria-controls={open ? `${id}-mentions` : undefined}
          aria-activedescendant={open ? `${id}-opt-${selected}` : undefined}
          aria-describedby={tooLong ? `${id}-count` : undefined}
          aria-invalid={tooLong || undefined}
          onChange={(e) => {
            setText(e.target.value);
            setCaret(e.target.selectionStart ?? e.target.value.length);
            setIndex(0);
            if (closedAt !== null && mentionQuery(e.target.value, e.target.selectionStart ?? 0)?.start !== closedAt) setClosedAt(null);
            if (e.target.value.trim() !== '') onTyping();
          }}
          onSelect={syncCaret}
          onClick={syncCaret}
          onKeyDown={(e) => {
            if (e.nativeEvent.isComposing) return;
            if (open) {
              if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
                e.preventDefault();
                const d = e.key === 'ArrowDown' ? 1 : -1;
                setIndex((selected + d + matches.length) % matches.length);
                return;
              }
              if (e.key === 'Enter' || e.key === 'Tab') {
                e.preventDefault();
                complete(matches[selected].name);
                return;
              }
              if (e.key === 'Escape') {
                e.preventDefault();
                e.stopPropagation();
                setClosedAt(query?.start ?? null);
                return;
              }
            }
            if (e.key === 'ArrowUp' && text === '' && onEditLast) {
              if (onEditLast()) e.preventDefault();
              return;
            }
            if (e.key === 'Enter' && !e.shiftKey && enterSends) {
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
          <kbd>Enter</kbd> to send · <kbd>Shift</kbd> + <kbd>Enter</kbd> for a new line · <kbd>↑</kbd> edits your last message · **bold** _italic_ `code`
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
