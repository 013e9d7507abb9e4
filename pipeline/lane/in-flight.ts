/**
 * The jobs a lane has in flight: each holds a slot of the shared admission gate and a span from
 * admission to finish. Finishing a job hands its outputs to its ledger slot (they go out with its
 * offset commit); abandoning one (its partition was given up) drops it.
 */
import { contextFromHeaders, SpanKind, tracer, traceparentOf } from '../../lib/telemetry.ts';
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
  readonly #jobs = new Map<Job, Tracked>();

  constructor(gate: AdmissionGate, ledger: CommitLedger) {
    this.#gate = gate;
    this.#ledger = ledger;
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
    const s = tracer.startSpan(
      span,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          'fanout.tweet_id': job.tweetId,
          'fanout.op': job.op,
          'messaging.kafka.partition': job.partition,
          'messaging.kafka.offset': job.offset.toString(),
          'fanout.resumed': job.resumed,
          ...(job.kind === 'task'
            ? { 'fanout.task.index': job.task.index, 'fanout.task.count': job.task.count }
            : {}),
        },
      },
      contextFromHeaders(record.headers),
    );
    job.traceparent = traceparentOf(s);
    this.#gate.admit();
    this.#jobs.set(job, {
      finish: () => {
        job.delivery.finishedAt ??= Date.now();
        this.#ledger.finish(slot, outputs(job));
        s.setAttribute('fanout.delivered', job.delivery.delivered);
        if (job.kind === 'tweet' && job.fate.kind === 'split')
          s.setAttribute('fanout.split.tasks', job.fate.ranges.length);
        s.end();
      },
      abandon: () => s.end(),
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
