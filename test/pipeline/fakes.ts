/**
 * In-memory fakes of the ports, for unit tests of the pipeline's logic only (integration tests
 * use the real services). The timeline fake applies last-write-wins by write time, like Cassandra.
 */
import { FanoutError } from '../../lib/errors.ts';
import type {
  AuthorTweet,
  AuthorTweetStore,
  ClaimStore,
  FollowerStore,
  RecordedAuthor,
  TimelineEntry,
  TimelineMutation,
  TimelineStore,
  TweetAuthorStore,
} from '../../ports/stores.ts';
import type {
  OutRecord,
  RecordSource,
  SourceListener,
  SourceRecord,
  StateRecord,
  Transaction,
  TransactionalSink,
} from '../../ports/streams.ts';

/** Settings of a worker over these fakes: small batches and pages, fast retries. */
export const FAKE_SETS: readonly string[] = [
  'cassandra.keyspace=ks',
  'pipeline.batchSize=10',
  'pipeline.maxInFlightBatches=2',
  'pipeline.pageSize=50',
  'pipeline.checkpointEvery=4',
  'pipeline.lingerMs=1',
  'pipeline.maxInFlightTweets=2',
  'retry.baseDelayMs=1',
  'retry.maxDelayMs=2',
  'retry.maxAttempts=4',
];

export class MemoryFollowers implements FollowerStore {
  readonly graph = new Map<bigint, bigint[]>();
  pages = 0;

  set(userId: bigint, followers: readonly bigint[]): void {
    this.graph.set(
      userId,
      [...new Set(followers)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
    ); // a set, like the table
  }

  /** Awaited before each page read (to hold one in flight). */
  beforePage: (() => Promise<void>) | undefined;

  async page(
    userId: bigint,
    after: bigint | null,
    limit: number,
    upTo?: bigint,
  ): Promise<bigint[]> {
    await this.beforePage?.();
    this.pages++;
    const all = this.graph.get(userId) ?? [];
    const from = after === null ? 0 : all.findIndex((f) => f > after);
    return from < 0
      ? []
      : all.slice(from, from + limit).filter((f) => upTo === undefined || f <= upTo);
  }

  async last(userId: bigint): Promise<bigint | null> {
    return this.graph.get(userId)?.at(-1) ?? null;
  }

  async count(userId: bigint): Promise<number> {
    return this.graph.get(userId)?.length ?? 0;
  }

  async add(userId: bigint, followerIds: readonly bigint[]): Promise<void> {
    this.set(userId, [...(this.graph.get(userId) ?? []), ...followerIds]);
  }
}

export class MemoryTimelines implements TimelineStore {
  /** user -> tweet -> cell (deleted cells kept, as tombstones with their time). */
  readonly cells = new Map<
    bigint,
    Map<string, { authorId: bigint; ts: bigint; live: boolean; expiresAt: number | null }>
  >();
  writes = 0;
  rows = 0;
  /** Errors to throw on the next writes, in order. */
  readonly failures: Error[] = [];
  /** Resolves writes only when released (to hold batches in flight). */
  gate: Promise<void> | undefined;
  /** Latency of each write. */
  delayMs = 0;

  async write(mutations: readonly TimelineMutation[]): Promise<void> {
    await this.gate;
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    const failure = this.failures.shift();
    if (failure) throw failure;
    this.writes++;
    this.rows += mutations.length;
    for (const m of mutations) {
      let row = this.cells.get(m.userId);
      if (!row)
        this.cells.set(
          m.userId,
          (row = new Map<
            string,
            { authorId: bigint; ts: bigint; live: boolean; expiresAt: number | null }
          >()),
        );
      const cell = row.get(m.tweetId);
      if (cell && cell.ts > m.writeTimeMicros) continue;
      if (cell && cell.ts === m.writeTimeMicros && !cell.live) continue; // a tombstone wins a tie
      row.set(m.tweetId, {
        authorId: m.authorId,
        ts: m.writeTimeMicros,
        live: m.op === 'insert',
        expiresAt: m.op === 'insert' ? (m.expiresAt ?? null) : null,
      });
    }
  }

  async read(userId: bigint, limit: number): Promise<TimelineEntry[]> {
    const row = this.cells.get(userId) ?? new Map();
    return [...row]
      .filter(([, c]) => c.live)
      .slice(0, limit)
      .map(([tweetId, c]) => ({ userId, tweetId, authorId: c.authorId }));
  }

  /** Users whose timelines were read for a trim, and the reads (each takes a group of users). */
  trims = 0;
  trimReads = 0;

  /** As Cassandra: keeps the newest `keep` live rows of each by tweet time, a range tombstone at now. */
  async trim(userIds: readonly bigint[], keep: number): Promise<bigint[]> {
    this.trimReads++;
    const cut: bigint[] = [];
    for (const userId of userIds) {
      this.trims++;
      const row = this.cells.get(userId);
      const live = [...(row ?? [])].filter(([, c]) => c.live).map(([id]) => id);
      live.sort((a, b) => (timeuuidTime(b) > timeuuidTime(a) ? 1 : -1));
      if (live.length <= keep || !row) continue;
      const boundary = timeuuidTime(live[keep]!);
      const now = BigInt(Date.now()) * 1000n;
      for (const [id, c] of row)
        if (timeuuidTime(id) <= boundary && c.ts <= now)
          row.set(id, { ...c, live: false, ts: now });
      cut.push(userId);
    }
    return cut;
  }

  /** Live rows of a user's timeline. */
  size(userId: bigint): number {
    return [...(this.cells.get(userId)?.values() ?? [])].filter((c) => c.live).length;
  }

  /** Users whose timeline holds `tweetId`. */
  holders(tweetId: string): bigint[] {
    return [...this.cells].filter(([, row]) => row.get(tweetId)?.live === true).map(([u]) => u);
  }
}

/**
 * tweet_authors as Cassandra keeps it: per record an author cell, a deleted_at cell and a row
 * tombstone, each with its write time; the later write wins and a tombstone wins a tie. The maps
 * are the live view. (TTLs are not modelled: expiry is recorded, never applied.)
 */
export class MemoryAuthors implements TweetAuthorStore {
  /** The live author of each record. */
  readonly authors = new Map<string, bigint>();
  /** Expiry of each author record put with one (seconds since the epoch). */
  readonly expiries = new Map<string, number>();
  /** The live deleted_at of each record marked by a delete. */
  readonly deletes = new Map<string, bigint>();
  readonly #times = new Map<string, { author: bigint; mark: bigint; row: bigint }>();

  #of(tweetId: string): { author: bigint; mark: bigint; row: bigint } {
    let t = this.#times.get(tweetId);
    if (!t) this.#times.set(tweetId, (t = { author: -1n, mark: -1n, row: -1n }));
    return t;
  }
  async put(
    tweetId: string,
    authorId: bigint,
    writeTimeMicros: bigint,
    expiresAt: number | null = null,
  ): Promise<void> {
    const t = this.#of(tweetId);
    if (writeTimeMicros <= t.row || writeTimeMicros < t.author) return;
    t.author = writeTimeMicros;
    this.authors.set(tweetId, authorId);
    if (expiresAt === null) this.expiries.delete(tweetId);
    else this.expiries.set(tweetId, expiresAt);
  }
  async get(tweetId: string): Promise<bigint | null> {
    return this.authors.get(tweetId) ?? null;
  }
  async getWithTime(tweetId: string): Promise<RecordedAuthor | null> {
    const authorId = this.authors.get(tweetId);
    return authorId === undefined ? null : { authorId, writeTime: this.#of(tweetId).author };
  }
  async forget(tweetId: string, writeTimeMicros: bigint): Promise<void> {
    const t = this.#of(tweetId);
    if (writeTimeMicros > t.row) t.row = writeTimeMicros; // the row delete
    if (t.author <= t.row) {
      this.authors.delete(tweetId);
      this.expiries.delete(tweetId);
    }
    if (t.mark <= t.row) this.deletes.delete(tweetId);
    await this.markDeleted(tweetId, writeTimeMicros); // the mark, just after it
  }
  async markDeleted(tweetId: string, writeTimeMicros: bigint): Promise<void> {
    const t = this.#of(tweetId);
    const at = writeTimeMicros + 1n;
    if (at <= t.row || at < t.mark) return;
    t.mark = at;
    this.deletes.set(tweetId, writeTimeMicros);
  }
  async deletedSince(
    tweetId: string,
    writeTimeMicros: bigint,
    authorId?: bigint,
  ): Promise<boolean> {
    if ((this.deletes.get(tweetId) ?? -1n) >= writeTimeMicros) return true;
    const recorded = this.authors.get(tweetId);
    return (
      authorId !== undefined &&
      recorded !== undefined &&
      recorded !== authorId &&
      this.#of(tweetId).author > writeTimeMicros
    );
  }
}

/** The 60-bit time of a timeuuid (its clustering order in Cassandra, ties aside). */
export function timeuuidTime(id: string): bigint {
  return BigInt(`0x${id.slice(15, 18)}${id.slice(9, 13)}${id.slice(0, 8)}`);
}

/** `tweets` and `author_tweets` in memory: what a follow backfills, what an unfollow deletes. */
export class MemoryAuthorTweets implements AuthorTweetStore {
  /** Every tweet, live or not, with its current author and write time. */
  readonly tweets = new Map<
    string,
    { authorId: bigint; writeTime: bigint; live: boolean; expiresAt: number | null }
  >();

  /**
   * `author_tweets`: the tweets recorded under each author. As in Cassandra, a tweet stays under
   * an author it moved away from (only a delete of the tweet removes its entry).
   */
  readonly index = new Map<bigint, Set<string>>();

  /** An application's write: the tweet exists, and (as the pipeline does) is indexed. */
  add(tweetId: string, authorId: bigint, writeTime: bigint, expiresAt: number | null = null): void {
    this.tweets.set(tweetId, { authorId, writeTime, live: true, expiresAt });
    this.#indexed(authorId).add(tweetId);
  }

  /** An UPDATE of the tweet's author, as the pipeline records it: indexed under both authors. */
  move(tweetId: string, authorId: bigint, writeTime: bigint): void {
    const t = this.tweets.get(tweetId)!;
    this.tweets.set(tweetId, { ...t, authorId, writeTime });
    this.#indexed(authorId).add(tweetId);
  }

  async recent(authorId: bigint, limit: number): Promise<string[]> {
    return [...(this.index.get(authorId) ?? [])]
      .sort((a, b) => (timeuuidTime(b) > timeuuidTime(a) ? 1 : -1))
      .slice(0, limit);
  }

  async movedAway(authorId: bigint, tweetIds: readonly string[]): Promise<string[]> {
    return tweetIds.filter((id) => {
      const t = this.tweets.get(id);
      return t?.live === true && t.authorId !== authorId;
    });
  }

  #indexed(authorId: bigint): Set<string> {
    let ids = this.index.get(authorId);
    if (!ids) this.index.set(authorId, (ids = new Set()));
    return ids;
  }

  async live(authorId: bigint, tweetIds: readonly string[]): Promise<AuthorTweet[]> {
    return tweetIds.flatMap((tweetId) => {
      const t = this.tweets.get(tweetId);
      return t?.live && t.authorId === authorId
        ? [{ tweetId, writeTime: t.writeTime, expiresAt: t.expiresAt }]
        : [];
    });
  }
}

/** Claims in memory: the first claimant of an event id keeps it (what the LWT does). */
export class MemoryClaims implements ClaimStore {
  readonly held = new Map<string, string>();

  async claim(eventId: string, claimant: string): Promise<string> {
    if (!this.held.has(eventId)) this.held.set(eventId, claimant);
    return this.held.get(eventId)!;
  }
}

/** A source over fixed records, honouring `room()` like the Kafka one; tracks what it was allowed. */
export class FakeSource implements RecordSource {
  readonly topic: string;
  readonly partitions: number[];
  readonly #queue: SourceRecord[] = [];
  #listener: SourceListener | undefined;
  #timer: NodeJS.Timeout | undefined;
  #next = new Map<number, bigint>();
  readonly #restoring = new Map<number, Promise<void>>();
  delivered = 0;
  paused = false;
  closed = false;

  constructor(partitions = [0, 1, 2], topic = 'cdc.ks.tweets') {
    this.partitions = partitions;
    this.topic = topic;
  }

  /** Ends a transaction in a partition: a marker takes the next offset, as in Kafka. */
  marker(partition: number): void {
    this.#next.set(partition, (this.#next.get(partition) ?? 0n) + 1n);
  }

  /** Appends a record to a partition (offsets assigned in order). */
  push(partition: number, value: string | object, key = 'k'): SourceRecord {
    const offset = this.#next.get(partition) ?? 0n;
    this.#next.set(partition, offset + 1n);
    const r: SourceRecord = {
      topic: this.topic,
      partition,
      offset,
      key: Buffer.from(key),
      value: Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
      headers: {},
    };
    this.#queue.push(r);
    return r;
  }

  async start(listener: SourceListener): Promise<void> {
    this.#listener = listener;
    await listener.assigned(this.partitions);
    const tick = (): void => {
      if (this.closed) return;
      // Like the Kafka source: room is asked again before every record (another lane sharing
      // the owner's bounds may have taken it meanwhile).
      while (listener.room() > 0 && this.#queue.length > 0) {
        const r = this.#queue.shift()!;
        if (!this.partitions.includes(r.partition)) continue;
        this.delivered++;
        listener.record(r);
      }
      this.paused = listener.room() <= 0;
      this.#timer = setTimeout(tick, 1);
    };
    tick();
  }

  /**
   * Assigns more partitions, as a rebalance would: like the Kafka source, their records flow once
   * the owner has restored them (unless revoked meanwhile); returns that restore.
   */
  assign(partitions: number[]): Promise<void> {
    const restore: Promise<void> = this.#listener!.assigned(partitions).then(() => {
      for (const p of partitions) {
        if (this.#restoring.get(p) !== restore) continue;
        this.#restoring.delete(p);
        this.partitions.push(p);
      }
    });
    for (const p of partitions) this.#restoring.set(p, restore);
    return restore;
  }

  /** Takes partitions away, as a rebalance would. */
  async revoke(partitions: number[], lost = false): Promise<void> {
    for (const p of partitions) {
      this.#restoring.delete(p);
      if (this.partitions.includes(p)) this.partitions.splice(this.partitions.indexOf(p), 1);
    }
    await this.#listener!.revoked(partitions, lost);
  }

  wake(): void {}

  highWatermark(partition: number): bigint | undefined {
    return this.#next.get(partition);
  }

  endReached(partition: number): bigint | undefined {
    if (!this.partitions.includes(partition)) return undefined;
    return this.#queue.some((r) => r.partition === partition)
      ? undefined
      : this.#next.get(partition);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.#timer);
    if (this.partitions.length > 0) await this.#listener?.revoked([...this.partitions], false);
  }
}

/** Records committed transactions; can fail the next ones. */
export class FakeSink implements TransactionalSink {
  readonly committed: Transaction[] = [];
  readonly failures: Error[] = [];
  opened = false;
  closed = false;

  async open(): Promise<void> {
    this.opened = true;
  }

  async commit(tx: Transaction): Promise<void> {
    const f = this.failures.shift();
    if (f) throw f;
    this.committed.push({ offsets: [...tx.offsets], records: [...tx.records] });
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** The committed records of a topic. */
  records(topic: string): OutRecord[] {
    return this.committed.flatMap((t) => t.records.filter((r) => r.topic === topic));
  }

  /** The committed offset of a partition (next to consume), if any. */
  offset(partition: number): bigint | undefined {
    let last: bigint | undefined;
    for (const t of this.committed)
      for (const o of t.offsets) if (o.partition === partition) last = o.offset;
    return last;
  }

  /** The compacted checkpoint topic as a reader sees it. */
  stateRecords(topic: string): StateRecord[] {
    return this.records(topic).map((r, i) => ({
      partition: r.partition ?? 0,
      offset: i,
      key: r.key,
      value: r.value === null ? null : Buffer.from(r.value),
    }));
  }
}

export const retriable = (message = 'write timeout'): FanoutError =>
  new FanoutError('CASSANDRA_UNAVAILABLE', message, { retriable: true });
export const permanent = (message = 'bad request'): FanoutError =>
  new FanoutError('CASSANDRA_REJECTED', message, { retriable: false });
