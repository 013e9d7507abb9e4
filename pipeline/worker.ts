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
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { filter, firstValueFrom, lastValueFrom, map, merge, ReplaySubject, Subject, takeUntil } from 'rxjs';
import type { Config } from '../config/index.ts';
import { FanoutError } from '../connectors/errors.ts';
import type { Logger } from '../connectors/log.ts';
import { retry, type RetryPolicy } from '../connectors/retry.ts';
import type { FollowerStore, TimelineStore, TweetAuthorStore } from '../connectors/stores.ts';
import type { RecordSource, SourceRecord, StateReader, TransactionalSink } from '../connectors/streams.ts';
import { contextFromHeaders, SpanKind, tracer, traceparentOf } from '../connectors/telemetry.ts';
import { Committer } from './committer.ts';
import { AdmissionGate, Credit } from './credit.ts';
import { decodeTweetRecord } from './decode.ts';
import { fanOut, type WriteBatch } from './fanout.ts';
import { type Checkpoint, checkpointRows, readAheadRows, TweetJob } from './job.ts';
import type { JoinDeps } from './join.ts';
import { CommitLedger, type CommitPlan } from './ledger.ts';
import { FanoutMetrics, type Totals } from './metrics.ts';
import { completedRecord, deadLetterRecord, restoreCheckpoints } from './records.ts';
import { sourceRecords } from './source.ts';

export type WorkerState = 'starting' | 'running' | 'draining' | 'stopped' | 'failed';

/** Everything a worker talks to (Kafka and Cassandra implementations: see ./connect.ts). */
export interface WorkerPorts {
  readonly source: RecordSource;
  readonly sink: TransactionalSink;
  readonly readCheckpoints: StateReader;
  readonly followers: FollowerStore;
  readonly timelines: TimelineStore;
  readonly authors: TweetAuthorStore;
}

export interface WorkerOptions {
  readonly config: Config;
  readonly workerId: string;
  readonly log: Logger;
  readonly ports: WorkerPorts;
}

/** Progress of one in-flight tweet (ids as strings: JSON-ready). */
export interface TweetProgress {
  readonly tweetId: string;
  readonly authorId: string | null;
  readonly op: 'insert' | 'delete';
  readonly partition: number;
  readonly offset: string;
  readonly delivered: number;
  readonly cursor: string | null;
  readonly total: number | null;
  readonly remaining: number | null;
  readonly startedAt: string;
  readonly resumed: boolean;
  readonly stopped: boolean;
}

export interface WorkerStatus {
  readonly workerId: string;
  readonly state: WorkerState;
  readonly partitions: number[];
  readonly paused: boolean;
  readonly inFlight: TweetProgress[];
  /** Records taken but not yet committed. */
  readonly uncommitted: number;
  /** Follower rows read but not yet written (bounded by the row credit). */
  readonly rowsOutstanding: number;
  readonly consumerLag: number | undefined;
  readonly totals: Totals;
}

/** Uncommitted records allowed per in-flight tweet slot (finished tweets waiting behind a long one). */
const UNCOMMITTED_PER_SLOT = 64;
/** Authors of recent inserts kept in memory for deletes right behind them. */
const KNOWN_AUTHORS = 10_000;

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
  /** In-flight tweets and what finishing each one does. */
  readonly #finishers = new Map<TweetJob, { finish: () => void; abandon: () => void }>();
  readonly #knownAuthors = new Map<string, bigint>();
  readonly #stop$ = new ReplaySubject<void>(1);
  /** Errors when a graceful stop misses its deadline. */
  readonly #forced$ = new Subject<never>();
  readonly #abort = new AbortController();
  #state: WorkerState = 'starting';
  #run: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: WorkerOptions) {
    const { config } = options;
    const p = config.pipeline;
    this.workerId = options.workerId;
    this.#config = config;
    this.#log = options.log.child(`worker-${options.workerId}`);
    this.#ports = options.ports;
    this.#policy = config.retry;
    this.#gate = new AdmissionGate(p.maxInFlightTweets, () => this.#ports.source.wake());
    this.#credit = new Credit(2 * p.maxInFlightBatches * p.batchSize);
    this.#maxUncommitted = UNCOMMITTED_PER_SLOT * p.maxInFlightTweets;
    this.#ledger = new CommitLedger(config, this.#ports.source.topic);
    this.#metrics = new FanoutMetrics(this.workerId, () => {
      const s = this.status();
      return { inFlightTweets: s.inFlight.length, followersRemaining: s.inFlight.reduce((n, t) => n + (t.remaining ?? 0), 0), consumerLag: s.consumerLag };
    });
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
      if (!this.#run) {
        this.#state = 'stopped';
        this.#metrics.close();
        this.#committer.close();
        return;
      }
      if (this.#state === 'starting' || this.#state === 'running') this.#state = 'draining';
      this.#stop$.next();
      for (const job of this.#finishers.keys()) job.stop();
      // Forced stop: past the deadline, retries give up (the run then fails and tears down).
      const ms = this.#config.pipeline.shutdownTimeoutMs;
      const deadline = setTimeout(() => {
        this.#log.warn(`graceful stop missed its ${ms} ms deadline: abandoning the batches in flight`);
        this.#abort.abort();
        this.#forced$.error(new FanoutError('SHUTDOWN_DEADLINE', `graceful stop missed its ${ms} ms deadline (pipeline.shutdownTimeoutMs)`, { retriable: false }));
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
    let lag: number | undefined;
    for (const p of this.#ledger.partitions()) {
      const high = this.#ports.source.highWatermark(p);
      const pos = this.#ledger.position(p);
      if (high !== undefined && pos !== null) lag = (lag ?? 0) + Math.max(0, Number(high - pos));
    }
    return {
      workerId: this.workerId,
      state: this.#state,
      partitions: this.#ledger.partitions().sort((a, b) => a - b),
      paused: this.#ports.source.paused,
      inFlight: [...this.#finishers.keys()].map(progress),
      uncommitted: this.#ledger.size,
      rowsOutstanding: this.#credit.outstanding,
      consumerLag: lag,
      totals: { ...this.#metrics.totals },
    };
  }

  async #main(): Promise<void> {
    const { pipeline: p } = this.#config;
    const ports = this.#ports;
    const attempt = <T>(what: string, fn: () => Promise<T>): Promise<T> =>
      retry(this.#policy, fn, { what, signal: this.#abort.signal, onRetry: () => this.#metrics.retried('store') });
    const join: JoinDeps = {
      followers: ports.followers, authors: ports.authors, credit: this.#credit, pageSize: p.pageSize, minPage: p.batchSize, readAhead: readAheadRows(p), attempt,
      knownAuthor: (id) => this.#knownAuthors.get(id),
      onBlocked: () => this.#committer.request(),
      onPaged: (job) => { if (job.finished) this.#finish(job); },
    };
    let failure: unknown;
    try {
      // First: fences an older instance of this worker and aborts its open transaction, so the
      // checkpoints read on assignment are final.
      await ports.sink.open();
      const pipeline$ = sourceRecords(ports.source, {
        room: () => this.#room(),
        assigned: (ps) => this.#assigned(ps),
        revoked: (ps, lost) => this.#revoked(ps, lost),
        started: () => { if (this.#state === 'starting') this.#state = 'running'; },
      }).pipe(
        takeUntil(this.#stop$),
        map((record) => this.#admit(record)),
        filter((job): job is TweetJob => job !== null),
        fanOut({
          join, timelines: ports.timelines, batchSize: p.batchSize, lingerMs: p.lingerMs, maxInFlightBatches: p.maxInFlightBatches, attempt,
          onWritten: (batch) => this.#written(batch),
        }),
        takeUntil(merge(this.#committer.failures(), this.#forced$)),
      );
      await lastValueFrom(pipeline$, { defaultValue: undefined });
      // Offsets of finished tweets, checkpoints of stopped ones.
      await Promise.race([this.#committer.flush(), firstValueFrom(this.#forced$, { defaultValue: undefined })]);
    } catch (err) {
      failure = err;
      this.#state = 'failed';
      this.#abort.abort();
      for (const job of this.#finishers.keys()) job.stop();
      this.#log.error('worker failed', { err: (err as Error).message });
    }
    // Teardown runs every step even when one fails. The source first: closing it revokes its
    // partitions, which still commits (when not failed) while the producer is open.
    for (const [what, step] of [
      ['source', () => ports.source.close()],
      ['committer', async () => this.#committer.close()],
      ['sink', () => ports.sink.close()],
      ['metrics', async () => this.#metrics.close()],
    ] as const) {
      await step().catch((err: unknown) => this.#log.warn(`closing the ${what} failed`, { err: String(err) }));
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
    const restored = restoreCheckpoints(await this.#ports.readCheckpoints(partitions), this.#ports.source.topic);
    let count = 0;
    for (const p of partitions) {
      const byOffset = restored.get(p) ?? new Map<bigint, Checkpoint>();
      count += byOffset.size;
      this.#restored.set(p, byOffset);
      this.#ledger.open(p);
    }
    this.#log.info('partitions assigned', { partitions, checkpointsRestored: count });
  }

  async #revoked(partitions: readonly number[], lost: boolean): Promise<void> {
    const jobs = [...this.#ledger.entries(partitions)].flatMap((e) => (e.job && this.#finishers.has(e.job) ? [e.job] : []));
    if (!lost && this.#state !== 'failed') {
      for (const job of jobs) job.stop();
      const deadline = new AbortController();
      await Promise.race([
        Promise.all(jobs.map((j) => j.settled())),
        sleep(this.#config.pipeline.shutdownTimeoutMs, undefined, { signal: deadline.signal }).catch(() => undefined),
      ]);
      deadline.abort();
      await this.#committer.flush().catch((err: unknown) => this.#log.warn('commit before giving up partitions failed', { partitions, err: String(err) }));
    }
    for (const e of this.#ledger.drop(partitions)) {
      if (e.job) this.#abandon(e.job);
    }
    for (const p of partitions) this.#restored.delete(p);
    this.#log.info(lost ? 'partitions lost' : 'partitions given up', { partitions, tweetsInFlight: jobs.length });
    this.#ports.source.wake();
  }

  /** Takes one record: tracked in the ledger at once; returns a tweet to fan out, if any. */
  #admit(record: SourceRecord): TweetJob | null {
    const { partition, offset } = record;
    if (!this.#ledger.has(partition)) return null; // revoked meanwhile: its next owner reads it
    const decoded = decodeTweetRecord(record, this.#config.cassandra.keyspace);
    if (decoded.kind !== 'fanout') {
      const slot = this.#ledger.track(partition, offset, null);
      if (decoded.kind === 'dead') {
        this.#metrics.deadLettered(decoded.code);
        this.#log.warn('record dead-lettered', { partition, offset, code: decoded.code, reason: decoded.message });
      }
      this.#ledger.finish(slot, decoded.kind === 'dead' ? [deadLetterRecord(this.#config, record, decoded.code, decoded.message)] : []);
      this.#committer.request();
      return null;
    }
    const { change } = decoded;
    const byOffset = this.#restored.get(partition);
    const cp = byOffset?.get(offset) ?? null;
    byOffset?.delete(offset);
    const restored = cp !== null && cp.tweetId === change.tweetId && cp.op === change.op ? cp : null;
    const job = new TweetJob({ partition, offset }, change, restored);
    if (change.op === 'insert' && change.authorId !== null) this.#rememberAuthor(change.tweetId, change.authorId);
    const slot = this.#ledger.track(partition, offset, job);
    const span = tracer.startSpan('fanout.tweet', {
      kind: SpanKind.CONSUMER,
      attributes: { 'fanout.tweet_id': change.tweetId, 'fanout.op': change.op, 'messaging.kafka.partition': partition, 'messaging.kafka.offset': offset.toString(), 'fanout.resumed': restored !== null },
    }, contextFromHeaders(record.headers));
    job.traceparent = traceparentOf(span);
    this.#gate.admit();
    this.#finishers.set(job, {
      finish: () => {
        job.finishedAt ??= Date.now();
        const outputs = job.authorId === null
          ? [deadLetterRecord(this.#config, record, 'unknown-author', `delete of ${job.tweetId}: no author recorded in tweet_authors (its insert was never fanned out)`)]
          : [completedRecord(this.#config, record.topic, job, this.workerId)];
        if (job.authorId === null) this.#metrics.deadLettered('unknown-author');
        this.#ledger.finish(slot, outputs);
        span.setAttribute('fanout.delivered', job.delivered);
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
    const ops = new Set(batch.segments.map((s) => s.job.op));
    this.#metrics.written(batch.rows.length, ops.size === 1 ? [...ops][0]! : 'mixed');
    let due = false;
    for (const { job } of batch.segments) {
      if (job.finished) this.#finish(job);
      else if (job.checkpointDue(checkpointRows(this.#config.pipeline))) due = true;
    }
    if (due) this.#committer.request();
  }

  #committed(plan: CommitPlan): void {
    const done = plan.committed.flatMap((e) => (e.job && e.job.authorId !== null ? [e.job] : []));
    this.#metrics.committed(done.length, done.map((j) => (j.finishedAt ?? Date.now()) - j.startedAt));
    if (done.length > 0) this.#log.debug('committed', { tweets: done.map((j) => j.tweetId), records: plan.tx.records.length });
    this.#ports.source.wake(); // the uncommitted bound may have freed room
  }

  #rememberAuthor(tweetId: string, authorId: bigint): void {
    this.#knownAuthors.delete(tweetId);
    this.#knownAuthors.set(tweetId, authorId);
    if (this.#knownAuthors.size > KNOWN_AUTHORS) this.#knownAuthors.delete(this.#knownAuthors.keys().next().value!);
  }
}

function progress(job: TweetJob): TweetProgress {
  return {
    tweetId: job.tweetId, authorId: job.authorId?.toString() ?? null, op: job.op, partition: job.partition, offset: job.offset.toString(),
    delivered: job.delivered, cursor: job.cursor?.toString() ?? null, total: job.total, remaining: job.remaining,
    startedAt: new Date(job.startedAt).toISOString(), resumed: job.resumed, stopped: job.stopped,
  };
}
