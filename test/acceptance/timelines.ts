/**
 * Reads back what a fan-out wrote, every row of it. A whole-table check scans the timelines
 * table by token range (`tweet_id = ?` filtered per partition) a few ranges at a time: on this
 * two-core node that reads 500k rows in ~8 s, where one read per follower through
 * executeConcurrent took 53 s (110 s over a deleted tweet's tombstones) and IN-lists of 500 took
 * 18 s. The scan also sees every user outside the follower set. Small id sets use IN-lists.
 */
import cassandra from 'cassandra-driver';
import type { CassandraClient } from '../../connectors/cassandra/client.ts';

/** Token ranges of the scan: each stays well under Cassandra's tombstone_failure_threshold (100k) at 500k deleted rows. */
const SPLITS = 128;
const SCAN_CONCURRENCY = 4;
const IN_SIZE = 500;

export interface Census {
  /** Followers (ids first .. first+n-1) holding the tweet at least once. */
  readonly holding: number;
  /** Followers holding it more than once (the (user_id, tweet_id) key forbids it; counted anyway). */
  readonly duplicated: number;
  /** Up to 10 followers without it, up to 10 with it (failure messages). */
  readonly sampleMissing: bigint[];
  readonly sampleHolding: bigint[];
  /** Users outside the follower set holding it (up to 100). */
  readonly outsiders: bigint[];
  readonly seconds: number;
}

/** Scans the whole timelines table for rows of `tweetId`; followers are the ids first .. first+n-1. */
export async function census(
  client: CassandraClient,
  keyspace: string,
  tweetId: string,
  first: bigint,
  n: number,
): Promise<Census> {
  const started = performance.now();
  const counts = new Uint8Array(n);
  const outsiders: bigint[] = [];
  const min = -(2n ** 63n);
  const max = 2n ** 63n - 1n;
  const span = (max - min) / BigInt(SPLITS);
  const ranges = Array.from({ length: SPLITS }, (_, i) => ({
    from: min + span * BigInt(i),
    to: i === SPLITS - 1 ? max : min + span * BigInt(i + 1),
  }));
  // Murmur3 never yields Long.MIN_VALUE, so (from, to] ranges from it cover every token.
  const query = `SELECT user_id FROM ${keyspace}.timelines WHERE token(user_id) > ? AND token(user_id) <= ? AND tweet_id = ? ALLOW FILTERING`;
  let next = 0;
  const scanner = async (): Promise<void> => {
    for (let r = ranges[next++]; r !== undefined; r = ranges[next++]) {
      // A ResultStream is a Readable, async-iterable at runtime (its typings do not say so).
      const rows = client.stream(query, [r.from, r.to, tweetId], {
        prepare: true,
        fetchSize: 5_000,
      }) as unknown as AsyncIterable<cassandra.types.Row>;
      for await (const row of rows) {
        const user = row.get('user_id') as bigint;
        const i = user - first;
        if (i >= 0n && i < BigInt(n)) counts[Number(i)]!++;
        else if (outsiders.length < 100) outsiders.push(user);
      }
    }
  };
  await Promise.all(Array.from({ length: SCAN_CONCURRENCY }, scanner));
  let holding = 0;
  let duplicated = 0;
  const sampleMissing: bigint[] = [];
  const sampleHolding: bigint[] = [];
  counts.forEach((c, i) => {
    if (c > 0) {
      holding++;
      if (sampleHolding.length < 10) sampleHolding.push(first + BigInt(i));
    } else if (sampleMissing.length < 10) sampleMissing.push(first + BigInt(i));
    if (c > 1) duplicated++;
  });
  return {
    holding,
    duplicated,
    sampleMissing,
    sampleHolding,
    outsiders,
    seconds: (performance.now() - started) / 1000,
  };
}

/** How many of `users` hold `tweetId` (IN-lists of 500 partitions, 8 in flight). */
export async function countHolding(
  client: CassandraClient,
  keyspace: string,
  tweetId: string,
  users: readonly bigint[],
): Promise<number> {
  const params: unknown[][] = [];
  for (let i = 0; i < users.length; i += IN_SIZE)
    params.push([users.slice(i, i + IN_SIZE), tweetId]);
  const result = await cassandra.concurrent.executeConcurrent(
    client,
    `SELECT user_id FROM ${keyspace}.timelines WHERE user_id IN ? AND tweet_id = ?`,
    params,
    {
      concurrencyLevel: 8,
      collectResults: true,
      raiseOnFirstError: true,
    },
  );
  return (result.resultItems as cassandra.types.ResultSet[]).reduce((s, rs) => s + rs.rowLength, 0);
}

/** The ids from .. from+n-1. */
export const idRange = (from: bigint, n: number): bigint[] =>
  Array.from({ length: n }, (_, i) => from + BigInt(i));
