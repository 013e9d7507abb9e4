import { describe, expect, it } from 'vitest';
import { eachInPool } from '../../lib/pool.ts';

describe('eachInPool', () => {
  it('runs every item once, never more than `concurrency` at a time, pulling items only as they are taken', async () => {
    let inFlight = 0;
    let most = 0;
    let made = 0;
    const seen: number[] = [];
    function* items(): Generator<number> {
      for (let i = 0; i < 20; i++) {
        made++;
        // Lazy: never more made than taken by the pool (running or done) plus the one being made.
        expect(made - seen.length - inFlight).toBeLessThanOrEqual(1);
        yield i;
      }
    }
    await eachInPool(items(), 3, async (i) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((r) => setImmediate(r));
      inFlight--;
      seen.push(i);
    });
    expect(most).toBe(3);
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it('rejects with a failure of `each`', async () => {
    await expect(
      eachInPool([1, 2, 3], 2, async (i) => {
        if (i === 2) throw new Error('write failed');
      }),
    ).rejects.toThrow('write failed');
  });
});
