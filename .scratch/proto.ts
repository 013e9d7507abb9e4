import { loadConfig } from '../config/index.ts';
import { connectAdmin, createKafka, ensureTopics } from '../connectors/kafka/client.ts';
import { createLogger } from '../connectors/log.ts';
import { KafkaRecordSource } from '../connectors/kafka/source.ts';
import { KafkaTransactionalSink } from '../connectors/kafka/transactions.ts';
import { randomUUID } from 'node:crypto';

const id = randomUUID().slice(0, 8);
const config = loadConfig({ env: {}, sets: [`topics.cdcPrefix=p-${id}`, `pipeline.groupId=p-${id}`, 'topics.cdcPartitions=2', 'log.level=info', 'pipeline.sessionTimeoutMs=6000'] });
const log = createLogger('info');
const kafka = createKafka(config, log);
const admin = await connectAdmin(kafka, config);
await ensureTopics(admin, config);
const p = kafka.producer({});
await p.connect();
await p.send({ topic: config.topics.tweetsCdc, messages: Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: `v${i}`, partition: i % 2 })) });
await p.disconnect();
const t0 = Date.now();
async function run(label: string, n: number) {
  const src = new KafkaRecordSource(kafka, config, { workerId: '0', log });
  const sink = new KafkaTransactionalSink(kafka, config, { transactionalId: `p-${id}-tx`, source: src, log });
  await sink.open();
  const got: string[] = [];
  let paused = false;
  await new Promise<void>((resolve, reject) => {
    src.start({
      record(r) {
        got.push(`${r.partition}:${r.offset}`);
        console.log(label, Date.now() - t0, 'record', r.partition, r.offset, String(r.value));
        if (got.length === 3 && !paused) { paused = true; src.pause(); setTimeout(() => { console.log('resume'); src.resume(); }, 1000); }
        if (got.length === n) resolve();
      },
      async assigned(ps) { console.log(label, Date.now() - t0, 'assigned', ps); },
      async revoked(ps, lost) { console.log(label, Date.now() - t0, 'revoked', ps, lost); },
      failed(e) { reject(e); },
    }).catch(reject);
  });
  console.log(label, 'hw', src.highWatermark(0), src.highWatermark(1));
  await sink.commit({ offsets: [{ partition: 0, offset: 3n }, { partition: 1, offset: 2n }], records: [{ topic: config.topics.completed, key: 'x', value: 'y' }, { topic: config.topics.checkpoints, key: 'x', value: null, partition: 1 }] });
  console.log(label, Date.now() - t0, 'committed');
  return { src, sink };
}
const a = await run('A', 10);
await a.src.close(); await a.sink.close();
console.log('closed A', Date.now() - t0);
const b = await run('B', 5);
await b.src.close(); await b.sink.close();
await admin.deleteTopics({ topics: [config.topics.tweetsCdc, config.topics.checkpoints, config.topics.completed, config.topics.cdcOffsets, config.topics.tasks, config.topics.deadLetter] });
await admin.disconnect();
process.exit(0);
