import { mentionsName } from '../lib/mentions';
import { dayKey } from '../lib/time';
import type { Message, User } from '../protocol/types';
import type { Overlay, Overlays } from './events';
import { reactionSummary } from './events';
import type { Directory } from './people';
import { makeDirectory } from './people';
import type { Notice, PendingMessage, PendingOp } from './state';

export type DeliveryStatus = 'sent' | 'pending' | 'failed';

export interface ReactionChip {
  emoji: string;
  count: number;
  /** The user is among those who reacted. */
  mine: boolean;
  names: string[];
}

/** How a message's author is shown. */
export interface Author {
  /** The current name (initials come from it). */
  name: string;
  /** The current name, with a disambiguator when another person in view has it too. */
  label: string;
  /** The name the message was sent under, when it is not the current one ("was Bob"). */
  was?: string;
  /** What the colour derives from (the user id with identity). */
  color: string;
}

export type Row =
  | { kind: 'day'; key: string; ts: number }
  | { kind: 'notice'; key: string; notice: Notice; label: string }
  /** "New messages": the first message after the user's read position follows. */
  | { kind: 'divider'; key: string }
  | {
      kind: 'message';
      key: string;
      id: string | null;
      seq: number | null;
      ref: string | null;
      from: User;
      author: Author;
      /** Tells senders apart for grouping (the user id with identity, the name without). */
      authorKey: string;
      /** The latest text: the last edit's, when edited. */
      body: string;
      ts: number;
      own: boolean;
      /** First and last of a run of messages from one sender (the first shows name and time). */
      first: boolean;
      last: boolean;
      status: DeliveryStatus;
      error?: string;
      edited: boolean;
      deleted: boolean;
      /** An edit or delete of this message is on its way to the server. */
      changing: boolean;
      reactions: ReactionChip[];
      /** Mentions the user by name. */
      mention: boolean;
    };

export type MessageRow = Extract<Row, { kind: 'message' }>;

/** A run of messages from one sender is grouped while it is younger than this. */
export const GROUP_GAP_MS = 5 * 60 * 1000;

export interface TimelineInput {
  messages: Message[];
  notices: Notice[];
  pending: PendingMessage[];
  overlays?: Overlays;
  ops?: PendingOp[];
  isMine: (u: User) => boolean;
  me: User | null;
  /** How people are named (default: as the messages name them). */
  people?: Directory;
  /** Draw "New messages" before the first message from others after this seq. */
  divider?: number | null;
}

const plainNames = makeDirectory({ identity: false, names: {}, seen: [] });

/**
 * Lays out a room: stored messages in seq order with their edits, deletion and reactions (and
 * the user's own changes not yet acknowledged) applied, join/leave/topic notices placed by
 * time, the pending messages after them, day separators, and runs of messages from one sender
 * grouped.
 */
export function buildTimeline({ messages, notices, pending, overlays = {}, ops = [], isMine, me, people = plainNames, divider = null }: TimelineInput): Row[] {
  type Item = { kind: 'notice'; notice: Notice; ts: number } | { kind: 'message'; row: MessageRow; ts: number } | { kind: 'divider'; ts: number };
  const opsById = new Map<string, PendingOp[]>();
  for (const p of ops) {
    if (p.op.kind === 'topic') continue;
    const list = opsById.get(p.op.id) ?? [];
    list.push(p);
    opsById.set(p.op.id, list);
  }
  const myName = me?.name ?? null;

  const items: Item[] = [];
  let n = 0;
  let dividerDone = divider === null;
  for (const m of messages) {
    while (n < notices.length && notices[n].ts < m.ts) {
      items.push({ kind: 'notice', notice: notices[n], ts: notices[n].ts });
      n++;
    }
    const own = isMine(m.from);
    if (!dividerDone && m.seq > (divider as number) && !own) {
      items.push({ kind: 'divider', ts: m.ts });
      dividerDone = true;
    }
    const row = messageRow(m.id, m.seq, m.ref ?? null, m.from, people, m.body, m.ts, own, 'sent');
    applyOverlay(row, overlays[m.id], opsById.get(m.id), isMine, me, people);
    row.mention = !own && !row.deleted && mentionsName(row.body, myName);
    items.push({ kind: 'message', ts: m.ts, row });
  }
  for (; n < notices.length; n++) items.push({ kind: 'notice', notice: notices[n], ts: notices[n].ts });
  const self = me ?? { id: '', name: 'You' };
  for (const p of pending) {
    items.push({ kind: 'message', ts: p.createdAt, row: messageRow(null, null, p.ref, self, people, p.body, p.createdAt, true, p.status, p.error) });
  }

  const rows: Row[] = [];
  let lastDay = '';
  let prev: MessageRow | null = null;
  let groupStart = 0;
  for (const it of items) {
    const day = dayKey(it.ts);
    if (day !== lastDay) {
      rows.push({ kind: 'day', key: `day-${day}`, ts: it.ts });
      lastDay = day;
      prev = null;
    }
    if (it.kind === 'notice') {
      rows.push({ kind: 'notice', key: it.notice.key, notice: it.notice, label: people.label(it.notice.user) });
      prev = null;
      continue;
    }
    if (it.kind === 'divider') {
      rows.push({ kind: 'divider', key: 'new-messages' });
      prev = null;
      continue;
    }
    const row = it.row;
    if (prev && prev.own === row.own && prev.authorKey === row.authorKey && row.ts - groupStart < GROUP_GAP_MS) {
      prev.last = false;
      row.first = false;
    } else {
      groupStart = row.ts;
    }
    rows.push(row);
    prev = row;
  }
  return rows;
}

function applyOverlay(row: MessageRow, overlay: Overlay | undefined, ops: PendingOp[] | undefined, isMine: (u: User) => boolean, me: User | null, people: Directory): void {
  if (overlay?.edit) {
    row.body = overlay.edit.body;
    row.edited = true;
  }
  if (overlay?.deleted) row.deleted = true;
  const chips = new Map<string, { users: User[] }>();
  for (const r of reactionSummary(overlay)) chips.set(r.emoji, { users: r.users });
  for (const p of ops ?? []) {
    const o = p.op;
    if (o.kind === 'edit') {
      row.body = o.body;
      row.edited = true;
      row.changing = true;
    } else if (o.kind === 'delete') {
      row.deleted = true;
      row.changing = true;
    } else if (o.kind === 'react') {
      const users = (chips.get(o.emoji)?.users ?? []).filter((u) => !isMine(u));
      if (o.on) users.push(me ?? { id: '', name: 'You' });
      chips.set(o.emoji, { users });
    }
  }
  if (row.deleted) {
    row.body = '';
    row.edited = false;
    return;
  }
  for (const [emoji, { users }] of chips) {
    if (users.length === 0) continue;
    row.reactions.push({ emoji, count: users.length, mine: users.some(isMine), names: [...new Set(users.map((u) => people.label(u)))] });
  }
}

function messageRow(id: string | null, seq: number | null, ref: string | null, from: User, people: Directory, body: string, ts: number, own: boolean, status: DeliveryStatus, error?: string): MessageRow {
  // Own messages keep their ref as key from pending to sent, so the row is updated, not replaced.
  const key = own && ref ? `own-${ref}` : (id ?? `pending-${ref}`);
  const current = people.name(from);
  const author: Author = { name: current, label: people.label(from), color: people.color(from) };
  if (current !== from.name) author.was = from.name;
  return { kind: 'message', key, id, seq, ref, from, author, authorKey: people.key(from), body, ts, own, first: true, last: true, status, error, edited: false, deleted: false, changing: false, reactions: [], mention: false };
}
