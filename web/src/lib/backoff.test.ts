import { describe, expect, it } from 'vitest';
import { backoffDelay } from './backoff';

describe('backoffDelay', () => {
  it('grows exponentially from 0.5 s and is capped at 10 s', () => {
    const max = () => 1;
    expect([0, 1, 2, 3, 4, 5, 6, 20].map((a) => backoffDelay(a, max))).toEqual([500, 1000, 2000, 4000, 8000, 10000, 10000, 10000]);
  });

  it('jitters between half and the full step', () => {
    expect(backoffDelay(2, () => 0)).toBe(1000);
    expect(backoffDelay(2, () => 0.5)).toBe(1500);
    expect(backoffDelay(10, () => 0)).toBe(5000);
  });
});
