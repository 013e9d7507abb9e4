/**
 * The raw per-tweet ceiling: what the driver alone does for a stream of small tweets, with none
 * of the pipeline's reliability (no CDC, Kafka, checkpoints, claims, author records or end
 * checks). Per tweet: read the author's followers (one page), then write their timeline rows as
 * one unlogged batch; a fixed number of tweets in flight.
 *
 * With `tweetsTable` each tweet is first written as the application writes it (the load's insert,
 * to a table of the same columns): what a design in which the application writes its tweets to
 * Cassandra pays before any fan-out, so that run's rate bounds any such pipeline's.
 */
import cassandra from 'cassandra-driver';
import type { CassandraClient } from '../../connectors/cassandra/client.ts';
import { writeTweet } from './load.ts';

export interface RawResult {
  readonly tweets: number;
  readonly rows: number;
  readonly seconds: number;
  /** Requests that failed (a loaded node times some out): their tweets count, unwritten. */
  readonly errors: number;
}

export async function rawTweets(
  client: CassandraClient,
  keyspace: string,
  authors: readonly bigint[],
  options: { inFlight: number; pageSize: number; tweetsTable?: string },
): Promise<RawResult> {
  const page = `SELECT follower_id FROM ${keyspace}.followers WHERE user_id = ? LIMIT ?`;
  const insert = `INSERT INTO ${keyspace}.timelines (user_id, tweet_id, author_id) VALUES (?, ?, ?) USING TIMESTAMP ?`;
  let next = 0;
  let rows = 0;
  let errors = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (next < authors.length) {
      const author = authors[next++]!;
      const tweetId = cassandra.types.TimeUuid.now();
      const ts = BigInt(Date.now()) * 1000n;
      try {
        if (options.tweetsTable !== undefined)
          await writeTweet(
            client,
            keyspace,
            { tweetId: tweetId.toString(), authorId: author, createdAt: new Date() },
            options.tweetsTable,
          );
        const rs = await client.execute(page, [author, options.pageSize], { prepare: true });
        const ids = rs.rows.map((r) => r.get('follower_id') as bigint);
        rows += ids.length;
        if (ids.length === 0) continue;
        await client.batch(
          ids.map((f) => ({ query: insert, params: [f, tweetId, author, ts] })),
          { prepare: true, logged: false },
        );
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: options.inFlight }, worker));
  return { tweets: authors.length, rows, errors, seconds: (performance.now() - started) / 1000 };
}

/**
 * The table the raw run that writes its tweets writes them to: `tweets`' columns without CDC, so
 * the running pipeline does not fan those tweets out as well (and the node skips CDC's commit-log
 * bookkeeping for them: the bound is, if anything, high). Emptied for each bench run.
 */
export const TWEETS_WITHOUT_CDC = 'tweets_without_cdc';

export async function createTweetsWithoutCdc(
  client: CassandraClient,
  keyspace: string,
): Promise<void> {
  await client.execute(
    `CREATE TABLE IF NOT EXISTS ${keyspace}.${TWEETS_WITHOUT_CDC} (
       tweet_id timeuuid PRIMARY KEY, author_id bigint, body text, created_at timestamp
     ) WITH cdc = false`,
  );
  await client.execute(`TRUNCATE ${keyspace}.${TWEETS_WITHOUT_CDC}`);
}
