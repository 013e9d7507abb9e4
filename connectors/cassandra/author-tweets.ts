import cassandra from 'cassandra-driver';
import type { CassandraClient } from './client.ts';
import type { AuthorTweet, AuthorTweetStore } from '../../ports/stores.ts';
import { classifyCassandraError } from '../../lib/errors.ts';

/**
 * LOCAL_QUORUM: the index row of a tweet is written at LOCAL_QUORUM before its first timeline
 * row, so a follow's read after the follow was applied sees every tweet whose fan-out could have
 * missed the new follower (docs/formats.md, "Follows and unfollows").
 */
const QUORUM = { prepare: true, consistency: cassandra.types.consistencies.localQuorum };

/** AuthorTweetStore over `author_tweets` (the pipeline's index) and `tweets` (the truth). */
export class CassandraAuthorTweetStore implements AuthorTweetStore {
  readonly #client: CassandraClient;
  readonly #ks: string;

  constructor(client: CassandraClient, keyspace: string) {
    this.#client = client;
    this.#ks = keyspace;
  }

  async recent(authorId: bigint, limit: number): Promise<string[]> {
    if (limit <= 0) return [];
    try {
      const rs = await this.#client.execute(
        `SELECT tweet_id FROM ${this.#ks}.author_tweets WHERE author_id = ? LIMIT ?`,
        [authorId, limit],
        { ...QUORUM, fetchSize: limit },
      );
      return rs.rows.map((r) => String(r.get('tweet_id')));
    } catch (err) {
      throw classifyCassandraError(err, `read the latest tweets of ${authorId}`);
    }
  }

  async live(authorId: bigint, tweetIds: readonly string[]): Promise<AuthorTweet[]> {
    if (tweetIds.length === 0) return [];
    try {
      const rs = await this.#client.execute(
        `SELECT tweet_id, author_id, WRITETIME(author_id) AS at, TTL(author_id) AS ttl FROM ${this.#ks}.tweets WHERE tweet_id IN ?`,
        [tweetIds],
        QUORUM,
      );
      const nowS = Math.floor(Date.now() / 1000);
      const byId = new Map<string, AuthorTweet>();
      for (const r of rs.rows) {
        if ((r.get('author_id') as bigint | null) !== authorId) continue; // moved on
        const at = r.get('at') as bigint | null;
        if (at === null) continue;
        const ttl = r.get('ttl') as number | null;
        const tweetId = String(r.get('tweet_id'));
        byId.set(tweetId, { tweetId, writeTime: at, expiresAt: ttl === null ? null : nowS + ttl });
      }
      return tweetIds.flatMap((id) => byId.get(id) ?? []);
    } catch (err) {
      throw classifyCassandraError(err, `read tweets of ${authorId}`);
    }
  }

  async movedAway(authorId: bigint, tweetIds: readonly string[]): Promise<string[]> {
    if (tweetIds.length === 0) return [];
    try {
      const rs = await this.#client.execute(
        `SELECT tweet_id, author_id FROM ${this.#ks}.tweets WHERE tweet_id IN ?`,
        [tweetIds],
        QUORUM,
      );
      return rs.rows.flatMap((r) => {
        const author = r.get('author_id') as bigint | null;
        return author !== null && author !== authorId ? [String(r.get('tweet_id'))] : [];
      });
    } catch (err) {
      throw classifyCassandraError(
        err,
        `read the authors of ${tweetIds.length} tweets of ${authorId}`,
      );
    }
  }
}
