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
 *   2. Read the highest follower id (one row), sample the density of the rest of the id space
 *      (`PROBES` equal-width slices read in short concurrent reads, see `probeDensity`) and
 *      cut it into ranges holding about `taskSize` followers each by that estimate (at most
 *      `MAX_ESTIMATED_RANGES`). Spark's JDBC source cuts by equal widths between a column's
 *      bounds; the samples keep ranges even when ids cluster (old accounts sparse, new dense).
 * Cost: ⌈(threshold + 1) / taskSize⌉ pages of ids, one row and ≤ 64 short reads, whatever the
 * follower count. The price: ranges of step 2 are sized by estimate, so they hold about
 * `taskSize` followers, not exactly. Every follower is still in exactly one range, and each task
 * counts what it delivered.
 *
 * The walk is not under the row credit (no rows are emitted): it holds one page of ids at a time,
 * and its caller bounds how many walk at once. A short first page (`firstPage`) decides most
 * authors in one read and hands their ids to the delivery, which then reads nothing; a bigger
 * author not split costs one extra single-partition read of ids (its paging reads them again).
 *
 * The ranges tile the whole follower-id space: the first starts at -∞ (`after: null`), the last
 * ends at +∞ (`upTo: null`), so a follower added while the tasks run is still covered by exactly
 * one task, and no follower id can fall between two tasks.
 */
import type { TaskRange } from '../../records/task.ts';

export type { TaskRange } from '../../records/task.ts';

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
  /**
   * Ids read first, in one short page: an author with fewer followers is decided by that one
   * read, and its ids go to {@link onWhole}; a bigger one is walked from the start as below.
   * Absent: no such page.
   */
  readonly firstPage?: number;
  /** Every follower id of an author decided by the first page (fewer than `firstPage`). */
  readonly onWhole?: (ids: bigint[]) => void;
  /**
   * Waits for room to walk (each walk holds a page of `taskSize` ids); resolves with its release,
   * or null when stopped first. Absent: no bound here.
   */
  readonly walkSlot?: () => Promise<(() => void) | null>;
}

/** Reads one author's follower ids (the FollowerStore's, under the retry policy). */
export interface IdReader {
  /** Up to `limit` ids after `after` (and at most `upTo`), ascending. */
  page(after: bigint | null, limit: number, upTo?: bigint): Promise<bigint[]>;
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
  if (!Number.isInteger(taskSize) || taskSize < 1)
    throw new RangeError(`split task size must be a positive integer, got ${taskSize}`);
  if (options.firstPage !== undefined && options.firstPage < Math.min(taskSize, threshold + 1)) {
    // Most authors have few followers: their whole list in one short read, which their delivery
    // then writes without reading it again.
    const page = await read.page(null, options.firstPage);
    if (page.length < options.firstPage) {
      if (!options.signal?.aborted) {
        options.onTotal?.(page.length);
        options.onWhole?.(page);
      }
      return null;
    }
  }
  const release = options.walkSlot ? await options.walkSlot() : () => undefined;
  if (release === null) return null;
  try {
    return await walk(read, options);
  } finally {
    release();
  }
}

/** Steps 1 and 2 of the module's header. */
async function walk(read: IdReader, options: SplitOptions): Promise<SplitPlan | null> {
  const { threshold, taskSize } = options;
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
    if (page.length < limit) {
      // the end of the list before "more than threshold": not split
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
  const from = after ?? first! - 1n; // the rest of the id space: (from, highest]
  if (highest === null || highest <= from) {
    // A race: followers went away. The walked ranges cover everything; with none walked (a
    // threshold under the task size), one range does: a split with no task would never complete.
    const ranges = cuts.length > 0 ? cuts : [{ after: null, upTo: null, rows: total }];
    return { total, ranges: openEnded(ranges) };
  }
  const segments = await probeDensity(read, from, highest);
  if (options.signal?.aborted) return null;
  const rest = segments.reduce((n, g) => n + g.rows, 0);
  const pieces = Math.min(MAX_ESTIMATED_RANGES, Math.max(1, Math.ceil(rest / taskSize)));
  for (const upTo of cutEvenly(segments, pieces)) {
    cuts.push({ after, upTo, rows: Math.round(rest / pieces) });
    after = upTo;
  }
  return { total: counted + rest, ranges: openEnded(cuts) };
}

/** Equal-width slices of the unwalked id space sampled at once, ids per sample, and most samples. */
export const PROBES = 16;
export const PROBE_IDS = 256;
export const MAX_PROBE_READS = 64;

/** A slice (after, upTo] of the id space with its follower count, counted or estimated. */
interface Segment {
  readonly after: bigint;
  readonly upTo: bigint;
  readonly rows: number;
}

/**
 * Estimates how the followers in (from, to] are spread. The space is cut into `PROBES` slices of
 * equal width, and each is read from its start, `PROBE_IDS` ids at a time, in rounds (all slices
 * of a round at once) until it is read to its end or `MAX_PROBE_READS` reads are spent. What was
 * read is counted exactly, down to the gaps before and after the ids (so a cluster is where its
 * ids are); what was not is estimated from the density of the slice's last read. Evenly spread
 * ids (the usual case) cost 4 rounds of 16 short reads; clusters (old accounts sparse, new ones
 * dense) are read more closely, at the same cost.
 */
async function probeDensity(read: IdReader, from: bigint, to: bigint): Promise<Segment[]> {
  const width = to - from;
  const n = width < BigInt(PROBES) ? Number(width) : PROBES;
  const bound = (j: number): bigint => from + (width * BigInt(j)) / BigInt(n);
  const known: Segment[] = [];
  let open = Array.from({ length: n }, (_, j) => ({ after: bound(j), upTo: bound(j + 1) }));
  let reads = 0;
  let last = new Map<bigint, { after: bigint; upTo: bigint }>(); // slice start -> the span its last full read covered
  while (open.length > 0 && reads + open.length <= MAX_PROBE_READS) {
    reads += open.length;
    const pages = await Promise.all(open.map((s) => read.page(s.after, PROBE_IDS, s.upTo)));
    const next: typeof open = [];
    last = new Map();
    open.forEach((s, i) => {
      const ids = pages[i]!;
      if (ids.length === 0) {
        known.push({ ...s, rows: 0 });
        return;
      }
      const lo = ids[0]! - 1n;
      const hi = ids.at(-1)!;
      if (lo > s.after) known.push({ after: s.after, upTo: lo, rows: 0 });
      known.push({ after: lo, upTo: hi, rows: ids.length });
      if (ids.length < PROBE_IDS) {
        if (hi < s.upTo) known.push({ after: hi, upTo: s.upTo, rows: 0 });
        return;
      }
      if (hi < s.upTo) {
        next.push({ after: hi, upTo: s.upTo });
        last.set(hi, { after: s.after, upTo: hi });
      }
    });
    open = next;
  }
  for (const s of open) {
    // out of reads: the density of its last read stands for the rest
    const span = last.get(s.after)!;
    known.push({
      ...s,
      rows: Math.round((PROBE_IDS * Number(s.upTo - s.after)) / Number(span.upTo - span.after)),
    });
  }
  return known.sort((a, b) => (a.after < b.after ? -1 : a.after > b.after ? 1 : 0));
}

/**
 * The upper bounds of `pieces` ranges over the segments holding about equal estimated followers
 * (ids spread evenly inside a segment); the last is the segments' end. Strictly increasing.
 */
function cutEvenly(segments: readonly Segment[], pieces: number): bigint[] {
  const total = segments.reduce((n, g) => n + g.rows, 0);
  const end = segments.at(-1)!.upTo;
  const bounds: bigint[] = [];
  let before = 0; // estimated followers in the segments already passed
  let g = 0;
  for (let i = 1; i < pieces; i++) {
    const target = (total * i) / pieces;
    while (g < segments.length - 1 && before + segments[g]!.rows < target)
      before += segments[g++]!.rows;
    const seg = segments[g]!;
    const share = seg.rows === 0 ? 1 : Math.min(1, (target - before) / seg.rows);
    const upTo =
      seg.after + ((seg.upTo - seg.after) * BigInt(Math.round(share * 1e6))) / 1_000_000n;
    if (upTo > (bounds.at(-1) ?? segments[0]!.after) && upTo < end) bounds.push(upTo);
  }
  bounds.push(end);
  return bounds;
}

/** The ranges with the last open above (the first already is, below): the whole id space. */
function openEnded(cuts: readonly TaskRange[]): TaskRange[] {
  return cuts.map((c, i) => (i === cuts.length - 1 ? { ...c, upTo: null } : c));
}
