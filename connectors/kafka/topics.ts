/**
 * The product's topics: which exist, how they are created (served with a leader for every
 * partition before anyone is told), and how a test run's or a benchmark's own are removed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../../config/index.ts';
import { FanoutError } from '../../lib/errors.ts';
import type { KafkaAdmin, TopicSpec } from './admin.ts';
import { classifyKafkaError } from './errors.ts';

const CDC = 'topics.cdcPartitions';
const TASKS = 'topics.tasksPartitions';

/** Every topic of the product, from config. */
export function productTopics(config: Config): TopicSpec[] {
  const t = config.topics;
  return [
    { topic: t.tweetsCdc, partitions: t.cdcPartitions, compacted: false },
    { topic: t.followersCdc, partitions: t.cdcPartitions, compacted: false },
    { topic: t.cdcOffsets, partitions: 1, compacted: true },
    { topic: t.checkpoints, partitions: t.cdcPartitions, compacted: true, numberedBy: CDC },
    { topic: t.completed, partitions: t.cdcPartitions, compacted: false, numberedBy: CDC },
    { topic: t.tasks, partitions: t.tasksPartitions, compacted: false, numberedBy: TASKS },
    { topic: t.deadLetter, partitions: 1, compacted: false },
  ];
}

/**
 * Creates the topics that do not exist yet; returns the names it created, once the broker serves
 * each of them with a leader for every partition. A consumer that subscribes to a topic its
 * broker does not serve yet only sees it at its next periodic metadata refresh (seen here: a work
 * topic created under load reached its consumer 300 s later, librdkafka's default interval).
 */
export async function ensureTopics(
  admin: KafkaAdmin,
  config: Config,
  specs: readonly TopicSpec[] = productTopics(config),
): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  await refuseTooFewPartitions(
    admin,
    specs.filter((s) => s.numberedBy !== undefined && existing.has(s.topic)),
  );
  const missing = specs.filter((s) => !existing.has(s.topic));
  if (missing.length === 0) return [];
  try {
    await admin.createTopics(missing, config.kafka.replicationFactor);
  } catch (err) {
    // Another process may have created one meanwhile: only a topic that is still missing fails.
    const now = new Set(await admin.listTopics());
    if (missing.some((s) => !now.has(s.topic))) throw classifyKafkaError(err, 'create topics');
  }
  const created = missing.map((s) => s.topic);
  await untilServed(admin, created, config.kafka.connectTimeoutMs);
  return created;
}

/**
 * Refuses an existing topic with fewer partitions than the setting its records are numbered by
 * (created before the setting was raised: nothing changes an existing topic). Its records would
 * name partitions it does not have, which Kafka refuses, failing every transaction that carries
 * one, after each restart again.
 */
async function refuseTooFewPartitions(
  admin: KafkaAdmin,
  specs: readonly TopicSpec[],
): Promise<void> {
  if (specs.length === 0) return;
  const described = await admin.fetchTopicMetadata({ topics: specs.map((s) => s.topic) });
  for (const s of specs) {
    const has = described.find((t) => t.name === s.topic)?.partitions.length;
    if (has === undefined || has >= s.partitions) continue;
    throw new FanoutError(
      'KAFKA_TOPIC_PARTITIONS',
      `topic ${s.topic} has ${has} partitions, fewer than ${s.numberedBy} (${s.partitions}), which numbers its records' partitions: set ${s.numberedBy}=${has} (schema apply never changes an existing topic)`,
      { retriable: false },
    );
  }
}

/** Waits until every partition of `topics` has a leader in the broker's metadata. */
async function untilServed(
  admin: KafkaAdmin,
  topics: readonly string[],
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let pending = [...topics];
  let lastError: string | undefined;
  for (;;) {
    const served = await admin
      .fetchTopicMetadata({ topics: pending, timeout: Math.max(100, deadline - Date.now()) })
      .catch((err: unknown) => {
        lastError = classifyKafkaError(err, 'describe topics').message;
        return [];
      });
    const ready = new Set(
      served
        .filter((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))
        .map((t) => t.name),
    );
    pending = pending.filter((t) => !ready.has(t));
    if (pending.length === 0) return;
    if (Date.now() > deadline) {
      const why = lastError === undefined ? '' : ` (last error: ${lastError})`;
      throw new FanoutError(
        'KAFKA_TOPICS_NOT_READY',
        `topics ${pending.join(', ')} were created but have no leader for every partition after ${timeoutMs} ms (kafka.connectTimeoutMs)${why}`,
        { retriable: true },
      );
    }
    await sleep(100);
  }
}

/**
 * Deletes every topic and consumer group whose name starts with `prefix` (a test run's or a
 * benchmark deployment's own names). A group some member still holds, e.g. a static member whose
 * session has not timed out yet (they do not leave on close, by design), is refused by the broker
 * and counted in `groupsRefused`; it expires on its own.
 */
export async function removeByPrefix(
  admin: KafkaAdmin,
  prefix: string,
): Promise<{ topics: number; groups: number; groupsRefused: number }> {
  const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
  if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 60_000 });
  const groups = (await admin.listGroups()).filter((g) => g.startsWith(prefix));
  const refused =
    groups.length === 0 ? 0 : (await admin.deleteGroups(groups)).filter((r) => r.error).length;
  return { topics: topics.length, groups: groups.length - refused, groupsRefused: refused };
}
