/**
 * The storage ports the pipeline and the CLI depend on. The Cassandra implementations live in
 * connectors/cassandra/; one contract suite (test/pipeline/follower-store-contract.ts) runs
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
  /** The highest follower id of `userId` (null: no followers). One row. */
  last(userId: bigint): Promise<bigint | null>;
  /** How many followers `userId` has (a full scan of the partition: not for hot paths). */
  count(userId: bigint): Promise<number>;
  /** Adds followers of `userId` (one partition: written as single-partition batches). */
  add(userId: bigint, followerIds: readonly bigint[], followedAt?: Date): Promise<void>;
}

/**
 * One change to one home-timeline row. `writeTimeMicros` is the source change's write time, used
 * as `USING TIMESTAMP`: replays converge (last write wins) and a replayed insert can never
 * resurrect a row a newer delete removed.
 */
export interface TimelineMutation {
  readonly op: 'insert' | 'delete';
  readonly userId: bigint;
  readonly tweetId: string;
  readonly authorId: bigint;
  readonly writeTimeMicros: bigint;
  /** An insert of a tweet with a TTL: the row expires then too (seconds since the epoch). */
  readonly expiresAt?: number | null;
}

/** Home timelines. */
export interface TimelineStore {
  /** Applies `mutations` (any mix of users, tweets and ops); resolves when all are written. */
  write(mutations: readonly TimelineMutation[]): Promise<void>;
  /** The newest `limit` entries of a user's timeline, newest first. */
  read(userId: bigint, limit: number): Promise<TimelineEntry[]>;
  /**
   * Keeps the newest `keep` rows of each user's timeline: reads at most `keep + 1` ids of each
   * (one read for all of them) and, for each that has more, deletes every row from the oldest of
   * those on by one clustering-range delete (`USING TIMESTAMP` now). Resolves with the users
   * whose timelines it cut.
   */
  trim(userIds: readonly bigint[], keep: number): Promise<bigint[]>;
  /** Resolves once work it runs behind the writes (trims) is done: awaited before the client closes. */
  idle?(): Promise<void>;
  /** Users queued for that work and not started yet (fanout_timeline_trims_queued). */
  pending?(): number;
}

/** An author as recorded in tweet_authors, with the write time of its record. */
export interface RecordedAuthor {
  readonly authorId: bigint;
  readonly writeTime: bigint;
}

/**
 * Who wrote a tweet, recorded by the pipeline when it sees an upsert: a CDC delete carries only
 * the key (Cassandra logs no before-image), so retracting a tweet needs its author from here, and
 * so does moving a tweet whose author an UPDATE changed.
 */
export interface TweetAuthorStore {
  /**
   * Records the author, `USING TIMESTAMP writeTimeMicros` (idempotent on replay; an older write
   * than the recorded one changes nothing), in `tweet_authors` and in the author's
   * `author_tweets` ({@link AuthorTweetStore}).
   */
  put(
    tweetId: string,
    authorId: bigint,
    writeTimeMicros: bigint,
    expiresAt?: number | null,
  ): Promise<void>;
  /** The recorded author, or null when the insert was never seen. */
  get(tweetId: string): Promise<bigint | null>;
  /**
   * The recorded author with the write time it was recorded at (its change's), or null when none
   * is recorded. Read at LOCAL_QUORUM: an upsert compares it with its own author and write time
   * to tell a move (an older, different author) from a stale change (a newer one).
   */
  getWithTime(tweetId: string): Promise<RecordedAuthor | null>;
  /**
   * A delete of the tweet, written at `writeTimeMicros`, is about to read the author's followers:
   * recorded before its first follower read, so an insert of the tweet still being delivered
   * elsewhere finds it when it ends ({@link deletedSince}).
   */
  markDeleted(tweetId: string, writeTimeMicros: bigint): Promise<void>;
  /**
   * Whether the tweet was taken from an upsert at `writeTimeMicros` since it was recorded: a
   * delete at or after that time has marked itself ({@link markDeleted}), or, given the upsert's
   * `authorId`, another author is recorded by a later write (the tweet moved on). One read of
   * what every earlier write to the record wrote (all at LOCAL_QUORUM: within the data centre),
   * so a delete or move that had read any follower before this call is seen. No record: false.
   */
  deletedSince(tweetId: string, writeTimeMicros: bigint, authorId?: bigint): Promise<boolean>;
  /**
   * Forgets the author once the tweet's delete is delivered, `USING TIMESTAMP writeTimeMicros`
   * (the delete's write time: a replayed, older insert cannot bring it back), and, given the
   * author, the tweet's row in `author_tweets`. The delete's mark
   * ({@link markDeleted}) stays for a while after, for inserts of the tweet still ending.
   */
  forget(tweetId: string, writeTimeMicros: bigint, authorId?: bigint | null): Promise<void>;
}

/** A live tweet of an author, as a follow backfills it. */
export interface AuthorTweet {
  readonly tweetId: string;
  /** Write time of its `author_id` cell, µs. */
  readonly writeTime: bigint;
  /** When it expires (seconds since the epoch; null: never). */
  readonly expiresAt: number | null;
}

/**
 * The tweets of an author, newest first: `author_tweets`, written by the pipeline with each
 * tweet's author record ({@link TweetAuthorStore.put}, before any timeline row of it) and deleted
 * with its delete. What a follow backfills and an unfollow deletes (pipeline/graph/).
 */
export interface AuthorTweetStore {
  /** The newest `limit` tweet ids recorded for the author, newest first. */
  recent(authorId: bigint, limit: number): Promise<string[]>;
  /**
   * Of `tweetIds`, those that are live in `tweets` (the application's table: a tweet deleted or
   * given another author since it was recorded is not), with their write time and expiry; read
   * at LOCAL_QUORUM.
   */
  live(authorId: bigint, tweetIds: readonly string[]): Promise<AuthorTweet[]>;
  /**
   * Of `tweetIds`, those `tweets` now gives another author (an UPDATE moved them; the index keeps
   * them under this one too); a deleted tweet is not one. Read at LOCAL_QUORUM.
   */
  movedAway(authorId: bigint, tweetIds: readonly string[]): Promise<string[]>;
}

/**
 * Claims on change events (`fanout_claims`): every replica's connector sends its own copy of a
 * write, all with one `eventId`, and only the copy that claims it first is fanned out.
 */
export interface ClaimStore {
  /**
   * Claims the change `key` (pipeline/tweets/decode.ts `changeKey`) for `claimant` (where that
   * copy sits: topic/partition/offset) unless a claim exists; returns the claimant that holds it
   * (`claimant` itself when this call, or an earlier one of the same copy, made it).
   */
  claim(key: string, claimant: string): Promise<string>;
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
