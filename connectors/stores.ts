/**
 * The storage ports the pipeline and the CLI depend on. Implementations live beside this file
 * (Cassandra ones in ./cassandra/); one contract suite in test/connectors/stores.contract.ts runs
 * against each. User, follower and author ids are 64-bit: bigint everywhere, never number.
 */

/** A tweet as stored in the `tweets` table. */
export interface Tweet {
  readonly tweetId: string; // timeuuid, canonical text form
  readonly authorId: bigint;
  readonly body: string;
  readonly createdAt: Date;
}

/** One row of a home timeline. */
export interface TimelineEntry {
  readonly userId: bigint;
  readonly tweetId: string;
  readonly authorId: bigint;
}

/** The followers OF a user, read in pages ordered by follower id. */
export interface FollowerStore {
  /**
   * Up to `limit` follower ids of `userId`, ascending, strictly after `after` (null: from the
   * start) and at most `upTo` when given. The cursor is the last id returned, so any page can be
   * re-read from a checkpoint.
   */
  page(userId: bigint, after: bigint | null, limit: number, upTo?: bigint): Promise<bigint[]>;
  /** How many followers `userId` has (a full scan of the partition: not for hot paths). */
  count(userId: bigint): Promise<number>;
  /** Adds followers of `userId` (one partition: written as single-partition batches). */
  add(userId: bigint, followerIds: readonly bigint[], followedAt?: Date): Promise<void>;
}

/** Home timelines. Writes carry the source write time, so replays converge (last write wins). */
export interface TimelineStore {
  /** Writes `entries` with `USING TIMESTAMP writeTimeMicros`. */
  insert(entries: readonly TimelineEntry[], writeTimeMicros: bigint): Promise<void>;
  /** Removes `tweetId` from these users' timelines, `USING TIMESTAMP writeTimeMicros`. */
  remove(userIds: readonly bigint[], tweetId: string, writeTimeMicros: bigint): Promise<void>;
  /** The newest `limit` entries of a user's timeline, newest first. */
  read(userId: bigint, limit: number): Promise<TimelineEntry[]>;
}

/** The `tweets` table, written by applications with plain CQL. */
export interface TweetStore {
  /** Inserts a tweet exactly as an application would (plain CQL INSERT); returns its id. */
  insert(authorId: bigint, body: string): Promise<Tweet>;
  /** The tweets with these ids that exist, in the order asked. */
  get(tweetIds: readonly string[]): Promise<Tweet[]>;
  /** Deletes a tweet (plain CQL DELETE). */
  remove(tweetId: string): Promise<void>;
}
