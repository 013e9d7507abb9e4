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
import type { Config } from '../../config/index.ts';
import type { OutRecord, StateRecord } from '../../ports/streams.ts';
import { checkpointPartition, type CheckpointTopic } from '../../records/checkpoint.ts';
import { completionRecord } from '../../records/completion.ts';
import {
  restoreTallies,
  type SplitTally,
  tallyRecord,
  tallyTombstone,
} from '../../records/tally.ts';
import type { TaskDone } from '../../records/task.ts';
import type { SplitCompleted } from '../lane/handler.ts';

export type { SplitTally } from '../../records/tally.ts';

export class CompletionAggregator {
  readonly #config: Config;
  readonly #checkpoints: CheckpointTopic;
  readonly #workerId: string;
  readonly #now: () => number;
  readonly #onComplete: (c: SplitCompleted) => void;
  readonly #partitions = new Map<number, Map<string, SplitTally>>();

  constructor(
    config: Config,
    workerId: string,
    now: () => number = Date.now,
    onComplete: (c: SplitCompleted) => void = () => undefined,
  ) {
    this.#config = config;
    this.#checkpoints = {
      name: config.topics.checkpoints,
      partitions: config.topics.cdcPartitions,
    };
    this.#workerId = workerId;
    this.#now = now;
    this.#onComplete = onComplete;
  }

  /** Takes over home partitions with the tallies committed in `state` (checkpoint-topic records). */
  restore(partitions: readonly number[], state: readonly StateRecord[]): number {
    const restored = restoreTallies(state, this.#config.topics.tasks);
    for (const p of partitions) this.open(p, restored.get(p));
    return [...restored.values()].reduce((n, m) => n + m.size, 0);
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
      writeTime: d.writeTime,
    };
    if (before.done.includes(d.index)) return []; // counted already (cannot happen with committed task-dones, but harmless)
    const tally: SplitTally = {
      ...before,
      done: [...before.done, d.index].sort((a, b) => a - b),
      delivered: before.delivered + d.delivered,
      resumed: before.resumed || d.resumed,
      retracted: before.retracted || d.retracted,
      writeTime: before.writeTime ?? d.writeTime,
      workers: before.workers.includes(d.workerId)
        ? before.workers
        : [...before.workers, d.workerId],
    };
    if (tally.done.length < tally.count) {
      byId.set(d.splitId, tally);
      return [tallyRecord(this.#checkpoints, this.#config.topics.tasks, partition, tally)];
    }
    byId.delete(d.splitId);
    const t = tally;
    const finishedAt = this.#now();
    this.#onComplete({ op: t.op, writeTime: t.writeTime, startedAt: t.startedAt, finishedAt });
    const completion = completionRecord(
      this.#config.topics.completed,
      checkpointPartition(this.#checkpoints, t.source.partition),
      {
        tweetId: t.tweetId,
        authorId: t.authorId,
        op: t.op,
        delivered: t.delivered,
        startedAt: t.startedAt,
        finishedAt,
        resumed: t.resumed,
        retracted: t.retracted,
        source: t.source,
        traceparent: t.traceparent,
        split: { tasks: t.count, workers: t.workers },
      },
      this.#workerId,
    );
    return [
      completion,
      tallyTombstone(this.#checkpoints, this.#config.topics.tasks, partition, t.splitId),
    ];
  }
}
