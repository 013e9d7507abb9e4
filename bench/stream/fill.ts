/**
 * Home timelines as a deployment has them after a few days: full. `--fill-timelines <rows>` writes
 * that many older rows into the timeline of every follower of the same-load authors before the
 * runs, so a sampled trim reads a timeline at its cap (timeline.maxEntries + 1 ids), as in steady
 * state, not the few rows a fresh keyspace holds.
 */
import cassandra from 'cassandra-driver';
import { eachInPool } from '../../lib/pool.ts';
import type { TimelineMutation, TimelineStore } from '../../ports/stores.ts';
import type { Author } from './graph.ts';

/** The filled rows' tweets: a year before any tweet the bench writes, one second apart. */
const FILL_EPOCH = Date.UTC(2025, 0, 1);
/** Their author: none of the bench's. */
export const FILL_AUTHOR = 9_000_000n;
const ROWS_PER_WRITE = 50;

/**
 * Writes `rows` rows into the timeline of each follower of `authors` (a follower of several gets
 * them once per author), `concurrency` writes of ROWS_PER_WRITE rows in flight. Resolves with the
 * rows written.
 */
export async function fillTimelines(
  timelines: TimelineStore,
  authors: readonly Author[],
  rows: number,
  concurrency = 32,
): Promise<number> {
  const tweetIds = Array.from({ length: rows }, (_, i) =>
    cassandra.types.TimeUuid.fromDate(new Date(FILL_EPOCH + i * 1000), 0).toString(),
  );
  function* writes(): Generator<TimelineMutation[]> {
    let batch: TimelineMutation[] = [];
    for (const a of authors)
      for (const userId of a.ids())
        for (const tweetId of tweetIds) {
          batch.push({ op: 'insert', userId, tweetId, authorId: FILL_AUTHOR, writeTimeMicros: 1n });
          if (batch.length === ROWS_PER_WRITE) {
            yield batch;
            batch = [];
          }
        }
    if (batch.length > 0) yield batch;
  }
  let written = 0;
  await eachInPool(writes(), concurrency, async (batch) => {
    await timelines.write(batch);
    written += batch.length;
  });
  return written;
}
