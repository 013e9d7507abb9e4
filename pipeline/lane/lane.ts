/**
 * A lane: one input topic consumed by a consumer group, its records turned into jobs by a
 * handler, the jobs' rows written to timelines, and the progress committed in Kafka transactions.
 *
 *   source ─ admit (handler) ─ fanOut (handler's steps, batches, writes) ─ ledger ─ committer
 *
 * Invariants (docs/architecture.md):
 * - Every record taken is tracked in the ledger; a record's offset is committed (with what its
 *   job produced) only once it and every earlier record of its partition are done.
 * - Jobs still in flight are checkpointed in those transactions; a new owner of the partition
 *   restores the checkpoints and resumes each job from its cursor.
 * - Memory: rows read and not written are bounded by the shared row credit, jobs in flight by the
 *   shared admission gate, records taken and not committed by `64 × maxInFlightTweets`.
 * - Rebalances: revoked partitions stop paging, let their batches land (bounded by
 *   `pipeline.shutdownTimeoutMs`), commit, then are forgotten; lost ones are forgotten at once.
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
  tap,
} from 'rxjs';
import type { Config } from '../../config/index.ts';
import { FanoutError } from '../../lib/errors.ts';
import type { Logger } from '../../lib/log.ts';
import type { PartitionLagReading } from '../../lib/metrics.ts';
import { retry } from '../../lib/retry.ts';
import type { OutRecord, SourceRecord } from '../../ports/streams.ts';
import { deadLetterRecord } from '../../records/dead-letter.ts';
import { checkpointRows, minPageRows, readAheadRows } from '../bounds.ts';
import { fanOut, type WriteBatch } from '../fanout/fanout.ts';
import { checkpointDue, type Job } from '../job.ts';
import type { Totals } from '../metrics.ts';
import { progress, type WorkerState } from '../status.ts';
import { type CommittedTx, Committer } from './committer.ts';
import type { AdmissionGate, Credit, Priority } from './credit.ts';
import type { Attempt, Handler, LaneOptions, LanePorts, LaneStatus } from './handler.ts';
import { InFlightJobs } from './in-flight.ts';
import { CommitLedger, type CommitPlan } from './ledger.ts';
import { LaneObserver } from './observer.ts';
import { Restores } from './restores.ts';
import { sourceRecords } from './source.ts';
import type { WriteSlots } from './write-slots.ts';

/** Uncommitted records allowed per in-flight job slot (finished ones waiting behind a long one). */
const UNCOMMITTED_PER_SLOT = 64;

export class Lane {
  readonly #config: Config;
  readonly #log: Logger;
  readonly #ports: LanePorts;
  readonly #credit: Credit;
  readonly #gate: AdmissionGate;
  readonly #slots: WriteSlots;
  readonly #priority: (job: Job) => Priority;
  readonly #handler: Handler;
  readonly #ledger: CommitLedger;
  readonly #committer: Committer;
  readonly #observer: LaneObserver;
  readonly #maxUncommitted: number;
  /** The lane's consumer group. */
  readonly #group: string;
  readonly #restores: Restores;
  readonly #inFlight: InFlightJobs;
  readonly #stop$ = new ReplaySubject<void>(1);
  /** Errors when the lane must stop at once: a missed stop deadline, or {@link fail}. */
  readonly #halt$ = new Subject<never>();
  readonly #abort = new AbortController();
  #state: WorkerState = 'starting';
  #run: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  /** Runs one store call under the retry policy; each retry is counted, and an event on `span`. */
  readonly #attempt: Attempt = (what, fn, span) =>
    retry(this.#config.retry, fn, {
      what,
      signal: this.#abort.signal,
      onRetry: (err, attempt, delayMs) => {
        this.#observer.metrics.retried('store');
        span?.addEvent('retry', {
          'fanout.attempt': attempt,
          'fanout.retry.delay_ms': delayMs,
          'exception.message': (err as Error).message,
        });
      },
    });

  constructor(options: LaneOptions) {
    const { config, ports } = options;
    const p = config.pipeline;
    this.#config = config;
    this.#log = options.log.child(`worker-${options.name}`);
    this.#ports = ports;
    this.#credit = options.credit;
    this.#gate = options.gate;
    this.#slots = options.slots();
    this.#priority = options.priority;
    this.#maxUncommitted = UNCOMMITTED_PER_SLOT * p.maxInFlightTweets;
    this.#group = options.group;
    this.#ledger = new CommitLedger({
      topic: ports.source.topic,
      checkpoints: { name: config.topics.checkpoints, partitions: config.topics.cdcPartitions },
      checkpointRows: checkpointRows(p),
    });
    this.#restores = new Restores(ports.source.topic, ports.readCheckpoints);
    this.#inFlight = new InFlightJobs(
      this.#gate,
      this.#ledger,
      {
        mode: config.telemetry.batchSpans,
        every: config.telemetry.batchSpanEvery,
        slowMs: config.telemetry.slowSpanMs,
      },
      options.workerId,
    );
    this.#observer = new LaneObserver(config, options.name, {
      jobs: () => this.#inFlight.jobs(),
      lag: () => this.#lagByPartition(),
      restoring: () => this.#restores.restoring().length,
    });
    this.#committer = new Committer({
      ledger: this.#ledger,
      sink: ports.sink,
      retry: config.retry,
      signal: this.#abort.signal,
      // The small-tweet delay knob: a tweet's rows wait up to it for a batch, its commit for others.
      lingerMs: p.lingerMs,
      onCommit: (plan, tx) => this.#committed(plan, tx),
      // In the trace of the first job it completes; the others get a span linking to it.
      spanParent: (plan) => this.#observer.txParent(plan),
      onRetry: (err) => {
        this.#observer.transactionRetried();
        this.#log.warn('transaction failed; retrying', { err: (err as Error).message });
      },
    });
    this.#handler = options.handler({
      workerId: options.workerId,
      topic: ports.source.topic,
      log: this.#log,
      metrics: this.#observer.metrics,
      deadLetter: (record, code, message) => this.#deadLetter(record, code, message),
      splitCompleted: (c) => this.#observer.splitCompleted(c),
      followers: ports.followers,
      authors: ports.authors,
      credit: this.#credit,
      priority: options.priority,
      pageSize: p.pageSize,
      minPage: minPageRows(p),
      readAhead: readAheadRows(p),
      attempt: this.#attempt,
      requestCommit: () => this.#committer.request(),
      retracting: (job) => {
        this.#observer.metrics.retracted();
        this.#log.info('insert takes its rows back: the tweet was deleted while it was delivered', {
          tweetId: job.tweetId,
          task: job.kind === 'task' ? job.task.index : null,
          delivered: job.delivery.delivered,
        });
      },
    });
  }

  get state(): WorkerState {
    return this.#state;
  }

  /** The source's room grew elsewhere (the shared gate or credit freed up). */
  wake(): void {
    this.#ports.source.wake();
  }

  /** Runs the lane; settles when it stops (rejects with the reason if it failed). */
  start(): Promise<void> {
    if (this.#closing && !this.#run) return this.#closing;
    this.#run ??= this.#main();
    return this.#run;
  }

  /** Stops the lane at once with `err` (e.g. the worker's other lane failed). */
  fail(err: unknown): void {
    this.#halt$.error(err);
  }

  /**
   * Graceful stop, safe to call twice (same promise): stops taking records, stops paging, lets
   * in-flight batches land, commits offsets and checkpoints, disconnects.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (!this.#run) {
        this.#state = 'stopped';
        this.#observer.metrics.close();
        this.#committer.close();
        return;
      }
      if (this.#state === 'starting' || this.#state === 'running') this.#state = 'draining';
      this.#stop$.next();
      this.#inFlight.stopAll();
      // Forced stop: past the deadline, retries give up (the run then fails and tears down).
      const ms = this.#config.pipeline.shutdownTimeoutMs;
      const deadline = setTimeout(() => {
        this.#log.warn(
          `graceful stop missed its ${ms} ms deadline: abandoning the batches in flight`,
        );
        this.#abort.abort();
        this.#halt$.error(
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

  status(): LaneStatus {
    return {
      state: this.#state,
      partitions: this.#ledger.partitions().sort((a, b) => a - b),
      restoring: this.#restores.restoring(),
      paused: this.#ports.source.paused,
      inFlight: this.#inFlight.jobs().map(progress),
      uncommitted: this.#ledger.size,
      consumerLag: this.#observer.consumerLag(),
    };
  }

  /** Lifetime totals (rows written, tweets completed, …). */
  get totals(): Totals {
    return this.#observer.metrics.totals;
  }

  /** Jobs in flight. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  async #main(): Promise<void> {
    const { pipeline: p } = this.#config;
    const ports = this.#ports;
    let failure: unknown;
    try {
      // First: fences an older instance of this lane's producer and aborts its open transaction,
      // so the checkpoints read on assignment are final.
      await ports.sink.open();
      const lane$ = sourceRecords(ports.source, {
        room: () => this.#room(),
        assigned: (ps) => this.#assigned(ps),
        revoked: (ps, lost) => this.#revoked(ps, lost),
        started: () => {
          if (this.#state === 'starting') this.#state = 'running';
        },
        failedLate: (err) =>
          this.#log.warn('the source failed while the lane drained', { err: err.message }),
      }).pipe(
        takeUntil(this.#stop$),
        map((record) => this.#admit(record)),
        filter((job): job is Job => job !== null),
        fanOut({
          rows: (job) => this.#handler.rows(job).pipe(tap({ complete: () => this.#paged(job) })),
          credit: this.#credit,
          timelines: ports.timelines,
          batchSize: p.batchSize,
          lingerMs: p.lingerMs,
          slots: this.#slots,
          priority: this.#priority,
          attempt: this.#attempt,
          onWritten: (batch) => this.#written(batch),
        }),
        takeUntil(merge(this.#committer.failures(), this.#halt$)),
      );
      await lastValueFrom(lane$, { defaultValue: undefined });
      // Offsets of finished jobs, checkpoints of stopped ones.
      await Promise.race([
        this.#committer.flush(),
        firstValueFrom(this.#halt$, { defaultValue: undefined }),
      ]);
    } catch (err) {
      failure = err;
      this.#state = 'failed';
      this.#abort.abort();
      this.#inFlight.stopAll();
      this.#log.error('worker failed', { err: (err as Error).message });
    }
    // Restores still waiting (on a dead worker's open transaction) are of no use now.
    this.#restores.cancelAll();
    // Teardown runs every step even when one fails. The source first: closing it revokes its
    // partitions, which still commits (when not failed) while the producer is open.
    for (const [what, step] of [
      ['source', () => ports.source.close()],
      ['committer', async () => this.#committer.close()],
      ['sink', () => ports.sink.close()],
      ['metrics', async () => this.#observer.close()],
      ['handler', async () => this.#handler.settled?.()],
    ] as const) {
      await step().catch((err: unknown) =>
        this.#log.warn(`closing the ${what} failed`, { err: String(err) }),
      );
    }
    if (failure !== undefined) throw failure as Error;
    this.#state = 'stopped';
  }

  /** Counts and logs a record the lane cannot use; returns its dead letter. */
  #deadLetter(record: SourceRecord, code: string, message: string): OutRecord {
    const { partition, offset } = record;
    this.#observer.metrics.deadLettered(code);
    this.#log.warn('record dead-lettered', { partition, offset, code, reason: message });
    return deadLetterRecord(this.#config.topics.deadLetter, record, code, message);
  }

  /**
   * Records behind each partition's end, as the fetcher last saw it. The end of each transaction
   * is a marker offset no record takes: a partition whose every record was handed over and
   * committed counts from where the fetcher found its end, or an idle lane would read a record
   * behind per transaction that ended its partition.
   */
  #lagByPartition(): PartitionLagReading[] {
    const source = this.#ports.source;
    return this.#ledger.partitions().flatMap((p) => {
      const high = source.highWatermark(p);
      const committed = this.#ledger.position(p);
      if (high === undefined || committed === null) return [];
      const end = this.#ledger.pending(p) === 0 ? source.endReached(p) : undefined;
      const pos = end !== undefined && end > committed ? end : committed;
      const lag = Math.max(0, Number(high - pos));
      return [{ topic: source.topic, partition: p, group: this.#group, lag }];
    });
  }

  #room(): number {
    if (this.#state !== 'running' && this.#state !== 'starting') return 0;
    if (this.#ledger.size >= this.#maxUncommitted) return 0;
    return this.#gate.room();
  }

  async #assigned(partitions: readonly number[]): Promise<void> {
    if (partitions.length === 0) return;
    const restored = await this.#restores.restore(partitions);
    if (restored === null) return;
    for (const p of restored.wanted) this.#ledger.open(p);
    this.#handler.restore?.(restored.wanted, restored.state);
    this.#log.info('partitions assigned', {
      partitions: restored.wanted,
      checkpointsRestored: restored.checkpoints,
    });
  }

  async #revoked(partitions: readonly number[], lost: boolean): Promise<void> {
    this.#restores.cancel(partitions);
    const jobs = [...this.#ledger.entries(partitions)].flatMap((e) =>
      e.job && this.#inFlight.has(e.job) ? [e.job] : [],
    );
    if (!lost && this.#state !== 'failed') {
      for (const job of jobs) job.delivery.stop();
      const deadline = new AbortController();
      await Promise.race([
        Promise.all(jobs.map((j) => j.delivery.settled())),
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
      if (e.job) this.#inFlight.abandon(e.job);
    }
    this.#restores.forget(partitions);
    this.#handler.drop?.(partitions);
    this.#log.info(lost ? 'partitions lost' : 'partitions given up', {
      partitions,
      tweetsInFlight: jobs.length,
    });
    this.#ports.source.wake();
  }

  /** Takes one record: tracked in the ledger at once; returns a job to deliver, if any. */
  #admit(record: SourceRecord): Job | null {
    const { partition, offset } = record;
    if (!this.#ledger.has(partition)) return null; // revoked meanwhile: its next owner reads it
    const restored = this.#restores.take(partition, offset);
    const admission = this.#handler.admit(record, restored);
    if (admission.kind !== 'job') {
      const slot = this.#ledger.track(partition, offset, null, restored !== null);
      let outputs = admission.kind === 'done' ? admission.outputs : [];
      if (admission.kind === 'dead')
        outputs = [this.#deadLetter(record, admission.code, admission.message)];
      this.#ledger.finish(slot, outputs);
      this.#committer.request();
      return null;
    }
    const job = admission.job;
    const slot = this.#ledger.track(partition, offset, job, restored !== null);
    this.#inFlight.add(job, record, slot, this.#handler.span, (j) =>
      this.#handler.outputs(j, record),
    );
    if (job.delivery.finished) {
      this.#finish(job); // a checkpoint said it was done: only its commit was outstanding
      return null;
    }
    return job;
  }

  /** The job's steps ended: finished now unless rows are still being written. */
  #paged(job: Job): void {
    if (job.delivery.finished) this.#finish(job);
  }

  #finish(job: Job): void {
    if (!this.#inFlight.finish(job)) return;
    this.#observer.finished(job);
    this.#committer.request();
  }

  #written(batch: WriteBatch): void {
    this.#observer.written(batch);
    const every = checkpointRows(this.#config.pipeline);
    let due = false;
    for (const { job } of batch.segments) {
      if (job.delivery.finished) this.#finish(job);
      else if (checkpointDue(job, every)) due = true;
    }
    if (due) this.#committer.request();
  }

  #committed(plan: CommitPlan, tx: CommittedTx): void {
    const done = this.#observer.committed(plan, tx);
    if (done.length > 0)
      this.#log.debug('committed', {
        tweets: done.map((j) => j.tweetId),
        records: plan.tx.records.length,
      });
    this.#handler.committed?.(plan);
    this.#ports.source.wake(); // the uncommitted bound may have freed room
  }
}
