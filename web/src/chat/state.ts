// The chat state and its pure transitions. ChatClient (client.ts) owns the socket and feeds
// server frames and user actions through `reduce`; components only render the result.

import type { Limits, Message, ServerFrame, User } from '../protocol/types';
import { DEFAULT_LIMITS } from '../protocol/types';

export type ConnStatus = 'connecting' | 'online' | 'reconnecting' | 'offline';

export interface Notice {
  kind: 'join' | 'leave';
  key: string;
  user: User;
  ts: number;
}

export interface PendingMessage {
  ref: string;
  room: string;
  body: string;
  createdAt: number;
  status: 'pending' | 'failed';
  error?: string;
  /** The connection this was last written to; a newer connection sends it again. */
  sentOn?: number;
}

export interface TypingEntry {
  user: User;
  at: number;
}

export interface RoomState {
  name: string;
  /** Membership confirmed on the current connection (welcome or joined). */
  joined: boolean;
  /** Stored messages, sorted by seq, unique by id. */
  messages: Message[];
  notices: Notice[];
  pending: PendingMessage[];
  /**
   * Users in the room, unique by id. In a large room only the first members (the server sends
   * at most 100) and not kept up to date: such rooms send counts instead of join/leave events.
   */
  online: User[];
  /** How many users the room has; never less than `online.length`, more when the list is partial. */
  onlineCount: number;
  typing: Record<string, TypingEntry>;
  /** Older messages exist on the server (scroll-back). */
  hasMore: boolean;
  loadingOlder: boolean;
  /** A history snapshot (welcome or joined) has been received at least once. */
  loaded: boolean;
  unread: number;
}

export interface Toast {
  id: number;
  code: string;
  message: string;
}

export interface Fatal {
  code: string;
  message: string;
}

export interface ChatState {
  status: ConnStatus;
  /** When reconnecting: the time of the next attempt. */
  retryAt: number | null;
  /** Set when the server refused us for good (close 1008); no automatic retry. */
  fatal: Fatal | null;
  me: User | null;
  /** Every user id this client had (one per connection), to recognise its own messages. */
  myIds: string[];
  limits: Limits;
  version: string | null;
  currentRoom: string;
  rooms: Record<string, RoomState>;
  roomOrder: string[];
  toasts: Toast[];
  nextToastId: number;
}

/** What the client knows about the request a reply answers. */
export interface RequestInfo {
  kind: 'join' | 'leave' | 'history';
  room: string;
  since?: number;
}

export type Action =
  | { type: 'connecting'; status: 'connecting' | 'reconnecting' }
  | { type: 'disconnected'; status: 'reconnecting' | 'offline'; retryAt: number | null; fatal?: Fatal | null }
  | { type: 'frame'; frame: ServerFrame; now: number; request?: RequestInfo }
  | { type: 'openRoom'; room: string }
  | { type: 'removeRoom'; room: string }
  | { type: 'addPending'; pending: PendingMessage }
  | { type: 'pendingSent'; refs: string[]; connId: number }
  | { type: 'pendingFailed'; refs: string[]; error: string }
  | { type: 'retryPending'; ref: string }
  | { type: 'discardPending'; ref: string }
  | { type: 'loadingOlder'; room: string; loading: boolean }
  | { type: 'expireTyping'; now: number }
  | { type: 'toast'; code: string; message: string }
  | { type: 'dismissToast'; id: number };

export const TYPING_TTL_MS = 4000;

export function emptyRoom(name: string): RoomState {
  return {
    name,
    joined: false,
    messages: [],
    notices: [],
    pending: [],
    online: [],
    onlineCount: 0,
    typing: {},
    hasMore: false,
    loadingOlder: false,
    loaded: false,
    unread: 0,
  };
}

export function initialState(room: string, otherRooms: string[] = []): ChatState {
  // Remembered rooms keep their order; the room being opened is added when new.
  const order = [...new Set([...otherRooms, room])];
  const rooms: Record<string, RoomState> = {};
  for (const r of order) rooms[r] = emptyRoom(r);
  return {
    status: 'connecting',
    retryAt: null,
    fatal: null,
    me: null,
    myIds: [],
    limits: DEFAULT_LIMITS,
    version: null,
    currentRoom: room,
    rooms,
    roomOrder: order,
    toasts: [],
    nextToastId: 1,
  };
}

/**
 * Merges messages into a seq-sorted, id-unique list. Returns the same array when nothing was
 * new, and the messages that were added.
 */
export function mergeMessages(existing: Message[], incoming: Message[] | undefined): { messages: Message[]; added: Message[] } {
  if (!incoming || incoming.length === 0) return { messages: existing, added: [] };
  const seen = new Set(existing.map((m) => m.id));
  const added: Message[] = [];
  for (const m of incoming) {
    if (!isMessage(m) || seen.has(m.id)) continue;
    seen.add(m.id);
    added.push(stripType(m));
  }
  if (added.length === 0) return { messages: existing, added };
  const last = existing[existing.length - 1];
  const sortedAdded = [...added].sort((a, b) => a.seq - b.seq);
  // The common case, a live message after the newest one, needs no sort.
  const messages = !last || sortedAdded[0].seq > last.seq ? [...existing, ...sortedAdded] : [...existing, ...added].sort((a, b) => a.seq - b.seq);
  return { messages, added };
}

function isMessage(m: unknown): m is Message {
  const v = m as Message;
  return !!v && typeof v.id === 'string' && typeof v.seq === 'number' && typeof v.body === 'string' && !!v.from && typeof v.from.id === 'string';
}

function stripType(m: Message): Message {
  const { room, seq, id, from, body, ts, ref } = m;
  return ref === undefined ? { room, seq, id, from, body, ts } : { room, seq, id, from, body, ts, ref };
}

/** Users unique by id, in the order first seen. */
export function uniqueUsers(users: User[] | undefined): User[] {
  const seen = new Set<string>();
  const out: User[] = [];
  for (const u of users ?? []) {
    if (!u || typeof u.id !== 'string' || seen.has(u.id)) continue;
    seen.add(u.id);
    out.push({ id: u.id, name: u.name });
  }
  return out;
}

/**
 * The member count a server reported, or the list length when it sent none (servers before
 * online_count) or something unusable. Never less than the list length.
 */
export function memberCount(count: unknown, listed: number): number {
  return isCount(count) ? Math.max(count, listed) : listed;
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** The room's online list is only part of its members (a large room). */
export function isPartial(room: Pick<RoomState, 'online' | 'onlineCount'>): boolean {
  return room.onlineCount > room.online.length;
}

export function maxSeq(room: RoomState | undefined): number | undefined {
  const m = room?.messages;
  return m && m.length > 0 ? m[m.length - 1].seq : undefined;
}

export function minSeq(room: RoomState | undefined): number | undefined {
  const m = room?.messages;
  return m && m.length > 0 ? m[0].seq : undefined;
}

export function isOwn(state: Pick<ChatState, 'me' | 'myIds'>, from: User): boolean {
  return state.myIds.includes(from.id) || (state.me !== null && from.name === state.me.name);
}

function withRoom(state: ChatState, name: string, fn: (r: RoomState) => RoomState, create = false): ChatState {
  const existing = state.rooms[name];
  if (!existing && !create) return state;
  const next = fn(existing ?? emptyRoom(name));
  return {
    ...state,
    rooms: { ...state.rooms, [name]: next },
    roomOrder: existing ? state.roomOrder : [...state.roomOrder, name],
  };
}

function findPending(state: ChatState, ref: string | undefined): PendingMessage | undefined {
  if (!ref) return undefined;
  for (const name of state.roomOrder) {
    const p = state.rooms[name]?.pending.find((x) => x.ref === ref);
    if (p) return p;
  }
  return undefined;
}

function mapPending(state: ChatState, refs: string[], fn: (p: PendingMessage) => PendingMessage | null): ChatState {
  const set = new Set(refs);
  let rooms = state.rooms;
  for (const name of state.roomOrder) {
    const room = rooms[name];
    if (!room || !room.pending.some((p) => set.has(p.ref))) continue;
    const pending: PendingMessage[] = [];
    for (const p of room.pending) {
      if (!set.has(p.ref)) pending.push(p);
      else {
        const q = fn(p);
        if (q) pending.push(q);
      }
    }
    rooms = { ...rooms, [name]: { ...room, pending } };
  }
  return rooms === state.rooms ? state : { ...state, rooms };
}

function addToast(state: ChatState, code: string, message: string): ChatState {
  const toast = { id: state.nextToastId, code, message };
  // Keep the last few: a burst of errors should not cover the screen.
  return { ...state, toasts: [...state.toasts, toast].slice(-4), nextToastId: state.nextToastId + 1 };
}

/**
 * Applies a batch of stored messages (live, replayed or paged) to one room: dedupes, drops the
 * pending copies of our own messages, clears the senders' typing flags, counts unread.
 */
function receiveMessages(state: ChatState, room: RoomState, incoming: Message[] | undefined, countUnread: boolean, replace = false): RoomState {
  const base = replace ? [] : room.messages;
  const { messages, added } = mergeMessages(base, incoming);
  const keep = replace ? new Set(room.messages.map((m) => m.id)) : null;
  if (added.length === 0 && !replace) return room;
  let pending = room.pending;
  let typing = room.typing;
  let unread = room.unread;
  for (const m of added) {
    if (m.ref && state.myIds.includes(m.from.id) && pending.some((p) => p.ref === m.ref)) {
      pending = pending.filter((p) => p.ref !== m.ref);
    }
    if (typing[m.from.id]) {
      const { [m.from.id]: _, ...rest } = typing;
      typing = rest;
    }
    if (countUnread && room.name !== state.currentRoom && !isOwn(state, m.from) && !(keep && keep.has(m.id))) unread++;
  }
  return { ...room, messages, pending, typing, unread };
}

export function reduce(state: ChatState, action: Action): ChatState {
  switch (action.type) {
    case 'connecting':
      return { ...state, status: action.status, retryAt: null, fatal: null };

    case 'disconnected': {
      const rooms: Record<string, RoomState> = {};
      for (const [name, r] of Object.entries(state.rooms)) rooms[name] = { ...r, joined: false, loadingOlder: false, typing: {} };
      return { ...state, status: action.status, retryAt: action.retryAt, fatal: action.fatal ?? null, rooms };
    }

    case 'frame':
      return applyFrame(state, action.frame, action.now, action.request);

    case 'openRoom': {
      const s = withRoom(state, action.room, (r) => ({ ...r, unread: 0 }), true);
      return { ...s, currentRoom: action.room };
    }

    case 'removeRoom': {
      if (!state.rooms[action.room]) return state;
      const { [action.room]: _, ...rooms } = state.rooms;
      return { ...state, rooms, roomOrder: state.roomOrder.filter((r) => r !== action.room) };
    }

    case 'addPending':
      return withRoom(state, action.pending.room, (r) => ({ ...r, pending: [...r.pending, action.pending] }), true);

    case 'pendingSent':
      return mapPending(state, action.refs, (p) => ({ ...p, sentOn: action.connId }));

    case 'pendingFailed':
      return mapPending(state, action.refs, (p) => ({ ...p, status: 'failed', error: action.error, sentOn: undefined }));

    case 'retryPending':
      return mapPending(state, [action.ref], (p) => ({ ...p, status: 'pending', error: undefined, sentOn: undefined }));

    case 'discardPending':
      return mapPending(state, [action.ref], () => null);

    case 'loadingOlder':
      return withRoom(state, action.room, (r) => ({ ...r, loadingOlder: action.loading }));

    case 'expireTyping': {
      let changed = false;
      const rooms: Record<string, RoomState> = {};
      for (const [name, r] of Object.entries(state.rooms)) {
        const live = Object.entries(r.typing).filter(([, t]) => action.now - t.at < TYPING_TTL_MS);
        if (live.length !== Object.keys(r.typing).length) {
          changed = true;
          rooms[name] = { ...r, typing: Object.fromEntries(live) };
        } else rooms[name] = r;
      }
      return changed ? { ...state, rooms } : state;
    }

    case 'toast':
      return addToast(state, action.code, action.message);

    case 'dismissToast':
      return { ...state, toasts: state.toasts.filter((t) => t.id !== action.id) };
  }
}

function applyFrame(state: ChatState, frame: ServerFrame, now: number, request?: RequestInfo): ChatState {
  switch (frame.type) {
    case 'welcome': {
      const me = { id: frame.id, name: frame.name };
      let s: ChatState = {
        ...state,
        me,
        myIds: state.myIds.includes(me.id) ? state.myIds : [...state.myIds, me.id],
        limits: { ...DEFAULT_LIMITS, ...state.limits, ...(frame.limits ?? {}) },
        version: frame.version ?? state.version,
        status: 'online',
        retryAt: null,
        fatal: null,
      };
      s = withRoom(
        s,
        frame.room,
        (r) => {
          const merged = receiveMessages(s, r, frame.history, r.loaded);
          const online = uniqueUsers(frame.online);
          return {
            ...merged,
            joined: true,
            online,
            onlineCount: memberCount(frame.online_count, online.length),
            hasMore: r.loaded ? r.hasMore : !!frame.has_more,
            loaded: true,
          };
        },
        true,
      );
      return s;
    }

    case 'joined':
      return withRoom(
        state,
        frame.room,
        (r) => {
          const since = request?.kind === 'join' && request.room === frame.room ? request.since : undefined;
          // More was missed than the server replays: the old messages and the new ones are not
          // contiguous, so show the new ones and let scroll-back page the rest.
          const gap = since !== undefined && !!frame.has_more;
          const merged = receiveMessages(state, r, frame.history, r.loaded, gap);
          const online = uniqueUsers(frame.online);
          return {
            ...merged,
            joined: true,
            online,
            onlineCount: memberCount(frame.online_count, online.length),
            hasMore: since === undefined ? !!frame.has_more : gap ? true : r.hasMore,
            loaded: true,
          };
        },
        true,
      );

    case 'left':
      return state; // the room was removed when the user left it

    case 'message': {
      const room = state.rooms[frame.room];
      if (!room) return state;
      return withRoom(state, frame.room, (r) => receiveMessages(state, r, [frame], true));
    }

    case 'history':
      return withRoom(state, frame.room, (r) => ({
        ...receiveMessages(state, r, frame.messages, false),
        hasMore: !!frame.has_more,
        loadingOlder: false,
      }));

    case 'ack': {
      const p = findPending(state, frame.ref);
      if (!p || !state.me) return state;
      const room = state.rooms[frame.room] ? frame.room : p.room;
      const msg: Message = { room, seq: frame.seq, id: frame.id, from: state.me, body: p.body, ts: frame.ts, ref: p.ref };
      const s = mapPending(state, [p.ref], () => null);
      return withRoom(s, room, (r) => receiveMessages(s, r, [msg], false));
    }

    case 'join': {
      if (!frame.user || state.myIds.includes(frame.user.id)) return state;
      return withRoom(state, frame.room, (r) => {
        // Join events come only from rooms small enough for a complete list.
        const known = r.online.some((u) => u.id === frame.user.id);
        const online = known ? r.online : [...r.online, { id: frame.user.id, name: frame.user.name }];
        return {
          ...r,
          online,
          onlineCount: Math.max(known ? r.onlineCount : r.onlineCount + 1, online.length),
          notices: [...r.notices, { kind: 'join', key: `join-${frame.user.id}-${frame.ts ?? now}`, user: frame.user, ts: frame.ts ?? now }],
        };
      });
    }

    case 'leave': {
      if (!frame.user || state.myIds.includes(frame.user.id)) return state;
      return withRoom(state, frame.room, (r) => {
        const { [frame.user.id]: _, ...typing } = r.typing;
        const online = r.online.filter((u) => u.id !== frame.user.id);
        const known = online.length !== r.online.length;
        return {
          ...r,
          online,
          onlineCount: Math.max(known ? r.onlineCount - 1 : r.onlineCount, online.length),
          typing,
          notices: [...r.notices, { kind: 'leave', key: `leave-${frame.user.id}-${frame.ts ?? now}`, user: frame.user, ts: frame.ts ?? now }],
        };
      });
    }

    case 'presence':
      return withRoom(state, frame.room, (r) => {
        const online = uniqueUsers(frame.online);
        return { ...r, online, onlineCount: memberCount(frame.online_count, online.length) };
      });

    case 'online_count':
      // Sent instead of join/leave events by rooms too large for a complete list.
      if (!isCount(frame.count)) return state;
      return withRoom(state, frame.room, (r) => ({ ...r, onlineCount: memberCount(frame.count, r.online.length) }));

    case 'typing': {
      if (!frame.user || state.myIds.includes(frame.user.id)) return state;
      return withRoom(state, frame.room, (r) => ({ ...r, typing: { ...r.typing, [frame.user.id]: { user: frame.user, at: now } } }));
    }

    case 'error': {
      const text = frame.message || frame.code;
      const p = findPending(state, frame.ref);
      if (p) return mapPending(state, [p.ref], (q) => ({ ...q, status: 'failed', error: text, sentOn: undefined }));
      let s = state;
      if (request?.kind === 'history') s = withRoom(s, request.room, (r) => ({ ...r, loadingOlder: false }));
      if (request?.kind === 'join' && !s.rooms[request.room]?.loaded && request.room !== s.currentRoom) {
        s = reduce(s, { type: 'removeRoom', room: request.room });
      }
      return addToast(s, frame.code, text);
    }

    default:
      return state;
  }
}
