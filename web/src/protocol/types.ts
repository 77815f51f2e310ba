// Wire protocol v1 (docs/protocol.md). The server may add fields and types at any time, so
// everything here describes what the UI reads; unknown fields and types are ignored.

export interface User {
  id: string;
  name: string;
}

export interface Message {
  type?: 'message';
  room: string;
  seq: number;
  id: string;
  from: User;
  body: string;
  ts: number;
  ref?: string;
}

/**
 * Events stored in a room's stream beside messages, with their own `seq` in the same order.
 * `id` names the message they change; `user` is who did it.
 */
export interface EditEvent {
  type: 'edit';
  room: string;
  id: string;
  seq: number;
  body: string;
  ts: number;
  user: User;
}

export interface DeleteEvent {
  type: 'delete';
  room: string;
  id: string;
  seq: number;
  ts: number;
  user: User;
}

export interface ReactionEvent {
  type: 'reaction';
  room: string;
  id: string;
  seq: number;
  emoji: string;
  /** true adds `user` to the emoji's set, false removes them. */
  on: boolean;
  ts: number;
  user: User;
}

export interface TopicEvent {
  type: 'topic';
  room: string;
  seq: number;
  /** The new topic; empty clears it. */
  body: string;
  ts: number;
  user: User;
}

export type RoomEvent = EditEvent | DeleteEvent | ReactionEvent | TopicEvent;

/** What history arrays hold: messages and events, in seq order. */
export type HistoryItem = Message | RoomEvent;

export const EVENT_TYPES: ReadonlySet<string> = new Set(['edit', 'delete', 'reaction', 'topic']);

export interface Limits {
  max_message_bytes: number;
  max_body_bytes: number;
  rate: number;
  burst: number;
}

export interface WelcomeFrame {
  type: 'welcome';
  id: string;
  name: string;
  room: string;
  rooms?: string[];
  /** The room's first members in join order, at most 100; complete when online_count is not larger. */
  online?: User[];
  /** All members of the room (missing from older servers: then `online` is complete). */
  online_count?: number;
  history?: HistoryItem[];
  last_seq?: number;
  has_more?: boolean;
  /** The room's topic; absent when it has none. */
  topic?: string;
  limits?: Partial<Limits>;
  version?: string;
}

export interface MessageFrame extends Message {
  type: 'message';
}

export interface JoinFrame {
  type: 'join';
  room: string;
  user: User;
  ts?: number;
}

export interface LeaveFrame {
  type: 'leave';
  room: string;
  user: User;
  ts?: number;
}

export interface JoinedFrame {
  type: 'joined';
  room: string;
  online?: User[];
  online_count?: number;
  history?: HistoryItem[];
  last_seq?: number;
  has_more?: boolean;
  topic?: string;
  ref?: string;
}

export interface LeftFrame {
  type: 'left';
  room: string;
  ref?: string;
}

export interface PresenceFrame {
  type: 'presence';
  room: string;
  online?: User[];
  online_count?: number;
}

/** A large room's member count changed; such rooms send no join/leave events. */
export interface OnlineCountFrame {
  type: 'online_count';
  room: string;
  count: number;
}

export interface TypingFrame {
  type: 'typing';
  room: string;
  user: User;
}

export interface HistoryFrame {
  type: 'history';
  room: string;
  messages?: HistoryItem[];
  has_more?: boolean;
  ref?: string;
}

export interface AckFrame {
  type: 'ack';
  ref: string;
  room: string;
  seq: number;
  id: string;
  ts: number;
}

export interface ErrorFrame {
  type: 'error';
  code: string;
  message?: string;
  ref?: string;
}

export type ServerFrame =
  | WelcomeFrame
  | MessageFrame
  | JoinFrame
  | LeaveFrame
  | JoinedFrame
  | LeftFrame
  | PresenceFrame
  | OnlineCountFrame
  | TypingFrame
  | HistoryFrame
  | AckFrame
  | ErrorFrame
  | EditEvent
  | DeleteEvent
  | ReactionEvent
  | TopicEvent;

export type ClientFrame =
  | { type: 'message'; room: string; body: string; ref: string }
  | { type: 'join'; room: string; since?: number; ref: string }
  | { type: 'leave'; room: string; ref: string }
  | { type: 'history'; room: string; before?: number; limit: number; ref: string }
  | { type: 'presence'; room: string }
  | { type: 'typing'; room: string }
  | { type: 'edit'; room: string; id: string; body: string; ref: string }
  | { type: 'delete'; room: string; id: string; ref: string }
  | { type: 'react'; room: string; id: string; emoji: string; on: boolean; ref: string }
  | { type: 'topic'; room: string; body: string; ref: string };

/** Longest topic the server takes (characters). */
export const MAX_TOPIC_CHARS = 256;
/** Longest reaction emoji the server takes (UTF-8 bytes). */
export const MAX_EMOJI_BYTES = 32;

/** Close codes the UI branches on (docs/protocol.md, "Close codes"). */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  Abnormal: 1006,
  Policy: 1008,
  TooBig: 1009,
  TooSlow: 4008,
} as const;

export const DEFAULT_ROOM = 'general';

export const DEFAULT_LIMITS: Limits = {
  max_message_bytes: 65536,
  max_body_bytes: 16384,
  rate: 10,
  burst: 30,
};
