/**
 * The commit tracker. Every record taken from the source gets an entry, in offset order per
 * partition; an entry is done when its tweet is fully delivered (or it needed nothing, or went to
 * the dead-letter topic). A transaction commits, per partition, the offset just past the longest
 * done prefix, together with what those entries produce (completion events, dead letters,
 * tombstones of their checkpoints) and the checkpoints due of tweets still in flight. State
 * changes only once the transaction committed: a failed one is simply planned again.
 */
import type { OutRecord, Transaction } from '../../ports/streams.ts';
import {
  type Checkpoint,
  checkpointRecord,
  checkpointTombstone,
  type CheckpointTopic,
} from '../../records/checkpoint.ts';
import { checkpointDue, checkpointOf, type Job } from '../job.ts';
import { InOrderFrontier, type Slot } from './frontier.ts';

/** A record taken from the source. */
export interface Entry {
  readonly partition: number;
  readonly offset: bigint;
  /** The job it delivers, if any. */
  readonly job: Job | null;
  /**
   * A checkpoint was read back for it on assignment: tombstoned with its commit even when the
   * record did not take it up (another tweet's, or a record that needs no job now).
   */
  readonly restored: boolean;
  /** Produced once the offset commit passes the entry (exactly once with it). */
  outputs: readonly OutRecord[];
}

/** What one transaction will do; {@link apply} once it committed. */
export interface CommitPlan {
  readonly tx: Transaction;
  readonly empty: boolean;
  /** Entries whose offsets the transaction commits. */
  readonly committed: readonly Entry[];
  apply(): void;
}

interface PartitionState {
  readonly frontier: InOrderFrontier<Entry>;
  /** Next offset to commit: the last committed one, else the first tracked (null: none yet). */
  position: bigint | null;
}

export interface LedgerOptions {
  /** The source topic whose offsets are committed. */
  readonly topic: string;
  /** Where checkpoints of jobs in flight go. */
  readonly checkpoints: CheckpointTopic;
  /** Rows written between two checkpoints of a job (bounds.ts checkpointRows). */
  readonly checkpointRows: number;
}

export class CommitLedger {
  readonly #options: LedgerOptions;
  readonly #partitions = new Map<number, PartitionState>();

  constructor(options: LedgerOptions) {
    this.#options = options;
  }

  /** The source topic. */
  get topic(): string {
    return this.#options.topic;
  }

  /** Starts tracking a newly assigned partition. */
  open(partition: number): void {
    if (!this.#partitions.has(partition))
      this.#partitions.set(partition, { frontier: new InOrderFrontier(), position: null });
  }

  has(partition: number): boolean {
    return this.#partitions.has(partition);
  }

  /** Tracks the next record of a partition (records arrive in offset order). */
  track(partition: number, offset: bigint, job: Job | null, restored = false): Slot<Entry> {
    const state = this.#partitions.get(partition);
    if (!state) throw new Error(`CommitLedger.track: partition ${partition} is not open`);
    state.position ??= offset;
    return state.frontier.add({ partition, offset, job, restored, outputs: [] });
  }

  /** The entry's work is complete; `outputs` go out with the commit that passes it. */
  finish(slot: Slot<Entry>, outputs: readonly OutRecord[]): void {
    slot.value.outputs = outputs;
    slot.done = true;
  }

  /** Entries not yet committed, in all partitions or in `partitions`. */
  *entries(partitions?: readonly number[]): IterableIterator<Entry> {
    for (const [p, state] of this.#partitions) {
      if (partitions === undefined || partitions.includes(p)) yield* state.frontier.values();
    }
  }

  /** Partitions tracked (assigned and not given up). */
  partitions(): number[] {
    return [...this.#partitions.keys()];
  }

  /** Next offset to commit in a partition, when known. */
  position(partition: number): bigint | null {
    return this.#partitions.get(partition)?.position ?? null;
  }

  /** How many entries of `partition` are not yet committed. */
  pending(partition: number): number {
    return this.#partitions.get(partition)?.frontier.size ?? 0;
  }

  /** How many entries are not yet committed. */
  get size(): number {
    let n = 0;
    for (const s of this.#partitions.values()) n += s.frontier.size;
    return n;
  }

  /** Forgets partitions (given up after their last commit, or lost); returns their entries. */
  drop(partitions: readonly number[]): Entry[] {
    const dropped: Entry[] = [];
    for (const p of partitions) {
      const state = this.#partitions.get(p);
      if (!state) continue;
      dropped.push(...state.frontier.values());
      this.#partitions.delete(p);
    }
    return dropped;
  }

  /** Plans the next transaction from the current state (nothing changes until `apply`). */
  plan(): CommitPlan {
    const { topic, checkpoints: checkpointTopic, checkpointRows: every } = this.#options;
    const offsets: Array<{ partition: number; offset: bigint }> = [];
    const records: OutRecord[] = [];
    const committed: Entry[] = [];
    const shifts: Array<[number, PartitionState, number]> = [];
    const checkpoints: Array<[Job, Checkpoint]> = [];
    const checkpoint = (e: Entry): void => {
      const cp = checkpointOf(e.job!);
      records.push(checkpointRecord(checkpointTopic, { topic, ...e }, cp));
      checkpoints.push([e.job!, cp]);
    };
    /** Progress (rows) that makes a tweet's checkpoint worth taking in a transaction made anyway. */
    const rideAlong = Math.max(1, Math.floor(every / 4));
    const riders: Entry[] = [];
    for (const [partition, state] of this.#partitions) {
      const prefix = state.frontier.donePrefix();
      if (prefix.length > 0) {
        offsets.push({ partition, offset: prefix.at(-1)!.offset + 1n });
        shifts.push([partition, state, prefix.length]);
        for (const e of prefix) {
          committed.push(e);
          records.push(...e.outputs);
          if (e.restored || e.job?.delivery.hasCheckpoint)
            records.push(checkpointTombstone(checkpointTopic, { topic, ...e }));
        }
      }
      let i = 0;
      for (const e of state.frontier.values()) {
        if (i++ < prefix.length || e.job === null) continue;
        if (checkpointDue(e.job, every)) checkpoint(e);
        else if (checkpointDue(e.job, rideAlong)) riders.push(e);
      }
    }
    // A transaction costs the broker far more than a record in it: once there is one anyway,
    // tweets well on their way to their next checkpoint take it now. Tweets in progress together
    // then fall into step and share their checkpoint transactions (a split fan-out's tasks:
    // about one transaction per checkpoint interval instead of one per task). Checkpoints only
    // come sooner, so the rework bound holds.
    if (records.length > 0 || offsets.length > 0) riders.forEach(checkpoint);
    return {
      tx: { offsets, records },
      empty: offsets.length === 0 && records.length === 0,
      committed,
      apply: () => {
        for (const [partition, state, n] of shifts) {
          if (this.#partitions.get(partition) !== state) continue;
          state.frontier.shift(n);
          state.position = offsets.find((o) => o.partition === partition)!.offset;
        }
        for (const [job, cp] of checkpoints) job.delivery.checkpointed(cp);
      },
    };
  }
}
