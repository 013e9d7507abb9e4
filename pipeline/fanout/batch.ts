/**
 * The write side of the fan-out as two small operators: cut rows into fixed-size batches (a tail
 * lingers briefly for more rows, so several small tweets share one batch), then write batches
 * with bounded concurrency.
 */
import {
  asyncScheduler,
  mergeMap,
  Observable,
  type ObservableInput,
  type OperatorFunction,
  type SchedulerLike,
  type Subscription,
} from 'rxjs';
import type { Priority } from '../lane/credit.ts';
import type { WriteSlots } from '../lane/write-slots.ts';

/**
 * Re-cuts chunks of rows (follower pages) into batches of exactly `size`; a partial batch is
 * emitted `lingerMs` after its first row arrived (0: right after the chunk that left it), or
 * when the source completes. Never emits an empty batch (unlike `bufferTime`), and flushes on
 * complete, so shutting down by completing the source (not unsubscribing) loses nothing.
 */
export function batchRows<T>(
  size: number,
  lingerMs: number,
  scheduler: SchedulerLike = asyncScheduler,
): OperatorFunction<readonly T[], T[]> {
  if (!Number.isInteger(size) || size < 1)
    throw new RangeError(`batch size must be a positive integer, got ${size}`);
  return (source) =>
    new Observable<T[]>((subscriber) => {
      let buffer: T[] = [];
      let timer: Subscription | undefined;
      const flush = (): void => {
        timer?.unsubscribe();
        timer = undefined;
        if (buffer.length === 0) return;
        const batch = buffer;
        buffer = [];
        subscriber.next(batch);
      };
      const sub = source.subscribe({
        next(chunk) {
          for (const row of chunk) {
            buffer.push(row);
            if (buffer.length === size) flush();
          }
          if (buffer.length === 0) return;
          if (lingerMs <= 0) flush();
          else timer ??= scheduler.schedule(flush, lingerMs);
        },
        error(err: unknown) {
          timer?.unsubscribe();
          subscriber.error(err);
        },
        complete() {
          flush();
          subscriber.complete();
        },
      });
      return () => {
        timer?.unsubscribe();
        sub.unsubscribe();
      };
    });
}

/**
 * Writes each batch with `write` in a slot of `slots` (bounded writes in flight, shared by the
 * worker's lanes; small jobs' batches first) and emits the batch once written (completion order).
 * The batches waiting for a slot are bounded by the row credit upstream: rows are read only when
 * granted.
 */
export function writeBatches<B>(
  write: (batch: B) => ObservableInput<unknown>,
  slots: WriteSlots,
  priority: (batch: B) => Priority,
): OperatorFunction<B, B> {
  return mergeMap((batch: B) => slots.run(priority(batch), () => write(batch)).pipe(lastOf(batch)));
}

/** Emits `value` once the source completes (whatever it emitted). */
function lastOf<V>(value: V): OperatorFunction<unknown, V> {
  return (source) =>
    new Observable<V>((subscriber) =>
      source.subscribe({
        error: (err: unknown) => subscriber.error(err),
        complete: () => {
          subscriber.next(value);
          subscriber.complete();
        },
      }),
    );
}
