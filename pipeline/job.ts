/**
 * The jobs a lane delivers, one per source record with work to do:
 *
 * - a TWEET (a change event of the CDC topic: an upsert or a retraction), whose fate is decided as
 *   it starts: delivered here WHOLE (a move always is), SPLIT into page-range tasks for the work
 *   topic (a celebrity), a replica's COPY of a change another copy fans out, or an ORPHAN (a
 *   delete whose author is unknown: dead-lettered), or UNAUTHORED (an INSERT that names no
 *   author: an EDIT of a recorded tweet's other columns, else dead-lettered);
 * - a TASK (a record of the work topic): one page range of a split tweet;
 * - a GRAPH job (a change event of `followers`): a follow's backfill or an unfollow's deletes.
 *
 * Every job has a {@link Delivery}: the rows of its range, its cursor and checkpoints. A split,
 * copy, orphan, unauthored or edit tweet delivers no rows (its delivery just ends).
 */
import type { SpanSampler } from '../lib/span-sampler.ts';
import type { LongSpan } from '../lib/telemetry.ts';
import type { Priority } from './lane/credit.ts';
import type { Checkpoint } from '../records/checkpoint.ts';
import type { SplitTask, TaskRange } from '../records/task.ts';
import { Delivery } from './delivery.ts';
import type { GraphChange } from './graph/decode.ts';
import type { TweetChange } from './tweets/decode.ts';

/** What a tweet turned out to be. */
export type TweetFate =
  | { readonly kind: 'whole' }
  | { readonly kind: 'split'; readonly total: number; readonly ranges: readonly TaskRange[] }
  | { readonly kind: 'copy'; readonly holder: string }
  | { readonly kind: 'orphan' }
  /** An INSERT that names no author: an EDIT of a tweet with a recorded author, or dead-lettered. */
  | { readonly kind: 'unauthored' }
  | { readonly kind: 'edit' };

interface JobBase {
  readonly partition: number;
  readonly offset: bigint;
  readonly tweetId: string;
  readonly op: 'insert' | 'delete';
  /** The change's write time, µs: USING TIMESTAMP of every row. */
  readonly writeTime: bigint;
  /** Expiry of a tweet written with a TTL (seconds since the epoch). */
  readonly expiresAt: number | null;
  readonly startedAt: number;
  /** Restored from a checkpoint (a previous owner had started it). */
  readonly resumed: boolean;
  readonly delivery: Delivery;
  /** W3C traceparent of the job's span, for the records it produces (none without an SDK). */
  traceparent: string | undefined;
  /** The job's span (parent of its page, batch and commit spans) and its sampler of those. */
  trace: JobTrace | undefined;
}

export interface JobTrace {
  readonly span: LongSpan;
  readonly sampler: SpanSampler;
}

export interface TweetJob extends JobBase {
  readonly kind: 'tweet';
  /** The change event's id, equal on every replica's copy of the write (null: none). */
  readonly eventId: string | null;
  /** Known for upserts; a delete's is resolved from tweet_authors (null: not yet, or unknown). */
  authorId: bigint | null;
  /** An upsert that moves the tweet from another recorded author: that author (else null). */
  movedFrom: bigint | null;
  /** `whole` until decided otherwise as it starts. */
  fate: TweetFate;
}

export interface TaskJob extends JobBase {
  readonly kind: 'task';
  readonly task: SplitTask;
  readonly authorId: bigint;
}

/**
 * A follow or unfollow (a change event of `followers`): it writes the follower's timeline rows
 * itself (./graph/handler.ts), so its delivery pages nothing; `delivery.total` counts its rows.
 */
export interface GraphJob extends JobBase {
  readonly kind: 'graph';
  readonly change: GraphChange;
  readonly authorId: bigint;
}

export type Job = TweetJob | TaskJob | GraphJob;

interface At {
  readonly partition: number;
  readonly offset: bigint;
}

/** A tweet change to deliver, resumed from `restored` when a previous owner checkpointed it. */
export function tweetJob(
  at: At,
  change: TweetChange,
  restored: Checkpoint | null,
  now = Date.now(),
): TweetJob {
  return {
    kind: 'tweet',
    ...at,
    tweetId: change.tweetId,
    op: change.op,
    writeTime: change.writeTime,
    expiresAt: change.expiresAt,
    eventId: change.eventId ?? null,
    authorId: change.authorId ?? restored?.authorId ?? null,
    movedFrom: restored?.movedFrom ?? null,
    startedAt: restored?.startedAt ?? now,
    resumed: restored !== null,
    delivery: new Delivery({ after: null, upTo: null, total: null }, restored, now),
    fate: { kind: 'whole' },
    traceparent: undefined,
    trace: undefined,
  };
}

/** A task of a split tweet: its range only (its rows count as its delivery). */
export function taskJob(
  at: At,
  task: SplitTask,
  restored: Checkpoint | null,
  now = Date.now(),
): TaskJob {
  return {
    kind: 'task',
    ...at,
    task,
    tweetId: task.tweetId,
    op: task.op,
    writeTime: task.writeTime,
    expiresAt: task.expiresAt,
    authorId: task.authorId,
    startedAt: restored?.startedAt ?? now,
    resumed: restored !== null,
    delivery: new Delivery(
      { after: task.range.after, upTo: task.range.upTo, total: task.range.rows },
      restored,
      now,
    ),
    traceparent: undefined,
    trace: undefined,
  };
}

/**
 * A follow or unfollow to handle, resumed from `restored` when a previous owner checkpointed it
 * (a checkpoint says at most that it was done). Its `tweetId` names the pair: `graph/<a>/<f>`.
 */
export function graphJob(
  at: At,
  change: GraphChange,
  restored: Checkpoint | null,
  now = Date.now(),
): GraphJob {
  return {
    kind: 'graph',
    ...at,
    change,
    tweetId: graphJobId(change),
    op: change.op === 'follow' ? 'insert' : 'delete',
    writeTime: change.writeTime,
    expiresAt: null,
    authorId: change.authorId,
    startedAt: restored?.startedAt ?? now,
    resumed: restored !== null,
    delivery: new Delivery({ after: null, upTo: null, total: null }, restored, now),
    traceparent: undefined,
    trace: undefined,
  };
}

/** What a graph job's checkpoint names in place of a tweet id. */
export const graphJobId = (c: GraphChange): string => `graph/${c.authorId}/${c.followerId}`;

/**
 * The op each row is written with, from the pass under way when it is written (a pass starts only
 * once every row of the one before is written): a retracting insert deletes, so does a move's
 * first pass.
 */
export const writeOp = (job: Job): 'insert' | 'delete' =>
  job.delivery.retracting || job.delivery.moving ? 'delete' : job.op;

/**
 * The write time of each row (USING TIMESTAMP): the change's, but a move's deletes go one
 * microsecond earlier, so that a follower of both authors keeps the tweet (the new author's insert
 * at the change's time wins over them) while every row of the old author's, older, goes.
 */
export const rowWriteTime = (job: Job): bigint =>
  job.delivery.moving ? job.writeTime - 1n : job.writeTime;

/**
 * Whether the next transaction should carry the job's checkpoint. Only a tweet delivered whole is
 * checkpointed. A split one is not: a crash before its commit splits it again (its tasks were in
 * the aborted transaction), which is cheap and duplicates nothing. Nor a copy or an orphan: a
 * checkpoint does not say its fate, so a restored one would complete as a tweet delivered (a
 * second completion of a copy, a completion instead of an orphan's dead letter); redone, it is
 * decided again, as cheaply.
 */
export const checkpointDue = (job: Job, every: number): boolean =>
  !(job.kind === 'tweet' && job.fate.kind !== 'whole') && job.delivery.checkpointDue(every);

/** The job's checkpoint as of now. */
export function checkpointOf(job: Job, now = Date.now()): Checkpoint {
  return {
    tweetId: job.tweetId,
    op: job.op,
    authorId: job.authorId,
    writeTime: job.writeTime,
    startedAt: job.startedAt,
    ...job.delivery.progress(now),
    ...(job.kind === 'tweet' && job.movedFrom !== null ? { movedFrom: job.movedFrom } : {}),
  };
}

/** A tweet fanned out by this worker and completed with its own offset (not split, not a copy). */
export const completesHere = (job: Job): job is TweetJob =>
  job.kind === 'tweet' && job.fate.kind === 'whole' && job.authorId !== null;

/**
 * A tweet delivered whole is SMALL: with a work topic, one at most `splitThreshold` followers
 * (bigger ones are split); a task of a split fan-out is BULK. Fixed per job: the credit counts
 * each class's rows, and a job gives back what it took.
 */
export const priorityOf = (job: Job): Priority => (job.kind === 'task' ? 'bulk' : 'small');
