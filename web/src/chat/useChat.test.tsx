import { act } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import { FakeWebSocket, msg, welcome } from '../test/fakeWebSocket';
import { advance, fakeTimersInEachTest, openWith, renderChat } from '../test/harness';
import type { UseChatOptions } from './useChat';

const alice = { id: 'ua1', name: 'alice' };
const alice2 = { id: 'ua2', name: 'alice' };
const bob = { id: 'ub1', name: 'bob' };

function setup(opts: Partial<UseChatOptions> = {}) {
  return renderChat(opts);
}

/** Opens the newest socket and plays the server's welcome on it. */
function connect(me = alice, history: object[] = [], extra: object = {}) {
  return openWith(welcome('general', me, history, extra));
}

fakeTimersInEachTest();

describe('useChat: connecting', () => {
  it('connects once to /ws on the page host with name and room, and goes online on welcome', () => {
    const { result } = setup({ name: 'Ada L' });
    expect(FakeWebSocket.instances).toHaveLength(1);
    const url = new URL(FakeWebSocket.last().url);
    expect(url.protocol).toBe('ws:');
    expect(url.host).toBe(window.location.host);
    expect(url.pathname).toBe('/ws');
    expect(url.searchParams.get('name')).toBe('Ada L');
    expect(url.searchParams.get('room')).toBe('general');
    expect(result.current.state.status).toBe('connecting');

    connect(alice, [msg('general', 1, bob), msg('general', 2, alice)], { online: [alice, bob, bob] });
    const s = result.current.state;
    expect(s.status).toBe('online');
    expect(s.me).toEqual(alice);
    expect(s.rooms.general.messages.map((m) => m.seq)).toEqual([1, 2]);
    expect(s.rooms.general.online.map((u) => u.id)).toEqual(['ua1', 'ub1']);
  });

  it('handles several objects coalesced into one frame and survives a bad line', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const { result } = setup();
    const ws = connect();
    act(() => {
      ws.receiveRaw(
        [JSON.stringify(msg('general', 1, bob)), '', 'garbage{', JSON.stringify(msg('general', 2, bob)), JSON.stringify({ type: 'join', room: 'general', user: { id: 'uc', name: 'carol' }, ts: 5 })].join('\n'),
      );
    });
    const g = result.current.state.rooms.general;
    expect(g.messages.map((m) => m.seq)).toEqual([1, 2]);
    expect(g.online.map((u) => u.name)).toEqual(['alice', 'carol']);
    expect(g.notices.map((n) => `${n.user.name} ${n.kind}`)).toEqual(['carol join']);
    expect(warn).toHaveBeenCalledTimes(1);
  });
});

describe('useChat: reconnecting', () => {
  it('reconnects after a close with exponential backoff and resets it after a stable connection', () => {
    const { result } = setup();
    connect();

    act(() => FakeWebSocket.last().serverClose(1006));
    expect(result.current.state.status).toBe('reconnecting');
    expect(result.current.state.retryAt).toBe(Date.now() + 250);
    advance(249);
    expect(FakeWebSocket.instances).toHaveLength(1);
    advance(1);
    expect(FakeWebSocket.instances).toHaveLength(2);

    // That attempt fails before opening: the next wait doubles.
    act(() => FakeWebSocket.last().serverClose(1006));
    advance(499);
    expect(FakeWebSocket.instances).toHaveLength(2);
    advance(1);
    expect(FakeWebSocket.instances).toHaveLength(3);
    act(() => FakeWebSocket.last().serverClose(1006));
    advance(999);
    expect(FakeWebSocket.instances).toHaveLength(3);
    advance(1);
    expect(FakeWebSocket.instances).toHaveLength(4);

    // A connection that lasts resets the backoff to the first step.
    connect(alice2);
    expect(result.current.state.status).toBe('online');
    advance(5000);
    act(() => FakeWebSocket.last().serverClose(1001));
    advance(250);
    expect(FakeWebSocket.instances).toHaveLength(5);
  });

  it('caps the backoff at 10 s', () => {
    setup({ random: () => 1 });
    connect();
    for (let i = 0; i < 8; i++) {
      const n = FakeWebSocket.instances.length;
      act(() => FakeWebSocket.last().serverClose(1006));
      advance(10_000);
      expect(FakeWebSocket.instances).toHaveLength(n + 1);
    }
    const n = FakeWebSocket.instances.length;
    act(() => FakeWebSocket.last().serverClose(1006));
    advance(9_999);
    expect(FakeWebSocket.instances).toHaveLength(n);
    advance(1);
    expect(FakeWebSocket.instances).toHaveLength(n + 1);
  });

  it('reconnects after 4008 (too slow) and 1001 (server shutdown)', () => {
    setup();
    connect();
    act(() => FakeWebSocket.last().serverClose(4008));
    advance(250);
    expect(FakeWebSocket.instances).toHaveLength(2);
    connect(alice2);
    act(() => FakeWebSocket.last().serverClose(1001));
    advance(500);
    expect(FakeWebSocket.instances).toHaveLength(3);
  });

  it('does not retry after 1008 and shows why', () => {
    const { result } = setup({ name: 'x' });
    const ws = FakeWebSocket.last();
    act(() => {
      ws.open();
      ws.receive({ type: 'error', code: 'invalid_name', message: 'name must be 1-32 printable characters' });
      ws.serverClose(1008);
    });
    advance(60_000);
    expect(FakeWebSocket.instances).toHaveLength(1);
    expect(result.current.state.status).toBe('offline');
    expect(result.current.state.fatal).toEqual({ code: 'invalid_name', message: 'name must be 1-32 printable characters' });
    expect(result.current.state.toasts).toEqual([]);
  });

  it('reconnects at once under a new name (a server without identity knows no rename)', () => {
    const { result } = setup();
    const first = connect();
    act(() => result.current.actions.rename('alicia'));
    expect(first.closedByClient).not.toBeNull();
    expect(FakeWebSocket.instances).toHaveLength(2);
    expect(new URL(FakeWebSocket.last().url).searchParams.get('name')).toBe('alicia');
  });
});

describe('useChat: recovery', () => {
  it('rejoins every room with since = highest seq seen and never shows a message twice', () => {
    const { result } = setup();
    const ws1 = connect(alice, [msg('general', 1, bob), msg('general', 2, bob), msg('general', 3, bob)]);

    act(() => result.current.actions.openRoom('dev'));
    const join = ws1.framesOfType('join');
    expect(join).toHaveLength(1);
    expect(join[0]).toMatchObject({ room: 'dev' });
    expect(join[0]).not.toHaveProperty('since');
    act(() => ws1.receive({ type: 'joined', room: 'dev', online: [alice, bob], history: [msg('dev', 7, bob), msg('dev', 9, bob)], has_more: false, ref: join[0].ref }));
    expect(result.current.state.rooms.dev.messages.map((m) => m.seq)).toEqual([7, 9]);

    act(() => ws1.serverClose(1006));
    advance(250);
    const ws2 = FakeWebSocket.last();
    // The socket names the room currently shown.
    expect(new URL(ws2.url).searchParams.get('room')).toBe('dev');
    act(() => {
      ws2.open();
      ws2.receive(welcome('dev', alice2, [msg('dev', 9, bob), msg('dev', 10, bob)]));
    });
    const joins = ws2.framesOfType('join').map((f) => ({ room: f.room, since: f.since }));
    expect(joins).toEqual(
      expect.arrayContaining([
        { room: 'general', since: 3 },
        { room: 'dev', since: 9 },
      ]),
    );
    expect(joins).toHaveLength(2);

    const ref = (room: string) => ws2.framesOfType('join').find((f) => f.room === room)!.ref;
    act(() => {
      ws2.receive(
        { type: 'joined', room: 'general', online: [alice2, bob], history: [msg('general', 4, bob), msg('general', 6, bob)], has_more: false, ref: ref('general') },
        { type: 'joined', room: 'dev', online: [alice2, bob], history: [msg('dev', 10, bob), msg('dev', 11, bob)], has_more: false, ref: ref('dev') },
        msg('general', 6, bob),
        msg('general', 7, bob),
      );
    });
    const s = result.current.state;
    expect(s.rooms.general.messages.map((m) => m.seq)).toEqual([1, 2, 3, 4, 6, 7]);
    expect(s.rooms.dev.messages.map((m) => m.seq)).toEqual([7, 9, 10, 11]);
    expect(s.rooms.general.unread).toBe(3);
    expect(s.status).toBe('online');
  });

  it('replaces a room whose gap is larger than the replay (has_more after since)', () => {
    const { result } = setup();
    const ws1 = connect(alice, [msg('general', 1, bob), msg('general', 2, bob)]);
    act(() => ws1.serverClose(1006));
    advance(250);
    const ws2 = connect(alice2, [msg('general', 2000, bob)]);
    const j = ws2.framesOfType('join')[0];
    expect(j).toMatchObject({ room: 'general', since: 2 });
    act(() => ws2.receive({ type: 'joined', room: 'general', history: [msg('general', 1500, bob), msg('general', 2000, bob)], has_more: true, ref: j.ref }));
    const g = result.current.state.rooms.general;
    expect(g.messages.map((m) => m.seq)).toEqual([1500, 2000]);
    expect(g.hasMore).toBe(true);
  });

  it('dedupes live messages by id and keeps them sorted by seq', () => {
    const { result } = setup();
    const ws = connect(alice, [msg('general', 5, bob)]);
    act(() => ws.receive(msg('general', 8, bob), msg('general', 5, bob), msg('general', 6, bob), msg('general', 8, bob)));
    expect(result.current.state.rooms.general.messages.map((m) => m.id)).toEqual(['general-m5', 'general-m6', 'general-m8']);
  });

  it('ignores messages for rooms it is not in', () => {
    const { result } = setup();
    const ws = connect();
    act(() => ws.receive(msg('elsewhere', 1, bob)));
    expect(result.current.state.rooms.elsewhere).toBeUndefined();
  });
});

describe('useChat: sending', () => {
  it('shows a message as pending at once and as sent on ack, once', () => {
    const { result } = setup();
    const ws = connect();
    let ref = '';
    act(() => {
      ref = result.current.actions.send('general', 'hello\nworld');
    });
    expect(ref.length).toBeGreaterThan(0);
    expect(ref.length).toBeLessThanOrEqual(64);
    expect(ws.framesOfType('message')).toEqual([{ type: 'message', room: 'general', body: 'hello\nworld', ref }]);
    expect(result.current.state.rooms.general.pending.map((p) => [p.ref, p.status])).toEqual([[ref, 'pending']]);

    act(() => ws.receive({ type: 'ack', ref, room: 'general', seq: 12, id: 'srv-12', ts: 1_764_000_012_000 }));
    let g = result.current.state.rooms.general;
    expect(g.pending).toEqual([]);
    expect(g.messages).toEqual([{ room: 'general', seq: 12, id: 'srv-12', from: alice, body: 'hello\nworld', ts: 1_764_000_012_000, ref }]);

    // The broadcast copy of the same message changes nothing.
    act(() => ws.receive({ type: 'message', room: 'general', seq: 12, id: 'srv-12', from: alice, body: 'hello\nworld', ts: 1_764_000_012_000, ref }));
    g = result.current.state.rooms.general;
    expect(g.messages).toHaveLength(1);
  });

  it('treats its own broadcast message with the ref as the confirmation when it comes before the ack', () => {
    const { result } = setup();
    const ws = connect();
    let ref = '';
    act(() => {
      ref = result.current.actions.send('general', 'hi');
    });
    act(() => ws.receive({ type: 'message', room: 'general', seq: 3, id: 'srv-3', from: alice, body: 'hi', ts: 5, ref }));
    expect(result.current.state.rooms.general.pending).toEqual([]);
    act(() => ws.receive({ type: 'ack', ref, room: 'general', seq: 3, id: 'srv-3', ts: 5 }));
    expect(result.current.state.rooms.general.messages.map((m) => m.id)).toEqual(['srv-3']);
  });

  it('re-sends unacknowledged messages with the same ref after reconnecting', () => {
    const { result } = setup();
    const ws1 = connect();
    let ref = '';
    act(() => {
      ref = result.current.actions.send('general', 'are you there?');
    });
    expect(ws1.framesOfType('message')).toHaveLength(1);
    act(() => ws1.serverClose(1006));

    // Written while disconnected: queued, not lost.
    let ref2 = '';
    act(() => {
      ref2 = result.current.actions.send('general', 'second');
    });
    expect(result.current.state.rooms.general.pending.map((p) => p.ref)).toEqual([ref, ref2]);

    advance(250);
    const ws2 = connect(alice2);
    expect(ws2.framesOfType('message')).toEqual([
      { type: 'message', room: 'general', body: 'are you there?', ref },
      { type: 'message', room: 'general', body: 'second', ref: ref2 },
    ]);
    act(() => ws2.receive({ type: 'ack', ref, room: 'general', seq: 4, id: 'srv-4', ts: 4 }, { type: 'ack', ref: ref2, room: 'general', seq: 5, id: 'srv-5', ts: 5 }));
    const g = result.current.state.rooms.general;
    expect(g.pending).toEqual([]);
    expect(g.messages.map((m) => m.body)).toEqual(['are you there?', 'second']);
  });

  it('re-sends pending messages of another room only after rejoining it', () => {
    const { result } = setup();
    const ws1 = connect();
    act(() => result.current.actions.openRoom('dev'));
    const j1 = ws1.framesOfType('join')[0];
    act(() => ws1.receive({ type: 'joined', room: 'dev', history: [msg('dev', 1, bob)], ref: j1.ref }));
    act(() => ws1.serverClose(1006));
    let ref = '';
    act(() => {
      ref = result.current.actions.send('dev', 'queued');
    });
    advance(250);
    const ws2 = FakeWebSocket.last();
    act(() => {
      ws2.open();
      ws2.receive(welcome('dev', alice2));
    });
    // dev was the welcome room here: sent right away.
    expect(ws2.framesOfType('message').map((f) => f.ref)).toEqual([ref]);
  });

  it('marks a refused message as failed and retries it with the same ref', () => {
    const { result } = setup();
    const ws = connect();
    let ref = '';
    act(() => {
      ref = result.current.actions.send('general', 'spam');
    });
    act(() => ws.receive({ type: 'error', code: 'unavailable', message: 'storage unavailable', ref }));
    let p = result.current.state.rooms.general.pending[0];
    expect(p).toMatchObject({ ref, status: 'failed', error: 'storage unavailable' });
    expect(result.current.state.toasts).toEqual([]);

    act(() => result.current.actions.retry(ref));
    p = result.current.state.rooms.general.pending[0];
    expect(p.status).toBe('pending');
    expect(ws.framesOfType('message').map((f) => f.ref)).toEqual([ref, ref]);

    act(() => result.current.actions.discard(ref));
    expect(result.current.state.rooms.general.pending).toEqual([]);
  });

  it('paces a burst of 60 to the advertised limits and sends every message once, in order', () => {
    const { result } = setup();
    const ws = connect(alice, [], { limits: { max_message_bytes: 65536, max_body_bytes: 16384, rate: 5, burst: 20 } });
    const refs: string[] = [];
    act(() => {
      for (let i = 1; i <= 60; i++) refs.push(result.current.actions.send('general', `line ${i}`));
    });
    // The burst minus the reserve goes at once; the rest waits for tokens.
    expect(ws.framesOfType('message')).toHaveLength(18);
    expect(result.current.state.rooms.general.pending).toHaveLength(60);
    advance(1000);
    expect(ws.framesOfType('message')).toHaveLength(23);
    advance(10_000);
    const sent = ws.framesOfType('message');
    expect(sent.map((f) => f.body)).toEqual(refs.map((_, i) => `line ${i + 1}`));
    expect(sent.map((f) => f.ref)).toEqual(refs);
  });

  it('puts a message refused for the rate back in its place with the same ref, not failed', () => {
    const { result } = setup();
    const ws = connect(alice, [], { limits: { max_message_bytes: 65536, max_body_bytes: 16384, rate: 10, burst: 5 } });
    const refs: string[] = [];
    act(() => {
      for (let i = 1; i <= 5; i++) refs.push(result.current.actions.send('general', `m${i}`));
    });
    expect(ws.framesOfType('message').map((f) => f.ref)).toEqual(refs.slice(0, 3));
    act(() => ws.receive({ type: 'error', code: 'rate_limited', message: 'rate limit', ref: refs[2] }));
    const p = result.current.state.rooms.general.pending.find((x) => x.ref === refs[2])!;
    expect(p.status).toBe('pending');
    expect(result.current.state.toasts).toEqual([]);
    advance(1000);
    expect(ws.framesOfType('message').map((f) => f.ref)).toEqual([refs[0], refs[1], refs[2], refs[2], refs[3], refs[4]]);
  });

  it('queues messages written before the first connection and sends them in order', () => {
    const { result } = setup();
    const refs: string[] = [];
    act(() => {
      refs.push(result.current.actions.send('general', 'early 1'));
      refs.push(result.current.actions.send('general', 'early 2'));
    });
    const ws = connect();
    expect(ws.framesOfType('message').map((f) => f.ref)).toEqual(refs);
  });

  it('shows errors without a ref as toasts', () => {
    const { result } = setup();
    const ws = connect();
    act(() => ws.receive({ type: 'error', code: 'bad_json', message: 'frame is not JSON' }));
    expect(result.current.state.toasts).toEqual([{ id: 1, code: 'bad_json', message: 'frame is not JSON' }]);
    act(() => result.current.actions.dismissToast(1));
    expect(result.current.state.toasts).toEqual([]);
  });
});

describe('useChat: typing, history, rooms', () => {
  it('asks for the member list when a large room shrinks back to a complete list', () => {
    setup();
    const ws = connect(alice, [], { online: [alice], online_count: 150 });
    // Still large: counts only, no request.
    act(() => ws.receive({ type: 'online_count', room: 'general', count: 120 }));
    expect(ws.framesOfType('presence')).toHaveLength(0);
    // Small again but the list (1 name) does not match: ask once, not again within 5 s.
    act(() => ws.receive({ type: 'online_count', room: 'general', count: 3 }));
    act(() => ws.receive({ type: 'online_count', room: 'general', count: 2 }));
    expect(ws.framesOfType('presence')).toEqual([{ type: 'presence', room: 'general' }]);
    advance(5000);
    act(() => ws.receive({ type: 'online_count', room: 'general', count: 2 }));
    expect(ws.framesOfType('presence')).toHaveLength(2);
    // The reply makes the list complete; a matching count asks for nothing.
    act(() => ws.receive({ type: 'presence', room: 'general', online: [alice, bob], online_count: 2 }));
    advance(5000);
    act(() => ws.receive({ type: 'online_count', room: 'general', count: 2 }));
    expect(ws.framesOfType('presence')).toHaveLength(2);
  });

  it('sends typing at most every 2 s per room', () => {
    const { result } = setup();
    const ws = connect();
    act(() => result.current.actions.typing('general'));
    act(() => result.current.actions.typing('general'));
    advance(1999);
    act(() => result.current.actions.typing('general'));
    expect(ws.framesOfType('typing')).toEqual([{ type: 'typing', room: 'general' }]);
    advance(1);
    act(() => result.current.actions.typing('general'));
    expect(ws.framesOfType('typing')).toHaveLength(2);
  });

  it('shows who is typing for 4 s, and stops when their message arrives', () => {
    const { result } = setup();
    const ws = connect();
    act(() => ws.receive({ type: 'typing', room: 'general', user: bob }));
    expect(Object.values(result.current.state.rooms.general.typing).map((t) => t.user.name)).toEqual(['bob']);
    advance(3000);
    expect(Object.keys(result.current.state.rooms.general.typing)).toHaveLength(1);
    advance(1100);
    expect(result.current.state.rooms.general.typing).toEqual({});

    act(() => ws.receive({ type: 'typing', room: 'general', user: bob }));
    act(() => ws.receive(msg('general', 1, bob)));
    expect(result.current.state.rooms.general.typing).toEqual({});
  });

  it('pages history before the oldest seq until has_more is false', () => {
    const { result } = setup();
    const ws = connect(alice, [msg('general', 60, bob), msg('general', 61, bob)], { has_more: true });
    act(() => result.current.actions.loadOlder('general'));
    act(() => result.current.actions.loadOlder('general')); // already loading: no second request
    const h = ws.framesOfType('history');
    expect(h).toEqual([{ type: 'history', room: 'general', before: 60, limit: 50, ref: h[0].ref }]);
    expect(result.current.state.rooms.general.loadingOlder).toBe(true);

    act(() => ws.receive({ type: 'history', room: 'general', messages: [msg('general', 10, bob), msg('general', 59, bob)], has_more: false, ref: h[0].ref }));
    const g = result.current.state.rooms.general;
    expect(g.messages.map((m) => m.seq)).toEqual([10, 59, 60, 61]);
    expect(g.hasMore).toBe(false);
    expect(g.loadingOlder).toBe(false);
    act(() => result.current.actions.loadOlder('general'));
    expect(ws.framesOfType('history')).toHaveLength(1);
  });

  it('updates the online list from join and leave events, unique by id', () => {
    const { result } = setup();
    const ws = connect(alice, [], { online: [alice] });
    act(() => ws.receive({ type: 'join', room: 'general', user: bob, ts: 1 }, { type: 'join', room: 'general', user: bob, ts: 2 }));
    expect(result.current.state.rooms.general.online.map((u) => u.name)).toEqual(['alice', 'bob']);
    act(() => ws.receive({ type: 'leave', room: 'general', user: bob, ts: 3 }));
    expect(result.current.state.rooms.general.online.map((u) => u.name)).toEqual(['alice']);
    expect(result.current.state.rooms.general.notices.at(-1)).toMatchObject({ kind: 'leave', user: bob });
  });

  it('counts unread messages in rooms not shown and clears them on opening', () => {
    const { result } = setup();
    const ws = connect();
    act(() => result.current.actions.openRoom('dev'));
    const j = ws.framesOfType('join')[0];
    act(() => ws.receive({ type: 'joined', room: 'dev', history: [], ref: j.ref }));
    act(() => ws.receive(msg('general', 1, bob), msg('general', 2, bob), msg('general', 3, alice)));
    expect(result.current.state.rooms.general.unread).toBe(2);
    act(() => result.current.actions.openRoom('general'));
    expect(result.current.state.rooms.general.unread).toBe(0);
  });

  it('leaves a room', () => {
    const { result } = setup();
    const ws = connect();
    act(() => result.current.actions.openRoom('dev'));
    const j = ws.framesOfType('join')[0];
    act(() => ws.receive({ type: 'joined', room: 'dev', history: [], ref: j.ref }));
    act(() => result.current.actions.leaveRoom('dev'));
    expect(ws.framesOfType('leave')).toEqual([{ type: 'leave', room: 'dev', ref: expect.any(String) }]);
    expect(result.current.state.roomOrder).toEqual(['general']);
  });
});

describe('useChat: edit, delete, react, topic', () => {
  it('sends each with a ref and shows it at once; the ack makes it stick before the broadcast', () => {
    const { result } = setup();
    const ws = connect(alice, [msg('general', 1, alice, 'typo'), msg('general', 2, bob, 'hi')]);
    let ref = '';
    act(() => {
      ref = result.current.actions.edit('general', 'general-m1', 'fixed');
    });
    expect(ws.framesOfType('edit')).toEqual([{ type: 'edit', room: 'general', id: 'general-m1', body: 'fixed', ref }]);
    expect(result.current.state.rooms.general.ops.map((o) => o.ref)).toEqual([ref]);

    act(() => ws.receive({ type: 'ack', ref, room: 'general', seq: 3, id: 'general-m1', ts: 5 }));
    const g = result.current.state.rooms.general;
    expect(g.ops).toEqual([]);
    expect(g.overlays['general-m1'].edit).toEqual({ body: 'fixed', seq: 3, ts: 5 });
    // The broadcast copy changes nothing but the seq seen (for recovery).
    act(() => ws.receive({ type: 'edit', room: 'general', id: 'general-m1', seq: 3, body: 'fixed', ts: 5, user: alice }));
    expect(result.current.state.rooms.general.overlays).toBe(g.overlays);
    expect(result.current.state.rooms.general.seqHigh).toBe(3);

    act(() => {
      result.current.actions.react('general', 'general-m2', '👍', true);
      result.current.actions.deleteMessage('general', 'general-m1');
      result.current.actions.setTopic('general', 'Release day');
    });
    expect(ws.framesOfType('react')).toMatchObject([{ room: 'general', id: 'general-m2', emoji: '👍', on: true }]);
    expect(ws.framesOfType('delete')).toMatchObject([{ room: 'general', id: 'general-m1' }]);
    expect(ws.framesOfType('topic')).toMatchObject([{ room: 'general', body: 'Release day' }]);
  });

  it('sends a change again after rate_limited instead of dropping it', () => {
    const { result } = setup();
    const ws = connect(alice, [msg('general', 1, bob, 'nice')]);
    let ref = '';
    act(() => {
      ref = result.current.actions.react('general', 'general-m1', '👍', true);
    });
    act(() => ws.receive({ type: 'error', code: 'rate_limited', message: 'slow down', ref }));
    expect(result.current.state.rooms.general.ops.map((o) => o.ref)).toEqual([ref]);
    expect(result.current.state.toasts).toEqual([]);
    advance(1000);
    expect(ws.framesOfType('react').map((f) => f.ref)).toEqual([ref, ref]);
  });

  it('drops a refused change and says why', () => {
    const { result } = setup();
    const ws = connect(alice, [msg('general', 1, bob, 'theirs')]);
    let ref = '';
    act(() => {
      ref = result.current.actions.edit('general', 'general-m1', 'mine now');
    });
    act(() => ws.receive({ type: 'error', code: 'forbidden', message: 'not your message', ref }));
    expect(result.current.state.rooms.general.ops).toEqual([]);
    expect(result.current.state.toasts.map((t) => t.message)).toEqual(['You can only edit your own messages.']);
  });

  it('keeps changes made offline and sends them after the messages before them on reconnect', () => {
    const { result } = setup();
    const ws1 = connect(alice, [msg('general', 1, alice, 'a')]);
    act(() => ws1.serverClose(1006));
    act(() => {
      result.current.actions.send('general', 'written offline');
      result.current.actions.react('general', 'general-m1', '🎉', true);
    });
    advance(250);
    const ws2 = connect(alice2);
    expect(ws2.frames().filter((f) => f.type === 'message' || f.type === 'react').map((f) => f.type)).toEqual(['message', 'react']);
  });
});
