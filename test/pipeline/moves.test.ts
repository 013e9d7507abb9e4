import { describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../config/index.ts';
import { createLogger } from '../../lib/log.ts';
import type { StateRecord, Transaction } from '../../ports/streams.ts';
import { Worker } from '../../pipeline/worker.ts';
import { checkpointRecord, type Checkpoint } from '../../records/checkpoint.ts';
import { checkpointTopic } from '../support/topics.ts';
import {
  FAKE_SETS,
  FakeSink,
  FakeSource,
  MemoryAuthors,
  MemoryFollowers,
  MemoryTimelines,
} from './fakes.ts';
import { within } from './fixtures.ts';

// Upserts against the author recorded for their tweet (docs/write-forms.md), on a worker over
// in-memory fakes: a move, a stale change, the race of a move with the upsert before it, and a
// move resumed from its checkpoint.
const config = loadConfig({ env: {}, sets: [...FAKE_SETS] });
const ids = (from: number, n: number): bigint[] =>
  Array.from({ length: n }, (_, i) => BigInt(from + i));
let seq = 0;
const newId = (): string => `00000000-0000-1000-8000-${String(++seq).padStart(12, '0')}`;

/** Author 1: followers 1000..1499; author 3: 1400..1599 (100 follow both). */
const OLD = 1n;
const NEW = 3n;
const OLD_ONLY = ids(1_000, 400);
const BOTH = ids(1_400, 100);
const NEW_ONLY = ids(1_500, 100);

/** A tweets change event setting author_id, as the connector reports an INSERT or UPDATE. */
function upsert(
  tweetId: string,
  authorId: bigint,
  writeTime: bigint,
  verb: 'insert' | 'update' = 'update',
  ttl?: number,
) {
  const ts = String(writeTime);
  return {
    op: verb,
    keyspace: 'ks',
    table: 'tweets',
    tableId: '0'.repeat(32),
    key: { tweet_id: tweetId },
    clustering: {},
    columns: {
      author_id: { value: String(authorId), ts, ...(ttl ? { ttl } : {}) },
      body: { value: 'b', ts },
    },
    writeTimestamp: ts,
    source: { segmentId: '1', position: ++seq, fileVersion: 8 },
    eventId: `${String(seq).padStart(32, '0')}`,
  };
}

interface Done {
  tweetId: string;
  op: string;
  authorId: string;
  followersDelivered: number;
  resumed: boolean;
  retracted?: true;
  moved?: { from: string };
}

function world(
  options: {
    restored?: Checkpoint[];
    state?: StateRecord[];
    authors?: MemoryAuthors;
    timelines?: MemoryTimelines;
    sink?: FakeSink;
    cfg?: Config;
  } = {},
) {
  const cfg = options.cfg ?? config;
  const source = new FakeSource();
  const sink = options.sink ?? new FakeSink();
  const followers = new MemoryFollowers();
  const timelines = options.timelines ?? new MemoryTimelines();
  const authors = options.authors ?? new MemoryAuthors();
  followers.set(OLD, [...OLD_ONLY, ...BOTH]);
  followers.set(NEW, [...BOTH, ...NEW_ONLY]);
  const restored = (options.restored ?? []).map((cp, i) => {
    const r = checkpointRecord(
      checkpointTopic(cfg),
      { topic: source.topic, partition: 0, offset: BigInt(i) },
      cp,
    );
    return { partition: 0, offset: i, key: r.key, value: Buffer.from(r.value!) };
  });
  const worker = new Worker({
    config: cfg,
    workerId: 'w',
    log: createLogger('error'),
    ports: {
      source,
      sink,
      followers,
      timelines,
      authors,
      readCheckpoints: async () => options.state ?? restored,
    },
  });
  const completions = () =>
    sink.records(cfg.topics.completed).map((r) => JSON.parse(r.value!) as Done);
  const committed = (partition: number, offset: bigint) =>
    within(5_000, `offset ${offset} committed`, () =>
      sink.offset(partition) === offset ? true : undefined,
    );
  /** Every follower's cell of `tweetId`: live or not, and its write time. */
  const cells = (tweetId: string, users: readonly bigint[]) =>
    users.map((u) => {
      const c = timelines.cells.get(u)?.get(tweetId);
      return c === undefined ? 'none' : `${c.live ? 'live' : 'gone'}@${c.ts}`;
    });
  return { source, sink, followers, timelines, authors, worker, completions, committed, cells };
}

const all = (xs: readonly string[], v: string) => expect(new Set(xs)).toEqual(new Set([v]));

describe('moves and stale upserts (fakes)', () => {
  it(
    "an UPDATE of the author moves the tweet: the old author's followers lose it (deletes one µs before the change), a follower of both keeps it, the new author's get it; one completion says moved",
    { timeout: 10_000 },
    async () => {
      const w = world();
      const id = newId();
      w.source.push(0, upsert(id, OLD, 100n, 'insert'));
      void w.worker.start();
      await w.committed(0, 1n);
      w.source.push(0, upsert(id, NEW, 200n));
      await w.committed(0, 2n);
      all(w.cells(id, OLD_ONLY), 'gone@199');
      all(w.cells(id, BOTH), 'live@200');
      all(w.cells(id, NEW_ONLY), 'live@200');
      expect(w.timelines.holders(id).sort()).toEqual([...BOTH, ...NEW_ONLY]);
      expect(w.completions()).toMatchObject([
        { tweetId: id, op: 'insert', authorId: '1', followersDelivered: 500 },
        { tweetId: id, op: 'insert', authorId: '3', followersDelivered: 200, moved: { from: '1' } },
      ]);
      expect(w.completions()[0]).not.toHaveProperty('moved');
      expect(await w.authors.getWithTime(id)).toEqual({ authorId: NEW, writeTime: 200n });
      // A delete after the move retracts from the new author's followers.
      w.source.push(0, { ...upsert(id, NEW, 300n), op: 'delete_partition', columns: {} });
      await w.committed(0, 3n);
      expect(w.timelines.holders(id)).toEqual([]);
      expect(w.completions()[2]).toMatchObject({ op: 'delete', authorId: '3' });
      await w.worker.close();
    },
  );

  it(
    "a move's first checkpoint, naming the old author, is committed before the new author is recorded",
    { timeout: 10_000 },
    async () => {
      const id = newId();
      type Seen = { v: number; movedFrom?: string; moving?: true };
      const seen: Array<Seen & { recorded: bigint | null }> = [];
      const holder: { authors?: MemoryAuthors } = {};
      class Watching extends FakeSink {
        override async commit(tx: Transaction): Promise<void> {
          // A slow transaction (latency, like MemoryTimelines.delayMs): what was recorded meanwhile?
          await new Promise((r) => setTimeout(r, 20));
          for (const r of tx.records)
            if (r.topic === config.topics.checkpoints && r.value !== null)
              seen.push({
                ...(JSON.parse(r.value) as Seen),
                recorded: await holder.authors!.get(id),
              });
          return super.commit(tx);
        }
      }
      const w = world({ sink: new Watching() });
      holder.authors = w.authors;
      await w.authors.put(id, OLD, 100n);
      w.source.push(0, upsert(id, NEW, 200n));
      void w.worker.start();
      await w.committed(0, 1n);
      expect(seen[0]).toMatchObject({ v: 2, movedFrom: '1', moving: true, recorded: OLD });
      // Later checkpoints name the move too, through both passes.
      expect(seen.every((s) => s.movedFrom === '1')).toBe(true);
      expect(seen.some((s) => s.moving === undefined)).toBe(true);
      await w.worker.close();
    },
  );

  it(
    'a move stopped while its first checkpoint commits records nothing; the revocation commits that checkpoint and the next owner completes the move',
    { timeout: 10_000 },
    async () => {
      const id = newId();
      let release!: () => void;
      const gate = new Promise<void>((r) => {
        release = r;
      });
      let holding = false;
      class Held extends FakeSink {
        override async commit(tx: Transaction): Promise<void> {
          if (tx.records.some((r) => r.value?.includes('"moving":true'))) {
            holding = true;
            await gate;
          }
          return super.commit(tx);
        }
      }
      const first = world({ sink: new Held() });
      await first.authors.put(id, OLD, 100n);
      first.source.push(0, upsert(id, NEW, 200n));
      void first.worker.start();
      await within(5_000, "the move's first checkpoint under way", () =>
        holding ? true : undefined,
      );
      const revoking = first.source.revoke([0]);
      await within(5_000, 'the move stopped', () =>
        first.worker.status().inFlight.every((t) => t.stopped) ? true : undefined,
      );
      expect(await first.authors.getWithTime(id)).toEqual({ authorId: OLD, writeTime: 100n });
      release();
      await revoking;
      expect(first.timelines.rows).toBe(0);
      await first.worker.close();
      // The next owner, over the same stores, restores the move from its checkpoint.
      const next = world({
        state: first.sink.stateRecords(config.topics.checkpoints),
        authors: first.authors,
        timelines: first.timelines,
      });
      next.source.push(0, upsert(id, NEW, 200n));
      void next.worker.start();
      await next.committed(0, 1n);
      expect(next.timelines.holders(id).sort()).toEqual([...BOTH, ...NEW_ONLY]);
      expect(await next.authors.getWithTime(id)).toEqual({ authorId: NEW, writeTime: 200n });
      expect(next.completions()).toMatchObject([{ resumed: true, moved: { from: '1' } }]);
      await next.worker.close();
    },
  );

  it(
    'a move resumed from a checkpoint of its first pass goes on deleting from its cursor, then delivers; not split, one completion',
    { timeout: 10_000 },
    async () => {
      const id = newId();
      const w = world({
        restored: [
          {
            tweetId: id,
            op: 'insert',
            authorId: NEW,
            writeTime: 200n,
            cursor: 1_249n,
            delivered: 250,
            total: 500,
            startedAt: Date.now() - 1_000,
            done: false,
            finishedAt: null,
            movedFrom: OLD,
            moving: true,
          },
        ],
      });
      // The previous owner had deleted up to its cursor; the rest still have the old rows.
      await w.timelines.write(
        ids(1_250, 250).map((u) => ({
          op: 'insert' as const,
          userId: u,
          tweetId: id,
          authorId: OLD,
          writeTimeMicros: 100n,
        })),
      );
      const before = w.timelines.rows;
      await w.authors.put(id, NEW, 200n); // recorded before its first pass began
      w.source.push(0, upsert(id, NEW, 200n));
      void w.worker.start();
      await w.committed(0, 1n);
      expect(w.timelines.rows - before).toBe(250 + 200); // the rest of the move, then the delivery
      expect(w.timelines.holders(id).sort()).toEqual([...BOTH, ...NEW_ONLY]);
      all(w.cells(id, ids(1_250, 150)), 'gone@199');
      expect(w.completions()).toMatchObject([
        {
          tweetId: id,
          authorId: '3',
          resumed: true,
          followersDelivered: 200,
          moved: { from: '1' },
        },
      ]);
      await w.worker.close();
    },
  );

  it(
    'a move resumed in its delivery pass delivers from its cursor and still completes as a move',
    { timeout: 10_000 },
    async () => {
      const id = newId();
      const w = world({
        restored: [
          {
            tweetId: id,
            op: 'insert',
            authorId: NEW,
            writeTime: 200n,
            cursor: 1_449n,
            delivered: 50,
            total: 200,
            startedAt: Date.now() - 1_000,
            done: false,
            finishedAt: null,
            movedFrom: OLD,
          },
        ],
      });
      await w.authors.put(id, NEW, 200n);
      w.source.push(0, upsert(id, NEW, 200n));
      void w.worker.start();
      await w.committed(0, 1n);
      expect(w.timelines.rows).toBe(150); // no move pass again: only the delivery's rest
      expect(w.completions()).toMatchObject([{ followersDelivered: 200, moved: { from: '1' } }]);
      await w.worker.close();
    },
  );

  it(
    'a stale upsert (a newer author is recorded) takes back what it may have written at its own write time, and changes nothing else',
    { timeout: 10_000 },
    async () => {
      const w = world();
      const id = newId();
      await w.authors.put(id, NEW, 300n);
      const row = (u: bigint, authorId: bigint, t: bigint) => ({
        op: 'insert' as const,
        userId: u,
        tweetId: id,
        authorId,
        writeTimeMicros: t,
      });
      // The newer author's delivery, and rows a previous attempt of the stale change had written.
      await w.timelines.write([...BOTH, ...NEW_ONLY].map((u) => row(u, NEW, 300n)));
      await w.timelines.write(OLD_ONLY.slice(0, 100).map((u) => row(u, OLD, 100n)));
      w.source.push(0, upsert(id, OLD, 100n, 'insert'));
      void w.worker.start();
      await w.committed(0, 1n);
      expect(w.timelines.holders(id).sort()).toEqual([...BOTH, ...NEW_ONLY]);
      all(w.cells(id, OLD_ONLY), 'gone@100');
      expect(await w.authors.getWithTime(id)).toEqual({ authorId: NEW, writeTime: 300n });
      expect(w.completions()).toMatchObject([
        { op: 'insert', authorId: '1', retracted: true, followersDelivered: 500 },
      ]);
      expect(w.completions()[0]).not.toHaveProperty('moved');
      await w.worker.close();
    },
  );

  it(
    'a move that read the record before the upsert ahead of it recorded its author: that upsert finds the newer author as it ends and takes its rows back',
    { timeout: 10_000 },
    async () => {
      const w = world();
      const id = newId();
      // The insert's record of its author waits until the move has recorded the new one.
      let release!: () => void;
      const held = new Promise<void>((r) => {
        release = r;
      });
      const put = w.authors.put.bind(w.authors);
      w.authors.put = async (tweetId, authorId, ...rest) => {
        if (authorId === OLD) await held;
        return put(tweetId, authorId, ...rest);
      };
      w.source.push(0, upsert(id, OLD, 100n, 'insert'));
      w.source.push(0, upsert(id, NEW, 200n));
      void w.worker.start();
      await within(5_000, 'the new author recorded', async () =>
        (await w.authors.get(id)) === NEW ? true : undefined,
      );
      release();
      await w.committed(0, 2n);
      expect(w.timelines.holders(id).sort()).toEqual([...BOTH, ...NEW_ONLY]);
      expect(w.completions()).toMatchObject([
        { authorId: '1', retracted: true, followersDelivered: 500 },
        { authorId: '3', followersDelivered: 200 },
      ]);
      expect(w.completions()[1]).not.toHaveProperty('moved'); // it saw no older author
      await w.worker.close();
    },
  );

  it(
    'UPDATE … USING TTL of the same author re-delivers with the new expiry; a body-only update changes nothing',
    { timeout: 10_000 },
    async () => {
      const w = world();
      const id = newId();
      const t0 = BigInt(Date.now()) * 1_000n;
      w.source.push(0, { ...upsert(id, NEW, t0, 'insert', 60), ttl: 60, expiresAt: 1_000 });
      w.source.push(0, upsert(id, NEW, t0 + 1_000_000n, 'update', 3_600));
      const bodyOnly = upsert(id, NEW, t0 + 2_000_000n);
      w.source.push(0, { ...bodyOnly, columns: { body: bodyOnly.columns.body } });
      void w.worker.start();
      await w.committed(0, 3n);
      const expiry = Number(t0 / 1_000_000n) + 1 + 3_600;
      const cells = [...BOTH, ...NEW_ONLY].map((u) => w.timelines.cells.get(u)!.get(id)!);
      expect(new Set(cells.map((c) => `${c.live}@${c.ts} until ${c.expiresAt}`))).toEqual(
        new Set([`true@${t0 + 1_000_000n} until ${expiry}`]),
      );
      expect(w.authors.expiries.get(id)).toBe(expiry);
      expect(w.completions().map((c) => [c.followersDelivered, c.moved])).toEqual([
        [200, undefined],
        [200, undefined],
      ]); // the body-only update: no completion, its offset committed in order
      await w.worker.close();
    },
  );

  it(
    'a move to an author past the split threshold is delivered whole (its completion is its own)',
    {
      timeout: 10_000,
    },
    async () => {
      const cfg = loadConfig({
        env: {},
        sets: [...FAKE_SETS, 'pipeline.splitThreshold=150', 'pipeline.splitTaskSize=100'],
      });
      const w = world({ cfg });
      const workSink = new FakeSink();
      // A second worker over the same fakes with a work topic: it may split, a move it must not.
      const worker = new Worker({
        config: cfg,
        workerId: 'w2',
        log: createLogger('error'),
        ports: {
          source: w.source,
          sink: w.sink,
          followers: w.followers,
          timelines: w.timelines,
          authors: w.authors,
          readCheckpoints: async () => [],
          work: { source: new FakeSource([]), sink: workSink, readCheckpoints: async () => [] },
        },
      });
      const id = newId();
      await w.authors.put(id, OLD, 100n);
      w.source.push(0, upsert(id, NEW, 200n));
      const fresh = newId();
      w.source.push(0, upsert(fresh, NEW, 200n, 'insert'));
      void worker.start();
      await w.committed(0, 2n);
      expect(
        w.sink.records(cfg.topics.tasks).map((r) => (JSON.parse(r.value!) as Done).tweetId),
      ).not.toContain(id);
      expect(w.sink.records(cfg.topics.tasks).length).toBeGreaterThan(0); // the fresh tweet split
      expect(w.completions()).toMatchObject([{ tweetId: id, moved: { from: '1' } }]);
      expect(w.timelines.holders(id).sort()).toEqual([...BOTH, ...NEW_ONLY]);
      await worker.close();
    },
  );
});
