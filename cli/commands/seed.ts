import { CassandraFollowerStore } from '../../connectors/cassandra/followers.ts';
import { eachInPool } from '../../lib/pool.ts';
import type { FollowerStore } from '../../ports/stores.ts';
import type { Context } from '../context.ts';
import { progress } from '../progress.ts';
import { followChunks, seedPlan, type SeedOptions } from '../seed-graph.ts';

/** Follower ids per store call; each call is written as single-partition batches. */
const CHUNK = 1_000;

export interface SeedResult {
  readonly rows: number;
  readonly seconds: number;
  readonly authors: ReadonlyArray<{ authorId: bigint; followers: number }>;
}

/**
 * Writes the plan with at most `concurrency` chunks in flight: a fixed pool of workers pulls
 * chunks from one shared iterator, so memory stays at concurrency × CHUNK ids whatever the size.
 */
export async function writeSeed(
  store: FollowerStore,
  options: SeedOptions,
  concurrency: number,
  onProgress?: (rows: number, total: number) => void,
): Promise<SeedResult> {
  const plan = seedPlan(options);
  const started = performance.now();
  let done = 0;
  await eachInPool(followChunks(plan.authors, CHUNK), concurrency, async (chunk) => {
    await store.add(chunk.authorId, chunk.ids);
    done += chunk.ids.length;
    onProgress?.(done, plan.totalRows);
  });
  return {
    rows: done,
    seconds: (performance.now() - started) / 1000,
    authors: plan.authors.map((a) => ({ authorId: a.authorId, followers: a.followers })),
  };
}

/** `fanout seed`: the follower graph, with a progress bar. */
export async function seed(
  ctx: Context,
  options: SeedOptions,
  concurrency: number,
): Promise<SeedResult> {
  const store = new CassandraFollowerStore(await ctx.cassandra(), ctx.config.cassandra.keyspace);
  const total = seedPlan(options).totalRows;
  const bar = progress('seed followers', total);
  try {
    const result = await writeSeed(store, options, concurrency, (d) => bar.update(d));
    bar.stop();
    console.log(
      `seeded ${result.rows} follower rows in ${result.seconds.toFixed(1)} s (${Math.round(result.rows / result.seconds)} rows/s): ` +
        `author ${options.author} has ${options.followers} followers; ${options.tailAuthors} tail authors`,
    );
    return result;
  } finally {
    bar.stop();
  }
}
