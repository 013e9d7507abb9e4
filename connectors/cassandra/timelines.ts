import cassandra from 'cassandra-driver';
import type { CassandraClient } from './client.ts';
import type { TimelineEntry, TimelineStore } from '../stores.ts';
import { classifyCassandraError } from '../errors.ts';

/** TimelineStore over the `timelines` table: concurrent single-partition writes. */
export class CassandraTimelineStore implements TimelineStore {
  readonly #client: CassandraClient;
  readonly #ks: string;
  readonly #consistency: number;

  constructor(client: CassandraClient, keyspace: string, writeConsistency = 'local_quorum') {
    this.#client = client;
    this.#ks = keyspace;
    const levels = cassandra.types.consistencies as unknown as Record<string, number>;
    const key = writeConsistency.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
    this.#consistency = levels[key] ?? cassandra.types.consistencies.localQuorum;
  }

  async insert(entries: readonly TimelineEntry[], writeTimeMicros: bigint): Promise<void> {
    const cql = `INSERT INTO ${this.#ks}.timelines (user_id, tweet_id, author_id) VALUES (?, ?, ?) USING TIMESTAMP ?`;
    await this.#concurrent(cql, entries.map((e) => [e.userId, e.tweetId, e.authorId, writeTimeMicros]), 'write timeline rows');
  }

  async remove(userIds: readonly bigint[], tweetId: string, writeTimeMicros: bigint): Promise<void> {
    const cql = `DELETE FROM ${this.#ks}.timelines USING TIMESTAMP ? WHERE user_id = ? AND tweet_id = ?`;
    await this.#concurrent(cql, userIds.map((u) => [writeTimeMicros, u, tweetId]), 'remove timeline rows');
  }

  async read(userId: bigint, limit: number): Promise<TimelineEntry[]> {
    try {
      const rs = await this.#client.execute(
        `SELECT user_id, tweet_id, author_id FROM ${this.#ks}.timelines WHERE user_id = ? LIMIT ?`, [userId, limit], { prepare: true },
      );
      return rs.rows.map((r) => ({ userId: r.get('user_id') as bigint, tweetId: String(r.get('tweet_id')), authorId: r.get('author_id') as bigint }));
    } catch (err) {
      throw classifyCassandraError(err, `read timeline of ${userId}`);
    }
  }

  async #concurrent(cql: string, params: unknown[][], what: string): Promise<void> {
    if (params.length === 0) return;
    try {
      await cassandra.concurrent.executeConcurrent(this.#client, cql, params, {
        concurrencyLevel: Math.min(params.length, 128),
        raiseOnFirstError: true,
        executionProfile: undefined as never,
        queryOptions: { prepare: true, consistency: this.#consistency },
      } as never);
    } catch (err) {
      throw classifyCassandraError(err, what);
    }
  }
}
