import type { TypingEntry } from '../chat/state';
import type { User } from '../protocol/types';

export function typingText(names: string[]): string {
  if (names.length === 0) return '';
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  return `${names.length} people are typing…`;
}

/** Who is typing; `label` names them as everywhere else (two Sams apart), by name otherwise. */
export function TypingIndicator({ typing, label = (u) => u.name }: { typing: Record<string, TypingEntry>; label?: (u: User) => string }) {
  const names = [...new Set(Object.values(typing).map((t) => label(t.user)))].sort();
  const text = typingText(names);
  return (
    <div className="typing" aria-live="polite" data-testid="typing-indicator">
      {text && (
        <>
          <span className="typing-dots" aria-hidden="true">
            <i />
            <i />
            <i />
          </span>
          <span>{text}</span>
        </>
      )}
    </div>
  );
}
