/**
 * One tweet's fan-out in progress: where paging has got to, which rows are written, when to
 * checkpoint. Rows are written by concurrent batches that finish in any order, so the cursor
 * (the follower id up to which every timeline has the change) moves along an in-order frontier
 * of write segments; a checkpoint or a resume never skips a row still in flight.
 *
 * Rework after a crash is bounded by construction: paging never gets more than `readAhead` rows
 * (`pipeline.checkpointEvery` batches) beyond the last COMMITTED checkpoint, and a checkpoint is
 * taken each time half of that is written, so the commit normally lands before paging has to wait.
 */
import type { TweetChange } from './decode.ts';
import { InOrderFrontier, type Slot } from './frontier.ts';
import type { SplitPlan } from './split.ts';
import type { SplitTask } from './tasks.ts';

/** Rows a tweet may read beyond its last committed checkpoint: the rework bound. */
export const readAheadRows = (p: { checkpointEvery: number; batchSize: number }): number =>
  p.checkpointEvery * p.batchSize;

/**
 * The row credit: rows read and not yet written, per worker process (both lanes). The writes in
 * flight hold up to `maxInFlightBatches × batchSize`; one more page on top lets the next page be
 * read while those land, so the writer never waits for a read, and pages stay large (a page is
 * read once half of one is free: few big reads, not one small read per written batch).
 */
export const rowCredit = (p: {
  maxInFlightBatches: number;
  batchSize: number;
  pageSize: number;
}): number => p.maxInFlightBatches * p.batchSize + p.pageSize;

/** Fewest rows worth a page read: half a page (see {@link rowCredit}). */
export const minPageRows = (p: { pageSize: number }): number => Math.ceil(p.pageSize / 2);

/** Rows written between two checkpoints of a tweet in progress. */
export const checkpointRows = (p: { checkpointEvery: number; batchSize: number }): number =>
  Math.ceil(readAheadRows(p) / 2);

/** A checkpoint of a tweet in progress, as kept in the compacted checkpoint topic. */
export interface Checkpoint {
  readonly tweetId: string;
  readonly op: 'insert' | 'delete';
  readonly authorId: bigint | null;
  readonly writeTime: bigint;
  /** Every follower id up to and including this one has the change (null: none yet). */
  readonly cursor: bigint | null;
  readonly delivered: number;
  readonly total: number | null;
  readonly startedAt: number;
  /** The fan-out is complete; only its offset commit (and completion event) is outstanding. */
  readonly done: boolean;
  readonly finishedAt: number | null;
  /** An insert found deleted as it ended, taking its rows back: cursor and counts are of that pass. */
  readonly retracting?: boolean;
}

/** Consecutive rows of one tweet inside one write batch. */
export interface Segment {
  readonly rows: number;
  /** Follower id of the segment's last row. */
  readonly last: bigint;
}

/** A checkpoint about to be written. */
export interface CheckpointSnapshot {
  readonly checkpoint: Checkpoint;
}

export class TweetJob {
  readonly partition: number;
  readonly offset: bigint;
  readonly tweetId: string;
  readonly op: 'insert' | 'delete';
  readonly writeTime: bigint;
  /** Expiry of a tweet written with a TTL (seconds since the epoch); its rows expire with it. */
  readonly expiresAt: number | null;
  readonly startedAt: number;
  /** Restored from a checkpoint (a previous owner had started it). */
  readonly resumed: boolean;
  /** The page-range task this job delivers (a slice of a split tweet), or null: a whole tweet. */
  readonly task: SplitTask | null;
  /** Set when the tweet was split into tasks instead: it delivers nothing itself. */
  split: SplitPlan | null = null;
  /** The change event's id, equal on every replica's copy of the write (null: none). */
  readonly eventId: string | null;
  /** Set when another copy of the same change event holds its claim (where it sits): this one delivers nothing. */
  duplicateOf: string | null = null;
  /**
   * An insert whose tweet was deleted while it was being delivered: it takes back every row it
   * wrote (deletes at its own write time, which win over its inserts), because the delete may
   * have read the followers before someone followed the author and this insert reached them.
   * See {@link beginRetraction}.
   */
  retracting: boolean;
  authorId: bigint | null;
  /**
   * Follower count, when known: exact once paging reached the end; before that counted once (a
   * whole tweet) or estimated when the tweet was split (see ./split.ts).
   */
  total: number | null;
  /** Rows written, all followers up to {@link cursor}. */
  delivered: number;
  cursor: bigint | null;
  /** Rows read and handed downstream (written or not). */
  emitted: number;
  /** Last follower id read. */
  readCursor: bigint | null;
  finishedAt: number | null;
  /** W3C traceparent of the job's span, for the records it produces. */
  traceparent: string | undefined;
  #pagingDone: boolean;
  readonly #stop = new AbortController();
  readonly #segments = new InOrderFrontier<Segment>();
  /**
   * The last checkpoint committed (restored or written); null: none. `retracting` tells which
   * pass it is of: one of the insert pass may commit after the retraction began.
   */
  #checkpointed: { delivered: number; done: boolean; retracting: boolean } | null;
  #settledWaiters: Array<() => void> = [];
  #checkpointWaiters: Array<() => void> = [];
  /** Paging waits for a checkpoint: any progress is worth committing now. */
  #waiting = false;

  constructor(
    at: { partition: number; offset: bigint },
    change: TweetChange,
    restored: Checkpoint | null,
    now = Date.now(),
    task: SplitTask | null = null,
  ) {
    this.partition = at.partition;
    this.task = task;
    this.offset = at.offset;
    this.tweetId = change.tweetId;
    this.op = change.op;
    this.writeTime = change.writeTime;
    this.expiresAt = change.expiresAt;
    this.eventId = change.eventId ?? null;
    this.authorId = change.authorId ?? restored?.authorId ?? null;
    this.resumed = restored !== null;
    this.startedAt = restored?.startedAt ?? now;
    this.total = restored?.total ?? task?.range.rows ?? null;
    this.delivered = restored?.delivered ?? 0;
    // A task starts past its range's lower bound (only its range's rows count as delivered).
    this.cursor = restored ? restored.cursor : (task?.range.after ?? null);
    this.emitted = this.delivered;
    this.readCursor = this.cursor;
    this.retracting = restored?.retracting === true;
    this.#pagingDone = restored?.done === true;
    this.finishedAt = restored?.done === true ? (restored.finishedAt ?? now) : null;
    this.#checkpointed =
      restored === null
        ? null
        : { delivered: restored.delivered, done: restored.done, retracting: this.retracting };
  }

  /** Aborted when paging must stop (revoke, shutdown). */
  get signal(): AbortSignal {
    return this.#stop.signal;
  }

  get stopped(): boolean {
    return this.#stop.signal.aborted;
  }

  /** Stops paging after the page in progress; rows already read are still written. */
  stop(): void {
    this.#stop.abort();
    for (const w of this.#checkpointWaiters.splice(0)) w();
  }

  get pagingDone(): boolean {
    return this.#pagingDone;
  }

  /** The op each row is written with: a retracting insert deletes. */
  get writeOp(): 'insert' | 'delete' {
    return this.retracting ? 'delete' : this.op;
  }

  /**
   * Starts taking back an insert's rows (see {@link retracting}): paging starts again from the
   * job's first follower, and counts, cursor and checkpoints are of the retraction from now on
   * (its start is checkpointed at the next transaction). Only once every row read is written
   * (quiescent), and before paging ended.
   */
  beginRetraction(): void {
    if (this.op !== 'insert' || this.retracting || this.#pagingDone || !this.quiescent)
      throw new Error(
        `TweetJob.beginRetraction: ${this.tweetId} is not an insert paged to its end and fully written`,
      );
    this.retracting = true;
    this.cursor = this.readCursor = this.task?.range.after ?? null;
    this.delivered = this.emitted = 0;
  }

  /** Rows delivered as of the last committed checkpoint of the current pass (0: none yet). */
  get #lastDelivered(): number {
    const last = this.#checkpointed;
    return last !== null && last.retracting === this.retracting ? last.delivered : 0;
  }

  /** Paging reached the last follower. */
  endPaging(): void {
    this.#pagingDone = true;
    this.#settle();
  }

  /** Every row read is written: nothing of this tweet is in flight. */
  get quiescent(): boolean {
    return this.delivered === this.emitted;
  }

  /** Paged to the end and every row written. */
  get finished(): boolean {
    return this.#pagingDone && this.quiescent;
  }

  /** Followers still to deliver to, when the total is known. */
  get remaining(): number | null {
    return this.total === null ? null : Math.max(0, this.total - this.delivered);
  }

  /** True once a checkpoint of this tweet exists in the topic (restored or written). */
  get hasCheckpoint(): boolean {
    return this.#checkpointed !== null;
  }

  /** Registers rows of this tweet that entered a write batch (in paging order). */
  addSegment(rows: number, last: bigint): Slot<Segment> {
    return this.#segments.add({ rows, last });
  }

  /** A batch holding `slot` is written: move the cursor along the in-order frontier. */
  ack(slot: Slot<Segment>): void {
    this.#segments.done(slot);
    for (const s of this.#segments.takeDone()) {
      this.delivered += s.rows;
      this.cursor = s.last;
    }
    this.#settle();
  }

  /** Resolves once the tweet is quiescent (after a stop) or finished. */
  settled(): Promise<void> {
    if (this.quiescent) return Promise.resolve();
    return new Promise((resolve) => this.#settledWaiters.push(resolve));
  }

  /** Rows read beyond the last committed checkpoint: what a crash now could make someone redo. */
  get unprotected(): number {
    return this.emitted - this.#lastDelivered;
  }

  /**
   * Resolves once fewer than `limit` rows are read beyond the last committed checkpoint (or the
   * tweet is stopped). Paging waits on it, which is what bounds the rework after a crash.
   */
  async checkpointRoom(limit: number, blocked: () => void): Promise<void> {
    while (!this.stopped && this.unprotected >= limit) {
      this.#waiting = true;
      blocked();
      await new Promise<void>((resolve) => this.#checkpointWaiters.push(resolve));
      this.#waiting = false;
    }
  }

  /**
   * Whether the next transaction should carry a checkpoint: while running, once `every` more
   * rows are written; when stopped, or when paging waits for a checkpoint, as soon as there is
   * progress since the last one; once ("done") when
   * finished but not yet committable (an earlier record of the partition is still in flight).
   */
  checkpointDue(every: number): boolean {
    // A split tweet is never checkpointed: a crash before its commit splits it again (its tasks
    // were in the aborted transaction), which is cheap and cannot duplicate anything.
    if (this.split !== null) return false;
    const last = this.#checkpointed;
    // A retraction's start is recorded at once: a resume then goes on deleting, not inserting.
    if (this.retracting && last?.retracting !== true) return true;
    if (this.finished) return last?.done !== true;
    if (this.stopped || this.#waiting) return this.delivered > this.#lastDelivered;
    return this.delivered - this.#lastDelivered >= every;
  }

  snapshot(): CheckpointSnapshot {
    const done = this.finished;
    return {
      checkpoint: {
        tweetId: this.tweetId,
        op: this.op,
        authorId: this.authorId,
        writeTime: this.writeTime,
        cursor: this.cursor,
        delivered: this.delivered,
        total: this.total,
        startedAt: this.startedAt,
        done,
        finishedAt: done ? (this.finishedAt ?? Date.now()) : null,
        ...(this.retracting ? { retracting: true } : {}),
      },
    };
  }

  /** The transaction carrying `snap` committed. */
  checkpointed(snap: CheckpointSnapshot): void {
    this.#checkpointed = {
      delivered: snap.checkpoint.delivered,
      done: snap.checkpoint.done,
      retracting: snap.checkpoint.retracting === true,
    };
    for (const w of this.#checkpointWaiters.splice(0)) w();
  }

  #settle(): void {
    if (!this.quiescent) return;
    for (const w of this.#settledWaiters.splice(0)) w();
  }
}
