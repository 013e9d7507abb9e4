/**
 * The Kafka source as an Observable. Backpressure is at the source, not in RxJS: the source asks
 * `room()` before every poll and pauses its partitions when there is none (see
 * connectors/kafka/source.ts), so records never queue up in front of the fan-out.
 */
import { Observable } from 'rxjs';
import type { RecordSource, SourceRecord } from '../../ports/streams.ts';

export interface SourceHooks {
  /** How many more records the pipeline can take now. */
  room(): number;
  /** Partitions assigned; records of them flow only after this resolves. */
  assigned(partitions: readonly number[]): Promise<void>;
  /** Partitions revoked (or lost); they are given up only after this resolves. */
  revoked(partitions: readonly number[], lost: boolean): Promise<void>;
  /** The source joined its group and polls. */
  started?(): void;
  /** The source failed after the Observable was done with (a drain under way): not lost unseen. */
  failedLate?(err: Error): void;
}

/**
 * Records of `source`, never more than `hooks.room()` allowed. Errors when the source fails.
 * Complete it with `takeUntil` to stop: unsubscribing does not close the source, because the
 * worker must still commit (as a group member) after the pipeline drained.
 */
export function sourceRecords(source: RecordSource, hooks: SourceHooks): Observable<SourceRecord> {
  return new Observable<SourceRecord>((subscriber) => {
    source
      .start({
        room: () => (subscriber.closed ? 0 : hooks.room()),
        record: (r) => subscriber.next(r),
        assigned: (ps) => hooks.assigned(ps),
        revoked: (ps, lost) => hooks.revoked(ps, lost),
        failed: (err) => fail(err),
      })
      .then(
        () => hooks.started?.(),
        (err: unknown) => fail(err instanceof Error ? err : new Error(String(err))),
      );
    function fail(err: Error): void {
      if (subscriber.closed) hooks.failedLate?.(err);
      else subscriber.error(err);
    }
  });
}
