/**
 * The streaming ports the fan-out pipeline depends on: a partitioned record source it can pause,
 * a transactional sink that moves consumer offsets together with output records, and a reader
 * of a compacted state topic. The Kafka implementations live in connectors/kafka/; the pipeline sees only
 * these interfaces (unit tests drive it with fakes of them).
 */

/** One record read from the source topic. */
export interface SourceRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: Readonly<Record<string, string>>;
}

/** What a source tells its owner, and asks it. */
export interface SourceListener {
  /**
   * How many more records the owner can take now. At 0 the source pauses every assigned
   * partition (no fetching, no prefetch memory) but keeps polling, so the group membership and
   * rebalances are served however long the owner stays busy.
   */
  room(): number;
  /** A record, in offset order per partition; never more than {@link room} allowed. Must not block. */
  record(record: SourceRecord): void;
  /**
   * Partitions newly assigned: their records are delivered once this resolves, while the
   * partitions already owned keep flowing. They may be revoked before it resolves (then
   * {@link revoked} is called for them at once: the owner must not take them up when it does).
   */
  assigned(partitions: readonly number[]): Promise<void>;
  /**
   * Partitions being taken away; awaited before they are given up, so the owner can commit what it
   * finished while the group generation is still its own. `lost`: the session expired, the
   * partitions are already someone else's and nothing may be committed for them.
   */
  revoked(partitions: readonly number[], lost: boolean): Promise<void>;
  /** The source cannot go on (fatal client error, fenced by a newer instance). */
  failed(err: Error): void;
}

/** A consumer-group source of one topic that delivers only as much as its owner has room for. */
export interface RecordSource {
  readonly topic: string;
  /** Joins the group and starts delivering to `listener`; resolves once the poll loop runs. */
  start(listener: SourceListener): Promise<void>;
  /** The owner's room grew: resume fetching now rather than at the next paused poll. */
  wake(): void;
  /** True while every partition is paused for lack of room. */
  readonly paused: boolean;
  /** The high watermark of a partition as last seen by the fetcher (no request), if known. */
  highWatermark(partition: number): bigint | undefined;
  /**
   * Where the fetcher last found a partition's end (read_committed: its last stable offset) with
   * every record before it handed to the listener and none handed since; otherwise undefined.
   * Offsets below it that no record took are transaction markers: a lane that committed all it
   * was handed is not behind by them.
   */
  endReached(partition: number): bigint | undefined;
  /** Leaves (or, for a static member, detaches from) the group; idempotent. */
  close(): Promise<void>;
}

/** A record to produce. `value: null` is a tombstone. No partition: by the key's hash. */
export interface OutRecord {
  readonly topic: string;
  readonly partition?: number;
  readonly key: string;
  readonly value: string | null;
  readonly headers?: Readonly<Record<string, string>>;
}

/** One atomic step: these records become visible together with these source offsets, or none do. */
export interface Transaction {
  /** Next offset to consume, per source partition. */
  readonly offsets: ReadonlyArray<{ readonly partition: number; readonly offset: bigint }>;
  readonly records: readonly OutRecord[];
}

/** A transactional producer bound to the source's consumer group. */
export interface TransactionalSink {
  /** Connects; a stable transactional id fences older instances and aborts their open transaction. */
  open(): Promise<void>;
  /** Commits one transaction; on failure it is aborted and the error says whether to retry. */
  commit(tx: Transaction): Promise<void>;
  close(): Promise<void>;
}

/** A record of a compacted state topic as read back (null value: tombstone). */
export interface StateRecord {
  readonly partition: number;
  readonly offset: number;
  readonly key: string | null;
  readonly value: Buffer | null;
}

/** Reads these partitions of the checkpoint topic from the beginning to their committed end; `signal` cancels the read. */
export type StateReader = (
  partitions: readonly number[],
  signal?: AbortSignal,
) => Promise<StateRecord[]>;
