import { useEffect } from 'react';
import type { Toast } from '../chat/state';

const AUTO_DISMISS_MS = 8000;

export function Toasts({ toasts, onDismiss }: { toasts: Toast[]; onDismiss(id: number): void }) {
  return (
    <div className="toasts" aria-live="assertive" aria-atomic="false">
      {toasts.map((t) => (
        <ToastItem key={t.id} toast={t} onDismiss={onDismiss} />
      ))}
    </div>
  );
}

function ToastItem({ toast, onDismiss }: { toast: Toast; onDismiss(id: number): void }) {
  useEffect(() => {
    const timer = setTimeout(() => onDismiss(toast.id), AUTO_DISMISS_MS);
    return () => clearTimeout(timer);
  }, [toast.id, onDismiss]);
  return (
    <div className="toast" role="alert" data-testid="toast" data-code={toast.code}>
      <span className="toast-icon" aria-hidden="true">
        !
      </span>
      <div className="toast-text">
        <strong>{toastTitle(toast.code)}</strong>
        <span>{toast.message}</span>
      </div>
      <button type="button" className="icon-button" aria-label="Dismiss" onClick={() => onDismiss(toast.id)} data-testid="toast-dismiss">
        <svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true">
          <path d="M4 4l8 8M12 4l-8 8" stroke="currentColor" strokeWidth="1.8" strokeLinecap="round" />
        </svg>
      </button>
    </div>
  );
}

function toastTitle(code: string): string {
  switch (code) {
    case 'rate_limited':
      return 'Slow down';
    case 'unavailable':
      return 'Server busy';
    case 'not_member':
      return 'Not in that room';
    case 'forbidden':
      return 'Private conversation';
    case 'session_expired':
      return 'New session';
    case 'session_ended':
      return 'Session ended';
    case 'signed_out':
      return 'Signed out';
    case 'sign_out_failed':
      return 'Still signed in';
    case 'offline':
      return 'Offline';
    case 'invalid_room':
      return 'Invalid room';
    case 'bad_json':
    case 'bad_request':
    case 'unknown_type':
      return 'Request refused';
    default:
      return 'Something went wrong';
  }
}
