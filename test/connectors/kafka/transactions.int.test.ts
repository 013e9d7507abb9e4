import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connectAdmin,
  createKafka,
  ensureTopics,
  type KafkaAdmin,
  type KafkaClient,
} from '../../../connectors/kafka/client.ts';
import { createLogger } from '../../../lib/log.ts';
import { testConfig, uniq } from '../../support/config.ts';

// Proves the broker's transactions work end to end with our client library: what the CDC
// connector and the pipeline's checkpoints stand on.
describe('Kafka transactions (real broker)', () => {
  const config = testConfig();
  const log = createLogger('warn');
  let kafka: KafkaClient;
  let admin: KafkaAdmin;
  const input = `${config.topics.cdcPrefix}.in`;
  const output = `${config.topics.cdcPrefix}.out`;

  beforeAll(async () => {
    kafka = createKafka(config, log);
    admin = await connectAdmin(kafka, config);
    await ensureTopics(admin, config, [
      { topic: input, partitions: 1, compacted: false },
      { topic: output, partitions: 1, compacted: false },
    ]);
  });
  afterAll(async () => {
    await admin.deleteTopics({ topics: [input, output] }).catch(() => undefined);
    await admin.disconnect();
  });

  it('a committed transaction (records + consumer offsets) is visible to read_committed; an aborted one is not', async () => {
    const group = `t-${uniq()}`;
    // Something to consume, so there is a real offset to commit through the transaction.
    const plain = kafka.producer({ 'enable.idempotence': true });
    await plain.connect();
    await plain.send({ topic: input, messages: [{ key: 'k', value: 'source-1' }] });
    await plain.disconnect();

    const producer = kafka.producer({
      'transactional.id': `t-${uniq()}`,
      'enable.idempotence': true,
    });
    await producer.connect();
    const consumer = kafka.consumer({
      'group.id': group,
      'auto.offset.reset': 'earliest',
      'enable.auto.commit': false,
    } as never);
    await consumer.connect();

    const aborted = await producer.transaction();
    await aborted.send({ topic: output, messages: [{ key: 'a', value: 'aborted' }] });
    await aborted.sendOffsets({
      consumer,
      topics: [{ topic: input, partitions: [{ partition: 0, offset: '1' }] }],
    });
    await aborted.abort();

    const committed = await producer.transaction();
    await committed.send({ topic: output, messages: [{ key: 'c', value: 'committed' }] });
    await committed.sendOffsets({
      consumer,
      topics: [{ topic: input, partitions: [{ partition: 0, offset: '1' }] }],
    });
    await committed.commit();
    await producer.disconnect();
    await consumer.disconnect();

    const reader = kafka.consumer({
      'group.id': `t-${uniq()}`,
      'auto.offset.reset': 'earliest',
      'isolation.level': 'read_committed',
      'enable.auto.commit': false,
    } as never);
    await reader.connect();
    await reader.subscribe({ topics: [output] });
    const seen: string[] = [];
    await new Promise<void>((resolveSeen, reject) => {
      reader
        .run({
          eachMessage: async ({ message }) => {
            seen.push(String(message.value));
            if (seen.includes('committed')) resolveSeen();
          },
        })
        .catch(reject);
    });
    await reader.disconnect();
    expect(seen).toEqual(['committed']);

    const offsets = await admin.fetchOffsets({
      groupId: group,
      topics: [input],
      requireStableOffsets: true,
    });
    expect(offsets[0]?.partitions[0]?.offset).toBe('1');
  });
});
