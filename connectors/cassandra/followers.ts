import { type CassandraClient, consistencyOf } from './client.ts';
import type { FollowerStore } from '../../ports/stores.ts';
import { classifyCassandraError } from '../../lib/errors.ts';

/** Follower ids per page when counting. */
const COUNT_PAGE_ROWS = 50_000;
/** Rows per single-partition unlogged batch when adding followers (one partition: cheap). */
const ADD_BATCH_ROWS = 100;
/** Follows are written at LOCAL_QUORUM: with reads at readConsistency, a follow one read saw, every later read sees. */
const ADD_OPTIONS = { prepare: true, logged: false, consistency: consistencyOf('local_quorum') };

/** FollowerStore over the `followers` table. */
export class CassandraFollowerStore implements FollowerStore {
  readonly #client: CassandraClient;
  readonly #ks: string;
  readonly #read: { prepare: true; consistency: number };

  /**
   * `readConsistency` (config `cassandra.readConsistency`, default local_quorum): with writes of
   * follows at LOCAL_QUORUM too, a follow a fan-out has read is seen by every later read, which
   * the retraction of deleted tweets relies on (README "Deletes during their insert").
   */
  constructor(
    client: CassandraClient,
    keyspace: string,
    options: { readConsistency?: string } = {},
  ) {
    this.#client = client;
    this.#ks = keyspace;
    this.#read = { prepare: true, consistency: consistencyOf(options.readConsistency) };
  }

  async page(
    userId: bigint,
    after: bigint | null,
    limit: number,
    upTo?: bigint,
  ): Promise<bigint[]> {
    const where = [`user_id = ?`];
    const params: unknown[] = [userId];
    if (after !== null) {
      where.push('follower_id > ?');
      params.push(after);
    }
    if (upTo !== undefined) {
      where.push('follower_id <= ?');
      params.push(upTo);
    }
    params.push(limit);
    try {
      const rs = await this.#client.execute(
        `SELECT follower_id FROM ${this.#ks}.followers WHERE ${where.join(' AND ')} LIMIT ?`,
        params,
        { ...this.#read, fetchSize: limit },
      );
      return rs.rows.map((r) => r.get('follower_id') as bigint);
    } catch (err) {
      throw classifyCassandraError(err, `read followers of ${userId}`);
    }
  }

  async last(userId: bigint): Promise<bigint | null> {
    try {
      const rs = await this.#client.execute(
        `SELECT follower_id FROM ${this.#ks}.followers WHERE user_id = ? ORDER BY follower_id DESC LIMIT 1`,
        [userId],
        this.#read,
      );
      return (rs.first()?.get('follower_id') as bigint | undefined) ?? null;
    } catch (err) {
      throw classifyCassandraError(err, `read the last follower of ${userId}`);
    }
  }

  /**
   * Counts by paging the ids (8 bytes each, one page at a time): a `COUNT(*)` over one
   * partition runs inside a single read request and hits `read_request_timeout` (5 s) at a few
   * million followers.
   */
  async count(userId: bigint): Promise<number> {
    let n = 0;
    for (let after: bigint | null = null; ;) {
      const page = await this.page(userId, after, COUNT_PAGE_ROWS);
      n += page.length;
      if (page.length < COUNT_PAGE_ROWS) return n;
      after = page.at(-1)!;
    }
  }

  async add(
    userId: bigint,
    followerIds: readonly bigint[],
    followedAt: Date = new Date(),
  ): Promise<void> {
    const insert = `INSERT INTO ${this.#ks}.followers (user_id, follower_id, followed_at) VALUES (?, ?, ?)`;
    for (let i = 0; i < followerIds.length; i += ADD_BATCH_ROWS) {
      const queries = followerIds
        .slice(i, i + ADD_BATCH_ROWS)
        .map((f) => ({ query: insert, params: [userId, f, followedAt] }));
      try {
        await this.#client.batch(queries, ADD_OPTIONS);
      } catch (err) {
        throw classifyCassandraError(err, `add followers of ${userId}`);
      }
    }
  }
}
