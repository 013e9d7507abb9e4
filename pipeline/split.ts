/**
 * Splitting of celebrity fan-outs (issue #4, item 7). One worker delivering a 500k-follower tweet
 * pins that worker and holds back every later offset of its partition; instead, a tweet whose
 * author has more than `pipeline.splitThreshold` followers is cut into page-range tasks of
 * `pipeline.splitTaskSize` followers that any worker can take from the work topic.
 *
 * Boundaries come from walking the author's follower ids (ids only, one partition, ascending) in
 * pages of `splitTaskSize`: each page's last id closes a range. Cassandra offers no OFFSET, and
 * token ranges do not apply inside one partition, so a walk is the only exact way to cut ranges
 * of a known size; it reads ids only (8 bytes each, no writes), far cheaper than the fan-out it
 * spreads. The walk stops as soon as the author is known to be small: one short page for most.
 *
 * The walk is not under the row credit (no rows are emitted): it holds one page of ids at a time,
 * and at most `pipeline.maxInFlightTweets` tweets walk at once. For an author it does not split it
 * costs one extra single-partition read of ids (the tweet's own paging then reads them again).
 *
 * The ranges tile the whole follower-id space: the first starts at -∞ (`after: null`), the last
 * ends at +∞ (`upTo: null`), so a follower added while the tasks run is still covered by exactly
 * one task, and no follower id can fall between two tasks.
 */

/** One page range of a split fan-out: follower ids in (after, upTo]. */
export interface TaskRange {
  /** Exclusive lower bound (null: from the first follower). */
  readonly after: bigint | null;
  /** Inclusive upper bound (null: to the last follower). */
  readonly upTo: bigint | null;
  /** Followers in the range when it was cut. */
  readonly rows: number;
}

/** How a tweet's fan-out is cut into tasks. */
export interface SplitPlan {
  /** Followers counted by the walk. */
  readonly total: number;
  readonly ranges: readonly TaskRange[];
}

export interface SplitOptions {
  /** Split only authors with MORE followers than this. */
  readonly threshold: number;
  /** Followers per task (and per id page of the walk). */
  readonly taskSize: number;
  /** Stops the walk (the tweet was stopped); the plan is then null. */
  readonly signal?: AbortSignal;
  /** Told the follower count once the walk has reached the end (split or not): no count query needed. */
  readonly onTotal?: (total: number) => void;
}

/** Reads one page of follower ids (the FollowerStore's `page`, under the retry policy). */
export type IdPager = (after: bigint | null, limit: number) => Promise<bigint[]>;

/**
 * Decides whether to split and where: null for an author with at most `threshold` followers (or
 * when stopped), else the ranges. Reads at most ⌈threshold / taskSize⌉ + 1 pages for an author it
 * does not split, and ⌈followers / taskSize⌉ + 1 for one it does.
 */
export async function planSplit(read: IdPager, options: SplitOptions): Promise<SplitPlan | null> {
  const { threshold, taskSize } = options;
  if (!Number.isInteger(taskSize) || taskSize < 1) throw new RangeError(`split task size must be a positive integer, got ${taskSize}`);
  const cuts: Array<{ upTo: bigint; rows: number }> = [];
  let after: bigint | null = null;
  let total = 0;
  for (;;) {
    if (options.signal?.aborted) return null;
    const page = await read(after, taskSize);
    if (page.length > 0) {
      after = page.at(-1)!;
      cuts.push({ upTo: after, rows: page.length });
      total += page.length;
    }
    if (page.length < taskSize) break; // the end of the list
  }
  if (options.signal?.aborted) return null;
  options.onTotal?.(total);
  if (total <= threshold) return null;
  const ranges: TaskRange[] = cuts.map((c, i) => ({ after: i === 0 ? null : cuts[i - 1]!.upTo, upTo: i === cuts.length - 1 ? null : c.upTo, rows: c.rows }));
  return { total, ranges };
}
