import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import kafkaJs from '@confluentinc/kafka-javascript';
import { connectAdmin, type KafkaAdmin } from '../../../connectors/kafka/admin.ts';
import { asError } from '../../../connectors/kafka/errors.ts';
import { baseProps } from '../../../connectors/kafka/props.ts';
import { ensureTopics, removeByPrefix } from '../../../connectors/kafka/topics.ts';
import { KafkaTransactions } from '../../../connectors/kafka/transactions.ts';
import { FanoutError } from '../../../lib/errors.ts';
import { createLogger } from '../../../lib/log.ts';
import { within } from '../../pipeline/fixtures.ts';
import { testConfig, uniq } from '../../support/config.ts';
import { describeTopicConfigs } from '../../support/topic-configs.ts';

// The admin calls the CLI (schema, status), the connector and the test teardown stand on, on
// librdkafka's own AdminClient.
describe('Kafka admin (real broker)', () => {
  const config = testConfig();
  const log = createLogger('warn');
  let admin: KafkaAdmin;

  beforeAll(async () => {
    admin = await connectAdmin(config);
  });
  afterAll(async () => {
    await admin.disconnect();
    await admin.disconnect(); // safe twice
  });

  it('an unreachable broker is one sentence naming it, retriable', async () => {
    const down = {
      ...config,
      kafka: { ...config.kafka, brokers: ['127.0.0.1:1'], connectTimeoutMs: 1_000 },
    };
    const err = await connectAdmin(down).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(FanoutError);
    expect(err).toMatchObject({ code: 'KAFKA_UNREACHABLE', retriable: true });
    expect((err as Error).message).toMatch(/^Kafka at 127\.0\.0\.1:1 is unreachable: /);
  });

  it('a compacted topic closes its segments soon enough to be compacted; the others keep the defaults', async () => {
    // Kafka compacts only closed segments; with its defaults (1 GiB or 7 days) the offsets topic
    // was never compacted, and every connector start read it whole.
    const prefix = `${config.topics.cdcPrefix}.configs-${uniq()}`;
    const [compacted, plain] = [`${prefix}.c`, `${prefix}.t`];
    await ensureTopics(admin, config, [
      { topic: compacted, partitions: 1, compacted: true },
      { topic: plain, partitions: 1, compacted: false },
    ]);
    onTestFinished(() => admin.deleteTopics({ topics: [compacted, plain] }).catch(() => undefined));
    const broker = config.kafka.brokers[0]!;
    expect(await describeTopicConfigs(broker, compacted)).toMatchObject({
      'cleanup.policy': 'compact',
      'segment.ms': '600000',
      'segment.bytes': '16777216',
      'min.cleanable.dirty.ratio': '0.1',
      'delete.retention.ms': '3600000',
    });
    const plainConfigs = await describeTopicConfigs(broker, plain);
    expect(plainConfigs['cleanup.policy']).toBe('delete');
    expect(plainConfigs['segment.ms']).not.toBe('600000');
  });

  it('offsets of a topic and of a group; removeByPrefix deletes the topics and groups of a prefix', async () => {
    const prefix = `${config.topics.cdcPrefix}.admin-${uniq()}`;
    const topic = `${prefix}.t`;
    const compacted = `${prefix}.c`;
    const group = `${prefix}.g`;
    expect(
      await ensureTopics(admin, config, [
        { topic, partitions: 2, compacted: false },
        { topic: compacted, partitions: 1, compacted: true },
      ]),
    ).toEqual([topic, compacted]);
    onTestFinished(() => admin.deleteTopics({ topics: [topic, compacted] }).catch(() => undefined));
    const meta = await admin.fetchTopicMetadata({ topics: [topic, compacted] });
    expect(meta.map((m) => [m.name, m.partitions.length])).toEqual([
      [topic, 2],
      [compacted, 1],
    ]);
    await expect(admin.fetchTopicMetadata({ topics: [`${prefix}.none`] })).rejects.toBeInstanceOf(
      FanoutError,
    );

    // Two records on partition 1, and the group's offset moved past the first of them.
    const consumer = new kafkaJs.KafkaConsumer(
      { ...baseProps(config), 'group.id': group, 'enable.auto.commit': false },
      {},
    );
    await new Promise<void>((resolve, reject) => {
      consumer.connect({ timeout: 10_000 }, (err) => (err ? reject(asError(err)) : resolve()));
    });
    const tx = new KafkaTransactions(config, { transactionalId: `t-${uniq()}`, log });
    try {
      await tx.open();
      await tx.commit(
        [
          { topic, partition: 1, key: 'a', value: '1' },
          { topic, partition: 1, key: 'b', value: '2' },
        ],
        { consumer, offsets: [{ topic, partition: 1, offset: 1 }] },
      );
    } finally {
      await tx.close();
      await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
    }
    // Two records and the commit marker, which the coordinator writes after the commit returned.
    const ends = await within(10_000, 'the commit marker in the high watermark', async () => {
      const e = await admin.fetchTopicOffsets(topic);
      return e.find((o) => o.partition === 1)?.high === '3' ? e : undefined;
    });
    expect(ends.find((o) => o.partition === 0)).toEqual({ partition: 0, low: '0', high: '0' });
    expect(ends.find((o) => o.partition === 1)).toEqual({ partition: 1, low: '0', high: '3' });
    expect(await admin.fetchOffsets({ groupId: group, topics: [topic] })).toEqual([
      { topic, partitions: [{ partition: 1, offset: '1' }] },
    ]);
    expect(await admin.listGroups()).toContain(group);

    expect(await removeByPrefix(admin, prefix)).toEqual({ topics: 2, groups: 1, groupsRefused: 0 });
    // Deletions are applied by the controller after the call returned: listed until then.
    await within(10_000, 'the prefix’s topics and groups gone', async () => {
      const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
      const groups = (await admin.listGroups()).filter((g) => g.startsWith(prefix));
      return topics.length === 0 && groups.length === 0 ? true : undefined;
    });
  });
});
