import { describe, expect, it } from 'vitest';
import { fakeSessionApi } from '../test/fakeSessionApi';
import { adoptTokenFromUrl, browserSession, pendingToken, TOKEN_KEY } from './session';

describe('a token handed over to the page', () => {
  it('is the one in localStorage under distchat.token; an empty one is none', () => {
    expect(pendingToken()).toBeNull();
    window.localStorage.setItem(TOKEN_KEY, 'from-the-host');
    expect(pendingToken()).toBe('from-the-host');
    window.localStorage.setItem(TOKEN_KEY, '');
    expect(pendingToken()).toBeNull();
  });

  it('is taken from the page URL once, kept until it is exchanged, and removed from the address bar', () => {
    window.history.replaceState(null, '', '/r/dev?token=abc.def&x=1#top');
    expect(adoptTokenFromUrl()).toBe(true);
    expect(pendingToken()).toBe('abc.def');
    expect(`${window.location.pathname}${window.location.search}${window.location.hash}`).toBe('/r/dev?x=1#top');
    // Nothing left to take.
    expect(adoptTokenFromUrl()).toBe(false);
    expect(pendingToken()).toBe('abc.def');

    window.history.replaceState(null, '', '/?token=');
    expect(adoptTokenFromUrl()).toBe(false);
    expect(window.location.search).toBe('');
    expect(pendingToken()).toBe('abc.def');
    window.history.replaceState(null, '', '/');
  });
});

describe('the session exchange (POST /api/session)', () => {
  it('presents the token as Authorization: Bearer, same-origin, and forgets it once the cookie is set', async () => {
    window.localStorage.setItem(TOKEN_KEY, 'tok');
    const api = fakeSessionApi({ post: [200] });
    expect(await browserSession({ fetch: api.fetch }).exchange('tok')).toBe('signed-in');
    expect(api.calls).toEqual([{ method: 'POST', url: '/api/session', authorization: 'Bearer tok', credentials: 'same-origin' }]);
    expect(window.localStorage.getItem(TOKEN_KEY)).toBeNull();
  });

  it('forgets a refused token and ends the session this browser may still have', async () => {
    window.localStorage.setItem(TOKEN_KEY, 'expired');
    const api = fakeSessionApi({ post: [401] });
    expect(await browserSession({ fetch: api.fetch }).exchange('expired')).toBe('refused');
    expect(api.calls.map((c) => c.method)).toEqual(['POST', 'DELETE']);
    expect(window.localStorage.getItem(TOKEN_KEY)).toBeNull();
  });

  it('keeps the token when the server does not answer (network, 5xx), to try again', async () => {
    window.localStorage.setItem(TOKEN_KEY, 'tok');
    const api = fakeSessionApi({ post: ['network', 503, 500] });
    const session = browserSession({ fetch: api.fetch });
    for (let i = 0; i < 3; i++) expect(await session.exchange('tok')).toBe('unavailable');
    expect(api.calls.map((c) => c.method)).toEqual(['POST', 'POST', 'POST']);
    expect(window.localStorage.getItem(TOKEN_KEY)).toBe('tok');
  });

  it('leaves a newer token the host page stored meanwhile', async () => {
    window.localStorage.setItem(TOKEN_KEY, 'newer');
    const api = fakeSessionApi({ post: [200] });
    await browserSession({ fetch: api.fetch }).exchange('older');
    expect(window.localStorage.getItem(TOKEN_KEY)).toBe('newer');
  });
});

describe('ending the session (DELETE /api/session)', () => {
  it('asks the server to clear the cookie, and rejects when it could not be told', async () => {
    const api = fakeSessionApi({ del: [204, 500, 'network'] });
    const session = browserSession({ fetch: api.fetch });
    await session.end();
    expect(api.calls).toEqual([{ method: 'DELETE', url: '/api/session', authorization: null, credentials: 'same-origin' }]);
    await expect(session.end()).rejects.toThrow('500');
    await expect(session.end()).rejects.toThrow('Failed to fetch');
  });

  it('with everywhere, asks the server to end every session of the person, and rejects with its reason', async () => {
    const api = fakeSessionApi({ del: [204, 401] });
    const session = browserSession({ fetch: api.fetch });
    await session.end({ everywhere: true });
    expect(api.calls).toEqual([{ method: 'DELETE', url: '/api/session?everywhere=true', authorization: null, credentials: 'same-origin' }]);
    await expect(session.end({ everywhere: true })).rejects.toThrow('status 401');
  });
});
