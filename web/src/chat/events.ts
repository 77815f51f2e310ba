// Edits, deletions and reactions are events in a room's stream that change an earlier message.
// They are kept as overlays keyed by the message id, not applied to the message itself: when
// paging backwards an event can arrive before the message it changes (which is on an older
// page), and events can arrive out of seq order (pages come newest first). Every fact keeps the
// seq it came from and only a later seq replaces it, so applying the same events in any order,
// or twice, gives the same result.

import type { HistoryItem, Message, RoomEvent, User } from '../protocol/types';
import { EVENT_TYPES } from '../protocol/types';

export interface ReactionVote {
  name: string;
  on: boolean;
  seq: number;
}

export interface Overlay {
  /** The latest edit (highest seq). */
  edit?: { body: string; seq: number; ts: number };
  /** Deleted: final, whatever the order of the events. */
  deleted?: { seq: number; ts: number };
  /** Per emoji, per user id: that user's latest vote. */
  reactions?: Record<string, Record<string, ReactionVote>>;
}

export type Overlays = Record<string, Overlay>;

export function isEvent(x: unknown): x is RoomEvent {
  const v = x as RoomEvent | null;
  if (!v || typeof v !== 'object' || !EVENT_TYPES.has(v.type) || typeof v.seq !== 'number' || !Number.isFinite(v.seq)) return false;
  if (!v.user || typeof v.user.id !== 'string') return false;
  switch (v.type) {
    case 'edit':
      return typeof v.id === 'string' && typeof v.body === 'string';
    case 'delete':
      return typeof v.id === 'string';
    case 'reaction':
      return typeof v.id === 'string' && typeof v.emoji === 'string' && v.emoji !== '' && typeof v.on === 'boolean';
    case 'topic':
      return typeof v.body === 'string';
  }
}

export function isMessageItem(m: unknown): m is Message {
  const v = m as Message | null;
  if (!v || typeof v !== 'object') return false;
  if (v.type !== undefined && v.type !== 'message') return false;
  return typeof v.id === 'string' && typeof v.seq === 'number' && typeof v.body === 'string' && !!v.from && typeof v.from.id === 'string';
}

/** Splits a history array into its messages and its events; anything else is ignored. */
export function splitHistory(items: HistoryItem[] | undefined): { messages: Message[]; events: RoomEvent[] } {
  const messages: Message[] = [];
  const events: RoomEvent[] = [];
  for (const it of items ?? []) {
    if (isEvent(it)) events.push(it);
    else if (isMessageItem(it)) messages.push(it);
  }
  return { messages, events };
}

/**
 * Applies one edit, delete or reaction to the overlays. Returns the same object when it changes
 * nothing (a duplicate, or older than what is known), so callers can skip re-rendering.
 */
export function applyEvent(overlays: Overlays, ev: RoomEvent): Overlays {
  if (ev.type === 'topic') return overlays;
  const cur = overlays[ev.id] ?? {};
  let next: Overlay = cur;
  switch (ev.type) {
    case 'edit':
      if (cur.edit && cur.edit.seq >= ev.seq) return overlays;
      next = { ...cur, edit: { body: ev.body, seq: ev.seq, ts: ev.ts } };
      break;
    case 'delete':
      if (cur.deleted) return overlays;
      next = { ...cur, deleted: { seq: ev.seq, ts: ev.ts } };
      break;
    case 'reaction': {
      const votes = cur.reactions?.[ev.emoji] ?? {};
      const vote = votes[ev.user.id];
      if (vote && vote.seq >= ev.seq) return overlays;
      next = {
        ...cur,
        reactions: { ...cur.reactions, [ev.emoji]: { ...votes, [ev.user.id]: { name: ev.user.name, on: ev.on, seq: ev.seq } } },
      };
      break;
    }
  }
  return { ...overlays, [ev.id]: next };
}

export function applyEvents(overlays: Overlays, events: RoomEvent[]): Overlays {
  let out = overlays;
  for (const ev of events) out = applyEvent(out, ev);
  return out;
}

export interface ReactionSummary {
  emoji: string;
  /** Who reacted, in the order their votes were stored. */
  users: User[];
}

/** The reactions on a message, emoji in the order they were first added; empty sets left out. */
export function reactionSummary(overlay: Overlay | undefined): ReactionSummary[] {
  const out: { emoji: string; users: User[]; first: number }[] = [];
  for (const [emoji, votes] of Object.entries(overlay?.reactions ?? {})) {
    const on = Object.entries(votes)
      .filter(([, v]) => v.on)
      .sort((a, b) => a[1].seq - b[1].seq);
    if (on.length === 0) continue;
    out.push({ emoji, users: on.map(([id, v]) => ({ id, name: v.name })), first: on[0][1].seq });
  }
  return out.sort((a, b) => a.first - b.first).map(({ emoji, users }) => ({ emoji, users }));
}
