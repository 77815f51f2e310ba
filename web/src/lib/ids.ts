let counter = 0;
const session = Math.random().toString(36).slice(2, 8);

/**
 * A client reference for a request (≤ 64 chars). The server echoes it in ack/error/joined and
 * dedupes message retries on it, so it must be unique for this client across reconnects.
 */
export function newRef(prefix = 'c'): string {
  const c = globalThis.crypto;
  if (c && typeof c.randomUUID === 'function') {
    try {
      return `${prefix}-${c.randomUUID()}`;
    } catch {
      // randomUUID exists but throws outside secure contexts in some browsers.
    }
  }
  counter += 1;
  return `${prefix}-${session}-${Date.now().toString(36)}-${counter}`;
}
