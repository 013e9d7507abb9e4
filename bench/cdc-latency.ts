/**
 * CDC latency benchmark (issue #3): CQL write acknowledged → change event committed in Kafka and
 * delivered to a read_committed consumer, at a steady write rate (commitlog_sync_period: see
 * services/conf/cassandra/cassandra.yaml; the result records the running node's).
 *
 *   ./fanout services up && node bench/cdc-latency.ts [--writes 2000] [--rate 100]
 *
 * Prints p50 / p90 / p99 / max and writes bench-results/cdc-latency.json. Both clocks are this
 * process's (performance.now), so no clock skew enters the numbers.
 */
import '../connectors/kafka/threadpool.ts'; // first: before anything uses libuv's thread pool
import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import cassandra from 'cassandra-driver';
import { loadConfig } from '../config/index.ts';
import { connectCassandra } from '../connectors/cassandra/client.ts';
import { applySchema } from '../connectors/cassandra/schema.ts';
import { CdcConnector } from '../connectors/cdc/connector.ts';
import { connectAdmin } from '../connectors/kafka/admin.ts';
import { createKafka } from '../connectors/kafka/client.ts';
import { createLogger } from '../lib/log.ts';

const { values } = parseArgs({
  options: {
    writes: { type: 'string', default: '2000' },
    rate: { type: 'string', default: '100' },
  },
});
const writes = Number(values.writes);
const rate = Number(values.rate);
const id = `bench_${Date.now().toString(36)}`;
const config = loadConfig({
  sets: [
    `cassandra.keyspace=${id}`,
    `topics.cdcPrefix=${id}`,
    `topics.cdcOffsets=${id}.offsets`,
    `topics.deadLetter=${id}.dlq`,
    'cdc.startFrom=latest',
    'topics.cdcPartitions=3',
  ],
});
const log = createLogger('warn');
const client = await connectCassandra(config);
await applySchema(client, config);
const kafka = createKafka(config, log);
const admin = await connectAdmin(kafka, config);
const connector = new CdcConnector({ config, kafka, admin, cassandra: client, log });
const running = connector.start();
await connector.ready;

const acked = new Map<string, number>();
const latencies: number[] = [];
const consumer = kafka.consumer({
  'group.id': `${id}-reader`,
  'auto.offset.reset': 'earliest',
  'isolation.level': 'read_committed',
  'fetch.wait.max.ms': 10,
} as never);
await consumer.connect();
await consumer.subscribe({ topics: [config.topics.tweetsCdc] });
let seenAll: () => void = () => undefined;
const allSeen = new Promise<void>((r) => {
  seenAll = r;
});
await consumer.run({
  eachMessage: async ({ message }) => {
    const now = performance.now();
    const e = JSON.parse(String(message.value)) as { key: { tweet_id: string } };
    const t = acked.get(e.key.tweet_id);
    if (t !== undefined) latencies.push(now - t);
    if (latencies.length === writes) seenAll();
  },
});

const insert = `INSERT INTO ${id}.tweets (tweet_id, author_id, body, created_at) VALUES (?, ?, ?, ?)`;
const start = performance.now();
const pending: Promise<void>[] = [];
for (let i = 0; i < writes; i++) {
  const due = start + (i * 1000) / rate;
  const wait = due - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait)); // pacing the steady rate
  const tid = cassandra.types.TimeUuid.now().toString();
  pending.push(
    client
      .execute(insert, [tid, 1n, `latency probe ${i}`, new Date()], { prepare: true })
      .then(() => {
        acked.set(tid, performance.now());
      }),
  );
}
await Promise.all(pending);
const deadline = setTimeout(() => {
  console.error(`only ${latencies.length}/${writes} events seen within 60 s`);
  process.exit(1);
}, 60_000);
await allSeen;
clearTimeout(deadline);

latencies.sort((a, b) => a - b);
const pct = (p: number): number =>
  Math.round(latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]!);
const result = {
  writes,
  ratePerSecond: rate,
  commitlogSyncPeriod: await syncPeriod(),
  p50Ms: pct(50),
  p90Ms: pct(90),
  p99Ms: pct(99),
  maxMs: Math.round(latencies.at(-1)!),
  minMs: Math.round(latencies[0]!),
};
console.log('CQL write ack -> event delivered (read_committed)');
console.table([result]);
mkdirSync('bench-results', { recursive: true });
writeFileSync('bench-results/cdc-latency.json', `${JSON.stringify(result, null, 2)}\n`);

await consumer.disconnect();
await connector.close();
await running.catch(() => undefined);
await client.execute(`DROP KEYSPACE IF EXISTS ${id}`);
await admin
  .deleteTopics({
    topics: [config.topics.tweetsCdc, config.topics.cdcOffsets, config.topics.deadLetter],
  })
  .catch(() => undefined);
await admin.disconnect();
await client.shutdown();
process.exit(0);

/** The running node's commitlog_sync_period, as it reports it (system_views.settings). */
async function syncPeriod(): Promise<string | null> {
  const rs = await client
    .execute(`SELECT value FROM system_views.settings WHERE name = 'commitlog_sync_period'`)
    .catch(() => null);
  return (rs?.first()?.get('value') as string | undefined) ?? null;
}
