import { describe, expect, it } from 'vitest';
import { CappedTimelines, sampleHash, trimsOn } from '../../pipeline/cap.ts';
import type { TimelineMutation } from '../../ports/stores.ts';
import { MemoryTimelines } from './fakes.ts';

const tid = (t: number): string => {
  const hex = t.toString(16).padStart(15, '0');
  return `${hex.slice(7)}-${hex.slice(3, 7)}-1${hex.slice(0, 3)}-8000-000000000000`;
};
const insert = (userId: bigint, t: number): TimelineMutation => ({
  op: 'insert',
  userId,
  tweetId: tid(t),
  authorId: 1n,
  writeTimeMicros: BigInt(t),
});

describe('CappedTimelines (fakes)', () => {
  it('samples about one insert in trimEvery, the same for the same user and tweet', () => {
    let hits = 0;
    for (let t = 0; t < 64_000; t++) if (trimsOn(BigInt(t % 1000), tid(t), 32)) hits++;
    expect(hits).toBeGreaterThan(1_700);
    expect(hits).toBeLessThan(2_300);
    expect(sampleHash(5n, tid(9))).toBe(sampleHash(5n, tid(9)));
    expect(trimsOn(5n, tid(9), 1)).toBe(true);
  });

  it('a user receiving many tweets never holds more than the cap plus the slack, newest kept', async () => {
    const inner = new MemoryTimelines();
    const capped = new CappedTimelines(inner, { maxEntries: 50, trimEvery: 8 });
    let max = 0;
    for (let t = 1; t <= 3_000; t++) {
      // Batches as the fan-out writes them: several users, one row each.
      await capped.write([insert(1n, t), insert(2n, t)]);
      if (t % 10 === 0) {
        await capped.idle();
        max = Math.max(max, inner.size(1n), inner.size(2n));
      }
    }
    await capped.idle();
    // Slack: inserts between two sampled ones, (1 - 1/8)^s; s = 8 × 14 is below one in a million.
    expect(max).toBeLessThanOrEqual(50 + 8 * 14);
    expect(max).toBeGreaterThan(50);
    const kept = (await inner.read(1n, 10_000)).map((e) => e.tweetId);
    expect(kept.length).toBeGreaterThanOrEqual(50);
    // The newest 50 are always there.
    for (let t = 2_951; t <= 3_000; t++) expect(kept).toContain(tid(t));
    expect(capped.totals.trimmed).toBeGreaterThan(0);
  });

  it('deletes are not sampled; a failed trim is counted and the next sampled insert trims again', async () => {
    const inner = new MemoryTimelines();
    let fail = true;
    const trim = inner.trim.bind(inner);
    inner.trim = async (u, k) => {
      if (fail) {
        fail = false;
        throw new Error('read timeout');
      }
      return trim(u, k);
    };
    const capped = new CappedTimelines(inner, { maxEntries: 2, trimEvery: 1 });
    await capped.write([{ ...insert(1n, 1), op: 'delete' }]);
    await capped.idle();
    expect(inner.trims).toBe(0);
    await capped.write([insert(1n, 1), insert(1n, 2), insert(1n, 3)]);
    await capped.idle();
    expect(capped.totals.failed).toBe(1);
    await capped.write([insert(1n, 4)]);
    await capped.idle();
    expect(inner.size(1n)).toBe(2);
  });

  it('a write waits while too many users are queued for a trim', async () => {
    const inner = new MemoryTimelines();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    inner.trim = async () => {
      await held;
      return false;
    };
    const capped = new CappedTimelines(inner, {
      maxEntries: 5,
      trimEvery: 1,
      concurrency: 1,
      maxQueued: 3,
    });
    let done = false;
    const write = capped
      .write([1n, 2n, 3n, 4n, 5n].map((u) => insert(u, 1)))
      .then(() => (done = true));
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r)); // let it settle
    expect(done).toBe(false);
    release();
    await write;
    await capped.idle();
    expect(capped.totals.under).toBe(5);
  });
});
