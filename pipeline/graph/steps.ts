/**
 * What a follow and an unfollow do to the follower's timeline; every row they write carries the
 * change's own write time (USING TIMESTAMP), so the timeline ends up as the last write of the
 * pair says, whatever order or how often changes are handled (docs/formats.md, "Follows and
 * unfollows"):
 *
 * - FOLLOW at F: the author's newest `backfillTweets` tweets among the latest `unfollowRecent`
 *   recorded in author_tweets, live in `tweets` (not deleted, still the author's) and written at
 *   or before F, inserted at F. A tweet written after F is the fan-out's to deliver: a backfill
 *   replayed after an unfollow must not write what that unfollow never saw.
 * - UNFOLLOW at U: deletes at U of the author's tweets found in the follower's timeline and of the
 *   latest `unfollowRecent` recorded, found or not: a fan-out still writing to the follower (its
 *   tweet was recorded before it read any follower) or a replayed backfill loses to them. Not of
 *   those `tweets` now gives another author: author_tweets keeps a tweet under every author it
 *   was recorded for, and one moved on is its new author's, whom the follower may follow.
 */
import type { AuthorTweetStore, TimelineMutation, TimelineStore } from '../../ports/stores.ts';
import type { Attempt } from '../lane/handler.ts';
import type { GraphChange } from './decode.ts';

export interface GraphDeps {
  readonly timelines: TimelineStore;
  readonly authorTweets: AuthorTweetStore;
  /** The newest tweet ids of an author (coalesced per author: ./recent.ts). */
  readonly recent: (authorId: bigint) => Promise<string[]>;
  readonly attempt: Attempt;
  /** graph.backfillTweets. */
  readonly backfillTweets: number;
  /** How many rows of the follower's timeline an unfollow reads (beyond the cap and its slack). */
  readonly timelineReadLimit: number;
}

/** Candidates checked against `tweets` per read: most are live, so one read usually does. */
const LIVE_CHUNK_FACTOR = 2;
/** Most tweets an unfollow checks against `tweets` in one read. */
const MOVED_CHUNK = 100;

/** A follow: backfills the follower's timeline; returns the rows written. */
export async function backfill(c: GraphChange, deps: GraphDeps): Promise<number> {
  const want = deps.backfillTweets;
  if (want === 0) return 0;
  const ids = await deps.recent(c.authorId);
  const chosen: TimelineMutation[] = [];
  const chunk = Math.max(1, want * LIVE_CHUNK_FACTOR);
  for (let i = 0; i < ids.length && chosen.length < want; i += chunk) {
    const slice = ids.slice(i, i + chunk);
    const live = await deps.attempt(`read ${slice.length} tweets of ${c.authorId}`, () =>
      deps.authorTweets.live(c.authorId, slice),
    );
    for (const t of live) {
      if (t.writeTime > c.writeTime || chosen.length >= want) continue;
      chosen.push({
        op: 'insert',
        userId: c.followerId,
        tweetId: t.tweetId,
        authorId: c.authorId,
        writeTimeMicros: c.writeTime,
        expiresAt: t.expiresAt,
      });
    }
  }
  await write(chosen, deps, `backfill ${chosen.length} tweets of ${c.authorId}`);
  return chosen.length;
}

/** An unfollow: deletes the author's tweets from the follower's timeline; returns the rows. */
export async function retract(c: GraphChange, deps: GraphDeps): Promise<number> {
  const [recent, timeline] = await Promise.all([
    deps.recent(c.authorId),
    deps.attempt(`read the timeline of ${c.followerId}`, () =>
      deps.timelines.read(c.followerId, deps.timelineReadLimit),
    ),
  ]);
  const ids = new Set(recent);
  for (let i = 0; i < recent.length; i += MOVED_CHUNK) {
    const slice = recent.slice(i, i + MOVED_CHUNK);
    const moved = await deps.attempt(`read the authors of ${slice.length} tweets`, () =>
      deps.authorTweets.movedAway(c.authorId, slice),
    );
    for (const id of moved) ids.delete(id);
  }
  for (const e of timeline) if (e.authorId === c.authorId) ids.add(e.tweetId);
  const deletes = [...ids].map((tweetId): TimelineMutation => ({
    op: 'delete',
    userId: c.followerId,
    tweetId,
    authorId: c.authorId,
    writeTimeMicros: c.writeTime,
  }));
  await write(deletes, deps, `delete ${deletes.length} tweets of ${c.authorId}`);
  return deletes.length;
}

async function write(rows: TimelineMutation[], deps: GraphDeps, what: string): Promise<void> {
  if (rows.length > 0) await deps.attempt(what, () => deps.timelines.write(rows));
}
