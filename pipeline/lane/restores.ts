/**
 * Restores of a lane's newly assigned partitions: reading back their checkpoints, and handing
 * each restored checkpoint to the record it belongs to. A restore may wait out a dead worker's
 * open transaction (a read_committed read), so it runs while the other partitions flow, and a
 * revocation gives its partitions up at once (the read is cancelled when none is wanted).
 */
import type { StateReader, StateRecord } from '../../ports/streams.ts';
import { type Checkpoint, restoreCheckpoints } from '../../records/checkpoint.ts';

/** One restore of assigned partitions: those still wanted, and its cancel. */
interface Restore {
  readonly wanted: Set<number>;
  readonly abort: AbortController;
}

export class Restores {
  readonly #topic: string;
  readonly #read: StateReader;
  /** Partitions being restored, by their restore. */
  readonly #restoring = new Map<number, Restore>();
  /** Checkpoints restored and not yet handed to their record, per partition, by offset. */
  readonly #restored = new Map<number, Map<bigint, Checkpoint>>();

  constructor(topic: string, read: StateReader) {
    this.#topic = topic;
    this.#read = read;
  }

  /**
   * Reads back the checkpoints of `partitions`; resolves with those still wanted (none were
   * revoked meanwhile) and the records read, or null when all were given up first.
   */
  async restore(
    partitions: readonly number[],
  ): Promise<{ wanted: number[]; state: StateRecord[]; checkpoints: number } | null> {
    const restore: Restore = { wanted: new Set(partitions), abort: new AbortController() };
    for (const p of partitions) this.#restoring.set(p, restore);
    let state: StateRecord[];
    try {
      state = await this.#read(partitions, restore.abort.signal);
    } catch (err) {
      if (restore.abort.signal.aborted) return null; // all revoked meanwhile, or the lane stopped
      throw err;
    } finally {
      for (const p of partitions) if (this.#restoring.get(p) === restore) this.#restoring.delete(p);
    }
    const wanted = partitions.filter((p) => restore.wanted.has(p));
    const restored = restoreCheckpoints(state, this.#topic);
    let checkpoints = 0;
    for (const p of wanted) {
      const byOffset = restored.get(p) ?? new Map<bigint, Checkpoint>();
      checkpoints += byOffset.size;
      this.#restored.set(p, byOffset);
    }
    return { wanted, state, checkpoints };
  }

  /**
   * Partitions revoked: a restore still running for them is cancelled once none of its
   * partitions is wanted (they delivered nothing: given up at once).
   */
  cancel(partitions: readonly number[]): void {
    for (const p of partitions) {
      const restore = this.#restoring.get(p);
      if (!restore) continue;
      this.#restoring.delete(p);
      restore.wanted.delete(p);
      if (restore.wanted.size === 0) restore.abort.abort();
    }
  }

  /** Partitions given up: their checkpoints not yet handed out are dropped. */
  forget(partitions: readonly number[]): void {
    for (const p of partitions) this.#restored.delete(p);
  }

  /** Cancels every restore still running (the lane stops). */
  cancelAll(): void {
    for (const restore of this.#restoring.values()) restore.abort.abort();
  }

  /** The checkpoint left for the record at `offset`, once (null: none). */
  take(partition: number, offset: bigint): Checkpoint | null {
    const byOffset = this.#restored.get(partition);
    const cp = byOffset?.get(offset) ?? null;
    byOffset?.delete(offset);
    return cp;
  }

  /** Partitions still being restored, ascending. */
  restoring(): number[] {
    return [...this.#restoring.keys()].sort((a, b) => a - b);
  }
}
