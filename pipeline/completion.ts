/**
 * Exactly one `fanout.completed` event per split tweet, although its tasks finish on different
 * workers and may be redone after crashes.
 *
 * Protocol:
 * 1. The worker that splits a tweet produces its N tasks in the transaction that commits the
 *    tweet's CDC offset: the tasks exist exactly once (or not at all, and the tweet is split again).
 * 2. The worker that delivers task i produces one task-done record for it, on the split's HOME
 *    partition of the work topic, in the transaction that commits the task's offset. So a
 *    committed task-done of (split, i) exists if and only if task i's offset is committed, and
 *    then task i is never delivered again: at most one committed task-done per (split, i). A task
 *    redone after a crash produces its task-done only once its redo commits.
 * 3. The owner of the home partition (consumer-group assignment of the work topic) reads the
 *    task-done records in offset order and keeps a TALLY per split: which indexes are done,
 *    rows delivered. Each task-done is consumed in a transaction that commits its offset together
 *    with the updated tally (a compacted record on the checkpoint topic, key
 *    `tally/<work topic>/<home partition>/<split id>`), so the tally on the topic always matches
 *    the committed offset: a new owner restores the tallies and re-reads exactly the task-done
 *    records they do not yet count. Counting is by index (a set), so a re-read is harmless anyway.
 * 4. When the tally holds all N indexes, that same transaction carries the completion event and
 *    a tombstone of the tally instead. It commits the home partition's offset with the consumer's
 *    group metadata (KIP-447), so a member that lost the partition in a rebalance cannot commit
 *    it: only the current owner can emit, and only once, since its offset then passes the last
 *    task-done and the tally is gone.
 */
import type { Config } from '../config/index.ts';
import type { OutRecord, StateRecord } from '../ports/streams.ts';
import { checkpointPartition, completionEvent } from './records.ts';
import type { SplitSource, TaskDone } from './tasks.ts';

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
}

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

function tallyRecord(config: Config, partition: number, t: SplitTally): OutRecord {
  return {
    topic: config.topics.checkpoints,
    partition: checkpointPartition(config, partition),
    key: tallyKey(config.topics.tasks, partition, t.splitId),
    value: JSON.stringify({
      v: 1,
      splitId: t.splitId,
      tweetId: t.tweetId,
      authorId: t.authorId.toString(),
      op: t.op,
      count: t.count,
      startedAt: t.startedAt,
      source: {
        topic: t.source.topic,
        partition: t.source.partition,
        offset: t.source.offset.toString(),
      },
      traceparent: t.traceparent,
      done: t.done,
      delivered: t.delivered,
      resumed: t.resumed,
      workers: t.workers,
      ...(t.retracted ? { retracted: true } : {}),
    }),
  };
}

function completionRecord(config: Config, t: SplitTally, workerId: string, now: number): OutRecord {
  return completionEvent(
    config,
    {
      tweetId: t.tweetId,
      authorId: t.authorId,
      op: t.op,
      delivered: t.delivered,
      startedAt: t.startedAt,
      finishedAt: now,
      resumed: t.resumed,
      retracted: t.retracted,
      source: t.source,
      traceparent: t.traceparent,
      split: { tasks: t.count, workers: t.workers },
    },
    checkpointPartition(config, t.source.partition),
    workerId,
  );
}

/** The tallies of the work topic's home partitions, counted by whoever owns them. */
export class CompletionAggregator {
  readonly #config: Config;
  readonly #workerId: string;
  readonly #now: () => number;
  readonly #partitions = new Map<number, Map<string, SplitTally>>();

  constructor(config: Config, workerId: string, now: () => number = Date.now) {
    this.#config = config;
    this.#workerId = workerId;
    this.#now = now;
  }

  /** Takes over a home partition with its committed tallies. */
  open(partition: number, tallies: ReadonlyMap<string, SplitTally> = new Map()): void {
    this.#partitions.set(partition, new Map(tallies));
  }

  /** Forgets partitions given up or lost (their next owner restores the committed tallies). */
  drop(partitions: readonly number[]): void {
    for (const p of partitions) this.#partitions.delete(p);
  }

  /** Splits being tallied, per home partition. */
  tallies(): SplitTally[] {
    return [...this.#partitions.values()].flatMap((m) => [...m.values()]);
  }

  /**
   * Counts one task-done read from home partition `partition`; returns the records to commit
   * with its offset: the updated tally, or (last task) the completion and the tally's tombstone.
   */
  add(partition: number, d: TaskDone): OutRecord[] {
    const byId = this.#partitions.get(partition);
    if (!byId) throw new Error(`CompletionAggregator.add: partition ${partition} is not open`);
    const before = byId.get(d.splitId) ?? {
      splitId: d.splitId,
      tweetId: d.tweetId,
      authorId: d.authorId,
      op: d.op,
      count: d.count,
      startedAt: d.startedAt,
      source: d.source,
      traceparent: d.traceparent,
      done: [],
      delivered: 0,
      resumed: false,
      retracted: false,
      workers: [],
    };
    if (before.done.includes(d.index)) return []; // counted already (cannot happen with committed task-dones, but harmless)
    const tally: SplitTally = {
      ...before,
      done: [...before.done, d.index].sort((a, b) => a - b),
      delivered: before.delivered + d.delivered,
      resumed: before.resumed || d.resumed,
      retracted: before.retracted || d.retracted,
      workers: before.workers.includes(d.workerId)
        ? before.workers
        : [...before.workers, d.workerId],
    };
    if (tally.done.length < tally.count) {
      byId.set(d.splitId, tally);
      return [tallyRecord(this.#config, partition, tally)];
    }
    byId.delete(d.splitId);
    return [
      completionRecord(this.#config, tally, this.#workerId, this.#now()),
      {
        topic: this.#config.topics.checkpoints,
        partition: checkpointPartition(this.#config, partition),
        key: tallyKey(this.#config.topics.tasks, partition, tally.splitId),
        value: null,
      },
    ];
  }
}

interface StoredTally {
  v: number;
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
}

/** The live tallies of `tasksTopic` in records read back from the checkpoint topic, per home partition. */
export function restoreTallies(
  records: readonly StateRecord[],
  tasksTopic: string,
): Map<number, Map<string, SplitTally>> {
  const latest = new Map<string, Buffer | null>();
  for (const r of records) if (r.key !== null) latest.set(r.key, r.value);
  const out = new Map<number, Map<string, SplitTally>>();
  for (const [key, value] of latest) {
    const at = parseTallyKey(key, tasksTopic);
    if (value === null || at === null) continue;
    try {
      const s = JSON.parse(value.toString('utf8')) as StoredTally;
      if (s.v !== 1) continue;
      let byId = out.get(at.partition);
      if (!byId) out.set(at.partition, (byId = new Map<string, SplitTally>()));
      byId.set(s.splitId, {
        splitId: s.splitId,
        tweetId: s.tweetId,
        authorId: BigInt(s.authorId),
        op: s.op,
        count: s.count,
        startedAt: s.startedAt,
        source: {
          topic: s.source.topic,
          partition: s.source.partition,
          offset: BigInt(s.source.offset),
        },
        traceparent: s.traceparent,
        done: s.done,
        delivered: s.delivered,
        resumed: s.resumed,
        retracted: s.retracted === true,
        workers: s.workers,
      });
    } catch {
      // Only this module writes tally records; one it cannot read would be a bug, not bad input.
      // Skipping it restarts that split's count, which then waits for task-dones already counted.
      continue;
    }
  }
  return out;
}
