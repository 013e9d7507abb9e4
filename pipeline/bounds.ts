/**
 * The bounds of a worker, derived from `pipeline.*` config (docs/architecture.md, "Invariants"):
 * memory by the row credit, rework after a crash by the read-ahead past the last committed
 * checkpoint.
 */
interface Knobs {
  readonly batchSize: number;
  readonly pageSize: number;
  readonly checkpointEvery: number;
  readonly maxInFlightBatches: number;
}

/** Rows a fan-out may read beyond its last committed checkpoint: the rework bound. */
export const readAheadRows = (p: Pick<Knobs, 'checkpointEvery' | 'batchSize'>): number =>
  p.checkpointEvery * p.batchSize;

/**
 * The row credit: rows read and not yet written, per worker process (both lanes). The writes in
 * flight hold up to `maxInFlightBatches × batchSize`; one more page on top lets the next page be
 * read while those land, so the writer never waits for a read, and pages stay large.
 */
export const rowCredit = (
  p: Pick<Knobs, 'maxInFlightBatches' | 'batchSize' | 'pageSize'>,
): number => p.maxInFlightBatches * p.batchSize + p.pageSize;

/** Fewest rows worth a page read: half a page (few big reads, not one small read per batch). */
export const minPageRows = (p: Pick<Knobs, 'pageSize'>): number => Math.ceil(p.pageSize / 2);

/**
 * Rows written between two checkpoints of a fan-out in progress: half the read-ahead, so the
 * commit normally lands before paging has to wait for it.
 */
export const checkpointRows = (p: Pick<Knobs, 'checkpointEvery' | 'batchSize'>): number =>
  Math.ceil(readAheadRows(p) / 2);
