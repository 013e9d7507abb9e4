/**
 * The worker's OpenTelemetry instruments (meter `fanout`; only @opentelemetry/api here, the entry
 * point starts the SDK), mirrored in plain totals for `Worker.status()`.
 */
import {
  metrics,
  type Attributes,
  type BatchObservableCallback,
  type Observable,
} from '@opentelemetry/api';
import { CONSUMER_LAG, LATENCY_BUCKETS_MS, reportCurrent } from '../lib/metrics.ts';

/** Point-in-time readings for the observable gauges. */
export interface GaugeReadings {
  readonly inFlightTweets: number;
  /** Sum over in-flight tweets whose follower count is known. */
  readonly followersRemaining: number;
  /** High watermark minus committed position, summed over assigned partitions; undefined if unknown. */
  readonly consumerLag: number | undefined;
  /** Partitions assigned and still being restored (see WorkerStatus.restoring). */
  readonly partitionsRestoring: number;
}

export interface Totals {
  rowsWritten: number;
  batchesWritten: number;
  retries: number;
  deadLetters: number;
  tweetsCompleted: number;
  transactions: number;
}

export class FanoutMetrics {
  readonly totals: Totals = {
    rowsWritten: 0,
    batchesWritten: 0,
    retries: 0,
    deadLetters: 0,
    tweetsCompleted: 0,
    transactions: 0,
  };
  readonly #attrs: Attributes;
  readonly #meter = metrics.getMeter('fanout');
  // Observed from the totals at each collection, not added per batch: with the SDK on, an add
  // hashes its attributes (10,000 batches per 500k fan-out: ~0.2 CPU-s, issue #16).
  readonly #rows = this.#meter.createObservableCounter('fanout_rows_written', {
    description: 'Timeline rows written (inserted or deleted)',
  });
  readonly #batches = this.#meter.createObservableCounter('fanout_batches_written', {
    description: 'Timeline write batches completed',
  });
  readonly #rowsByOp = new Map<'insert' | 'delete' | 'mixed', number>();
  readonly #retries = this.#meter.createCounter('fanout_retries', {
    description: 'Retried store calls and transactions',
  });
  readonly #dead = this.#meter.createCounter('fanout_dead_letters', {
    description: 'Records sent to the dead-letter topic',
  });
  readonly #completed = this.#meter.createCounter('fanout_tweets_completed', {
    description: 'Tweets fully fanned out and committed',
  });
  readonly #transactions = this.#meter.createCounter('fanout_transactions', {
    description: 'Kafka transactions committed',
  });
  readonly #copies = this.#meter.createCounter('fanout_replica_copies_skipped', {
    description: "Change events skipped as another replica's copy of a write already claimed",
  });
  readonly #retractions = this.#meter.createCounter('fanout_retractions', {
    description:
      'Inserts (or tasks of one) that took their rows back: the tweet was deleted while they were delivered',
  });
  readonly #duration = this.#meter.createHistogram('fanout_tweet_duration_ms', {
    description: 'Start to finish of one fan-out',
    unit: 'ms',
    advice: { explicitBucketBoundaries: LATENCY_BUCKETS_MS },
  });
  readonly #inFlight = this.#meter.createObservableGauge('fanout_tweets_in_flight', {
    description: 'Tweets being fanned out',
  });
  readonly #remaining = this.#meter.createObservableGauge('fanout_followers_remaining', {
    description: 'Followers of in-flight tweets not delivered yet',
  });
  readonly #restoring = this.#meter.createObservableGauge('fanout_partitions_restoring', {
    description:
      "Partitions assigned and still being restored (a restore waits out a dead worker's open transaction)",
  });
  readonly #callback: BatchObservableCallback;
  /** fanout_consumer_lag: reported as it is now (lib/metrics.ts), not its last known value. */
  readonly #unreportLag: () => void;

  constructor(workerId: string, read: () => GaugeReadings) {
    this.#attrs = { 'fanout.worker': workerId };
    this.#callback = (result) => {
      const r = read();
      result.observe(this.#inFlight, r.inFlightTweets, this.#attrs);
      result.observe(this.#remaining, r.followersRemaining, this.#attrs);
      result.observe(this.#restoring, r.partitionsRestoring, this.#attrs);
      for (const [op, rows] of this.#rowsByOp)
        result.observe(this.#rows, rows, { ...this.#attrs, 'fanout.op': op });
      result.observe(this.#batches, this.totals.batchesWritten, this.#attrs);
    };
    // Counted from zero: a clean run shows a 0 series (a panel with data), not none at all.
    for (const counter of [this.#retries, this.#dead, this.#copies, this.#retractions])
      counter.add(0, this.#attrs);
    this.#meter.addBatchObservableCallback(this.#callback, this.#gauges());
    this.#unreportLag = reportCurrent(CONSUMER_LAG, () => {
      const lag = read().consumerLag;
      return lag === undefined ? [] : [{ attributes: this.#attrs, value: lag }];
    });
  }

  written(rows: number, op: 'insert' | 'delete' | 'mixed'): void {
    this.totals.rowsWritten += rows;
    this.totals.batchesWritten++;
    this.#rowsByOp.set(op, (this.#rowsByOp.get(op) ?? 0) + rows);
  }

  retried(what: 'store' | 'commit'): void {
    this.totals.retries++;
    this.#retries.add(1, { ...this.#attrs, 'fanout.retry': what });
  }

  copySkipped(): void {
    this.#copies.add(1, this.#attrs);
  }

  retracted(): void {
    this.#retractions.add(1, this.#attrs);
  }

  deadLettered(code: string): void {
    this.totals.deadLetters++;
    this.#dead.add(1, { ...this.#attrs, 'fanout.reason': code });
  }

  /** A transaction committed, completing `count` tweets. */
  committed(count: number, durationsMs: readonly number[]): void {
    this.totals.tweetsCompleted += count;
    this.totals.transactions++;
    this.#transactions.add(1, this.#attrs);
    if (count > 0) this.#completed.add(count, this.#attrs);
    for (const d of durationsMs) this.#duration.record(d, this.#attrs);
  }

  /** A fan-out completed outside a commit of its own job (a split one's last task counted). */
  fannedOut(durationMs: number): void {
    this.#duration.record(durationMs, this.#attrs);
  }

  close(): void {
    this.#meter.removeBatchObservableCallback(this.#callback, this.#gauges());
    this.#unreportLag();
  }

  #gauges(): Observable[] {
    return [this.#inFlight, this.#remaining, this.#restoring, this.#rows, this.#batches];
  }
}
