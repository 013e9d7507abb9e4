import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/index.ts';
import type { OutRecord, StateRecord } from '../../ports/streams.ts';
import { committedProgress } from '../../pipeline/progress.ts';
import { CompletionAggregator } from '../../pipeline/tasks/tallies.ts';
import {
  type Checkpoint,
  checkpointRecord,
  checkpointTombstone,
} from '../../records/checkpoint.ts';
import {
  decodeWorkRecord,
  type SplitTask,
  taskDoneRecord,
  taskRecords,
} from '../../records/task.ts';
import { checkpointTopic, workTopic } from '../support/topics.ts';

const config = loadConfig({
  env: {},
  sets: ['topics.cdcPartitions=4', 'topics.tasksPartitions=8'],
});
const { tweetsCdc: CDC, tasks: TASKS } = config.topics;
const NOW = 1_800_000_000_000;
const WHOLE = '00000000-0000-1000-8000-00000000000a';
const SPLIT = '00000000-0000-1000-8000-00000000000b';

/** Records as a reader gets them back, offsets counted per partition in order. */
function asRead(records: readonly OutRecord[], firstOffset = 0): StateRecord[] {
  const next = new Map<number, number>();
  return records.map((r) => {
    const partition = r.partition ?? 0;
    const offset = next.get(partition) ?? firstOffset;
    next.set(partition, offset + 1);
    return { partition, offset, key: r.key, value: r.value === null ? null : Buffer.from(r.value) };
  });
}

const checkpoint = (
  tweetId: string,
  delivered: number,
  total: number | null,
  extra: Partial<Checkpoint> = {},
): Checkpoint => ({
  tweetId,
  op: 'insert',
  authorId: 7n,
  writeTime: 1n,
  cursor: BigInt(1_000_000 + delivered),
  delivered,
  total,
  startedAt: NOW - 60_000,
  done: false,
  finishedAt: null,
  ...extra,
});

/** A split of `SPLIT` into four tasks of 50 followers each (200 in all), from CDC partition 1 at offset 9. */
function split(): { records: OutRecord[]; tasks: SplitTask[] } {
  const plan = {
    total: 200,
    ranges: [0, 1, 2, 3].map((i) => ({
      after: i === 0 ? null : BigInt(i * 50),
      upTo: i === 3 ? null : BigInt((i + 1) * 50),
      rows: 50,
    })),
  };
  const records = taskRecords(
    workTopic(config),
    {
      tweetId: SPLIT,
      authorId: 7n,
      op: 'insert',
      writeTime: 1n,
      expiresAt: null,
      startedAt: NOW - 30_000,
      traceparent: undefined,
    },
    { topic: CDC, partition: 1, offset: 9n },
    plan,
  );
  const tasks = asRead(records).map((r) => {
    const w = decodeWorkRecord({
      topic: TASKS,
      partition: r.partition,
      offset: BigInt(r.offset),
      key: null,
      value: r.value,
      headers: {},
    });
    if (w.kind !== 'task') throw new Error('not a task');
    return w.task;
  });
  return { records, tasks };
}
const done = (task: SplitTask, delivered: number): OutRecord =>
  taskDoneRecord(workTopic(config), task, {
    delivered,
    finishedAt: NOW,
    resumed: false,
    workerId: 'w1',
    traceparent: undefined,
  });

describe('committedProgress (what `fanout status` shows)', () => {
  it('a tweet delivered whole: its latest live checkpoint, with cursor and remaining; finished and tombstoned ones are not in progress', () => {
    const checkpoints = asRead([
      checkpointRecord(
        checkpointTopic(config),
        { topic: CDC, partition: 2, offset: 41n },
        checkpoint(WHOLE, 100_000, 500_000),
      ),
      checkpointRecord(
        checkpointTopic(config),
        { topic: CDC, partition: 2, offset: 41n },
        checkpoint(WHOLE, 312_000, 500_000),
      ),
      checkpointRecord(
        checkpointTopic(config),
        { topic: CDC, partition: 3, offset: 5n },
        checkpoint('finished', 10, 10, { done: true, finishedAt: NOW }),
      ),
      checkpointRecord(
        checkpointTopic(config),
        { topic: CDC, partition: 0, offset: 6n },
        checkpoint('committed', 5, 10),
      ),
      checkpointTombstone(checkpointTopic(config), { topic: CDC, partition: 0, offset: 6n }),
    ]);
    expect(
      committedProgress({
        checkpoints,
        pendingWork: [],
        cdcTopic: CDC,
        tasksTopic: TASKS,
        now: NOW,
      }),
    ).toEqual([
      {
        tweet: WHOLE,
        op: 'insert',
        retracting: false,
        author: '7',
        delivered: 312_000,
        total: 500_000,
        remaining: 188_000,
        cursor: '1312000',
        ageSeconds: 60,
        source: '2@41',
        split: null,
      },
    ]);
  });

  it('a split tweet: counted tasks + task-dones not yet counted + tasks in progress; waiting tasks add nothing', () => {
    const { records, tasks } = split();
    const [t0, t1, , t3] = tasks as [SplitTask, SplitTask, SplitTask, SplitTask];
    // Task 0 is counted in the tally of the split's home partition.
    const tally = new CompletionAggregator(config, 'w1', () => NOW);
    const home = done(t0, 50).partition!;
    tally.open(home);
    const tallyRecords = tally.add(home, decodeDone(done(t0, 50)));
    // Pending on the work topic: tasks 1..3 (task 0's offset is committed), and task 3's task-done,
    // committed after the lag was read: task 3 shows as both, and counts once, as done. Task 2
    // has no checkpoint yet: it waits.
    const read = asRead(records);
    const pendingWork = [...read.slice(1), ...asRead([done(t3, 50)], 100)];
    const at = (t: SplitTask): { partition: number; offset: bigint } => ({
      partition: read[t.index]!.partition,
      offset: BigInt(read[t.index]!.offset),
    });
    const checkpoints = asRead([
      ...tallyRecords,
      checkpointRecord(
        checkpointTopic(config),
        { topic: TASKS, partition: at(t1).partition, offset: at(t1).offset },
        checkpoint(SPLIT, 20, 50),
      ),
      checkpointRecord(
        checkpointTopic(config),
        { topic: TASKS, partition: at(t3).partition, offset: at(t3).offset },
        checkpoint(SPLIT, 40, 50),
      ),
    ]);
    const progress = committedProgress({
      checkpoints,
      pendingWork,
      cdcTopic: CDC,
      tasksTopic: TASKS,
      now: NOW,
    });
    expect(progress).toEqual([
      {
        tweet: SPLIT,
        op: 'insert',
        retracting: false,
        author: '7',
        delivered: 50 + 20 + 50,
        total: 200,
        remaining: 80,
        cursor: null,
        ageSeconds: 30,
        source: '1@9',
        split: { tasks: 4, done: 2, inProgress: 1, waiting: 1 },
      },
    ]);
  });

  it('a split that completed while status read is not in progress: its tally tombstoned, or every task done by the records read', () => {
    const { records, tasks } = split();
    const tally = new CompletionAggregator(config, 'w1', () => NOW);
    const home = done(tasks[0]!, 50).partition!;
    tally.open(home);
    const counted = [0, 1, 2].flatMap((i) => tally.add(home, decodeDone(done(tasks[i]!, 50))));
    // The last task-done is counted too: the completion goes out with the tally's tombstone.
    const finished = tally.add(home, decodeDone(done(tasks[3]!, 50)));
    expect(finished.at(-1)!.value).toBeNull();
    const tombstoned = asRead([
      ...counted,
      ...finished.filter((r) => r.topic === config.topics.checkpoints),
    ]);
    // The lag was read before task 3 committed: its task record still reads as pending.
    const pendingTask3 = asRead(records).slice(3);
    expect(
      committedProgress({
        checkpoints: tombstoned,
        pendingWork: pendingTask3,
        cdcTopic: CDC,
        tasksTopic: TASKS,
        now: NOW,
      }),
    ).toEqual([]);
    // The tally read before the last count, the last task-done read after it.
    expect(
      committedProgress({
        checkpoints: asRead(counted),
        pendingWork: [...pendingTask3, ...asRead([done(tasks[3]!, 50)], 100)],
        cdcTopic: CDC,
        tasksTopic: TASKS,
        now: NOW,
      }),
    ).toEqual([]);
    // Before either: still in progress, 3 of 4 done.
    expect(
      committedProgress({
        checkpoints: asRead(counted),
        pendingWork: pendingTask3,
        cdcTopic: CDC,
        tasksTopic: TASKS,
        now: NOW,
      })[0]!.split,
    ).toEqual({ tasks: 4, done: 3, inProgress: 0, waiting: 1 });
  });

  it("an insert taking its rows back shows as retracting: whole from its checkpoint, split from any task's checkpoint, task-done or tally", () => {
    const whole = asRead([
      checkpointRecord(
        checkpointTopic(config),
        { topic: CDC, partition: 2, offset: 41n },
        checkpoint(WHOLE, 7, 10, { retracting: true }),
      ),
    ]);
    expect(
      committedProgress({
        checkpoints: whole,
        pendingWork: [],
        cdcTopic: CDC,
        tasksTopic: TASKS,
        now: NOW,
      }),
    ).toMatchObject([{ tweet: WHOLE, retracting: true, delivered: 7 }]);
    const { records, tasks } = split();
    const read = asRead(records);
    const taken = (t: SplitTask): OutRecord =>
      taskDoneRecord(workTopic(config), t, {
        delivered: 50,
        finishedAt: NOW,
        resumed: false,
        retracted: true,
        workerId: 'w1',
        traceparent: undefined,
      });
    const of = (checkpoints: StateRecord[], pendingWork: StateRecord[]) =>
      committedProgress({
        checkpoints,
        pendingWork,
        cdcTopic: CDC,
        tasksTopic: TASKS,
        now: NOW,
      })[0]!.retracting;
    expect(of([], read)).toBe(false);
    expect(
      of(
        asRead([
          checkpointRecord(
            checkpointTopic(config),
            { topic: TASKS, partition: read[1]!.partition, offset: BigInt(read[1]!.offset) },
            checkpoint(SPLIT, 20, 50, { retracting: true }),
          ),
        ]),
        read,
      ),
    ).toBe(true);
    expect(of([], [...read, ...asRead([taken(tasks[0]!)], 100)])).toBe(true);
    const tally = new CompletionAggregator(config, 'w1', () => NOW);
    const home = taken(tasks[0]!).partition!;
    tally.open(home);
    expect(of(asRead(tally.add(home, decodeDone(taken(tasks[0]!)))), read.slice(1))).toBe(true);
  });

  it('a split tweet whose tasks all wait: total known, nothing delivered; ordered by age with whole tweets', () => {
    const { records } = split();
    const checkpoints = asRead([
      checkpointRecord(
        checkpointTopic(config),
        { topic: CDC, partition: 0, offset: 1n },
        checkpoint(WHOLE, 1, 10, { startedAt: NOW - 1_000 }),
      ),
    ]);
    const progress = committedProgress({
      checkpoints,
      pendingWork: asRead(records),
      cdcTopic: CDC,
      tasksTopic: TASKS,
      now: NOW,
    });
    expect(progress.map((p) => [p.tweet, p.delivered, p.remaining, p.split])).toEqual([
      [SPLIT, 0, 200, { tasks: 4, done: 0, inProgress: 0, waiting: 4 }],
      [WHOLE, 1, 9, null],
    ]);
  });
});

function decodeDone(r: OutRecord): Parameters<CompletionAggregator['add']>[1] {
  const w = decodeWorkRecord({
    topic: TASKS,
    partition: r.partition ?? 0,
    offset: 0n,
    key: null,
    value: Buffer.from(r.value!),
    headers: {},
  });
  if (w.kind !== 'done') throw new Error('not a task-done');
  return w.done;
}
