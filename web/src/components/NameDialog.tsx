import { useEffect, useId, useRef, useState } from 'react';
import { checkName, MAX_NAME_CHARS } from '../lib/validate';

export interface NameDialogProps {
  initial?: string;
  /** An error to show at once, e.g. the server refused the name. */
  serverError?: string | null;
  /** First visit: no cancel, a welcome text. */
  firstRun: boolean;
  /** The new name is with the server: wait for its answer. */
  busy?: boolean;
  onSubmit(name: string): void;
  onCancel?(): void;
}

export function NameDialog({ initial = '', serverError = null, firstRun, busy = false, onSubmit, onCancel }: NameDialogProps) {
  const [value, setValue] = useState(initial);
  const [error, setError] = useState<string | null>(serverError);
  const input = useRef<HTMLInputElement>(null);
  const id = useId();

  // The server refused the name after the dialog opened (a rename): say why, here.
  useEffect(() => {
    if (serverError) {
      setError(serverError);
      input.current?.focus();
    }
  }, [serverError]);

  useEffect(() => {
    input.current?.focus();
    input.current?.select();
  }, []);

  useEffect(() => {
    if (!onCancel) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') onCancel();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [onCancel]);

  return (
    <div className="overlay" data-testid="name-overlay">
      <div className="dialog" role="dialog" aria-modal="true" aria-labelledby={`${id}-title`} data-testid="name-dialog">
        {firstRun && (
          <div className="dialog-logo" aria-hidden="true">
            <Logo />
          </div>
        )}
        <h1 id={`${id}-title`} className="dialog-title">
          {firstRun ? 'Welcome to distchat' : 'Change your name'}
        </h1>
        <p className="dialog-text">{firstRun ? 'Pick a display name so people know who is talking. You can change it later.' : 'Everyone in your rooms will see the new name.'}</p>
        <form
          noValidate
          onSubmit={(e) => {
            e.preventDefault();
            if (busy) return;
            const r = checkName(value);
            if (!r.ok) {
              setError(r.error);
              input.current?.focus();
              return;
            }
            onSubmit(r.name);
          }}
        >
          <label htmlFor={id} className="field-label">
            Display name
          </label>
          <input
            id={id}
            ref={input}
            className="field"
            value={value}
            onChange={(e) => {
              setValue(e.target.value);
              if (error) setError(null);
            }}
            placeholder="e.g. Ada Lovelace"
            autoComplete="nickname"
            spellCheck={false}
            aria-invalid={error ? true : undefined}
            aria-describedby={`${id}-help`}
            data-testid="name-input"
          />
          <p id={`${id}-help`} className={error ? 'field-error' : 'field-help'} data-testid={error ? 'name-error' : undefined}>
            {error ?? `1–${MAX_NAME_CHARS} characters.`}
          </p>
          <div className="dialog-actions">
            {onCancel && (
              <button type="button" className="button secondary" onClick={onCancel}>
                Cancel
              </button>
            )}
            <button type="submit" className="button primary" aria-disabled={busy || undefined} data-testid="name-submit">
              {firstRun ? 'Start chatting' : busy ? 'Saving…' : 'Save'}
            </button>
          </div>
        </form>
      </div>
    </div>
  );
}

export function Logo({ size = 40 }: { size?: number }) {
  return (
    <svg viewBox="0 0 40 40" width={size} height={size} aria-hidden="true">
      <defs>
        <linearGradient id="logo-g" x1="0" y1="0" x2="1" y2="1">
          <stop offset="0" stopColor="var(--accent-2)" />
          <stop offset="1" stopColor="var(--accent)" />
        </linearGradient>
      </defs>
      <rect width="40" height="40" rx="11" fill="url(#logo-g)" />
      <path d="M11 14.5a4 4 0 0 1 4-4h10a4 4 0 0 1 4 4v6a4 4 0 0 1-4 4h-5.5L14 29v-4.6a4 4 0 0 1-3-3.9z" fill="#fff" />
      <circle cx="16" cy="17.5" r="1.5" fill="var(--accent)" />
      <circle cx="20" cy="17.5" r="1.5" fill="var(--accent)" />
      <circle cx="24" cy="17.5" r="1.5" fill="var(--accent)" />
    </svg>
  );
}
