/**
 * Records of the work topic (`topics.tasks`) of split fan-outs:
 *
 * - a TASK (`type: fanout.task`): deliver one tweet to the follower ids in (after, upTo]. Produced
 *   in the transaction that commits the split tweet's CDC offset, on partitions
 *   (home + 1 + index) mod partitions, so the tasks of one tweet spread over as many partitions
 *   (and so workers) as there are.
 * - a TASK-DONE (`type: fanout.task-done`): one task is delivered. Produced in the transaction
 *   that commits the task's offset, on the split's HOME partition (hash of the tweet id), so one
 *   partition owner sees every task-done of a split and counts them (pipeline/tasks/tallies.ts).
 *
 * A split is identified by its source coordinates, not by tweet id: a replayed insert of the
 * same tweet is a separate fan-out with its own completion.
 */
import type { OutRecord, SourceRecord } from '../ports/streams.ts';
import { sourceJson, type SourceAt } from './completion.ts';
import { int64, isNat } from './values.ts';

/** The work topic: its name and partition count. */
export interface WorkTopic {
  readonly name: string;
  readonly partitions: number;
}

/** One page range of a split fan-out: follower ids in (after, upTo]. */
export interface TaskRange {
  /** Exclusive lower bound (null: from the first follower). */
  readonly after: bigint | null;
  /** Inclusive upper bound (null: to the last follower). */
  readonly upTo: bigint | null;
  /** Followers in the range when it was cut: counted for a walked range, else estimated. */
  readonly rows: number;
}

/** Where the split tweet's change event was read. */
export type SplitSource = SourceAt;

/** One page-range task of a split fan-out. */
export interface SplitTask {
  readonly splitId: string;
  readonly tweetId: string;
  readonly authorId: bigint;
  readonly op: 'insert' | 'delete';
  /** Source write time, µs (USING TIMESTAMP of every row). */
  readonly writeTime: bigint;
  /** The tweet's expiry, when written with a TTL (seconds since the epoch). */
  readonly expiresAt: number | null;
  readonly range: TaskRange;
  readonly index: number;
  readonly count: number;
  /** Followers of the whole tweet when it was split. */
  readonly total: number;
  /** When the tweet's fan-out started (ms since epoch). */
  readonly startedAt: number;
  readonly source: SplitSource;
  /** W3C traceparent of the tweet's fan-out span. */
  readonly traceparent: string | null;
  /**
   * The split's home partition, where its task-dones go, as the splitting worker placed it (null:
   * a task of a version before it was carried; then it is computed again, from the reader's
   * `topics.tasksPartitions`).
   */
  readonly home: number | null;
}

/** One task of a split is delivered. */
export interface TaskDone {
  readonly splitId: string;
  readonly tweetId: string;
  readonly authorId: bigint;
  readonly op: 'insert' | 'delete';
  readonly index: number;
  readonly count: number;
  readonly delivered: number;
  readonly startedAt: number;
  readonly finishedAt: number;
  readonly source: SplitSource;
  /** The task was resumed from a checkpoint (a worker died or gave it up). */
  readonly resumed: boolean;
  /** An insert's task that found the tweet deleted as it ended and took its rows back. */
  readonly retracted: boolean;
  readonly workerId: string;
  readonly traceparent: string | null;
  /** The tweet's write time, µs (null: a task-done of a version before it was carried). */
  readonly writeTime: bigint | null;
}

export type WorkRecord =
  | { readonly kind: 'task'; readonly task: SplitTask }
  | { readonly kind: 'done'; readonly done: TaskDone }
  | { readonly kind: 'dead'; readonly code: string; readonly message: string };

export const splitIdOf = (s: SplitSource): string => `${s.topic}/${s.partition}/${s.offset}`;

/** FNV-1a of the tweet id: the split's home partition of the work topic. */
export function homePartition(tweetId: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < tweetId.length; i++) {
    h ^= tweetId.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % partitions;
}

const big = (v: bigint | null): string | null => (v === null ? null : v.toString());

/** The tasks of a split tweet (to produce with its offset commit). */
export function taskRecords(
  work: WorkTopic,
  tweet: {
    tweetId: string;
    authorId: bigint;
    op: 'insert' | 'delete';
    writeTime: bigint;
    expiresAt: number | null;
    startedAt: number;
    traceparent: string | undefined;
  },
  at: SplitSource,
  plan: { readonly total: number; readonly ranges: readonly TaskRange[] },
): OutRecord[] {
  const P = work.partitions;
  const home = homePartition(tweet.tweetId, P);
  const splitId = splitIdOf(at);
  const headers: Record<string, string> = tweet.traceparent
    ? { traceparent: tweet.traceparent }
    : {};
  return plan.ranges.map((r, index): OutRecord => ({
    topic: work.name,
    partition: (home + 1 + index) % P,
    key: `${tweet.tweetId}/${index}`,
    value: JSON.stringify({
      v: 1,
      type: 'fanout.task',
      splitId,
      tweetId: tweet.tweetId,
      authorId: tweet.authorId.toString(),
      op: tweet.op,
      writeTime: tweet.writeTime.toString(),
      expiresAt: tweet.expiresAt,
      after: big(r.after),
      upTo: big(r.upTo),
      rows: r.rows,
      index,
      count: plan.ranges.length,
      total: plan.total,
      startedAt: tweet.startedAt,
      source: sourceJson(at),
      traceparent: tweet.traceparent ?? null,
      home,
    }),
    headers,
  }));
}

/**
 * The task-done record of a delivered task, for the split's home partition: the one its task
 * names, so that every task-done of a split meets its tally there even when workers disagree on
 * `topics.tasksPartitions` (a roll that raises it).
 */
export function taskDoneRecord(
  work: WorkTopic,
  task: SplitTask,
  done: {
    delivered: number;
    finishedAt: number;
    resumed: boolean;
    retracted?: boolean;
    workerId: string;
    traceparent: string | undefined;
  },
): OutRecord {
  return {
    topic: work.name,
    partition: task.home ?? homePartition(task.tweetId, work.partitions),
    key: `${task.tweetId}/${task.index}/done`,
    value: JSON.stringify({
      v: 1,
      type: 'fanout.task-done',
      splitId: task.splitId,
      tweetId: task.tweetId,
      authorId: task.authorId.toString(),
      op: task.op,
      index: task.index,
      count: task.count,
      delivered: done.delivered,
      startedAt: task.startedAt,
      finishedAt: done.finishedAt,
      source: sourceJson(task.source),
      resumed: done.resumed,
      workerId: done.workerId,
      traceparent: task.traceparent,
      writeTime: task.writeTime.toString(),
      ...(done.retracted ? { retracted: true } : {}),
    }),
    headers: done.traceparent ? { traceparent: done.traceparent } : {},
  };
}

const dead = (code: string, message: string): WorkRecord => ({ kind: 'dead', code, message });

function decodeSource(v: unknown): SplitSource | null {
  const s = v as { topic?: unknown; partition?: unknown; offset?: unknown } | null;
  if (s === null || typeof s !== 'object' || typeof s.topic !== 'string' || !isNat(s.partition))
    return null;
  const offset = int64(s.offset);
  return offset === null ? null : { topic: s.topic, partition: s.partition, offset };
}

/** Decodes one record of the work topic. Never throws: bad input is a dead letter with its reason. */
export function decodeWorkRecord(record: SourceRecord): WorkRecord {
  if (record.value === null) return dead('empty-record', 'work record has no value');
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(record.value.toString('utf8')) as Record<string, unknown>;
  } catch (err) {
    return dead('malformed-json', `work record value is not JSON: ${(err as Error).message}`);
  }
  if (v === null || typeof v !== 'object' || v.v !== 1)
    return dead('malformed-task', 'work record is not a v1 object');
  const authorId = int64(v.authorId);
  const at = decodeSource(v.source);
  const op = v.op;
  if (
    typeof v.splitId !== 'string' ||
    typeof v.tweetId !== 'string' ||
    authorId === null ||
    at === null ||
    (op !== 'insert' && op !== 'delete') ||
    !isNat(v.index) ||
    !isNat(v.count) ||
    v.index >= v.count ||
    !isNat(v.startedAt)
  ) {
    return dead(
      'malformed-task',
      `work record misses or mangles a field: ${record.value.toString('utf8').slice(0, 200)}`,
    );
  }
  const traceparent = typeof v.traceparent === 'string' ? v.traceparent : null;
  const common = {
    splitId: v.splitId,
    tweetId: v.tweetId,
    authorId,
    op,
    index: v.index,
    count: v.count,
    startedAt: v.startedAt,
    source: at,
    traceparent,
  } as const;
  if (v.type === 'fanout.task') {
    const writeTime = int64(v.writeTime);
    const after = v.after === null ? null : int64(v.after);
    const upTo = v.upTo === null ? null : int64(v.upTo);
    const expiresAt = v.expiresAt ?? null; // absent in tasks of versions before TTLs were carried
    const home = v.home ?? null; // absent in tasks of versions before it was carried
    if (
      (home !== null && !isNat(home)) ||
      writeTime === null ||
      (v.after !== null && after === null) ||
      (v.upTo !== null && upTo === null) ||
      !isNat(v.rows) ||
      !isNat(v.total) ||
      (expiresAt !== null && !isNat(expiresAt))
    ) {
      return dead(
        'malformed-task',
        `task misses or mangles its range: ${record.value.toString('utf8').slice(0, 200)}`,
      );
    }
    return {
      kind: 'task',
      task: {
        ...common,
        writeTime,
        expiresAt,
        range: { after, upTo, rows: v.rows },
        total: v.total,
        home,
      },
    };
  }
  if (v.type === 'fanout.task-done') {
    if (!isNat(v.delivered) || !isNat(v.finishedAt) || typeof v.workerId !== 'string')
      return dead('malformed-task', 'task-done misses a field');
    return {
      kind: 'done',
      done: {
        ...common,
        delivered: v.delivered,
        finishedAt: v.finishedAt,
        resumed: v.resumed === true,
        retracted: v.retracted === true,
        workerId: v.workerId,
        writeTime: int64(v.writeTime),
      },
    };
  }
  return dead('malformed-task', `unknown work record type ${JSON.stringify(v.type)}`);
}
