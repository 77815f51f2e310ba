// The session token the server signs for this browser (docs/protocol.md, "Identity"). It lives
// in localStorage under a fixed key, so that a page embedding distchat can also put one there
// (its own sign-in), and every tab of the origin presents the latest one.

export const TOKEN_KEY = 'distchat.token';

/** Where the client reads and writes the token; tests pass their own. */
export interface TokenStore {
  load(): string | null;
  /** null forgets it. */
  save(token: string | null): void;
}

/** The browser's localStorage; never throws (private mode, quota, disabled storage). */
export const localTokenStore: TokenStore = {
  load() {
    try {
      const t = window.localStorage.getItem(TOKEN_KEY);
      return t === null || t === '' ? null : t;
    } catch {
      return null;
    }
  },
  save(token) {
    try {
      if (token === null) window.localStorage.removeItem(TOKEN_KEY);
      else window.localStorage.setItem(TOKEN_KEY, token);
    } catch {
      // Works for this visit: the server makes a new guest on the next one.
    }
  },
};

/**
 * Takes a `token` query parameter of the page (a host application's sign-in hands it over
 * that way), stores it, and removes it from the address bar so that it is neither bookmarked
 * nor shared. Returns whether there was one. Safe to call more than once.
 */
export function adoptTokenFromUrl(store: TokenStore = localTokenStore, loc: Location = window.location, hist: History = window.history): boolean {
  const params = new URLSearchParams(loc.search);
  const token = params.get('token');
  if (token === null) return false;
  params.delete('token');
  if (token !== '') store.save(token);
  const search = params.toString();
  try {
    hist.replaceState(hist.state, '', `${loc.pathname}${search ? `?${search}` : ''}${loc.hash}`);
  } catch {
    // An odd document (sandboxed frame): the token is stored all the same.
  }
  return token !== '';
}
