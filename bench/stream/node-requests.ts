/**
 * The requests the Cassandra node answered during a load, from its own counter
 * (`system_views.thread_pools`, Native-Transport-Requests): per tweet, how many round trips each
 * side costs the node. (Its ReadStage and MutationStage counters are no measure of reads and
 * writes: a replica runs a single-partition read or write of its own inline, off those stages.)
 */
import type { CassandraClient } from '../../connectors/cassandra/client.ts';

/** Requests the node (the client's, the only one locally) has answered so far. */
export async function nodeRequests(client: CassandraClient): Promise<number> {
  const rs = await client.execute(
    "SELECT completed_tasks FROM system_views.thread_pools WHERE name = 'Native-Transport-Requests'",
  );
  return Number(rs.first()?.get('completed_tasks') ?? Number.NaN);
}

/** Requests per tweet between two readings, over a load of `tweets`. */
export const perTweet = (before: number, after: number, tweets: number): number =>
  +((after - before) / tweets).toFixed(2);
