/**
 * cli/telemetry.ts with the real SDK: the metrics endpoint (host and port from the config, the next
 * port when taken), every instrument's Prometheus name in a real scrape, W3C propagators,
 * cassandra-driver instrumented, query spans outside a trace dropped.
 */
import { createServer, type Server } from 'node:net';
import {
  INVALID_SPAN_CONTEXT,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  trace,
} from '@opentelemetry/api';
import { SamplingDecision, type Sampler } from '@opentelemetry/sdk-trace';
import cassandra from 'cassandra-driver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DropOrphanQueries, startTelemetry, type StopTelemetry } from '../../cli/telemetry.ts';
import { loadConfig } from '../../config/index.ts';
import { FanoutError } from '../../lib/errors.ts';
import { createLogger } from '../../lib/log.ts';
import { type InFlightTweetReading, OperatorMetrics } from '../../lib/metrics.ts';
import { Outage } from '../../lib/retry.ts';
import { GraphMetrics } from '../../pipeline/graph/metrics.ts';
import type { CommitPlan } from '../../pipeline/lane/ledger.ts';
import { LaneObserver } from '../../pipeline/lane/observer.ts';
import { FanoutMetrics } from '../../pipeline/metrics.ts';

const listen = (port: number): Promise<Server> =>
  new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen({ host: '127.0.0.1', port }, () => resolve(s));
  });

let blocker: Server;
let stop: StopTelemetry;
const first = 20_000 + Math.floor(Math.random() * 20_000);
const lines: string[] = [];

beforeAll(async () => {
  blocker = await listen(first); // another process on this host holds the first port
  const config = loadConfig({
    env: {},
    sets: [
      `telemetry.prometheusPort=${first}`,
      'telemetry.prometheusHost=127.0.0.1',
      'telemetry.otlpEndpoint=http://127.0.0.1:9', // nothing listens: no span is exported here
    ],
  });
  stop = startTelemetry(
    config,
    'test',
    createLogger('info', 'fanout', (l) => lines.push(l)),
  );
});

afterAll(async () => {
  await stop();
  blocker.close();
});

describe('startTelemetry', () => {
  it('serves /metrics on the next free port and says which', async () => {
    expect(await stop.metricsPort).toBe(first + 1);
    expect(lines.join('\n')).toContain(`metrics on http://127.0.0.1:${first + 1}/metrics`);
    const missing = await fetch(`http://127.0.0.1:${first + 1}/nope`);
    expect(missing.status).toBe(404);
  });

  it('exports every instrument under the Prometheus name the dashboards query', async () => {
    const op = new OperatorMetrics(
      'worker',
      { 'fanout.worker': 'w1' },
      {
        lag: () => [{ topic: 'cdc.fanout.tweets', partition: 3, group: 'fanout-workers', lag: 7 }],
        tweets: () => [
          { tweetId: '42', op: 'insert', remaining: 1234 },
          { tweetId: '43', op: 'insert', remaining: undefined },
        ],
      },
    );
    const fm = new FanoutMetrics('w1', () => ({
      inFlightTweets: 1,
      followersRemaining: 1234,
      consumerLag: 7,
      partitionsRestoring: 0,
    }));
    op.batchWritten(12, 'insert');
    op.cdcCommitted(['1700000000000000'], 1_700_000_000_250);
    op.tweetDelivered(1_700_000_000_000_000n, 'insert', 1_700_000_030_000);
    op.transactionAborted('fenced');
    op.checkpointCommitted(Date.now() - 2_000);
    fm.written(50, 'insert');
    fm.committed(1, [900]);
    const text = await (await fetch(`http://127.0.0.1:${await stop.metricsPort}/metrics`)).text();
    op.close();
    fm.close();
    const sample = (name: string): string | undefined =>
      text.split('\n').find((l) => l.startsWith(name));
    for (const name of [
      'fanout_batch_write_duration_ms_bucket{',
      'fanout_cdc_latency_ms_bucket{',
      'fanout_tweet_latency_ms_bucket{',
      'fanout_transactions_aborted_total{',
      'fanout_cdc_transactions_total{',
      'fanout_checkpoint_age_seconds{',
      'fanout_partition_lag{',
      'fanout_tweet_followers_remaining{',
      'fanout_rows_written_total{',
      'fanout_transactions_total{',
      'fanout_tweet_duration_ms_bucket{',
      'fanout_followers_remaining{',
    ])
      expect(sample(name), name).toBeDefined();
    expect(sample('fanout_partition_lag{')).toMatch(
      /topic="cdc.fanout.tweets".*partition="3".*group="fanout-workers".*\} 7$/,
    );
    expect(sample('fanout_tweet_followers_remaining{')).toMatch(/tweet_id="42".*\} 1234$/);
    expect(text).not.toMatch(/tweet_id="43"/);
    expect(text).toMatch(/fanout_cdc_latency_ms_sum\{[^}]*\} 250\n/);
    expect(text).toMatch(/fanout_tweet_latency_ms_sum\{[^}]*fanout_op="insert"[^}]*\} 30000\n/);
    const age = Number(sample('fanout_checkpoint_age_seconds{')!.split(' ').pop());
    expect(age).toBeGreaterThanOrEqual(2);
    expect(age).toBeLessThan(60);
  });

  it("ends a delivered tweet's series at 0 and keeps it 5 minutes; aborted reads 0 before any abort", async () => {
    let clock = 1_000_000;
    let tweets: InFlightTweetReading[] = [{ tweetId: '77', op: 'insert', remaining: 10 }];
    const op = new OperatorMetrics('cdc', {}, { tweets: () => tweets }, () => clock);
    const line = async (metric: string, label: string): Promise<string | undefined> => {
      const text = await (await fetch(`http://127.0.0.1:${await stop.metricsPort}/metrics`)).text();
      return text
        .split('\n')
        .find(
          (l) =>
            l.startsWith(`${metric}{`) && l.includes('fanout_component="cdc"') && l.includes(label),
        );
    };
    try {
      expect(await line('fanout_tweet_followers_remaining', 'fanout_tweet_id="77"')).toMatch(
        / 10$/,
      );
      expect(await line('fanout_transactions_aborted_total', '')).toMatch(/ 0$/);
      tweets = [];
      expect(await line('fanout_tweet_followers_remaining', 'fanout_tweet_id="77"')).toMatch(/ 0$/);
      clock += 5 * 60_000 + 1;
      expect(
        await line('fanout_tweet_followers_remaining', 'fanout_tweet_id="77"'),
      ).toBeUndefined();
    } finally {
      op.close();
    }
  });

  it("keeps a tweet's insert and its delete, both in flight, as two series, not their sum", async () => {
    let tweets: InFlightTweetReading[] = [
      { tweetId: '88', op: 'insert', remaining: 300 },
      { tweetId: '88', op: 'delete', remaining: 40 },
    ];
    const op = new OperatorMetrics('worker', { 'fanout.worker': 'w88' }, { tweets: () => tweets });
    const series = async (): Promise<string[]> => {
      const text = await (await fetch(`http://127.0.0.1:${await stop.metricsPort}/metrics`)).text();
      return text
        .split('\n')
        .filter((l) => l.startsWith('fanout_tweet_followers_remaining{') && l.includes('"w88"'));
    };
    try {
      const both = await series();
      expect(both).toHaveLength(2);
      expect(both.find((l) => l.includes('fanout_op="insert"'))).toMatch(/tweet_id="88".* 300$/);
      expect(both.find((l) => l.includes('fanout_op="delete"'))).toMatch(/tweet_id="88".* 40$/);
      tweets = [{ tweetId: '88', op: 'delete', remaining: 10 }];
      const after = await series();
      expect(after.find((l) => l.includes('fanout_op="insert"'))).toMatch(/ 0$/);
      expect(after.find((l) => l.includes('fanout_op="delete"'))).toMatch(/ 10$/);
    } finally {
      op.close();
    }
  });

  it('buckets fan-out durations past 10 s, so a 45 s fan-out does not read as 10 s', async () => {
    const fm = new FanoutMetrics('w-duration', () => ({
      inFlightTweets: 0,
      followersRemaining: 0,
      consumerLag: undefined,
      partitionsRestoring: 0,
    }));
    const graph = new GraphMetrics('w-duration-graph');
    try {
      fm.committed(1, [45_000]);
      graph.handled('follow', 20, 45_000);
      const text = await (await fetch(`http://127.0.0.1:${await stop.metricsPort}/metrics`)).text();
      for (const [name, worker] of [
        ['fanout_tweet_duration_ms', 'w-duration'],
        ['fanout_graph_duration_ms', 'w-duration-graph'],
      ] as const) {
        const bucket = (le: string): string | undefined =>
          text
            .split('\n')
            .find(
              (l) =>
                l.startsWith(`${name}_bucket{`) &&
                l.includes(`fanout_worker="${worker}"`) &&
                l.includes(`le="${le}"`),
            );
        expect(bucket('10000'), name).toMatch(/ 0$/);
        expect(bucket('60000'), name).toMatch(/ 1$/);
      }
    } finally {
      fm.close();
    }
  });

  it('counts outage retries by what is waited on, not by the tweet or user an attempt names', async () => {
    const down = new FanoutError('CASSANDRA_UNAVAILABLE', 'no host available', { retriable: true });
    const silent = createLogger('error', 'fanout', () => undefined);
    for (const id of ['11', '12', '13'])
      new Outage(
        { maxAttempts: 0, baseDelayMs: 1, maxDelayMs: 1 },
        { what: `read the author of ${id}`, waitingOn: () => 'retry-test', log: silent },
      ).failed(down);
    const text = await (await fetch(`http://127.0.0.1:${await stop.metricsPort}/metrics`)).text();
    const series = text
      .split('\n')
      .filter((l) => l.startsWith('fanout_outage_retries_total{') && l.includes('retry-test'));
    expect(series).toHaveLength(1);
    expect(series[0]).toMatch(/\} 3$/);
  });

  it("drops a revoked partition's lag series, and a lane's lag once it is unknown or closed", async () => {
    let lag = [
      { topic: 'cdc.fanout.tweets', partition: 0, group: 'g', lag: 5 },
      { topic: 'cdc.fanout.tweets', partition: 1, group: 'g', lag: 3 },
    ];
    let consumerLag: number | undefined = 8;
    const op = new OperatorMetrics('worker', { 'fanout.worker': 'w-revoke' }, { lag: () => lag });
    const fm = new FanoutMetrics('w-revoke', () => ({
      inFlightTweets: 0,
      followersRemaining: 0,
      consumerLag,
      partitionsRestoring: 0,
    }));
    const series = async (): Promise<string[]> =>
      (await (await fetch(`http://127.0.0.1:${await stop.metricsPort}/metrics`)).text())
        .split('\n')
        .filter((l) => /^fanout_(partition|consumer)_lag\{/.test(l) && l.includes('"w-revoke"'))
        .map((l) => `${/partition="(\d)"/.exec(l)?.[1] ?? 'sum'} ${l.split(' ').pop()}`);
    try {
      expect(await series()).toEqual(['0 5', '1 3', 'sum 8']);
      lag = [{ topic: 'cdc.fanout.tweets', partition: 1, group: 'g', lag: 2 }]; // 0 revoked
      consumerLag = undefined; // e.g. no partition left with a known end
      expect(await series()).toEqual(['1 2']);
    } finally {
      op.close();
      fm.close();
    }
    expect(await series()).toEqual([]);
  });

  it('reads the checkpoint age from the last commit, one of small tweets (offsets only) too', async () => {
    const observer = new LaneObserver(loadConfig({ env: {} }), 'w-age', {
      jobs: () => [],
      lag: () => [],
      restoring: () => 0,
    });
    const plan: CommitPlan = {
      tx: { offsets: [{ partition: 0, offset: 8n }], records: [] },
      empty: false,
      committed: [],
      apply: () => undefined,
    };
    const now = Date.now();
    const span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT); // nothing for shutdown to export
    try {
      observer.committed(plan, { span, startMs: now - 3_000, endMs: now - 2_000 });
      const text = await (await fetch(`http://127.0.0.1:${await stop.metricsPort}/metrics`)).text();
      const age = text
        .split('\n')
        .find((l) => l.startsWith('fanout_checkpoint_age_seconds{') && l.includes('"w-age"'));
      expect(age).toBeDefined();
      expect(Number(age!.split(' ').pop())).toBeGreaterThanOrEqual(2);
      expect(Number(age!.split(' ').pop())).toBeLessThan(60);
    } finally {
      observer.close();
    }
  });

  it('propagates W3C trace context and baggage', () => {
    expect(propagation.fields()).toEqual(['traceparent', 'tracestate', 'baggage']);
  });

  it('instruments cassandra-driver, although it was imported before the SDK started', () => {
    const execute = cassandra.Client.prototype as unknown as Record<
      string,
      { __wrapped?: boolean }
    >;
    expect(execute['_execute']?.__wrapped).toBe(true);
  });

  it('shuts down once: a second call returns the same promise', () => {
    expect(stop()).toBe(stop());
  });
});

describe('DropOrphanQueries', () => {
  const inner: Sampler = {
    shouldSample: () => ({ decision: SamplingDecision.RECORD_AND_SAMPLED }),
    toString: () => 'inner',
  };
  const sampler = new DropOrphanQueries(inner);
  const parent = trace.setSpanContext(ROOT_CONTEXT, {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    traceFlags: 1,
  });
  const decide = (ctx: typeof ROOT_CONTEXT, name: string): SamplingDecision =>
    sampler.shouldSample(ctx, 'x', name, SpanKind.CLIENT, {}, []).decision;

  it('drops a driver query with no parent, keeps one inside a trace and every other span', () => {
    expect(decide(ROOT_CONTEXT, 'cassandra-driver.execute')).toBe(SamplingDecision.NOT_RECORD);
    expect(decide(parent, 'cassandra-driver.batch')).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    expect(decide(ROOT_CONTEXT, 'fanout.tweet')).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    expect(sampler.toString()).toBe('DropOrphanQueries{inner}');
  });
});
