// The identity part of the protocol in the reducer: people by stable user id, renames, direct
// messages and read positions, and the fallback to per-connection ids for older servers.

import { describe, expect, it } from 'vitest';
import type { ServerFrame, User } from '../protocol/types';
import { latestNames, makeDirectory } from './people';
import type { ChatState } from './state';
import { dividerFor, initialState, isMine, isSelf, reduce } from './state';
import type { MessageRow, Row } from './timeline';
import { buildTimeline } from './timeline';

const sam = { id: 'k3x9q2mf', name: 'Sam' };
const otherSam = { id: '3fa81c9d', name: 'Sam' };
const bob = { id: 'b0b0b0b0', name: 'Bob' };
const alice = { id: 'a11ce000', name: 'alice' };

const TS = 1_764_000_000_000;

function frame(state: ChatState, f: object, now = 1000): ChatState {
  return reduce(state, { type: 'frame', frame: f as ServerFrame, now });
}

function m(seq: number, from: User, body = `message ${seq}`, room = 'general') {
  return { type: 'message', room, seq, id: `${room}-m${seq}`, from, body, ts: TS + seq * 1000 };
}

/** A welcome from a server with identity: `user`, token, connection id, people online. */
function welcomed(extra: object = {}, me: User = sam): ChatState {
  return frame(initialState('general'), {
    type: 'welcome',
    id: me.id,
    name: me.name,
    user: me,
    token: 't1',
    conn: 'c-1',
    room: 'general',
    online: [{ ...me, devices: 1 }],
    history: [],
    ...extra,
  });
}

/** The same from an older server: no `user`, ids per connection. */
function oldWelcomed(extra: object = {}, me: User = sam): ChatState {
  return frame(initialState('general'), { type: 'welcome', id: me.id, name: me.name, room: 'general', online: [me], history: [], ...extra });
}

function timeline(s: ChatState, room = 'general'): Row[] {
  const r = s.rooms[room];
  const identity = s.userId !== null;
  const people = makeDirectory({
    identity,
    names: identity ? { ...latestNames(r.messages), ...s.names } : {},
    seen: [...r.online, ...r.messages.map((x) => x.from), ...(s.me ? [s.me] : [])],
  });
  return buildTimeline({ messages: r.messages, notices: r.notices, pending: r.pending, isMine: (u) => isMine(s, u), me: s.me, people, divider: r.divider });
}

function messageRows(s: ChatState, room = 'general'): MessageRow[] {
  return timeline(s, room).filter((r): r is MessageRow => r.kind === 'message');
}

describe('identity: what is "mine"', () => {
  it('is the stable user id: another Sam is someone else, and my messages from another device are mine', () => {
    const s = welcomed({ history: [m(1, otherSam, 'from the other Sam'), m(2, sam, 'from my phone')], online: [{ ...sam, devices: 2 }, { ...otherSam, devices: 1 }] });
    expect(s.userId).toBe(sam.id);
    expect(s.me).toEqual(sam);
    expect(isMine(s, otherSam)).toBe(false);
    expect(isMine(s, { id: sam.id, name: 'Samuel' })).toBe(true);
    expect(messageRows(s).map((r) => [r.body, r.own])).toEqual([
      ['from the other Sam', false],
      ['from my phone', true],
    ]);
  });

  it('counts the other Sam’s messages as unread and alerts their mentions', () => {
    let s = welcomed();
    s = reduce(s, { type: 'openRoom', room: 'dev' });
    s = frame(s, { type: 'joined', room: 'dev', history: [], online: [sam] });
    s = frame(s, m(3, otherSam, '@Sam hi'));
    s = frame(s, m(4, sam, 'me on my laptop'));
    expect(s.rooms.general).toMatchObject({ unread: 1, mentions: 1 });
    expect(s.alerts.map((a) => a.from.id)).toEqual([otherSam.id]);
  });

  it('falls back to per-connection ids and the name with an older server (no welcome.user)', () => {
    let s = oldWelcomed({ history: [m(1, { id: 'c-old', name: 'Sam' }, 'mine by name'), m(2, bob)] });
    expect(s.userId).toBeNull();
    expect(isMine(s, { id: 'c-old', name: 'Sam' })).toBe(true);
    expect(isMine(s, { id: 'whoever', name: 'Sam' })).toBe(true);
    // Presence never matches by name: another "Sam" online is someone else.
    expect(isSelf(s, { id: 'c-2', name: 'Sam' })).toBe(false);
    s = frame(s, { type: 'join', room: 'general', user: { id: 'c-2', name: 'Sam' }, ts: 5 });
    expect(s.rooms.general.online.map((u) => u.id)).toEqual([sam.id, 'c-2']);
    expect(messageRows(s).map((r) => r.author.label)).toEqual(['Sam', 'Bob']);
  });

  it('a later welcome without user goes back to the fallback (a server rolled back)', () => {
    let s = welcomed();
    s = frame(s, { type: 'welcome', id: 'c-9', name: 'Sam', room: 'general', history: [] });
    expect(s.userId).toBeNull();
    expect(s.myIds).toEqual([sam.id, 'c-9']);
  });
});

describe('identity: people online', () => {
  it('keeps one entry per person with their devices, and ignores presence about myself', () => {
    let s = welcomed({ online: [{ ...sam, devices: 2 }, { ...otherSam, devices: 1 }, { ...otherSam, devices: 1 }, { ...bob, devices: 'x' }] });
    expect(s.rooms.general.online).toEqual([{ ...sam, devices: 2 }, { ...otherSam, devices: 1 }, bob]);
    s = frame(s, { type: 'join', room: 'general', user: { ...alice, devices: 3 }, ts: TS });
    expect(s.rooms.general.online.at(-1)).toEqual({ ...alice, devices: 3 });
    const before = s;
    s = frame(s, { type: 'join', room: 'general', user: sam, ts: TS + 1 });
    s = frame(s, { type: 'typing', room: 'general', user: sam });
    expect(s).toBe(before);
    s = frame(s, { type: 'typing', room: 'general', user: otherSam });
    expect(Object.keys(s.rooms.general.typing)).toEqual([otherSam.id]);
  });
});

describe('identity: names', () => {
  it('tells two people with one name apart, and no one else', () => {
    const s = welcomed({ history: [m(1, otherSam, 'a'), m(2, bob, 'b')], online: [sam, otherSam, bob] });
    const labels = messageRows(s).map((r) => r.author.label);
    expect(labels).toEqual(['Sam · 3f', 'Bob']);
  });

  it('groups runs of messages by person, not by name', () => {
    const s = welcomed({ history: [m(1, otherSam, 'one'), m(2, { id: 'zz000000', name: 'Sam' }, 'two')], online: [sam] });
    const r = messageRows(s);
    expect(r.map((x) => x.first)).toEqual([true, true]);
    expect(r.map((x) => x.author.label)).toEqual(['Sam · 3f', 'Sam · zz']);
  });

  it('a rename is one notice, updates the online list in place, and earlier messages show the current name', () => {
    let s = welcomed({ history: [m(1, bob, 'before')], online: [sam, bob] });
    s = frame(s, { type: 'typing', room: 'general', user: bob });
    s = frame(s, { type: 'rename', room: 'general', user: { id: bob.id, name: 'Robert' }, old: 'Bob', ts: TS + 5000 });
    const g = s.rooms.general;
    expect(g.online.map((u) => u.name)).toEqual(['Sam', 'Robert']);
    expect(g.typing[bob.id].user.name).toBe('Robert');
    expect(g.notices.map((n) => [n.kind, n.old, n.user.name])).toEqual([['rename', 'Bob', 'Robert']]);
    const [row] = messageRows(s);
    expect(row.author).toEqual({ name: 'Robert', label: 'Robert', was: 'Bob', color: bob.id });
    // The same event again (another node, a replay) adds nothing.
    expect(frame(s, { type: 'rename', room: 'general', user: { id: bob.id, name: 'Robert' }, old: 'Bob', ts: TS + 5000 }).rooms.general.notices).toHaveLength(1);
  });

  it('after a reload, the newest loaded message names its author for the older ones', () => {
    const s = welcomed({ history: [m(1, bob, 'as Bob'), m(2, { id: bob.id, name: 'Robert' }, 'as Robert')], online: [sam] });
    expect(messageRows(s).map((r) => r.author.label)).toEqual(['Robert', 'Robert']);
    expect(messageRows(s)[0].author.was).toBe('Bob');
  });

  it('my own rename (from this tab’s rooms, or the user object for another tab) updates me', () => {
    let s = welcomed();
    s = frame(s, { type: 'rename', room: 'general', user: { id: sam.id, name: 'Samantha' }, old: 'Sam', ts: TS });
    expect(s.me).toEqual({ id: sam.id, name: 'Samantha' });
    s = frame(s, { type: 'user', user: { id: sam.id, name: 'Sammy' } });
    expect(s.me).toEqual({ id: sam.id, name: 'Sammy' });
    expect(s.names[sam.id]).toBe('Sammy');
    // Someone else's user object is not about me.
    expect(frame(s, { type: 'user', user: otherSam })).toBe(s);
  });

  it('a rename request: sending, then the name on ack, or the server’s reason on error', () => {
    let s = welcomed();
    s = reduce(s, { type: 'renameSent', ref: 'n-1', name: 'Samuel' });
    expect(s.rename).toEqual({ ref: 'n-1', name: 'Samuel', status: 'sending' });
    const acked = reduce(s, { type: 'frame', frame: { type: 'ack', ref: 'n-1' } as ServerFrame, now: 1, request: { kind: 'rename', room: '', name: 'Samuel' } });
    expect(acked.me).toEqual({ id: sam.id, name: 'Samuel' });
    expect(acked.rename).toBeNull();
    const refused = reduce(s, { type: 'frame', frame: { type: 'error', code: 'invalid_name', message: 'name taken by policy', ref: 'n-1' }, now: 1, request: { kind: 'rename', room: '', name: 'Samuel' } });
    expect(refused.rename).toMatchObject({ status: 'failed', error: 'name taken by policy' });
    expect(refused.me).toEqual(sam);
    expect(refused.toasts).toEqual([]);
  });
});

describe('identity: direct messages', () => {
  it('lists welcome.dms in the sidebar with the other person', () => {
    const s = welcomed({ dms: [{ room: 'dm-ab', user: bob }, { room: 'dm-bad' }, { room: 3, user: bob }] });
    expect(s.roomOrder).toEqual(['general', 'dm-ab']);
    expect(s.rooms['dm-ab'].dm).toEqual(bob);
  });

  it('a joined with dm (my request) and a dm object (someone else’s) add the room', () => {
    let s = welcomed();
    s = frame(s, { type: 'joined', room: 'dm-1', dm: bob, online: [sam, bob], history: [], ref: 'd-1' });
    expect(s.rooms['dm-1']).toMatchObject({ dm: bob, joined: true });
    s = frame(s, { type: 'dm', room: 'dm-2', user: otherSam });
    expect(s.rooms['dm-2']).toMatchObject({ dm: otherSam, joined: false });
    expect(s.roomOrder).toEqual(['general', 'dm-1', 'dm-2']);
  });

  it('every message in a DM counts as a mention and alerts', () => {
    let s = welcomed({ dms: [{ room: 'dm-1', user: bob }] });
    s = frame(s, { type: 'joined', room: 'dm-1', history: [], ref: 'j' });
    s = frame(s, m(7, bob, 'psst', 'dm-1'));
    expect(s.rooms['dm-1']).toMatchObject({ unread: 1, mentions: 1 });
    expect(s.alerts).toMatchObject([{ room: 'dm-1', dm: true, body: 'psst' }]);
  });

  it('a join refused as forbidden leaves the sidebar; a toast unless it is the room shown', () => {
    let s = welcomed();
    s = reduce(s, { type: 'openRoom', room: 'dm-theirs' });
    s = reduce(s, { type: 'frame', frame: { type: 'error', code: 'forbidden', message: 'not your conversation', ref: 'j1' }, now: 1, request: { kind: 'join', room: 'dm-theirs' } });
    expect(s.roomOrder).toEqual(['general']);
    expect(s.forbidden).toEqual({ 'dm-theirs': 'not your conversation' });
    expect(s.toasts).toEqual([]);
    // Opening it again does not put it back.
    s = reduce(s, { type: 'openRoom', room: 'general' });
    s = reduce(s, { type: 'openRoom', room: 'dm-theirs' });
    expect(s.roomOrder).toEqual(['general']);

    let t = welcomed({ dms: [{ room: 'dm-old', user: bob }] });
    t = reduce(t, { type: 'frame', frame: { type: 'error', code: 'forbidden', message: 'not yours', ref: 'j2' }, now: 1, request: { kind: 'join', room: 'dm-old' } });
    expect(t.roomOrder).toEqual(['general']);
    expect(t.toasts.map((x) => x.code)).toEqual(['forbidden']);
  });

  it('a rename reaches the DM partner’s label', () => {
    let s = welcomed({ dms: [{ room: 'dm-1', user: bob }] });
    s = frame(s, { type: 'rename', room: 'general', user: { id: bob.id, name: 'Robert' }, old: 'Bob', ts: TS });
    expect(s.rooms['dm-1'].dm).toEqual({ id: bob.id, name: 'Robert' });
  });
});

describe('identity: presence in a direct-message room', () => {
  it('updates who is online without join or leave notices', () => {
    let s = welcomed({ dms: [{ room: 'dm-1', user: bob }] });
    s = frame(s, { type: 'joined', room: 'dm-1', dm: bob, online: [{ ...sam, devices: 1 }], history: [] });
    s = frame(s, { type: 'join', room: 'dm-1', user: { ...bob, devices: 1 }, ts: TS });
    expect(s.rooms['dm-1'].online.map((u) => u.id)).toEqual([sam.id, bob.id]);
    s = frame(s, { type: 'leave', room: 'dm-1', user: bob, ts: TS + 1 });
    expect(s.rooms['dm-1'].online.map((u) => u.id)).toEqual([sam.id]);
    expect(s.rooms['dm-1'].notices).toEqual([]);
    // In other rooms they are said as before.
    s = frame(s, { type: 'join', room: 'general', user: { ...bob, devices: 1 }, ts: TS });
    expect(s.rooms.general.notices.map((n) => n.kind)).toEqual(['join']);
  });
});

describe('identity: read positions', () => {
  function withDev(): ChatState {
    let s = welcomed({ history: [m(1, bob), m(2, bob)] });
    s = reduce(s, { type: 'openRoom', room: 'dev' });
    s = frame(s, { type: 'joined', room: 'dev', history: [m(10, bob, 'a', 'dev'), m(11, sam, 'mine', 'dev'), m(12, bob, '@Sam b', 'dev'), m(13, bob, 'c', 'dev')] });
    return reduce(s, { type: 'openRoom', room: 'general' });
  }

  it('takes unread counts from read objects (they survive a reload) and finds mentions after them', () => {
    let s = withDev();
    s = frame(s, { type: 'read', room: 'dev', seq: 10, unread: 2 });
    expect(s.rooms.dev).toMatchObject({ readSeq: 10, readKnown: true, unread: 2, mentions: 1 });
    // Another device read everything.
    s = frame(s, { type: 'read', room: 'dev', seq: 13, unread: 0 });
    expect(s.rooms.dev).toMatchObject({ readSeq: 13, unread: 0, mentions: 0 });
  });

  it('counts the messages loaded after the position itself, and takes the server’s count when they are not all loaded', () => {
    // The server counts every entry after the position: reactions, edits and the user's own
    // messages too. The whole room is loaded here, so only bob's two messages are unread.
    let s = frame(withDev(), { type: 'read', room: 'dev', seq: 10, unread: 5 });
    expect(s.rooms.dev).toMatchObject({ unread: 2, mentions: 1 });
    // Older messages exist and the position is before the oldest loaded one: the server knows.
    s = reduce(welcomed({ history: [m(1, bob)] }), { type: 'openRoom', room: 'dev' });
    s = frame(s, { type: 'joined', room: 'dev', history: [m(10, bob, 'a', 'dev'), m(12, bob, '@Sam b', 'dev')], has_more: true });
    s = reduce(s, { type: 'openRoom', room: 'general' });
    s = frame(s, { type: 'read', room: 'dev', seq: 4, unread: 42 });
    expect(s.rooms.dev).toMatchObject({ unread: 42, mentions: 1 });
  });

  it('a position behind one already known is stale: counted from the loaded messages instead', () => {
    let s = withDev();
    s = frame(s, { type: 'read', room: 'dev', seq: 12, unread: 1 });
    s = frame(s, { type: 'read', room: 'dev', seq: 10, unread: 3 });
    expect(s.rooms.dev).toMatchObject({ readSeq: 12, unread: 1, mentions: 0 });
  });

  it('places the divider after the read position when a room with unread messages is opened, until leaving it or sending', () => {
    let s = withDev();
    s = frame(s, { type: 'read', room: 'dev', seq: 11, unread: 2 });
    s = reduce(s, { type: 'openRoom', room: 'dev' });
    expect(s.rooms.dev).toMatchObject({ divider: 11, unread: 0 });
    const rows = timeline(s, 'dev');
    const at = rows.findIndex((r) => r.kind === 'divider');
    expect(rows[at + 1]).toMatchObject({ kind: 'message', seq: 12, first: true });
    // Seen: the divider stays.
    s = reduce(s, { type: 'markRead', room: 'dev', seq: 13 });
    expect(s.rooms.dev).toMatchObject({ divider: 11, readSeq: 13 });
    // Leaving the room takes it away.
    expect(reduce(s, { type: 'openRoom', room: 'general' }).rooms.dev.divider).toBeNull();
    // So does writing in it.
    s = reduce(s, { type: 'addPending', pending: { ref: 'm-1', room: 'dev', body: 'x', createdAt: 1, status: 'pending' } });
    expect(s.rooms.dev.divider).toBeNull();
  });

  it('after a reload the read object of the shown room draws the divider', () => {
    let s = welcomed({ history: [m(1, bob), m(2, bob), m(3, bob)] });
    s = frame(s, { type: 'read', room: 'general', seq: 1, unread: 2 });
    expect(s.rooms.general).toMatchObject({ divider: 1, unread: 0, readSeq: 1 });
    expect(timeline(s).map((r) => r.kind)).toEqual(['day', 'message', 'divider', 'message', 'message']);
    // Nothing unread: no divider.
    expect(frame(welcomed({ history: [m(1, bob)] }), { type: 'read', room: 'general', seq: 1, unread: 0 }).rooms.general.divider).toBeNull();
  });

  it('draws the divider at the server’s first position even when the page marked the room read first, and takes that mark back', () => {
    // The room opened at its bottom and was marked read (locally: the client holds its read
    // back until the server's position comes) before the server's position arrived.
    let s = welcomed({ history: [m(1, bob), m(2, bob), m(3, bob)] });
    s = reduce(s, { type: 'markRead', room: 'general', seq: 3 });
    s = frame(s, { type: 'read', room: 'general', seq: 1, unread: 2 });
    // The reader is taken to the divider: 2 and 3 are seen once they are at the bottom again.
    expect(s.rooms.general).toMatchObject({ divider: 1, unread: 0, readSeq: 1 });
    s = reduce(s, { type: 'markRead', room: 'general', seq: 3 });
    expect(s.rooms.general).toMatchObject({ divider: 1, readSeq: 3 });
    // A later, older position from another device draws none.
    s = reduce(reduce(s, { type: 'openRoom', room: 'dev' }), { type: 'openRoom', room: 'general' });
    s = frame(s, { type: 'read', room: 'general', seq: 2, unread: 1 });
    expect(s.rooms.general).toMatchObject({ divider: null, readSeq: 3 });
  });

  it('keeps what the page marked when the server’s first position leaves nothing unread from others', () => {
    let s = welcomed({ history: [m(1, bob), m(2, sam)] });
    s = reduce(s, { type: 'markRead', room: 'general', seq: 2 });
    s = frame(s, { type: 'read', room: 'general', seq: 1, unread: 1 });
    expect(s.rooms.general).toMatchObject({ divider: null, readSeq: 2 });
  });

  it('after a reconnect, a server position behind what this page had seen draws no divider', () => {
    let s = welcomed({ history: [m(1, bob), m(2, bob), m(3, bob)] });
    s = frame(s, { type: 'read', room: 'general', seq: 3, unread: 0 });
    s = reduce(s, { type: 'disconnected', status: 'reconnecting', retryAt: null });
    // The read of 3 was lost with the connection: the server still has 1.
    s = frame(s, { type: 'welcome', id: sam.id, name: sam.name, user: sam, room: 'general', history: [m(1, bob), m(2, bob), m(3, bob)] });
    s = frame(s, { type: 'read', room: 'general', seq: 1, unread: 2 });
    expect(s.rooms.general).toMatchObject({ divider: null, unread: 0, readSeq: 3 });
  });

  it('never puts the divider before my own messages', () => {
    let s = welcomed({ history: [m(1, bob), m(2, sam), m(3, bob)] });
    s = frame(s, { type: 'read', room: 'general', seq: 1, unread: 1 });
    const kinds = timeline(s).map((r) => (r.kind === 'message' ? r.seq : r.kind));
    expect(kinds).toEqual(['day', 1, 2, 'divider', 3]);
  });

  it('a DM’s unread all count as mentions', () => {
    let s = welcomed({ dms: [{ room: 'dm-1', user: bob }] });
    s = frame(s, { type: 'joined', room: 'dm-1', history: [m(5, bob, 'hi', 'dm-1')], has_more: true, ref: 'x' });
    s = frame(s, { type: 'read', room: 'dm-1', seq: 0, unread: 4 });
    expect(s.rooms['dm-1']).toMatchObject({ unread: 4, mentions: 4 });
  });

  it('without read positions (older servers) the divider goes before the last unread messages from others', () => {
    let s = oldWelcomed({ history: [m(1, bob)] });
    s = reduce(s, { type: 'openRoom', room: 'dev' });
    s = frame(s, { type: 'joined', room: 'dev', history: [] });
    s = frame(s, m(2, bob), 2);
    s = frame(s, m(3, sam), 3);
    s = frame(s, m(4, bob), 4);
    expect(s.rooms.general.unread).toBe(2);
    expect(dividerFor(s, s.rooms.general)).toBe(1);
    s = reduce(s, { type: 'openRoom', room: 'general' });
    expect(s.rooms.general.divider).toBe(1);
  });

  it('coming back to a hidden tab draws the divider above what arrived meanwhile', () => {
    let s = welcomed({ history: [m(1, bob)] });
    s = frame(s, { type: 'read', room: 'general', seq: 1, unread: 0 });
    s = reduce(s, { type: 'visibility', hidden: true });
    s = frame(s, m(2, bob));
    s = reduce(s, { type: 'visibility', hidden: false });
    expect(s.rooms.general).toMatchObject({ divider: 1, unread: 0 });
  });
});

describe('identity: signing out', () => {
  it('keeps the rooms and the toasts, and drops what was the old identity’s: DMs, messages, read positions, names', () => {
    let s = welcomed({ history: [m(1, bob)], dms: [{ room: 'dm-1', user: bob }] });
    s = reduce(s, { type: 'openRoom', room: 'dev' });
    s = frame(s, { type: 'joined', room: 'dev', history: [m(5, bob, 'x', 'dev')] });
    s = frame(s, { type: 'read', room: 'dev', seq: 4, unread: 1 });
    s = reduce(s, { type: 'addPending', pending: { ref: 'm-1', room: 'dev', body: 'unsent', createdAt: 1, status: 'pending' } });
    s = reduce(s, { type: 'toast', code: 'x', message: 'still here' });
    s = reduce(s, { type: 'openRoom', room: 'dm-1' });
    const out = reduce(s, { type: 'signedOut' });
    expect(out.roomOrder).toEqual(['general', 'dev']);
    expect(out.currentRoom).toBe('general');
    expect(out.rooms.dev).toMatchObject({ messages: [], pending: [], readSeq: null, unread: 0, joined: false });
    expect(out).toMatchObject({ userId: null, me: null, myIds: [], names: {}, status: 'reconnecting' });
    expect(out.toasts.map((t) => t.message)).toEqual(['still here']);
  });
});
