/**
 * Splitting of celebrity fan-outs (issue #4, item 7). One worker delivering a 500k-follower tweet
 * pins that worker and holds back every later offset of its partition; instead, a tweet whose
 * author has more than `pipeline.splitThreshold` followers is cut into page-range tasks of about
 * `pipeline.splitTaskSize` followers that any worker can take from the work topic.
 *
 * Cassandra offers no OFFSET, and token ranges do not apply inside one partition, so ranges of an
 * exact size can only be cut by walking the ids. Walking them all costs as much as the reads of
 * the fan-out itself and sits before its first write (1.5 s at 500k followers, 16 s at 5M, on the
 * benchmark box). So the walk stops once it has proved the author is big:
 *   1. Walk the ids in pages of `taskSize` until more than `threshold` are seen (or the list
 *      ends). Every full page walked is one exact range. A small author is decided exactly, and
 *      for most authors this is one short page.
 *   2. Read the highest follower id (one row), and cut the rest of the id space into ranges of
 *      equal width, as many as the density of the walked ids predicts for `taskSize` followers
 *      each (at most `MAX_ESTIMATED_RANGES`): the way Spark's JDBC source cuts a table by a
 *      numeric column between its bounds.
 * Cost: ⌈(threshold + 1) / taskSize⌉ pages of ids plus one row, whatever the follower count.
 * The price: ranges of step 2 hold about `taskSize` followers when ids are spread evenly over
 * their span, and more or fewer when they cluster. Uneven tasks only balance worse; every
 * follower is still in exactly one range, and each task counts what it delivered.
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
  /** Followers in the range when it was cut: counted for a walked range, else estimated. */
  readonly rows: number;
}

/** How a tweet's fan-out is cut into tasks. */
export interface SplitPlan {
  /** Followers: counted when the walk reached the end, else the walked ones plus the estimate. */
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
  /** Told the follower count when the walk reached the end (split or not): no count query needed. */
  readonly onTotal?: (total: number) => void;
}

/** Reads one author's follower ids (the FollowerStore's, under the retry policy). */
export interface IdReader {
  /** Up to `limit` ids after `after`, ascending. */
  page(after: bigint | null, limit: number): Promise<bigint[]>;
  /** The highest id (null: none). */
  last(): Promise<bigint | null>;
}

/** Most ranges cut by estimate: ids clustered at the low end must not make a flood of empty tasks. */
export const MAX_ESTIMATED_RANGES = 1_000;

/**
 * Decides whether to split and where: null for an author with at most `threshold` followers (or
 * when stopped), else the ranges.
 */
export async function planSplit(read: IdReader, options: SplitOptions): Promise<SplitPlan | null> {
  const { threshold, taskSize } = options;
  if (!Number.isInteger(taskSize) || taskSize < 1) throw new RangeError(`split task size must be a positive integer, got ${taskSize}`);
  const cuts: TaskRange[] = []; // exact: one per full page of taskSize
  let after: bigint | null = null; // the end of the last cut
  let first: bigint | null = null;
  let lastRead: bigint | null = null;
  let total = 0;
  for (;;) {
    if (options.signal?.aborted) return null;
    // Past the threshold by one id at most: a short probe page proves "more than" without a full page.
    const limit = Math.min(taskSize, threshold + 1 - total);
    const page = await read.page(lastRead, limit);
    total += page.length;
    if (page.length > 0) {
      first ??= page[0]!;
      lastRead = page.at(-1)!;
    }
    if (page.length < limit) { // the end of the list before "more than threshold": not split
      if (!options.signal?.aborted) options.onTotal?.(total);
      return null;
    }
    if (limit === taskSize) {
      cuts.push({ after, upTo: lastRead, rows: taskSize });
      after = lastRead;
    }
    if (total > threshold) break;
  }
  const highest = await read.last();
  if (options.signal?.aborted) return null;
  const counted = cuts.reduce((n, c) => n + c.rows, 0);
  const probed = total - counted; // read past the last cut (a short probe page)
  const beyond = highest === null || highest <= lastRead! ? 0 : estimateBetween(first!, lastRead!, total, highest);
  const rest = probed + beyond;
  if (rest === 0) return { total, ranges: openEnded(cuts) }; // a race: followers went away
  const pieces = Math.min(MAX_ESTIMATED_RANGES, Math.max(1, Math.ceil(rest / taskSize)));
  const from = after ?? first! - 1n;
  const to = highest !== null && highest > lastRead! ? highest : lastRead!;
  const width = to - from;
  for (let i = 1; i <= pieces; i++) {
    const upTo = i === pieces ? to : from + (width * BigInt(i)) / BigInt(pieces);
    if (upTo === after) continue; // narrower than one id per piece
    cuts.push({ after, upTo, rows: Math.round(rest / pieces) });
    after = upTo;
  }
  return { total: counted + rest, ranges: openEnded(cuts) };
}

/** Followers expected in (lastRead, highest], from the density of the `seen` ids in [first, lastRead]. */
function estimateBetween(first: bigint, lastRead: bigint, seen: number, highest: bigint): number {
  const span = Number(lastRead - first + 1n);
  return Math.max(1, Math.round((seen / span) * Number(highest - lastRead)));
}

/** The ranges with the first open below and the last open above (the whole id space). */
function openEnded(cuts: readonly TaskRange[]): TaskRange[] {
  return cuts.map((c, i) => ({ after: i === 0 ? null : c.after, upTo: i === cuts.length - 1 ? null : c.upTo, rows: c.rows }));
}
