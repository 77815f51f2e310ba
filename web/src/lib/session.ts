// The browser's session with the server (docs/protocol.md, "Identity"). The server keeps it in
// an HttpOnly cookie that it sets on every WebSocket upgrade and on POST /api/session: the
// page's scripts never see the token and it never travels in a URL.
//
// A token can still reach the page: kept in localStorage['distchat.token'] by the previous
// version of this UI, put there by a page that embeds distchat (its own sign-in), or handed
// over once as ?token= in the page URL. Such a token waits there until it is exchanged for the
// cookie, once, before the next connect; it is removed as soon as the server has answered.

export const TOKEN_KEY = 'distchat.token';

/** What became of a token offered to the server. */
export type Exchange =
  /** The cookie is set: the next connect is that person. */
  | 'signed-in'
  /** The server does not accept the token (expired, not signed by it): the next connect is a new guest. */
  | 'refused'
  /** No answer (network, 5xx, sign-in not ready yet): try again later; the token is kept. */
  | 'unavailable';

/** The client's view of the session, so tests can pass their own fetch. */
export interface Session {
  /** The token waiting to be exchanged, if any. */
  pending(): string | null;
  /** Forgets a waiting token (sign-out), but not a newer one stored meanwhile. */
  forget(token: string): void;
  /**
   * Offers `token` to the server (POST /api/session) and removes it from storage once the
   * server has answered. A refused token also ends the session this browser may still have,
   * so that the person is a new guest and not whoever used this browser last.
   */
  exchange(token: string): Promise<Exchange>;
  /**
   * Ends this browser's session (DELETE /api/session); `everywhere` ends every session of the
   * person, on every device and browser (their connections are closed). Rejects, with the
   * server's reason when it gave one, when the server did not do it.
   */
  end(opts?: { everywhere?: boolean }): Promise<void>;
}

export interface SessionOptions {
  /** Default: the page's fetch, looked up at each call. */
  fetch?: typeof fetch;
}

/** Reads the waiting token; never throws (private mode, disabled storage). */
export function pendingToken(): string | null {
  try {
    const t = window.localStorage.getItem(TOKEN_KEY);
    return t === null || t === '' ? null : t;
  } catch {
    return null;
  }
}

function storeToken(token: string): void {
  try {
    window.localStorage.setItem(TOKEN_KEY, token);
  } catch {
    // Storage refused: this visit signs in as a guest.
  }
}

/** Removes the waiting token when it is still `token` (another tab or the host page may have put a newer one there). */
function removeToken(token: string): void {
  try {
    if (window.localStorage.getItem(TOKEN_KEY) === token) window.localStorage.removeItem(TOKEN_KEY);
  } catch {
    // Nothing stored, nothing to remove.
  }
}

/** The session of the page's own origin. */
export function browserSession(opts: SessionOptions = {}): Session {
  const call = (method: 'POST' | 'DELETE', headers: Record<string, string> = {}, query = '') =>
    (opts.fetch ?? globalThis.fetch)(`/api/session${query}`, { method, credentials: 'same-origin', headers: { Accept: 'application/json', ...headers } });
  const end = async ({ everywhere = false }: { everywhere?: boolean } = {}) => {
    const res = await call('DELETE', {}, everywhere ? '?everywhere=true' : '');
    if (!res.ok) throw new Error(await refusal(res));
  };
  return {
    pending: pendingToken,
    forget: removeToken,
    end,
    async exchange(token) {
      let res: Response;
      try {
        res = await call('POST', { Authorization: `Bearer ${token}` });
      } catch {
        return 'unavailable';
      }
      if (res.status >= 500 || res.status === 408 || res.status === 429) return 'unavailable';
      removeToken(token);
      if (res.ok) return 'signed-in';
      await end().catch(() => {
        // Best effort: without an answer the browser keeps what it had.
      });
      return 'refused';
    },
  };
}

/** The server's reason for an error answer (`{"error":{"message"}}`), or its status. */
async function refusal(res: Response): Promise<string> {
  try {
    const body = (await res.json()) as { error?: { message?: unknown } };
    const m = body?.error?.message;
    if (typeof m === 'string' && m !== '') return m;
  } catch {
    // Not JSON: the status says enough.
  }
  return `the server answered ${res.status}`;
}

/**
 * Takes a `token` query parameter of the page (a host application's sign-in hands it over
 * that way), stores it until it is exchanged, and removes it from the address bar so that it
 * is neither bookmarked nor shared. Returns whether there was one. Safe to call more than once.
 */
export function adoptTokenFromUrl(loc: Location = window.location, hist: History = window.history): boolean {
  const params = new URLSearchParams(loc.search);
  const token = params.get('token');
  if (token === null) return false;
  params.delete('token');
  if (token !== '') storeToken(token);
  const search = params.toString();
  try {
    hist.replaceState(hist.state, '', `${loc.pathname}${search ? `?${search}` : ''}${loc.hash}`);
  } catch {
    // An odd document (sandboxed frame): the token is stored all the same.
  }
  return token !== '';
}
