/**
 * The worker's view of `tweet_authors` beyond the join's reads: the authors of recent upserts, for
 * a delete right behind an upsert that has not recorded its author yet (tweet_authors is asked
 * first: it has the tweet's latest author once recorded, memory may hold an older write's), and
 * forgetting the authors of deleted tweets.
 */
import type { Logger } from '../../lib/log.ts';
import type { TweetAuthorStore } from '../../ports/stores.ts';

/** Authors of recent upserts kept in memory for deletes right behind them. */
const KNOWN_AUTHORS = 10_000;

export class RecentAuthors {
  readonly #store: TweetAuthorStore;
  readonly #attempt: <T>(what: string, fn: () => Promise<T>) => Promise<T>;
  readonly #log: Logger;
  readonly #capacity: number;
  /**
   * Insertion-ordered: the oldest entry goes first when full. Each with its write time, and the
   * source partition of its upsert (entries go with their partition: ./handler.ts drop).
   */
  readonly #known = new Map<string, { authorId: bigint; writeTime: bigint; partition: number }>();
  /** Row deletes under way (awaited on stop). */
  readonly #forgets = new Set<Promise<void>>();

  constructor(options: {
    store: TweetAuthorStore;
    attempt: <T>(what: string, fn: () => Promise<T>) => Promise<T>;
    log: Logger;
    capacity?: number;
  }) {
    this.#store = options.store;
    this.#attempt = options.attempt;
    this.#log = options.log;
    this.#capacity = options.capacity ?? KNOWN_AUTHORS;
  }

  /** The author of a recent upsert, if still remembered. */
  get(tweetId: string): bigint | undefined {
    return this.#known.get(tweetId)?.authorId;
  }

  /**
   * Remembers the author of an upsert written at `writeTime` (the oldest entry is dropped past
   * capacity). Of two upserts of a tweet, the later write's author is kept, whichever came first:
   * it is the one the tweet has.
   */
  remember(tweetId: string, authorId: bigint, writeTime = 0n, partition = 0): void {
    const known = this.#known.get(tweetId);
    this.#known.delete(tweetId);
    this.#known.set(
      tweetId,
      known !== undefined && known.writeTime > writeTime
        ? known
        : { authorId, writeTime, partition },
    );
    if (this.#known.size > this.#capacity) this.#known.delete(this.#known.keys().next().value!);
  }

  /**
   * The partitions were given up: their authors are forgotten. Whoever owns them meanwhile may
   * move or delete those tweets, and a delete here later must ask tweet_authors, not an author
   * this worker saw before.
   */
  drop(partitions: readonly number[]): void {
    const gone = new Set(partitions);
    for (const [tweetId, known] of this.#known)
      if (gone.has(known.partition)) this.#known.delete(tweetId);
  }

  /**
   * A delete of the tweet is committed: its author is needed no more. Forgets it at the delete's
   * write time (the delete's mark stays for a while), and the tweet from the author's index,
   * best effort (a leftover author is only a stale one; a follow checks the tweet is live).
   */
  forget(tweetId: string, writeTime: bigint, authorId?: bigint | null): void {
    this.#known.delete(tweetId);
    const forget = this.#attempt(`forget the author of ${tweetId}`, () =>
      this.#store.forget(tweetId, writeTime, authorId),
    )
      .catch((err: unknown) =>
        this.#log.warn('could not delete the author record of a deleted tweet', {
          tweetId,
          err: String(err),
        }),
      )
      .finally(() => this.#forgets.delete(forget));
    this.#forgets.add(forget);
  }

  /** Settles once every row delete under way has (successfully or not). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#forgets]);
  }
}
