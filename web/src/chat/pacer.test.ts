import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Attempt, Paced } from './pacer';
import { BURST_RESERVE, Pacer } from './pacer';

interface Item extends Paced {
  room?: string;
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

function setup(rate: number, burst: number, ready: (item: Item) => Attempt = () => 'sent') {
  const sent: string[] = [];
  let online = true;
  const pacer = new Pacer<Item>({
    rate,
    burst,
    attempt: (item) => {
      if (!online) return 'wait';
      const r = ready(item);
      if (r === 'sent') sent.push(item.key);
      return r;
    },
  });
  return {
    pacer,
    sent,
    setOnline(v: boolean) {
      online = v;
    },
  };
}

const keys = (n: number, prefix = 'm') => Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);

describe('Pacer', () => {
  it('sends a burst of 100 in order at the server’s pace: burst at once, then rate per second', () => {
    const { pacer, sent } = setup(10, 30);
    for (const key of keys(100)) pacer.push({ key });
    const first = 30 - BURST_RESERVE;
    expect(sent).toEqual(keys(first));

    vi.advanceTimersByTime(1000);
    expect(sent).toHaveLength(first + 10);
    vi.advanceTimersByTime(100);
    expect(sent).toHaveLength(first + 11);

    vi.advanceTimersByTime(10_000);
    expect(sent).toEqual(keys(100));
    expect(pacer.size).toBe(0);
  });

  it('never goes over the rate over any window once the burst is spent', () => {
    const { pacer, sent } = setup(5, 10);
    const at: number[] = [];
    const start = Date.now();
    for (const key of keys(60)) pacer.push({ key });
    let last = 0;
    for (let t = 0; t <= 15_000; t += 50) {
      vi.advanceTimersByTime(50);
      while (last < sent.length) {
        at.push(Date.now() - start);
        last++;
      }
    }
    expect(sent).toEqual(keys(60));
    // The server's bucket: after the initial burst, at most rate/s plus what has refilled.
    const initial = 10 - BURST_RESERVE;
    for (let i = initial; i < at.length; i++) {
      expect(at[i]).toBeGreaterThanOrEqual(((i - initial + 1) / 5) * 1000 - 1);
    }
  });

  it('sends everything at once when the rate is 0 (no limit)', () => {
    const { pacer, sent } = setup(0, 1);
    for (const key of keys(100)) pacer.push({ key });
    expect(sent).toEqual(keys(100));
  });

  it('puts a message refused for the rate back at the front, in order, with the same key', () => {
    const { pacer, sent } = setup(10, 30);
    for (const key of keys(40)) pacer.push({ key });
    expect(sent).toHaveLength(28);
    // The server refused m27 and m28 (its bucket ran out sooner than ours).
    sent.length = 0;
    pacer.empty();
    expect(pacer.requeue('m27')).toBe(true);
    expect(pacer.requeue('m28')).toBe(true);
    expect(pacer.keys().slice(0, 3)).toEqual(['m27', 'm28', 'm29']);
    expect(sent).toEqual([]); // no token until the bucket refills

    vi.advanceTimersByTime(1000);
    expect(sent.slice(0, 4)).toEqual(['m27', 'm28', 'm29', 'm30']);
    vi.advanceTimersByTime(5000);
    expect(sent).toEqual(keys(40).slice(26));
  });

  it('re-queues refusals in their first-come order whatever order they are reported in', () => {
    const { pacer } = setup(1, 3);
    for (const key of keys(5)) pacer.push({ key });
    pacer.empty();
    pacer.requeue('m1');
    pacer.requeue('m1'); // twice: once
    expect(pacer.keys()).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
    expect(pacer.requeue('unknown')).toBe(false);
    pacer.settle('m1');
  });

  it('holds everything while offline and sends it in order on reconnect', () => {
    const { pacer, sent, setOnline } = setup(10, 30);
    setOnline(false);
    for (const key of keys(50)) pacer.push({ key });
    vi.advanceTimersByTime(60_000);
    expect(sent).toEqual([]);
    expect(pacer.size).toBe(50);

    setOnline(true);
    pacer.setLimits(10, 30); // a new connection: a full bucket
    pacer.flush();
    expect(sent).toEqual(keys(28));
    vi.advanceTimersByTime(3000);
    expect(sent).toEqual(keys(50));
  });

  it('lets urgent requests (joins) go first and does not let a waiting item block others', () => {
    const { pacer, sent } = setup(10, 30, (item) => (item.room === 'dev' ? 'wait' : 'sent'));
    pacer.push({ key: 'dev-1', room: 'dev' });
    pacer.push({ key: 'gen-1', room: 'general' });
    expect(sent).toEqual(['gen-1']);
    expect(pacer.keys()).toEqual(['dev-1']);
    pacer.push({ key: 'join', urgent: true });
    expect(sent).toEqual(['gen-1', 'join']);
  });

  it('orders urgent items before queued ones when tokens are short', () => {
    const { pacer, sent } = setup(1, 3);
    for (const key of keys(4)) pacer.push({ key });
    expect(sent).toEqual(['m1']);
    pacer.push({ key: 'j1', urgent: true });
    pacer.push({ key: 'j2', urgent: true });
    expect(pacer.keys()).toEqual(['j1', 'j2', 'm2', 'm3', 'm4']);
    vi.advanceTimersByTime(5000);
    expect(sent).toEqual(['m1', 'j1', 'j2', 'm2', 'm3', 'm4']);
  });

  it('drops items that are no longer wanted without spending a token', () => {
    const { pacer, sent } = setup(1, 3, (item) => (item.key.startsWith('gone') ? 'drop' : 'sent'));
    pacer.push({ key: 'gone-1' });
    pacer.push({ key: 'gone-2' });
    pacer.push({ key: 'm1' });
    expect(sent).toEqual(['m1']);
    expect(pacer.size).toBe(0);
  });

  it('keeps a small burst usable: burst 1 or 2 is not reduced to nothing', () => {
    const one = setup(1, 1);
    one.pacer.push({ key: 'a' });
    expect(one.sent).toEqual(['a']);
    const two = setup(1, 2);
    two.pacer.push({ key: 'a' });
    two.pacer.push({ key: 'b' });
    expect(two.sent).toEqual(['a']);
  });
});
