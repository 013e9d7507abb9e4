/**
 * The operator's instruments of issue #16 that pipeline/metrics.ts (FanoutMetrics) and the CDC
 * connector do not already define: latency histograms (batch write, CDC, write time to last
 * timeline row), aborted transactions, checkpoint age, consumer lag per partition of both topics,
 * followers remaining per in-flight tweet. Meter `fanout`, @opentelemetry/api only (the entry
 * point starts the SDK; without it every call is a no-op). Prometheus names are in each
 * instrument's comment; attributes become labels with dots turned into underscores.
 */
import {
  metrics,
  type Attributes,
  type BatchObservableCallback,
  type Observable,
} from '@opentelemetry/api';

/**
 * Milliseconds: a batch write takes a few, a 500k fan-out tens of seconds. Every `_ms` histogram
 * takes these: the SDK's default buckets end at 10 s, so any p99 above it read as 10 s.
 */
export const LATENCY_BUCKETS_MS = [
  1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 30_000, 60_000, 120_000,
  300_000, 600_000,
];

/** How long a delivered tweet's followers-remaining series stays, at 0. */
const KEEP_FINISHED_MS = 5 * 60_000;

/** Where one consumer group stands on one partition. */
export interface PartitionLagReading {
  readonly topic: string;
  readonly partition: number;
  readonly group: string;
  /** Records (offsets) behind the partition's end. */
  readonly lag: number;
}

/** One tweet being fanned out by this process. */
export interface InFlightTweetReading {
  readonly tweetId: string;
  /** The change in flight: a tweet's insert and its delete can both be (a series each). */
  readonly op: 'insert' | 'delete';
  /** Followers not delivered yet; undefined while the count is unknown. */
  readonly remaining: number | undefined;
}

/** What the gauges read at each scrape; every reader is optional. */
export interface OperatorReadings {
  readonly lag?: () => readonly PartitionLagReading[];
  readonly tweets?: () => readonly InFlightTweetReading[];
}

/** One point of a series this module exports outside the SDK's instruments. */
export interface SeriesPoint {
  readonly attributes: Attributes;
  readonly value: number;
}

/** A gauge exported outside the SDK's instruments: only the points its sources report now. */
export interface CurrentGauge {
  readonly name: string;
  readonly description: string;
}

/**
 * Gauges whose label sets come and go are not API instruments: the SDK keeps every attribute set
 * of a cumulative instrument, observable ones included, for the life of the process at its last
 * value. A worker sees millions of tweets, and a partition revoked (or a lane closed) would go on
 * reading its last lag forever, added to its new owner's on the dashboard. cli/telemetry.ts
 * exports these through a metric producer that reports only the current points at each scrape.
 */
export const TWEET_FOLLOWERS_REMAINING: CurrentGauge = {
  name: 'fanout_tweet_followers_remaining',
  description: 'Followers of one in-flight tweet not delivered yet',
};

/** fanout_partition_lag{topic,partition,group}: per partition this process has now. */
export const PARTITION_LAG: CurrentGauge = {
  name: 'fanout_partition_lag',
  description:
    'Records a consumer group is behind the end of one partition (CDC and work topics); commit markers not counted once read to the end',
};

/** fanout_consumer_lag: a lane's partitions now, summed (none while it has no known lag). */
export const CONSUMER_LAG: CurrentGauge = {
  name: 'fanout_consumer_lag',
  description: 'Records of the CDC topic not yet committed',
};

/**
 * fanout_timeline_trims_queued: users waiting for a sampled timeline trim in a worker (writes wait
 * once 10,000 are queued). A level that keeps rising means the trims fall behind the writes.
 */
export const TIMELINE_TRIMS_QUEUED: CurrentGauge = {
  name: 'fanout_timeline_trims_queued',
  description:
    'Users queued for a sampled timeline trim (writes wait at 10,000): rising means trims fall behind the writes',
};

const currentSources = new Map<CurrentGauge, Set<() => SeriesPoint[]>>();

/** Adds `read` to the sources of `gauge`; returns its removal (a closed reader reports nothing). */
export function reportCurrent(gauge: CurrentGauge, read: () => SeriesPoint[]): () => void {
  let sources = currentSources.get(gauge);
  if (!sources) currentSources.set(gauge, (sources = new Set()));
  sources.add(read);
  return () => sources.delete(read);
}

/** Every {@link CurrentGauge} with the points its sources report now. */
export function currentGauges(): { gauge: CurrentGauge; points: SeriesPoint[] }[] {
  return [...currentSources].map(([gauge, sources]) => ({
    gauge,
    points: [...sources].flatMap((read) => read()),
  }));
}

/** A CQL write time (microseconds since the epoch, as CDC events carry it) in milliseconds. */
export function microsToMs(micros: string | bigint | number): number {
  return typeof micros === 'number' ? micros / 1000 : Number(BigInt(micros) / 1000n);
}

export class OperatorMetrics {
  readonly #attrs: Attributes;
  readonly #now: () => number;
  readonly #meter = metrics.getMeter('fanout');
  /** fanout_batch_write_duration_ms_bucket: one timeline write batch, first try to last. */
  readonly #batch = this.#meter.createHistogram('fanout_batch_write_duration_ms', {
    description: 'Duration of one timeline write batch, retries included',
    unit: 'ms',
    advice: { explicitBucketBoundaries: LATENCY_BUCKETS_MS },
  });
  /** fanout_cdc_latency_ms_bucket: source write time to the event committed in Kafka. */
  readonly #cdc = this.#meter.createHistogram('fanout_cdc_latency_ms', {
    description: "Write time of a change (Cassandra's) to its event committed in Kafka",
    unit: 'ms',
    advice: { explicitBucketBoundaries: LATENCY_BUCKETS_MS },
  });
  /** fanout_tweet_latency_ms_bucket: the tweet's write time to its last timeline row. */
  readonly #endToEnd = this.#meter.createHistogram('fanout_tweet_latency_ms', {
    description: "A tweet's write time to its last follower's timeline row written",
    unit: 'ms',
    advice: { explicitBucketBoundaries: LATENCY_BUCKETS_MS },
  });
  /** fanout_cdc_transactions_total: the connector's committed transactions (the workers': fanout_transactions_total). */
  readonly #cdcTransactions = this.#meter.createCounter('fanout_cdc_transactions', {
    description: 'Kafka transactions of change events committed by the CDC connector',
  });
  /** fanout_transactions_aborted_total (committed ones: fanout_transactions_total). */
  readonly #aborted = this.#meter.createCounter('fanout_transactions_aborted', {
    description: 'Kafka transactions aborted (their work is redone)',
  });
  /** fanout_checkpoint_age_seconds: since this process last committed a transaction of progress. */
  readonly #checkpointAge = this.#meter.createObservableGauge('fanout_checkpoint_age_seconds', {
    description:
      'Seconds since the last committed checkpoint (offsets and cursors) of this process',
    unit: 's',
  });
  readonly #callback: BatchObservableCallback;
  readonly #unreport: Array<() => void>;
  #lastCheckpointAt: number | undefined;
  /** Tweets in the last reading. */
  readonly #inFlight = new Set<string>();
  /** Tweets delivered since, and when they left the readings. */
  readonly #finished = new Map<string, number>();

  /**
   * @param component `worker`, `cdc` or `run`: the `fanout_component` label.
   * @param attributes more labels of every series (e.g. `{ 'fanout.worker': id }`).
   */
  constructor(
    component: string,
    attributes: Attributes = {},
    readings: OperatorReadings = {},
    now: () => number = Date.now,
  ) {
    this.#attrs = { ...attributes, 'fanout.component': component };
    this.#now = now;
    this.#callback = (result) => {
      if (this.#lastCheckpointAt !== undefined)
        result.observe(
          this.#checkpointAge,
          (this.#now() - this.#lastCheckpointAt) / 1000,
          this.#attrs,
        );
    };
    this.#meter.addBatchObservableCallback(this.#callback, this.#gauges());
    this.#unreport = [
      reportCurrent(PARTITION_LAG, () =>
        (readings.lag?.() ?? []).map((l) => ({
          attributes: {
            ...this.#attrs,
            topic: l.topic,
            partition: String(l.partition),
            group: l.group,
          },
          value: l.lag,
        })),
      ),
      reportCurrent(TWEET_FOLLOWERS_REMAINING, () =>
        this.#followersRemaining(readings.tweets?.() ?? []),
      ),
    ];
    // Counters export from their first add: zero now, so "none yet" reads 0, not "no data".
    this.#aborted.add(0, this.#attrs);
  }

  /** A timeline batch was written (or failed for good) after `durationMs`. */
  batchWritten(durationMs: number, op: 'insert' | 'delete' | 'mixed'): void {
    this.#batch.record(durationMs, { ...this.#attrs, 'fanout.op': op });
  }

  /**
   * The connector committed a Kafka transaction of change events at `committedAtMs` (default now):
   * counts it and records each event's CDC latency.
   */
  cdcCommitted(
    writeTimestampsMicros: Iterable<string | bigint | number>,
    committedAtMs = this.#now(),
  ): void {
    this.#cdcTransactions.add(1, this.#attrs);
    for (const ts of writeTimestampsMicros)
      this.#cdc.record(Math.max(0, committedAtMs - microsToMs(ts)), this.#attrs);
  }

  /** A tweet's last timeline row was written at `lastRowAtMs` (default now). */
  tweetDelivered(
    writeTimestampMicros: string | bigint | number,
    op: 'insert' | 'delete',
    lastRowAtMs = this.#now(),
  ): void {
    this.#endToEnd.record(Math.max(0, lastRowAtMs - microsToMs(writeTimestampMicros)), {
      ...this.#attrs,
      'fanout.op': op,
    });
  }

  /** A Kafka transaction was aborted; `reason` is a short code (e.g. `fenced`, `retry`). */
  transactionAborted(reason: string): void {
    this.#aborted.add(1, { ...this.#attrs, 'fanout.reason': reason });
  }

  /** A checkpoint (offsets, cursors) was committed at `atMs` (default now). */
  checkpointCommitted(atMs = this.#now()): void {
    this.#lastCheckpointAt = atMs;
  }

  close(): void {
    this.#meter.removeBatchObservableCallback(this.#callback, this.#gauges());
    for (const unreport of this.#unreport) unreport();
  }

  #gauges(): Observable[] {
    return [this.#checkpointAge];
  }

  /**
   * The in-flight tweets' points; a tweet gone from the readings was delivered: its series ends
   * at 0 (not at its last reading) and stays a while, so a look after the run still finds it.
   */
  #followersRemaining(tweets: readonly InFlightTweetReading[]): SeriesPoint[] {
    const now = this.#now();
    const points: SeriesPoint[] = [];
    const current = new Set<string>();
    const point = (key: string, value: number): SeriesPoint => {
      const at = key.lastIndexOf(' '); // ids may hold spaces, ops do not
      const [id, op] = [key.slice(0, at), key.slice(at + 1)];
      return { attributes: { ...this.#attrs, 'fanout.tweet_id': id, 'fanout.op': op }, value };
    };
    for (const t of tweets) {
      const key = `${t.tweetId} ${t.op}`;
      current.add(key);
      this.#finished.delete(key);
      this.#inFlight.add(key);
      if (t.remaining !== undefined) points.push(point(key, t.remaining));
    }
    for (const id of this.#inFlight)
      if (!current.has(id)) {
        this.#inFlight.delete(id);
        this.#finished.set(id, now);
      }
    for (const [id, at] of this.#finished) {
      if (now - at > KEEP_FINISHED_MS) this.#finished.delete(id);
      else points.push(point(id, 0));
    }
    return points;
  }
}
