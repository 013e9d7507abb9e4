import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { withTimeout } from '../../../lib/errors.ts';
import { connectAdmin, type KafkaAdmin } from '../../../connectors/kafka/admin.ts';
import { ensureTopics } from '../../../connectors/kafka/topics.ts';
import { KafkaRecordSource, METADATA_REFRESH_MS } from '../../../connectors/kafka/source.ts';
import { createLogger } from '../../../lib/log.ts';
import { testConfig, uniq } from '../../support/config.ts';

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
});
