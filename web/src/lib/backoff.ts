/** Reconnect delays: exponential from `baseMs`, capped at `maxMs`, with "equal jitter". */
export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 500, maxMs: 10_000 };

/**
 * Delay before reconnect attempt number `attempt` (0 for the first retry). Half of the
 * exponential step is fixed and half random, so many clients dropped by one server restart
 * spread out instead of reconnecting in lockstep, yet nobody retries in a tight loop.
 */
export function backoffDelay(attempt: number, random: () => number = Math.random, opts: BackoffOptions = DEFAULT_BACKOFF): number {
  const step = Math.min(opts.maxMs, opts.baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(step / 2 + random() * (step / 2));
}
