/**
 * A metrics-producing process for test/grafana/promql.int.test.ts: the SDK as the CLI starts it,
 * on the first of the product's metrics ports (config/ports.ts, FANOUT_PORT_OFFSET honoured: the
 * local Prometheus scrapes those), with every instrument the dashboards query registered and fed:
 * lib/metrics.ts, pipeline/metrics.ts and the CDC connector's cdc_raw gauge (a connector that is
 * never started). Prints `port <n>`, then records until SIGTERM.
 */
import { startTelemetry } from '../../../cli/telemetry.ts';
import { loadConfig } from '../../../config/index.ts';
import { servicePorts } from '../../../config/ports.ts';
import { CdcConnector } from '../../../connectors/cdc/connector.ts';
import { createLogger } from '../../../lib/log.ts';
import { OperatorMetrics } from '../../../lib/metrics.ts';
import { FanoutMetrics } from '../../../pipeline/metrics.ts';

const offset = Number(process.argv[2] ?? '0');
const first = servicePorts(offset).productMetrics[0]!;
const config = loadConfig({
  env: {},
  sets: [
    `telemetry.prometheusPort=${first}`,
    'telemetry.otlpEndpoint=http://127.0.0.1:9',
    'telemetry.serviceName=fanout-promql-test',
  ],
});
const log = createLogger('warn');
const stop = startTelemetry(config, 'metrics');
const port = await stop.metricsPort;
if (port === undefined) throw new Error(`no free metrics port from ${first}`);

let remaining = 500_000;
const op = new OperatorMetrics(
  'worker',
  { 'fanout.worker': 'promql' },
  {
    lag: () => [
      { topic: config.topics.tweetsCdc, partition: 0, group: config.pipeline.groupId, lag: 3 },
      {
        topic: config.topics.tasks,
        partition: 1,
        group: `${config.pipeline.groupId}.tasks`,
        lag: 1,
      },
    ],
    tweets: () => [{ tweetId: '4242', remaining }],
  },
);
const fm = new FanoutMetrics('promql', () => ({
  inFlightTweets: 1,
  followersRemaining: remaining,
  consumerLag: 3,
  partitionsRestoring: 0,
}));
// Only its constructor runs: it registers the cdc_raw gauge and touches nothing else.
new CdcConnector({ config, kafka: {}, admin: {} as never, cassandra: {} as never, log });

const tick = (): void => {
  const now = Date.now();
  remaining = Math.max(0, remaining - 5_000);
  op.batchWritten(5 + (now % 20), 'insert');
  op.cdcCommitted([BigInt(now - 300) * 1000n], now);
  op.tweetDelivered(BigInt(now - 8_000) * 1000n, 'insert', now);
  op.transactionAborted('fenced');
  op.checkpointCommitted(now - 1_000);
  fm.written(50, 'insert');
  fm.retried('store');
  fm.deadLettered('undecodable');
  fm.copySkipped();
  fm.retracted();
  fm.committed(1, [900 + (now % 100)]);
};
tick();
const timer = setInterval(tick, 250);
process.on('SIGTERM', () => {
  clearInterval(timer);
  op.close();
  fm.close();
  void stop().then(() => process.exit(0));
});
console.log(`port ${port}`);
