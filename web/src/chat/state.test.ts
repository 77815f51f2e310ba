import { describe, expect, it } from 'vitest';
import type { ServerFrame, User } from '../protocol/types';
import type { ChatState } from './state';
import { initialState, isPartial, reduce } from './state';

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
