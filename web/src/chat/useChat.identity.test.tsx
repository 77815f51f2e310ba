// The client's side of identity: the session token, renames, direct messages and read
// positions on the wire, and that an older server (no welcome.user) sees none of it.

import { act } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { TokenStore } from '../lib/token';
import { FakeWebSocket, msg, welcome } from '../test/fakeWebSocket';
import { advance, fakeTimersInEachTest, openWith, renderChat } from '../test/harness';
import { READ_INTERVAL_MS, SESSION_EXPIRED } from './client';
import type { UseChatOptions } from './useChat';

const sam = { id: 'k3x9q2mf', name: 'Sam' };
const bob = { id: 'b0b0b0b0', name: 'Bob' };

function memoryTokens(initial: string | null = null): TokenStore & { value: string | null } {
  const store = {
    value: initial,
    load: () => store.value,
    save: (t: string | null) => {
      store.value = t;
    },
  };
  return store;
}

function setup(opts: Partial<UseChatOptions> = {}) {
  return renderChat({ name: 'Sam', tokens: memoryTokens(), ...opts });
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

fakeTimersInEachTest();

describe('useChat: the session token', () => {
  it('presents the stored token, and keeps the latest one a welcome brings', () => {
    const tokens = memoryTokens('tok-old');
    setup({ tokens });
    expect(params(FakeWebSocket.last()).get('token')).toBe('tok-old');
    const ws = connect();
    expect(tokens.value).toBe('tok-new');
    // The next connection presents the new one.
    act(() => ws.serverClose(1006));
    advance(250);
    expect(params(FakeWebSocket.last()).get('token')).toBe('tok-new');
  });

  it('sends no token without one, and keeps none from an older server', () => {
    const tokens = memoryTokens();
    setup({ tokens });
    expect(params(FakeWebSocket.last()).has('token')).toBe(false);
    connect(welcome('general', sam));
    expect(tokens.value).toBeNull();
  });

  it('an unauthorized token is forgotten and the client comes back at once as a new guest, once, and says so', () => {
    const tokens = memoryTokens('tok-expired');
    const { result } = setup({ tokens });
    const first = FakeWebSocket.last();
    act(() => {
      first.open();
      first.receive({ type: 'error', code: 'unauthorized', message: 'session expired' });
      first.serverClose(1008);
    });
    expect(tokens.value).toBeNull();
    expect(FakeWebSocket.instances).toHaveLength(2);
    const second = FakeWebSocket.last();
    expect(params(second).has('token')).toBe(false);
    expect(params(second).get('name')).toBe('Sam');
    expect(result.current.state.fatal).toBeNull();
    expect(result.current.state.toasts).toEqual([]);
    connect(idWelcome('general', { token: 'tok-guest' }, { id: 'guest-1', name: 'Sam' }));
    expect(tokens.value).toBe('tok-guest');
    expect(result.current.state.toasts.map((t) => t.message)).toEqual([SESSION_EXPIRED]);
    expect(result.current.state.userId).toBe('guest-1');
  });

  it('a server that refuses guests too: the second unauthorized (without a token) is final, with its message', () => {
    const tokens = memoryTokens('tok-expired');
    const { result } = setup({ tokens });
    for (const ws of [FakeWebSocket.last(), null]) {
      const w = ws ?? FakeWebSocket.last();
      act(() => {
        w.open();
        w.receive({ type: 'error', code: 'unauthorized', message: 'sign in through example.com' });
        w.serverClose(1008);
      });
    }
    advance(60_000);
    expect(FakeWebSocket.instances).toHaveLength(2);
    expect(result.current.state.status).toBe('offline');
    expect(result.current.state.fatal).toEqual({ code: 'unauthorized', message: 'sign in through example.com' });
    expect(result.current.state.toasts).toEqual([]);

    // The host application signs the user in again: "Try again" presents the new token.
    tokens.value = 'tok-fresh';
    act(() => result.current.actions.reconnectNow());
    expect(params(FakeWebSocket.last()).get('token')).toBe('tok-fresh');
  });

  it('a newer token another tab stored meanwhile is tried before becoming a guest', () => {
    const tokens = memoryTokens('tok-a');
    setup({ tokens });
    const ws = FakeWebSocket.last();
    tokens.value = 'tok-b';
    act(() => {
      ws.open();
      ws.receive({ type: 'error', code: 'unauthorized', message: 'expired' });
      ws.serverClose(1008);
    });
    expect(params(FakeWebSocket.last()).get('token')).toBe('tok-b');
    expect(tokens.value).toBe('tok-b');
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
