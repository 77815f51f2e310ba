// ChatClient owns one WebSocket at a time: it connects, parses frames, reconnects with
// backoff, and recovers every room with join+since after a reconnect. It keeps the chat state
// (state.ts) and notifies subscribers; useChat wraps it for React.

import { backoffDelay } from '../lib/backoff';
import { newRef } from '../lib/ids';
import type { Exchange, Session } from '../lib/session';
import { browserSession } from '../lib/session';
import { encodeFrame, parseFrame } from '../protocol/frames';
import type { ClientFrame, ServerFrame, User } from '../protocol/types';
import { CloseCode, DEFAULT_ROOM, DM_PREFIX } from '../protocol/types';
import type { Attempt, Paced } from './pacer';
import { Pacer } from './pacer';
import type { Action, ChatState, Op, RequestInfo } from './state';
import { hasIdentity, initialState, isDmRoom, maxSeq, minSeq, reduce, TYPING_TTL_MS } from './state';

/** What goes through the pacer: everything the server counts against its rate limit. */
type Outgoing =
  | (Paced & { kind: 'message' })
  | (Paced & { kind: 'op' })
  /** The user's read position in a room: the latest one when its turn comes. */
  | (Paced & { kind: 'read'; room: string })
  /** Join, leave, history, presence, rename, dm: for this connection only, ahead of messages. */
  | (Paced & { kind: 'control'; frame: ClientFrame; request?: RequestInfo });

/** The part of the browser's WebSocket the client uses, so tests can pass a fake. */
export interface SocketLike {
  readonly readyState: number;
  onopen: ((ev: Event) => void) | null;
  onmessage: ((ev: MessageEvent) => void) | null;
  onclose: ((ev: CloseEvent) => void) | null;
  onerror: ((ev: Event) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type SocketFactory = new (url: string) => SocketLike;

export interface ChatClientOptions {
  name: string;
  room: string;
  /** Rooms to join besides `room` (restored from the last visit). */
  rooms?: string[];
  /** Builds the WebSocket URL; defaults to /ws on the page's own host. */
  url?: (name: string, room: string) => string;
  /** The browser's session: a token waiting to be exchanged for the cookie, and sign-out (default: the page's origin). */
  session?: Session;
  WebSocket?: SocketFactory;
  random?: () => number;
  now?: () => number;
  /** A connection that stays up this long resets the backoff. */
  stableAfterMs?: number;
  /** Minimum time between two `typing` frames for one room. */
  typingIntervalMs?: number;
  /** Listen to the browser's online/offline events. */
  watchNetwork?: boolean;
}

const OPEN = 1;
export const HISTORY_PAGE = 50;

/** Rooms up to this size get complete member lists and join/leave events (server side). */
const FULL_LIST_LIMIT = 100;
const PRESENCE_REFRESH_MS = 5_000;
/** At most one `read` per room this often; leaving the room or hiding the tab sends at once. */
export const READ_INTERVAL_MS = 2_000;

/**
 * The WebSocket URL on the page's own host. Never a token: the browser presents its session
 * cookie with the upgrade. An empty name is left out (a server with identity knows the person
 * by the session).
 */
export function defaultSocketUrl(name: string, room: string): string {
  const proto = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  const q = new URLSearchParams();
  if (name !== '') q.set('name', name);
  q.set('room', room);
  return `${proto}//${window.location.host}/ws?${q.toString()}`;
}

/** The toast for a session the server no longer accepts, once the new guest is connected. */
export const SESSION_EXPIRED = 'Your session expired; you are a new guest';
/** The toast once the new guest that follows a sign-out is connected. */
export const SIGNED_OUT = 'You signed out; you are a new guest';
/** The same after signing out everywhere. */
export const SIGNED_OUT_EVERYWHERE = 'You signed out on every device; you are a new guest';
/**
 * The toast for a session the server ended while connected (signed out everywhere on another
 * device, an operator's revocation, a new session key), once the new guest is connected.
 */
export const SESSION_ENDED = 'Your session was ended; you are a new guest';
/** Tries of a token exchange the server does not answer before connecting without it (it is tried again on the next connect). */
export const EXCHANGE_TRIES = 3;

export class ChatClient {
  private state: ChatState;
  private readonly listeners = new Set<() => void>();
  private name: string;
  private readonly url: (name: string, room: string) => string;
  private readonly session: Session;
  /**
   * The browser has no session for sure (the server cleared a refused cookie, or the user
   * signed out): a refusal now is the server's last word (it lets no guests in).
   */
  private noSession = false;
  /** Exchanges of the waiting token the server did not answer, since the last connect. */
  private exchangeTries = 0;
  /** A token exchange is under way (the connect waits for it). */
  private exchanging = false;
  /** The server refused the session: the guest connection that follows says so once welcomed. */
  private expiredSession = false;
  /** The server ended the session of an open connection: the guest connection that follows says so once welcomed. */
  private endedSession = false;
  /** The user signed out (here, or everywhere): the guest connection that follows says so once welcomed. */
  private signedOut: 'here' | 'everywhere' | null = null;
  /** The connection (connId) the last welcome came on: a refusal there ends a session that was open. */
  private welcomedOn = -1;
  /** A sign-out is waiting for the server: nothing connects meanwhile. */
  private signingOut = false;
  /** A new name that could not be sent yet (offline): asked for after the next welcome. */
  private pendingRename: string | null = null;
  /**
   * Direct-message rooms the user hid that the server has not confirmed (its `left`), with
   * the other person: asked for again after the next welcome (which may still list them),
   * put back in the list when the server cannot hide them.
   */
  private readonly hiding = new Map<string, User | null>();
  /** The last read position sent per room, and when. */
  private readonly readSent = new Map<string, { seq: number; at: number }>();
  private readonly readTimers = new Map<string, ReturnType<typeof setTimeout>>();
  /**
   * Rooms whose welcome/joined arrived on this connection and whose position from the server
   * has not (yet: it sends none where the user has none), with when: the first read waits
   * for it, at most READ_INTERVAL_MS, so that where the unread messages began is not lost.
   */
  private readonly readHeld = new Map<string, number>();
  private readonly Socket: SocketFactory;
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly stableAfterMs: number;
  private readonly typingIntervalMs: number;
  private readonly watchNetwork: boolean;

  private ws: SocketLike | null = null;
  /** Increases with every socket; events from an older socket are ignored. */
  private connId = 0;
  private attempt = 0;
  private everConnected = false;
  private started = false;
  private startTimer: ReturnType<typeof setTimeout> | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private stableTimer: ReturnType<typeof setTimeout> | null = null;
  private typingTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly requests = new Map<string, RequestInfo>();
  private readonly pacer: Pacer<Outgoing>;
  private readonly lastTypingSent = new Map<string, number>();
  private readonly lastPresenceAsked = new Map<string, number>();
  private policyError: { code: string; message: string } | null = null;

  constructor(opts: ChatClientOptions) {
    this.name = opts.name;
    this.url = opts.url ?? defaultSocketUrl;
    this.session = opts.session ?? browserSession();
    this.Socket = opts.WebSocket ?? (globalThis.WebSocket as unknown as SocketFactory);
    this.random = opts.random ?? Math.random;
    this.now = opts.now ?? Date.now;
    this.stableAfterMs = opts.stableAfterMs ?? 5000;
    this.typingIntervalMs = opts.typingIntervalMs ?? 2000;
    this.watchNetwork = opts.watchNetwork ?? true;
    this.state = initialState(opts.room, opts.rooms ?? []);
    this.pacer = new Pacer<Outgoing>({
      rate: this.state.limits.rate,
      burst: this.state.limits.burst,
      now: this.now,
      attempt: (item) => this.trySend(item),
    });
  }

  // --- store --------------------------------------------------------------------------------

  getState = (): ChatState => this.state;

  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };

  private dispatch(action: Action): void {
    const next = reduce(this.state, action);
    if (next === this.state) return;
    this.state = next;
    for (const fn of this.listeners) fn();
  }

  // --- lifecycle ----------------------------------------------------------------------------

  /**
   * Connects on the next tick, so that React's development double-mount (start, stop, start)
   * opens one socket rather than two.
   */
  start(): void {
    if (this.started) return;
    this.started = true;
    if (this.watchNetwork && typeof window !== 'undefined') {
      window.addEventListener('online', this.onBrowserOnline);
      window.addEventListener('offline', this.onBrowserOffline);
    }
    this.startTimer = setTimeout(() => {
      this.startTimer = null;
      this.connect();
    }, 0);
  }

  stop(): void {
    if (!this.started) return;
    this.started = false;
    if (this.watchNetwork && typeof window !== 'undefined') {
      window.removeEventListener('online', this.onBrowserOnline);
      window.removeEventListener('offline', this.onBrowserOffline);
    }
    this.clearTimers();
    this.detachSocket(CloseCode.Normal, 'bye');
    // An exchange under way is void.
    this.connId++;
    this.exchanging = false;
  }

  /**
   * Ends this browser's session (DELETE /api/session) and connects again as a new guest: the
   * direct messages, read positions and unsent messages of the old identity stay with it.
   * `everywhere` ends every session of the person, on every device and browser: the server
   * closes their connections, which come back as new guests too. Nothing connects while the
   * server is asked, so that no upgrade renews the old session after its end. Resolves false
   * (with a toast) when the server could not be told: the user is still who they were,
   * connected again.
   */
  async signOut(everywhere = false): Promise<boolean> {
    if (!this.started || this.signingOut) return false;
    this.signingOut = true;
    this.clearTimers();
    if (this.ws) {
      this.detachSocket(CloseCode.Normal, 'signing out');
      this.connectionLost();
    }
    this.connId++;
    this.exchanging = false;
    this.dispatch({ type: 'disconnected', status: 'reconnecting', retryAt: null });
    // A token waiting to be exchanged would sign the same person in again.
    const token = this.session.pending();
    if (token !== null) this.session.forget(token);
    let failure: string | null = null;
    try {
      await this.session.end({ everywhere });
    } catch (err) {
      failure = err instanceof Error ? err.message : String(err);
    }
    this.signingOut = false;
    if (failure === null) {
      this.noSession = true;
      this.expiredSession = false;
      this.endedSession = false;
      this.signedOut = everywhere ? 'everywhere' : 'here';
      this.forgetIdentity();
    } else this.dispatch({ type: 'toast', code: 'sign_out_failed', message: `Could not sign out${everywhere ? ' everywhere' : ''}: ${failure}` });
    if (this.started) {
      this.attempt = 0;
      this.connect();
    }
    return failure === null;
  }

  /** Everything of the person who was here goes (their rooms stay): a new one comes with the next welcome. */
  private forgetIdentity(): void {
    this.pacer.clear();
    this.requests.clear();
    this.readSent.clear();
    this.readHeld.clear();
    this.lastTypingSent.clear();
    this.lastPresenceAsked.clear();
    this.pendingRename = null;
    this.hiding.clear();
    this.dispatch({ type: 'signedOut' });
  }

  /**
   * Changes the display name. A server with identity renames the person in place (one
   * `rename`, answered with ack or error; every room sees "X is now Y"); while offline the new
   * name is shown at once and asked for with `rename` after the next welcome. The connect URL
   * keeps the name the server knows: a name there with the token would become the person's
   * name without a word to the rooms (docs/protocol.md). An older server knows no rename: the
   * client reconnects under the new name, as it always did.
   */
  rename(name: string): void {
    if (hasIdentity(this.state) && !this.state.fatal) {
      if (this.state.status === 'online') {
        if (name !== this.state.me?.name || this.state.rename) this.sendRename(name);
        return;
      }
      this.pendingRename = name;
      this.dispatch({ type: 'renameLocal', name });
      return;
    }
    if (name === this.name && !this.state.fatal) return;
    this.name = name;
    if (!this.started) return;
    this.reconnectNow(true);
  }

  private sendRename(name: string): void {
    const ref = newRef('n');
    this.pendingRename = null;
    this.control({ type: 'rename', name, ref }, { kind: 'rename', room: '', name });
    this.dispatch({ type: 'renameSent', ref, name });
  }

  /** Forgets a refused rename (the dialog was closed). */
  clearRename(): void {
    this.dispatch({ type: 'renameClear' });
  }

  /** Skips the wait of a scheduled reconnect (or reconnects at once when `force`). */
  reconnectNow(force = false): void {
    if (!this.started || this.signingOut) return;
    if (!force && (this.ws || this.exchanging)) return;
    this.clearTimers();
    if (this.ws) {
      this.detachSocket(CloseCode.Normal, 'reconnecting');
      this.connectionLost();
      this.dispatch({ type: 'disconnected', status: 'reconnecting', retryAt: null });
    }
    this.attempt = 0;
    this.connect();
  }

  private clearTimers(): void {
    for (const t of [this.startTimer, this.retryTimer, this.stableTimer, this.typingTimer]) if (t) clearTimeout(t);
    this.startTimer = this.retryTimer = this.stableTimer = this.typingTimer = null;
    for (const t of this.readTimers.values()) clearTimeout(t);
    this.readTimers.clear();
  }

  private detachSocket(code: number, reason: string): void {
    const ws = this.ws;
    if (!ws) return;
    this.ws = null;
    this.connId++;
    ws.onopen = ws.onmessage = ws.onerror = null;
    ws.onclose = null;
    try {
      ws.close(code, reason);
    } catch {
      // Already closed.
    }
  }

  /**
   * Exchanges a waiting token for the session cookie first (docs/protocol.md, "Identity"),
   * then opens the socket.
   */
  private connect(): void {
    this.retryTimer = null;
    if (this.signingOut) return;
    this.dispatch({ type: 'connecting', status: this.everConnected ? 'reconnecting' : 'connecting' });
    const token = this.session.pending();
    if (token !== null) this.exchange(token);
    else this.open();
  }

  private exchange(token: string): void {
    const id = ++this.connId;
    this.exchanging = true;
    const answered = this.session.exchange(token).catch((): Exchange => 'unavailable');
    void answered.then((result) => {
      if (id !== this.connId) return;
      this.exchanging = false;
      if (!this.started) return;
      if (result === 'unavailable') {
        // Like a connection that failed: back off and try again, a few times, then connect
        // anyway (as a guest would); the token waits for the next connect.
        if (++this.exchangeTries < EXCHANGE_TRIES) {
          this.scheduleReconnect();
          return;
        }
      } else {
        this.noSession = result === 'refused';
        this.expiredSession = result === 'refused';
        if (result === 'signed-in') {
          this.signedOut = null;
          this.endedSession = false;
        }
      }
      this.open();
    });
  }

  private open(): void {
    const id = ++this.connId;
    this.exchanging = false;
    this.exchangeTries = 0;
    let ws: SocketLike;
    try {
      ws = new this.Socket(this.url(this.name, this.connectRoom()));
    } catch (err) {
      this.dispatch({ type: 'disconnected', status: 'offline', retryAt: null, fatal: { code: 'socket', message: String(err) } });
      return;
    }
    this.ws = ws;
    this.policyError = null;
    ws.onmessage = (ev) => {
      if (id === this.connId && typeof ev.data === 'string') this.onData(ev.data);
    };
    ws.onclose = (ev) => {
      if (id === this.connId) this.onClose(ev.code, ev.reason);
    };
    ws.onerror = () => {
      // A close event follows; nothing to do here.
    };
  }

  /**
   * The room named in the connect URL: the one shown, except a direct-message room, which is
   * joined with `join` after the welcome so that one the user may not enter is refused like
   * any other join (an error with its ref, the connection open) and not at the door.
   */
  private connectRoom(): string {
    const room = this.state.currentRoom;
    return room.startsWith(DM_PREFIX) || this.state.forbidden[room] ? DEFAULT_ROOM : room;
  }

  /** Requests for the old connection are void; messages and ops stay queued for the next. */
  private connectionLost(): void {
    this.requests.clear();
    this.pacer.remove((item) => item.kind === 'control');
    this.pacer.forgetSent();
    // A rename that got no answer is asked for again after the next welcome.
    const r = this.state.rename;
    if (r?.status === 'sending') {
      this.pendingRename = r.name;
      this.dispatch({ type: 'renameLocal', name: r.name });
    }
  }

  private send(frame: ClientFrame): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== OPEN) return false;
    try {
      ws.send(encodeFrame(frame));
      return true;
    } catch {
      return false;
    }
  }

  private onClose(code: number, reason: string): void {
    const connId = this.connId;
    this.ws = null;
    this.connId++;
    this.connectionLost();
    if (this.stableTimer) clearTimeout(this.stableTimer);
    this.stableTimer = null;

    if (code === CloseCode.Policy) {
      if (this.policyError?.code === 'unauthorized' && connId === this.welcomedOn && this.started) {
        // The server ended the session of this open connection (signed out everywhere, an
        // operator's revocation, a new session key). The person who was here is gone; come
        // back at once. The cookie is still the ended session's (the server could not clear
        // it on an open connection): the upgrade refuses it and clears it, and the connect
        // after that is the new guest.
        this.endedSession = true;
        this.expiredSession = false;
        this.signedOut = null;
        this.noSession = false;
        this.forgetIdentity();
        this.connect();
        return;
      }
      if (this.policyError?.code === 'unauthorized' && !this.noSession && this.started) {
        // The server did not sign the session's token or it expired, and has cleared the
        // cookie: come back as a new guest, at once (after a token the host page stored
        // meanwhile, if any). When the server refuses guests too, the next refusal is final.
        this.noSession = true;
        this.expiredSession = !this.endedSession;
        this.dispatch({ type: 'disconnected', status: 'reconnecting', retryAt: null });
        this.connect();
        return;
      }
      this.expiredSession = false;
      this.endedSession = false;
      this.signedOut = null;
      const fatal = this.policyError ?? { code: 'policy', message: reason || 'The server refused the connection.' };
      this.dispatch({ type: 'disconnected', status: 'offline', retryAt: null, fatal });
      return;
    }
    if (code === CloseCode.TooBig) {
      // Do not resend what the server could not take.
      const refs = this.pendingRefs((p) => p.sentOn === connId);
      if (refs.length > 0) this.dispatch({ type: 'pendingFailed', refs, error: 'Message too large for the server' });
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (!this.started) return;
    const delay = backoffDelay(this.attempt++, this.random);
    const offline = typeof navigator !== 'undefined' && navigator.onLine === false;
    this.dispatch({ type: 'disconnected', status: offline ? 'offline' : 'reconnecting', retryAt: this.now() + delay });
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  private onBrowserOffline = (): void => {
    // The socket may take a long time to notice; treat it as gone now.
    if (!this.ws) return;
    this.detachSocket(CloseCode.Normal, 'offline');
    this.connectionLost();
    if (this.stableTimer) clearTimeout(this.stableTimer);
    this.stableTimer = null;
    this.scheduleReconnect();
  };

  private onBrowserOnline = (): void => {
    if (!this.ws && !this.state.fatal) this.reconnectNow();
  };

  // --- incoming -----------------------------------------------------------------------------

  private onData(data: string): void {
    const { frames, bad } = parseFrame(data);
    if (bad.length > 0) console.warn('distchat: ignored unparsable server line(s)', bad);
    for (const frame of frames) this.onFrame(frame);
  }

  private onFrame(frame: ServerFrame): void {
    const ref = 'ref' in frame ? frame.ref : undefined;
    const request = ref ? this.requests.get(ref) : undefined;
    if (ref && frame.type !== 'message') {
      this.requests.delete(ref);
      if (frame.type === 'error' && frame.code === 'rate_limited' && this.requeue(ref, request)) return;
      this.pacer.settle(ref);
    }

    switch (frame.type) {
      case 'welcome':
        this.onWelcome(frame);
        return;
      case 'error':
        if (!ref && (frame.code === 'invalid_name' || frame.code === 'invalid_room' || frame.code === 'unauthorized')) {
          // The close 1008 that follows shows this; no toast.
          this.policyError = { code: frame.code, message: frame.message || frame.code };
          return;
        }
        break;
      case 'typing':
        this.scheduleTypingExpiry();
        break;
      case 'joined':
        if (this.hiding.has(frame.room)) {
          // A join sent before the user hid the room: the leave that follows it undoes it. A
          // `dm` (the user opened the conversation again) brings it back.
          if (request?.kind !== 'dm') return;
          this.hiding.delete(frame.room);
        }
        break;
      case 'left':
        if (request?.hide) this.hiding.delete(frame.room);
        break;
      case 'dm':
        // The other person opened it again: it is back, and a reconnect must not hide it again.
        this.hiding.delete(frame.room);
        break;
    }
    this.dispatch({ type: 'frame', frame, now: this.now(), request });
    switch (frame.type) {
      case 'joined':
        this.readHeld.set(frame.room, this.now());
        this.pacer.flush();
        break;
      case 'online_count':
        this.refreshPresence(frame.room, frame.count);
        break;
      case 'error':
        if (request?.kind === 'leave' && request.hide) {
          // Not hidden: the conversation is back in the list (the reducer), and this
          // connection is still in the room on the server; the join replays it.
          this.hiding.delete(request.room);
          if (this.state.rooms[request.room] && this.state.status === 'online' && !this.joining(request.room)) this.join(request.room, maxSeq(this.state.rooms[request.room]));
        }
        break;
      case 'dm': {
        // Someone opened a conversation with this user: be in it, to hear from them.
        const r = this.state.rooms[frame.room];
        if (r && !r.joined && this.state.status === 'online' && !this.joining(frame.room)) this.join(frame.room, undefined, true);
        break;
      }
      case 'read': {
        // The server has this position: a read waiting for it goes now when ours is newer
        // (seen on this page, or lost with the last connection), and not at all otherwise.
        this.readHeld.delete(frame.room);
        if (typeof frame.seq === 'number' && !this.readSent.has(frame.room)) this.readSent.set(frame.room, { seq: frame.seq, at: Number.NEGATIVE_INFINITY });
        this.queueRead(frame.room, false);
        break;
      }
    }
    // With identity the server names the person (a rename here, on another tab, or by the
    // server): the next connection uses the name they have now.
    if (hasIdentity(this.state) && this.state.me) this.name = this.state.me.name;
  }

  /**
   * The server refused a request for its rate limit (its bucket ran dry before ours mirrored
   * it): wait for a token and send it again, in its place and with the same ref, rather than
   * failing it.
   */
  private requeue(ref: string, request: RequestInfo | undefined): boolean {
    this.pacer.empty();
    const queued = this.findQueued(ref);
    if (!request && !queued) return false;
    if (request) this.requests.set(ref, request);
    // Not sent on this connection any more: the pacer may send it again.
    this.dispatch({ type: 'pendingUnsent', refs: [ref] });
    if (this.pacer.requeue(ref) || this.pacer.has(ref)) return true;
    if (!queued) return false;
    // Sent before the pacer's memory of it (another connection): queue it again.
    this.pacer.push({ kind: queued.frame.type === 'message' ? 'message' : 'op', key: ref });
    return true;
  }

  /**
   * Large rooms report a count instead of join/leave events, so the list of names can go
   * stale. Once the room is small enough for a complete list again and the list does not
   * match the count, ask for it (at most every PRESENCE_REFRESH_MS per room).
   */
  private refreshPresence(room: string, count: number): void {
    const r = this.state.rooms[room];
    if (!r || count > FULL_LIST_LIMIT || r.online.length === count) return;
    const now = this.now();
    const last = this.lastPresenceAsked.get(room);
    if (last !== undefined && now - last < PRESENCE_REFRESH_MS) return;
    if (this.state.status !== 'online') return;
    this.lastPresenceAsked.set(room, now);
    this.pacer.push({ kind: 'control', key: newRef('p'), urgent: true, frame: { type: 'presence', room } });
  }

  private onWelcome(frame: Extract<ServerFrame, { type: 'welcome' }>): void {
    // Recovery points are taken before the welcome's history is merged, so that the joins
    // below ask for everything missed while away.
    const since = new Map<string, number | undefined>();
    for (const room of this.state.roomOrder) since.set(room, maxSeq(this.state.rooms[room]));

    // welcome.token is for command-line clients: this browser's session is in its cookie.
    this.everConnected = true;
    this.welcomedOn = this.connId;
    this.noSession = false;
    this.readSent.clear();
    this.readHeld.clear();
    this.readHeld.set(frame.room, this.now());
    // Another person now (a new guest after a refused session): what the old one hid is not theirs to hide.
    if (this.state.userId !== null && frame.user?.id !== this.state.userId) this.hiding.clear();
    this.dispatch({ type: 'frame', frame, now: this.now() });
    // Hidden while offline, or the answer was lost with the last connection: the server may
    // not have heard of it (then the welcome lists it). Asked for again below.
    for (const room of this.hiding.keys()) if (this.state.rooms[room]) this.dispatch({ type: 'removeRoom', room });
    if (this.endedSession) {
      this.endedSession = false;
      this.expiredSession = false;
      this.dispatch({ type: 'toast', code: 'session_ended', message: SESSION_ENDED });
    }
    if (this.expiredSession) {
      this.expiredSession = false;
      this.dispatch({ type: 'toast', code: 'session_expired', message: SESSION_EXPIRED });
    }
    if (this.signedOut) {
      const everywhere = this.signedOut === 'everywhere';
      this.signedOut = null;
      this.dispatch({ type: 'toast', code: 'signed_out', message: everywhere ? SIGNED_OUT_EVERYWHERE : SIGNED_OUT });
    }

    // A new connection has a full bucket on the server; ours starts over with it, and the
    // queue is rebuilt in first-come order (messages the old connection sent without an ack
    // go again, before the ones it never sent).
    this.pacer.clear();
    this.pacer.setLimits(this.state.limits.rate, this.state.limits.burst);
    for (const [room, partner] of this.hiding) this.sendHide(room, partner);
    for (const room of this.state.roomOrder) {
      const s = since.get(room);
      if (room === frame.room && s === undefined) continue; // the welcome carried its history
      this.join(room, s);
    }
    this.queueAll();

    if (hasIdentity(this.state) && this.state.me) {
      // The server knows the person's name; a rename made offline is asked for now.
      const wanted = this.pendingRename;
      this.pendingRename = null;
      if (wanted !== null && wanted !== this.state.me.name) this.sendRename(wanted);
      else this.name = this.state.me.name;
    } else this.pendingRename = null;

    if (this.stableTimer) clearTimeout(this.stableTimer);
    this.stableTimer = setTimeout(() => {
      this.stableTimer = null;
      this.attempt = 0;
    }, this.stableAfterMs);
  }

  /** `unseen`: a room the user has never seen (a conversation someone opened with them). */
  private join(room: string, since?: number, unseen = false): void {
    const ref = newRef('j');
    const frame: ClientFrame = since === undefined ? { type: 'join', room, ref } : { type: 'join', room, since, ref };
    this.control(frame, unseen ? { kind: 'join', room, since, unseen } : { kind: 'join', room, since });
  }

  /** Queues a request for this connection ahead of messages; its reply is matched by ref. */
  private control(frame: ClientFrame & { ref: string }, request: RequestInfo): void {
    this.requests.set(frame.ref, request);
    this.pacer.push({ kind: 'control', key: frame.ref, urgent: true, frame, request });
  }

  /** Queues every pending message and op in the order they were made. */
  private queueAll(): void {
    const all: { key: string; kind: 'message' | 'op'; at: number }[] = [];
    for (const name of this.state.roomOrder) {
      const r = this.state.rooms[name];
      if (!r) continue;
      for (const p of r.pending) if (p.status === 'pending') all.push({ key: p.ref, kind: 'message', at: p.createdAt });
      for (const o of r.ops) all.push({ key: o.ref, kind: 'op', at: o.createdAt });
    }
    all.sort((a, b) => a.at - b.at);
    for (const { key, kind } of all) this.pacer.push({ key, kind });
  }

  /** The pacer's callback: writes one item to the socket when it can go now. */
  private trySend(item: Outgoing): Attempt {
    const ws = this.ws;
    if (!ws || ws.readyState !== OPEN || this.state.status !== 'online') return 'wait';
    if (item.kind === 'control') return this.send(item.frame) ? 'sent' : 'wait';
    if (item.kind === 'read') return this.trySendRead(item.room);

    const found = this.findQueued(item.key);
    if (!found) return 'drop';
    const { room, frame, sentOn } = found;
    if (sentOn === this.connId) return 'drop';
    if (!this.state.rooms[room]?.joined) return 'wait';
    if (!this.send(frame)) return 'wait';
    this.dispatch({ type: 'pendingSent', refs: [item.key], connId: this.connId });
    return 'sent';
  }

  /** The frame for a queued message or op, from the state (null: discarded, failed or gone). */
  private findQueued(ref: string): { room: string; frame: ClientFrame; sentOn?: number } | null {
    for (const name of this.state.roomOrder) {
      const r = this.state.rooms[name];
      if (!r) continue;
      const p = r.pending.find((x) => x.ref === ref);
      if (p) return p.status === 'pending' ? { room: name, sentOn: p.sentOn, frame: { type: 'message', room: name, body: p.body, ref } } : null;
      const o = r.ops.find((x) => x.ref === ref);
      if (o) return { room: name, sentOn: o.sentOn, frame: opFrame(name, o.op, ref) };
    }
    return null;
  }

  private joining(room: string): boolean {
    for (const r of this.requests.values()) if (r.kind === 'join' && r.room === room) return true;
    return false;
  }

  private pendingRefs(pred: (p: { room: string; status: string; sentOn?: number }) => boolean, room?: string): string[] {
    const refs: string[] = [];
    for (const name of room ? [room] : this.state.roomOrder) {
      for (const p of this.state.rooms[name]?.pending ?? []) if (pred(p)) refs.push(p.ref);
    }
    return refs;
  }

  private scheduleTypingExpiry(): void {
    if (this.typingTimer) clearTimeout(this.typingTimer);
    this.typingTimer = setTimeout(() => {
      this.typingTimer = null;
      this.dispatch({ type: 'expireTyping', now: this.now() });
      const left = Object.values(this.state.rooms).some((r) => Object.keys(r.typing).length > 0);
      if (left) this.scheduleTypingExpiry();
    }, TYPING_TTL_MS / 4);
  }

  // --- user actions -------------------------------------------------------------------------

  /** Shows a room, joining it first when needed. */
  openRoom(room: string): void {
    const previous = this.state.currentRoom;
    if (previous !== room) this.flushRead(previous);
    this.dispatch({ type: 'openRoom', room });
    const r = this.state.rooms[room];
    if (this.state.status === 'online' && r && !r.joined && !this.joining(room)) this.join(room, maxSeq(r));
  }

  /**
   * Opens a direct-message room with a person (a server with identity): the one the user has,
   * or asks the server for it (`dm`; the answer is a `joined` with `dm`). Returns false when
   * it cannot be asked now.
   */
  openDm(userId: string): boolean {
    if (!hasIdentity(this.state) || userId === this.state.userId) return false;
    if (this.state.roomOrder.some((r) => this.state.rooms[r]?.dm?.id === userId)) return true;
    if (this.state.status !== 'online') return false;
    for (const r of this.requests.values()) if (r.kind === 'dm' && r.user === userId) return true;
    const ref = newRef('d');
    this.dispatch({ type: 'dmRefusalClear' });
    this.control({ type: 'dm', user: userId, ref }, { kind: 'dm', room: '', user: userId });
    return true;
  }

  /** Forgets the refusal of the last direct message asked for (its note was closed). */
  clearDmRefusal(): void {
    this.dispatch({ type: 'dmRefusalClear' });
  }

  /**
   * The user has seen the shown room up to its newest message (the tab is visible and the
   * list scrolled to the bottom). With identity the position goes to the server, at most once
   * per READ_INTERVAL_MS per room, so that unread counts survive a reload and follow the user
   * to their other devices. It does not wait for the server's own position: the server sends
   * none for a room the user has no position in yet. A room seen while it had no entries is
   * read up to 0, so that everything after it counts as unread on the next visit. Where the
   * unread messages began after a reload is the server's first position (see applyRead).
   */
  markRead(room: string): void {
    const r = this.state.rooms[room];
    if (!r || !hasIdentity(this.state) || !r.loaded || room !== this.state.currentRoom || this.state.hidden) return;
    const seq = maxSeq(r) ?? 0;
    if (r.readSeq === null || seq > r.readSeq || r.unread > 0) this.dispatch({ type: 'markRead', room, seq });
    this.queueRead(room, false);
  }

  /** Sends the room's read position now when it is newer than the last one sent. */
  private flushRead(room: string): void {
    this.queueRead(room, true);
  }

  private queueRead(room: string, now: boolean): void {
    const r = this.state.rooms[room];
    if (!r || r.readSeq === null || !hasIdentity(this.state)) return;
    const sent = this.readSent.get(room);
    const timer = this.readTimers.get(room);
    if (timer) clearTimeout(timer);
    this.readTimers.delete(room);
    if (sent && sent.seq >= r.readSeq) return;
    let wait = 0;
    if (!now) {
      if (sent) wait = READ_INTERVAL_MS - (this.now() - sent.at);
      const held = this.readHeld.get(room);
      if (held !== undefined) wait = Math.max(wait, READ_INTERVAL_MS - (this.now() - held));
    }
    if (wait > 0) {
      this.readTimers.set(
        room,
        setTimeout(() => {
          this.readTimers.delete(room);
          this.queueRead(room, true);
        }, wait),
      );
      return;
    }
    this.pacer.push({ kind: 'read', key: `read:${room}`, room });
  }

  /** Writes the room's latest read position, when it is still newer than the last one sent. */
  private trySendRead(room: string): Attempt {
    const r = this.state.rooms[room];
    if (!r || r.readSeq === null) return 'drop';
    if (!r.joined) return 'wait';
    const sent = this.readSent.get(room);
    if (sent && sent.seq >= r.readSeq) return 'drop';
    if (!this.send({ type: 'read', room, seq: r.readSeq })) return 'wait';
    this.readSent.set(room, { seq: r.readSeq, at: this.now() });
    return 'sent';
  }

  leaveRoom(room: string): void {
    this.flushBeforeLeaving(room);
    if (this.state.rooms[room]?.joined) this.control({ type: 'leave', room, ref: newRef('l') }, { kind: 'leave', room });
    this.forgetRoom(room);
  }

  /**
   * Hides a direct-message room (a server with identity): it leaves the list at once, here and
   * in the person's next welcome on every device; the other person keeps it, and opening it
   * again from either side brings it back. Offline, the server is told after the next
   * welcome. Returns false for a room that is not a direct-message room of the user.
   */
  hideDm(room: string): boolean {
    const r = this.state.rooms[room];
    if (!r || !hasIdentity(this.state) || !isDmRoom(r)) return false;
    this.flushBeforeLeaving(room);
    this.hiding.set(room, r.dm);
    if (this.state.status === 'online') this.sendHide(room, r.dm);
    this.forgetRoom(room);
    return true;
  }

  private sendHide(room: string, partner: User | null): void {
    this.control({ type: 'leave', room, hide: true, ref: newRef('l') }, { kind: 'leave', room, hide: { partner } });
  }

  /** The last read position goes before a leave (which, being a request, would pass a queued one). */
  private flushBeforeLeaving(room: string): void {
    const r = this.state.rooms[room];
    const sent = this.readSent.get(room);
    if (r?.joined && r.readSeq !== null && hasIdentity(this.state) && (!sent || sent.seq < r.readSeq) && this.send({ type: 'read', room, seq: r.readSeq })) {
      this.readSent.set(room, { seq: r.readSeq, at: this.now() });
    }
  }

  /** Out of the sidebar, with what was waiting to be sent there. */
  private forgetRoom(room: string): void {
    const refs = new Set([...(this.state.rooms[room]?.pending ?? []), ...(this.state.rooms[room]?.ops ?? [])].map((p) => p.ref));
    this.pacer.remove((item) => refs.has(item.key));
    this.dispatch({ type: 'removeRoom', room });
  }

  /**
   * Queues a message: it is shown as pending at once and sent, in order and at the pace the
   * server allows, once the room is joined (also after a reconnect when written offline).
   */
  sendMessage(room: string, body: string): string {
    const ref = newRef('m');
    this.dispatch({ type: 'addPending', pending: { ref, room, body, createdAt: this.now(), status: 'pending' } });
    this.pacer.push({ kind: 'message', key: ref });
    return ref;
  }

  /** Sends a failed message again with its original ref (the server dedupes). */
  retryMessage(ref: string): void {
    const room = this.state.roomOrder.find((r) => this.state.rooms[r]?.pending.some((p) => p.ref === ref));
    if (!room) return;
    this.dispatch({ type: 'retryPending', ref });
    this.pacer.push({ kind: 'message', key: ref });
  }

  discardMessage(ref: string): void {
    this.dispatch({ type: 'discardPending', ref });
    this.pacer.remove((item) => item.key === ref);
  }

  /** Replaces the text of one of the user's messages. */
  editMessage(room: string, id: string, body: string): string {
    return this.queueOp(room, { kind: 'edit', id, body });
  }

  deleteMessage(room: string, id: string): string {
    return this.queueOp(room, { kind: 'delete', id });
  }

  /** Adds (on) or removes (off) the user's reaction with an emoji. */
  react(room: string, id: string, emoji: string, on: boolean): string {
    return this.queueOp(room, { kind: 'react', id, emoji, on });
  }

  /** Sets the room's topic (empty clears it). */
  setTopic(room: string, body: string): string {
    return this.queueOp(room, { kind: 'topic', body });
  }

  private queueOp(room: string, op: Op): string {
    const ref = newRef(op.kind[0]);
    this.dispatch({ type: 'addOp', op: { ref, room, op, createdAt: this.now() } });
    this.pacer.push({ kind: 'op', key: ref });
    return ref;
  }

  /** Asks for the page of messages before the oldest one loaded. */
  loadOlder(room: string): void {
    const r = this.state.rooms[room];
    if (!r || !r.joined || !r.hasMore || r.loadingOlder) return;
    const ref = newRef('h');
    const before = minSeq(r);
    const frame = before === undefined ? { type: 'history' as const, room, limit: HISTORY_PAGE, ref } : { type: 'history' as const, room, before, limit: HISTORY_PAGE, ref };
    if (this.state.status !== 'online') return;
    this.control(frame, { kind: 'history', room });
    this.dispatch({ type: 'loadingOlder', room, loading: true });
  }

  /** Tells the room we are typing, at most once per interval. */
  typing(room: string): void {
    const r = this.state.rooms[room];
    if (!r?.joined) return;
    const now = this.now();
    const last = this.lastTypingSent.get(room);
    if (last !== undefined && now - last < this.typingIntervalMs) return;
    if (this.send({ type: 'typing', room })) this.lastTypingSent.set(room, now);
  }

  dismissToast(id: number): void {
    this.dispatch({ type: 'dismissToast', id });
  }

  /** Tells the user something the UI found out (not from the server). */
  toast(code: string, message: string): void {
    this.dispatch({ type: 'toast', code, message });
  }

  /** The tab was hidden or shown: unread counting and notifications follow it. */
  setHidden(hidden: boolean): void {
    if (hidden) this.flushRead(this.state.currentRoom);
    this.dispatch({ type: 'visibility', hidden });
  }

  /** Notifications for the alerts up to this id were shown. */
  alertsShown(upTo: number): void {
    this.dispatch({ type: 'alertsShown', upTo });
  }
}

function opFrame(room: string, op: Op, ref: string): ClientFrame {
  switch (op.kind) {
    case 'edit':
      return { type: 'edit', room, id: op.id, body: op.body, ref };
    case 'delete':
      return { type: 'delete', room, id: op.id, ref };
    case 'react':
      return { type: 'react', room, id: op.id, emoji: op.emoji, on: op.on, ref };
    case 'topic':
      return { type: 'topic', room, body: op.body, ref };
  }
}
