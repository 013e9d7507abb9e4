import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { withTimeout } from '../../../lib/errors.ts';
import { connectAdmin, type KafkaAdmin } from '../../../connectors/kafka/admin.ts';
import { ensureTopics } from '../../../connectors/kafka/topics.ts';
import { KafkaRecordSource, METADATA_REFRESH_MS } from '../../../connectors/kafka/source.ts';
import { KafkaTransactions } from '../../../connectors/kafka/transactions.ts';
import { createLogger } from '../../../lib/log.ts';
import type { SourceRecord } from '../../../ports/streams.ts';
import { testConfig, uniq } from '../../support/config.ts';
import { within } from '../../pipeline/fixtures.ts';

// Topic readiness: a consumer that subscribes to a topic its broker does not serve yet must not
// sit idle until librdkafka's default metadata refresh (5 minutes) before it gets partitions.
describe('Kafka topics and the source (real broker)', () => {
  const config = testConfig();
  const log = createLogger('warn');
  let admin: KafkaAdmin;
  const created: string[] = [];

  beforeAll(async () => {
    admin = await connectAdmin(config);
  });
  afterAll(async () => {
    await admin.deleteTopics({ topics: created }).catch(() => undefined);
    await admin.disconnect();
  });

  it('ensureTopics returns once the broker serves every partition of a created topic with a leader', async () => {
    const topic = `${config.topics.cdcPrefix}.ready-${uniq()}`;
    created.push(topic);
    expect(
      await ensureTopics(admin, config, [{ topic, partitions: 24, compacted: false }]),
    ).toEqual([topic]);
    const [meta] = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(meta?.partitions).toHaveLength(24);
    expect(meta!.partitions.every((p) => p.leader >= 0)).toBe(true);
    expect(
      await ensureTopics(admin, config, [{ topic, partitions: 24, compacted: false }]),
    ).toEqual([]); // exists: nothing to do
  });

  it(
    'a source subscribed before its topic exists gets its partitions within seconds of the creation',
    { timeout: 60_000 },
    async () => {
      const topic = `${config.topics.cdcPrefix}.late-${uniq()}`;
      created.push(topic);
      const source = new KafkaRecordSource(
        { ...config, pipeline: { ...config.pipeline, groupId: `late-${uniq()}` } },
        { workerId: '0', log, topic },
      );
      onTestFinished(() => source.close());
      let assigned!: (partitions: readonly number[]) => void;
      const assignment = new Promise<readonly number[]>((resolve) => {
        assigned = resolve;
      });
      await source.start({
        room: () => 1,
        record: () => undefined,
        revoked: async () => undefined,
        failed: () => undefined,
        assigned: async (ps) => {
          assigned(ps);
        },
      });
      await ensureTopics(admin, config, [{ topic, partitions: 3, compacted: false }]);
      const createdAt = performance.now();
      // The next refresh (≤ METADATA_REFRESH_MS), then a group join (session setup, a rebalance).
      const partitions = await withTimeout(
        assignment,
        METADATA_REFRESH_MS + 20_000,
        `no partitions of ${topic} within ${METADATA_REFRESH_MS + 20_000} ms of its creation`,
      );
      expect([...partitions].sort()).toEqual([0, 1, 2]);
      console.log(
        `subscribed before creation: partitions assigned ${Math.round(performance.now() - createdAt)} ms after it`,
      );
    },
  );

  it('endReached: a partition read to its end is there past the commit marker, and only once every record before it was handed over', async () => {
    const topic = `${config.topics.cdcPrefix}.end-${uniq()}`;
    created.push(topic);
    await ensureTopics(admin, config, [{ topic, partitions: 1, compacted: false }]);
    const producer = new KafkaTransactions(config, { transactionalId: `t-${uniq()}`, log });
    onTestFinished(() => producer.close());
    await producer.open();
    await producer.commit(
      ['a', 'b', 'c'].map((value) => ({ topic, partition: 0, key: value, value })),
    );

    const source = new KafkaRecordSource(
      { ...config, pipeline: { ...config.pipeline, groupId: `end-${uniq()}` } },
      { workerId: '0', log, topic },
    );
    onTestFinished(() => source.close());
    const handed: SourceRecord[] = [];
    let limit = 2;
    await source.start({
      room: () => limit - handed.length,
      record: (r) => handed.push(r),
      revoked: async () => undefined,
      failed: () => undefined,
      assigned: async () => undefined,
    });
    await within(30_000, 'two records handed', () => (handed.length === 2 ? true : undefined), 10);
    // The third record is not handed over (no room): the end is not reached for the lane.
    expect(source.endReached(0)).toBeUndefined();
    // Room for more than there is: a source out of room pauses, and a paused partition reports
    // no end until it is resumed and fetched to it again.
    limit = Number.POSITIVE_INFINITY;
    source.wake();
    await within(
      30_000,
      'the end reached',
      () => (source.endReached(0) !== undefined ? true : undefined),
      10,
    );
    expect(handed.map((r) => r.offset)).toEqual([0n, 1n, 2n]);
    // Offset 3 is the transaction's commit marker: the end is past it, at the high watermark.
    expect(source.endReached(0)).toBe(4n);
    expect(source.highWatermark(0)).toBe(4n);
  });
});
