// The chat state and its pure transitions. ChatClient (client.ts) owns the socket and feeds
// server frames and user actions through `reduce`; components only render the result.

import { mentionsName } from '../lib/mentions';
import type { HistoryItem, Limits, Message, OnlineUser, RoomEvent, ServerFrame, TopicEvent, User } from '../protocol/types';
import { DEFAULT_LIMITS, DEFAULT_ROOM, DM_PREFIX } from '../protocol/types';
import type { Overlays } from './events';
import { applyEvent, isEvent, isMessageItem, splitHistory } from './events';

export type ConnStatus = 'connecting' | 'online' | 'reconnecting' | 'offline';

export interface Notice {
  kind: 'join' | 'leave' | 'topic' | 'rename';
  key: string;
  /** Who; for a rename, with the new name. */
  user: User;
  ts: number;
  /** The new topic (kind 'topic'; empty: cleared). */
  body?: string;
  /** The name before (kind 'rename'). */
  old?: string;
}

/** An edit, delete, reaction or topic change waiting for the server's ack. */
export type Op =
  | { kind: 'edit'; id: string; body: string }
  | { kind: 'delete'; id: string }
  | { kind: 'react'; id: string; emoji: string; on: boolean }
  | { kind: 'topic'; body: string };

export interface PendingOp {
  ref: string;
  room: string;
  op: Op;
  createdAt: number;
  /** The connection this was last written to; a newer connection sends it again. */
  sentOn?: number;
}

export interface Topic {
  body: string;
  /** The seq it was set at (the snapshot's for welcome/joined); only a later one replaces it. */
  seq: number;
  user: User | null;
  ts: number | null;
}

/** A mention of the user that arrived live, for a desktop notification. */
export interface Alert {
  id: number;
  room: string;
  messageId: string;
  from: User;
  body: string;
  /** A message in a direct-message room (every one alerts, not only mentions). */
  dm?: boolean;
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
  /** Edits, deletions and reactions by message id (events.ts); may name messages not loaded. */
  overlays: Overlays;
  /** Join, leave and topic notices, sorted by ts. */
  notices: Notice[];
  pending: PendingMessage[];
  /** Edits, deletes, reactions and topic changes sent and not yet acknowledged. */
  ops: PendingOp[];
  topic: Topic | null;
  /**
   * The lowest and highest seq received from the room's stream (messages and events, not acks):
   * `before` for scroll-back and `since` for recovery.
   */
  seqLow: number | null;
  seqHigh: number | null;
  /**
   * Users in the room, unique by id (with identity: people, with their device counts). In a
   * large room only the first members (the server sends at most 100) and not kept up to date:
   * such rooms send counts instead of join/leave events.
   */
  online: OnlineUser[];
  /** How many users the room has; never less than `online.length`, more when the list is partial. */
  onlineCount: number;
  typing: Record<string, TypingEntry>;
  /** Older messages exist on the server (scroll-back). */
  hasMore: boolean;
  loadingOlder: boolean;
  /** A history snapshot (welcome or joined) has been received at least once. */
  loaded: boolean;
  /** Messages not seen: in a room not shown, or in the shown one while the tab is hidden. */
  unread: number;
  /** Of those, the ones that mention the user (in a direct-message room: all of them). */
  mentions: number;
  /** A direct-message room: the other person. */
  dm: User | null;
  /**
   * The user's read position (identity only): the highest seq they have seen here, from the
   * server's `read` objects and the ones this client sent.
   */
  readSeq: number | null;
  /**
   * The server told the read position since the room's last welcome/joined. It may never:
   * the server sends none for a room the user has no position in yet.
   */
  readKnown: boolean;
  /**
   * `readSeq` when the room's last welcome/joined arrived: a position from the server at or
   * after it is where the user was before this connection (a reload), even when this
   * connection has marked the room read since.
   */
  readBefore: number | null;
  /** The "New messages" divider goes after this seq; kept until the user leaves the room or sends. */
  divider: number | null;
}

/** A rename this client asked the server for, until it answers. */
export interface RenameRequest {
  ref: string;
  name: string;
  status: 'sending' | 'failed';
  error?: string;
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

/** The server would not open a direct-message room with someone (`dm` answered with an error). */
export interface DmRefusal {
  /** The other person's user id. */
  user: string;
  /** `forbidden` (connected, but in no room with the user), `not_found` (in no room with them at all), `limit_exceeded` (a list of conversations is full), or another error. */
  code: string;
  /** The server's words. */
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
  /**
   * The stable user id from `welcome.user`; null with a server without identity, whose ids are
   * per connection (then `myIds` and the name decide what is "mine").
   */
  userId: string | null;
  /** The latest name known for each user id (presence, renames, live messages). */
  names: Record<string, string>;
  /** The rename waiting for the server's answer, or the one it refused. */
  rename: RenameRequest | null;
  /** Rooms the server refused to let this user into (another pair's direct messages), with why. */
  forbidden: Record<string, string>;
  /** The last direct-message room the server would not open, until the user moves on. */
  dmRefusal: DmRefusal | null;
  limits: Limits;
  version: string | null;
  currentRoom: string;
  rooms: Record<string, RoomState>;
  roomOrder: string[];
  toasts: Toast[];
  nextToastId: number;
  /** The tab is hidden: messages in the current room count as unread too. */
  hidden: boolean;
  /** Live mentions not yet shown as notifications, oldest first. */
  alerts: Alert[];
  nextAlertId: number;
}

/** What the client knows about the request a reply answers. */
export interface RequestInfo {
  kind: 'join' | 'leave' | 'history' | 'rename' | 'dm';
  /** The room asked about ('' for rename and dm). */
  room: string;
  since?: number;
  /** rename: the new name. */
  name?: string;
  /** dm: the other person's user id. */
  user?: string;
  /** join: a room the user has not seen (a direct-message room someone opened): its messages are unread. */
  unseen?: boolean;
  /** leave: a direct-message room the user hid, with the other person (to put it back if the server cannot). */
  hide?: { partner: User | null };
}

export type Action =
  | { type: 'connecting'; status: 'connecting' | 'reconnecting' }
  | { type: 'disconnected'; status: 'reconnecting' | 'offline'; retryAt: number | null; fatal?: Fatal | null }
  | { type: 'frame'; frame: ServerFrame; now: number; request?: RequestInfo }
  | { type: 'openRoom'; room: string }
  | { type: 'removeRoom'; room: string }
  | { type: 'addPending'; pending: PendingMessage }
  | { type: 'addOp'; op: PendingOp }
  | { type: 'pendingSent'; refs: string[]; connId: number }
  | { type: 'pendingUnsent'; refs: string[] }
  | { type: 'pendingFailed'; refs: string[]; error: string }
  | { type: 'retryPending'; ref: string }
  | { type: 'discardPending'; ref: string }
  | { type: 'loadingOlder'; room: string; loading: boolean }
  | { type: 'expireTyping'; now: number }
  | { type: 'toast'; code: string; message: string }
  | { type: 'dismissToast'; id: number }
  | { type: 'visibility'; hidden: boolean }
  | { type: 'alertsShown'; upTo: number }
  /** The user has seen the room up to seq (shown, visible, scrolled to the bottom). */
  | { type: 'markRead'; room: string; seq: number }
  /** A rename went to the server (ref) and waits for its answer. */
  | { type: 'renameSent'; ref: string; name: string }
  /** A new name used from the next connection on (older servers, or while offline). */
  | { type: 'renameLocal'; name: string }
  | { type: 'renameClear' }
  /** The user signed out: a new person from the next welcome on. */
  | { type: 'signedOut' }
  /** The user moved on from a refused direct message (dismissed it, or asked again). */
  | { type: 'dmRefusalClear' };

export const TYPING_TTL_MS = 4000;

export function emptyRoom(name: string): RoomState {
  return {
    name,
    joined: false,
    messages: [],
    overlays: {},
    notices: [],
    pending: [],
    ops: [],
    topic: null,
    seqLow: null,
    seqHigh: null,
    online: [],
    onlineCount: 0,
    typing: {},
    hasMore: false,
    loadingOlder: false,
    loaded: false,
    unread: 0,
    mentions: 0,
    dm: null,
    readSeq: null,
    readKnown: false,
    readBefore: null,
    divider: null,
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
    userId: null,
    names: {},
    rename: null,
    forbidden: {},
    dmRefusal: null,
    limits: DEFAULT_LIMITS,
    version: null,
    currentRoom: room,
    rooms,
    roomOrder: order,
    toasts: [],
    nextToastId: 1,
    hidden: false,
    alerts: [],
    nextAlertId: 1,
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
    if (!isMessageItem(m) || seen.has(m.id)) continue;
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

function stripType(m: Message): Message {
  const { room, seq, id, from, body, ts, ref } = m;
  return ref === undefined ? { room, seq, id, from, body, ts } : { room, seq, id, from, body, ts, ref };
}

/** Users unique by id, in the order first seen, with their device counts when the server sent them. */
export function uniqueUsers(users: OnlineUser[] | undefined): OnlineUser[] {
  const seen = new Set<string>();
  const out: OnlineUser[] = [];
  for (const u of users ?? []) {
    if (!u || typeof u.id !== 'string' || seen.has(u.id)) continue;
    seen.add(u.id);
    out.push(onlineUser(u));
  }
  return out;
}

function onlineUser(u: OnlineUser): OnlineUser {
  return isCount(u.devices) && u.devices > 0 ? { id: u.id, name: u.name, devices: u.devices } : { id: u.id, name: u.name };
}

function isUser(u: unknown): u is User {
  const v = u as User | null;
  return !!v && typeof v === 'object' && typeof v.id === 'string' && v.id !== '' && typeof v.name === 'string';
}

/** Adds what users are called now to the names by id; the same object when nothing changed. */
function learnNames(names: Record<string, string>, users: (User | null | undefined)[] | undefined): Record<string, string> {
  let out = names;
  for (const u of users ?? []) {
    if (!isUser(u) || out[u.id] === u.name) continue;
    if (out === names) out = { ...names };
    out[u.id] = u.name;
  }
  return out;
}

/**
 * A direct-message room: the server named the other person, or the room has the prefix the
 * server gives them. Only with identity: before it, `dm-…` is a room name like any other.
 */
export function isDmRoom(room: Pick<RoomState, 'name' | 'dm'>): boolean {
  return room.dm !== null || room.name.startsWith(DM_PREFIX);
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

/** The highest seq seen in the room's stream: `since` when rejoining. */
export function maxSeq(room: RoomState | undefined): number | undefined {
  if (!room) return undefined;
  const m = room.messages;
  const last = m.length > 0 ? m[m.length - 1].seq : undefined;
  if (room.seqHigh === null) return last;
  return last === undefined ? room.seqHigh : Math.max(room.seqHigh, last);
}

/** The lowest seq seen in the room's stream: `before` for the next older page. */
export function minSeq(room: RoomState | undefined): number | undefined {
  if (!room) return undefined;
  const first = room.messages.length > 0 ? room.messages[0].seq : undefined;
  if (room.seqLow === null) return first;
  return first === undefined ? room.seqLow : Math.min(room.seqLow, first);
}

/**
 * Whether a user is this client's person: the one place that decides which messages are
 * "mine" (alignment, "Sent", edit, delete, reactions, unread, mentions). With identity it is
 * the stable user id, the same on every device and across reloads and renames. A server
 * without identity has per-connection ids, so it falls back to every id this client had and,
 * across reloads, the display name.
 */
export function isMine(state: Pick<ChatState, 'me' | 'myIds' | 'userId'>, user: User): boolean {
  if (state.userId !== null) return user.id === state.userId;
  return state.myIds.includes(user.id) || (state.me !== null && user.name === state.me.name);
}

/**
 * Whether presence or typing is about this client's person. Unlike `isMine` it never matches
 * by name: without identity another "alice" online is someone else.
 */
export function isSelf(state: Pick<ChatState, 'myIds' | 'userId'>, user: User): boolean {
  return state.userId !== null ? user.id === state.userId : state.myIds.includes(user.id);
}

/** Whether the server speaks the identity part of the protocol (stable ids, DMs, read positions). */
export function hasIdentity(state: Pick<ChatState, 'userId'>): boolean {
  return state.userId !== null;
}

/**
 * Where the "New messages" divider goes when the user opens a room with unread messages: after
 * the read position when the server gave one, or else before the last `unread` messages from
 * others that are loaded.
 */
export function dividerFor(state: Pick<ChatState, 'me' | 'myIds' | 'userId'>, room: RoomState): number | null {
  if (room.unread <= 0) return null;
  if (room.readSeq !== null) return room.readSeq;
  const m = room.messages;
  let left = room.unread;
  for (let i = m.length - 1; i >= 0; i--) {
    if (isMine(state, m[i].from)) continue;
    if (--left === 0) return i > 0 ? m[i - 1].seq : m[i].seq - 1;
  }
  return m.length > 0 ? m[0].seq - 1 : null;
}

/** Unread messages and mentions among the loaded messages after a read position. */
function countAfter(state: ChatState, room: RoomState, seq: number): { unread: number; mentions: number } {
  let unread = 0;
  let mentions = 0;
  for (const m of room.messages) {
    if (m.seq <= seq || isMine(state, m.from)) continue;
    unread++;
    if (mentionsName(m.body, state.me?.name)) mentions++;
  }
  return { unread, mentions };
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

function findOp(state: ChatState, ref: string | undefined): PendingOp | undefined {
  if (!ref) return undefined;
  for (const name of state.roomOrder) {
    const p = state.rooms[name]?.ops.find((x) => x.ref === ref);
    if (p) return p;
  }
  return undefined;
}

function mapOps(state: ChatState, refs: string[], fn: (p: PendingOp) => PendingOp | null): ChatState {
  const set = new Set(refs);
  let rooms = state.rooms;
  for (const name of state.roomOrder) {
    const room = rooms[name];
    if (!room || !room.ops.some((p) => set.has(p.ref))) continue;
    const ops: PendingOp[] = [];
    for (const p of room.ops) {
      if (!set.has(p.ref)) ops.push(p);
      else {
        const q = fn(p);
        if (q) ops.push(q);
      }
    }
    rooms = { ...rooms, [name]: { ...room, ops } };
  }
  return rooms === state.rooms ? state : { ...state, rooms };
}

function addToast(state: ChatState, code: string, message: string): ChatState {
  const toast = { id: state.nextToastId, code, message };
  // Keep the last few: a burst of errors should not cover the screen.
  return { ...state, toasts: [...state.toasts, toast].slice(-4), nextToastId: state.nextToastId + 1 };
}

/** Notices stay sorted by time: topic events from older pages land in their place. */
function addNotice(notices: Notice[], n: Notice): Notice[] {
  if (notices.some((x) => x.key === n.key)) return notices;
  let at = notices.length;
  while (at > 0 && notices[at - 1].ts > n.ts) at--;
  return [...notices.slice(0, at), n, ...notices.slice(at)];
}

function applyTopic(room: RoomState, ev: TopicEvent): RoomState {
  const notices = addNotice(room.notices, { kind: 'topic', key: `topic-${ev.seq}`, user: ev.user, ts: ev.ts, body: ev.body });
  const newer = !room.topic || ev.seq > room.topic.seq;
  if (!newer && notices === room.notices) return room;
  return { ...room, notices, topic: newer ? { body: ev.body, seq: ev.seq, user: ev.user, ts: ev.ts } : room.topic };
}

/** Applies events (edit, delete, reaction, topic) to a room; the same room when nothing changed. */
function receiveEvents(room: RoomState, events: RoomEvent[]): RoomState {
  let r = room;
  let overlays = room.overlays;
  for (const ev of events) {
    if (ev.type === 'topic') r = applyTopic(r, ev);
    else overlays = applyEvent(overlays, ev);
  }
  return overlays === room.overlays ? r : { ...r, overlays };
}

function seqBounds(items: { seq: number }[]): { low: number; high: number } | null {
  if (items.length === 0) return null;
  let low = items[0].seq;
  let high = low;
  for (const it of items) {
    if (it.seq < low) low = it.seq;
    if (it.seq > high) high = it.seq;
  }
  return { low, high };
}

/**
 * Applies a batch from the room's stream (live, replayed or paged: messages and events) to one
 * room: dedupes, drops the pending copies of our own messages, clears the senders' typing
 * flags, counts unread messages and mentions, and widens the seq range seen. `replace` starts
 * the messages over (a gap larger than the server replays).
 */
function receiveItems(state: ChatState, room: RoomState, items: HistoryItem[] | undefined, countUnread: boolean, replace = false): RoomState {
  const { messages: incoming, events } = splitHistory(items);
  const bounds = seqBounds([...incoming, ...events]);
  let r = receiveEvents(room, events);
  const base = replace ? [] : r.messages;
  const { messages, added } = mergeMessages(base, incoming);
  const keep = replace ? new Set(r.messages.map((m) => m.id)) : null;
  if (added.length > 0 || replace) {
    let pending = r.pending;
    let typing = r.typing;
    let unread = r.unread;
    let mentions = r.mentions;
    const unseen = countUnread && (r.name !== state.currentRoom || state.hidden);
    const dm = hasIdentity(state) && isDmRoom(r);
    for (const m of added) {
      if (m.ref && isSelf(state, m.from) && pending.some((p) => p.ref === m.ref)) {
        pending = pending.filter((p) => p.ref !== m.ref);
      }
      if (typing[m.from.id]) {
        const { [m.from.id]: _, ...rest } = typing;
        typing = rest;
      }
      if (unseen && !isMine(state, m.from) && !(keep && keep.has(m.id))) {
        unread++;
        if (dm || mentionsName(m.body, state.me?.name)) mentions++;
      }
    }
    r = { ...r, messages, pending, typing, unread, mentions };
  }
  if (bounds) {
    const low = replace || r.seqLow === null ? bounds.low : Math.min(r.seqLow, bounds.low);
    const high = replace || r.seqHigh === null ? bounds.high : Math.max(r.seqHigh, bounds.high);
    if (low !== r.seqLow || high !== r.seqHigh) r = { ...r, seqLow: low, seqHigh: high };
  }
  return r;
}

/** welcome and joined carry the room's topic as of their snapshot (absent: none). */
function snapshotTopic(room: RoomState, topic: unknown, lastSeq: unknown, items: HistoryItem[] | undefined): RoomState {
  const body = typeof topic === 'string' ? topic : '';
  const seqs = (items ?? []).map((i) => i.seq).filter((n): n is number => typeof n === 'number');
  const seq = Math.max(typeof lastSeq === 'number' ? lastSeq : 0, ...seqs, 0);
  if (room.topic && room.topic.seq > seq) return room;
  if (room.topic && room.topic.body === body) return room;
  return { ...room, topic: { body, seq, user: room.topic?.user ?? null, ts: room.topic?.ts ?? null } };
}

/**
 * Queues a desktop notification for a live mention, or any message in a direct-message room,
 * when the user is not looking at it.
 */
function alertMention(state: ChatState, m: Message): ChatState {
  const room = state.rooms[m.room];
  const dm = !!room && hasIdentity(state) && isDmRoom(room);
  if (isMine(state, m.from) || (!dm && !mentionsName(m.body, state.me?.name))) return state;
  if (m.room === state.currentRoom && !state.hidden) return state;
  if (state.alerts.some((a) => a.messageId === m.id)) return state;
  const alert: Alert = { id: state.nextAlertId, room: m.room, messageId: m.id, from: m.from, body: m.body, ...(dm ? { dm } : {}) };
  return { ...state, alerts: [...state.alerts, alert].slice(-5), nextAlertId: state.nextAlertId + 1 };
}

/** The event an acknowledged op stands for, so it shows before (or without) its broadcast copy. */
function opEvent(p: PendingOp, me: User, seq: number, ts: number): RoomEvent {
  const o = p.op;
  switch (o.kind) {
    case 'edit':
      return { type: 'edit', room: p.room, id: o.id, seq, body: o.body, ts, user: me };
    case 'delete':
      return { type: 'delete', room: p.room, id: o.id, seq, ts, user: me };
    case 'react':
      return { type: 'reaction', room: p.room, id: o.id, seq, emoji: o.emoji, on: o.on, ts, user: me };
    case 'topic':
      return { type: 'topic', room: p.room, seq, body: o.body, ts, user: me };
  }
}

/** What an error code means to a person, for the requests the UI makes. */
function opError(code: string, message: string | undefined, op: Op): string {
  const what = op.kind === 'edit' ? 'edit' : op.kind === 'delete' ? 'delete' : op.kind === 'react' ? 'react to' : 'set the topic of';
  switch (code) {
    case 'forbidden':
      return op.kind === 'topic' ? 'You cannot set the topic of this room.' : `You can only ${what} your own messages.`;
    case 'not_found':
      return 'That message no longer exists.';
    default:
      return message || code;
  }
}

/** A person's new name in every room's online list, typing entries and direct-message partner. */
function renameInRooms(rooms: Record<string, RoomState>, user: User): Record<string, RoomState> {
  let out = rooms;
  for (const [name, r] of Object.entries(rooms)) {
    const listed = r.online.some((u) => u.id === user.id && u.name !== user.name);
    const typing = r.typing[user.id];
    const dm = r.dm?.id === user.id && r.dm.name !== user.name;
    if (!listed && !typing && !dm) continue;
    if (out === rooms) out = { ...rooms };
    out[name] = {
      ...r,
      online: listed ? r.online.map((u) => (u.id === user.id ? { ...u, name: user.name } : u)) : r.online,
      typing: typing ? { ...r.typing, [user.id]: { ...typing, user: { ...typing.user, name: user.name } } } : r.typing,
      dm: dm ? { id: user.id, name: user.name } : r.dm,
    };
  }
  return out;
}

/**
 * Someone in a room changed their name: one notice there ("Bob is now Robert"), and the new
 * name everywhere at once (online lists, typing, earlier messages through `names`), so that
 * no ghost of the old name stays behind.
 */
function applyRename(state: ChatState, frame: Extract<ServerFrame, { type: 'rename' }>, now: number): ChatState {
  if (!isUser(frame.user)) return state;
  const user = { id: frame.user.id, name: frame.user.name };
  const old = typeof frame.old === 'string' ? frame.old : '';
  const ts = typeof frame.ts === 'number' ? frame.ts : now;
  let s: ChatState = { ...state, names: learnNames(state.names, [user]), rooms: renameInRooms(state.rooms, user) };
  if (s.me && isSelf(s, user)) s = { ...s, me: { ...s.me, name: user.name } };
  return withRoom(s, frame.room, (r) => ({ ...r, notices: addNotice(r.notices, { kind: 'rename', key: `rename-${user.id}-${ts}-${user.name}`, user, ts, old }) }));
}

/** Direct-message rooms this user has (welcome.dms, or a `dm` object): in the sidebar, with the other person. */
function addDms(state: ChatState, dms: unknown): ChatState {
  if (!Array.isArray(dms)) return state;
  let s = state;
  for (const d of dms as { room?: unknown; user?: unknown }[]) {
    if (!d || typeof d.room !== 'string' || !isUser(d.user)) continue;
    const partner = { id: d.user.id, name: d.user.name };
    s = { ...s, names: learnNames(s.names, [partner]) };
    s = withRoom(s, d.room, (r) => (r.dm?.id === partner.id && r.dm.name === partner.name ? r : { ...r, dm: partner }), true);
  }
  return s;
}

/**
 * The welcome lists every conversation the person has: a direct-message room this page still
 * holds that it does not list was hidden (on another device, or here before a reload), or was
 * someone else's who used this browser before. It goes, except the room shown: the person
 * asked for it by its address, and joining it tells whether it is theirs.
 */
function keepListedDms(state: ChatState, dms: unknown): ChatState {
  const listed = new Set<string>();
  if (Array.isArray(dms)) for (const d of dms as { room?: unknown }[]) if (d && typeof d.room === 'string') listed.add(d.room);
  let s = state;
  for (const name of state.roomOrder) {
    const r = state.rooms[name];
    if (r && isDmRoom(r) && !listed.has(name) && name !== state.currentRoom) s = reduce(s, { type: 'removeRoom', room: name });
  }
  return s;
}

/**
 * The user's read position in a room, from the server: after welcome/joined (so unread counts
 * survive a reload and follow the user to another device), and when another device moves it.
 * A position older than one this client already has is stale: the count then comes from the
 * messages loaded after the newer one. The first position after a welcome/joined is where the
 * user was before this connection: in the shown room the "New messages" divider goes there,
 * and what this page marked read before it arrived (the room opened at its bottom, the
 * client's read held back: see ChatClient.queueRead) counts as seen only once the reader is
 * at the bottom again.
 */
function applyRead(state: ChatState, frame: Extract<ServerFrame, { type: 'read' }>): ChatState {
  const room = state.rooms[frame.room];
  if (!room || !isCount(frame.seq)) return state;
  const looking = frame.room === state.currentRoom && !state.hidden;
  const before = !room.readKnown && (room.readBefore === null || frame.seq >= room.readBefore);
  const reopen = before && looking && room.readSeq !== null && frame.seq < room.readSeq && countAfter(state, room, frame.seq).unread > 0;
  const stale = !reopen && room.readSeq !== null && frame.seq < room.readSeq;
  const readSeq = stale ? (room.readSeq as number) : frame.seq;
  let { unread, mentions } = countAfter(state, room, readSeq);
  // The server counts every entry after the position (edits, reactions, the user's own
  // messages too): its count is used only when the messages after it are not all loaded.
  const low = minSeq(room);
  const covered = !room.hasMore || (low !== undefined && low <= readSeq);
  if (!stale && !covered && isCount(frame.unread)) {
    unread = Math.max(unread, frame.unread);
    mentions = Math.min(mentions, unread);
  }
  if (isDmRoom(room)) mentions = unread;
  const at = before ? frame.seq : stale ? null : readSeq;
  const divider = looking && room.divider === null && at !== null && countAfter(state, room, at).unread > 0 ? at : room.divider;
  return withRoom(state, frame.room, (r) => ({
    ...r,
    readSeq,
    readKnown: true,
    unread: looking ? 0 : unread,
    mentions: looking ? 0 : mentions,
    // Arriving in a room (a reload) with unread messages: the divider marks where they start.
    divider,
  }));
}

export function reduce(state: ChatState, action: Action): ChatState {
  switch (action.type) {
    case 'connecting':
      return { ...state, status: action.status, retryAt: null, fatal: null };

    case 'disconnected': {
      const rooms: Record<string, RoomState> = {};
      for (const [name, r] of Object.entries(state.rooms)) rooms[name] = { ...r, joined: false, loadingOlder: false, typing: {}, readKnown: false };
      return { ...state, status: action.status, retryAt: action.retryAt, fatal: action.fatal ?? null, rooms };
    }

    case 'frame':
      return applyFrame(state, action.frame, action.now, action.request);

    case 'openRoom': {
      if (action.room === state.currentRoom && state.rooms[action.room] && !state.hidden) return withRoom(state, action.room, seen);
      // Leaving a room takes its "New messages" divider away; the room opened gets one above
      // what the user has not seen.
      let s = state.currentRoom === action.room ? state : withRoom(state, state.currentRoom, (r) => (r.divider === null ? r : { ...r, divider: null }));
      if (!s.forbidden[action.room]) s = withRoom(s, action.room, (r) => seen({ ...r, divider: dividerFor(s, r) }), true);
      return { ...s, currentRoom: action.room };
    }

    case 'visibility': {
      if (state.hidden === action.hidden) return state;
      const s = { ...state, hidden: action.hidden };
      // Coming back to the tab: what arrived in the shown room is seen now, below a divider.
      return action.hidden ? s : withRoom(s, s.currentRoom, (r) => seen(r.divider === null && r.unread > 0 ? { ...r, divider: dividerFor(s, r) } : r));
    }

    case 'markRead':
      return withRoom(state, action.room, (r) => {
        const readSeq = r.readSeq === null ? action.seq : Math.max(r.readSeq, action.seq);
        const next = seen(r);
        return readSeq === r.readSeq ? next : { ...next, readSeq };
      });

    case 'renameSent':
      return { ...state, rename: { ref: action.ref, name: action.name, status: 'sending' } };

    case 'renameLocal':
      return { ...state, rename: null, me: state.me ? { ...state.me, name: action.name } : state.me };

    case 'renameClear':
      return state.rename === null ? state : { ...state, rename: null };

    case 'alertsShown':
      return { ...state, alerts: state.alerts.filter((a) => a.id > action.upTo) };

    case 'removeRoom': {
      if (!state.rooms[action.room]) return state;
      const { [action.room]: _, ...rooms } = state.rooms;
      return { ...state, rooms, roomOrder: state.roomOrder.filter((r) => r !== action.room) };
    }

    case 'addPending':
      // Writing in a room answers what was new there: the divider goes.
      return withRoom(state, action.pending.room, (r) => ({ ...r, pending: [...r.pending, action.pending], divider: null }), true);

    case 'addOp':
      return withRoom(state, action.op.room, (r) => ({ ...r, ops: [...r.ops, action.op] }));

    case 'pendingSent': {
      const s = mapPending(state, action.refs, (p) => ({ ...p, sentOn: action.connId }));
      return mapOps(s, action.refs, (p) => ({ ...p, sentOn: action.connId }));
    }

    case 'pendingUnsent': {
      const s = mapPending(state, action.refs, (p) => ({ ...p, sentOn: undefined }));
      return mapOps(s, action.refs, (p) => ({ ...p, sentOn: undefined }));
    }

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

    case 'signedOut':
      return signedOut(state);

    case 'dmRefusalClear':
      return state.dmRefusal === null ? state : { ...state, dmRefusal: null };
  }
}

/**
 * The state for the new person after a sign-out: the rooms stay in the sidebar, empty until
 * their history comes again; everything that was the old identity's goes (its direct messages,
 * read positions, unsent messages, names and refusals). The toasts and the tab's visibility
 * stay: they are the page's.
 */
function signedOut(state: ChatState): ChatState {
  const rooms = state.roomOrder.filter((r) => {
    const room = state.rooms[r];
    return room && !(hasIdentity(state) && isDmRoom(room));
  });
  const current = rooms.includes(state.currentRoom) ? state.currentRoom : DEFAULT_ROOM;
  return {
    ...initialState(current, rooms),
    status: 'reconnecting',
    toasts: state.toasts,
    nextToastId: state.nextToastId,
    nextAlertId: state.nextAlertId,
    hidden: state.hidden,
  };
}

/** A direct-message room shows no join and leave notices. */
function quietPresence(state: ChatState, r: RoomState): boolean {
  return hasIdentity(state) && isDmRoom(r);
}

/** Nothing in the room is unseen any more. */
function seen(r: RoomState): RoomState {
  return r.unread === 0 && r.mentions === 0 ? r : { ...r, unread: 0, mentions: 0 };
}

function applyFrame(state: ChatState, frame: ServerFrame, now: number, request?: RequestInfo): ChatState {
  switch (frame.type) {
    case 'welcome': {
      // A server with identity names the person (stable id); an older one the connection.
      const user = isUser(frame.user) ? { id: frame.user.id, name: frame.user.name } : null;
      const me = user ?? { id: frame.id, name: frame.name };
      const userId = user ? user.id : null;
      let s: ChatState = {
        ...state,
        me,
        myIds: state.myIds.includes(me.id) ? state.myIds : [...state.myIds, me.id],
        userId,
        names: learnNames(state.names, [...(user ? [user] : []), ...(frame.online ?? [])]),
        // Another person now (a new guest after an expired session): refusals may not hold.
        forbidden: userId === state.userId ? state.forbidden : {},
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
          const merged = snapshotTopic(receiveItems(s, r, frame.history, r.loaded), frame.topic, frame.last_seq, frame.history);
          const online = uniqueUsers(frame.online);
          return {
            ...merged,
            joined: true,
            online,
            onlineCount: memberCount(frame.online_count, online.length),
            hasMore: r.loaded ? r.hasMore : !!frame.has_more,
            loaded: true,
            readKnown: false,
            readBefore: r.readSeq,
          };
        },
        true,
      );
      if (user) s = addDms(s, frame.dms);
      if (user && frame.dms !== undefined) s = keepListedDms(s, frame.dms);
      return s;
    }

    case 'joined': {
      let s: ChatState = { ...state, names: learnNames(state.names, [...(frame.online ?? []), frame.dm]) };
      if (s.forbidden[frame.room]) {
        const { [frame.room]: _, ...forbidden } = s.forbidden;
        s = { ...s, forbidden };
      }
      if (s.dmRefusal && isUser(frame.dm) && frame.dm.id === s.dmRefusal.user) s = { ...s, dmRefusal: null };
      return withRoom(
        s,
        frame.room,
        (r) => {
          const since = request?.kind === 'join' && request.room === frame.room ? request.since : undefined;
          // More was missed than the server replays: the old messages and the new ones are not
          // contiguous, so show the new ones and let scroll-back page the rest.
          const gap = since !== undefined && !!frame.has_more;
          // A first snapshot counts nothing as unread (the server's read position does),
          // except in a room the user has never seen: a conversation someone opened with them.
          const unseen = r.loaded || (request?.kind === 'join' && !!request.unseen);
          const merged = snapshotTopic(receiveItems(s, r, frame.history, unseen, gap), frame.topic, frame.last_seq, frame.history);
          const online = uniqueUsers(frame.online);
          return {
            ...merged,
            joined: true,
            online,
            onlineCount: memberCount(frame.online_count, online.length),
            hasMore: since === undefined ? !!frame.has_more : gap ? true : r.hasMore,
            loaded: true,
            dm: isUser(frame.dm) ? { id: frame.dm.id, name: frame.dm.name } : r.dm,
            readKnown: false,
            readBefore: r.readSeq,
          };
        },
        true,
      );
    }

    case 'left':
      return state; // the room was removed when the user left it

    case 'message': {
      const room = state.rooms[frame.room];
      if (!room || !isMessageItem(frame)) return state;
      // A live message carries its author's name as of now.
      const s = withRoom({ ...state, names: learnNames(state.names, [frame.from]) }, frame.room, (r) => receiveItems(state, r, [frame], true));
      return s.rooms[frame.room].messages === room.messages ? s : alertMention(s, frame);
    }

    case 'edit':
    case 'delete':
    case 'reaction':
    case 'topic':
      if (!state.rooms[frame.room] || !isEvent(frame)) return state;
      return withRoom(state, frame.room, (r) => receiveItems(state, r, [frame], true));

    case 'history':
      return withRoom(state, frame.room, (r) => ({
        ...receiveItems(state, r, frame.messages, false),
        hasMore: !!frame.has_more,
        loadingOlder: false,
      }));

    case 'ack': {
      const me = state.me;
      if (!me) return state;
      if (request?.kind === 'rename' && request.name !== undefined) {
        const name = request.name;
        return {
          ...state,
          me: { ...me, name },
          names: learnNames(state.names, [{ id: me.id, name }]),
          rename: state.rename?.ref === frame.ref ? null : state.rename,
        };
      }
      const op = findOp(state, frame.ref);
      if (op) {
        const ev = opEvent(op, me, frame.seq, frame.ts);
        const s = mapOps(state, [op.ref], () => null);
        // Not through receiveItems: an ack is not part of the stream as received (the range of
        // seqs seen stays what the server sent, so recovery misses nothing before it).
        return withRoom(s, op.room, (r) => receiveEvents(r, [ev]));
      }
      const p = findPending(state, frame.ref);
      if (!p) return state;
      const room = state.rooms[frame.room] ? frame.room : p.room;
      const msg: Message = { room, seq: frame.seq, id: frame.id, from: me, body: p.body, ts: frame.ts, ref: p.ref };
      const s = mapPending(state, [p.ref], () => null);
      return withRoom(s, room, (r) => {
        const { messages } = mergeMessages(r.messages, [msg]);
        return messages === r.messages ? r : { ...r, messages };
      });
    }

    case 'join': {
      if (!isUser(frame.user) || isSelf(state, frame.user)) return state;
      return withRoom({ ...state, names: learnNames(state.names, [frame.user]) }, frame.room, (r) => {
        // Join events come only from rooms small enough for a complete list.
        const known = r.online.some((u) => u.id === frame.user.id);
        const online = known ? r.online : [...r.online, onlineUser(frame.user)];
        return {
          ...r,
          online,
          onlineCount: Math.max(known ? r.onlineCount : r.onlineCount + 1, online.length),
          // In a conversation of two, the other coming and going is no news: the header says
          // whether they are online.
          notices: quietPresence(state, r) ? r.notices : [...r.notices, { kind: 'join', key: `join-${frame.user.id}-${frame.ts ?? now}`, user: frame.user, ts: frame.ts ?? now }],
        };
      });
    }

    case 'leave': {
      if (!isUser(frame.user) || isSelf(state, frame.user)) return state;
      return withRoom(state, frame.room, (r) => {
        const { [frame.user.id]: _, ...typing } = r.typing;
        const online = r.online.filter((u) => u.id !== frame.user.id);
        const known = online.length !== r.online.length;
        return {
          ...r,
          online,
          onlineCount: Math.max(known ? r.onlineCount - 1 : r.onlineCount, online.length),
          typing,
          notices: quietPresence(state, r) ? r.notices : [...r.notices, { kind: 'leave', key: `leave-${frame.user.id}-${frame.ts ?? now}`, user: frame.user, ts: frame.ts ?? now }],
        };
      });
    }

    case 'presence':
      return withRoom({ ...state, names: learnNames(state.names, frame.online) }, frame.room, (r) => {
        const online = uniqueUsers(frame.online);
        return { ...r, online, onlineCount: memberCount(frame.online_count, online.length) };
      });

    case 'online_count':
      // Sent instead of join/leave events by rooms too large for a complete list.
      if (!isCount(frame.count)) return state;
      return withRoom(state, frame.room, (r) => ({ ...r, onlineCount: memberCount(frame.count, r.online.length) }));

    case 'typing': {
      if (!isUser(frame.user) || isSelf(state, frame.user)) return state;
      return withRoom(state, frame.room, (r) => ({ ...r, typing: { ...r.typing, [frame.user.id]: { user: frame.user, at: now } } }));
    }

    case 'rename':
      return applyRename(state, frame, now);

    case 'user': {
      // This person's name changed on another of their tabs or devices.
      if (!isUser(frame.user) || !state.me || !isSelf(state, frame.user)) return state;
      const name = frame.user.name;
      return { ...state, me: { ...state.me, name }, names: learnNames(state.names, [frame.user]), rooms: renameInRooms(state.rooms, frame.user) };
    }

    case 'dm':
      // Someone opened a direct-message room with this user: it goes into the sidebar.
      if (!hasIdentity(state) || typeof frame.room !== 'string' || !isUser(frame.user)) return state;
      return addDms(state, [{ room: frame.room, user: frame.user }]);

    case 'read':
      return applyRead(state, frame);

    case 'error': {
      const text = frame.message || frame.code;
      if (request?.kind === 'rename') {
        const r = state.rename;
        return r && r.ref === frame.ref ? { ...state, rename: { ...r, status: 'failed', error: text } } : addToast(state, frame.code, text);
      }
      if (request?.kind === 'dm') {
        // Said next to the person it was asked for (App), not as a failure of the page.
        return { ...state, dmRefusal: { user: request.user ?? '', code: frame.code, message: text } };
      }
      if (request?.kind === 'leave' && request.hide) {
        // Not hidden (the server could not store it): the conversation is back in the list.
        const partner = request.hide.partner;
        const s = withRoom(state, request.room, (r) => (partner && !r.dm ? { ...r, dm: partner } : r), true);
        return addToast(s, frame.code, text);
      }
      if (request?.kind === 'join' && frame.code === 'forbidden') {
        // Another pair's direct messages: out of the sidebar, and said so where it was asked for.
        const s = reduce({ ...state, forbidden: { ...state.forbidden, [request.room]: text } }, { type: 'removeRoom', room: request.room });
        return request.room === s.currentRoom ? s : addToast(s, frame.code, text);
      }
      const op = findOp(state, frame.ref);
      if (op) return addToast(mapOps(state, [op.ref], () => null), frame.code, opError(frame.code, frame.message, op.op));
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
