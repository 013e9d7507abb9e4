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
  /** Rows per page of a trim's read (tests page with fewer). */
  trimPageRows?: number;
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
  readonly #trimPageRows: number;

  constructor(client: CassandraClient, keyspace: string, options: TimelineStoreOptions = {}) {
    this.#client = client;
    this.#ks = keyspace;
    this.#consistency = consistencyOf(options.writeConsistency);
    this.#readConsistency = consistencyOf(options.readConsistency);
    this.#strategy = options.strategy ?? 'batch';
    this.#trimPageRows = options.trimPageRows ?? 5_000;
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

  async trim(userIds: readonly bigint[], keep: number): Promise<bigint[]> {
    if (userIds.length === 0) return [];
    try {
      // One read for all of them (a request per user cost the node more than its rows: a
      // 250-follower tweet queues ~8 trims), each timeline's newest keep + 1 ids, paged.
      const rows = new Map<bigint, number>();
      const past = new Map<bigint, cassandra.types.TimeUuid>(); // the oldest id past the cap
      let pageState: string | undefined;
      do {
        const rs = await this.#client.execute(
          `SELECT user_id, tweet_id FROM ${this.#ks}.timelines WHERE user_id IN ? PER PARTITION LIMIT ?`,
          [userIds, keep + 1],
          {
            prepare: true,
            fetchSize: this.#trimPageRows,
            pageState,
            consistency: this.#readConsistency,
          },
        );
        for (const r of rs.rows) {
          const userId = r.get('user_id') as bigint;
          const n = (rows.get(userId) ?? 0) + 1;
          rows.set(userId, n);
          if (n === keep + 1) past.set(userId, r.get('tweet_id') as cassandra.types.TimeUuid);
        }
        pageState = rs.pageState;
      } while (pageState);
      if (past.size === 0) return [];
      // Clustering order is DESC: `<=` is that row and every older one. Now, not a tweet's write
      // time: a row of an older tweet written later (a backfill, a late fan-out) is past the cap too.
      const remove = `DELETE FROM ${this.#ks}.timelines USING TIMESTAMP ? WHERE user_id = ? AND tweet_id <= ?`;
      const now = BigInt(Date.now()) * 1000n;
      const deletes = [...past].map(([userId, oldest]) => ({
        query: remove,
        params: [now, userId, oldest],
      }));
      const options = { prepare: true, consistency: this.#consistency };
      await (deletes.length === 1
        ? this.#client.execute(remove, deletes[0]!.params, options)
        : this.#client.batch(deletes, { ...options, logged: false }));
      return [...past.keys()];
    } catch (err) {
      const whose =
        userIds.length === 1
          ? `the timeline of ${userIds[0]}`
          : `the timelines of ${userIds.length} users`;
      throw classifyCassandraError(err, `trim ${whose} to ${keep} rows`);
    }
  }
}
