/**
 * What a lane reports about itself: its counters and gauges (pipeline/metrics.ts), the operator's
 * histograms and per-partition readings (lib/metrics.ts), and the commit of each job in the job's
 * own trace. The lane tells it what happened; it never changes the lane's state.
 */
import type { Context } from '@opentelemetry/api';
import type { Config } from '../../config/index.ts';
import {
  type InFlightTweetReading,
  OperatorMetrics,
  type PartitionLagReading,
} from '../../lib/metrics.ts';
import { linkTo, SpanKind, tracer } from '../../lib/telemetry.ts';
import type { WriteBatch } from '../fanout/fanout.ts';
import { completesHere, type Job, writeOp } from '../job.ts';
import { FanoutMetrics } from '../metrics.ts';
import type { SplitCompleted } from './handler.ts';
import type { CommittedTx } from './committer.ts';
import type { CommitPlan } from './ledger.ts';

/** What the observer reads from its lane at each scrape. */
export interface LaneReadings {
  readonly jobs: () => readonly Job[];
  readonly lag: () => PartitionLagReading[];
  readonly restoring: () => number;
}

export class LaneObserver {
  readonly metrics: FanoutMetrics;
  readonly #operator: OperatorMetrics;
  readonly #topics: Config['topics'];

  readonly #readings: LaneReadings;

  constructor(config: Config, name: string, readings: LaneReadings) {
    this.#topics = config.topics;
    this.#readings = readings;
    this.metrics = new FanoutMetrics(name, () => {
      const jobs = readings.jobs();
      return {
        inFlightTweets: jobs.length,
        followersRemaining: jobs.reduce((n, j) => n + (j.delivery.remaining ?? 0), 0),
        consumerLag: this.consumerLag(),
        partitionsRestoring: readings.restoring(),
      };
    });
    this.#operator = new OperatorMetrics(
      'worker',
      { 'fanout.worker': name },
      { lag: readings.lag, tweets: () => remainingByTweet(readings.jobs()) },
    );
  }

  /** Records not yet committed, summed over the lane's partitions (undefined: not known yet). */
  consumerLag(): number | undefined {
    const lag = this.#readings.lag();
    return lag.length === 0 ? undefined : lag.reduce((n, r) => n + r.lag, 0);
  }

  /** A batch was written. */
  written(batch: WriteBatch): void {
    const ops = new Set(batch.segments.map((s) => writeOp(s.job)));
    const op = ops.size === 1 ? [...ops][0]! : 'mixed';
    this.metrics.written(batch.rows.length, op);
    if (batch.writeMs !== undefined) this.#operator.batchWritten(batch.writeMs, op);
  }

  /** A job's last row is written. */
  finished(job: Job): void {
    if (completesHere(job)) this.#operator.tweetDelivered(job.writeTime, job.op);
  }

  /**
   * A split tweet completed here (its last task-done counted; its rows were written by whichever
   * workers took its tasks): the one latency and duration of the tweet, as a whole tweet's are.
   */
  splitCompleted(c: SplitCompleted): void {
    this.metrics.fannedOut(c.finishedAt - c.startedAt);
    if (c.writeTime !== null) this.#operator.tweetDelivered(c.writeTime, c.op, c.finishedAt);
  }

  /** A transaction failed and will be tried again. */
  transactionRetried(): void {
    this.metrics.retried('commit');
    this.#operator.transactionAborted('retry');
  }

  /** Where a transaction's span hangs: in the trace of the first job it completes. */
  txParent(plan: CommitPlan): Context | undefined {
    return plan.committed.find((e) => e.job?.trace)?.job?.trace?.span.context;
  }

  /** A transaction committed; returns the tweets it completed here (whole ones). */
  committed(plan: CommitPlan, tx: CommittedTx): Job[] {
    // Tweets completed: whole ones with their own offset, split ones where their last task-done
    // was counted (the tasks lane).
    // (A follow's or unfollow's completion, keyed `<author>/<follower>`, is not a tweet's.)
    const completions = plan.tx.records.filter(
      (r) => r.topic === this.#topics.completed && !r.key.includes('/'),
    ).length;
    const done = plan.committed.flatMap((e) => (e.job && completesHere(e.job) ? [e.job] : []));
    this.metrics.committed(
      completions,
      done.map((j) => (j.delivery.finishedAt ?? Date.now()) - j.startedAt),
    );
    // Every commit is one (offsets, and the cursors due): small tweets write no cursor, and a
    // worker taking only those commits no checkpoint record for hours while its commits land.
    this.#operator.checkpointCommitted(tx.endMs);
    // Each job whose offset it committed shows the transaction in its own trace.
    const link = linkTo(tx.span);
    const parent = this.txParent(plan);
    for (const e of plan.committed) {
      const trace = e.job?.trace;
      if (!trace || trace.span.context === parent) continue;
      tracer
        .startSpan(
          'fanout.commit',
          { kind: SpanKind.PRODUCER, startTime: tx.startMs, ...(link ? { links: [link] } : {}) },
          trace.span.context,
        )
        .end(tx.endMs);
    }
    return done;
  }

  close(): void {
    this.metrics.close();
    this.#operator.close();
  }
}

/**
 * Followers still to reach per change in flight: a tweet's insert and its delete apart, the tasks
 * of one change here added up.
 */
function remainingByTweet(jobs: readonly Job[]): InFlightTweetReading[] {
  const byChange = new Map<string, InFlightTweetReading>();
  for (const j of jobs) {
    const r = j.delivery.remaining;
    if (r === null) continue;
    const key = `${j.tweetId} ${j.op}`;
    const sum = byChange.get(key)?.remaining ?? 0;
    byChange.set(key, { tweetId: j.tweetId, op: j.op, remaining: sum + r });
  }
  return [...byChange.values()];
}
