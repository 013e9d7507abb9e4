/**
 * The bounds of a worker, derived from `pipeline.*` config (docs/architecture.md, "Invariants"):
 * memory by the row credit, rework after a crash by the read-ahead past the last committed
 * checkpoint.
 */
import type { CreditShares } from './lane/credit.ts';

interface Knobs {
  readonly batchSize: number;
  readonly pageSize: number;
  readonly checkpointEvery: number;
  readonly maxInFlightBatches: number;
  readonly smallFirst: boolean;
}

/** Rows a fan-out may read beyond its last committed checkpoint: the rework bound. */
export const readAheadRows = (p: Pick<Knobs, 'checkpointEvery' | 'batchSize'>): number =>
  p.checkpointEvery * p.batchSize;

/**
 * The row credit: rows read and not yet written, per worker process (both lanes). The writes in
 * flight hold up to `maxInFlightBatches × batchSize`; one more page on top lets the next page be
 * read while those land, so the writer never waits for a read, and pages stay large. Small first
 * (`smallFirst`), one more page is reserved for small jobs: what a celebrity's tasks hold does not
 * keep small tweets from their pages.
 */
export const rowCredit = (
  p: Pick<Knobs, 'maxInFlightBatches' | 'batchSize' | 'pageSize' | 'smallFirst'>,
): number => p.maxInFlightBatches * p.batchSize + p.pageSize + (p.smallFirst ? p.pageSize : 0);

/**
 * What each class may hold of the row credit, small first: bulk (tasks) what the whole credit is
 * without the reserve, small all but the least a bulk page asks for (half a page), so a task still
 * gets a page as soon as the tasks hold nothing. Otherwise one class: first come, first served.
 */
export const creditShares = (
  p: Pick<Knobs, 'maxInFlightBatches' | 'batchSize' | 'pageSize' | 'smallFirst'>,
): CreditShares => {
  if (!p.smallFirst) return {};
  const all = rowCredit(p);
  return { bulk: all - p.pageSize, small: all - minPageRows(p) };
};

/** Fewest rows worth a page read: half a page (few big reads, not one small read per batch). */
export const minPageRows = (p: Pick<Knobs, 'pageSize'>): number => Math.ceil(p.pageSize / 2);

/**
 * Rows written between two checkpoints of a fan-out in progress: half the read-ahead, so the
 * commit normally lands before paging has to wait for it.
 */
export const checkpointRows = (p: Pick<Knobs, 'checkpointEvery' | 'batchSize'>): number =>
  Math.ceil(readAheadRows(p) / 2);
