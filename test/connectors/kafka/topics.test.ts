import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../config/index.ts';
import type { KafkaAdmin, TopicMetadata, TopicSpec } from '../../../connectors/kafka/admin.ts';
import { ensureTopics } from '../../../connectors/kafka/topics.ts';

/** An admin whose broker holds these topics with these partition counts. */
function adminWith(topics: Record<string, number>) {
  const created: TopicSpec[] = [];
  const admin = {
    listTopics: async () => Object.keys(topics),
    createTopics: async (specs: readonly TopicSpec[]) => {
      for (const s of specs) topics[s.topic] = s.partitions;
      created.push(...specs);
    },
    fetchTopicMetadata: async (o: { topics: readonly string[] }): Promise<TopicMetadata[]> =>
      o.topics.map((name) => ({
        name,
        partitions: Array.from({ length: topics[name] ?? 0 }, (_, i) => ({
          partitionId: i,
          leader: 1,
        })),
      })),
  };
  return { admin: admin as unknown as KafkaAdmin, created };
}

describe('ensureTopics', () => {
  it('refuses a topic whose partitions the product numbers when it has fewer than the setting (raised after it was created), naming both', async () => {
    const config = loadConfig({ env: {}, sets: ['topics.tasksPartitions=48'] });
    const { admin } = adminWith({ [config.topics.tasks]: 24 });
    await expect(ensureTopics(admin, config)).rejects.toMatchObject({
      code: 'KAFKA_TOPIC_PARTITIONS',
      retriable: false,
      message: expect.stringMatching(
        /topic fanout\.tasks has 24 partitions, fewer than topics\.tasksPartitions \(48\).*set topics\.tasksPartitions=24/,
      ),
    });
  });

  it('takes more partitions than the setting, and any count of a CDC topic (keyed, not numbered)', async () => {
    const config = loadConfig({ env: {}, sets: [] });
    const t = config.topics;
    const { admin, created } = adminWith({
      [t.tasks]: 48,
      [t.checkpoints]: 12,
      [t.completed]: 12,
      [t.tweetsCdc]: 3,
    });
    const made = await ensureTopics(admin, config);
    expect(made).not.toContain(t.tasks);
    expect(created.map((s) => s.topic)).toContain(t.followersCdc);
  });
});
