/**
 * The last two steps of every delivery, a whole tweet's or a task's: page the range, then (for
 * an insert) take the rows back if the tweet was deleted while they were being delivered.
 *
 * Why the end check: a delete reads the followers too, and someone who followed the author after
 * the delete read past them, but before this insert reached them, would keep the deleted tweet.
 * Every delete marks itself in tweet_authors before its first follower read; an insert asks for
 * that mark once it has read its last page. A delete that had not marked itself by then reads
 * every follower after this insert did, and its newer write time wins over these rows in any
 * order. One that had may have missed someone: the insert deletes its own rows again, at its own
 * write time (on a tie Cassandra's tombstone wins).
 */
import type { TweetAuthorStore } from '../../ports/stores.ts';
import type { Job } from '../job.ts';
import { type Emit, pageFollowers, type PagingDeps } from './page.ts';

export interface DeliverDeps extends PagingDeps {
  readonly authors: TweetAuthorStore;
  /** Told when an insert takes its rows back (metrics, log). */
  readonly retracting: (job: Job) => void;
}

/** Pages `job`'s range of `author`'s followers and ends its paging, unless it is stopped first. */
export async function deliverRange(
  job: Job,
  author: bigint,
  deps: DeliverDeps,
  emit: Emit,
  closed: () => boolean,
): Promise<void> {
  const d = job.delivery;
  if (!(await pageFollowers(job, author, deps, emit, closed))) return;
  if (job.op === 'insert' && !d.retracting) {
    // Asked while the last rows are still being written.
    const deleted = await deps.attempt(`read whether ${job.tweetId} was deleted`, () =>
      deps.authors.deletedSince(job.tweetId, job.writeTime),
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
