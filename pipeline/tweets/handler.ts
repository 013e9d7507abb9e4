/**
 * The tweet handler: the lane of the CDC topic of `tweets`. A change event (an upsert or a
 * retraction, ./decode.ts) becomes a tweet job, delivered in these steps
 * (see {@link TweetHandler.rows}):
 *
 *   claim ─ mark deleted ─ resolve author ─ move ─ decide split ─ deliver range ─ end check
 *
 * and completes with a `fanout.completed` event (or, split, with its tasks for the work topic).
 * An upsert resolves its author against the one recorded: another author recorded by an older
 * write MOVES the tweet (the old author's followers get deletes first); one recorded by a newer
 * write makes the change STALE (it only takes back whatever rows of its own it may have written).
 */
import type { Config } from '../../config/index.ts';
import type { ClaimStore } from '../../ports/stores.ts';
import type { OutRecord, SourceRecord } from '../../ports/streams.ts';
import type { Checkpoint } from '../../records/checkpoint.ts';
import { completionPartition, completionRecord } from '../../records/completion.ts';
import { taskRecords, type WorkTopic } from '../../records/task.ts';
import { deliverRange, moveFrom } from '../fanout/deliver.ts';
import { type Emit, rowsOf } from '../fanout/page.ts';
import { type Job, type TweetFate, type TweetJob, tweetJob } from '../job.ts';
import { Credit } from '../lane/credit.ts';
import type { Admission, Handler, LaneContext } from '../lane/handler.ts';
import type { CommitPlan } from '../lane/ledger.ts';
import { RecentAuthors } from './authors.ts';
import { changeKey, decodeTweetRecord } from './decode.ts';
import { planSplit } from './split.ts';

/**
 * The split walk's first page: authors with fewer followers (most of them) are decided, and their
 * ids read, in this one short read (ids held outside the row credit: kept small).
 */
const SMALL_AUTHOR_PAGE = 1_000;
/** Split walks at once per lane: each holds a page of `splitTaskSize` ids outside the row credit. */
const WALKS = 8;

export interface TweetHandlerOptions {
  readonly config: Config;
  /** Claims on change events, to fan out one replica copy of each write; absent: every copy is. */
  readonly claims?: ClaimStore | undefined;
  /** The work topic, where celebrity tweets are split into tasks; absent: never split. */
  readonly work?: WorkTopic | undefined;
}

export class TweetHandler implements Handler {
  readonly span = 'fanout.tweet';
  readonly #ctx: LaneContext;
  readonly #config: Config;
  readonly #claims: ClaimStore | undefined;
  readonly #work: WorkTopic | undefined;
  readonly #authors: RecentAuthors;
  readonly #walks = new Credit(WALKS);

  constructor(ctx: LaneContext, options: TweetHandlerOptions) {
    this.#ctx = ctx;
    this.#config = options.config;
    this.#claims = options.claims;
    this.#work = options.work;
    this.#authors = new RecentAuthors({ store: ctx.authors, attempt: ctx.attempt, log: ctx.log });
  }

  admit(record: SourceRecord, restored: Checkpoint | null): Admission {
    const decoded = decodeTweetRecord(record, this.#config.cassandra.keyspace);
    if (decoded.kind === 'skip') return { kind: 'done', outputs: [] };
    if (decoded.kind === 'dead') return decoded;
    const change = decoded.change;
    // An edit of a tweet this worker saw upserted: nothing to fan out, nothing to read.
    if (decoded.kind === 'unauthored' && this.#authors.get(change.tweetId) !== undefined)
      return { kind: 'done', outputs: [] };
    // A restored checkpoint is this change's only if it names the same tweet and op.
    const cp = restored?.tweetId === change.tweetId && restored.op === change.op ? restored : null;
    const job = tweetJob(record, change, cp);
    if (decoded.kind === 'unauthored') job.fate = { kind: 'unauthored' };
    if (change.op === 'insert' && change.authorId !== null) {
      this.#authors.remember(change.tweetId, change.authorId, change.writeTime, record.partition);
    }
    return { kind: 'job', job };
  }

  drop(partitions: readonly number[]): void {
    this.#authors.drop(partitions);
  }

  rows(job: Job) {
    return rowsOf(job, (emit, closed) => this.#deliver(job as TweetJob, emit, closed));
  }

  /** A tweet's steps, top to bottom. Each may end its paging early with a fate. */
  async #deliver(job: TweetJob, emit: Emit, closed: () => boolean): Promise<void> {
    const d = job.delivery;
    const holder = await this.#claim(job);
    if (holder !== null) return this.#decide(job, { kind: 'copy', holder }, 0);
    if (job.fate.kind === 'unauthored') return this.#decide(job, await this.#unauthored(job), 0);
    if (job.op === 'delete') await this.#markDeleted(job);
    const author = await this.#resolveAuthor(job);
    job.authorId = author;
    if (d.stopped) return; // e.g. while a move waited for its checkpoint: whoever resumes goes on
    if (author === null) return this.#decide(job, { kind: 'orphan' }, 0);
    if (d.moving && !(await moveFrom(job, job.movedFrom!, this.#ctx, emit, closed))) return;
    // A move or a stale change is delivered whole: its completion is its own (one per change).
    let whole: bigint[] | undefined; // a small author's every follower, read by the split walk
    if (this.#work && !job.resumed && job.movedFrom === null && !d.retracting) {
      const plan = await this.#planSplit(job, author, (ids) => (whole = ids));
      if (d.stopped) return; // not split, not delivered: whoever takes it next decides again
      if (plan !== null) return this.#decide(job, { kind: 'split', ...plan }, plan.total);
    }
    await deliverRange(job, author, this.#ctx, emit, closed, whole);
  }

  /** The tweet delivers nothing here: its fate decides what its commit carries. */
  #decide(job: TweetJob, fate: TweetJob['fate'], total: number): void {
    job.fate = fate;
    job.delivery.total = total;
    job.delivery.endPaging();
  }

  /**
   * Claims the change for this copy of it (with RF > 1 every replica's connector sends one, and
   * a replica may log it again: see {@link changeKey}); returns where the copy that holds the
   * claim sits, or null when this one does (or copies are not de-duplicated).
   */
  async #claim(job: TweetJob): Promise<string | null> {
    const claims = this.#claims;
    if (!claims) return null;
    const key = changeKey(job);
    const me = `${this.#ctx.topic}/${job.partition}/${job.offset}`;
    const holder = await this.#ctx.attempt(`claim change ${key}`, () => claims.claim(key, me));
    return holder === me ? null : holder;
  }

  /**
   * A delete marks itself before any follower read, whether or not its author is known: an
   * insert of the tweet still in flight (even one whose author record is not written yet) finds
   * the mark as it ends and takes its rows back (../fanout/deliver.ts).
   */
  async #markDeleted(job: TweetJob): Promise<void> {
    await this.#ctx.attempt(`mark ${job.tweetId} deleted`, () =>
      this.#ctx.authors.markDeleted(job.tweetId, job.writeTime),
    );
  }

  /**
   * An INSERT that names no author: an edit of the tweet's other columns when it has an author
   * recorded (or remembered: its upsert may still be recording it), else a tweet created without
   * one (dead letter).
   */
  async #unauthored(job: TweetJob): Promise<TweetFate> {
    const { attempt, authors } = this.#ctx;
    const author =
      this.#authors.get(job.tweetId) ??
      (await attempt(`read the author of ${job.tweetId}`, () => authors.get(job.tweetId)));
    return author === null || author === undefined ? { kind: 'unauthored' } : { kind: 'edit' };
  }

  /**
   * The author: an upsert's own (recorded, unless stale), a delete's from tweet_authors, else
   * from memory (null: unknown).
   */
  async #resolveAuthor(job: TweetJob): Promise<bigint | null> {
    const { attempt, authors } = this.#ctx;
    const d = job.delivery;
    if (job.op === 'insert') {
      const author = job.authorId!;
      // Resumed taking its rows back, or in a move: decided before.
      if (d.retracting || job.movedFrom !== null) return this.#record(job, author);
      switch (await this.#against(job, author)) {
        case 'stale':
          d.beginRetraction();
          this.#ctx.requestCommit();
          return author;
        case 'move':
          // Its first checkpoint, naming the old author, commits before the new one is recorded:
          // a crash from here on resumes the move instead of finding the new record and
          // forgetting where the tweet came from.
          d.beginMove();
          this.#ctx.requestCommit();
          await d.passCheckpointed();
          return this.#record(job, author);
        case 'record':
          return this.#record(job, author);
      }
    }
    // The record first: a remembered author can be an older write's (a replica's late copy of
    // an upsert the tweet moved on from before this worker took the partition). Memory answers
    // for an upsert taken here and not recorded yet.
    return (
      job.authorId ??
      (await attempt(`read the author of ${job.tweetId}`, () => authors.get(job.tweetId))) ??
      this.#authors.get(job.tweetId) ??
      null
    );
  }

  /**
   * Records an upsert's author, before any timeline row: a later delete (or move) can always find
   * it. Not when stopped (a move waiting for its checkpoint: whoever resumes it records it), nor
   * when taking its rows back.
   */
  async #record(job: TweetJob, author: bigint): Promise<bigint> {
    if (job.delivery.stopped || job.delivery.retracting) return author;
    await this.#ctx.attempt(`record the author of ${job.tweetId}`, () =>
      this.#ctx.authors.put(job.tweetId, author, job.writeTime, job.expiresAt),
    );
    return author;
  }

  /**
   * An upsert against the author recorded for its tweet. Another author recorded by a newer write
   * (or as new: the same time) makes the change STALE: it takes back whatever rows it may have
   * written (a previous attempt's, or a previous owner's) at its own write time, and records
   * nothing. One recorded by an older write makes a new change (not one resumed: its delivery is
   * under way) a MOVE from that author (`job.movedFrom`).
   */
  async #against(job: TweetJob, author: bigint): Promise<'stale' | 'move' | 'record'> {
    const { attempt, authors, log, metrics } = this.#ctx;
    const recorded = await attempt(`read the author of ${job.tweetId}`, () =>
      authors.getWithTime(job.tweetId),
    );
    if (recorded === null || recorded.authorId === author) return 'record';
    const ids = {
      tweetId: job.tweetId,
      author: String(author),
      recorded: String(recorded.authorId),
    };
    if (recorded.writeTime >= job.writeTime) {
      log.info('stale upsert: a newer author is recorded; it takes back its own rows', ids);
      metrics.retracted();
      return 'stale';
    }
    if (job.resumed) return 'record';
    log.info('tweet moves to another author', ids);
    job.movedFrom = recorded.authorId;
    return 'move';
  }

  /**
   * Whether to split a tweet of `author` (./split.ts); logged when it is. An author decided by
   * the walk's first page gives its ids to `onWhole`.
   */
  async #planSplit(job: TweetJob, author: bigint, onWhole: (ids: bigint[]) => void) {
    const { attempt, followers, log } = this.#ctx;
    const p = this.#config.pipeline;
    const plan = await planSplit(
      {
        page: (after, limit, upTo) =>
          attempt(`read follower ids of ${author}`, () =>
            followers.page(author, after, limit, upTo),
          ),
        last: () => attempt(`read the last follower id of ${author}`, () => followers.last(author)),
      },
      {
        threshold: p.splitThreshold,
        taskSize: p.splitTaskSize,
        signal: job.delivery.signal,
        onTotal: (n) => {
          job.delivery.total ??= n;
        },
        firstPage: Math.min(SMALL_AUTHOR_PAGE, p.pageSize),
        onWhole,
        walkSlot: async () => {
          const got = await this.#walks.acquire(1, 1, job.delivery.signal);
          return got === 0 ? null : () => this.#walks.release(1);
        },
      },
    );
    if (plan)
      log.info('tweet split into tasks', {
        tweetId: job.tweetId,
        author: String(author),
        estimatedFollowers: plan.total,
        tasks: plan.ranges.length,
      });
    return plan;
  }

  outputs(job: Job, record: SourceRecord): OutRecord[] {
    const tweet = job as TweetJob;
    const { metrics, log, workerId } = this.#ctx;
    const topics = this.#config.topics;
    const fate = tweet.fate;
    switch (fate.kind) {
      case 'copy':
        // Another replica's copy of this write holds its claim: that one fans it out and completes it.
        metrics.copySkipped();
        log.info('replica copy of a change skipped', {
          tweetId: tweet.tweetId,
          op: tweet.op,
          eventId: tweet.eventId,
          claimedBy: fate.holder,
        });
        return [];
      case 'edit':
        return [];
      case 'unauthored':
        return [
          this.#ctx.deadLetter(
            record,
            'missing-author',
            `insert of ${tweet.tweetId} names no author_id, and the tweet has no author recorded: a tweet written without an author (edit a tweet's other columns with UPDATE, or name its author)`,
          ),
        ];
      case 'orphan':
        return [
          this.#ctx.deadLetter(
            record,
            'unknown-author',
            `delete of ${tweet.tweetId}: no author recorded in tweet_authors (its insert was never fanned out)`,
          ),
        ];
      case 'split':
        return taskRecords(
          this.#work!,
          { ...tweet, authorId: tweet.authorId!, traceparent: tweet.traceparent },
          { topic: record.topic, partition: record.partition, offset: record.offset },
          fate,
        );
      case 'whole':
        return [
          completionRecord(
            topics.completed,
            completionPartition(topics.cdcPartitions, tweet.partition),
            {
              tweetId: tweet.tweetId,
              authorId: tweet.authorId,
              op: tweet.op,
              delivered: tweet.delivery.delivered,
              startedAt: tweet.startedAt,
              finishedAt: tweet.delivery.finishedAt ?? Date.now(),
              resumed: tweet.resumed,
              ...(tweet.delivery.retracting ? { retracted: true } : {}),
              ...(tweet.movedFrom !== null ? { moved: { from: tweet.movedFrom } } : {}),
              source: { topic: record.topic, partition: tweet.partition, offset: tweet.offset },
              traceparent: tweet.traceparent ?? null,
            },
            workerId,
          ),
        ];
    }
  }

  /** A delete whose offset is committed needs its author no more. */
  committed(plan: CommitPlan): void {
    for (const e of plan.committed) {
      const job = e.job;
      if (job?.kind === 'tweet' && job.op === 'delete' && job.authorId !== null)
        this.#authors.forget(job.tweetId, job.writeTime, job.authorId);
    }
  }

  settled(): Promise<void> {
    return this.#authors.settled();
  }
}
