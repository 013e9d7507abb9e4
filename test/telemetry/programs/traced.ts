/**
 * A small traced program for test/telemetry/jaeger.int.test.ts, started like the CLI starts its
 * commands: cassandra-driver imported first, then the SDK (cli/telemetry.ts). It makes one trace
 * for tweet <argv[3]>: a producer span whose headers cross a pretend Kafka hop (Buffers) to a
 * long-lived fan-out span, under it three sampled batches (every 2nd: batches 0 and 2 get spans)
 * each running one CQL query, plus one query outside any trace (which must not be exported).
 * argv[2]: the config as JSON `--set` pairs.
 */
import cassandra from 'cassandra-driver';
import { startTelemetry } from '../../../cli/telemetry.ts';
import { loadConfig } from '../../../config/index.ts';
import { SpanSampler } from '../../../lib/span-sampler.ts';
import { extract, inject, SpanKind, startSpan, traced } from '../../../lib/telemetry.ts';

const [sets, tweetId] = [JSON.parse(process.argv[2] ?? '[]') as string[], process.argv[3] ?? ''];
const config = loadConfig({ env: {}, sets });
const stop = startTelemetry(config, 'probe');
const client = new cassandra.Client({
  contactPoints: [...config.cassandra.contactPoints],
  localDataCenter: config.cassandra.localDataCenter,
});
await client.connect();
await client.execute('SELECT release_version FROM system.local'); // outside any trace

const sampler = new SpanSampler({ mode: 'sampled', every: 2, slowMs: 60_000 });
await traced('probe.produce', SpanKind.PRODUCER, { 'fanout.tweet_id': tweetId }, async () => {
  const headers = inject({});
  const received = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, Buffer.from(v)]));
  const fanout = startSpan(
    'probe.fanout',
    SpanKind.CONSUMER,
    { 'fanout.tweet_id': tweetId },
    { parent: extract(received) },
  );
  for (let i = 0; i < 3; i++)
    await fanout.run(() =>
      sampler.run('probe.batch', SpanKind.CLIENT, { 'fanout.batch': i }, () =>
        client.execute('SELECT cluster_name FROM system.local'),
      ),
    );
  fanout.span.setAttributes(sampler.attributes('fanout.batches'));
  fanout.end();
});
await client.shutdown();
await stop();
console.log('done');
