import { useEffect, useState } from 'react';
import type { ConnStatus } from '../chat/state';

export function statusLabel(status: ConnStatus, retryAt: number | null, now: number, fatal: boolean): string {
  switch (status) {
    case 'online':
      return 'Online';
    case 'connecting':
      return 'Connecting…';
    case 'reconnecting': {
      if (retryAt === null) return 'Reconnecting…';
      const s = Math.max(1, Math.ceil((retryAt - now) / 1000));
      return `Reconnecting in ${s}s`;
    }
    case 'offline':
      return fatal ? 'Disconnected' : 'Offline';
  }
}

/** A ticking clock while a countdown is shown. */
export function useNow(active: boolean, intervalMs = 500): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    setNow(Date.now());
    const t = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(t);
  }, [active, intervalMs]);
  return now;
}

export function StatusIndicator({ status, retryAt, fatal }: { status: ConnStatus; retryAt: number | null; fatal: boolean }) {
  const now = useNow(retryAt !== null);
  const label = statusLabel(status, retryAt, now, fatal);
  return (
    <div className={`status status-${status}`} role="status" aria-live="polite" data-testid="connection-status" data-status={status}>
      <span className="status-dot" aria-hidden="true" />
      <span className="status-label">{label}</span>
    </div>
  );
}
