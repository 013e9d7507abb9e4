/**
 * The jobs a lane has in flight: each holds a slot of the shared admission gate and a span from
 * admission to finish. Finishing a job hands its outputs to its ledger slot (they go out with its
 * offset commit); abandoning one (its partition was given up) drops it.
 */
import { SpanKind } from '@opentelemetry/api';
import { type BatchSpanPolicy, SpanSampler } from '../../lib/span-sampler.ts';
import { extract, startSpan } from '../../lib/telemetry.ts';
import type { OutRecord, SourceRecord } from '../../ports/streams.ts';
import type { Job } from '../job.ts';
import type { AdmissionGate } from './credit.ts';
import type { CommitLedger, Entry } from './ledger.ts';
import type { Slot } from './frontier.ts';

interface Tracked {
  finish(): void;
  abandon(): void;
}

export class InFlightJobs {
  readonly #gate: AdmissionGate;
  readonly #ledger: CommitLedger;
  readonly #spans: BatchSpanPolicy;
  readonly #workerId: string;
  readonly #jobs = new Map<Job, Tracked>();

  constructor(gate: AdmissionGate, ledger: CommitLedger, spans: BatchSpanPolicy, workerId: string) {
    this.#gate = gate;
    this.#ledger = ledger;
    this.#spans = spans;
    this.#workerId = workerId;
  }

  /**
   * Tracks an admitted job (its gate slot is taken now); `outputs` tells, once it finished, what
   * its offset commit carries. The job's span continues the record's trace.
   */
  add(
    job: Job,
    record: SourceRecord,
    slot: Slot<Entry>,
    span: string,
    outputs: (job: Job) => OutRecord[],
  ): void {
    const s = startSpan(
      span,
      SpanKind.CONSUMER,
      {
        'fanout.tweet_id': job.tweetId,
        'fanout.op': job.op,
        'fanout.worker': this.#workerId,
        'messaging.destination.name': record.topic,
        'messaging.kafka.partition': job.partition,
        'messaging.kafka.offset': job.offset.toString(),
        'fanout.resumed': job.resumed,
        ...(job.kind === 'task'
          ? { 'fanout.task.index': job.task.index, 'fanout.task.count': job.task.count }
          : {}),
      },
      { parent: extract(record.headers) },
    );
    const sampler = new SpanSampler(this.#spans);
    job.trace = { span: s, sampler };
    job.traceparent = s.headers().traceparent;
    this.#gate.admit();
    this.#jobs.set(job, {
      finish: () => {
        job.delivery.finishedAt ??= Date.now();
        this.#ledger.finish(slot, outputs(job));
        s.span.setAttributes({
          'fanout.delivered': job.delivery.delivered,
          'fanout.retracted': job.delivery.retracting,
          ...(job.kind === 'tweet' ? { 'fanout.fate': job.fate.kind } : {}),
          ...(job.kind === 'tweet' && job.fate.kind === 'split'
            ? { 'fanout.split.tasks': job.fate.ranges.length }
            : {}),
          ...sampler.attributes('fanout.spans'),
        });
        s.end();
      },
      abandon: () => {
        s.span.setAttribute('fanout.abandoned', true);
        s.end();
      },
    });
  }

  has(job: Job): boolean {
    return this.#jobs.has(job);
  }

  /** The job is done: its outputs go to its ledger slot. False if it was not in flight. */
  finish(job: Job): boolean {
    const t = this.#jobs.get(job);
    if (!t) return false; // already finished, or its partition was given up
    this.#jobs.delete(job);
    t.finish();
    this.#gate.release();
    return true;
  }

  /** Drops a job whose partition was given up (its next owner redoes it). */
  abandon(job: Job): void {
    job.delivery.stop();
    const t = this.#jobs.get(job);
    if (!t) return;
    this.#jobs.delete(job);
    t.abandon();
    this.#gate.release();
  }

  /** Stops the paging of every job in flight. */
  stopAll(): void {
    for (const job of this.#jobs.keys()) job.delivery.stop();
  }

  jobs(): Job[] {
    return [...this.#jobs.keys()];
  }

  get size(): number {
    return this.#jobs.size;
  }
}
