/**
 * The bound on timeline writes in flight per worker, shared by its lanes: a batch waits for a
 * slot, and small jobs' batches go ahead of bulk ones (a task's), so a celebrity's fan-out does
 * not queue everybody's small tweets behind its batches. Bulk is never starved: while a bulk
 * batch waits, small batches hold at most all slots but one (given two or more), so the fan-out
 * goes on at the rate the writes the small ones leave it allow. The queue holds only batches whose
 * rows were granted by the row credit, so it is bounded by it.
 */
import { defer, finalize, Observable, type ObservableInput, type Subscription } from 'rxjs';
import type { Priority } from './credit.ts';

interface Queued {
  readonly priority: Priority;
  readonly start: () => void;
}

export class WriteSlots {
  readonly capacity: number;
  readonly #running: Record<Priority, number> = { small: 0, bulk: 0 };
  readonly #queued: Record<Priority, Queued[]> = { small: [], bulk: [] };

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`write slots must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
  }

  /** Writes in flight now. */
  running(priority?: Priority): number {
    return priority ? this.#running[priority] : this.#running.small + this.#running.bulk;
  }

  /** Writes waiting for a slot. */
  waiting(priority: Priority): number {
    return this.#queued[priority].length;
  }

  /**
   * Runs `write` once a slot is free and mirrors it; the slot is held until it ends. Unsubscribing
   * takes a write not started yet out of the queue, and frees the slot of one under way.
   */
  run<T>(priority: Priority, write: () => ObservableInput<T>): Observable<T> {
    return new Observable<T>((subscriber) => {
      let inner: Subscription | undefined;
      const end = (): void => {
        this.#running[priority]--;
        this.#next();
      };
      const queued: Queued = {
        priority,
        start: () => {
          this.#running[priority]++;
          inner = defer(write)
            .pipe(finalize(end))
            .subscribe({
              next: (v) => subscriber.next(v),
              error: (err: unknown) => subscriber.error(err),
              complete: () => subscriber.complete(),
            });
        },
      };
      this.#queued[priority].push(queued);
      this.#next();
      return () => {
        const q = this.#queued[priority];
        const i = q.indexOf(queued);
        if (i >= 0) q.splice(i, 1);
        inner?.unsubscribe();
      };
    });
  }

  #next(): void {
    while (this.running() < this.capacity) {
      const small = this.#queued.small.length > 0;
      const bulk = this.#queued.bulk.length > 0;
      // While bulk waits, small may fill all slots but one.
      const smallFits =
        small && (!bulk || this.capacity < 2 || this.#running.small < this.capacity - 1);
      const next = smallFits
        ? this.#queued.small.shift()
        : bulk
          ? this.#queued.bulk.shift()
          : undefined;
      if (!next) return;
      next.start();
    }
  }
}
