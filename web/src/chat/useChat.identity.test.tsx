// The client's side of identity: the session (a cookie the test cannot see; a token handed
// over by a host page or the previous UI, exchanged once), sign-out, renames, direct messages
// and read positions on the wire, and that an older server (no welcome.user) sees none of it.

import { act } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { browserSession, TOKEN_KEY } from '../lib/session';
import { fakeSessionApi } from '../test/fakeSessionApi';
import { FakeWebSocket, msg, welcome } from '../test/fakeWebSocket';
import { advance, fakeTimersInEachTest, openWith, renderChat, settle } from '../test/harness';
import { EXCHANGE_TRIES, READ_INTERVAL_MS, SESSION_ENDED, SESSION_EXPIRED, SIGNED_OUT, SIGNED_OUT_EVERYWHERE } from './client';
import type { UseChatOptions } from './useChat';

const sam = { id: 'k3x9q2mf', name: 'Sam' };
const bob = { id: 'b0b0b0b0', name: 'Bob' };

function setup(opts: Partial<UseChatOptions> = {}) {
  return renderChat({ name: 'Sam', ...opts });
}

/** A welcome from a server with identity. */
function idWelcome(room = 'general', extra: object = {}, me = sam) {
  return welcome(room, me, [], { user: me, token: 'tok-new', conn: 'c-1', online: [{ ...me, devices: 1 }], ...extra });
}

function connect(w: object = idWelcome()) {
  return openWith(w);
}

function params(ws: FakeWebSocket): URLSearchParams {
  return new URL(ws.url).searchParams;
}

/** The server refuses the session of the newest socket: `unauthorized`, then close 1008. */
function refuse(message = 'session expired') {
  const ws = FakeWebSocket.last();
  act(() => {
    ws.open();
    ws.receive({ type: 'error', code: 'unauthorized', message });
    ws.serverClose(1008);
  });
}

fakeTimersInEachTest();

describe('useChat: the session', () => {
  it('never puts a token in the URL and keeps none a welcome brings: a reconnect is the same person by the cookie', () => {
    const { result } = setup();
    const ws = connect();
    expect(params(ws).has('token')).toBe(false);
    expect(window.localStorage.getItem(TOKEN_KEY)).toBeNull();
    act(() => ws.serverClose(1006));
    advance(250);
    expect(params(FakeWebSocket.last()).has('token')).toBe(false);
    connect();
    expect(result.current.state.userId).toBe(sam.id);
    expect(window.localStorage.getItem(TOKEN_KEY)).toBeNull();
  });

  it('works as before with an older server (no welcome.user), asking nothing of /api/session', () => {
    const api = fakeSessionApi();
    const { result } = setup({ session: browserSession({ fetch: api.fetch }) });
    connect(welcome('general', sam));
    expect(result.current.state.status).toBe('online');
    expect(result.current.state.userId).toBeNull();
    expect(api.calls).toEqual([]);
  });

  it('an unauthorized session: the client comes back at once as a new guest, once, and says so', () => {
    const { result } = setup();
    refuse();
    expect(FakeWebSocket.instances).toHaveLength(2);
    const second = FakeWebSocket.last();
    expect(params(second).has('token')).toBe(false);
    expect(params(second).get('name')).toBe('Sam');
    expect(result.current.state.fatal).toBeNull();
    expect(result.current.state.toasts).toEqual([]);
    connect(idWelcome('general', { token: 'tok-guest' }, { id: 'guest-1', name: 'Sam' }));
    expect(result.current.state.toasts.map((t) => t.message)).toEqual([SESSION_EXPIRED]);
    expect(result.current.state.userId).toBe('guest-1');
    // Later refusals are again first ones: the guest's session can expire too.
    refuse();
    expect(FakeWebSocket.instances).toHaveLength(3);
  });

  it('a server that refuses guests too: the second unauthorized in a row is final, with its message', async () => {
    const api = fakeSessionApi();
    const { result } = setup({ session: browserSession({ fetch: api.fetch }) });
    refuse('sign in through example.com');
    refuse('sign in through example.com');
    advance(60_000);
    expect(FakeWebSocket.instances).toHaveLength(2);
    expect(result.current.state.status).toBe('offline');
    expect(result.current.state.fatal).toEqual({ code: 'unauthorized', message: 'sign in through example.com' });
    expect(result.current.state.toasts).toEqual([]);

    // The host application signs the user in again: "Try again" exchanges its token first.
    window.localStorage.setItem(TOKEN_KEY, 'tok-fresh');
    act(() => result.current.actions.reconnectNow());
    expect(FakeWebSocket.instances).toHaveLength(2);
    expect(api.calls).toMatchObject([{ method: 'POST', authorization: 'Bearer tok-fresh' }]);
    await settle();
    expect(FakeWebSocket.instances).toHaveLength(3);
    expect(params(FakeWebSocket.last()).has('token')).toBe(false);
    connect();
    expect(result.current.state.fatal).toBeNull();
    expect(result.current.state.toasts).toEqual([]);
  });

  it('a token the host page stored meanwhile is exchanged before coming back, and no toast says the session expired', async () => {
    const api = fakeSessionApi();
    const { result } = setup({ session: browserSession({ fetch: api.fetch }) });
    const ws = FakeWebSocket.last();
    window.localStorage.setItem(TOKEN_KEY, 'tok-b');
    act(() => {
      ws.open();
      ws.receive({ type: 'error', code: 'unauthorized', message: 'expired' });
      ws.serverClose(1008);
    });
    expect(api.calls).toMatchObject([{ method: 'POST', authorization: 'Bearer tok-b' }]);
    await settle();
    expect(window.localStorage.getItem(TOKEN_KEY)).toBeNull();
    connect();
    expect(result.current.state.toasts).toEqual([]);
  });
});

describe('useChat: a session the server ends while connected', () => {
  /** The server ends the session of the open connection `ws` (sign-out everywhere elsewhere, a revocation). */
  function end(ws: FakeWebSocket) {
    act(() => {
      ws.receive({ type: 'error', code: 'unauthorized', message: 'your sessions were ended; sign in again' });
      ws.serverClose(1008);
    });
  }

  function signedIn() {
    const hook = setup({ rooms: ['dev'] });
    const ws = connect(idWelcome('general', { history: [msg('general', 1, bob)], dms: [{ room: 'dm-k3b0', user: bob }] }));
    return { ...hook, ws };
  }

  it('comes back at once without the old person, through the refusal of the ended cookie, and says once that the session was ended', () => {
    const { result, ws } = signedIn();
    act(() => result.current.actions.send('general', 'written before the end'));
    end(ws);
    expect(FakeWebSocket.instances).toHaveLength(2);
    const s = result.current.state;
    expect(s.userId).toBeNull();
    expect(s.rooms['dm-k3b0']).toBeUndefined();
    expect(s.rooms.general.pending).toEqual([]);
    expect(s.roomOrder).toEqual(['dev', 'general']);
    // The browser still presents the ended session's cookie: refused at the door (which clears it).
    refuse('your sessions were ended; sign in again');
    expect(FakeWebSocket.instances).toHaveLength(3);
    expect(result.current.state.fatal).toBeNull();
    const ws3 = connect(idWelcome('general', {}, { id: 'guest-4', name: 'Sam' }));
    expect(result.current.state.userId).toBe('guest-4');
    expect(result.current.state.toasts.map((t) => t.message)).toEqual([SESSION_ENDED]);
    expect(ws3.framesOfType('message')).toEqual([]);
    // Once: a later reconnect says nothing.
    act(() => ws3.serverClose(1006));
    advance(30_000);
    connect(idWelcome('general', {}, { id: 'guest-4', name: 'Sam' }));
    expect(result.current.state.toasts).toHaveLength(1);
  });

  it('says the same when the next connect is welcomed at once (another tab of this browser signed out everywhere)', () => {
    const { result, ws } = signedIn();
    end(ws);
    connect(idWelcome('general', {}, { id: 'guest-5', name: 'Sam' }));
    expect(result.current.state.toasts.map((t) => t.message)).toEqual([SESSION_ENDED]);
  });

  it('leads to the sign-in screen on a server that lets no guests in', () => {
    const { result, ws } = signedIn();
    end(ws);
    refuse('sign in first');
    refuse('sign in first');
    expect(FakeWebSocket.instances).toHaveLength(3);
    expect(result.current.state.fatal).toEqual({ code: 'unauthorized', message: 'sign in first' });
    expect(result.current.state.toasts).toEqual([]);
  });
});

describe('useChat: a token to exchange for the session cookie', () => {
  function withToken(script: Parameters<typeof fakeSessionApi>[0] = {}, token = 'tok-old') {
    window.localStorage.setItem(TOKEN_KEY, token);
    const api = fakeSessionApi(script);
    const hook = setup({ session: browserSession({ fetch: api.fetch }) });
    return { ...hook, api };
  }

  it('200: exchanged once before the first connect, then gone from localStorage', async () => {
    const { result, api } = withToken({ post: [200] });
    expect(api.calls).toEqual([{ method: 'POST', url: '/api/session', authorization: 'Bearer tok-old', credentials: 'same-origin' }]);
    expect(FakeWebSocket.instances).toHaveLength(0);
    expect(result.current.state.status).toBe('connecting');
    await settle();
    expect(FakeWebSocket.instances).toHaveLength(1);
    expect(params(FakeWebSocket.last()).has('token')).toBe(false);
    expect(window.localStorage.getItem(TOKEN_KEY)).toBeNull();
    const ws = connect();
    expect(result.current.state.toasts).toEqual([]);
    // Reconnects ask nothing more of /api/session.
    act(() => ws.serverClose(1006));
    advance(250);
    expect(FakeWebSocket.instances).toHaveLength(2);
    expect(api.calls).toHaveLength(1);
  });

  it('401: forgotten, the old session ended, and the user told once that they are a new guest', async () => {
    const { result, api } = withToken({ post: [401] });
    await settle();
    expect(api.calls.map((c) => c.method)).toEqual(['POST', 'DELETE']);
    expect(window.localStorage.getItem(TOKEN_KEY)).toBeNull();
    expect(FakeWebSocket.instances).toHaveLength(1);
    connect(idWelcome('general', {}, { id: 'guest-2', name: 'Sam' }));
    expect(result.current.state.toasts.map((t) => t.message)).toEqual([SESSION_EXPIRED]);
    act(() => FakeWebSocket.last().serverClose(1006));
    advance(250);
    connect(idWelcome('general', {}, { id: 'guest-2', name: 'Sam' }));
    expect(result.current.state.toasts).toHaveLength(1);
  });

  it('401 where guests are not let in: the refusal that follows is final at once', async () => {
    const { result } = withToken({ post: [401] });
    await settle();
    refuse('sign in first');
    expect(FakeWebSocket.instances).toHaveLength(1);
    expect(result.current.state.fatal).toEqual({ code: 'unauthorized', message: 'sign in first' });
  });

  it('a network error, then success: tried again with the usual backoff before connecting', async () => {
    const { result, api } = withToken({ post: ['network', 200] });
    await settle();
    expect(FakeWebSocket.instances).toHaveLength(0);
    expect(result.current.state.status).toBe('reconnecting');
    expect(result.current.state.retryAt).not.toBeNull();
    expect(window.localStorage.getItem(TOKEN_KEY)).toBe('tok-old');
    // random() is 0 in these tests: the first retry comes after 250 ms.
    advance(249);
    expect(api.calls).toHaveLength(1);
    advance(1);
    expect(api.calls).toHaveLength(2);
    await settle();
    expect(FakeWebSocket.instances).toHaveLength(1);
    expect(window.localStorage.getItem(TOKEN_KEY)).toBeNull();
    connect();
    expect(result.current.state.toasts).toEqual([]);
  });

  it(`connects anyway after ${EXCHANGE_TRIES} tries the server does not answer, and tries the token again on the next connect`, async () => {
    const { api } = withToken({ post: [503, 503, 'network', 200] });
    for (let i = 1; i < EXCHANGE_TRIES; i++) {
      await settle();
      advance(60_000);
    }
    await settle();
    expect(api.calls).toHaveLength(EXCHANGE_TRIES);
    expect(FakeWebSocket.instances).toHaveLength(1);
    expect(window.localStorage.getItem(TOKEN_KEY)).toBe('tok-old');
    // That socket fails too (the server is down): the next connect offers the token first.
    act(() => FakeWebSocket.last().serverClose(1006));
    advance(60_000);
    expect(api.calls).toHaveLength(EXCHANGE_TRIES + 1);
    await settle();
    expect(FakeWebSocket.instances).toHaveLength(2);
    expect(window.localStorage.getItem(TOKEN_KEY)).toBeNull();
  });
});

describe('useChat: sign-out', () => {
  function signedIn(script: Parameters<typeof fakeSessionApi>[0] = {}) {
    const api = fakeSessionApi(script);
    const hook = setup({ session: browserSession({ fetch: api.fetch }), rooms: ['dev'] });
    const ws = connect(idWelcome('general', { history: [msg('general', 1, bob)], dms: [{ room: 'dm-k3b0', user: bob }] }));
    return { ...hook, api, ws };
  }

  it('ends the session first, then connects as a new guest without the old identity’s conversations', async () => {
    const { result, api, ws } = signedIn();
    act(() => result.current.actions.send('general', 'written before signing out'));
    let done: Promise<boolean> = Promise.resolve(false);
    act(() => {
      done = result.current.actions.signOut();
    });
    // The old connection is closed and nothing connects until the server has cleared the cookie.
    expect(ws.closedByClient).not.toBeNull();
    expect(api.calls.map((c) => c.method)).toEqual(['DELETE']);
    expect(FakeWebSocket.instances).toHaveLength(1);
    await settle();
    expect(await done).toBe(true);
    expect(FakeWebSocket.instances).toHaveLength(2);
    const s = result.current.state;
    expect(s.roomOrder).toEqual(['dev', 'general']);
    expect(s.rooms['dm-k3b0']).toBeUndefined();
    expect(s.rooms.general.messages).toEqual([]);
    expect(s.rooms.general.pending).toEqual([]);
    const ws2 = connect(idWelcome('general', {}, { id: 'guest-3', name: 'Sam' }));
    expect(result.current.state.userId).toBe('guest-3');
    expect(result.current.state.toasts.map((t) => t.message)).toEqual([SIGNED_OUT]);
    expect(ws2.framesOfType('join').map((f) => f.room)).toEqual(['dev']);
    expect(ws2.framesOfType('message')).toEqual([]);
  });

  it('forgets a token still waiting to be exchanged, which would sign the same person in again', async () => {
    const { result, api } = signedIn();
    window.localStorage.setItem(TOKEN_KEY, 'tok-waiting');
    await act(() => result.current.actions.signOut());
    await settle();
    expect(window.localStorage.getItem(TOKEN_KEY)).toBeNull();
    expect(api.calls.map((c) => c.method)).toEqual(['DELETE']);
  });

  it('stays who it was when the server could not be told, and says so', async () => {
    const { result } = signedIn({ del: ['network'] });
    let ok = true;
    await act(async () => {
      ok = await result.current.actions.signOut();
    });
    expect(ok).toBe(false);
    expect(FakeWebSocket.instances).toHaveLength(2);
    expect(result.current.state.toasts.map((t) => t.message)).toEqual(['Could not sign out: Failed to fetch']);
    expect(result.current.state.rooms['dm-k3b0']).toBeDefined();
    connect();
    expect(result.current.state.userId).toBe(sam.id);
  });

  it('everywhere: asks the server to end every session of the person, then is a new guest', async () => {
    const { result, api, ws } = signedIn();
    let done: Promise<boolean> = Promise.resolve(false);
    act(() => {
      done = result.current.actions.signOut(true);
    });
    expect(ws.closedByClient).not.toBeNull();
    expect(api.calls).toMatchObject([{ method: 'DELETE', url: '/api/session?everywhere=true' }]);
    await settle();
    expect(await done).toBe(true);
    expect(FakeWebSocket.instances).toHaveLength(2);
    expect(result.current.state.rooms['dm-k3b0']).toBeUndefined();
    connect(idWelcome('general', {}, { id: 'guest-6', name: 'Sam' }));
    expect(result.current.state.toasts.map((t) => t.message)).toEqual([SIGNED_OUT_EVERYWHERE]);
  });

  it('everywhere: stays who it was, with the server’s reason, when it would not', async () => {
    const { result } = signedIn({ del: [503] });
    let ok = true;
    await act(async () => {
      ok = await result.current.actions.signOut(true);
    });
    expect(ok).toBe(false);
    expect(result.current.state.toasts.map((t) => t.message)).toEqual(['Could not sign out everywhere: status 503']);
    expect(result.current.state.rooms['dm-k3b0']).toBeDefined();
    connect();
    expect(result.current.state.userId).toBe(sam.id);
  });

  it('on a server that lets no guests in, leads straight to the sign-in screen', async () => {
    const { result } = signedIn();
    await act(() => result.current.actions.signOut());
    refuse('sign in first');
    expect(FakeWebSocket.instances).toHaveLength(2);
    expect(result.current.state.fatal?.code).toBe('unauthorized');
    expect(result.current.state.toasts).toEqual([]);
  });
});

describe('useChat: rename', () => {
  it('sends one rename (no reconnect); the ack makes it the name', () => {
    const { result } = setup();
    const ws = connect();
    act(() => result.current.actions.rename('Samuel'));
    expect(FakeWebSocket.instances).toHaveLength(1);
    const [f] = ws.framesOfType('rename');
    expect(f).toMatchObject({ type: 'rename', name: 'Samuel' });
    expect(result.current.state.rename).toMatchObject({ status: 'sending', name: 'Samuel' });
    act(() => ws.receive({ type: 'ack', ref: f.ref }));
    expect(result.current.state.me).toEqual({ id: sam.id, name: 'Samuel' });
    expect(result.current.state.rename).toBeNull();
    // The next connection uses it.
    act(() => ws.serverClose(1006));
    advance(250);
    expect(params(FakeWebSocket.last()).get('name')).toBe('Samuel');
  });

  it('keeps the server’s reason when it refuses the name', () => {
    const { result } = setup();
    const ws = connect();
    act(() => result.current.actions.rename('x'.repeat(40)));
    const [f] = ws.framesOfType('rename');
    act(() => ws.receive({ type: 'error', code: 'invalid_name', message: 'name must be 1-32 printable characters', ref: f.ref }));
    expect(result.current.state.rename).toMatchObject({ status: 'failed', error: 'name must be 1-32 printable characters' });
    expect(result.current.state.me?.name).toBe('Sam');
    expect(result.current.state.fatal).toBeNull();
    act(() => result.current.actions.clearRename());
    expect(result.current.state.rename).toBeNull();
  });

  it('offline, the new name is shown at once and asked for with rename after the welcome, not in the connect URL', () => {
    // A name in the URL with the token would become the person's name silently: the rooms
    // would hear no "Sam is now Samuel".
    const { result } = setup();
    const ws = connect();
    act(() => ws.serverClose(1006));
    act(() => result.current.actions.rename('Samuel'));
    expect(result.current.state.me?.name).toBe('Samuel');
    advance(250);
    expect(params(FakeWebSocket.last()).get('name')).toBe('Sam');
    const ws2 = connect(idWelcome());
    expect(ws2.framesOfType('rename').map((f) => f.name)).toEqual(['Samuel']);
    act(() => ws2.receive({ type: 'ack', ref: ws2.framesOfType('rename')[0].ref }));
    expect(result.current.state.me?.name).toBe('Samuel');
    // From now on the server knows it.
    act(() => ws2.serverClose(1006));
    advance(30_000);
    expect(FakeWebSocket.last()).not.toBe(ws2);
    expect(params(FakeWebSocket.last()).get('name')).toBe('Samuel');
  });

  it('a rename cut off by a lost connection is asked for again', () => {
    const { result } = setup();
    const ws = connect();
    act(() => result.current.actions.rename('Samuel'));
    act(() => ws.serverClose(1006));
    expect(result.current.state.rename).toBeNull();
    advance(250);
    expect(params(FakeWebSocket.last()).get('name')).toBe('Sam');
    const ws2 = connect(idWelcome());
    expect(ws2.framesOfType('rename').map((f) => f.name)).toEqual(['Samuel']);
  });

  it('takes the name another tab or device gave the person', () => {
    const { result } = setup();
    const ws = connect();
    act(() => ws.receive({ type: 'user', user: { id: sam.id, name: 'Sammy' } }));
    expect(result.current.state.me?.name).toBe('Sammy');
    act(() => ws.serverClose(1006));
    advance(250);
    expect(params(FakeWebSocket.last()).get('name')).toBe('Sammy');
  });

  it('with an older server it reconnects under the new name, as before', () => {
    const { result } = setup();
    const ws = connect(welcome('general', sam));
    act(() => result.current.actions.rename('Samuel'));
    expect(ws.framesOfType('rename')).toEqual([]);
    expect(FakeWebSocket.instances).toHaveLength(2);
    expect(params(FakeWebSocket.last()).get('name')).toBe('Samuel');
  });
});

describe('useChat: direct messages', () => {
  it('asks the server for a DM room; its joined adds the room with the other person', () => {
    const { result } = setup();
    const ws = connect();
    let ok = false;
    act(() => {
      ok = result.current.actions.openDm(bob.id);
    });
    expect(ok).toBe(true);
    const [f] = ws.framesOfType('dm');
    expect(f).toMatchObject({ type: 'dm', user: bob.id });
    act(() => ws.receive({ type: 'joined', room: 'dm-k3b0', dm: bob, online: [sam], history: [], ref: f.ref }));
    expect(result.current.state.rooms['dm-k3b0']).toMatchObject({ dm: bob, joined: true });
    // The one it has is not asked for again.
    act(() => result.current.actions.openDm(bob.id));
    expect(ws.framesOfType('dm')).toHaveLength(1);
    // Not with oneself.
    act(() => result.current.actions.openDm(sam.id));
    expect(ws.framesOfType('dm')).toHaveLength(1);
  });

  it('joins a DM someone opened with this user, and the ones the welcome lists', () => {
    const { result } = setup();
    const ws = connect(idWelcome('general', { dms: [{ room: 'dm-1', user: bob }] }));
    expect(ws.framesOfType('join').map((f) => f.room)).toEqual(['dm-1']);
    act(() => ws.receive({ type: 'dm', room: 'dm-2', user: { id: 'c', name: 'carol' } }));
    expect(ws.framesOfType('join').map((f) => f.room)).toEqual(['dm-1', 'dm-2']);
    expect(result.current.state.roomOrder).toEqual(['general', 'dm-1', 'dm-2']);
  });

  it('connects to #general when a DM room is shown, and joins it with a request (refusals answer that)', () => {
    const { result } = setup({ room: 'dm-theirs' });
    const ws = FakeWebSocket.last();
    expect(params(ws).get('room')).toBe('general');
    connect(idWelcome('general'));
    const [j] = ws.framesOfType('join');
    expect(j.room).toBe('dm-theirs');
    act(() => ws.receive({ type: 'error', code: 'forbidden', message: 'not your conversation', ref: j.ref }));
    expect(result.current.state.forbidden).toEqual({ 'dm-theirs': 'not your conversation' });
    expect(result.current.state.roomOrder).toEqual(['general']);
  });

  it('hides a conversation: the leave says hide, and it is gone at once, after the ack and after a reconnect', () => {
    const { result } = setup();
    const ws = connect(idWelcome('general', { dms: [{ room: 'dm-1', user: bob }] }));
    const [j] = ws.framesOfType('join');
    act(() => ws.receive({ type: 'joined', room: 'dm-1', dm: bob, history: [msg('dm-1', 3, bob, 'hi')], ref: j.ref }));
    let ok = false;
    act(() => {
      ok = result.current.actions.hideDm('dm-1');
    });
    expect(ok).toBe(true);
    const [leave] = ws.framesOfType('leave');
    expect(leave).toEqual({ type: 'leave', room: 'dm-1', hide: true, ref: leave.ref });
    expect(result.current.state.roomOrder).toEqual(['general']);
    act(() => ws.receive({ type: 'left', room: 'dm-1', ref: leave.ref }));
    expect(result.current.state.rooms['dm-1']).toBeUndefined();
    // The next welcome does not list it: nothing to join, nothing to hide again.
    act(() => ws.serverClose(1006));
    advance(250);
    const ws2 = connect(idWelcome('general', { dms: null }));
    expect(result.current.state.roomOrder).toEqual(['general']);
    expect(ws2.framesOfType('join')).toEqual([]);
    expect(ws2.framesOfType('leave')).toEqual([]);
    // Not a room of the user's any more, nor a channel.
    expect(result.current.actions.hideDm('general')).toBe(false);
  });

  it('hides a conversation while offline: the server is told after the next welcome, which may still list it', () => {
    const { result } = setup();
    const ws = connect(idWelcome('general', { dms: [{ room: 'dm-1', user: bob }] }));
    act(() => ws.serverClose(1006));
    act(() => {
      result.current.actions.hideDm('dm-1');
    });
    expect(result.current.state.roomOrder).toEqual(['general']);
    advance(250);
    const ws2 = connect(idWelcome('general', { dms: [{ room: 'dm-1', user: bob }] }));
    expect(result.current.state.roomOrder).toEqual(['general']);
    expect(ws2.framesOfType('leave')).toMatchObject([{ type: 'leave', room: 'dm-1', hide: true }]);
    expect(ws2.framesOfType('join')).toEqual([]);
  });

  it('ignores the answer to a join sent before the hide, and asks again after a lost answer', () => {
    const { result } = setup();
    const ws = connect(idWelcome('general', { dms: [{ room: 'dm-1', user: bob }] }));
    const [j] = ws.framesOfType('join');
    act(() => {
      result.current.actions.hideDm('dm-1');
    });
    act(() => ws.receive({ type: 'joined', room: 'dm-1', dm: bob, history: [], ref: j.ref }));
    expect(result.current.state.rooms['dm-1']).toBeUndefined();
    // The connection drops before the server's `left`: hidden again on the next one.
    act(() => ws.serverClose(1006));
    advance(250);
    const ws2 = connect(idWelcome('general', { dms: [{ room: 'dm-1', user: bob }] }));
    expect(result.current.state.rooms['dm-1']).toBeUndefined();
    const [again] = ws2.framesOfType('leave');
    expect(again).toMatchObject({ room: 'dm-1', hide: true });
    act(() => ws2.receive({ type: 'left', room: 'dm-1', ref: again.ref }));
    act(() => ws2.serverClose(1006));
    advance(30_000);
    expect(FakeWebSocket.instances).toHaveLength(3);
    const ws3 = connect(idWelcome('general', { dms: null }));
    expect(ws3.framesOfType('leave')).toEqual([]);
  });

  it('puts a conversation the server could not hide back, with a toast, and joins it again', () => {
    const { result } = setup();
    const ws = connect(idWelcome('general', { dms: [{ room: 'dm-1', user: bob }] }));
    const [j] = ws.framesOfType('join');
    act(() => ws.receive({ type: 'joined', room: 'dm-1', dm: bob, history: [], ref: j.ref }));
    act(() => {
      result.current.actions.hideDm('dm-1');
    });
    const [leave] = ws.framesOfType('leave');
    act(() => ws.receive({ type: 'error', code: 'unavailable', message: 'the conversation cannot be hidden right now; try again', ref: leave.ref }));
    expect(result.current.state.rooms['dm-1']).toMatchObject({ dm: bob });
    expect(result.current.state.toasts.map((t) => t.message)).toEqual(['the conversation cannot be hidden right now; try again']);
    expect(ws.framesOfType('join').map((f) => f.room)).toEqual(['dm-1', 'dm-1']);
  });

  it('opening a hidden conversation again asks the server (dm) and brings it back', () => {
    const { result } = setup();
    const ws = connect(idWelcome('general', { dms: [{ room: 'dm-1', user: bob }] }));
    act(() => {
      result.current.actions.hideDm('dm-1');
      result.current.actions.openDm(bob.id);
    });
    const [f] = ws.framesOfType('dm');
    expect(f).toMatchObject({ user: bob.id });
    act(() => ws.receive({ type: 'left', room: 'dm-1', ref: ws.framesOfType('leave')[0].ref }, { type: 'joined', room: 'dm-1', dm: bob, history: [], ref: f.ref }));
    expect(result.current.state.rooms['dm-1']).toMatchObject({ dm: bob, joined: true });
    // Not hidden again after a reconnect.
    act(() => ws.serverClose(1006));
    advance(250);
    expect(FakeWebSocket.instances).toHaveLength(2);
    const ws2 = connect(idWelcome('general', { dms: [{ room: 'dm-1', user: bob }] }));
    expect(ws2.framesOfType('leave')).toEqual([]);
    expect(result.current.state.rooms['dm-1']).toBeDefined();
  });

  it('drops a conversation the welcome no longer lists (hidden on another device), but not the one shown', () => {
    const { result } = setup({ room: 'dm-2', rooms: ['general', 'dm-1'] });
    const ws = connect(idWelcome('general', { dms: [{ room: 'dm-3', user: bob }] }));
    expect(result.current.state.roomOrder).toEqual(['general', 'dm-2', 'dm-3']);
    expect(ws.framesOfType('join').map((f) => f.room).sort()).toEqual(['dm-2', 'dm-3']);
  });

  it.each([
    ['forbidden', 'you can write to people you share a room with'],
    ['not_found', 'nobody with this id is in a room with you'],
    ['limit_exceeded', 'you have 500 conversations, the most (--max-dms): hide one first'],
  ])('keeps a %s refusal of a dm as the refusal of that person, with no toast and nothing left waiting', (code, message) => {
    const { result } = setup();
    const ws = connect();
    act(() => {
      result.current.actions.openDm(bob.id);
    });
    const [f] = ws.framesOfType('dm');
    act(() => ws.receive({ type: 'error', code, message, ref: f.ref }));
    expect(result.current.state.dmRefusal).toEqual({ user: bob.id, code, message });
    expect(result.current.state.toasts).toEqual([]);
    expect(result.current.state.roomOrder).toEqual(['general']);
    // Asking again is a new request (none is pending), and forgets the refusal until answered.
    act(() => {
      result.current.actions.openDm(bob.id);
    });
    expect(ws.framesOfType('dm')).toHaveLength(2);
    expect(result.current.state.dmRefusal).toBeNull();
    act(() => ws.receive({ type: 'error', code, message, ref: ws.framesOfType('dm')[1].ref }));
    act(() => result.current.actions.clearDmRefusal());
    expect(result.current.state.dmRefusal).toBeNull();
  });

  it('has no DMs with an older server', () => {
    const { result } = setup();
    const ws = connect(welcome('general', sam));
    let ok = true;
    act(() => {
      ok = result.current.actions.openDm(bob.id);
    });
    expect(ok).toBe(false);
    expect(ws.framesOfType('dm')).toEqual([]);
  });
});

describe('useChat: read positions', () => {
  function withHistory() {
    const hook = setup();
    const ws = connect(idWelcome('general', { history: [msg('general', 1, bob), msg('general', 2, bob)] }));
    return { ...hook, ws };
  }

  it('holds its first read back until the server’s position comes, then sends what was seen, at most once per room every 2 s', () => {
    const { result, ws } = withHistory();
    act(() => result.current.actions.markRead('general'));
    expect(ws.framesOfType('read')).toEqual([]);
    // The position from before this connection: 2 was not seen yet (the divider goes above it).
    act(() => ws.receive({ type: 'read', room: 'general', seq: 1, unread: 1 }));
    expect(result.current.state.rooms.general).toMatchObject({ readSeq: 1, divider: 1 });
    expect(ws.framesOfType('read')).toEqual([]);
    // At the bottom again.
    act(() => result.current.actions.markRead('general'));
    expect(ws.framesOfType('read')).toEqual([{ type: 'read', room: 'general', seq: 2 }]);

    act(() => ws.receive(msg('general', 3, bob)));
    act(() => result.current.actions.markRead('general'));
    act(() => ws.receive(msg('general', 4, bob)));
    act(() => result.current.actions.markRead('general'));
    expect(ws.framesOfType('read')).toHaveLength(1);
    advance(READ_INTERVAL_MS);
    expect(ws.framesOfType('read').map((f) => f.seq)).toEqual([2, 4]);
    // Nothing new: nothing sent.
    act(() => result.current.actions.markRead('general'));
    advance(READ_INTERVAL_MS * 2);
    expect(ws.framesOfType('read')).toHaveLength(2);
  });

  it('sends the latest at once when the tab is hidden or the room is left', () => {
    const { result, ws } = withHistory();
    act(() => ws.receive({ type: 'read', room: 'general', seq: 2, unread: 0 }));
    act(() => ws.receive(msg('general', 3, bob)));
    act(() => result.current.actions.markRead('general'));
    act(() => ws.receive(msg('general', 4, bob)));
    act(() => result.current.actions.markRead('general'));
    expect(ws.framesOfType('read').map((f) => f.seq)).toEqual([3]);
    act(() => {
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
      document.dispatchEvent(new Event('visibilitychange'));
    });
    expect(ws.framesOfType('read').map((f) => f.seq)).toEqual([3, 4]);
    act(() => {
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'visible' });
      document.dispatchEvent(new Event('visibilitychange'));
    });

    // Switching rooms sends the position of the one left.
    act(() => ws.receive(msg('general', 5, bob)));
    act(() => result.current.actions.markRead('general'));
    act(() => result.current.actions.openRoom('dev'));
    expect(ws.framesOfType('read').map((f) => f.seq)).toEqual([3, 4, 5]);
  });

  it('sends its position again when the server’s is behind (a read lost with a connection)', () => {
    const { result, ws } = withHistory();
    act(() => ws.receive({ type: 'read', room: 'general', seq: 0, unread: 2 }));
    act(() => result.current.actions.markRead('general'));
    expect(ws.framesOfType('read').map((f) => f.seq)).toEqual([2]);
    act(() => ws.serverClose(1006));
    advance(250);
    const ws2 = connect(idWelcome('general', { history: [msg('general', 2, bob)] }));
    act(() => ws2.receive({ type: 'read', room: 'general', seq: 1, unread: 1 }));
    expect(ws2.framesOfType('read')).toEqual([{ type: 'read', room: 'general', seq: 2 }]);
    expect(result.current.state.rooms.general.unread).toBe(0);
  });

  it('sends its first read anyway when the server has no position to give (2 s after the welcome)', () => {
    const { result, ws } = withHistory();
    act(() => result.current.actions.markRead('general'));
    advance(READ_INTERVAL_MS - 1);
    expect(ws.framesOfType('read')).toEqual([]);
    advance(1);
    expect(ws.framesOfType('read')).toEqual([{ type: 'read', room: 'general', seq: 2 }]);
  });

  it('reads a room seen while it had no entries up to 0, at once when leaving it, so that what comes later is unread after a reload', () => {
    const { result } = setup();
    const ws = connect();
    act(() => result.current.actions.markRead('general'));
    expect(ws.framesOfType('read')).toEqual([]);
    act(() => result.current.actions.openRoom('dev'));
    expect(ws.framesOfType('read')).toEqual([{ type: 'read', room: 'general', seq: 0 }]);
  });

  it('counts the messages of a conversation someone opened as unread, though they came with its first snapshot', () => {
    const { result } = setup();
    const ws = connect();
    act(() => ws.receive({ type: 'dm', room: 'dm-1', user: bob }));
    const join = ws.framesOfType('join').find((f) => f.room === 'dm-1');
    expect(join).toBeDefined();
    act(() => ws.receive({ type: 'joined', room: 'dm-1', dm: bob, history: [msg('dm-1', 5, bob, 'hi')], ref: join!.ref as string }));
    expect(result.current.state.rooms['dm-1']).toMatchObject({ unread: 1, mentions: 1 });
  });

  it('never sends read, rename or dm to an older server', () => {
    const { result } = setup();
    const ws = connect(welcome('general', sam, [msg('general', 1, bob)]));
    act(() => {
      result.current.actions.markRead('general');
      result.current.actions.openDm(bob.id);
    });
    advance(READ_INTERVAL_MS * 2);
    expect(ws.frames().map((f) => f.type)).toEqual([]);
  });
});
