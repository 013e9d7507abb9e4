import { describe, expect, it } from 'vitest';
import type { GraphChange } from '../../../pipeline/graph/decode.ts';
import { RecentTweets } from '../../../pipeline/graph/recent.ts';
import { KeyedSerial } from '../../../pipeline/graph/serial.ts';
import { backfill, type GraphDeps, retract } from '../../../pipeline/graph/steps.ts';
import { MemoryAuthorTweets, MemoryTimelines } from '../fakes.ts';

// Timeuuids whose time is `t` (ordered as Cassandra orders them).
const tid = (t: number): string => {
  const hex = t.toString(16).padStart(15, '0');
  return `${hex.slice(7)}-${hex.slice(3, 7)}-1${hex.slice(0, 3)}-8000-000000000000`;
};
const AUTHOR = 7n;
const OTHER = 8n;
const F = 42n;

function world(options: { backfill?: number; recent?: number } = {}) {
  const timelines = new MemoryTimelines();
  const authorTweets = new MemoryAuthorTweets();
  const deps: GraphDeps = {
    timelines,
    authorTweets,
    recent: (a) => authorTweets.recent(a, options.recent ?? 100),
    attempt: (_what, fn) => fn(),
    backfillTweets: options.backfill ?? 20,
    timelineReadLimit: 10_000,
  };
  const follow = (writeTime: bigint): GraphChange => ({
    op: 'follow',
    authorId: AUTHOR,
    followerId: F,
    writeTime,
  });
  const unfollow = (writeTime: bigint): GraphChange => ({ ...follow(writeTime), op: 'unfollow' });
  const held = async () =>
    (await timelines.read(F, 10_000)).map((e) => e.tweetId).sort((a, b) => (a < b ? -1 : 1));
  return { timelines, authorTweets, deps, follow, unfollow, held };
}

describe('graph steps (fakes)', () => {
  it('a follow backfills the latest N live tweets of the author written before it, at its own write time', async () => {
    const w = world({ backfill: 20 });
    for (let i = 1; i <= 50; i++) w.authorTweets.add(tid(i), AUTHOR, BigInt(i) * 10n);
    w.authorTweets.add(tid(100), OTHER, 5n); // another author's
    w.authorTweets.tweets.get(tid(50))!.live = false; // deleted
    w.authorTweets.move(tid(49), OTHER, 491n); // moved on (still indexed under AUTHOR)
    const rows = await backfill(w.follow(475n), w.deps); // after tweet 47, before 48
    expect(rows).toBe(20);
    const expected = Array.from({ length: 20 }, (_, i) => tid(47 - i)).sort();
    expect(await w.held()).toEqual(expected);
    for (const c of w.timelines.cells.get(F)!.values()) expect(c.ts).toBe(475n);
  });

  it('an unfollow deletes the author’s tweets from the timeline, found or recent, and nothing else', async () => {
    const w = world({ backfill: 5, recent: 10 });
    for (let i = 1; i <= 30; i++) w.authorTweets.add(tid(i), AUTHOR, BigInt(i));
    // Delivered long ago by fan-outs (older than the recent ones), and another author's.
    await w.timelines.write(
      [1, 2, 3].map((i) => ({
        op: 'insert' as const,
        userId: F,
        tweetId: tid(i),
        authorId: AUTHOR,
        writeTimeMicros: BigInt(i),
      })),
    );
    await w.timelines.write([
      { op: 'insert', userId: F, tweetId: tid(200), authorId: OTHER, writeTimeMicros: 1n },
    ]);
    await backfill(w.follow(100n), w.deps);
    const rows = await retract(w.unfollow(200n), w.deps);
    expect(rows).toBe(13); // 10 recent + 3 found in the timeline
    expect(await w.held()).toEqual([tid(200)]);
    // A fan-out of a recent tweet still under way loses to the unfollow's delete.
    await w.timelines.write([
      { op: 'insert', userId: F, tweetId: tid(30), authorId: AUTHOR, writeTimeMicros: 30n },
    ]);
    expect(await w.held()).toEqual([tid(200)]);
  });

  it('an unfollow leaves a tweet moved on to another author; a deleted one it takes back, found or not', async () => {
    const w = world({ recent: 10 });
    w.authorTweets.add(tid(1), AUTHOR, 1n);
    w.authorTweets.add(tid(2), AUTHOR, 2n);
    w.authorTweets.add(tid(3), AUTHOR, 3n);
    // tid(1) moved to OTHER at 50, whom F follows too: its fan-out rewrote F's row.
    w.authorTweets.move(tid(1), OTHER, 50n);
    await w.timelines.write([
      { op: 'insert', userId: F, tweetId: tid(1), authorId: OTHER, writeTimeMicros: 50n },
      { op: 'insert', userId: F, tweetId: tid(3), authorId: AUTHOR, writeTimeMicros: 3n },
    ]);
    w.authorTweets.tweets.get(tid(2))!.live = false; // deleted; its insert's fan-out still under way
    const rows = await retract(w.unfollow(200n), w.deps);
    expect(rows).toBe(2); // tid(2) and tid(3), not tid(1)
    await w.timelines.write([
      { op: 'insert', userId: F, tweetId: tid(2), authorId: AUTHOR, writeTimeMicros: 2n },
    ]);
    expect(await w.held()).toEqual([tid(1)]);
    expect((await w.timelines.read(F, 10)).map((e) => e.authorId)).toEqual([OTHER]);
  });

  it('follow, unfollow, follow: the end state follows the last write, whatever the order and replays', async () => {
    const changes = (w: ReturnType<typeof world>) => [
      w.follow(100n),
      w.unfollow(200n),
      w.follow(300n),
    ];
    // Every order, each change applied once or twice (a replay), on the same tweets.
    const orders = [
      [0, 1, 2],
      [0, 2, 1],
      [1, 0, 2],
      [1, 2, 0],
      [2, 0, 1],
      [2, 1, 0],
      [0, 1, 2, 0, 1, 2],
      [0, 1, 0, 2, 1, 2],
    ];
    const ends: string[][] = [];
    for (const order of orders) {
      const w = world({ backfill: 5, recent: 10 });
      for (let i = 1; i <= 30; i++) w.authorTweets.add(tid(i), AUTHOR, BigInt(i));
      const cs = changes(w);
      for (const i of order) {
        const c = cs[i]!;
        await (c.op === 'follow' ? backfill(c, w.deps) : retract(c, w.deps));
      }
      ends.push(await w.held());
    }
    const latest5 = [26, 27, 28, 29, 30].map(tid).sort();
    for (const end of ends) expect(end).toEqual(latest5);

    // Ending with the unfollow: nothing of the author remains, whichever order.
    for (const order of [
      [0, 1],
      [1, 0],
      [0, 1, 0],
    ]) {
      const w = world({ backfill: 5, recent: 10 });
      for (let i = 1; i <= 30; i++) w.authorTweets.add(tid(i), AUTHOR, BigInt(i));
      const cs = [w.follow(100n), w.unfollow(200n)];
      for (const i of order) {
        const c = cs[i]!;
        await (c.op === 'follow' ? backfill(c, w.deps) : retract(c, w.deps));
      }
      expect(await w.held()).toEqual([]);
    }
  });

  it('a replayed backfill after an unfollow does not bring back tweets written after the follow', async () => {
    const w = world({ backfill: 5, recent: 5 });
    for (let i = 1; i <= 10; i++) w.authorTweets.add(tid(i), AUTHOR, BigInt(i) * 10n);
    await backfill(w.follow(100n), w.deps);
    await retract(w.unfollow(200n), w.deps);
    for (let i = 11; i <= 20; i++) w.authorTweets.add(tid(i), AUTHOR, 1_000n + BigInt(i)); // after
    await backfill(w.follow(100n), w.deps); // the replay
    expect(await w.held()).toEqual([]);
  });
});

describe('RecentTweets', () => {
  it('joins callers to a read that starts after they asked: one read in flight, one queued per author', async () => {
    const started: Array<{ author: bigint; release: (ids: string[]) => void }> = [];
    const recent = new RecentTweets(
      (author) => new Promise((resolve) => started.push({ author, release: resolve })),
    );
    const a1 = recent.get(1n);
    expect(started).toHaveLength(1); // started at once
    const a2 = recent.get(1n);
    const a3 = recent.get(1n);
    const b1 = recent.get(2n);
    expect(started.map((s) => s.author)).toEqual([1n, 2n]); // 2 and 3 wait for the next read
    started[0]!.release(['old']);
    expect(await a1).toEqual(['old']);
    await new Promise((r) => setImmediate(r));
    expect(started.map((s) => s.author)).toEqual([1n, 2n, 1n]);
    started[2]!.release(['new']);
    expect(await a2).toEqual(['new']);
    expect(await a3).toEqual(['new']);
    started[1]!.release(['b']);
    expect(await b1).toEqual(['b']);
    expect(recent.reads).toBe(3);
    await new Promise((r) => setImmediate(r));
    expect(recent.size).toBe(0);
  });

  it('a failed read fails its callers only; the next caller reads again', async () => {
    let n = 0;
    const recent = new RecentTweets(async () => {
      if (++n === 1) throw new Error('timeout');
      return ['x'];
    });
    await expect(recent.get(1n)).rejects.toThrow('timeout');
    expect(await recent.get(1n)).toEqual(['x']);
  });
});

describe('KeyedSerial', () => {
  it('runs the tasks of one key in order, of different keys at once, past failures', async () => {
    const serial = new KeyedSerial();
    const log: string[] = [];
    let releaseA!: () => void;
    const a1 = serial.run('a', async () => {
      await new Promise<void>((r) => (releaseA = r));
      log.push('a1');
      throw new Error('a1 failed');
    });
    const a2 = serial.run('a', async () => void log.push('a2'));
    const b1 = serial.run('b', async () => void log.push('b1'));
    await b1;
    expect(log).toEqual(['b1']);
    releaseA();
    await expect(a1).rejects.toThrow('a1 failed');
    await a2;
    expect(log).toEqual(['b1', 'a1', 'a2']);
    await new Promise((r) => setImmediate(r));
    expect(serial.size).toBe(0);
  });
});
