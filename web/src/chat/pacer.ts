// The send queue: everything the server rate-limits goes out through one Pacer, in order, no
// faster than the server's token bucket allows (welcome.limits: `burst` at once, then `rate`
// per second). A paste of 60 lines therefore arrives whole and in order instead of having its
// tail refused.

/** What `attempt` did with an item. */
export type Attempt =
  /** Written to the socket: it takes a token and leaves the queue. */
  | 'sent'
  /** Cannot go yet (offline, room not joined): stays queued, later items may go first. */
  | 'wait'
  /** No longer wanted (discarded, already sent on this connection): leaves the queue. */
  | 'drop';

export interface Paced {
  /** Unique per item; pushing a key that is queued already does nothing. */
  key: string;
  /** Goes before every non-urgent item (joins, history: the user is waiting for them). */
  urgent?: boolean;
}

export interface PacerOptions<T extends Paced> {
  rate: number;
  burst: number;
  attempt(item: T): Attempt;
  now?: () => number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (t: unknown) => void;
}

/**
 * Tokens the client keeps back from the server's burst. Two sends that leave here 1/rate apart
 * can arrive closer together (network jitter, coalesced TCP segments); the server's bucket then
 * still has these in hand, so its limiter and ours do not disagree.
 */
export const BURST_RESERVE = 2;

const MAX_SENT = 1000;

interface Entry<T> {
  item: T;
  /** Position in first-come order; a re-queued item goes back to its place. */
  order: number;
}

/**
 * An ordered queue drained by a token bucket that mirrors the server's: `burst` tokens, refilled
 * at `rate` per second (rate 0: no limit). Items are tried in order (urgent ones first); an item
 * that has to wait does not hold back the items behind it, so a room that is still joining does
 * not block another room.
 */
export class Pacer<T extends Paced> {
  private queue: Entry<T>[] = [];
  /** Sent and not yet answered, by key, so a refusal can put them back in their place. */
  private readonly sent = new Map<string, Entry<T>>();
  private rate: number;
  private capacity: number;
  private tokens: number;
  private last: number;
  private nextOrder = 0;
  private timer: unknown = null;
  private flushing = false;
  private readonly attempt: (item: T) => Attempt;
  private readonly now: () => number;
  private readonly setTimer: (fn: () => void, ms: number) => unknown;
  private readonly clearTimer: (t: unknown) => void;

  constructor(opts: PacerOptions<T>) {
    this.attempt = opts.attempt;
    this.now = opts.now ?? Date.now;
    this.setTimer = opts.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
    this.clearTimer = opts.clearTimer ?? ((t) => clearTimeout(t as ReturnType<typeof setTimeout>));
    this.rate = 0;
    this.capacity = 1;
    this.tokens = 0;
    this.last = this.now();
    this.setLimits(opts.rate, opts.burst);
  }

  /** The limits of a new connection: the server's bucket starts full, and so does ours. */
  setLimits(rate: number, burst: number): void {
    this.rate = Number.isFinite(rate) && rate > 0 ? rate : 0;
    const b = Number.isFinite(burst) && burst >= 1 ? Math.floor(burst) : 1;
    this.capacity = Math.max(1, b - Math.min(BURST_RESERVE, b - 1));
    this.tokens = this.capacity;
    this.last = this.now();
  }

  /** The server refused a request for its rate: its bucket is empty, so ours is too. */
  empty(): void {
    this.refill();
    this.tokens = Math.min(this.tokens, 0);
  }

  get size(): number {
    return this.queue.length;
  }

  has(key: string): boolean {
    return this.queue.some((e) => e.item.key === key);
  }

  keys(): string[] {
    return this.queue.map((e) => e.item.key);
  }

  /** Adds an item at the back (urgent: behind the other urgent ones) and sends what it can. */
  push(item: T): void {
    if (this.has(item.key)) return;
    this.insert({ item, order: this.nextOrder++ });
    this.flush();
  }

  /**
   * Puts an item that was sent but refused for the rate back at the front: in its first-come
   * place, before everything queued after it (refusals arrive in the order the sends went out,
   * and each goes back to where it was). Returns false when the key was not sent recently.
   */
  requeue(key: string): boolean {
    const entry = this.sent.get(key);
    if (!entry) return false;
    this.sent.delete(key);
    if (!this.has(key)) this.insert(entry);
    this.flush();
    return true;
  }

  /** The server answered the item (ack, reply or error): it will not be re-queued. */
  settle(key: string): void {
    this.sent.delete(key);
  }

  remove(pred: (item: T) => boolean): void {
    this.queue = this.queue.filter((e) => !pred(e.item));
  }

  /** Forgets everything queued and sent (the connection it was for is gone). */
  clear(): void {
    this.queue = [];
    this.sent.clear();
    this.cancel();
  }

  /** Forgets what was sent on the previous connection; the caller queues again what it needs. */
  forgetSent(): void {
    this.sent.clear();
  }

  /** Sends queued items while tokens last; schedules itself for the next token. */
  flush(): void {
    if (this.flushing) return; // attempt() may push; the loop below picks it up
    this.flushing = true;
    try {
      this.cancel();
      let i = 0;
      while (i < this.queue.length) {
        this.refill();
        if (this.rate > 0 && this.tokens < 1) break;
        const entry = this.queue[i];
        const r = this.attempt(entry.item);
        if (r === 'wait') {
          i++;
          continue;
        }
        this.queue.splice(i, 1);
        if (r === 'sent') {
          if (this.rate > 0) this.tokens -= 1;
          this.remember(entry);
        }
      }
    } finally {
      this.flushing = false;
    }
    this.schedule();
  }

  private remember(entry: Entry<T>): void {
    this.sent.set(entry.item.key, entry);
    // Replies settle entries; a bound keeps requests that get none (presence) from piling up.
    if (this.sent.size > MAX_SENT) this.sent.delete(this.sent.keys().next().value as string);
  }

  private insert(entry: Entry<T>): void {
    const urgent = !!entry.item.urgent;
    let at = this.queue.findIndex((e) => (urgent && !e.item.urgent) || (!!e.item.urgent === urgent && e.order > entry.order));
    if (at === -1) at = this.queue.length;
    this.queue.splice(at, 0, entry);
  }

  private refill(): void {
    const now = this.now();
    if (this.rate > 0) this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
  }

  /** Wakes up when the next token is due, if something is queued. */
  private schedule(): void {
    this.cancel();
    if (this.queue.length === 0) return;
    this.refill();
    if (this.rate === 0 || this.tokens >= 1) {
      // Tokens in hand but items waiting: their turn comes with flush() from the client
      // (joined, reconnected), not from a timer.
      return;
    }
    const ms = Math.max(1, Math.ceil(((1 - this.tokens) / this.rate) * 1000));
    this.timer = this.setTimer(() => {
      this.timer = null;
      this.flush();
    }, ms);
  }

  private cancel(): void {
    if (this.timer !== null) this.clearTimer(this.timer);
    this.timer = null;
  }
}
