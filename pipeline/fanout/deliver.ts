/**
 * The passes of every delivery, a whole tweet's or a task's: page the range, then (for an upsert)
 * take the rows back if the tweet was deleted or moved on while they were being delivered; and,
 * first, a move's pass over the followers of the author the tweet moves from.
 *
 * Why the end check: a delete reads the followers too, and someone who followed the author after
 * the delete read past them, but before this upsert reached them, would keep the deleted tweet.
 * Every delete marks itself in tweet_authors before its first follower read; an upsert asks for
 * that mark once it has read its last page. A delete that had not marked itself by then reads
 * every follower after this upsert did, and its newer write time wins over these rows in any
 * order. One that had may have missed someone: the upsert deletes its own rows again, at its own
 * write time (on a tie Cassandra's tombstone wins). A move to another author is the same race
 * (its record of the new author is its mark, written before its first follower read), and so is
 * its answer.
 */
import type { TweetAuthorStore } from '../../ports/stores.ts';
import type { Job, TweetJob } from '../job.ts';
import { type Emit, pageFollowers, type PagingDeps } from './page.ts';

export interface DeliverDeps extends PagingDeps {
  readonly authors: TweetAuthorStore;
  /** Told when an upsert takes its rows back (metrics, log). */
  readonly retracting: (job: Job) => void;
}

/**
 * Pages `job`'s range of `author`'s followers and ends its paging, unless it is stopped first.
 * `whole`: the range's follower ids when already read (see pageFollowers).
 */
export async function deliverRange(
  job: Job,
  author: bigint,
  deps: DeliverDeps,
  emit: Emit,
  closed: () => boolean,
  whole?: readonly bigint[],
): Promise<void> {
  const d = job.delivery;
  if (!(await pageFollowers(job, author, deps, emit, closed, whole))) return;
  if (job.op === 'insert' && !d.retracting) {
    // Asked while the last rows are still being written.
    const deleted = await deps.attempt(`read whether ${job.tweetId} was deleted`, () =>
      deps.authors.deletedSince(job.tweetId, job.writeTime, author),
    );
    if (closed()) return;
    if (deleted) {
      deps.retracting(job);
      await d.settled(); // every row written: the retraction starts from a clean slate
      if (d.stopped || closed()) return; // whoever resumes finds the delete again at its end
      d.beginRetraction();
      deps.requestCommit(); // a transaction now records the retraction's start
      if (!(await pageFollowers(job, author, deps, emit, closed))) return;
    }
  }
  d.total = d.emitted; // exact now (a task's was estimated, a count may have failed)
  d.endPaging();
}

/**
 * A move's first pass: deletes over the followers of `from`, the author the tweet moves from
 * (rows take their op and write time from the pass: ../job.ts rowWriteTime). Ends the pass once
 * every row is written, and asks for a checkpoint of the delivery that follows; false when
 * stopped first (whoever resumes goes on from the pass's cursor).
 */
export async function moveFrom(
  job: TweetJob,
  from: bigint,
  deps: DeliverDeps,
  emit: Emit,
  closed: () => boolean,
): Promise<boolean> {
  const d = job.delivery;
  if (!(await pageFollowers(job, from, deps, emit, closed))) return false;
  await d.settled();
  if (d.stopped || closed()) return false;
  d.endMove();
  deps.requestCommit();
  return true;
}
