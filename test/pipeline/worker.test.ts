import { randomBytes } from 'node:crypto';
import { metrics } from '@opentelemetry/api';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/index.ts';
import { withTimeout } from '../../lib/errors.ts';
import { currentGauges, TIMELINE_TRIMS_QUEUED } from '../../lib/metrics.ts';
import { createLogger } from '../../lib/log.ts';
import type { TimelineStore } from '../../ports/stores.ts';
import type { StateReader, StateRecord } from '../../ports/streams.ts';
import { CappedTimelines } from '../../pipeline/cap.ts';
import { Worker } from '../../pipeline/worker.ts';
import {
  FAKE_SETS,
  FakeSink,
  FakeSource,
  MemoryAuthors,
  MemoryClaims,
  MemoryFollowers,
  MemoryTimelines,
  permanent,
  retriable,
} from './fakes.ts';
import { tweetEvent, within } from './fixtures.ts';
import { rowCredit } from '../../pipeline/bounds.ts';
import { checkpointRecord } from '../../records/checkpoint.ts';
import { checkpointTopic } from '../support/topics.ts';

// Pure-logic tests of the worker over in-memory fakes of its ports (the same scenarios run
// against real Kafka and Cassandra in *.int.test.ts).
const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));

const sets = [...FAKE_SETS, 'pipeline.shutdownTimeoutMs=5000'];
const config = loadConfig({ env: {}, sets });
const log = createLogger('error');
const ids = (from: number, n: number): bigint[] =>
  Array.from({ length: n }, (_, i) => BigInt(from + i));
let seq = 0;
const tweetId = (): string => `00000000-0000-1000-8000-${String(++seq).padStart(12, '0')}`;

function world(
  options: {
    restored?: StateRecord[];
    config?: typeof config;
    claims?: MemoryClaims;
    partitions?: number[];
    readCheckpoints?: StateReader;
    timelines?: (memory: MemoryTimelines) => TimelineStore;
  } = {},
) {
  const cfg = options.config ?? config;
  const source = new FakeSource(options.partitions);
  const sink = new FakeSink();
  const followers = new MemoryFollowers();
  const timelines = new MemoryTimelines();
  const authors = new MemoryAuthors();
  followers.set(1n, ids(1_000, 500));
  followers.set(2n, ids(1_000, 3));
  const worker = new Worker({
    config: cfg,
    workerId: 'w',
    log,
    ports: {
      source,
      sink,
      followers,
      timelines: options.timelines?.(timelines) ?? timelines,
      authors,
      readCheckpoints: options.readCheckpoints ?? (async () => options.restored ?? []),
      ...(options.claims ? { claims: options.claims } : {}),
    },
  });
  const insert = (partition: number, author: bigint, id = tweetId()) => {
    source.push(partition, tweetEvent(config, 'insert', id, author, 1_000n + BigInt(seq)));
    return id;
  };
  const completions = () =>
    sink.records(config.topics.completed).map(
      (r) =>
        JSON.parse(r.value!) as {
          tweetId: string;
          followersDelivered: number;
          resumed: boolean;
          op: string;
          source: { offset: string };
        },
    );
  return { source, sink, followers, timelines, authors, worker, insert, completions };
}

describe('Worker (fakes)', () => {
  it('consumer lag: the marker ending each transaction is not a record behind; a record in flight is', async () => {
    const gate = { hold: Promise.resolve() };
    const w = world({
      timelines: (memory) => ({
        write: async (m) => {
          await gate.hold;
          await memory.write(m);
        },
        read: (u, n) => memory.read(u, n),
        trim: async (users, keep) => memory.trim(users, keep),
      }),
    });
    void w.worker.start();
    // As the connector writes them: each partition's records end with a commit marker.
    for (const p of [0, 1]) {
      w.insert(p, 2n);
      w.source.marker(p);
    }
    const committed = (): true | undefined =>
      w.completions().length === 2 && w.worker.status().uncommitted === 0 ? true : undefined;
    await within(5_000, 'both committed', committed, 1);
    expect(w.source.highWatermark(0)).toBe(2n); // the record and its marker
    expect(w.worker.status().consumerLag).toBe(0);

    let release = (): void => undefined;
    gate.hold = new Promise((r) => (release = r));
    w.insert(2, 2n);
    w.source.marker(2);
    await within(
      5_000,
      'in flight',
      () => (w.worker.status().inFlight.length === 1 ? true : undefined),
      1,
    );
    expect(w.worker.status().consumerLag).toBe(2); // its partition is read in offsets until it commits
    release();
    await within(
      5_000,
      'all committed',
      () =>
        w.completions().length === 3 && w.worker.status().uncommitted === 0 ? true : undefined,
      1,
    );
    expect(w.worker.status().consumerLag).toBe(0);
    await w.worker.close();
  });

  it('close waits for the trims its last batches queued (the caller shuts the client down next)', async () => {
    const held: Array<() => void> = [];
    let releasing = false; // once true, trims (the next group's too) run at once
    const w = world({
      timelines: (memory) =>
        new CappedTimelines(
          {
            write: (m) => memory.write(m),
            read: (u, n) => memory.read(u, n),
            trim: (users, keep) =>
              releasing
                ? memory.trim(users, keep)
                : new Promise<bigint[]>((resolve) =>
                    held.push(() => resolve(memory.trim(users, keep))),
                  ),
          },
          { maxEntries: 800, trimEvery: 1 },
        ),
    });
    void w.worker.start();
    w.insert(0, 2n);
    await within(5_000, 'completed', () => (w.completions().length === 1 ? true : undefined), 1);
    await within(5_000, 'trims queued', () => (held.length > 0 ? true : undefined), 1);
    // The worker reports its trims queued (fanout_timeline_trims_queued) until it is closed.
    const queued = (): number[] =>
      currentGauges()
        .filter((g) => g.gauge === TIMELINE_TRIMS_QUEUED)
        .flatMap((g) => g.points)
        .filter((p) => p.attributes['fanout.worker'] === w.worker.workerId)
        .map((p) => p.value);
    expect(queued()).toHaveLength(1);
    let closed = false;
    const closing = w.worker.close().then(() => (closed = true));
    await within(5_000, 'lanes closed', () => (w.worker.state === 'stopped' ? true : undefined), 1);
    expect(closed).toBe(false);
    releasing = true;
    while (held.length > 0) held.shift()!();
    await closing;
    expect(closed).toBe(true);
    expect(queued()).toEqual([]);
  });

  it(
    'partitions revoked while their checkpoints are being read: given up at once, the read cancelled once none is wanted, never taken up; the others flow',
    { timeout: 10_000 },
    async () => {
      // Checkpoint reads of partitions 1 and 2 wait (as behind a dead worker's open transaction)
      // until released; like readToEnd, a read rejects when cancelled.
      const reads: Array<{
        partitions: readonly number[];
        signal: AbortSignal;
        release: () => void;
      }> = [];
      const readCheckpoints: StateReader = (partitions, signal) =>
        partitions.includes(0)
          ? Promise.resolve([])
          : new Promise((resolve, reject) => {
              reads.push({ partitions, signal: signal!, release: () => resolve([]) });
              signal!.addEventListener('abort', () => reject(new Error('read cancelled')), {
                once: true,
              });
            });
      const w = world({ partitions: [0], readCheckpoints });
      const run = w.worker.start();
      await within(5_000, 'running', () => (w.worker.state === 'running' ? true : undefined), 1);
      const one = w.source.assign([1]);
      const twoAndThree = w.source.assign([2, 3]);
      await within(
        5_000,
        'restoring',
        () => (w.worker.status().restoring.partitions.length === 3 ? true : undefined),
        1,
      );
      await reader.forceFlush(); // the gauge operators watch
      const gauge = exporter
        .getMetrics()
        .at(-1)!
        .scopeMetrics.flatMap((sm) => sm.metrics)
        .find((m) => m.descriptor.name === 'fanout_partitions_restoring');
      expect(gauge?.dataPoints.find((d) => d.attributes['fanout.worker'] === 'w')?.value).toBe(3);
      const id = w.insert(0, 2n); // the partition already owned keeps flowing meanwhile
      await within(
        5_000,
        'completed on partition 0',
        () => (w.completions().some((c) => c.tweetId === id) ? true : undefined),
        1,
      );

      await withTimeout(w.source.revoke([1]), 1_000, 'a revocation waited for a restore');
      expect(reads[0]!.signal.aborted).toBe(true); // nothing of it wanted: cancelled
      await one;
      await withTimeout(w.source.revoke([2]), 1_000, 'a revocation waited for a restore');
      expect(reads[1]!.signal.aborted).toBe(false); // partition 3 is still wanted
      expect(w.worker.status().restoring.partitions).toEqual([3]);
      reads[1]!.release();
      await twoAndThree;
      expect(w.worker.status().partitions).toEqual([0, 3]); // 1 and 2 never taken up
      expect(w.worker.status().restoring.partitions).toEqual([]);
      const later = w.insert(3, 2n);
      await within(
        5_000,
        'completed on partition 3',
        () => (w.completions().some((c) => c.tweetId === later) ? true : undefined),
        1,
      );
      await w.worker.close();
      await run;
    },
  );

  it(
    'replica copies of one write (same eventId): the first copy to claim it fans out and completes; the others commit with no output',
    { timeout: 10_000 },
    async () => {
      const claims = new MemoryClaims();
      const w = world({ claims });
      const id = tweetId();
      const event = tweetEvent(config, 'insert', id, 1n, 5_000n);
      for (let i = 0; i < 3; i++) w.source.push(0, event); // one copy per replica, same key: same partition
      const other = w.insert(0, 2n); // a different write behind them
      const run = w.worker.start();
      await within(
        5_000,
        'all four records committed',
        () => (w.sink.offset(0) === 4n ? true : undefined),
        1,
      );
      expect(w.completions().map((c) => [c.tweetId, c.followersDelivered])).toEqual([
        [id, 500],
        [other, 3],
      ]);
      expect(w.timelines.rows).toBe(503); // the copies wrote nothing
      expect(claims.held.get(`${id}/insert/5000`)).toBe(`${w.source.topic}/0/0`);
      await w.worker.close();
      await run;
    },
  );

  it(
    'a write a replica logged again with other bytes (a read repair: its own eventId, only the columns read, the same write time) is a copy, not a second change',
    { timeout: 10_000 },
    async () => {
      const claims = new MemoryClaims();
      const w = world({ claims });
      const id = tweetId();
      const write = tweetEvent(config, 'insert', id, 1n, 5_000n);
      const { body: _body, created_at: _created, ...read } = write.columns;
      const repair = { ...write, columns: read, eventId: randomBytes(16).toString('hex') };
      w.source.push(0, write);
      w.source.push(0, repair);
      const rewrite = tweetEvent(config, 'insert', id, 1n, 6_000n); // a later write: a change
      w.source.push(0, rewrite);
      const run = w.worker.start();
      await within(
        5_000,
        'all three records committed',
        () => (w.sink.offset(0) === 3n ? true : undefined),
        1,
      );
      expect(w.completions().map((c) => [c.tweetId, c.source.offset])).toEqual([
        [id, '0'],
        [id, '2'],
      ]);
      await w.worker.close();
      await run;
    },
  );

  it(
    'a copy redone after a crash finds its own claim and fans out; a copy behind it is skipped',
    { timeout: 10_000 },
    async () => {
      const claims = new MemoryClaims();
      const w = world({ claims });
      const id = tweetId();
      const event = tweetEvent(config, 'insert', id, 2n, 5_000n);
      claims.held.set(`${id}/insert/5000`, `${w.source.topic}/0/0`); // claimed by offset 0 before the crash, not committed
      w.source.push(0, event);
      w.source.push(0, event);
      const run = w.worker.start();
      await within(
        5_000,
        'both records committed',
        () => (w.sink.offset(0) === 2n ? true : undefined),
        1,
      );
      expect(w.completions().map((c) => c.tweetId)).toEqual([id]);
      expect(w.timelines.rows).toBe(3);
      await w.worker.close();
      await run;
    },
  );

  it(
    "a replica's late copy of an upsert older than the tweet's move, after the partition changed hands, leaves the delete behind it to the recorded author",
    { timeout: 10_000 },
    async () => {
      const claims = new MemoryClaims();
      const w = world({ claims, partitions: [0] });
      w.followers.set(3n, ids(5_000, 4));
      const run = w.worker.start();
      // The insert by author 2, then its move to author 3: both fanned out and committed.
      const id = tweetId();
      const first = tweetEvent(config, 'insert', id, 2n, 5_000n);
      w.source.push(0, first);
      w.source.push(0, tweetEvent(config, 'insert', id, 3n, 6_000n));
      await within(5_000, 'both', () => (w.sink.offset(0) === 2n ? true : undefined), 1);
      // The partition is given up and taken back (a restart, a rebalance): nothing remembered.
      await w.source.revoke([0]);
      await w.source.assign([0]);
      // A node that was down sends its copy of the first insert; then the tweet is deleted.
      w.source.push(0, { ...first, eventId: randomBytes(16).toString('hex') });
      w.source.push(0, tweetEvent(config, 'delete_partition', id, null, 7_000n));
      await within(5_000, 'all four', () => (w.sink.offset(0) === 4n ? true : undefined), 1);
      expect(w.completions().map((c) => c.op)).toEqual(['insert', 'insert', 'delete']);
      expect(w.completions()[2]).toMatchObject({ authorId: '3', followersDelivered: 4 });
      expect(w.timelines.holders(id)).toEqual([]);
      await w.worker.close();
      await run;
    },
  );

  it(
    'a CDC topic with more partitions than topics.cdcPartitions (added since): a tweet of partition 2 of 2 completes on a partition fanout.completed has',
    { timeout: 10_000 },
    async () => {
      const two = loadConfig({ env: {}, sets: [...sets, 'topics.cdcPartitions=2'] });
      const w = world({ config: two, partitions: [0, 1, 2] });
      const run = w.worker.start();
      const id = w.insert(2, 2n);
      await within(5_000, 'completed', () => (w.completions().length === 1 ? true : undefined), 1);
      const [done] = w.sink.records(two.topics.completed);
      expect(done).toMatchObject({ key: id, partition: 0 }); // fanout.completed has partitions 0 and 1
      expect(w.completions()[0]!.source).toMatchObject({ partition: 2 });
      await w.worker.close();
      await run;
    },
  );

  it(
    'a copy and an orphan delete finished behind a tweet still under way carry no checkpoint: restarted before its commit, neither completes, the orphan is dead-lettered once',
    { timeout: 10_000 },
    async () => {
      const claims = new MemoryClaims();
      const w = world({ claims });
      let release!: () => void;
      w.timelines.gate = new Promise((r) => {
        release = r;
      });
      const slow = tweetEvent(config, 'insert', tweetId(), 1n, 4_000n); // 500 followers
      const copied = tweetId();
      const copy = tweetEvent(config, 'insert', copied, 2n, 5_000n);
      claims.held.set(`${copied}/insert/5000`, 'elsewhere/0/9'); // another replica's copy
      const orphan = tweetId();
      const unknown = tweetEvent(config, 'delete_partition', orphan, null, 6_000n);
      const events = [slow, copy, unknown];
      for (const e of events) w.source.push(0, e);
      const run = w.worker.start();
      // The orphan marks itself before it finds no author; the copy was decided before it.
      await within(5_000, 'the orphan decided', async () =>
        (await w.authors.deletedSince(orphan, 6_000n)) ? true : undefined,
      );
      release();
      await within(5_000, 'all three committed', () =>
        w.sink.offset(0) === 3n ? true : undefined,
      );
      await w.worker.close();
      await run;
      // A restart from what was committed before offset 0 was (a SIGKILL then).
      const cut = w.sink.committed.findIndex((t) => t.offsets.some((o) => o.offset >= 1n));
      const topic = config.topics.checkpoints;
      const state: StateRecord[] = w.sink.committed
        .slice(0, cut)
        .flatMap((t) => t.records.filter((r) => r.topic === topic))
        .map((r, i) => ({
          partition: r.partition ?? 0,
          offset: i,
          key: r.key,
          value: r.value === null ? null : Buffer.from(r.value),
        }));
      expect(state.length, 'progress checkpoints of the slow tweet').toBeGreaterThan(0);
      const again = world({ claims, restored: state });
      for (const e of events) again.source.push(0, e);
      const rerun = again.worker.start();
      await within(5_000, 'all three committed again', () =>
        again.sink.offset(0) === 3n ? true : undefined,
      );
      expect(again.completions().map((c) => c.tweetId)).toEqual([slow.key.tweet_id]);
      const dead = again.sink
        .records(config.topics.deadLetter)
        .map((r) => JSON.parse(r.value!) as { reason: { code: string } });
      expect(dead.map((d) => d.reason.code)).toEqual(['unknown-author']);
      await again.worker.close();
      await rerun;
    },
  );

  it(
    'a delete after its partition was given up and taken back asks tweet_authors: the tweet may have moved meanwhile',
    { timeout: 10_000 },
    async () => {
      const w = world({ partitions: [0] });
      const run = w.worker.start();
      const id = w.insert(0, 2n);
      await within(5_000, 'the insert', () => (w.completions().length === 1 ? true : undefined));
      await w.source.revoke([0]);
      // Another worker owned partition 0 meanwhile and moved the tweet to author 1.
      await w.authors.put(id, 1n, 900_000n);
      await w.source.assign([0]);
      w.source.push(0, tweetEvent(config, 'delete_partition', id, null, 1_000_000n));
      await within(5_000, 'the delete', () => (w.completions().length === 2 ? true : undefined));
      const completed = w.sink
        .records(config.topics.completed)
        .map(
          (r) =>
            JSON.parse(r.value!) as { op: string; authorId: string; followersDelivered: number },
        );
      expect(completed[1]).toMatchObject({ op: 'delete', authorId: '1', followersDelivered: 500 });
      await w.worker.close();
      await run;
    },
  );

  it(
    'a checkpoint read back that its record does not take up (another tweet’s) is tombstoned with the record’s commit',
    { timeout: 10_000 },
    async () => {
      const topic = checkpointTopic(config);
      const stale = checkpointRecord(
        topic,
        { topic: 'cdc.ks.tweets', partition: 0, offset: 0n },
        {
          tweetId: tweetId(), // not the tweet at offset 0
          op: 'insert',
          authorId: 2n,
          writeTime: 1n,
          cursor: null,
          delivered: 0,
          total: null,
          startedAt: Date.now(),
          done: false,
          finishedAt: null,
        },
      );
      const w = world({
        partitions: [0],
        restored: [{ partition: 0, offset: 0, key: stale.key, value: Buffer.from(stale.value!) }],
      });
      const run = w.worker.start();
      w.insert(0, 2n);
      await within(5_000, 'committed', () => (w.sink.offset(0) === 1n ? true : undefined));
      const written = w.sink.records(topic.name).filter((r) => r.key === stale.key);
      expect(written.map((r) => r.value)).toEqual([null]);
      await w.worker.close();
      await run;
    },
  );

  it(
    'takes no more tweets than maxInFlightTweets: the source pauses until they drain',
    { timeout: 10_000 },
    async () => {
      const w = world();
      let release!: () => void;
      w.timelines.gate = new Promise((r) => {
        release = r;
      });
      const tweets = Array.from({ length: 6 }, () => w.insert(0, 2n));
      const run = w.worker.start();
      await within(
        5_000,
        'two tweets in flight',
        () => (w.worker.status().inFlight.length === 2 ? true : undefined),
        1,
      );
      await within(5_000, 'source paused', () => (w.source.paused ? true : undefined), 1);
      expect(w.source.delivered).toBe(2);
      release();
      await within(
        5_000,
        'all completed',
        () => (w.completions().length === 6 ? true : undefined),
        5,
      );
      expect(w.completions().map((c) => c.tweetId)).toEqual(tweets);
      expect(w.sink.offset(0)).toBe(6n);
      await withTimeout(w.worker.close(), 5_000, 'close hung');
      await run;
      expect(w.worker.state).toBe('stopped');
    },
  );

  it(
    'commits offsets in order only past finished tweets; each completion goes out once, with its offset',
    { timeout: 10_000 },
    async () => {
      const w = world();
      let release!: () => void;
      w.timelines.gate = new Promise((r) => {
        release = r;
      });
      const big = w.insert(0, 1n);
      const small = w.insert(0, 2n);
      const none = w.insert(0, 3n); // no followers
      void w.worker.start();
      await within(
        5_000,
        'the follower-less tweet finished behind the big one',
        () => (w.worker.status().inFlight.length === 2 ? true : undefined),
        1,
      );
      expect(w.sink.offset(0)).toBeUndefined(); // offset 0 is in flight: nothing may be committed
      release();
      await within(
        5_000,
        'all completed',
        () => (w.completions().length === 3 ? true : undefined),
        5,
      );
      expect(w.completions().map((c) => [c.tweetId, c.followersDelivered])).toEqual([
        [big, 500],
        [small, 3],
        [none, 0],
      ]);
      // Every transaction that carried completions also moved the offset past them.
      for (const tx of w.sink.committed) {
        if (tx.records.some((r) => r.topic === config.topics.completed))
          expect(tx.offsets.length).toBeGreaterThan(0);
      }
      const offsets = w.sink.committed.flatMap((t) => t.offsets.map((o) => o.offset));
      expect(offsets).toEqual([...offsets].sort((a, b) => (a < b ? -1 : 1)));
      expect(w.timelines.holders(big)).toHaveLength(500);
      await w.worker.close();
    },
  );

  it(
    'keeps follower rows in memory within the row credit, and checkpoints a long fan-out as it goes',
    { timeout: 10_000 },
    async () => {
      const w = world();
      let peak = 0;
      const write = w.timelines.write.bind(w.timelines);
      w.timelines.write = async (m) => {
        peak = Math.max(peak, w.worker.status().rowsOutstanding);
        return write(m);
      };
      const big = w.insert(0, 1n);
      void w.worker.start();
      await within(5_000, 'completed', () => (w.completions().length === 1 ? true : undefined), 5);
      expect(peak).toBeGreaterThan(0);
      expect(peak).toBeLessThanOrEqual(rowCredit(config.pipeline)); // 2 × 10 in flight + a page of 50
      const checkpoints = w.sink
        .records(config.topics.checkpoints)
        .filter((r) => r.value !== null)
        .map((r) => JSON.parse(r.value!) as { delivered: number });
      expect(checkpoints.length).toBeGreaterThan(5);
      for (const [i, cp] of checkpoints.entries()) {
        if (i > 0) expect(cp.delivered - checkpoints[i - 1]!.delivered).toBeLessThanOrEqual(40); // read-ahead: checkpointEvery × batchSize
      }
      expect(w.sink.records(config.topics.checkpoints).at(-1)).toMatchObject({
        key: `${w.source.topic}/0/0`,
        value: null,
      });
      expect(w.timelines.holders(big)).toHaveLength(500);
      await w.worker.close();
    },
  );

  it('retries retriable write errors, counting them', { timeout: 10_000 }, async () => {
    const w = world();
    w.timelines.failures.push(retriable(), retriable());
    w.insert(1, 2n);
    void w.worker.start();
    await within(5_000, 'completed', () => (w.completions().length === 1 ? true : undefined), 5);
    expect(w.worker.status().totals.retries).toBe(2);
    await w.worker.close();
  });

  it(
    'fails loudly on a non-retriable write error: start() rejects, state failed, everything closed, nothing committed past it',
    { timeout: 10_000 },
    async () => {
      const w = world();
      w.timelines.failures.push(permanent('unconfigured table'));
      w.insert(1, 2n);
      await expect(withTimeout(w.worker.start(), 5_000, 'hung')).rejects.toThrow(
        /unconfigured table/,
      );
      expect(w.worker.state).toBe('failed');
      expect(w.source.closed && w.sink.closed).toBe(true);
      expect(w.sink.offset(1)).toBeUndefined();
      await w.worker.close(); // still safe
    },
  );

  it(
    'on revoke: stops paging, lets in-flight batches land, commits the exact cursor, forgets the partition',
    { timeout: 10_000 },
    async () => {
      const w = world();
      w.timelines.delayMs = 2;
      const big = w.insert(0, 1n);
      void w.worker.start();
      await within(
        5_000,
        'under way',
        () => ((w.worker.status().inFlight[0]?.delivered ?? 0) >= 100 ? true : undefined),
        1,
      );
      await withTimeout(w.source.revoke([0]), 5_000, 'revoke hung');
      expect(w.worker.status().partitions).toEqual([1, 2]);
      expect(w.worker.status().inFlight).toEqual([]);
      const last = w.sink.records(config.topics.checkpoints).at(-1)!;
      const cp = JSON.parse(last.value!) as { delivered: number; cursor: string; done: boolean };
      expect(cp.done).toBe(false);
      expect(w.timelines.holders(big)).toHaveLength(cp.delivered); // nothing written past the checkpoint
      expect(BigInt(cp.cursor)).toBe(999n + BigInt(cp.delivered));
      expect(w.completions()).toEqual([]);
      expect(w.sink.offset(0)).toBeUndefined();
      await w.worker.close();
    },
  );

  it(
    'on a lost assignment (session expired): forgets the partition at once and commits nothing for it',
    { timeout: 10_000 },
    async () => {
      const w = world();
      w.timelines.delayMs = 2;
      w.insert(0, 1n);
      void w.worker.start();
      await within(
        5_000,
        'under way',
        () => ((w.worker.status().inFlight[0]?.delivered ?? 0) >= 100 ? true : undefined),
        1,
      );
      const before = w.sink.committed.length;
      await withTimeout(w.source.revoke([0], true), 1_000, 'a lost revoke must not wait');
      expect(w.sink.committed.length).toBe(before);
      expect(w.worker.status()).toMatchObject({ partitions: [1, 2], inFlight: [] });
      await w.worker.close();
      expect(w.sink.offset(0)).toBeUndefined();
      expect(w.completions()).toEqual([]);
    },
  );

  it(
    'restores checkpoints on assignment and resumes each tweet from its cursor',
    { timeout: 10_000 },
    async () => {
      const id = tweetId();
      const cp = checkpointRecord(
        checkpointTopic(config),
        { topic: 'cdc.ks.tweets', partition: 0, offset: 0n },
        {
          tweetId: id,
          op: 'insert',
          authorId: 1n,
          writeTime: 7n,
          cursor: 1_299n,
          delivered: 300,
          total: 500,
          startedAt: Date.now() - 1_000,
          done: false,
          finishedAt: null,
        },
      );
      const w = world({
        restored: [{ partition: 0, offset: 0, key: cp.key, value: Buffer.from(cp.value!) }],
      });
      w.insert(0, 1n, id);
      void w.worker.start();
      await within(5_000, 'completed', () => (w.completions().length === 1 ? true : undefined), 5);
      expect(w.completions()[0]).toMatchObject({
        tweetId: id,
        followersDelivered: 500,
        resumed: true,
      });
      expect(w.timelines.rows).toBe(200); // only followers after the cursor
      expect(w.timelines.holders(id)).toEqual(ids(1_300, 200));
      await w.worker.close();
    },
  );

  it(
    'retracts a delete using the recorded author; a delete of an unknown tweet is dead-lettered',
    { timeout: 10_000 },
    async () => {
      const w = world();
      const known = tweetId();
      w.authors.authors.set(known, 2n);
      w.source.push(2, tweetEvent(config, 'delete_partition', known, null, 50n));
      const unknown = tweetId();
      w.source.push(2, tweetEvent(config, 'delete_partition', unknown, null, 50n));
      await w.timelines.write(
        ids(1_000, 3).map((u) => ({
          op: 'insert',
          userId: u,
          tweetId: known,
          authorId: 2n,
          writeTimeMicros: 40n,
        })),
      );
      void w.worker.start();
      await within(5_000, 'committed', () => (w.sink.offset(2) === 2n ? true : undefined), 5);
      expect(w.completions()).toMatchObject([
        { tweetId: known, op: 'delete', followersDelivered: 3 },
      ]);
      expect(w.timelines.holders(known)).toEqual([]);
      const dead = w.sink
        .records(config.topics.deadLetter)
        .map((r) => JSON.parse(r.value!) as { reason: { code: string } });
      expect(dead.map((d) => d.reason.code)).toEqual(['unknown-author']);
      // Marked all the same: an insert of it still in flight somewhere takes its rows back as it ends.
      expect(await w.authors.deletedSince(unknown, 50n)).toBe(true);
      await w.worker.close(); // waits for the author record's delete
      // The delivered delete's author record is gone, at the delete's write time: a replayed
      // (older) insert cannot bring it back, a later one can.
      expect(w.authors.authors.has(known)).toBe(false);
      await w.authors.put(known, 2n, 49n);
      expect(w.authors.authors.has(known)).toBe(false);
      await w.authors.put(known, 2n, 51n);
      expect(w.authors.authors.get(known)).toBe(2n);
    },
  );

  it(
    'an INSERT that names no author: an edit of a recorded tweet (or one upserted just before it) does nothing; of an unknown tweet, a dead letter',
    { timeout: 10_000 },
    async () => {
      const w = world();
      const unauthored = (id: string, at: bigint) => ({
        ...tweetEvent(config, 'insert', id, null, at),
        columns: { body: { value: 'edited', ts: String(at) } },
      });
      const recorded = tweetId();
      w.authors.authors.set(recorded, 2n);
      w.source.push(1, unauthored(recorded, 60n)); // read from tweet_authors
      const upserted = w.insert(1, 2n);
      w.source.push(1, unauthored(upserted, 2_000_000n)); // its upsert may not have recorded it yet
      const unknown = tweetId();
      w.source.push(1, unauthored(unknown, 70n));
      void w.worker.start();
      await within(5_000, 'committed', () => (w.sink.offset(1) === 4n ? true : undefined), 5);
      expect(w.completions().map((c) => c.tweetId)).toEqual([upserted]);
      expect(w.timelines.holders(recorded)).toEqual([]);
      expect(w.timelines.holders(upserted)).toHaveLength(3);
      const dead = w.sink
        .records(config.topics.deadLetter)
        .map((r) => JSON.parse(r.value!) as { reason: { code: string; message: string } });
      expect(dead.map((d) => d.reason.code)).toEqual(['missing-author']);
      expect(dead[0]!.reason.message).toContain(unknown);
      await w.worker.close();
    },
  );

  it(
    "a follow between a delete's reads and its insert's: the insert, ending after the delete was taken, takes its rows back",
    { timeout: 10_000 },
    async () => {
      const w = world();
      // The insert's first follower read is held until the test lets it go; the delete's are not.
      let release!: () => void;
      const held = new Promise<void>((r) => {
        release = r;
      });
      let reads = 0;
      w.followers.beforePage = () => (++reads === 1 ? held : Promise.resolve());
      const id = tweetId();
      w.source.push(0, tweetEvent(config, 'insert', id, 1n, 100n));
      void w.worker.start();
      await within(
        5_000,
        "the insert's first read held",
        () => (reads === 1 ? true : undefined),
        1,
      );
      w.source.push(0, tweetEvent(config, 'delete_partition', id, null, 200n)); // its author: remembered from the insert
      // The delete reads all 500 followers and writes its tombstones while the insert waits ...
      await within(
        5_000,
        'the delete delivered',
        () => (w.timelines.rows === 500 ? true : undefined),
        2,
      );
      // ... then someone follows the author, and only then does the insert read its followers.
      await w.followers.add(1n, [5_000n]);
      release();
      await within(5_000, 'both committed', () => (w.sink.offset(0) === 2n ? true : undefined), 5);
      expect(w.timelines.holders(id)).toEqual([]); // without the retraction: [5000n]
      expect(w.timelines.cells.get(5_000n)?.get(id)).toMatchObject({ live: false, ts: 100n }); // taken back at the insert's own write time
      const done = w.sink
        .records(config.topics.completed)
        .map(
          (r) =>
            JSON.parse(r.value!) as { op: string; followersDelivered: number; retracted?: boolean },
        );
      expect(done).toMatchObject([
        { op: 'insert', followersDelivered: 501, retracted: true },
        { op: 'delete', followersDelivered: 500 },
      ]);
      expect(done[1]!.retracted).toBeUndefined();
      expect(w.timelines.rows).toBe(500 + 501 + 501); // the delete; the insert; its retraction
      await w.worker.close();
    },
  );

  it(
    'a delete that read the followers under a previous owner (its mark in tweet_authors) makes the insert resumed here take its rows back',
    { timeout: 10_000 },
    async () => {
      const id = tweetId();
      // The previous owner had the insert half done (a checkpoint) and the delete marked and under
      // way; here the insert resumes and ends before this worker takes the delete (not pushed).
      const cp = checkpointRecord(
        checkpointTopic(config),
        { topic: 'cdc.ks.tweets', partition: 0, offset: 0n },
        {
          tweetId: id,
          op: 'insert',
          authorId: 1n,
          writeTime: 100n,
          cursor: 1_249n,
          delivered: 250,
          total: 500,
          startedAt: Date.now() - 1_000,
          done: false,
          finishedAt: null,
        },
      );
      const w = world({
        restored: [{ partition: 0, offset: 0, key: cp.key, value: Buffer.from(cp.value!) }],
      });
      await w.authors.markDeleted(id, 200n);
      w.source.push(0, tweetEvent(config, 'insert', id, 1n, 100n));
      void w.worker.start();
      await within(
        5_000,
        'the insert completed',
        () => (w.completions().length === 1 ? true : undefined),
        5,
      );
      expect(w.completions()[0]).toMatchObject({
        tweetId: id,
        op: 'insert',
        resumed: true,
        followersDelivered: 500,
        retracted: true,
      });
      expect(w.timelines.holders(id)).toEqual([]);
      expect(w.timelines.rows).toBe(250 + 500); // the rest of the insert; its retraction from the first follower
      await w.worker.close();
    },
  );

  it(
    'an insert asks whether it was deleted while its last rows are written, finishes only with the answer, and a graceful stop waits for it',
    { timeout: 10_000 },
    async () => {
      const w = world();
      let answer!: () => void;
      const asked = new Promise<void>((r) => {
        answer = r;
      });
      let asking = 0;
      const deletedSince = w.authors.deletedSince.bind(w.authors);
      w.authors.deletedSince = async (...args) => {
        asking++;
        await asked;
        return deletedSince(...args);
      };
      let land!: () => void;
      w.timelines.gate = new Promise((r) => {
        land = r;
      });
      const id = w.insert(0, 2n);
      void w.worker.start();
      await within(
        5_000,
        'asked with its rows still in flight',
        () => (asking === 1 ? true : undefined),
        1,
      );
      expect(w.timelines.rows).toBe(0);
      land();
      await within(5_000, 'its rows written', () => (w.timelines.rows === 3 ? true : undefined), 1);
      expect(w.sink.offset(0)).toBeUndefined(); // not finished without the answer
      const closing = w.worker.close();
      answer();
      await withTimeout(closing, 5_000, 'close hung');
      expect(w.completions()).toMatchObject([{ tweetId: id, followersDelivered: 3 }]);
      expect(w.sink.offset(0)).toBe(1n);
    },
  );

  it(
    "an insert that ended before its delete was taken is not taken back (the delete's reads come after it)",
    { timeout: 10_000 },
    async () => {
      const w = world();
      const id = tweetId();
      w.source.push(0, tweetEvent(config, 'insert', id, 2n, 100n));
      void w.worker.start();
      await within(
        5_000,
        'insert committed',
        () => (w.sink.offset(0) === 1n ? true : undefined),
        5,
      );
      w.source.push(0, tweetEvent(config, 'delete_partition', id, null, 200n));
      await within(
        5_000,
        'delete committed',
        () => (w.sink.offset(0) === 2n ? true : undefined),
        5,
      );
      expect(w.timelines.rows).toBe(3 + 3);
      expect(w.timelines.holders(id)).toEqual([]);
      expect(w.completions().map((c) => (c as { retracted?: boolean }).retracted)).toEqual([
        undefined,
        undefined,
      ]);
      await w.worker.close();
    },
  );

  it(
    'close() is idempotent and graceful: one promise, the in-flight tweet checkpointed, then stopped',
    { timeout: 10_000 },
    async () => {
      const w = world();
      w.timelines.delayMs = 2;
      w.insert(0, 1n);
      const run = w.worker.start();
      await within(
        5_000,
        'under way',
        () => ((w.worker.status().inFlight[0]?.delivered ?? 0) >= 50 ? true : undefined),
        1,
      );
      const a = w.worker.close();
      expect(w.worker.close()).toBe(a);
      expect(w.worker.state).toBe('draining');
      await withTimeout(a, 5_000, 'close hung');
      await run;
      expect(w.worker.state).toBe('stopped');
      const cp = JSON.parse(w.sink.records(config.topics.checkpoints).at(-1)!.value!) as {
        delivered: number;
      };
      expect(w.timelines.rows).toBe(cp.delivered);
      expect(w.sink.closed && w.source.closed).toBe(true);
    },
  );

  it('reports rows, batches and tweets as OpenTelemetry metrics', { timeout: 10_000 }, async () => {
    const w = world();
    w.insert(0, 2n);
    void w.worker.start();
    await within(5_000, 'completed', () => (w.completions().length === 1 ? true : undefined), 5);
    await reader.forceFlush();
    const names = new Map<string, number>();
    for (const rm of exporter.getMetrics()) {
      for (const sm of rm.scopeMetrics) {
        for (const m of sm.metrics) {
          const total = m.dataPoints
            .filter((d) => d.attributes['fanout.worker'] === 'w')
            .reduce((n, d) => n + (typeof d.value === 'number' ? d.value : 0), 0);
          names.set(m.descriptor.name, total);
        }
      }
    }
    expect(names.get('fanout_rows_written')).toBeGreaterThanOrEqual(3);
    expect(names.get('fanout_tweets_completed')).toBeGreaterThanOrEqual(1);
    expect(names.has('fanout_tweets_in_flight')).toBe(true);
    expect(names.has('fanout_followers_remaining')).toBe(true);
    await w.worker.close();
  });

  it('close() before start() just stops', async () => {
    const w = world();
    await w.worker.close();
    expect(w.worker.state).toBe('stopped');
    await w.worker.start();
    expect(w.sink.opened).toBe(false);
  });

  it(
    'a graceful stop that misses pipeline.shutdownTimeoutMs is forced: close() still settles, state failed, all closed',
    { timeout: 10_000 },
    async () => {
      const quick = loadConfig({
        env: {},
        sets: ['cassandra.keyspace=ks', 'pipeline.shutdownTimeoutMs=200', 'pipeline.batchSize=10'],
      });
      const w = world({ config: quick });
      w.timelines.gate = new Promise(() => undefined); // a write that never returns
      w.insert(0, 2n);
      const run = w.worker.start();
      await within(
        5_000,
        'in flight',
        () => (w.worker.status().inFlight.length === 1 ? true : undefined),
        1,
      );
      await withTimeout(w.worker.close(), 5_000, 'close hung past its deadline');
      await expect(run).rejects.toThrow(/deadline/);
      expect(w.worker.state).toBe('failed');
      expect(w.source.closed && w.sink.closed).toBe(true);
    },
  );
});
