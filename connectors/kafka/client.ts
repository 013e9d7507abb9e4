import kafkaJs from '@confluentinc/kafka-javascript';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../../config/index.ts';
import { classifyKafkaError, FanoutError, withTimeout } from '../../lib/errors.ts';
import type { Logger } from '../../lib/log.ts';
import { attachSecurityWatch, SecurityWatch, securityWatchOf } from './security.ts';

const { Kafka, logLevel } = kafkaJs.KafkaJS;
export type KafkaClient = InstanceType<typeof Kafka>;
export type KafkaAdmin = ReturnType<KafkaClient['admin']>;
export type KafkaProducer = ReturnType<KafkaClient['producer']>;
export type KafkaConsumer = ReturnType<KafkaClient['consumer']>;

/**
 * The app's Kafka client factory, configured with librdkafka property names (the library's
 * KafkaJS-style API on top). librdkafka's own log lines go to our logger, not the console.
 */
export function createKafka(config: Config, log: Logger): KafkaClient {
  const kafkaLog = log.child('kafka');
  const watch = new SecurityWatch(); // security failures are only logged by librdkafka
  const kafka = new Kafka({
    ...baseProps(config),
    kafkaJS: {
      logLevel: logLevel.WARN,
      logger: {
        info: (m: string, x?: object) => kafkaLog.debug(m, x),
        debug: (m: string, x?: object) => kafkaLog.debug(m, x),
        // Connection refusals repeat every second while a broker is down: the caller reports those.
        warn: (m: string, x?: object) => (watch.note(m), kafkaLog.debug(m, x)),
        error: (m: string, x?: object) => (watch.note(m), kafkaLog.debug(m, x)),
        namespace() {
          return this;
        },
        setLogLevel() {},
      },
    },
  } as never);
  attachSecurityWatch(kafka, watch);
  return kafka;
}

/** librdkafka properties every client of the app shares: brokers, identity, security. */
export function baseProps(config: Config): Record<string, string | number> {
  const k = config.kafka;
  const props: Record<string, string | number> = {
    'bootstrap.servers': k.brokers.join(','),
    'client.id': k.clientId,
    'socket.connection.setup.timeout.ms': k.connectTimeoutMs,
    'security.protocol': k.securityProtocol,
  };
  if (k.securityProtocol.startsWith('sasl')) {
    Object.assign(props, {
      'sasl.mechanisms': k.saslMechanism.toUpperCase(),
      'sasl.username': k.saslUsername,
      'sasl.password': k.saslPassword,
    });
  }
  if (k.securityProtocol === 'ssl' || k.securityProtocol === 'sasl_ssl') {
    // librdkafka checks the broker's name by default since 2.0; said here so config decides.
    props['ssl.endpoint.identification.algorithm'] = k.sslVerifyHostname ? 'https' : 'none';
    if (k.sslCaLocation) props['ssl.ca.location'] = k.sslCaLocation;
    if (k.sslCertificateLocation) props['ssl.certificate.location'] = k.sslCertificateLocation;
    if (k.sslKeyLocation) props['ssl.key.location'] = k.sslKeyLocation;
    if (k.sslKeyPassword) props['ssl.key.password'] = k.sslKeyPassword;
  }
  return props;
}

/** librdkafka properties of a transactional producer: the worker's sinks and the CDC connector's. */
export function transactionalProps(
  config: Config,
  transactionalId: string,
): Record<string, string | number | boolean> {
  const timeout = config.kafka.transactionTimeoutMs;
  return {
    'transactional.id': transactionalId,
    'enable.idempotence': true,
    'transaction.timeout.ms': timeout,
    // librdkafka refuses a socket timeout over the transaction timeout (+100 ms); its default is 60 s.
    'socket.timeout.ms': Math.min(60_000, timeout),
    'linger.ms': 2,
    'compression.type': 'lz4',
  };
}

/** Connects an admin client and proves the cluster answers, or throws one clear sentence. */
export async function connectAdmin(kafka: KafkaClient, config: Config): Promise<KafkaAdmin> {
  const admin = kafka.admin();
  const where = config.kafka.brokers.join(',');
  try {
    await admin.connect();
    await withTimeout(
      admin.listTopics({ timeout: config.kafka.connectTimeoutMs }),
      config.kafka.connectTimeoutMs + 1_000,
      `no answer within ${config.kafka.connectTimeoutMs} ms`,
    );
    return admin;
  } catch (err) {
    await admin.disconnect().catch(() => undefined);
    const security = securityWatchOf(kafka)?.explain(config);
    if (security !== undefined && security.code !== 'KAFKA_UNREACHABLE')
      throw new FanoutError(security.code, `Kafka at ${where}: ${security.sentence}`, {
        retriable: false,
        cause: err,
      });
    const why =
      err instanceof FanoutError ? err.message : classifyKafkaError(err, 'list topics').message;
    const hint = security === undefined ? '' : ` (${security.sentence})`;
    throw new FanoutError('KAFKA_UNREACHABLE', `Kafka at ${where} is unreachable: ${why}${hint}`, {
      retriable: true,
      cause: err,
    });
  }
}

/** A topic the product needs, with its partitioning and cleanup policy. */
export interface TopicSpec {
  readonly topic: string;
  readonly partitions: number;
  readonly compacted: boolean;
}

/** Every topic of the product, from config. */
export function productTopics(config: Config): TopicSpec[] {
  const t = config.topics;
  return [
    { topic: t.tweetsCdc, partitions: t.cdcPartitions, compacted: false },
    { topic: t.cdcOffsets, partitions: 1, compacted: true },
    { topic: t.checkpoints, partitions: t.cdcPartitions, compacted: true },
    { topic: t.completed, partitions: t.cdcPartitions, compacted: false },
    { topic: t.tasks, partitions: t.tasksPartitions, compacted: false },
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
  const missing = specs.filter((s) => !existing.has(s.topic));
  if (missing.length === 0) return [];
  try {
    await admin.createTopics({
      topics: missing.map((s) => ({
        topic: s.topic,
        numPartitions: s.partitions,
        replicationFactor: config.kafka.replicationFactor,
        configEntries: s.compacted ? [{ name: 'cleanup.policy', value: 'compact' }] : [],
      })),
    });
  } catch (err) {
    // Another process may have created one meanwhile: only a topic that is still missing fails.
    const now = new Set(await admin.listTopics());
    if (missing.some((s) => !now.has(s.topic))) throw classifyKafkaError(err, 'create topics');
  }
  const created = missing.map((s) => s.topic);
  await untilServed(admin, created, config.kafka.connectTimeoutMs);
  return created;
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
  const groups = (await admin.listGroups()).groups
    .map((g) => g.groupId)
    .filter((g) => g.startsWith(prefix));
  const refused =
    groups.length === 0
      ? 0
      : await admin.deleteGroups(groups).then(
          () => 0,
          (err: unknown) => {
            const results = (err as { groups?: Array<{ errorCode: number }> }).groups;
            if (!results) throw err;
            return results.filter((r) => r.errorCode !== 0).length;
          },
        );
  return { topics: topics.length, groups: groups.length - refused, groupsRefused: refused };
}
