/**
 * The join: a job's delivery becomes the stream of its followers' timeline rows, read page by
 * page from the follower store, each page only once the row credit grants room for it (memory)
 * and the delivery is within its read-ahead of its last committed checkpoint (rework after a
 * crash). Paging resumes from the delivery's cursor and stops between pages when it is stopped.
 */
import { SpanKind } from '@opentelemetry/api';
import { Observable } from 'rxjs';
import type { SampledSpan } from '../../lib/span-sampler.ts';
import type { FollowerStore } from '../../ports/stores.ts';
import type { Credit, Priority } from '../lane/credit.ts';
import type { Job } from '../job.ts';

/** One follower's timeline row to write for a job. */
export interface Row {
  readonly job: Job;
  readonly userId: bigint;
}

/** Hands a page of rows downstream. */
export type Emit = (rows: Row[]) => void;

/** What paging needs from its lane. */
export interface PagingDeps {
  readonly followers: FollowerStore;
  readonly credit: Credit;
  /** Whose pages are granted first (../job.ts priorityOf). */
  readonly priority: (job: Job) => Priority;
  /** Most followers per page read. */
  readonly pageSize: number;
  /** Fewest rows worth a page read (waits for at least this much credit). */
  readonly minPage: number;
  /** Most rows a delivery may read beyond its last committed checkpoint (the rework bound). */
  readonly readAhead: number;
  /** Runs one store call under the retry policy; retries become events on the span given. */
  readonly attempt: <T>(what: string, fn: () => Promise<T>, span?: SampledSpan) => Promise<T>;
  /** Asks for a transaction now: paging waits for a checkpoint. */
  readonly requestCommit: () => void;
}

/**
 * Pages `job`'s followers of `author` from its cursor to the end of its range, each page under
 * the row credit and within the read-ahead; true once the end is reached, false when stopped.
 * `whole`: every follower id of the range, already read (a small author's, by the split walk),
 * used instead of reading when the delivery starts from the beginning and they fit its bounds.
 */
export async function pageFollowers(
  job: Job,
  author: bigint,
  deps: PagingDeps,
  emit: Emit,
  closed: () => boolean,
  whole?: readonly bigint[],
): Promise<boolean> {
  const d = job.delivery;
  const priority = deps.priority(job);
  if (
    whole !== undefined &&
    d.readCursor === null &&
    d.emitted === 0 &&
    whole.length <= Math.min(deps.readAhead, deps.credit.limit(priority))
  )
    return emitWhole(job, whole, deps, emit, closed);
  const floor = Math.min(deps.minPage, deps.pageSize, deps.readAhead);
  while (!d.stopped && !closed()) {
    await d.checkpointRoom(deps.readAhead - floor + 1, deps.requestCommit);
    const want = Math.min(deps.pageSize, deps.readAhead - d.unprotected);
    if (d.stopped || want <= 0) continue;
    const granted = await deps.credit.acquire(Math.min(floor, want), want, d.signal, priority);
    if (granted === 0) break; // stopped while waiting
    const read = await readGranted(job, author, granted, priority, deps, emit, closed);
    if (read !== 'more') return read === 'end';
  }
  return false;
}

/**
 * Reads one page of up to `granted` rows (credit already held) and hands it downstream: 'end'
 * when it was the range's last, 'stopped' when the delivery stopped meanwhile (the page dropped).
 * Its own async function, not a step of the loop above: V8 keeps a loop iteration's locals in the
 * suspended function's registers while it awaits the next credit, so a page read there stayed
 * reachable after its rows were written, one page per task waiting for credit (~100 tasks of a
 * 5M split: ~8 MiB of live heap; docs/benchmarks.md, worker memory).
 */
async function readGranted(
  job: Job,
  author: bigint,
  granted: number,
  priority: Priority,
  deps: PagingDeps,
  emit: Emit,
  closed: () => boolean,
): Promise<'more' | 'end' | 'stopped'> {
  const d = job.delivery;
  let page: bigint[];
  try {
    page = await readPage(job, author, granted, deps);
  } catch (err) {
    deps.credit.release(granted, priority);
    throw err;
  }
  if (d.stopped || closed()) {
    deps.credit.release(granted, priority); // dropped: whoever resumes re-reads it from the cursor
    return 'stopped';
  }
  deps.credit.release(granted - page.length, priority);
  if (d.total === null && d.readCursor === null) {
    // A single page is the whole list; otherwise count once, off the critical path (a count
    // that lands after its pass ended is of another author's followers: dropped).
    const pass = d.pass;
    if (page.length < granted) d.total = page.length;
    else
      void deps.followers.count(author).then(
        (n) => {
          if (d.pass === pass) d.total ??= n;
        },
        () => undefined,
      );
  }
  if (page.length > 0) {
    d.readCursor = page.at(-1)!;
    d.emitted += page.length;
    emit(page.map((userId) => ({ job, userId })));
  }
  return page.length < granted ? 'end' : 'more';
}

/**
 * A range's ids known before paging: granted exactly what they need of the credit (a small
 * tweet need not wait for half a page of room), handed downstream, no read.
 */
async function emitWhole(
  job: Job,
  ids: readonly bigint[],
  deps: PagingDeps,
  emit: Emit,
  closed: () => boolean,
): Promise<boolean> {
  const d = job.delivery;
  d.total ??= ids.length;
  if (ids.length === 0) return true;
  const priority = deps.priority(job);
  const granted = await deps.credit.acquire(ids.length, ids.length, d.signal, priority);
  if (granted === 0) return false; // stopped while waiting
  if (d.stopped || closed()) {
    deps.credit.release(granted, priority);
    return false;
  }
  d.readCursor = ids.at(-1)!;
  d.emitted += ids.length;
  emit(ids.map((userId) => ({ job, userId })));
  return true;
}

/** One page read, in a (sampled) `fanout.page` span under the job's span. */
function readPage(job: Job, author: bigint, limit: number, deps: PagingDeps): Promise<bigint[]> {
  const d = job.delivery;
  const read = (span?: SampledSpan): Promise<bigint[]> =>
    deps.attempt(
      `read followers of ${author}`,
      () => deps.followers.page(author, d.readCursor, limit, d.upTo ?? undefined),
      span,
    );
  if (!job.trace) return read();
  return job.trace.sampler.run(
    'fanout.page',
    SpanKind.CLIENT,
    {
      'fanout.tweet_id': job.tweetId,
      'fanout.author_id': author.toString(),
      'fanout.page.limit': limit,
      'fanout.page.after': d.readCursor?.toString() ?? '',
    },
    async (span) => {
      const page = await read(span);
      span.setAttribute('fanout.page.rows', page.length);
      return page;
    },
    { parent: job.trace.span.context },
  );
}

/**
 * A job's rows as an Observable: `steps` runs the job's named steps, emitting pages of rows; the
 * Observable completes when they end (the job then either paged to its end or was stopped).
 * Unsubscribing stops the job's paging.
 */
export function rowsOf(
  job: Job,
  steps: (emit: Emit, closed: () => boolean) => Promise<void>,
): Observable<Row[]> {
  return new Observable<Row[]>((subscriber) => {
    steps(
      (rows) => subscriber.next(rows),
      () => subscriber.closed,
    ).then(
      () => subscriber.complete(),
      (err: unknown) => subscriber.error(err),
    );
    return () => {
      if (!job.delivery.pagingDone) job.delivery.stop();
    };
  });
}
