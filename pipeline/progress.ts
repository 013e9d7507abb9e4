/**
 * Fan-out progress as committed on Kafka: what `fanout status` shows from any machine, without
 * asking the workers (so it also shows the fan-outs of a worker that died).
 *
 * - A tweet delivered whole: its cursor checkpoint, keyed by its CDC partition/offset.
 * - A split tweet (more followers than `splitThreshold`): put together from its tally (the tasks
 *   its home partition's owner has counted done), its work-topic records not yet committed (the
 *   tasks still to deliver, each naming the split's total, and task-done records not yet
 *   counted), and the checkpoints of the tasks in progress (keyed by work-topic
 *   partition/offset).
 *
 * All of it is as of the last commits: a tweet's `delivered` is at most checkpointEvery/2
 * batches behind its timelines.
 */
import type { StateRecord } from '../ports/streams.ts';
import { restoreCheckpoints } from '../records/checkpoint.ts';
import { completedSplits, restoreTallies } from '../records/tally.ts';
import { decodeWorkRecord, type SplitSource, type SplitTask } from '../records/task.ts';

/** One fan-out in progress, JSON-ready. */
export interface CommittedProgress {
  readonly tweet: string;
  readonly op: 'insert' | 'delete';
  /** An insert taking its rows back (its tweet was deleted while it was delivered): delivered counts those. */
  readonly retracting: boolean;
  readonly author: string | null;
  readonly delivered: number;
  /** Followers to reach (for a split tweet, counted or estimated when it was split); null: not known yet. */
  readonly total: number | null;
  readonly remaining: number | null;
  /** Whole tweets: every follower id up to this one has it. Split tweets: null (each task has its own). */
  readonly cursor: string | null;
  readonly ageSeconds: number;
  /** Where its change event sits in the CDC topic: `partition@offset`. */
  readonly source: string;
  /** Split tweets: their tasks, by state (a task whose rows are all written but not yet committed counts as done). */
  readonly split: {
    readonly tasks: number;
    readonly done: number;
    readonly inProgress: number;
    readonly waiting: number;
  } | null;
}

export interface CommittedState {
  /** The checkpoint topic, read to its end. */
  readonly checkpoints: readonly StateRecord[];
  /** The work topic from the tasks group's committed offsets to its end. */
  readonly pendingWork: readonly StateRecord[];
  readonly cdcTopic: string;
  readonly tasksTopic: string;
  readonly now: number;
}

interface SplitAcc {
  tweetId: string;
  op: 'insert' | 'delete';
  authorId: bigint;
  count: number;
  total: number | null;
  startedAt: number;
  source: SplitSource;
  readonly done: Set<number>;
  delivered: number;
  /** Some task took (or takes) its rows back. */
  retracting: boolean;
  inProgress: number;
  waiting: number;
}

/** The fan-outs in progress, oldest first. */
export function committedProgress(state: CommittedState): CommittedProgress[] {
  const ageSeconds = (startedAt: number): number =>
    Math.max(0, Math.round((state.now - startedAt) / 1000));
  const out: Array<CommittedProgress & { startedAt: number }> = [];
  for (const [partition, byOffset] of restoreCheckpoints(state.checkpoints, state.cdcTopic)) {
    for (const [offset, cp] of byOffset) {
      if (cp.done) continue; // delivered; only its in-order offset commit is outstanding
      out.push({
        tweet: cp.tweetId,
        op: cp.op,
        retracting: cp.retracting === true,
        author: cp.authorId?.toString() ?? null,
        delivered: cp.delivered,
        total: cp.total,
        remaining: cp.total === null ? null : Math.max(cp.total - cp.delivered, 0),
        cursor: cp.cursor?.toString() ?? null,
        ageSeconds: ageSeconds(cp.startedAt),
        source: `${partition}@${offset}`,
        split: null,
        startedAt: cp.startedAt,
      });
    }
  }

  const splits = new Map<string, SplitAcc>();
  const acc = (t: {
    splitId: string;
    tweetId: string;
    op: 'insert' | 'delete';
    authorId: bigint;
    count: number;
    startedAt: number;
    source: SplitSource;
  }): SplitAcc => {
    let a = splits.get(t.splitId);
    if (!a) {
      const { tweetId, op, authorId, count, startedAt, source } = t;
      splits.set(
        t.splitId,
        (a = {
          tweetId,
          op,
          authorId,
          count,
          startedAt,
          source,
          total: null,
          done: new Set(),
          delivered: 0,
          retracting: false,
          inProgress: 0,
          waiting: 0,
        }),
      );
    }
    return a;
  };
  // A split whose tally was tombstoned is complete (its completion event went out with it).
  const completed = completedSplits(state.checkpoints, state.tasksTopic);
  for (const byId of restoreTallies(state.checkpoints, state.tasksTopic).values()) {
    for (const t of byId.values()) {
      const a = acc(t);
      for (const i of t.done) a.done.add(i);
      a.delivered += t.delivered;
      a.retracting ||= t.retracted;
    }
  }
  // Task-done records first, then tasks: the committed offsets were fetched before the records
  // were read, so a task that committed in between shows both as pending and as done (once).
  const work = state.pendingWork.map((r) => ({
    r,
    w: decodeWorkRecord({
      topic: state.tasksTopic,
      partition: r.partition,
      offset: BigInt(r.offset),
      key: null,
      value: r.value,
      headers: {},
    }),
  }));
  for (const { w } of work) {
    if (w.kind !== 'done') continue;
    const a = acc(w.done);
    if (a.done.has(w.done.index)) continue;
    a.done.add(w.done.index);
    a.delivered += w.done.delivered;
    a.retracting ||= w.done.retracted;
  }
  const taskCheckpoints = restoreCheckpoints(state.checkpoints, state.tasksTopic);
  for (const { r, w } of work) {
    if (w.kind !== 'task') continue;
    const task: SplitTask = w.task;
    const a = acc(task);
    a.total = task.total;
    if (a.done.has(task.index)) continue;
    const cp = taskCheckpoints.get(r.partition)?.get(BigInt(r.offset));
    if (!cp) {
      a.waiting++;
      continue;
    }
    a.delivered += cp.delivered;
    a.retracting ||= cp.retracting === true;
    if (cp.done) a.done.add(task.index);
    else a.inProgress++;
  }
  for (const [splitId, a] of splits) {
    // Completed while status read: the tally's tombstone, or every task done by now.
    if (completed.has(splitId) || a.done.size >= a.count) continue;
    out.push({
      tweet: a.tweetId,
      op: a.op,
      retracting: a.retracting,
      author: a.authorId.toString(),
      delivered: a.delivered,
      total: a.total,
      remaining: a.total === null ? null : Math.max(a.total - a.delivered, 0),
      cursor: null,
      ageSeconds: ageSeconds(a.startedAt),
      source: `${a.source.partition}@${a.source.offset}`,
      split: { tasks: a.count, done: a.done.size, inProgress: a.inProgress, waiting: a.waiting },
      startedAt: a.startedAt,
    });
  }
  return out.sort((x, y) => x.startedAt - y.startedAt).map(({ startedAt: _, ...p }) => p);
}
