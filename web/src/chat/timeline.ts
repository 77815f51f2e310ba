import { dayKey } from '../lib/time';
import type { Message, User } from '../protocol/types';
import type { Notice, PendingMessage } from './state';

export type DeliveryStatus = 'sent' | 'pending' | 'failed';

export type Row =
  | { kind: 'day'; key: string; ts: number }
  | { kind: 'notice'; key: string; notice: Notice }
  | {
      kind: 'message';
      key: string;
      id: string | null;
      seq: number | null;
      ref: string | null;
      from: User;
      body: string;
      ts: number;
      own: boolean;
      /** First and last of a run of messages from one sender. */
      first: boolean;
      last: boolean;
      status: DeliveryStatus;
      error?: string;
    };

export type MessageRow = Extract<Row, { kind: 'message' }>;

/** Messages from one sender less than this apart are grouped. */
export const GROUP_GAP_MS = 5 * 60 * 1000;

/**
 * Lays out a room: stored messages in seq order with join/leave notices placed by time, the
 * pending ones after them, day separators, and runs of messages from one sender grouped.
 */
export function buildTimeline(messages: Message[], notices: Notice[], pending: PendingMessage[], isOwn: (u: User) => boolean, me: User | null): Row[] {
  type Item = { kind: 'notice'; notice: Notice; ts: number } | { kind: 'message'; row: MessageRow; ts: number };
  const items: Item[] = [];
  let n = 0;
  for (const m of messages) {
    while (n < notices.length && notices[n].ts < m.ts) {
      items.push({ kind: 'notice', notice: notices[n], ts: notices[n].ts });
      n++;
    }
    items.push({ kind: 'message', ts: m.ts, row: messageRow(m.id, m.seq, m.ref ?? null, m.from, m.body, m.ts, isOwn(m.from), 'sent') });
  }
  for (; n < notices.length; n++) items.push({ kind: 'notice', notice: notices[n], ts: notices[n].ts });
  const self = me ?? { id: '', name: 'You' };
  for (const p of pending) {
    items.push({ kind: 'message', ts: p.createdAt, row: messageRow(null, null, p.ref, self, p.body, p.createdAt, true, p.status, p.error) });
  }

  const rows: Row[] = [];
  let lastDay = '';
  let prev: MessageRow | null = null;
  for (const it of items) {
    const day = dayKey(it.ts);
    if (day !== lastDay) {
      rows.push({ kind: 'day', key: `day-${day}`, ts: it.ts });
      lastDay = day;
      prev = null;
    }
    if (it.kind === 'notice') {
      rows.push({ kind: 'notice', key: it.notice.key, notice: it.notice });
      prev = null;
      continue;
    }
    const row = it.row;
    if (prev && prev.own === row.own && prev.from.name === row.from.name && row.ts - prev.ts < GROUP_GAP_MS) {
      prev.last = false;
      row.first = false;
    }
    rows.push(row);
    prev = row;
  }
  return rows;
}

function messageRow(id: string | null, seq: number | null, ref: string | null, from: User, body: string, ts: number, own: boolean, status: DeliveryStatus, error?: string): MessageRow {
  // Own messages keep their ref as key from pending to sent, so the row is updated, not replaced.
  const key = own && ref ? `own-${ref}` : (id ?? `pending-${ref}`);
  return { kind: 'message', key, id, seq, ref, from, body, ts, own, first: true, last: true, status, error };
}
