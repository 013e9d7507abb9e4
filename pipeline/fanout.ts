/**
 * The fan-out as one chain of small operators over the store ports:
 *
 *   tweets ─ joinFollowers ─ batchRows ─ toWriteBatch ─ writeBatches ─ acknowledge
 *
 * Rows of several tweets may share a batch. Each batch is one `TimelineStore.write` carrying
 * every row's op and source write time (USING TIMESTAMP), retried on retriable errors; a
 * non-retriable one errors the chain, which fails the worker.
 */
import { map, type OperatorFunction, type SchedulerLike, tap } from 'rxjs';
import type { TimelineMutation, TimelineStore } from '../ports/stores.ts';
import { batchRows, writeBatches } from './batch.ts';
import type { Slot } from './frontier.ts';
import type { Segment, TweetJob } from './job.ts';
import { joinFollowers, type JoinDeps, type Row } from './join.ts';

/** A batch of timeline rows and, per tweet in it, the segment it advances once written. */
export interface WriteBatch {
  readonly rows: readonly Row[];
  readonly segments: ReadonlyArray<{ readonly job: TweetJob; readonly slot: Slot<Segment> }>;
}

export interface FanoutDeps {
  readonly join: JoinDeps;
  readonly timelines: TimelineStore;
  readonly batchSize: number;
  readonly lingerMs: number;
  readonly maxInFlightBatches: number;
  readonly attempt: <T>(what: string, fn: () => Promise<T>) => Promise<T>;
  /** A batch is written and its segments acknowledged. */
  readonly onWritten: (batch: WriteBatch) => void;
  readonly scheduler?: SchedulerLike;
}

/** Registers each run of consecutive rows of one tweet as a segment of that tweet. */
export function toWriteBatch(rows: readonly Row[]): WriteBatch {
  const segments: Array<{ job: TweetJob; slot: Slot<Segment> }> = [];
  let start = 0;
  for (let i = 1; i <= rows.length; i++) {
    if (i < rows.length && rows[i]!.job === rows[start]!.job) continue;
    const job = rows[start]!.job;
    segments.push({ job, slot: job.addSegment(i - start, rows[i - 1]!.userId) });
    start = i;
  }
  return { rows, segments };
}

/** The timeline mutations of a batch. */
export function mutationsOf(batch: WriteBatch): TimelineMutation[] {
  return batch.rows.map((r) => ({
    op: r.job.writeOp,
    userId: r.userId,
    tweetId: r.job.tweetId,
    authorId: r.job.authorId!,
    writeTimeMicros: r.job.writeTime,
    expiresAt: r.job.expiresAt,
  }));
}

/** Tweets in, written batches out. */
export function fanOut(deps: FanoutDeps): OperatorFunction<TweetJob, WriteBatch> {
  return (tweets) =>
    tweets.pipe(
      joinFollowers(deps.join),
      batchRows<Row>(deps.batchSize, deps.lingerMs, deps.scheduler),
      map(toWriteBatch),
      writeBatches(
        (batch) =>
          deps.attempt(`write ${batch.rows.length} timeline rows`, () =>
            deps.timelines.write(mutationsOf(batch)),
          ),
        deps.maxInFlightBatches,
      ),
      tap((batch) => {
        deps.join.credit.release(batch.rows.length);
        for (const s of batch.segments) s.job.ack(s.slot);
        deps.onWritten(batch);
      }),
    );
}
