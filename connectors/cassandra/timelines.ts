import cassandra from 'cassandra-driver';
import { type CassandraClient, consistencyOf } from './client.ts';
import type { TimelineEntry, TimelineMutation, TimelineStore } from '../../ports/stores.ts';
import { classifyCassandraError } from '../../lib/errors.ts';
import { ttlUntil } from './expiry.ts';

/** How a write of many timeline rows reaches Cassandra (config `pipeline.writeStrategy`). */
export type WriteStrategy = 'batch' | 'concurrent';

export interface TimelineStoreOptions {
  /** Consistency level name as in config (`local_quorum`, `one`, ...). */
  writeConsistency?: string;
  /**
   * Of the reads (an unfollow's, a trim's; config `cassandra.readConsistency`, default
   * local_quorum): at LOCAL_ONE a replica that missed a delete's tombstones counts dead rows as
   * live, and a trim cuts at a row too new, deleting rows within the cap.
   */
  readConsistency?: string;
  /**
   * `batch`: one UNLOGGED batch per slice of rows (many partitions, one request; the coordinator
   * fans it out). `concurrent`: one single-partition statement per row, all in flight at once
   * (token-aware: each goes straight to a replica). See README "Write strategy" for the numbers.
   */
  strategy?: WriteStrategy;
}

/**
 * Most rows per UNLOGGED batch statement. Cassandra warns about batches over
 * `batch_size_warn_threshold` (5 KiB) and fails them over `batch_size_fail_threshold` (50 KiB); a
 * timeline row counts ~94 bytes there (measured on 5.0), so slices of 50 rows stay under the warning.
 * A larger `pipeline.batchSize` is split into even slices written concurrently.
 */
const ROWS_PER_CQL_BATCH = 50;

/** TimelineStore over the `timelines` table; every write carries the source write time. */
export class CassandraTimelineStore implements TimelineStore {
  readonly #client: CassandraClient;
  readonly #ks: string;
  readonly #consistency: number;
  readonly #readConsistency: number;
  readonly #strategy: WriteStrategy;

  constructor(client: CassandraClient, keyspace: string, options: TimelineStoreOptions = {}) {
    this.#client = client;
    this.#ks = keyspace;
    this.#consistency = consistencyOf(options.writeConsistency);
    this.#readConsistency = consistencyOf(options.readConsistency);
    this.#strategy = options.strategy ?? 'batch';
  }

  get strategy(): WriteStrategy {
    return this.#strategy;
  }

  async write(mutations: readonly TimelineMutation[]): Promise<void> {
    if (mutations.length === 0) return;
    const insert = `INSERT INTO ${this.#ks}.timelines (user_id, tweet_id, author_id) VALUES (?, ?, ?) USING TIMESTAMP ?`;
    const expiring = `${insert} AND TTL ?`;
    const remove = `DELETE FROM ${this.#ks}.timelines USING TIMESTAMP ? WHERE user_id = ? AND tweet_id = ?`;
    // A batch holds rows of few tweets: parse each tweet id once, not once per row.
    const ids = new Map<string, cassandra.types.TimeUuid>();
    const id = (tweetId: string): cassandra.types.TimeUuid => {
      let uuid = ids.get(tweetId);
      if (!uuid) ids.set(tweetId, (uuid = cassandra.types.TimeUuid.fromString(tweetId)));
      return uuid;
    };
    const now = Date.now();
    const statements = mutations.map((m) => {
      if (m.op === 'delete')
        return { query: remove, params: [m.writeTimeMicros, m.userId, id(m.tweetId)] };
      const params: unknown[] = [m.userId, id(m.tweetId), m.authorId, m.writeTimeMicros];
      if (m.expiresAt == null) return { query: insert, params };
      params.push(ttlUntil(m.expiresAt, now));
      return { query: expiring, params };
    });
    try {
      if (this.#strategy === 'batch') {
        const slices = Math.ceil(statements.length / ROWS_PER_CQL_BATCH);
        const size = Math.ceil(statements.length / slices);
        const writes: Array<Promise<unknown>> = [];
        for (let i = 0; i < statements.length; i += size) {
          writes.push(
            this.#client.batch(statements.slice(i, i + size), {
              prepare: true,
              logged: false,
              consistency: this.#consistency,
            }),
          );
        }
        await Promise.all(writes);
      } else {
        await Promise.all(
          statements.map((s) =>
            this.#client.execute(s.query, s.params, {
              prepare: true,
              consistency: this.#consistency,
            }),
          ),
        );
      }
    } catch (err) {
      throw classifyCassandraError(err, `write ${mutations.length} timeline rows`);
    }
  }

  async read(userId: bigint, limit: number): Promise<TimelineEntry[]> {
    try {
      const rs = await this.#client.execute(
        `SELECT user_id, tweet_id, author_id FROM ${this.#ks}.timelines WHERE user_id = ? LIMIT ?`,
        [userId, limit],
        { prepare: true, consistency: this.#readConsistency },
      );
      return rs.rows.map((r) => ({
        userId: r.get('user_id') as bigint,
        tweetId: String(r.get('tweet_id')),
        authorId: r.get('author_id') as bigint,
      }));
    } catch (err) {
      throw classifyCassandraError(err, `read timeline of ${userId}`);
    }
  }

  async trim(userId: bigint, keep: number): Promise<boolean> {
    try {
      const rs = await this.#client.execute(
        `SELECT tweet_id FROM ${this.#ks}.timelines WHERE user_id = ? LIMIT ?`,
        [userId, keep + 1],
        { prepare: true, fetchSize: keep + 1, consistency: this.#readConsistency },
      );
      const oldest = rs.rows[keep]?.get('tweet_id') as cassandra.types.TimeUuid | undefined;
      if (oldest === undefined) return false;
      // Clustering order is DESC: `<=` is that row and every older one. Now, not a tweet's write
      // time: a row of an older tweet written later (a backfill, a late fan-out) is past the cap too.
      await this.#client.execute(
        `DELETE FROM ${this.#ks}.timelines USING TIMESTAMP ? WHERE user_id = ? AND tweet_id <= ?`,
        [BigInt(Date.now()) * 1000n, userId, oldest],
        { prepare: true, consistency: this.#consistency },
      );
      return true;
    } catch (err) {
      throw classifyCassandraError(err, `trim the timeline of ${userId} to ${keep} rows`);
    }
  }
}
