/**
 * What `Worker.status()` reports: JSON-ready progress of the tweets and split tasks in flight,
 * the splits this worker counts, and lifetime totals.
 */
import type { Job } from './job.ts';
import type { Totals } from './metrics.ts';

export type WorkerState = 'starting' | 'running' | 'draining' | 'stopped' | 'failed';

/** Progress of one in-flight tweet (ids as strings: JSON-ready). */
export interface TweetProgress {
  readonly tweetId: string;
  readonly authorId: string | null;
  readonly op: 'insert' | 'delete';
  /** An insert taking its rows back (its tweet was deleted while it was delivered): delivered counts those. */
  readonly retracting: boolean;
  readonly partition: number;
  readonly offset: string;
  readonly delivered: number;
  readonly cursor: string | null;
  readonly total: number | null;
  readonly remaining: number | null;
  readonly startedAt: string;
  readonly resumed: boolean;
  readonly stopped: boolean;
  /** For a task of a split tweet: which slice, of how many (delivered/remaining are the task's). */
  readonly task: {
    readonly splitId: string;
    readonly index: number;
    readonly count: number;
    readonly after: string | null;
    readonly upTo: string | null;
  } | null;
  /** For a tweet being split: into how many tasks. */
  readonly splitInto: number | null;
}

/** A split tweet whose task-done records this worker counts (it owns the split's home partition). */
export interface SplitProgress {
  readonly tweetId: string;
  readonly splitId: string;
  readonly tasks: number;
  readonly tasksDone: number;
  readonly delivered: number;
}

export interface WorkerStatus {
  readonly workerId: string;
  readonly state: WorkerState;
  readonly partitions: number[];
  readonly paused: boolean;
  readonly inFlight: TweetProgress[];
  /** Records taken but not yet committed. */
  readonly uncommitted: number;
  /** Follower rows read but not yet written (bounded by the row credit). */
  readonly rowsOutstanding: number;
  readonly consumerLag: number | undefined;
  /** Work-topic partitions this worker takes tasks from (empty: no work lane). */
  readonly taskPartitions: number[];
  /** The graph lane (follows and unfollows), when the worker has one. */
  readonly graph?: {
    readonly partitions: number[];
    readonly inFlight: number;
    readonly uncommitted: number;
    readonly consumerLag: number | undefined;
  };
  /**
   * Partitions assigned and still being restored (not yet in `partitions` / `taskPartitions`): a
   * restore waits out a dead worker's open transaction, while the other partitions flow.
   */
  readonly restoring: { readonly partitions: number[]; readonly taskPartitions: number[] };
  /** Split tweets counted here, by their home partition. */
  readonly splits: SplitProgress[];
  /** Lifetime totals over both lanes. */
  readonly totals: Totals;
}

/** The counters of two lanes added up. */
export function sumTotals(a: Totals, b: Totals | undefined): Totals {
  const totals = { ...a };
  if (b) for (const k of Object.keys(totals) as Array<keyof Totals>) totals[k] += b[k];
  return totals;
}

/** The progress of one job. */
export function progress(job: Job): TweetProgress {
  const d = job.delivery;
  const t = job.kind === 'task' ? job.task : null;
  return {
    tweetId: job.tweetId,
    authorId: job.authorId?.toString() ?? null,
    op: job.op,
    retracting: d.retracting,
    partition: job.partition,
    offset: job.offset.toString(),
    delivered: d.delivered,
    cursor: d.cursor?.toString() ?? null,
    total: d.total,
    remaining: d.remaining,
    startedAt: new Date(job.startedAt).toISOString(),
    resumed: job.resumed,
    stopped: d.stopped,
    task: t
      ? {
          splitId: t.splitId,
          index: t.index,
          count: t.count,
          after: t.range.after?.toString() ?? null,
          upTo: t.range.upTo?.toString() ?? null,
        }
      : null,
    splitInto: job.kind === 'tweet' && job.fate.kind === 'split' ? job.fate.ranges.length : null,
  };
}

/**
 * Followers `tweetId` has reached so far, as far as this worker sees: its own delivered count
 * while it is delivered whole; for a split tweet, the tasks counted done here (if this worker owns
 * its home partition) plus its tasks in flight here. Other workers' tasks in flight are not in
 * this status. Undefined: the tweet is neither in flight nor counted here.
 */
export function deliveredSoFar(status: WorkerStatus, tweetId: string): number | undefined {
  const jobs = status.inFlight.filter((t) => t.tweetId === tweetId);
  const split = status.splits.find((s) => s.tweetId === tweetId);
  if (jobs.length === 0 && split === undefined) return undefined;
  return (split?.delivered ?? 0) + jobs.reduce((n, j) => n + j.delivered, 0);
}
