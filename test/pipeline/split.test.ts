import { describe, expect, it, onTestFinished } from 'vitest';
import { loadConfig } from '../../config/index.ts';
import { withTimeout } from '../../lib/errors.ts';
import { createLogger } from '../../lib/log.ts';
import type {
  OutRecord,
  RecordSource,
  SourceListener,
  SourceRecord,
  StateRecord,
  Transaction,
} from '../../ports/streams.ts';
import { Worker } from '../../pipeline/worker.ts';
import { startTelemetry } from '../../cli/telemetry.ts';
import {
  FAKE_SETS,
  FakeSink,
  FakeSource,
  MemoryAuthors,
  MemoryFollowers,
  MemoryTimelines,
} from './fakes.ts';
import { tweetEvent, usingTtl, within } from './fixtures.ts';
import { rowCredit } from '../../pipeline/bounds.ts';
import { CompletionAggregator } from '../../pipeline/tasks/tallies.ts';
import {
  MAX_ESTIMATED_RANGES,
  MAX_PROBE_READS,
  PROBE_IDS,
  PROBES,
  planSplit,
  type SplitPlan,
} from '../../pipeline/tweets/split.ts';
import { checkpointRecord, restoreCheckpoints } from '../../records/checkpoint.ts';
import { restoreTallies } from '../../records/tally.ts';
import {
  type TaskRange,
  decodeWorkRecord,
  homePartition,
  type TaskDone,
  taskDoneRecord,
  taskRecords,
} from '../../records/task.ts';
import { checkpointTopic, workTopic } from '../support/topics.ts';

// Unit tests of the splitter, the work records and the completion aggregator (pure logic), and
// of two workers splitting and delivering over in-memory fakes of Kafka and Cassandra.
const config = loadConfig({
  env: {},
  sets: [
    ...FAKE_SETS,
    'pipeline.splitThreshold=200',
    'pipeline.splitTaskSize=100',
    'topics.tasksPartitions=3',
    'pipeline.shutdownTimeoutMs=5000',
  ],
});
const ids = (from: number, n: number): bigint[] =>
  Array.from({ length: n }, (_, i) => BigInt(from + i));

/** An IdReader over the followers `list` of one author (the in-memory store), counting reads. */
function pager(list: readonly bigint[]) {
  const store = new MemoryFollowers();
  store.set(1n, list);
  const reads: Array<{ after: bigint | null; limit: number }> = [];
  const page = (after: bigint | null, limit: number, upTo?: bigint): Promise<bigint[]> => {
    reads.push({ after, limit });
    return store.page(1n, after, limit, upTo);
  };
  return { read: { page, last: () => store.last(1n) }, reads };
}

/** Whether `id` falls in `range`. */
const holds = (range: TaskRange, id: bigint): boolean =>
  (range.after === null || id > range.after) && (range.upTo === null || id <= range.upTo);

/** The ranges of `plan` holding `id` (exactly one must). */
const rangesOf = (plan: SplitPlan, id: bigint): TaskRange[] =>
  plan.ranges.filter((r) => holds(r, id));

/** How many of `list` each range of `plan` holds. */
const counts = (plan: SplitPlan, list: readonly bigint[]): number[] =>
  plan.ranges.map((r) => list.filter((id) => holds(r, id)).length);

describe('planSplit', () => {
  it('leaves a small author alone after one short page, and tells the count', async () => {
    const p = pager(ids(1, 40));
    const totals: number[] = [];
    expect(
      await planSplit(p.read, { threshold: 200, taskSize: 100, onTotal: (n) => totals.push(n) }),
    ).toBeNull();
    expect(p.reads).toHaveLength(1);
    expect(totals).toEqual([40]);
  });

  it('decides an author under the first page in that one read, and hands its ids over', async () => {
    const p = pager(ids(1, 30));
    const wholes: bigint[][] = [];
    const totals: number[] = [];
    let walks = 0;
    const plan = await planSplit(p.read, {
      threshold: 200,
      taskSize: 100,
      firstPage: 40,
      onTotal: (n) => totals.push(n),
      onWhole: (w) => wholes.push(w),
      walkSlot: () => Promise.resolve(() => void walks++),
    });
    expect(plan).toBeNull();
    expect(p.reads).toEqual([{ after: null, limit: 40 }]);
    expect(wholes).toEqual([ids(1, 30)]);
    expect(totals).toEqual([30]);
    expect(walks).toBe(0); // no walk: no slot taken
  });

  it('walks an author who fills the first page as without one, in a walk slot it gives back', async () => {
    const list = ids(1_000, 450);
    const plain = await planSplit(pager(list).read, { threshold: 200, taskSize: 100 });
    const p = pager(list);
    const slots: string[] = [];
    const plan = await planSplit(p.read, {
      threshold: 200,
      taskSize: 100,
      firstPage: 40,
      onWhole: () => slots.push('whole'),
      walkSlot: () => {
        slots.push('taken');
        return Promise.resolve(() => void slots.push('released'));
      },
    });
    expect(plan).toEqual(plain);
    expect(p.reads[0]).toEqual({ after: null, limit: 40 });
    expect(p.reads[1]).toEqual({ after: null, limit: 100 }); // the walk starts over
    expect(slots).toEqual(['taken', 'released']);
    // Stopped while waiting for a slot: no plan, no walk.
    const q = pager(list);
    expect(
      await planSplit(q.read, {
        threshold: 200,
        taskSize: 100,
        firstPage: 40,
        walkSlot: () => Promise.resolve(null),
      }),
    ).toBeNull();
    expect(q.reads).toHaveLength(1);
  });

  it('does not split an author at exactly the threshold ("more than")', async () => {
    const p = pager(ids(1, 200));
    const totals: number[] = [];
    expect(
      await planSplit(p.read, { threshold: 200, taskSize: 100, onTotal: (n) => totals.push(n) }),
    ).toBeNull();
    // 100, 100, then a probe of ONE id that finds the end: the count is exact.
    expect(p.reads.map((r) => r.limit)).toEqual([100, 100, 1]);
    expect(totals).toEqual([200]); // the walk counted them: the worker needs no count query
  });

  it('walks only past the threshold, then cuts the rest of the id space by sampled density', async () => {
    const list = ids(1_000, 450);
    const p = pager(list);
    const totals: number[] = [];
    const plan = (await planSplit(p.read, {
      threshold: 200,
      taskSize: 100,
      onTotal: (n) => totals.push(n),
    }))!;
    expect(p.reads.slice(0, 3).map((r) => r.limit)).toEqual([100, 100, 1]); // 201 ids walked, not 450
    expect(p.reads.slice(3).every((r) => r.limit === PROBE_IDS)).toBe(true); // then one short sample per slice
    expect(p.reads.length - 3).toBeLessThanOrEqual(PROBES);
    expect(totals).toEqual([]); // the count is not known, only estimated
    expect(plan.total).toBe(450); // slices this small are counted exactly by their samples
    // Two walked ranges (exact), then the rest in ranges of about taskSize.
    expect(plan.ranges.slice(0, 2)).toEqual([
      { after: null, upTo: 1_099n, rows: 100 },
      { after: 1_099n, upTo: 1_199n, rows: 100 },
    ]);
    expect(plan.ranges.at(-1)!.upTo).toBeNull();
    const rest = counts(plan, list).slice(2);
    expect(rest.reduce((a, b) => a + b, 0)).toBe(250);
    expect(rest).toHaveLength(3);
    for (const n of rest) expect(Math.abs(n - 83)).toBeLessThanOrEqual(2);
    // Every follower (and any id at all) falls in exactly one range.
    for (const id of [...list, 0n, 999n, 1_450n, 10n ** 12n])
      expect(rangesOf(plan, id)).toHaveLength(1);
  });

  it('reads the same few pages for 40x the followers', async () => {
    const list = ids(1, 20_000);
    const p = pager(list);
    const plan = (await planSplit(p.read, { threshold: 200, taskSize: 100 }))!;
    expect(p.reads).toHaveLength(3 + MAX_PROBE_READS); // the walk, then at most 64 short samples
    expect(plan.total).toBeGreaterThan(19_000);
    expect(plan.total).toBeLessThan(21_000);
    const n = counts(plan, list);
    expect(n.reduce((a, b) => a + b, 0)).toBe(20_000);
    expect(Math.max(...n)).toBeLessThanOrEqual(110);
    expect(plan.ranges.length).toBeGreaterThan(180);
  });

  it.each([
    // Gaps shrink as ids grow (id ~ √i): the walked low end is sparse, so its density alone
    // would predict a fraction of the followers and cut them into a few huge ranges.
    ['old accounts sparse, new ones dense', (x: number) => Math.sqrt(x)],
    ['old accounts dense, new ones sparse', (x: number) => x * x],
  ])('%s: sampled density still gives ranges of about taskSize', async (_, shape) => {
    const list = [
      ...new Set(
        Array.from({ length: 20_000 }, (_, i) => BigInt(Math.round(1e9 * shape((i + 1) / 20_000)))),
      ),
    ];
    const plan = (await planSplit(pager(list).read, { threshold: 200, taskSize: 100 }))!;
    const n = counts(plan, list);
    expect(n.reduce((a, b) => a + b, 0)).toBe(list.length);
    expect(Math.max(...n)).toBeLessThanOrEqual(150);
    expect(plan.total).toBeGreaterThan(0.8 * list.length);
    expect(plan.total).toBeLessThan(1.5 * list.length);
  });

  it('sparse, uneven ids: ranges still tile the id space and hold every follower once', async () => {
    // Followers cluster at both ends of a wide id space (old accounts low, new ones high).
    const list = [
      ...ids(1, 300),
      ...Array.from({ length: 50 }, (_, i) => 10n ** 9n + BigInt(i) * 7_919n),
      ...ids(2 ** 40, 700),
    ];
    const plan = (await planSplit(pager(list).read, { threshold: 200, taskSize: 100 }))!;
    expect(plan.ranges.length).toBeLessThanOrEqual(2 + MAX_ESTIMATED_RANGES);
    const n = counts(plan, list);
    expect(n.reduce((a, b) => a + b, 0)).toBe(list.length);
    expect(Math.max(...n)).toBeLessThanOrEqual(150); // the dense 700 at the top are not one task
    for (const id of [...list, 0n, 2n ** 62n]) expect(rangesOf(plan, id)).toHaveLength(1);
    for (let i = 1; i < plan.ranges.length; i++)
      expect(plan.ranges[i]!.after).toBe(plan.ranges[i - 1]!.upTo);
  });

  it('a threshold below the task size probes threshold + 1 ids', async () => {
    const list = ids(1, 1_000);
    const p = pager(list);
    const plan = (await planSplit(p.read, { threshold: 10, taskSize: 100 }))!;
    expect(p.reads[0]!.limit).toBe(11);
    const n = counts(plan, list);
    expect(n).toHaveLength(10);
    for (const x of n) expect(Math.abs(x - 100)).toBeLessThanOrEqual(3);
    expect(plan.ranges[0]!.after).toBeNull();
  });

  it('followers gone between the walk and the last id: the walked ranges cover everything', async () => {
    const list = ids(1, 250);
    const p = pager(list);
    const plan = (await planSplit(
      { page: p.read.page, last: async () => 150n },
      { threshold: 200, taskSize: 100 },
    ))!;
    expect(plan.ranges.map((r) => [r.after, r.upTo])).toEqual([
      [null, 100n],
      [100n, null],
    ]);
  });

  it('followers gone before the last id with none walked (threshold under the task size): one range covers everything', async () => {
    const list = ids(1, 50);
    const p = pager(list);
    const plan = (await planSplit(
      { page: p.read.page, last: async () => null },
      { threshold: 10, taskSize: 100 },
    ))!;
    expect(plan.ranges).toEqual([{ after: null, upTo: null, rows: 11 }]);
    expect(counts(plan, list)).toEqual([50]);
  });

  it('gives up (null) when stopped', async () => {
    const stop = new AbortController();
    const p = pager(ids(1, 1_000));
    const read = {
      page: async (after: bigint | null, limit: number) => {
        if (p.reads.length === 1) stop.abort();
        return p.read.page(after, limit);
      },
      last: p.read.last,
    };
    expect(
      await planSplit(read, { threshold: 200, taskSize: 100, signal: stop.signal }),
    ).toBeNull();
    expect(p.reads.length).toBeLessThanOrEqual(2);
  });
});

const PLAN: SplitPlan = {
  total: 250,
  ranges: [
    { after: null, upTo: 99n, rows: 100 },
    { after: 99n, upTo: 199n, rows: 100 },
    { after: 199n, upTo: null, rows: 50 },
  ],
};
const TWEET = {
  tweetId: '00000000-0000-1000-8000-000000000001',
  authorId: 7n,
  op: 'insert' as const,
  writeTime: 123n,
  expiresAt: 1_900_000_000,
  startedAt: 1_000,
  traceparent: '00-aa-bb-01',
};
const AT = { topic: 'cdc.ks.tweets', partition: 2, offset: 41n };
const asRecord = (r: OutRecord, offset = 0n): SourceRecord => ({
  topic: r.topic,
  partition: r.partition ?? 0,
  offset,
  key: Buffer.from(r.key),
  value: r.value === null ? null : Buffer.from(r.value),
  headers: { ...r.headers },
});

describe('work records', () => {
  it('tasks round-trip, spread over consecutive partitions, and carry the source, traceparent, expiry and home', () => {
    const records = taskRecords(workTopic(config), TWEET, AT, PLAN);
    expect(new Set(records.map((r) => r.partition)).size).toBe(3);
    expect(records.map((r) => r.headers?.traceparent)).toEqual([
      '00-aa-bb-01',
      '00-aa-bb-01',
      '00-aa-bb-01',
    ]);
    const decoded = records.map((r) => decodeWorkRecord(asRecord(r)));
    expect(decoded[2]).toEqual({
      kind: 'task',
      task: {
        splitId: 'cdc.ks.tweets/2/41',
        tweetId: TWEET.tweetId,
        authorId: 7n,
        op: 'insert',
        writeTime: 123n,
        expiresAt: 1_900_000_000,
        range: { after: 199n, upTo: null, rows: 50 },
        index: 2,
        count: 3,
        total: 250,
        startedAt: 1_000,
        source: AT,
        traceparent: '00-aa-bb-01',
        home: homePartition(TWEET.tweetId, 3),
      },
    });
  });

  it('a task of a tweet without TTL, or of a version before expiries were carried, has none', () => {
    const [none] = taskRecords(workTopic(config), { ...TWEET, expiresAt: null }, AT, PLAN);
    expect(decodeWorkRecord(asRecord(none!))).toMatchObject({
      kind: 'task',
      task: { expiresAt: null },
    });
    const old = JSON.parse(String(none!.value)) as Record<string, unknown>;
    delete old.expiresAt;
    expect(decodeWorkRecord(asRecord({ ...none!, value: JSON.stringify(old) }))).toMatchObject({
      kind: 'task',
      task: { expiresAt: null },
    });
    expect(
      decodeWorkRecord(
        asRecord({ ...none!, value: JSON.stringify({ ...old, expiresAt: 'soon' }) }),
      ),
    ).toMatchObject({ kind: 'dead', code: 'malformed-task' });
  });

  it("a task-done goes to the split's home partition and round-trips", () => {
    const task = decodeWorkRecord(asRecord(taskRecords(workTopic(config), TWEET, AT, PLAN)[1]!));
    if (task.kind !== 'task') throw new Error('not a task');
    const r = taskDoneRecord(workTopic(config), task.task, {
      delivered: 100,
      finishedAt: 2_000,
      resumed: true,
      workerId: 'w',
      traceparent: undefined,
    });
    expect(r.partition).toBe(homePartition(TWEET.tweetId, 3));
    expect(decodeWorkRecord(asRecord(r))).toMatchObject({
      kind: 'done',
      done: {
        splitId: 'cdc.ks.tweets/2/41',
        index: 1,
        count: 3,
        delivered: 100,
        resumed: true,
        workerId: 'w',
      },
    });
  });

  it('a task-done goes to the home partition its task names, whatever the reader’s tasksPartitions (a roll that raises it)', () => {
    const record = taskRecords(workTopic(config), TWEET, AT, PLAN)[1]!;
    const task = decodeWorkRecord(asRecord(record));
    if (task.kind !== 'task') throw new Error('not a task');
    const done = {
      delivered: 1,
      finishedAt: 2,
      resumed: false,
      workerId: 'w',
      traceparent: undefined,
    };
    const wider = { name: config.topics.tasks, partitions: 48 };
    const home = homePartition(TWEET.tweetId, 3);
    expect(homePartition(TWEET.tweetId, 48)).not.toBe(home); // the two configs disagree
    expect(taskDoneRecord(wider, task.task, done).partition).toBe(home);
    // A task of a version before the home was carried: computed from the reader's config.
    const { home: _home, ...old } = JSON.parse(record.value!) as Record<string, unknown>;
    const legacy = decodeWorkRecord(asRecord({ ...record, value: JSON.stringify(old) }));
    if (legacy.kind !== 'task') throw new Error('not a task');
    expect(legacy.task.home).toBeNull();
    expect(taskDoneRecord(wider, legacy.task, done).partition).toBe(
      homePartition(TWEET.tweetId, 48),
    );
    expect(
      decodeWorkRecord(asRecord({ ...record, value: JSON.stringify({ ...old, home: -1 }) })),
    ).toMatchObject({ kind: 'dead', code: 'malformed-task' });
  });

  it('bad work records are dead letters with a reason, never throws', () => {
    const bad = (value: string) =>
      decodeWorkRecord({
        topic: 't',
        partition: 0,
        offset: 0n,
        key: null,
        value: Buffer.from(value),
        headers: {},
      });
    expect(bad('nope')).toMatchObject({ kind: 'dead', code: 'malformed-json' });
    expect(bad('{"v":1,"type":"fanout.task"}')).toMatchObject({
      kind: 'dead',
      code: 'malformed-task',
    });
    expect(bad('{"v":2}')).toMatchObject({ kind: 'dead', code: 'malformed-task' });
  });
});

const done = (
  index: number,
  delivered: number,
  workerId = 'w',
  resumed = false,
  retracted = false,
): TaskDone => ({
  splitId: 'cdc.ks.tweets/2/41',
  tweetId: TWEET.tweetId,
  authorId: 7n,
  op: 'insert',
  index,
  count: 3,
  delivered,
  startedAt: 1_000,
  finishedAt: 2_000,
  source: AT,
  resumed,
  retracted,
  workerId,
  traceparent: '00-aa-bb-01',
  writeTime: 123n,
});
const states = (records: readonly OutRecord[]): StateRecord[] =>
  records.map((r, i) => ({
    partition: r.partition ?? 0,
    offset: i,
    key: r.key,
    value: r.value === null ? null : Buffer.from(r.value),
  }));

describe('task checkpoints', () => {
  it('live in the checkpoint topic on (work partition mod cdcPartitions), restored per work partition', () => {
    const cfg = loadConfig({
      env: {},
      sets: ['cassandra.keyspace=ks', 'topics.cdcPartitions=3', 'topics.tasksPartitions=8'],
    });
    const cp = {
      tweetId: TWEET.tweetId,
      op: 'insert' as const,
      authorId: 7n,
      writeTime: 1n,
      cursor: 150n,
      delivered: 50,
      total: 100,
      startedAt: 1,
      done: false,
      finishedAt: null,
    };
    const task = checkpointRecord(
      checkpointTopic(cfg),
      { topic: cfg.topics.tasks, partition: 7, offset: 12n },
      cp,
    );
    const tweet = checkpointRecord(
      checkpointTopic(cfg),
      { topic: cfg.topics.tweetsCdc, partition: 1, offset: 12n },
      cp,
    );
    expect([task.partition, tweet.partition]).toEqual([1, 1]);
    const read = states([task, tweet]);
    expect(restoreCheckpoints(read, cfg.topics.tasks).get(7)?.get(12n)).toMatchObject({
      cursor: 150n,
      delivered: 50,
    });
    expect([...restoreCheckpoints(read, cfg.topics.tweetsCdc).keys()]).toEqual([1]);
    expect(restoreTallies(read, cfg.topics.tasks).size).toBe(0);
  });
});

describe('CompletionAggregator', () => {
  it('emits the completion (and the tally tombstone) once every task is done, in any order', () => {
    const agg = new CompletionAggregator(config, 'home', () => 5_000);
    agg.open(1);
    const first = agg.add(1, done(2, 50, 'b'));
    expect(first).toHaveLength(1);
    expect(first[0]).toMatchObject({
      topic: config.topics.checkpoints,
      partition: 1,
      key: `tally/${config.topics.tasks}/1/cdc.ks.tweets/2/41`,
    });
    expect(agg.add(1, done(0, 100, 'a'))).toHaveLength(1);
    expect(agg.add(1, done(0, 100, 'a'))).toEqual([]); // counted already
    const last = agg.add(1, done(1, 100, 'a', true));
    expect(last.map((r) => r.topic)).toEqual([config.topics.completed, config.topics.checkpoints]);
    expect(last[1]!.value).toBeNull();
    expect(last[0]).toMatchObject({
      partition: 2,
      key: TWEET.tweetId,
      headers: { traceparent: '00-aa-bb-01' },
    });
    expect(JSON.parse(last[0]!.value!)).toMatchObject({
      type: 'fanout.completed',
      followersDelivered: 250,
      durationMs: 4_000,
      resumed: true,
      workerId: 'home',
      source: { partition: 2, offset: '41' },
      split: { tasks: 3, workers: ['b', 'a'] },
    });
    expect(agg.tallies()).toEqual([]);
  });

  it('a new owner restores the committed tally and completes the split exactly once', () => {
    const before = new CompletionAggregator(config, 'old');
    before.open(1);
    const committed = [...before.add(1, done(0, 100)), ...before.add(1, done(2, 50))];
    before.drop([1]); // crash / rebalance: whatever was not committed is read again by the next owner
    const after = new CompletionAggregator(config, 'new');
    after.open(1, restoreTallies(states(committed), config.topics.tasks).get(1));
    expect(after.tallies()).toMatchObject([{ done: [0, 2], delivered: 150 }]);
    expect(after.add(1, done(2, 50))).toEqual([]); // re-read: already counted
    const out = after.add(1, done(1, 100));
    expect(out.filter((r) => r.topic === config.topics.completed)).toHaveLength(1);
    // Once tombstoned, a restore finds nothing: the completion cannot be emitted again.
    expect(
      restoreTallies(states([...committed, ...out]), config.topics.tasks).get(1),
    ).toBeUndefined();
  });
});

/** The work topic as a fake (a FakeSource under the work topic's name). */
class WorkTopic implements RecordSource {
  readonly topic = config.topics.tasks;
  readonly #inner = new FakeSource([0, 1, 2]);
  get paused(): boolean {
    return this.#inner.paused;
  }
  push(partition: number, value: string, key: string): void {
    this.#inner.push(partition, value, key);
  }
  start(listener: SourceListener): Promise<void> {
    return this.#inner.start(listener);
  }
  wake(): void {}
  highWatermark(partition: number): bigint | undefined {
    return this.#inner.highWatermark(partition);
  }
  endReached(partition: number): bigint | undefined {
    return this.#inner.endReached(partition);
  }
  close(): Promise<void> {
    return this.#inner.close();
  }
}

/** A sink that also delivers committed work-topic records to the work topic (read_committed). */
class LoopSink extends FakeSink {
  readonly #work: WorkTopic;
  /** Records it matches are kept back until {@link release} (a slow consumer). */
  hold: ((value: string) => boolean) | undefined;
  readonly #held: OutRecord[] = [];
  constructor(work: WorkTopic) {
    super();
    this.#work = work;
  }
  override async commit(tx: Transaction): Promise<void> {
    await super.commit(tx);
    for (const r of tx.records) {
      if (r.topic !== config.topics.tasks) continue;
      if (this.hold?.(r.value!)) this.#held.push(r);
      else this.#work.push(r.partition ?? 0, r.value!, r.key);
    }
  }
  get held(): number {
    return this.#held.length;
  }
  release(): number {
    const n = this.#held.length;
    for (const r of this.#held.splice(0)) this.#work.push(r.partition ?? 0, r.value!, r.key);
    return n;
  }
}

/** A worker with a work lane over fakes: author 1 has 450 followers (1000..1449), author 2 has 3. */
function laneWorld() {
  const followers = new MemoryFollowers();
  followers.set(1n, ids(1_000, 450));
  followers.set(2n, ids(1_000, 3));
  const timelines = new MemoryTimelines();
  const authors = new MemoryAuthors();
  const source = new FakeSource();
  const work = new WorkTopic();
  const sink = new LoopSink(work);
  const workSink = new LoopSink(work);
  const worker = new Worker({
    config,
    workerId: 'w',
    log: createLogger('error'),
    ports: {
      source,
      sink,
      followers,
      timelines,
      authors,
      readCheckpoints: async () => [],
      work: { source: work, sink: workSink, readCheckpoints: async () => [] },
    },
  });
  return { followers, timelines, authors, source, work, sink, workSink, worker };
}

describe('Worker with a work lane (fakes)', () => {
  it(
    "splits a big author's tweet, delivers its tasks, completes once; small authors keep the direct path",
    { timeout: 10_000 },
    async () => {
      const { timelines, authors, source, work, sink, workSink, worker } = laneWorld();
      const big = '00000000-0000-1000-8000-0000000000b1';
      const small = '00000000-0000-1000-8000-0000000000b2';
      // Both written with a TTL: every row, through the tasks too, expires with its tweet.
      const expiresAt = Math.floor(Date.now() / 1000) + 3_600;
      const expiring = new Set<number | null>();
      let maxRows = 0;
      let maxJobs = 0;
      // counters() is status()'s totals and in-flight count without the rest (both lanes).
      const countersOff: string[] = [];
      const sample = (): void => {
        const st = worker.status();
        maxRows = Math.max(maxRows, st.rowsOutstanding);
        maxJobs = Math.max(maxJobs, st.inFlight.length);
        const c = worker.counters();
        if (
          c.inFlight !== st.inFlight.length ||
          JSON.stringify(c.totals) !== JSON.stringify(st.totals)
        )
          countersOff.push(JSON.stringify({ c, totals: st.totals, inFlight: st.inFlight.length }));
      };
      const write = timelines.write.bind(timelines);
      timelines.write = async (ms) => {
        sample();
        for (const m of ms) if (m.op === 'insert') expiring.add(m.expiresAt ?? null);
        return write(ms);
      };
      source.push(0, usingTtl(tweetEvent(config, 'insert', big, 1n, 10n), 3_600, expiresAt));
      source.push(1, usingTtl(tweetEvent(config, 'insert', small, 2n, 10n), 3_600, expiresAt));
      source.push(0, tweetEvent(config, 'delete_row', big, null, 20n)); // split too: tasks carry the author
      timelines.delayMs = 1;
      const sampler = setInterval(sample, 1);
      onTestFinished(() => clearInterval(sampler));
      void worker.start();
      const completions = () =>
        [
          ...sink.records(config.topics.completed),
          ...workSink.records(config.topics.completed),
        ].map(
          (r) =>
            JSON.parse(r.value!) as {
              tweetId: string;
              op: string;
              followersDelivered: number;
              split?: { tasks: number };
            },
        );
      await within(
        5_000,
        'all completed',
        () => (completions().length === 3 ? true : undefined),
        5,
      );
      // The delete ran alongside the insert's tasks: each insert task that ended after the delete
      // had marked itself took its rows back (a retraction counts its rows as delivered).
      const dones = workSink
        .records(config.topics.tasks)
        .flatMap((r) =>
          r.key.endsWith('/done')
            ? [JSON.parse(r.value!) as { op: string; delivered: number; retracted?: boolean }]
            : [],
        );
      const retractedRows = dones
        .filter((d) => d.retracted === true)
        .reduce((n, d) => n + d.delivered, 0);
      expect(
        completions()
          .filter((c) => c.tweetId === big)
          .sort((a, b) => a.op.localeCompare(b.op)),
      ).toMatchObject([
        { op: 'delete', followersDelivered: 450, split: { tasks: 5 } },
        {
          op: 'insert',
          followersDelivered: 450,
          split: { tasks: 5 },
          ...(retractedRows > 0 ? { retracted: true } : {}),
        },
      ]);
      expect(completions().find((c) => c.tweetId === small)).toMatchObject({
        followersDelivered: 3,
      });
      expect(completions().find((c) => c.tweetId === small)!.split).toBeUndefined();
      expect(timelines.holders(big)).toEqual([]); // the delete's write time wins, whatever the order
      expect(timelines.cells.get(1_449n)?.get(big)).toMatchObject({ live: false, ts: 20n });
      expect(timelines.rows).toBe(2 * 450 + 3 + retractedRows);
      expect([...expiring]).toEqual([expiresAt]);
      expect(timelines.cells.get(1_000n)?.get(small)).toMatchObject({ live: true, expiresAt });
      expect(authors.expiries.get(small)).toBe(expiresAt);
      expect(sink.offset(0)).toBe(2n); // the split tweets' offsets committed, each with its tasks
      expect(sink.records(config.topics.tasks)).toHaveLength(10);
      // The tasks' and task-dones' offsets all committed by the lane; the tally is tombstoned.
      await within(
        5_000,
        'work offsets committed',
        () =>
          [0, 1, 2].every((p) => workSink.offset(p) === work.highWatermark(p)) ? true : undefined,
        5,
      );
      const tallies = workSink
        .records(config.topics.checkpoints)
        .filter((r) => r.key.startsWith('tally/'));
      expect(tallies.at(-1)!.value).toBeNull();
      expect(worker.status()).toMatchObject({
        inFlight: [],
        splits: [],
        taskPartitions: [0, 1, 2],
        totals: { rowsWritten: 903 + retractedRows, tweetsCompleted: 3 },
      });
      expect(countersOff).toEqual([]);
      expect(worker.counters()).toEqual({ inFlight: 0, totals: worker.status().totals });
      // One row credit for both lanes (batches in flight + a page); tweets plus tasks within the
      // one admission gate of both lanes (maxInFlightTweets = 2), reached and never exceeded.
      expect(maxRows).toBeGreaterThan(0);
      expect(maxRows).toBeLessThanOrEqual(rowCredit(config.pipeline));
      expect(maxJobs).toBe(2);
      await withTimeout(worker.close(), 5_000, 'close hung');
      expect(worker.state).toBe('stopped');
    },
  );

  it(
    "a follow between a split delete's reads and its insert's tasks: the tasks, ending after the delete marked itself, take their rows back",
    { timeout: 10_000 },
    async () => {
      const { followers, timelines, authors, source, sink, workSink, worker } = laneWorld();
      const id = '00000000-0000-1000-8000-0000000000c1';
      // The insert's tasks wait in the work topic (a busy lane elsewhere); the delete's go through.
      sink.hold = (value) => (JSON.parse(value) as { op: string }).op === 'insert';
      source.push(0, tweetEvent(config, 'insert', id, 1n, 10n));
      void worker.start();
      await within(5_000, 'the insert split', () => (sink.held === 5 ? true : undefined), 2);
      // From here on every follower read is the delete's: each must find it marked (or done).
      const marked: boolean[] = [];
      followers.beforePage = async () => {
        marked.push(await authors.deletedSince(id, 10n));
      };
      source.push(0, tweetEvent(config, 'delete_row', id, null, 20n));
      const completions = () =>
        workSink.records(config.topics.completed).map(
          (r) =>
            JSON.parse(r.value!) as {
              op: string;
              followersDelivered: number;
              retracted?: boolean;
              split?: { tasks: number };
            },
        );
      await within(
        5_000,
        'the delete delivered through its tasks',
        () => (completions().length === 1 ? true : undefined),
        5,
      );
      expect(completions()).toMatchObject([
        { op: 'delete', followersDelivered: 450, split: { tasks: 5 } },
      ]);
      expect(marked.length).toBeGreaterThan(0);
      expect(marked).not.toContain(false); // marked before its first read
      followers.beforePage = undefined;
      // Someone follows the author after the delete read past them; then the insert's tasks run.
      await followers.add(1n, [9_000n]);
      expect(sink.release()).toBe(5);
      await within(
        5_000,
        'the insert completed',
        () => (completions().length === 2 ? true : undefined),
        5,
      );
      expect(timelines.holders(id)).toEqual([]); // without the retraction: [9000n]
      expect(completions()[1]).toMatchObject({
        op: 'insert',
        followersDelivered: 451,
        retracted: true,
        split: { tasks: 5 },
      });
      const dones = workSink
        .records(config.topics.tasks)
        .flatMap((r) =>
          r.key.endsWith('/done')
            ? [JSON.parse(r.value!) as { op: string; retracted?: boolean }]
            : [],
        );
      expect(dones.filter((d) => d.op === 'insert').map((d) => d.retracted)).toEqual([
        true,
        true,
        true,
        true,
        true,
      ]);
      expect(timelines.rows).toBe(450 + 451 + 451); // the delete; the insert; its retraction
      await withTimeout(worker.close(), 5_000, 'close hung');
    },
  );
});

describe('split fan-outs in the latency and duration histograms', () => {
  it(
    "records a split tweet's write time to last row and its start to finish, once, where it completes",
    { timeout: 10_000 },
    async () => {
      const port = 30_000 + Math.floor(Math.random() * 20_000);
      const stop = startTelemetry(
        loadConfig({
          env: {},
          sets: [
            `telemetry.prometheusPort=${port}`,
            'telemetry.prometheusHost=127.0.0.1',
            'telemetry.otlpEndpoint=http://127.0.0.1:9',
            'telemetry.traceSampleRatio=0', // no span to export: the shutdown is quick
          ],
        }),
        'split-test',
      );
      onTestFinished(() => stop());
      const { source, sink, workSink, worker } = laneWorld();
      const big = '00000000-0000-1000-8000-0000000000c1';
      const writeTime = BigInt(Date.now() - 60_000) * 1_000n; // written a minute ago
      source.push(0, tweetEvent(config, 'insert', big, 1n, writeTime));
      void worker.start();
      const completions = (): OutRecord[] => [
        ...sink.records(config.topics.completed),
        ...workSink.records(config.topics.completed),
      ];
      await within(5_000, 'completed', () => (completions().length === 1 ? true : undefined), 5);
      expect(JSON.parse(completions()[0]!.value!)).toHaveProperty('split.tasks');
      const text = await (await fetch(`http://127.0.0.1:${await stop.metricsPort}/metrics`)).text();
      const count = (metric: string): number =>
        text
          .split('\n')
          .filter((l) => l.startsWith(`${metric}_count{`) && l.includes('fanout_worker="w-tasks"'))
          .reduce((n, l) => n + Number(l.split(' ').pop()), 0);
      expect(count('fanout_tweet_duration_ms')).toBe(1);
      expect(count('fanout_tweet_latency_ms')).toBe(1);
      const sum = text
        .split('\n')
        .find((l) => l.startsWith('fanout_tweet_latency_ms_sum{') && l.includes('"w-tasks"'));
      expect(Number(sum?.split(' ').pop())).toBeGreaterThanOrEqual(60_000);
      await withTimeout(worker.close(), 5_000, 'close hung');
    },
  );
});
