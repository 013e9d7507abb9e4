/**
 * The fan-out workers' Kafka source: one consumer-group member per worker, read_committed, no
 * auto commit (offsets move only inside the worker's transactions), small fetch and prefetch
 * queues so memory stays bounded while paused.
 *
 * Records are handed over without waiting: a celebrity fan-out takes minutes, and a consumer that
 * stops polling for `max.poll.interval.ms` is thrown out of the group. Backpressure is `pause()`
 * instead: the library keeps polling (and heartbeating) while no partition fetches.
 *
 * Membership is static (`group.instance.id` from the worker id): a worker restarted with the same
 * id takes its partitions back at once, without a rebalance, and fences the old process.
 */
import kafkaJs from '@confluentinc/kafka-javascript';
import type { Config } from '../../config/index.ts';
import { classifyKafkaError, FanoutError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { RecordSource, SourceListener } from '../streams.ts';
import type { KafkaClient, KafkaConsumer } from './client.ts';

const { CODES } = kafkaJs;

/** A rebalance callback as the KafkaJS-style consumer calls it (awaited before assign/unassign). */
type RebalanceCb = (err: { code: number }, assignment: Array<{ topic: string; partition: number }>, fns: { assignmentLost(): boolean }) => Promise<void>;

interface InternalClient {
  getWatermarkOffsets(topic: string, partition: number): { highOffset: number; lowOffset: number };
  on(event: 'event.error', cb: (err: Error & { isFatal?: boolean }) => void): void;
}

/** The Kafka implementation of {@link RecordSource} for one topic. */
export class KafkaRecordSource implements RecordSource {
  readonly topic: string;
  readonly #kafka: KafkaClient;
  readonly #config: Config;
  readonly #log: Logger;
  readonly #instanceId: string;
  #consumer: KafkaConsumer | undefined;
  #closing: Promise<void> | undefined;

  constructor(kafka: KafkaClient, config: Config, options: { workerId: string; log: Logger; topic?: string }) {
    this.#kafka = kafka;
    this.#config = config;
    this.#log = options.log.child('source');
    this.topic = options.topic ?? config.topics.tweetsCdc;
    this.#instanceId = `${config.pipeline.groupId}-worker-${options.workerId}`;
  }

  /** The consumer, for the transactional sink's `sendOffsets` (group metadata fences zombies). */
  get consumer(): KafkaConsumer {
    if (!this.#consumer) throw new FanoutError('SOURCE_NOT_STARTED', 'the Kafka source is not started', { retriable: false });
    return this.#consumer;
  }

  async start(listener: SourceListener): Promise<void> {
    const topic = this.topic;
    const rebalance: RebalanceCb = async (err, assignment, fns) => {
      const partitions = assignment.filter((a) => a.topic === topic).map((a) => a.partition);
      if (err.code === CODES.ERRORS.ERR__ASSIGN_PARTITIONS) {
        this.#log.info('partitions assigned', { partitions });
        await listener.assigned(partitions);
      } else if (err.code === CODES.ERRORS.ERR__REVOKE_PARTITIONS) {
        const lost = fns.assignmentLost();
        this.#log.info(lost ? 'partitions lost' : 'partitions revoked', { partitions });
        await listener.revoked(partitions, lost);
      }
    };
    const consumer = this.#kafka.consumer({
      'group.id': this.#config.pipeline.groupId,
      'group.instance.id': this.#instanceId,
      'isolation.level': 'read_committed',
      'enable.auto.commit': false,
      'auto.offset.reset': 'earliest',
      'partition.assignment.strategy': 'cooperative-sticky',
      'session.timeout.ms': this.#config.pipeline.sessionTimeoutMs,
      // Bounded memory: a small prefetch queue and small fetches (CDC records are ~0.5 KiB).
      'queued.min.messages': 100,
      'queued.max.messages.kbytes': 1_024,
      'fetch.max.bytes': 1_048_576,
      'max.partition.fetch.bytes': 262_144,
      rebalance_cb: rebalance,
    } as never);
    this.#consumer = consumer;
    try {
      await consumer.connect();
      (consumer as unknown as { _getInternalClient(): InternalClient })._getInternalClient().on('event.error', (err) => {
        if (err.isFatal === true) listener.failed(new FanoutError('KAFKA_FATAL', `consumer of ${topic}: ${err.message}`, { retriable: false, cause: err }));
      });
      await consumer.subscribe({ topics: [topic] });
      await consumer.run({
        eachMessage: async ({ partition, message }) => {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(message.headers ?? {})) {
            if (v !== undefined) headers[k] = Array.isArray(v) ? String(v[0]) : String(v);
          }
          listener.record({ topic, partition, offset: BigInt(message.offset), key: message.key, value: message.value, headers });
        },
      });
    } catch (err) {
      throw classifyKafkaError(err, `consume ${topic}`);
    }
  }

  pause(): void {
    this.#consumer?.pause([{ topic: this.topic }]);
  }

  resume(): void {
    this.#consumer?.resume([{ topic: this.topic }]);
  }

  highWatermark(partition: number): bigint | undefined {
    try {
      const internal = (this.#consumer as unknown as { _getInternalClient(): InternalClient | null } | undefined)?._getInternalClient();
      const high = internal?.getWatermarkOffsets(this.topic, partition).highOffset;
      return high === undefined || high < 0 ? undefined : BigInt(high);
    } catch {
      return undefined; // not fetched yet
    }
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#consumer?.disconnect().catch((err: unknown) => this.#log.warn('consumer disconnect failed', { err: String(err) }));
    })();
    return this.#closing;
  }
}
