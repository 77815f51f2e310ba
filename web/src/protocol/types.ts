// Wire protocol v1 (docs/protocol.md). The server may add fields and types at any time, so
// everything here describes what the UI reads; unknown fields and types are ignored.

export interface User {
  id: string;
  name: string;
}

/**
 * A person in an online list. With identity (servers that send `welcome.user`) `id` is the
 * stable user id and `devices` how many connections the person has in the room, on every node;
 * older servers list one entry per connection and send no `devices`.
 */
export interface OnlineUser extends User {
  devices?: number;
}

/** A direct-message room of this user and the other person in it (`welcome.dms`). */
export interface DmInfo {
  room: string;
  user: User;
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
  /** Older clients' view of `user` (the same values on servers with identity). */
  id: string;
  name: string;
  /**
   * The stable user id and current display name. Absent from servers without identity: the
   * client then keeps per-connection ids and names (see `isMine`).
   */
  user?: User;
  /**
   * The signed session token, for command-line clients to present on their next connect. The
   * browser ignores it: the upgrade's response set it as the session cookie.
   */
  token?: string;
  /** This connection's id. */
  conn?: string;
  /**
   * The direct-message rooms this user has (not the ones they hid): the whole list, null
   * when empty. Absent from servers without direct messages.
   */
  dms?: DmInfo[] | null;
  room: string;
  rooms?: string[];
  /** The room's first members in join order, at most 100; complete when online_count is not larger. */
  online?: OnlineUser[];
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
  user: OnlineUser;
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
  online?: OnlineUser[];
  online_count?: number;
  history?: HistoryItem[];
  last_seq?: number;
  has_more?: boolean;
  topic?: string;
  /** A direct-message room: the other person. */
  dm?: User;
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
  online?: OnlineUser[];
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

/** A person in a room changed their display name (one per room they are in). */
export interface RenameFrame {
  type: 'rename';
  room: string;
  /** The person, with the new name. */
  user: User;
  old: string;
  ts?: number;
}

/** This user's name changed on another of their tabs or devices. */
export interface UserFrame {
  type: 'user';
  user: User;
}

/** Someone opened a direct-message room with this user. */
export interface DmFrame {
  type: 'dm';
  room: string;
  /** The other person. */
  user: User;
}

/**
 * The user's read position in a room: after welcome/joined, and when another of their devices
 * moves it. `unread`: how many messages are after `seq`.
 */
export interface ReadFrame {
  type: 'read';
  room: string;
  seq: number;
  unread: number;
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
  | RenameFrame
  | UserFrame
  | DmFrame
  | ReadFrame
  | EditEvent
  | DeleteEvent
  | ReactionEvent
  | TopicEvent;

export type ClientFrame =
  | { type: 'message'; room: string; body: string; ref: string }
  | { type: 'join'; room: string; since?: number; ref: string }
  /** `hide`: a direct-message room goes off the person's list too (until one of the two opens it again). */
  | { type: 'leave'; room: string; hide?: boolean; ref: string }
  | { type: 'history'; room: string; before?: number; limit: number; ref: string }
  | { type: 'presence'; room: string }
  | { type: 'typing'; room: string }
  | { type: 'edit'; room: string; id: string; body: string; ref: string }
  | { type: 'delete'; room: string; id: string; ref: string }
  | { type: 'react'; room: string; id: string; emoji: string; on: boolean; ref: string }
  | { type: 'topic'; room: string; body: string; ref: string }
  | { type: 'rename'; name: string; ref: string }
  | { type: 'dm'; user: string; ref: string }
  | { type: 'read'; room: string; seq: number };

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

/** Direct-message rooms are named with this prefix by the server. */
export const DM_PREFIX = 'dm-';

export const DEFAULT_LIMITS: Limits = {
  max_message_bytes: 65536,
  max_body_bytes: 16384,
  rate: 10,
  burst: 30,
};
