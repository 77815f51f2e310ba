import { describe, expect, it } from 'vitest';
import { adoptTokenFromUrl, localTokenStore, TOKEN_KEY } from './token';

describe('the session token', () => {
  it('is kept in localStorage under distchat.token; the latest replaces the last; null forgets it', () => {
    expect(localTokenStore.load()).toBeNull();
    localTokenStore.save('t1');
    expect(window.localStorage.getItem(TOKEN_KEY)).toBe('t1');
    localTokenStore.save('t2');
    expect(localTokenStore.load()).toBe('t2');
    localTokenStore.save(null);
    expect(window.localStorage.getItem(TOKEN_KEY)).toBeNull();
    // A host application may have put an empty one there: none.
    window.localStorage.setItem(TOKEN_KEY, '');
    expect(localTokenStore.load()).toBeNull();
  });

  it('takes a token from the page URL once, stores it, and removes it from the address bar', () => {
    window.history.replaceState(null, '', '/r/dev?token=abc.def&x=1#top');
    expect(adoptTokenFromUrl()).toBe(true);
    expect(localTokenStore.load()).toBe('abc.def');
    expect(`${window.location.pathname}${window.location.search}${window.location.hash}`).toBe('/r/dev?x=1#top');
    // Nothing left to take.
    expect(adoptTokenFromUrl()).toBe(false);
    expect(localTokenStore.load()).toBe('abc.def');

    window.history.replaceState(null, '', '/?token=');
    expect(adoptTokenFromUrl()).toBe(false);
    expect(window.location.search).toBe('');
    expect(localTokenStore.load()).toBe('abc.def');
    window.history.replaceState(null, '', '/');
  });
});
