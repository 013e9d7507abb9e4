/**
 * The app's Kafka admin on librdkafka's own AdminClient: topics (created with a leader for every
 * partition before they are reported), their offsets, consumer groups and their committed offsets.
 * Errors come back classified (./errors.ts). Offsets are decimal strings (Kafka's are 64-bit), in
 * the shapes the KafkaJS-style admin returned, so its callers read them unchanged.
 */
import kafkaJs, {
  type DeleteGroupsResult,
  type GroupOverview,
  type GroupResults,
  type ListOffsetsResult,
  type TopicDescription,
} from '@confluentinc/kafka-javascript';
import type { Config } from '../../config/index.ts';
import { FanoutError, withTimeout } from '../../lib/errors.ts';
import { classifyKafkaError } from './errors.ts';
import { baseProps } from './props.ts';
import { SecurityWatch } from './security.ts';

const { AdminClient, OffsetSpec, CODES } = kafkaJs;
type RawAdmin = ReturnType<typeof AdminClient.create>;

/** librdkafka's admin request timeout unless a call says otherwise (the KafkaJS-style default). */
const REQUEST_TIMEOUT_MS = 5_000;

/**
 * The configs of the product's compacted topics (source offsets, checkpoints). Kafka compacts
 * only closed segments, and by default a segment closes at 1 GiB or after 7 days: these topics,
 * a few hundred bytes a record, would never be compacted, and every reader reads them whole from
 * the start (a connector's resume, a worker's restore). So a segment closes after 10 minutes or
 * 16 MiB, whichever comes first, which bounds what a reader reads beyond one record per key; the
 * cleaner takes a log once 10% of it is dirty (these logs are small and nearly all dirty once a
 * segment closes); and a tombstone is kept for 1 hour after compaction instead of 24: long enough
 * for a reader that read the record it deletes (readers read to the end in seconds) to see it,
 * short enough that the tombstones of finished fan-outs do not make up the partition.
 */
export const COMPACTED_TOPIC_CONFIG: Readonly<Record<string, string>> = Object.freeze({
  'cleanup.policy': 'compact',
  'segment.ms': String(10 * 60_000),
  'segment.bytes': String(16 * 2 ** 20),
  'min.cleanable.dirty.ratio': '0.1',
  'delete.retention.ms': String(60 * 60_000),
});

/**
 * The configs a topic is created with: a compacted one's (above) and, with 3 replicas or more,
 * `min.insync.replicas` a majority of them. Every producer here writes with acks=all (idempotent
 * or transactional), so a write is then acknowledged only once a majority of replicas hold it:
 * losing one broker loses nothing acknowledged (the broker default, 1, acknowledges a write the
 * leader alone holds). Below 3 replicas the broker's default stands: a majority of 2 would stop
 * every producer while either broker is down.
 */
export function topicConfig(spec: TopicSpec, replicationFactor: number): Record<string, string> {
  return {
    ...(spec.compacted ? COMPACTED_TOPIC_CONFIG : {}),
    ...(replicationFactor >= 3
      ? { 'min.insync.replicas': String(Math.floor(replicationFactor / 2) + 1) }
      : {}),
  };
}

/** A topic the product needs, with its partitioning and cleanup policy. */
export interface TopicSpec {
  readonly topic: string;
  readonly partitions: number;
  readonly compacted: boolean;
  /**
   * The config key of `partitions` when the product numbers the topic's partitions itself (each
   * record names one below it): an existing topic with fewer is refused.
   */
  readonly numberedBy?: string;
}

/** A topic's partitions and their leaders (-1: none right now). */
export interface TopicMetadata {
  readonly name: string;
  readonly partitions: ReadonlyArray<{ readonly partitionId: number; readonly leader: number }>;
}

/** A partition's first and next offsets. */
export interface PartitionOffsets {
  readonly partition: number;
  readonly low: string;
  readonly high: string;
}

/** A group's committed offsets in one topic (-1: none committed). */
export interface GroupTopicOffsets {
  readonly topic: string;
  readonly partitions: ReadonlyArray<{ readonly partition: number; readonly offset: string }>;
}

/** Runs one callback-style admin call; its error comes back classified, named by `what`. */
function request<T>(what: string, call: (cb: (err: unknown, result: T) => void) => void) {
  return new Promise<T>((resolve, reject) => {
    call((err, result) => (err ? reject(classifyKafkaError(err, what)) : resolve(result)));
  });
}

/** The admin client; {@link connectAdmin} makes one that has proved the cluster answers. */
export class KafkaAdmin {
  /** What the client logged of a refused login or TLS handshake (./security.ts). */
  readonly security: SecurityWatch;
  readonly #client: RawAdmin;
  #disconnected = false;

  constructor(config: Config) {
    this.security = new SecurityWatch(config);
    this.#client = AdminClient.create(baseProps(config), this.security.handlers);
  }

  listTopics(options: { timeout?: number } = {}): Promise<string[]> {
    const timeout = options.timeout ?? REQUEST_TIMEOUT_MS;
    return request('list topics', (cb) => this.#client.listTopics({ timeout }, cb));
  }

  /** Creates these topics; one that exists already is not an error. */
  async createTopics(
    specs: readonly TopicSpec[],
    replicationFactor: number,
    timeoutMs = REQUEST_TIMEOUT_MS,
  ): Promise<void> {
    const results = await Promise.allSettled(
      specs.map((s) =>
        request<void>(`create topic ${s.topic}`, (cb) =>
          this.#client.createTopic(
            {
              topic: s.topic,
              num_partitions: s.partitions,
              replication_factor: replicationFactor,
              config: topicConfig(s, replicationFactor),
            },
            timeoutMs,
            (err) =>
              cb(err?.code === CODES.ERRORS.ERR_TOPIC_ALREADY_EXISTS ? null : err, undefined),
          ),
        ),
      ),
    );
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  async deleteTopics(options: { topics: readonly string[]; timeout?: number }): Promise<void> {
    const timeout = options.timeout ?? REQUEST_TIMEOUT_MS;
    await Promise.all(
      options.topics.map((topic) =>
        request<void>(`delete topic ${topic}`, (cb) =>
          this.#client.deleteTopic(topic, timeout, (err) => cb(err, undefined)),
        ),
      ),
    );
  }

  /** The partitions of these topics with their leaders; rejects if one of them does not exist. */
  async fetchTopicMetadata(options: {
    topics: readonly string[];
    timeout?: number;
  }): Promise<TopicMetadata[]> {
    const timeout = options.timeout ?? REQUEST_TIMEOUT_MS;
    const described = await request<TopicDescription[]>('describe topics', (cb) =>
      this.#client.describeTopics([...options.topics], { timeout }, cb),
    );
    const missing = described.find((t) => t.error);
    if (missing) throw classifyKafkaError(missing.error, `describe topic ${missing.name}`);
    return described.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => ({
        partitionId: p.partition,
        leader: p.leader?.id ?? -1,
      })),
    }));
  }

  /** Per partition of `topic`, its first (low) and next (high) offset. */
  async fetchTopicOffsets(topic: string): Promise<PartitionOffsets[]> {
    const [meta] = await this.fetchTopicMetadata({ topics: [topic] });
    const partitions = (meta?.partitions ?? []).map((p) => p.partitionId);
    const at = (spec: InstanceType<typeof OffsetSpec>) =>
      request<ListOffsetsResult[]>(`list offsets of ${topic}`, (cb) =>
        this.#client.listOffsets(
          partitions.map((partition) => ({ topic, partition, offset: spec })),
          { timeout: REQUEST_TIMEOUT_MS },
          cb,
        ),
      );
    const [high, low] = await Promise.all([at(OffsetSpec.LATEST), at(OffsetSpec.EARLIEST)]);
    const offsetOf = (list: typeof high, partition: number): string =>
      String(list.find((o) => o.partition === partition)?.offset ?? -1);
    return partitions.map((partition) => ({
      partition,
      low: offsetOf(low, partition),
      high: offsetOf(high, partition),
    }));
  }

  /** A group's committed offsets in these topics (`requireStableOffsets`: none still in a transaction). */
  async fetchOffsets(options: {
    groupId: string;
    topics: readonly string[];
    requireStableOffsets?: boolean;
  }): Promise<GroupTopicOffsets[]> {
    const [group] = await request<GroupResults[]>(
      `fetch the offsets of group ${options.groupId}`,
      (cb) =>
        this.#client.listConsumerGroupOffsets(
          [{ groupId: options.groupId }], // no partitions: every one the group committed for
          {
            timeout: REQUEST_TIMEOUT_MS,
            requireStableOffsets: options.requireStableOffsets ?? false,
          },
          cb,
        ),
    );
    if (group?.error) throw classifyKafkaError(group.error, `offsets of group ${options.groupId}`);
    return options.topics.flatMap((topic) => {
      const partitions = (group?.partitions ?? [])
        .filter((p) => p.topic === topic)
        .map((p) => ({ partition: p.partition, offset: String(p.offset) }));
      return partitions.length === 0 ? [] : [{ topic, partitions }];
    });
  }

  /** The ids of every consumer group. */
  async listGroups(): Promise<string[]> {
    const result = await request<{ groups: GroupOverview[] }>('list groups', (cb) =>
      this.#client.listGroups({ timeout: REQUEST_TIMEOUT_MS }, cb),
    );
    return result.groups.map((g) => g.groupId);
  }

  /** Deletes these groups; per group, the broker's refusal if it refused (e.g. still held). */
  deleteGroups(groups: readonly string[]): Promise<DeleteGroupsResult[]> {
    return request('delete groups', (cb) =>
      this.#client.deleteGroups([...groups], { timeout: REQUEST_TIMEOUT_MS }, cb),
    );
  }

  /** Safe to call twice. */
  async disconnect(): Promise<void> {
    if (this.#disconnected) return;
    this.#disconnected = true;
    try {
      this.#client.disconnect();
    } catch (err) {
      throw classifyKafkaError(err, 'disconnect the admin client');
    }
  }
}

/**
 * Connects an admin client and proves the cluster answers, or throws one clear sentence: the
 * security setting to fix when the broker refused the client, else that Kafka is unreachable. A
 * first argument before `config` (the KafkaJS-style client older callers pass) is ignored.
 */
export function connectAdmin(config: Config): Promise<KafkaAdmin>;
export function connectAdmin(unused: unknown, config: Config): Promise<KafkaAdmin>;
export async function connectAdmin(first: unknown, second?: Config): Promise<KafkaAdmin> {
  const config = second ?? (first as Config);
  const where = config.kafka.brokers.join(',');
  const timeout = config.kafka.connectTimeoutMs;
  let admin: KafkaAdmin | undefined;
  try {
    admin = new KafkaAdmin(config);
    await withTimeout(
      admin.listTopics({ timeout }),
      timeout + 1_000,
      `no answer within ${timeout} ms`,
    );
    return admin;
  } catch (err) {
    await admin?.disconnect().catch(() => undefined);
    // Refused before any connection: a setting to fix (a TLS file that cannot be read, ./props.ts).
    if (admin === undefined && err instanceof FanoutError && !err.retriable) throw err;
    const what = 'create the admin client';
    if (admin?.security.refusal !== undefined) throw admin.security.failure(err, what);
    const why = classifyKafkaError(err, what).message;
    const hint = admin?.security.unreachableHint() ?? '';
    throw new FanoutError('KAFKA_UNREACHABLE', `Kafka at ${where} is unreachable: ${why}${hint}`, {
      retriable: true,
      cause: err,
    });
  }
}
