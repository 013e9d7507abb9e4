/**
 * The join: a tweet becomes the stream of its author's followers, read page by page from the
 * follower store, each page only once the row credit grants room for it (memory) and the tweet
 * is within its read-ahead of its last committed checkpoint (rework after a crash). Paging
 * resumes from the tweet's cursor (a checkpoint), and stops between pages when the tweet is stopped.
 */
import { mergeMap, Observable, type OperatorFunction, type Subscriber } from 'rxjs';
import type { FollowerStore, TweetAuthorStore } from '../ports/stores.ts';
import type { Credit } from './credit.ts';
import type { TweetJob } from './job.ts';
import type { SplitPlan } from './split.ts';

/** One follower's timeline row to write for a tweet. */
export interface Row {
  readonly job: TweetJob;
  readonly userId: bigint;
}

export interface JoinDeps {
  readonly followers: FollowerStore;
  readonly authors: TweetAuthorStore;
  readonly credit: Credit;
  /** Most followers per page read. */
  readonly pageSize: number;
  /** Fewest rows worth a page read (waits for at least this much credit). */
  readonly minPage: number;
  /** Most rows a tweet may read beyond its last committed checkpoint (the rework bound). */
  readonly readAhead: number;
  /** Runs one store call under the project's retry policy. */
  readonly attempt: <T>(what: string, fn: () => Promise<T>) => Promise<T>;
  /** Authors of recent inserts, so a delete right behind its insert needs no read. */
  readonly knownAuthor: (tweetId: string) => bigint | undefined;
  /** A checkpoint of the tweet is wanted now: paging waits for one, or a retraction began. */
  readonly onBlocked: (job: TweetJob) => void;
  /** Paging ended (reached the end, or the author is unknown, or the tweet was stopped). */
  readonly onPaged: (job: TweetJob) => void;
  /**
   * Decides whether a new whole tweet (not a task, not resumed) of this author is split into
   * page-range tasks instead (see ./split.ts); absent: never.
   */
  readonly split?: (job: TweetJob, author: bigint) => Promise<SplitPlan | null>;
  /**
   * Claims a whole tweet's change event for this copy of it (see ClaimStore); returns where the
   * copy that holds the claim sits, or null when this one does. Absent: copies are not de-duplicated.
   */
  readonly claim?: (job: TweetJob) => Promise<string | null>;
  /**
   * Asked when an insert has read its last page: whether a delete of the tweet may have read
   * the followers before this insert did (then the insert takes its rows back, see
   * TweetJob.retracting). A whole delete records itself (TweetAuthorStore.markDeleted) before its
   * first follower read, so this can be answered from tweet_authors. Absent: never asked.
   */
  readonly deletedMeanwhile?: (job: TweetJob) => Promise<boolean>;
}

/** Resolves the author: from the insert itself, from memory, else from tweet_authors (null: unknown). */
async function resolveAuthor(job: TweetJob, deps: JoinDeps): Promise<bigint | null> {
  if (job.task) return job.task.authorId; // recorded by the worker that split the tweet
  if (job.op === 'insert') {
    const author = job.authorId!;
    // Recorded before any timeline row, so a later delete can always find it.
    await deps.attempt(`record the author of ${job.tweetId}`, () =>
      deps.authors.put(job.tweetId, author, job.writeTime, job.expiresAt),
    );
    return author;
  }
  return (
    job.authorId ??
    deps.knownAuthor(job.tweetId) ??
    (await deps.attempt(`read the author of ${job.tweetId}`, () => deps.authors.get(job.tweetId)))
  );
}

/**
 * Pages one job's followers from its cursor to the end of its range, each page under the row
 * credit and within the read-ahead; true once the end is reached, false when stopped first.
 */
async function pageRange(
  job: TweetJob,
  author: bigint,
  deps: JoinDeps,
  subscriber: Subscriber<Row[]>,
): Promise<boolean> {
  const upTo = job.task?.range.upTo ?? undefined;
  const floor = Math.min(deps.minPage, deps.pageSize, deps.readAhead);
  while (!job.stopped && !subscriber.closed) {
    await job.checkpointRoom(deps.readAhead - floor + 1, () => deps.onBlocked(job));
    const want = Math.min(deps.pageSize, deps.readAhead - job.unprotected);
    if (job.stopped || want <= 0) continue;
    const granted = await deps.credit.acquire(Math.min(floor, want), want, job.signal);
    if (granted === 0) break; // stopped while waiting
    let page: bigint[];
    try {
      page = await deps.attempt(`read followers of ${author}`, () =>
        deps.followers.page(author, job.readCursor, granted, upTo),
      );
    } catch (err) {
      deps.credit.release(granted);
      throw err;
    }
    if (job.stopped || subscriber.closed) {
      deps.credit.release(granted); // dropped: whoever resumes re-reads it from the cursor
      break;
    }
    deps.credit.release(granted - page.length);
    if (job.total === null && job.readCursor === null) {
      // A single page is the whole list; otherwise count once, off the critical path.
      if (page.length < granted) job.total = page.length;
      else
        void deps.followers.count(author).then(
          (n) => {
            job.total ??= n;
          },
          () => undefined,
        );
    }
    if (page.length > 0) {
      job.readCursor = page.at(-1)!;
      job.emitted += page.length;
      subscriber.next(page.map((userId) => ({ job, userId })));
    }
    if (page.length < granted) return true;
  }
  return false;
}

/** The follower rows of one tweet, page by page, under the row credit. */
export function followerRows(job: TweetJob, deps: JoinDeps): Observable<Row[]> {
  return new Observable<Row[]>((subscriber) => {
    const run = async (): Promise<void> => {
      if (deps.claim && job.task === null && job.eventId !== null) {
        const holder = await deps.claim(job);
        if (holder !== null) {
          job.duplicateOf = holder; // another replica's copy of this write fans it out
          job.total = 0;
          job.endPaging();
          return;
        }
      }
      if (job.op === 'delete' && job.task === null) {
        // Before any follower read, and whether or not the author is known: an insert of the
        // tweet still in flight (even one whose author record is not written yet) finds it as
        // it ends and takes its rows back.
        await deps.attempt(`mark ${job.tweetId} deleted`, () =>
          deps.authors.markDeleted(job.tweetId, job.writeTime),
        );
      }
      const author = await resolveAuthor(job, deps);
      job.authorId = author;
      if (author === null) {
        job.endPaging(); // nothing to retract: it goes to the dead-letter topic
        return;
      }
      if (deps.split && job.task === null && !job.resumed) {
        const plan = await deps.split(job, author);
        if (job.stopped) return; // not split, not delivered: whoever takes it next decides again
        if (plan !== null) {
          job.split = plan;
          job.total = plan.total;
          job.endPaging(); // its tasks go out with its offset commit
          return;
        }
      }
      if (!(await pageRange(job, author, deps, subscriber))) return;
      if (deps.deletedMeanwhile && job.op === 'insert' && !job.retracting) {
        // Asked once the last page is read, while its rows are still being written: a delete
        // that had not marked itself by now reads every follower after this insert read them,
        // and its newer write time wins over these rows in whatever order they land.
        const deleted = await deps.deletedMeanwhile(job);
        if (subscriber.closed) return;
        if (deleted) {
          await job.settled(); // the insert's rows all written: the retraction starts from a clean slate
          if (job.stopped || subscriber.closed) return; // whoever resumes it finds the delete again at its end
          job.beginRetraction();
          deps.onBlocked(job); // a transaction now records the retraction's start
          if (!(await pageRange(job, author, deps, subscriber))) return;
        }
      }
      job.total = job.emitted; // exact now (a task's was estimated, a count may have failed)
      job.endPaging();
    };
    run().then(
      () => {
        deps.onPaged(job);
        subscriber.complete();
      },
      (err: unknown) => subscriber.error(err),
    );
    return () => {
      if (!job.pagingDone) job.stop();
    };
  });
}

/** Every admitted tweet's follower rows, merged (the source bounds how many tweets there are). */
export function joinFollowers(deps: JoinDeps): OperatorFunction<TweetJob, Row[]> {
  return mergeMap((job: TweetJob) => followerRows(job, deps));
}
