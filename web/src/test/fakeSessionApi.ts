import { vi } from 'vitest';

/** One request the page made to /api/session. */
export interface SessionCall {
  method: string;
  url: string;
  /** The Authorization header, or null. */
  authorization: string | null;
  credentials?: RequestCredentials;
}

/** How the fake server answers one request: a status, or a network error. */
export type Answer = number | 'network';

/**
 * A scripted /api/session for the tests: POST and DELETE are answered from their queues (then
 * 200 and 204); every request is recorded. A 200 to POST carries the person.
 */
export function fakeSessionApi(script: { post?: Answer[]; del?: Answer[]; user?: { id: string; name: string } } = {}) {
  const calls: SessionCall[] = [];
  const post = [...(script.post ?? [])];
  const del = [...(script.del ?? [])];
  const user = script.user ?? { id: 'u-1', name: 'Ada' };
  const fetch = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
    const method = init.method ?? 'GET';
    calls.push({ method, url: String(input), authorization: new Headers(init.headers).get('Authorization'), credentials: init.credentials });
    const answer = (method === 'DELETE' ? del.shift() : post.shift()) ?? (method === 'DELETE' ? 204 : 200);
    if (answer === 'network') throw new TypeError('Failed to fetch');
    if (answer === 204) return new Response(null, { status: 204 });
    const body = answer === 200 ? { user, token: 'renewed', expires: 1_800_000_000_000 } : { error: { code: answer === 401 ? 'unauthorized' : 'unavailable', message: `status ${answer}` } };
    return new Response(JSON.stringify(body), { status: answer, headers: { 'Content-Type': 'application/json' } });
  });
  return { fetch: fetch as unknown as typeof globalThis.fetch, calls };
}
