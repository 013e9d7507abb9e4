/**
 * The bench's authors: each gets exactly N followers (ids from `firstFollower`), reseeded only when
 * its count differs, and then only its own partition: a 5M-follower author seeded once (minutes)
 * survives runs at other sizes of the small one.
 */
import type { Client } from 'cassandra-driver';
import { writeSeed } from '../cli/commands/seed.ts';
import { CassandraFollowerStore } from '../connectors/cassandra/followers.ts';

export async function ensureFollowers(
  client: Client,
  keyspace: string,
  author: bigint,
  followers: number,
  firstFollower: bigint,
): Promise<void> {
  const store = new CassandraFollowerStore(client, keyspace);
  if ((await store.count(author)) === followers) return;
  await client.execute(`DELETE FROM ${keyspace}.followers WHERE user_id = ?`, [author], {
    prepare: true,
  });
  process.stderr.write(`seeding ${followers} followers of author ${author}...\n`);
  await writeSeed(
    store,
    { author, followers, firstFollower, tailAuthors: 0, tailMax: 1, seed: Number(author) },
    16,
  );
}
