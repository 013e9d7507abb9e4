/**
 * The delivery of one change to a range of followers (a whole tweet's, or a task's slice): where
 * paging has got to, which rows are written, when to checkpoint. Rows are written by concurrent
 * batches that finish in any order, so the cursor (the follower id up to which every timeline has
 * the change) moves along an in-order frontier of write segments; a checkpoint or a resume never
 * skips a row still in flight.
 *
 * Rework after a crash is bounded: paging never reads more than the read-ahead beyond the last
 * COMMITTED checkpoint (see {@link checkpointRoom}), and a checkpoint is due each time half of
 * that is written.
 *
 * A delivery runs in PASSES, each with its own cursor, counts and checkpoints, and one pass
 * starts only once every row of the one before is written (rows take their op and write time from
 * the pass at write time): a MOVE's deletes over the followers of the author a tweet moves from,
 * then the DELIVERY itself, then possibly a RETRACTION of the delivery's rows.
 */
import type { Checkpoint } from '../records/checkpoint.ts';
import { InOrderFrontier, type Slot } from './lane/frontier.ts';

/** Consecutive rows of one delivery inside one write batch. */
export interface Segment {
  readonly rows: number;
  /** Follower id of the segment's last row. */
  readonly last: bigint;
}

/** The progress part of a checkpoint (the job adds who and what). */
export type Progress = Pick<
  Checkpoint,
  'cursor' | 'delivered' | 'total' | 'done' | 'finishedAt' | 'retracting' | 'moving'
>;

/** Which pass a delivery is in (see the module's header). */
export type Pass = 'move' | 'deliver' | 'retract';

const passOf = (p: { retracting?: boolean | undefined; moving?: boolean | undefined }): Pass =>
  p.retracting === true ? 'retract' : p.moving === true ? 'move' : 'deliver';

export class Delivery {
  /** Exclusive lower bound of the range (null: from the first follower). */
  readonly after: bigint | null;
  /** Inclusive upper bound of the range (null: to the last follower). */
  readonly upTo: bigint | null;
  /**
   * An insert whose tweet was deleted while it was delivered takes back every row it wrote
   * (deletes at its own write time, which win over its inserts). See {@link beginRetraction}.
   */
  retracting: boolean;
  /**
   * A move's first pass: deletes over the followers of the tweet's previous author (one
   * microsecond before the change, so a follower of both authors keeps it). See {@link beginMove}.
   */
  moving: boolean;
  /** Follower count when known: exact once paging reached the end; estimated or counted before. */
  total: number | null;
  /** Rows written: every follower up to {@link cursor}. */
  delivered: number;
  cursor: bigint | null;
  /** Rows read and handed downstream (written or not). */
  emitted: number;
  /** Last follower id read. */
  readCursor: bigint | null;
  finishedAt: number | null;
  #pagingDone: boolean;
  readonly #stop = new AbortController();
  readonly #segments = new InOrderFrontier<Segment>();
  /** The last checkpoint committed (restored or written), and which pass it is of. */
  #checkpointed: { delivered: number; done: boolean; pass: Pass } | null;
  #settledWaiters: Array<() => void> = [];
  #checkpointWaiters: Array<() => void> = [];
  /** Paging waits for a checkpoint: any progress is worth committing now. */
  #waiting = false;

  constructor(
    range: { after: bigint | null; upTo: bigint | null; total: number | null },
    restored: Progress | null,
    now = Date.now(),
  ) {
    this.after = range.after;
    this.upTo = range.upTo;
    this.total = restored?.total ?? range.total;
    this.delivered = restored?.delivered ?? 0;
    this.cursor = restored ? restored.cursor : range.after;
    this.emitted = this.delivered;
    this.readCursor = this.cursor;
    this.retracting = restored?.retracting === true;
    this.moving = !this.retracting && restored?.moving === true;
    this.#pagingDone = restored?.done === true;
    this.finishedAt = restored?.done === true ? (restored.finishedAt ?? now) : null;
    this.#checkpointed =
      restored === null
        ? null
        : { delivered: restored.delivered, done: restored.done, pass: this.pass };
  }

  /** The pass under way. */
  get pass(): Pass {
    return passOf(this);
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

  /** Paging reached the last follower (or there is nothing to page). */
  endPaging(): void {
    this.#pagingDone = true;
    this.#settle();
  }

  /**
   * Starts a move: before anything is read, the pass over the previous author's followers comes
   * first ({@link endMove} ends it).
   */
  beginMove(): void {
    if (
      this.pass !== 'deliver' ||
      this.#pagingDone ||
      this.emitted > 0 ||
      this.cursor !== this.after
    ) {
      throw new Error('Delivery.beginMove: rows were already read');
    }
    this.moving = true;
  }

  /**
   * Ends a move's first pass, once every row of it is written: the delivery starts from the
   * range's start, with counts and checkpoints of its own (and the new author's follower count).
   */
  endMove(): void {
    if (!this.moving || this.#pagingDone || !this.quiescent) {
      throw new Error('Delivery.endMove: no move paged to its end and fully written');
    }
    this.moving = false;
    this.cursor = this.readCursor = this.after;
    this.delivered = this.emitted = 0;
    this.total = null;
  }

  /**
   * Starts taking back an insert's rows: paging starts again from the range's start, and counts,
   * cursor and checkpoints are of the retraction from now on. Only once every row read is written,
   * and before paging ended.
   */
  beginRetraction(): void {
    if (this.pass !== 'deliver' || this.#pagingDone || !this.quiescent) {
      throw new Error('Delivery.beginRetraction: not paged to its end and fully written');
    }
    this.retracting = true;
    this.cursor = this.readCursor = this.after;
    this.delivered = this.emitted = 0;
  }

  /** Every row read is written: nothing of this delivery is in flight. */
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

  /** True once a checkpoint exists in the topic (restored or written). */
  get hasCheckpoint(): boolean {
    return this.#checkpointed !== null;
  }

  /** Registers rows of this delivery that entered a write batch (in paging order). */
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

  /** Resolves once nothing is in flight (after a stop) or finished. */
  settled(): Promise<void> {
    if (this.quiescent) return Promise.resolve();
    return new Promise((resolve) => this.#settledWaiters.push(resolve));
  }

  /** Rows read beyond the last committed checkpoint: what a crash now could make someone redo. */
  get unprotected(): number {
    return this.emitted - this.#lastDelivered;
  }

  /**
   * Resolves once a checkpoint of the pass under way is committed (or the delivery is stopped):
   * a move waits for its first one, which names the author it moves from, before changing
   * anything. The caller asks for the transaction; a new pass is due at once.
   */
  async passCheckpointed(): Promise<void> {
    while (!this.stopped && this.#checkpointed?.pass !== this.pass) {
      await new Promise<void>((resolve) => this.#checkpointWaiters.push(resolve));
    }
  }

  /**
   * Resolves once fewer than `limit` rows are read beyond the last committed checkpoint (or the
   * delivery is stopped); `blocked` is told each time it has to wait.
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
   * rows are written; when stopped or waiting for a checkpoint, as soon as there is progress;
   * at once when a pass began (a move, the delivery after one, a retraction); once ("done") when
   * finished but not yet committable.
   */
  checkpointDue(every: number): boolean {
    const last = this.#checkpointed;
    if ((last?.pass ?? 'deliver') !== this.pass) return true;
    if (this.finished) return last?.done !== true;
    if (this.stopped || this.#waiting) return this.delivered > this.#lastDelivered;
    return this.delivered - this.#lastDelivered >= every;
  }

  /** The progress to checkpoint now. */
  progress(now = Date.now()): Progress {
    const done = this.finished;
    return {
      cursor: this.cursor,
      delivered: this.delivered,
      total: this.total,
      done,
      finishedAt: done ? (this.finishedAt ?? now) : null,
      ...(this.retracting ? { retracting: true } : {}),
      ...(this.moving ? { moving: true } : {}),
    };
  }

  /** The transaction carrying `progress` committed. */
  checkpointed(progress: Progress): void {
    this.#checkpointed = {
      delivered: progress.delivered,
      done: progress.done,
      pass: passOf(progress),
    };
    for (const w of this.#checkpointWaiters.splice(0)) w();
  }

  /** Rows delivered as of the last committed checkpoint of the current pass (0: none yet). */
  get #lastDelivered(): number {
    const last = this.#checkpointed;
    return last !== null && last.pass === this.pass ? last.delivered : 0;
  }

  #settle(): void {
    if (!this.quiescent) return;
    for (const w of this.#settledWaiters.splice(0)) w();
  }
}
