import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/index.ts';
import { capTimelines, CappedTimelines, sampleHash, trimsOn } from '../../pipeline/cap.ts';
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
    inner.trim = async (users, k) => {
      if (fail) {
        fail = false;
        throw new Error('read timeout');
      }
      return trim(users, k);
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
      return [];
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

  it('one read takes up to `group` queued users; each user counted by its own result', async () => {
    const inner = new MemoryTimelines();
    const reads: bigint[][] = [];
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const trim = inner.trim.bind(inner);
    inner.trim = async (users, k) => {
      reads.push([...users]);
      await held;
      return trim(users, k);
    };
    const capped = new CappedTimelines(inner, {
      maxEntries: 2,
      trimEvery: 1,
      concurrency: 1,
      group: 4,
    });
    // User 1 gets 2 rows (its first read finds it at the cap), then a third; users 2..10 one each.
    await capped.write([insert(1n, 1), insert(1n, 2)]);
    const users = Array.from({ length: 10 }, (_, i) => BigInt(i + 1));
    await capped.write(users.map((u) => insert(u, 3)));
    // Waiting (fanout_timeline_trims_queued): all ten, user 1 again among them; none once done.
    expect(capped.pending()).toBe(10);
    release();
    await capped.idle();
    // The first read took user 1 alone (the only one queued then; its second insert queued it
    // again); the others in groups of at most 4, in the order queued, each once.
    expect(reads).toEqual([[1n], [1n, 2n, 3n, 4n], [5n, 6n, 7n, 8n], [9n, 10n]]);
    expect(capped.pending()).toBe(0);
    expect(capped.totals).toEqual({ trimmed: 1, under: 10, failed: 0 });
    expect(inner.size(1n)).toBe(2);
  });

  it('timeline.trimEvery=0 turns trims off: the store itself, no trim ever, no cap', async () => {
    const config = loadConfig({ env: {}, sets: ['timeline.trimEvery=0', 'timeline.maxEntries=5'] });
    expect(config.timeline.trimEvery).toBe(0);
    const inner = new MemoryTimelines();
    const store = capTimelines(inner, config.timeline);
    expect(store).toBe(inner);
    await store.write(Array.from({ length: 40 }, (_, t) => insert(1n, t)));
    expect(inner.trims).toBe(0);
    expect(inner.size(1n)).toBe(40);
    // Trims on, the same writes are trimmed back to the cap.
    const trimmed = new MemoryTimelines();
    const capped = capTimelines(trimmed, { maxEntries: 5, trimEvery: 1 });
    expect(capped).toBeInstanceOf(CappedTimelines);
    await capped.write(Array.from({ length: 40 }, (_, t) => insert(1n, t)));
    await (capped as CappedTimelines).idle();
    expect(trimmed.size(1n)).toBe(5);
    // CappedTimelines itself refuses 0 (trimsOn would trim on every insert).
    expect(() => new CappedTimelines(inner, { maxEntries: 5, trimEvery: 0 })).toThrow(
      /trimEvery must be a whole number of at least 1, got 0 \(0, trims off: use capTimelines\)/,
    );
  });

  it('a bad timeline.trimEvery names the key, its env var and the range', () => {
    for (const bad of ['-1', 'off', '1.5'])
      expect(() => loadConfig({ env: { FANOUT_TIMELINE_TRIM_EVERY: bad } })).toThrow(
        `timeline.trimEvery from env FANOUT_TIMELINE_TRIM_EVERY: must be an integer from 0 to 1000000, got ${/^-?[\d.]+$/.test(bad) ? bad : JSON.stringify(bad)}`,
      );
  });
});
