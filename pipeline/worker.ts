/**
 * A fan-out worker: the source, the fan-out chain and the committer, with an explicit lifecycle
 * (starting → running → draining → stopped, or failed).
 *
 * Commit protocol: every record taken from the CDC topic is tracked in the ledger; a tweet's
 * offset is committed (with its `fanout.completed` event and the tombstone of its checkpoint) in
 * a Kafka transaction only once it and every earlier record of its partition are done. Tweets
 * still in flight are checkpointed (cursor + rows delivered) in those transactions every
 * `pipeline.checkpointEvery` written batches. A restarted worker restores the checkpoints of its
 * partitions and resumes each tweet from its cursor; timeline writes carry the source write
 * time, so rows rewritten after the last checkpoint converge.
 *
 * Rebalances: partitions being revoked stop paging, let their in-flight batches land (bounded by
 * `pipeline.shutdownTimeoutMs`), commit offsets and checkpoints while the generation is still
 * this member's, then are forgotten. Lost partitions are forgotten at once, nothing committed.
 *
 * Celebrity fan-outs (issue #4, item 7): given the work topic's ports, a worker runs a second
 * LANE, a Worker of role `tasks` consuming `topics.tasks` in its own consumer group
 * (`<groupId>.tasks`) with its own transactional producer, sharing this worker's row credit and
 * tweet admission gate. The credit stays a strict per-process bound on rows read and not yet
 * written (memory). The gate is a strict per-process bound on tweets plus tasks in flight
 * (`maxInFlightTweets`): each lane's source asks for room before every record it hands over,
 * and admitting a record takes its slot in the same turn.
 * A tweet whose author has more than `pipeline.splitThreshold` followers is not delivered here:
 * it is split (./split.ts) into page-range tasks, produced with its offset commit (./tasks.ts).
 * The lane delivers each task's range with the same chain, checkpoints (keyed by work-topic
 * partition/offset) and commits, and counts task-done records into exactly one
 * `fanout.completed` per tweet (protocol: ./completion.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  filter,
  firstValueFrom,
  lastValueFrom,
  map,
  merge,
  ReplaySubject,
  Subject,
  takeUntil,
} from 'rxjs';
import type { Config } from '../config/index.ts';
import { FanoutError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import { retry, type RetryPolicy } from '../lib/retry.ts';
import type {
  ClaimStore,
  FollowerStore,
  TimelineStore,
  TweetAuthorStore,
} from '../ports/stores.ts';
import type {
  OutRecord,
  RecordSource,
  SourceRecord,
  StateReader,
  TransactionalSink,
} from '../ports/streams.ts';
import { contextFromHeaders, SpanKind, tracer, traceparentOf } from '../lib/telemetry.ts';
import { Committer } from './committer.ts';
import { CompletionAggregator, restoreTallies } from './completion.ts';
import { RecentAuthors } from './authors.ts';
import { AdmissionGate, Credit } from './credit.ts';
import { decodeTweetRecord, type TweetChange } from './decode.ts';
import { fanOut, type WriteBatch } from './fanout.ts';
import {
  type Checkpoint,
  checkpointRows,
  minPageRows,
  readAheadRows,
  rowCredit,
  TweetJob,
} from './job.ts';
import type { JoinDeps } from './join.ts';
import { CommitLedger, type CommitPlan } from './ledger.ts';
import { FanoutMetrics, type Totals } from './metrics.ts';
import { completedRecord, deadLetterRecord, restoreCheckpoints } from './records.ts';
import { sourceRecords } from './source.ts';
import { progress, sumTotals, withLane, type WorkerState, type WorkerStatus } from './status.ts';
import { planSplit, type SplitPlan } from './split.ts';
import { decodeWorkRecord, type SplitTask, taskDoneRecord, taskRecords } from './tasks.ts';

export type { SplitProgress, TweetProgress, WorkerState, WorkerStatus } from './status.ts';

/** Everything a worker talks to (Kafka and Cassandra implementations: see ./connect.ts). */
export interface WorkerPorts {
  readonly source: RecordSource;
  readonly sink: TransactionalSink;
  readonly readCheckpoints: StateReader;
  readonly followers: FollowerStore;
  readonly timelines: TimelineStore;
  readonly authors: TweetAuthorStore;
  /** Claims on change events, to fan out one replica copy of each write; absent: every copy is fanned out. */
  readonly claims?: ClaimStore;
  /** The work topic of split fan-outs; absent: this worker never splits and takes no tasks. */
  readonly work?: LanePorts;
}

/** A second source with its own transactional sink and checkpoint reader (the work-topic lane). */
export interface LanePorts {
  readonly source: RecordSource;
  readonly sink: TransactionalSink;
  readonly readCheckpoints: StateReader;
}

export interface WorkerOptions {
  readonly config: Config;
  readonly workerId: string;
  readonly log: Logger;
  readonly ports: WorkerPorts;
  /** Internal: makes this worker the work-topic lane of another, sharing its bounds. */
  readonly lane?: { readonly credit: Credit; readonly gate: AdmissionGate };
}

/** Uncommitted records allowed per in-flight tweet slot (finished tweets waiting behind a long one). */
const UNCOMMITTED_PER_SLOT = 64;

/** One restore of assigned partitions: those still wanted (a revocation removes them), and its cancel. */
interface Restore {
  readonly wanted: Set<number>;
  readonly abort: AbortController;
}

export class Worker {
  readonly workerId: string;
  readonly #config: Config;
  readonly #log: Logger;
  readonly #ports: WorkerPorts;
  readonly #policy: RetryPolicy;
  readonly #gate: AdmissionGate;
  readonly #credit: Credit;
  readonly #ledger: CommitLedger;
  readonly #committer: Committer;
  readonly #metrics: FanoutMetrics;
  readonly #maxUncommitted: number;
  readonly #restored = new Map<number, Map<bigint, Checkpoint>>();
  /** Partitions whose checkpoints are being read back (see WorkerStatus.restoring), by their restore. */
  readonly #restoring = new Map<number, Restore>();
  /** In-flight tweets and what finishing each one does. */
  readonly #finishers = new Map<TweetJob, { finish: () => void; abandon: () => void }>();
  readonly #authors: RecentAuthors;
  readonly #stop$ = new ReplaySubject<void>(1);
  /** Errors when a graceful stop misses its deadline. */
  readonly #forced$ = new Subject<never>();
  readonly #abort = new AbortController();
  /** `tweets`: consumes the CDC topic (and splits); `tasks`: the work-topic lane of a worker. */
  readonly #role: 'tweets' | 'tasks';
  /** The work-topic lane (role `tweets` with work ports only). */
  readonly #lane: Worker | undefined;
  readonly #laneFailed$ = new Subject<never>();
  readonly #tallies: CompletionAggregator;
  #state: WorkerState = 'starting';
  #run: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  /** Runs one store call under the retry policy (counted as a store retry; stops on a hard stop). */
  readonly #attempt = <T>(what: string, fn: () => Promise<T>): Promise<T> =>
    retry(this.#policy, fn, {
      what,
      signal: this.#abort.signal,
      onRetry: () => this.#metrics.retried('store'),
    });

  constructor(options: WorkerOptions) {
    const { config } = options;
    const p = config.pipeline;
    this.workerId = options.workerId;
    this.#config = config;
    this.#log = options.log.child(`worker-${options.workerId}${options.lane ? '-tasks' : ''}`);
    this.#ports = options.ports;
    this.#policy = config.retry;
    this.#authors = new RecentAuthors({
      store: options.ports.authors,
      attempt: this.#attempt,
      log: this.#log,
    });
    this.#role = options.lane ? 'tasks' : 'tweets';
    this.#gate =
      options.lane?.gate ??
      new AdmissionGate(p.maxInFlightTweets, () => {
        this.#ports.source.wake();
        this.#ports.work?.source.wake();
      });
    this.#credit = options.lane?.credit ?? new Credit(rowCredit(p));
    this.#tallies = new CompletionAggregator(config, options.workerId);
    const work = options.lane ? undefined : options.ports.work;
    this.#lane =
      work &&
      new Worker({
        config,
        workerId: options.workerId,
        log: options.log,
        lane: { credit: this.#credit, gate: this.#gate },
        ports: {
          ...options.ports,
          source: work.source,
          sink: work.sink,
          readCheckpoints: work.readCheckpoints,
          work: undefined,
        },
      });
    this.#maxUncommitted = UNCOMMITTED_PER_SLOT * p.maxInFlightTweets;
    this.#ledger = new CommitLedger(config, this.#ports.source.topic);
    this.#metrics = new FanoutMetrics(
      options.lane ? `${this.workerId}-tasks` : this.workerId,
      () => {
        const s = this.#ownStatus();
        return {
          inFlightTweets: s.inFlight.length,
          followersRemaining: s.inFlight.reduce((n, t) => n + (t.remaining ?? 0), 0),
          consumerLag: s.consumerLag,
          partitionsRestoring: this.#restoring.size,
        };
      },
    );
    this.#committer = new Committer({
      ledger: this.#ledger,
      sink: this.#ports.sink,
      retry: this.#policy,
      signal: this.#abort.signal,
      onCommit: (plan) => this.#committed(plan),
      onRetry: (err) => {
        this.#metrics.retried('commit');
        this.#log.warn('transaction failed; retrying', { err: (err as Error).message });
      },
    });
  }

  get state(): WorkerState {
    return this.#state;
  }

  /** Runs the worker; settles when it stops (rejects with the reason if it failed). */
  start(): Promise<void> {
    if (this.#closing && !this.#run) return this.#closing; // closed before it started
    this.#run ??= this.#main();
    return this.#run;
  }

  /**
   * Graceful stop, safe to call twice (same promise): stops taking records (the source completes),
   * stops paging, lets in-flight batches land, commits offsets and checkpoints, disconnects.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const lane = this.#lane?.close();
      if (!this.#run) {
        this.#state = 'stopped';
        this.#metrics.close();
        this.#committer.close();
        await lane;
        return;
      }
      if (this.#state === 'starting' || this.#state === 'running') this.#state = 'draining';
      this.#stop$.next();
      for (const job of this.#finishers.keys()) job.stop();
      // Forced stop: past the deadline, retries give up (the run then fails and tears down).
      const ms = this.#config.pipeline.shutdownTimeoutMs;
      const deadline = setTimeout(() => {
        this.#log.warn(
          `graceful stop missed its ${ms} ms deadline: abandoning the batches in flight`,
        );
        this.#abort.abort();
        this.#forced$.error(
          new FanoutError(
            'SHUTDOWN_DEADLINE',
            `graceful stop missed its ${ms} ms deadline (pipeline.shutdownTimeoutMs)`,
            { retriable: false },
          ),
        );
      }, ms);
      try {
        await this.#run.catch(() => undefined);
      } finally {
        clearTimeout(deadline);
      }
    })();
    return this.#closing;
  }

  status(): WorkerStatus {
    const own = this.#ownStatus();
    const lane = this.#lane?.status();
    return lane ? withLane(own, lane) : own;
  }

  /** `status().totals` and the number of jobs in flight, without the rest: cheap enough to poll every few ms. */
  counters(): { totals: Totals; inFlight: number } {
    const lane = this.#lane?.counters();
    return {
      totals: sumTotals(this.#metrics.totals, lane?.totals),
      inFlight: this.#finishers.size + (lane?.inFlight ?? 0),
    };
  }

  #ownStatus(): WorkerStatus {
    let lag: number | undefined;
    for (const p of this.#ledger.partitions()) {
      const high = this.#ports.source.highWatermark(p);
      const pos = this.#ledger.position(p);
      if (high !== undefined && pos !== null) lag = (lag ?? 0) + Math.max(0, Number(high - pos));
    }
    const tasks = this.#role === 'tasks';
    const restoring = [...this.#restoring.keys()].sort((a, b) => a - b);
    return {
      workerId: this.workerId,
      state: this.#state,
      partitions: tasks ? [] : this.#ledger.partitions().sort((a, b) => a - b),
      paused: this.#ports.source.paused,
      inFlight: [...this.#finishers.keys()].map(progress),
      uncommitted: this.#ledger.size,
      rowsOutstanding: this.#credit.outstanding,
      consumerLag: lag,
      taskPartitions: tasks ? this.#ledger.partitions().sort((a, b) => a - b) : [],
      restoring: tasks
        ? { partitions: [], taskPartitions: restoring }
        : { partitions: restoring, taskPartitions: [] },
      splits: this.#tallies.tallies().map((t) => ({
        tweetId: t.tweetId,
        splitId: t.splitId,
        tasks: t.count,
        tasksDone: t.done.length,
        delivered: t.delivered,
      })),
      totals: { ...this.#metrics.totals },
    };
  }

  async #main(): Promise<void> {
    const { pipeline: p } = this.#config;
    const ports = this.#ports;
    const join: JoinDeps = {
      followers: ports.followers,
      authors: ports.authors,
      credit: this.#credit,
      pageSize: p.pageSize,
      minPage: minPageRows(p),
      readAhead: readAheadRows(p),
      attempt: this.#attempt,
      knownAuthor: (id) => this.#authors.get(id),
      onBlocked: () => this.#committer.request(),
      onPaged: (job) => {
        if (job.finished) this.#finish(job);
      },
      ...(ports.work ? { split: (job: TweetJob, author: bigint) => this.#split(job, author) } : {}),
      ...(ports.claims ? { claim: (job: TweetJob) => this.#claim(ports.claims!, job) } : {}),
      deletedMeanwhile: (job) => this.#deletedMeanwhile(job),
    };
    let failure: unknown;
    try {
      // First: fences an older instance of this worker and aborts its open transaction, so the
      // checkpoints read on assignment are final.
      await ports.sink.open();
      this.#lane?.start().catch((err: unknown) => this.#laneFailed$.error(err));
      const pipeline$ = sourceRecords(ports.source, {
        room: () => this.#room(),
        assigned: (ps) => this.#assigned(ps),
        revoked: (ps, lost) => this.#revoked(ps, lost),
        started: () => {
          if (this.#state === 'starting') this.#state = 'running';
        },
      }).pipe(
        takeUntil(this.#stop$),
        map((record) => this.#admit(record)),
        filter((job): job is TweetJob => job !== null),
        fanOut({
          join,
          timelines: ports.timelines,
          batchSize: p.batchSize,
          lingerMs: p.lingerMs,
          maxInFlightBatches: p.maxInFlightBatches,
          attempt: this.#attempt,
          onWritten: (batch) => this.#written(batch),
        }),
        takeUntil(merge(this.#committer.failures(), this.#forced$, this.#laneFailed$)),
      );
      await lastValueFrom(pipeline$, { defaultValue: undefined });
      // Offsets of finished tweets, checkpoints of stopped ones.
      await Promise.race([
        this.#committer.flush(),
        firstValueFrom(this.#forced$, { defaultValue: undefined }),
      ]);
    } catch (err) {
      failure = err;
      this.#state = 'failed';
      this.#abort.abort();
      for (const job of this.#finishers.keys()) job.stop();
      this.#log.error('worker failed', { err: (err as Error).message });
    }
    // Restores still waiting (on a dead worker's open transaction) are of no use now.
    for (const restore of this.#restoring.values()) restore.abort.abort();
    // Teardown runs every step even when one fails. The source first: closing it revokes its
    // partitions, which still commits (when not failed) while the producer is open.
    for (const [what, step] of [
      ['source', () => ports.source.close()],
      ['tasks lane', async () => this.#lane?.close()],
      ['committer', async () => this.#committer.close()],
      ['sink', () => ports.sink.close()],
      ['metrics', async () => this.#metrics.close()],
      ['author records', () => this.#authors.settled()],
    ] as const) {
      await step().catch((err: unknown) =>
        this.#log.warn(`closing the ${what} failed`, { err: String(err) }),
      );
    }
    if (failure !== undefined) throw failure as Error;
    this.#state = 'stopped';
  }

  #room(): number {
    if (this.#state !== 'running' && this.#state !== 'starting') return 0;
    if (this.#ledger.size >= this.#maxUncommitted) return 0;
    return this.#gate.room();
  }

  async #assigned(partitions: readonly number[]): Promise<void> {
    if (partitions.length === 0) return;
    const restore: Restore = { wanted: new Set(partitions), abort: new AbortController() };
    for (const p of partitions) this.#restoring.set(p, restore);
    let records;
    try {
      records = await this.#ports.readCheckpoints(partitions, restore.abort.signal);
    } catch (err) {
      if (restore.abort.signal.aborted) return; // all of them revoked meanwhile, or the worker stopped
      throw err;
    } finally {
      for (const p of partitions) if (this.#restoring.get(p) === restore) this.#restoring.delete(p);
    }
    const wanted = partitions.filter((p) => restore.wanted.has(p));
    const restored = restoreCheckpoints(records, this.#ports.source.topic);
    const tallies =
      this.#role === 'tasks'
        ? restoreTallies(records, this.#ports.source.topic)
        : new Map<number, never>();
    let count = 0;
    for (const p of wanted) {
      const byOffset = restored.get(p) ?? new Map<bigint, Checkpoint>();
      count += byOffset.size;
      this.#restored.set(p, byOffset);
      this.#ledger.open(p);
      if (this.#role === 'tasks') this.#tallies.open(p, tallies.get(p));
    }
    this.#log.info('partitions assigned', {
      partitions: wanted,
      checkpointsRestored: count,
      talliesRestored: [...tallies.values()].reduce((n, m) => n + m.size, 0),
    });
  }

  async #revoked(partitions: readonly number[], lost: boolean): Promise<void> {
    // A partition still being restored has delivered nothing: given up at once, and its restore
    // cancelled when none of its partitions is wanted any more.
    for (const p of partitions) {
      const restore = this.#restoring.get(p);
      if (!restore) continue;
      this.#restoring.delete(p);
      restore.wanted.delete(p);
      if (restore.wanted.size === 0) restore.abort.abort();
    }
    const jobs = [...this.#ledger.entries(partitions)].flatMap((e) =>
      e.job && this.#finishers.has(e.job) ? [e.job] : [],
    );
    if (!lost && this.#state !== 'failed') {
      for (const job of jobs) job.stop();
      const deadline = new AbortController();
      await Promise.race([
        Promise.all(jobs.map((j) => j.settled())),
        sleep(this.#config.pipeline.shutdownTimeoutMs, undefined, {
          signal: deadline.signal,
        }).catch(() => undefined),
      ]);
      deadline.abort();
      await this.#committer.flush().catch((err: unknown) =>
        this.#log.warn('commit before giving up partitions failed', {
          partitions,
          err: String(err),
        }),
      );
    }
    for (const e of this.#ledger.drop(partitions)) {
      if (e.job) this.#abandon(e.job);
    }
    for (const p of partitions) this.#restored.delete(p);
    this.#tallies.drop(partitions);
    this.#log.info(lost ? 'partitions lost' : 'partitions given up', {
      partitions,
      tweetsInFlight: jobs.length,
    });
    this.#ports.source.wake();
  }

  /** Takes one record: tracked in the ledger at once; returns a tweet to fan out, if any. */
  #admit(record: SourceRecord): TweetJob | null {
    if (!this.#ledger.has(record.partition)) return null; // revoked meanwhile: its next owner reads it
    if (this.#role === 'tasks') return this.#admitWork(record);
    const decoded = decodeTweetRecord(record, this.#config.cassandra.keyspace);
    if (decoded.kind === 'fanout') return this.#track(record, decoded.change, null);
    this.#trackDone(record, decoded.kind === 'dead' ? decoded : null, []);
    return null;
  }

  /** Takes one record of the work topic: a task to deliver, or a task-done to count. */
  #admitWork(record: SourceRecord): TweetJob | null {
    const decoded = decodeWorkRecord(record);
    if (decoded.kind === 'task') {
      const t = decoded.task;
      return this.#track(
        record,
        {
          op: t.op,
          tweetId: t.tweetId,
          authorId: t.authorId,
          writeTime: t.writeTime,
          expiresAt: t.expiresAt,
        },
        t,
      );
    }
    this.#trackDone(
      record,
      decoded.kind === 'dead' ? decoded : null,
      decoded.kind === 'done' ? this.#tallies.add(record.partition, decoded.done) : [],
    );
    return null;
  }

  /** Tracks a record with nothing to deliver: done at once, `outputs` (or its dead letter) go with its commit. */
  #trackDone(
    record: SourceRecord,
    dead: { code: string; message: string } | null,
    outputs: OutRecord[],
  ): void {
    const { partition, offset } = record;
    const slot = this.#ledger.track(partition, offset, null);
    if (dead) {
      this.#metrics.deadLettered(dead.code);
      this.#log.warn('record dead-lettered', {
        partition,
        offset,
        code: dead.code,
        reason: dead.message,
      });
    }
    this.#ledger.finish(
      slot,
      dead ? [deadLetterRecord(this.#config, record, dead.code, dead.message)] : outputs,
    );
    this.#committer.request();
  }

  /** Tracks a tweet (or a task of one) to deliver; returns it, unless a checkpoint says it is done. */
  #track(record: SourceRecord, change: TweetChange, task: SplitTask | null): TweetJob | null {
    const { partition, offset } = record;
    const byOffset = this.#restored.get(partition);
    const cp = byOffset?.get(offset) ?? null;
    byOffset?.delete(offset);
    const restored =
      cp !== null && cp.tweetId === change.tweetId && cp.op === change.op ? cp : null;
    const job = new TweetJob({ partition, offset }, change, restored, Date.now(), task);
    if (change.op === 'insert' && change.authorId !== null && task === null)
      this.#authors.remember(change.tweetId, change.authorId);
    const slot = this.#ledger.track(partition, offset, job);
    const span = tracer.startSpan(
      task ? 'fanout.task' : 'fanout.tweet',
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          'fanout.tweet_id': change.tweetId,
          'fanout.op': change.op,
          'messaging.kafka.partition': partition,
          'messaging.kafka.offset': offset.toString(),
          'fanout.resumed': restored !== null,
          ...(task ? { 'fanout.task.index': task.index, 'fanout.task.count': task.count } : {}),
        },
      },
      contextFromHeaders(record.headers),
    );
    job.traceparent = traceparentOf(span);
    this.#gate.admit();
    this.#finishers.set(job, {
      finish: () => {
        job.finishedAt ??= Date.now();
        this.#ledger.finish(slot, this.#outputsOf(job, record));
        span.setAttribute('fanout.delivered', job.delivered);
        if (job.split) span.setAttribute('fanout.split.tasks', job.split.ranges.length);
        span.end();
      },
      abandon: () => span.end(),
    });
    if (job.finished) {
      this.#finish(job); // a checkpoint said it was done: only its commit was outstanding
      return null;
    }
    return job;
  }

  /**
   * Whether an insert (a whole tweet or a task of one) that has read its last page must take
   * its rows back: a delete of the tweet at or after its write time has marked itself in
   * tweet_authors, which every delete does before its first follower read (whoever ran it: a
   * delete resumed by another worker may have read under the previous one). One read per insert.
   */
  async #deletedMeanwhile(job: TweetJob): Promise<boolean> {
    const deleted = await this.#attempt(`read whether ${job.tweetId} was deleted`, () =>
      this.#ports.authors.deletedSince(job.tweetId, job.writeTime),
    );
    if (deleted) {
      this.#metrics.retracted();
      this.#log.info('insert takes its rows back: the tweet was deleted while it was delivered', {
        tweetId: job.tweetId,
        task: job.task?.index ?? null,
        delivered: job.delivered,
      });
    }
    return deleted;
  }

  /** Claims a whole tweet's change event for this copy (where it sits); null when this copy holds the claim, else the holder. */
  async #claim(claims: ClaimStore, job: TweetJob): Promise<string | null> {
    const me = `${this.#ports.source.topic}/${job.partition}/${job.offset}`;
    const holder = await this.#attempt(`claim change event ${job.eventId}`, () =>
      claims.claim(job.eventId!, me),
    );
    return holder === me ? null : holder;
  }

  /** What a finished job produces with its offset commit. */
  #outputsOf(job: TweetJob, record: SourceRecord): OutRecord[] {
    if (job.duplicateOf !== null) {
      // Another replica's copy of this write holds its claim: that one fans it out and completes it.
      this.#metrics.copySkipped();
      this.#log.info('replica copy of a change skipped', {
        tweetId: job.tweetId,
        op: job.op,
        eventId: job.eventId,
        claimedBy: job.duplicateOf,
      });
      return [];
    }
    if (job.task) {
      return [
        taskDoneRecord(this.#config, job.task, {
          delivered: job.delivered,
          finishedAt: job.finishedAt ?? Date.now(),
          resumed: job.resumed,
          retracted: job.retracting,
          workerId: this.workerId,
          traceparent: job.traceparent,
        }),
      ];
    }
    if (job.authorId === null) {
      this.#metrics.deadLettered('unknown-author');
      return [
        deadLetterRecord(
          this.#config,
          record,
          'unknown-author',
          `delete of ${job.tweetId}: no author recorded in tweet_authors (its insert was never fanned out)`,
        ),
      ];
    }
    if (job.split) {
      const tweet = {
        tweetId: job.tweetId,
        authorId: job.authorId,
        op: job.op,
        writeTime: job.writeTime,
        expiresAt: job.expiresAt,
        startedAt: job.startedAt,
        traceparent: job.traceparent,
      };
      return taskRecords(
        this.#config,
        tweet,
        { topic: record.topic, partition: record.partition, offset: record.offset },
        job.split,
      );
    }
    return [completedRecord(this.#config, record.topic, job, this.workerId)];
  }

  /** Whether to split a tweet of `author` (see ./split.ts); logged when it is. */
  async #split(job: TweetJob, author: bigint): Promise<SplitPlan | null> {
    const p = this.#config.pipeline;
    const plan = await planSplit(
      {
        page: (after, limit, upTo) =>
          this.#attempt(`read follower ids of ${author}`, () =>
            this.#ports.followers.page(author, after, limit, upTo),
          ),
        last: () =>
          this.#attempt(`read the last follower id of ${author}`, () =>
            this.#ports.followers.last(author),
          ),
      },
      {
        threshold: p.splitThreshold,
        taskSize: p.splitTaskSize,
        signal: job.signal,
        onTotal: (n) => {
          job.total ??= n;
        },
      },
    );
    if (plan)
      this.#log.info('tweet split into tasks', {
        tweetId: job.tweetId,
        author: String(author),
        estimatedFollowers: plan.total,
        tasks: plan.ranges.length,
      });
    return plan;
  }

  #finish(job: TweetJob): void {
    const f = this.#finishers.get(job);
    if (!f) return; // already finished, or its partition was given up
    this.#finishers.delete(job);
    f.finish();
    this.#gate.release();
    this.#committer.request();
  }

  #abandon(job: TweetJob): void {
    job.stop();
    const f = this.#finishers.get(job);
    if (!f) return;
    this.#finishers.delete(job);
    f.abandon();
    this.#gate.release();
  }

  #written(batch: WriteBatch): void {
    const ops = new Set(batch.segments.map((s) => s.job.writeOp));
    this.#metrics.written(batch.rows.length, ops.size === 1 ? [...ops][0]! : 'mixed');
    let due = false;
    for (const { job } of batch.segments) {
      if (job.finished) this.#finish(job);
      else if (job.checkpointDue(checkpointRows(this.#config.pipeline))) due = true;
    }
    if (due) this.#committer.request();
  }

  #committed(plan: CommitPlan): void {
    const done = plan.committed.flatMap((e) =>
      e.job &&
      e.job.authorId !== null &&
      e.job.split === null &&
      e.job.task === null &&
      e.job.duplicateOf === null
        ? [e.job]
        : [],
    );
    // A delete whose offset is committed needs its author no more (a split one's tasks carry it).
    for (const e of plan.committed)
      if (e.job?.op === 'delete' && e.job.task === null && e.job.authorId !== null)
        this.#authors.forget(e.job.tweetId, e.job.writeTime);
    // Tweets completed: whole ones here, split ones where their last task-done was counted.
    const completions = plan.tx.records.filter(
      (r) => r.topic === this.#config.topics.completed,
    ).length;
    this.#metrics.committed(
      completions,
      done.map((j) => (j.finishedAt ?? Date.now()) - j.startedAt),
    );
    if (done.length > 0)
      this.#log.debug('committed', {
        tweets: done.map((j) => j.tweetId),
        records: plan.tx.records.length,
      });
    this.#ports.source.wake(); // the uncommitted bound may have freed room
  }
}
