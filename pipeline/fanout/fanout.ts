/**
 * The fan-out as one chain of small operators:
 *
 *   jobs ─ joinFollowers ─ batchRows ─ toWriteBatch ─ writeBatches ─ acknowledge
 *
 * Rows of several jobs may share a batch. Each batch is one `TimelineStore.write` carrying every
 * row's op and source write time (USING TIMESTAMP), retried on retriable errors; a non-retriable
 * one errors the chain, which fails the lane.
 */
import { SpanKind } from '@opentelemetry/api';
import {
  map,
  mergeMap,
  type Observable,
  type OperatorFunction,
  type SchedulerLike,
  tap,
} from 'rxjs';
import type { SampledSpan } from '../../lib/span-sampler.ts';
import { linkTo } from '../../lib/telemetry.ts';
import type { TimelineMutation, TimelineStore } from '../../ports/stores.ts';
import type { Segment } from '../delivery.ts';
import { type Job, rowWriteTime, writeOp } from '../job.ts';
import type { Credit, Priority } from '../lane/credit.ts';
import type { Slot } from '../lane/frontier.ts';
import type { WriteSlots } from '../lane/write-slots.ts';
import { batchRows, writeBatches } from './batch.ts';
import type { Row } from './page.ts';

/** A batch of timeline rows and, per job in it, the segment it advances once written. */
export interface WriteBatch {
  readonly rows: readonly Row[];
  readonly segments: ReadonlyArray<{
    readonly job: Job;
    readonly rows: number;
    readonly slot: Slot<Segment>;
  }>;
  /** How long its write took, retries included (set once written). */
  writeMs?: number;
}

export interface FanoutDeps {
  /** A job's follower rows, page by page (its handler's steps). */
  readonly rows: (job: Job) => Observable<Row[]>;
  readonly credit: Credit;
  readonly timelines: TimelineStore;
  readonly batchSize: number;
  readonly lingerMs: number;
  /** The worker's bound on writes in flight, shared by its lanes. */
  readonly slots: WriteSlots;
  /** Whose rows go first, to the credit and to the writes (../job.ts priorityOf). */
  readonly priority: (job: Job) => Priority;
  readonly attempt: <T>(what: string, fn: () => Promise<T>, span?: SampledSpan) => Promise<T>;
  /** A batch is written and its segments acknowledged. */
  readonly onWritten: (batch: WriteBatch) => void;
  readonly scheduler?: SchedulerLike;
}

/** Registers each run of consecutive rows of one job as a segment of its delivery. */
export function toWriteBatch(rows: readonly Row[]): WriteBatch {
  const segments: Array<{ job: Job; rows: number; slot: Slot<Segment> }> = [];
  let start = 0;
  for (let i = 1; i <= rows.length; i++) {
    if (i < rows.length && rows[i]!.job === rows[start]!.job) continue;
    const job = rows[start]!.job;
    const n = i - start;
    segments.push({ job, rows: n, slot: job.delivery.addSegment(n, rows[i - 1]!.userId) });
    start = i;
  }
  return { rows, segments };
}

/** The timeline mutations of a batch, each row's op and write time from its job's pass. */
export function mutationsOf(batch: WriteBatch): TimelineMutation[] {
  return batch.rows.map((r) => ({
    op: writeOp(r.job),
    userId: r.userId,
    tweetId: r.job.tweetId,
    authorId: r.job.authorId!,
    writeTimeMicros: rowWriteTime(r.job),
    expiresAt: r.job.expiresAt,
  }));
}

/** A batch mixing rows of several jobs goes as early as the most urgent of them. */
export const batchPriority = (batch: WriteBatch, priority: (job: Job) => Priority): Priority =>
  batch.segments.some((s) => priority(s.job) === 'small') ? 'small' : 'bulk';

/** Every admitted job's follower rows, merged (the source bounds how many jobs there are). */
export const joinFollowers = (
  rows: (job: Job) => Observable<Row[]>,
): OperatorFunction<Job, Row[]> => mergeMap(rows);

/**
 * Writes one batch, in a (sampled) `fanout.batch` span under the first job's span, linked to the
 * span of every other job with rows in it.
 */
async function writeBatch(batch: WriteBatch, deps: FanoutDeps): Promise<void> {
  const started = performance.now();
  const write = (span?: SampledSpan): Promise<void> =>
    deps.attempt(
      `write ${batch.rows.length} timeline rows`,
      () => deps.timelines.write(mutationsOf(batch)),
      span,
    );
  const jobs = [...new Set(batch.segments.map((s) => s.job))];
  const trace = jobs[0]!.trace;
  try {
    if (!trace) return await write();
    const links = jobs.slice(1).flatMap((j) => {
      const link = j.trace && linkTo(j.trace.span.span);
      return link ? [link] : [];
    });
    await trace.sampler.run(
      'fanout.batch',
      SpanKind.CLIENT,
      { 'fanout.batch.rows': batch.rows.length, 'fanout.batch.tweets': jobs.length },
      write,
      { parent: trace.span.context, links },
    );
  } finally {
    batch.writeMs = performance.now() - started;
  }
}

/** Jobs in, written batches out. */
export function fanOut(deps: FanoutDeps): OperatorFunction<Job, WriteBatch> {
  return (jobs) =>
    jobs.pipe(
      joinFollowers(deps.rows),
      batchRows<Row>(deps.batchSize, deps.lingerMs, deps.scheduler),
      map(toWriteBatch),
      writeBatches(
        (batch) => writeBatch(batch, deps),
        deps.slots,
        (batch) => batchPriority(batch, deps.priority),
      ),
      tap((batch) => {
        for (const s of batch.segments) {
          deps.credit.release(s.rows, deps.priority(s.job));
          s.job.delivery.ack(s.slot);
        }
        deps.onWritten(batch);
      }),
    );
}
