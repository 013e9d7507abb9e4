/**
 * A split's tally: which of its tasks are done, kept by the owner of the split's home partition
 * of the work topic as a compacted record on the checkpoint topic
 * (`tally/<work topic>/<home partition>/<split id>`), always in the transaction that commits the
 * task-done records it counts; tombstoned with the split's completion.
 */
import type { OutRecord, StateRecord } from '../ports/streams.ts';
import { checkpointPartition, type CheckpointTopic } from './checkpoint.ts';
import { sourceJson } from './completion.ts';
import { latestPerKey, parseVersioned } from './latest.ts';
import type { SplitSource } from './task.ts';
import { int64 } from './values.ts';

/** What the home partition's owner knows about one split in progress. */
export interface SplitTally {
  readonly splitId: string;
  readonly tweetId: string;
  readonly authorId: bigint;
  readonly op: 'insert' | 'delete';
  readonly count: number;
  readonly startedAt: number;
  readonly source: SplitSource;
  readonly traceparent: string | null;
  /** Indexes of the tasks delivered, ascending. */
  readonly done: readonly number[];
  readonly delivered: number;
  readonly resumed: boolean;
  /** Some task took its rows back (the tweet was deleted while it was delivered). */
  readonly retracted: boolean;
  /** Workers that delivered tasks. */
  readonly workers: readonly string[];
  /** The tweet's write time, µs, for its latency (null: not carried by its task-dones yet). */
  readonly writeTime: bigint | null;
}

const VERSION = 1;

export const tallyKey = (tasksTopic: string, partition: number, splitId: string): string =>
  `tally/${tasksTopic}/${partition}/${splitId}`;

/** The home partition and split id a tally key of `tasksTopic` names, or null for any other key. */
export function parseTallyKey(
  key: string,
  tasksTopic: string,
): { partition: number; splitId: string } | null {
  const prefix = `tally/${tasksTopic}/`;
  if (!key.startsWith(prefix)) return null;
  const rest = key.slice(prefix.length);
  const slash = rest.indexOf('/');
  const p = rest.slice(0, slash);
  return slash < 0 || !/^\d+$/.test(p)
    ? null
    : { partition: Number(p), splitId: rest.slice(slash + 1) };
}

export function tallyRecord(
  topic: CheckpointTopic,
  tasksTopic: string,
  homePartition: number,
  t: SplitTally,
): OutRecord {
  return {
    topic: topic.name,
    partition: checkpointPartition(topic, homePartition),
    key: tallyKey(tasksTopic, homePartition, t.splitId),
    value: JSON.stringify({
      v: VERSION,
      splitId: t.splitId,
      tweetId: t.tweetId,
      authorId: t.authorId.toString(),
      op: t.op,
      count: t.count,
      startedAt: t.startedAt,
      source: sourceJson(t.source),
      traceparent: t.traceparent,
      done: t.done,
      delivered: t.delivered,
      resumed: t.resumed,
      workers: t.workers,
      ...(t.retracted ? { retracted: true } : {}),
      ...(t.writeTime !== null ? { writeTime: t.writeTime.toString() } : {}),
    }),
  };
}

export function tallyTombstone(
  topic: CheckpointTopic,
  tasksTopic: string,
  homePartition: number,
  splitId: string,
): OutRecord {
  return {
    topic: topic.name,
    partition: checkpointPartition(topic, homePartition),
    key: tallyKey(tasksTopic, homePartition, splitId),
    value: null,
  };
}

interface StoredTally {
  splitId: string;
  tweetId: string;
  authorId: string;
  op: 'insert' | 'delete';
  count: number;
  startedAt: number;
  source: { topic: string; partition: number; offset: string };
  traceparent: string | null;
  done: number[];
  delivered: number;
  resumed: boolean;
  retracted?: boolean;
  workers: string[];
  writeTime?: string;
}

function decodeTally(value: Buffer): SplitTally | null {
  const s = parseVersioned(value, VERSION) as StoredTally | null;
  const authorId = int64(s?.authorId);
  const offset = int64(s?.source?.offset);
  if (s === null || authorId === null || offset === null || !Array.isArray(s.done)) return null;
  return {
    splitId: s.splitId,
    tweetId: s.tweetId,
    authorId,
    op: s.op,
    count: s.count,
    startedAt: s.startedAt,
    source: { topic: s.source.topic, partition: s.source.partition, offset },
    traceparent: s.traceparent,
    done: s.done,
    delivered: s.delivered,
    resumed: s.resumed,
    retracted: s.retracted === true,
    workers: s.workers,
    writeTime: int64(s.writeTime),
  };
}

/**
 * The live tallies of `tasksTopic` in records read back from the checkpoint topic, per home
 * partition. Only this module writes tally records: one it cannot read would be a bug, not bad
 * input; it is skipped, which restarts that split's count (it then waits for task-dones already
 * counted).
 */
export function restoreTallies(
  records: readonly StateRecord[],
  tasksTopic: string,
): Map<number, Map<string, SplitTally>> {
  const out = new Map<number, Map<string, SplitTally>>();
  for (const [key, value] of latestPerKey(records, (k) => parseTallyKey(k, tasksTopic) !== null)) {
    const at = parseTallyKey(key, tasksTopic)!;
    const tally = decodeTally(value);
    if (tally === null) continue;
    let byId = out.get(at.partition);
    if (!byId) out.set(at.partition, (byId = new Map<string, SplitTally>()));
    byId.set(tally.splitId, tally);
  }
  return out;
}

/** Split ids whose tally was tombstoned (the split completed), per `tasksTopic`. */
export function completedSplits(records: readonly StateRecord[], tasksTopic: string): Set<string> {
  const ended = new Set<string>();
  for (const r of records) {
    const at = r.key === null ? null : parseTallyKey(r.key, tasksTopic);
    if (at === null) continue;
    if (r.value === null) ended.add(at.splitId);
    else ended.delete(at.splitId);
  }
  return ended;
}
