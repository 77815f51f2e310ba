import { describe, expect, it } from 'vitest';
import type { ServerFrame, User } from '../protocol/types';
import type { ChatState } from './state';
import { initialState, isMine, isPartial, maxSeq, minSeq, reduce } from './state';
import type { MessageRow } from './timeline';
import { buildTimeline } from './timeline';

const alice = { id: 'ua1', name: 'alice' };
const bob = { id: 'ub1', name: 'bob' };
const carol = { id: 'uc1', name: 'carol' };

function users(n: number, from = 0): User[] {
  return Array.from({ length: n }, (_, i) => ({ id: `u${from + i}`, name: `user${from + i}` }));
}

function frame(state: ChatState, f: object): ChatState {
  return reduce(state, { type: 'frame', frame: f as ServerFrame, now: 1000 });
}

function welcomed(extra: object = {}): ChatState {
  return frame(initialState('general'), { type: 'welcome', id: alice.id, name: alice.name, room: 'general', online: [alice], history: [], ...extra });
}

describe('reduce: room member count', () => {
  it('takes online_count from the welcome when the list is partial', () => {
    const s = welcomed({ online: users(100), online_count: 1234 });
    expect(s.rooms.general.online).toHaveLength(100);
    expect(s.rooms.general.onlineCount).toBe(1234);
    expect(isPartial(s.rooms.general)).toBe(true);
  });

  it('falls back to the list length for servers without online_count, and for unusable counts', () => {
    expect(welcomed({ online: [alice, bob] }).rooms.general.onlineCount).toBe(2);
    for (const bad of ['7', -1, 2.5, null, Number.NaN]) {
      expect(welcomed({ online: [alice, bob], online_count: bad }).rooms.general.onlineCount).toBe(2);
    }
    // Never fewer than the people listed.
    const s = welcomed({ online: [alice, bob, carol], online_count: 1 });
    expect(s.rooms.general.onlineCount).toBe(3);
    expect(isPartial(s.rooms.general)).toBe(false);
  });

  it('takes online_count from joined and presence', () => {
    let s = reduce(welcomed(), { type: 'openRoom', room: 'dev' });
    s = frame(s, { type: 'joined', room: 'dev', online: users(100), online_count: 250, history: [], has_more: false });
    expect(s.rooms.dev.onlineCount).toBe(250);
    s = frame(s, { type: 'presence', room: 'dev', online: users(100, 5), online_count: 180 });
    expect(s.rooms.dev.online[0].id).toBe('u5');
    expect(s.rooms.dev.onlineCount).toBe(180);
    // An older server's presence: the list is all there is.
    s = frame(s, { type: 'presence', room: 'dev', online: [alice, bob] });
    expect(s.rooms.dev.onlineCount).toBe(2);
    expect(s.rooms.general.onlineCount).toBe(1);
  });

  it('applies online_count objects to known rooms only, and ignores bad ones', () => {
    let s = welcomed({ online: users(100), online_count: 101 });
    s = frame(s, { type: 'online_count', room: 'general', count: 5000 });
    expect(s.rooms.general.onlineCount).toBe(5000);
    expect(s.rooms.general.online).toHaveLength(100);

    for (const bad of [{ count: '9' }, { count: -3 }, {}]) {
      expect(frame(s, { type: 'online_count', room: 'general', ...bad })).toBe(s);
    }
    const other = frame(s, { type: 'online_count', room: 'elsewhere', count: 9 });
    expect(other.rooms.elsewhere).toBeUndefined();
    expect(other.roomOrder).toEqual(['general']);

    // The list may be out of date, but the count is never below it.
    s = frame(s, { type: 'online_count', room: 'general', count: 40 });
    expect(s.rooms.general.onlineCount).toBe(100);
  });

  it('counts a small room by its join and leave events', () => {
    let s = welcomed({ online: [alice], online_count: 1 });
    s = frame(s, { type: 'join', room: 'general', user: bob, ts: 1 });
    expect(s.rooms.general.onlineCount).toBe(2);
    s = frame(s, { type: 'join', room: 'general', user: bob, ts: 2 }); // already listed
    expect(s.rooms.general.onlineCount).toBe(2);
    s = frame(s, { type: 'leave', room: 'general', user: carol, ts: 3 }); // not listed
    expect(s.rooms.general.onlineCount).toBe(2);
    s = frame(s, { type: 'leave', room: 'general', user: bob, ts: 4 });
    expect(s.rooms.general.online.map((u) => u.name)).toEqual(['alice']);
    expect(s.rooms.general.onlineCount).toBe(1);
    expect(isPartial(s.rooms.general)).toBe(false);
  });

  it('counts join and leave events without online_count (older servers)', () => {
    let s = welcomed({ online: [alice, bob] });
    s = frame(s, { type: 'join', room: 'general', user: carol, ts: 1 });
    expect(s.rooms.general.onlineCount).toBe(3);
    s = frame(s, { type: 'leave', room: 'general', user: bob, ts: 2 });
    s = frame(s, { type: 'leave', room: 'general', user: carol, ts: 3 });
    expect(s.rooms.general.onlineCount).toBe(1);
  });

  it('ignores object types it does not know', () => {
    const s = welcomed({ online: [alice, bob] });
    expect(frame(s, { type: 'member_count_v2', room: 'general', count: 99 })).toBe(s);
  });
});

function m(seq: number, from: User, body = `message ${seq}`, room = 'general') {
  return { type: 'message', room, seq, id: `${room}-m${seq}`, from, body, ts: 1_764_000_000_000 + seq * 1000 };
}

const ev = {
  edit: (seq: number, id: string, body: string, user = alice) => ({ type: 'edit', room: 'general', id, seq, body, ts: 1_764_000_000_000 + seq * 1000, user }),
  del: (seq: number, id: string, user = alice) => ({ type: 'delete', room: 'general', id, seq, ts: 1_764_000_000_000 + seq * 1000, user }),
  react: (seq: number, id: string, emoji: string, on: boolean, user: User) => ({ type: 'reaction', room: 'general', id, seq, emoji, on, ts: 1_764_000_000_000 + seq * 1000, user }),
  topic: (seq: number, body: string, user = bob) => ({ type: 'topic', room: 'general', seq, body, ts: 1_764_000_000_000 + seq * 1000, user }),
};

function rows(s: ChatState) {
  const g = s.rooms.general;
  return buildTimeline({ messages: g.messages, notices: g.notices, pending: g.pending, overlays: g.overlays, ops: g.ops, isMine: (u) => isMine(s, u), me: s.me }).filter(
    (r): r is MessageRow => r.kind === 'message',
  );
}

describe('reduce: edits, deletions, reactions and topics', () => {
  it('applies live events to the messages they name', () => {
    let s = welcomed({ history: [m(1, alice, 'helo'), m(2, bob, 'hi')] });
    s = frame(s, ev.edit(3, 'general-m1', 'hello'));
    s = frame(s, ev.react(4, 'general-m2', '👍', true, alice));
    s = frame(s, ev.react(5, 'general-m2', '👍', true, carol));
    s = frame(s, ev.react(6, 'general-m2', '🎉', true, carol));
    s = frame(s, ev.del(7, 'general-m2', bob));
    let r = rows(s);
    expect(r[0]).toMatchObject({ body: 'hello', edited: true, deleted: false });
    expect(r[1]).toMatchObject({ deleted: true, body: '', reactions: [] });

    s = welcomed({ history: [m(1, alice), m(2, bob)] });
    s = frame(s, ev.react(4, 'general-m2', '👍', true, alice));
    s = frame(s, ev.react(5, 'general-m2', '👍', true, carol));
    s = frame(s, ev.react(6, 'general-m2', '🎉', true, carol));
    s = frame(s, ev.react(7, 'general-m2', '👍', false, alice));
    r = rows(s);
    expect(r[1].reactions).toEqual([
      { emoji: '👍', count: 1, mine: false, names: ['carol'] },
      { emoji: '🎉', count: 1, mine: false, names: ['carol'] },
    ]);
    expect(maxSeq(s.rooms.general)).toBe(7);
  });

  it('applies events carried in history (welcome, joined, pages) and dedupes them by seq', () => {
    let s = welcomed({ history: [m(1, bob, 'first'), ev.react(2, 'general-m1', '❤️', true, alice), m(3, bob), ev.edit(4, 'general-m1', 'first!', bob)], has_more: true });
    let r = rows(s);
    expect(r[0]).toMatchObject({ body: 'first!', edited: true, reactions: [{ emoji: '❤️', count: 1, mine: true, names: ['alice'] }] });
    const before = s;
    s = frame(s, ev.react(2, 'general-m1', '❤️', true, alice));
    s = frame(s, ev.edit(4, 'general-m1', 'first!', bob));
    expect(s.rooms.general).toBe(before.rooms.general);
    // Recovery replays what was missed, events included.
    s = frame(s, { type: 'joined', room: 'general', history: [ev.edit(4, 'general-m1', 'first!', bob), ev.del(5, 'general-m3', bob)], has_more: false });
    r = rows(s);
    expect(r[1].deleted).toBe(true);
  });

  it('keeps events that arrive before their message (paging back) and applies them when it comes', () => {
    // The latest page holds only events about older messages.
    let s = welcomed({ history: [ev.edit(10, 'general-m2', 'edited later', bob), ev.react(11, 'general-m2', '👀', true, carol), ev.del(12, 'general-m1', bob)], has_more: true });
    expect(rows(s)).toEqual([]);
    // Scroll-back continues before the oldest seq seen, events included.
    expect(minSeq(s.rooms.general)).toBe(10);
    s = frame(s, { type: 'history', room: 'general', messages: [m(1, bob, 'gone'), m(2, bob, 'original')], has_more: false });
    const r = rows(s);
    expect(r.map((x) => [x.body, x.edited, x.deleted])).toEqual([
      ['', false, true],
      ['edited later', true, false],
    ]);
    expect(r[1].reactions).toMatchObject([{ emoji: '👀', count: 1 }]);
    expect(minSeq(s.rooms.general)).toBe(1);
    expect(maxSeq(s.rooms.general)).toBe(12);
  });

  it('decides by seq, not by arrival: an older edit or vote never replaces a newer one', () => {
    let s = welcomed({ history: [m(1, bob, 'v0')] });
    s = frame(s, ev.edit(20, 'general-m1', 'v2', bob));
    s = frame(s, ev.react(21, 'general-m1', '👍', false, carol));
    // Older events from a page fetched later.
    s = frame(s, { type: 'history', room: 'general', messages: [ev.edit(5, 'general-m1', 'v1', bob), ev.react(6, 'general-m1', '👍', true, carol)], has_more: false });
    const r = rows(s);
    expect(r[0].body).toBe('v2');
    expect(r[0].reactions).toEqual([]);
  });

  it('keeps the topic from welcome/joined and later topic events, and shows changes as notices', () => {
    let s = welcomed({ topic: 'Ship it', last_seq: 30 });
    expect(s.rooms.general.topic?.body).toBe('Ship it');
    s = frame(s, ev.topic(31, 'Ship it today'));
    expect(s.rooms.general.topic).toMatchObject({ body: 'Ship it today', user: bob });
    expect(s.rooms.general.notices.map((n) => [n.kind, n.body])).toEqual([['topic', 'Ship it today']]);
    // An older topic from scroll-back is history, not the current topic.
    s = frame(s, { type: 'history', room: 'general', messages: [ev.topic(3, 'Old topic')], has_more: false });
    expect(s.rooms.general.topic?.body).toBe('Ship it today');
    expect(s.rooms.general.notices.map((n) => n.body)).toEqual(['Old topic', 'Ship it today']);
    s = frame(s, ev.topic(40, ''));
    expect(s.rooms.general.topic?.body).toBe('');
    // Servers without topics: none.
    expect(welcomed().rooms.general.topic?.body ?? '').toBe('');
  });

  it('ignores malformed events and events for rooms it is not in', () => {
    const s = welcomed({ history: [m(1, bob)] });
    for (const bad of [
      { type: 'edit', room: 'general', id: 'general-m1', seq: 'x', body: 'a', user: bob },
      { type: 'reaction', room: 'general', id: 'general-m1', seq: 3, emoji: '', on: true, user: bob },
      { type: 'reaction', room: 'general', id: 'general-m1', seq: 3, emoji: '👍', on: 'yes', user: bob },
      { type: 'delete', room: 'general', seq: 3, user: bob },
      { type: 'topic', room: 'general', seq: 3, body: 'x' },
    ]) {
      expect(frame(s, bad)).toBe(s);
    }
    expect(frame(s, { ...ev.edit(3, 'a', 'b'), room: 'elsewhere' })).toBe(s);
  });
});

describe('reduce: unread, mentions and alerts', () => {
  it('counts mentions of the current name apart from unread, and only for others’ messages', () => {
    let s = reduce(welcomed(), { type: 'openRoom', room: 'dev' });
    s = frame(s, { type: 'joined', room: 'dev', history: [], has_more: false });
    s = frame(s, m(1, bob, 'hey @Alice, look'));
    s = frame(s, m(2, bob, 'no mention: alice@example.com'));
    s = frame(s, m(3, alice, '@alice talking to myself'));
    expect(s.rooms.general).toMatchObject({ unread: 2, mentions: 1 });
    expect(s.alerts.map((a) => [a.room, a.from.name, a.body])).toEqual([['general', 'bob', 'hey @Alice, look']]);
    s = reduce(s, { type: 'alertsShown', upTo: s.alerts[0].id });
    expect(s.alerts).toEqual([]);
    s = reduce(s, { type: 'openRoom', room: 'general' });
    expect(s.rooms.general).toMatchObject({ unread: 0, mentions: 0 });
  });

  it('counts the shown room while the tab is hidden, and clears it when it is shown again', () => {
    let s = welcomed();
    s = frame(s, m(1, bob, 'while you look'));
    expect(s.rooms.general.unread).toBe(0);
    s = reduce(s, { type: 'visibility', hidden: true });
    s = frame(s, m(2, bob, 'while away'));
    s = frame(s, m(3, bob, '@alice ping'));
    expect(s.rooms.general).toMatchObject({ unread: 2, mentions: 1 });
    expect(s.alerts).toHaveLength(1);
    s = reduce(s, { type: 'visibility', hidden: false });
    expect(s.rooms.general).toMatchObject({ unread: 0, mentions: 0 });
  });

  it('does not alert for history replays', () => {
    let s = welcomed();
    s = reduce(s, { type: 'visibility', hidden: true });
    s = frame(s, { type: 'joined', room: 'general', history: [m(5, bob, '@alice missed this')], has_more: false });
    expect(s.rooms.general.mentions).toBe(1);
    expect(s.alerts).toEqual([]);
  });
});
