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

/** Compactions and other sstable tasks the node is running now (`system_views.sstable_tasks`). */
export async function sstableTasks(client: CassandraClient): Promise<number> {
  const rs = await client.execute('SELECT kind FROM system_views.sstable_tasks');
  return rs.rows.length;
}

/**
 * Waits until the node is quiet: at most `quietRequests` requests besides its own readings over
 * `windowMs`, and (unless `compactions` is false) no compaction running. The pipeline goes on
 * working after a tweet's last row: its sampled timeline trims run behind the writes
 * (pipeline/cap.ts), thousands after a burst of 250-follower tweets; and a run's writes leave
 * compactions behind (tens of seconds after a 500k fan-out into full timelines). A run started
 * before they end pays for them: a raw run was seen at 3–6.5 requests per tweet, not 2, and a
 * head-of-line run alone at 8–13 Cassandra CPU-s in its 10 s, not 3. Resolves with the ms
 * waited; gives up after `timeoutMs`, saying so.
 */
export async function settle(
  client: CassandraClient,
  options: {
    windowMs?: number;
    quietRequests?: number;
    compactions?: boolean;
    timeoutMs?: number;
  } = {},
): Promise<number> {
  const { windowMs = 500, quietRequests = 5, compactions = true, timeoutMs = 120_000 } = options;
  const started = Date.now();
  let last = await nodeRequests(client);
  let own = 1; // this process's readings since `last`, counted in the next
  for (;;) {
    await new Promise((r) => setTimeout(r, windowMs));
    const now = await nodeRequests(client);
    if (Number.isNaN(now)) return Date.now() - started; // no counter to tell by
    const requests = now - last - own;
    own = compactions ? 2 : 1;
    const tasks = compactions ? await sstableTasks(client) : 0;
    if (requests <= quietRequests && tasks === 0) return Date.now() - started;
    if (Date.now() - started > timeoutMs) {
      process.stderr.write(
        `the node did not settle in ${timeoutMs} ms (${requests} requests in the last ${windowMs} ms, ${tasks} compactions running); measuring anyway\n`,
      );
      return Date.now() - started;
    }
    last = now;
  }
}
