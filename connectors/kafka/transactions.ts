/**
 * The fan-out worker's transactional producer. One per worker, with a stable `transactional.id`
 * derived from the worker id: when a worker restarts, initialising transactions fences the old
 * process (its late commits fail) and aborts whatever transaction it left open, at once rather
 * than after `transaction.timeout.ms`. Offsets are sent with the consumer's group metadata
 * (KIP-447), so a member that lost its partitions in a rebalance cannot commit for them either.
 */
import type { Config } from '../../config/index.ts';
import { FanoutError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Transaction, TransactionalSink } from '../streams.ts';
import type { KafkaClient, KafkaConsumer, KafkaProducer } from './client.ts';

/** The transactional id of a worker (unique per consumer group and worker id). */
export const workerTransactionalId = (config: Config, workerId: string): string =>
  `${config.kafka.clientId}-${config.pipeline.groupId}-worker-${workerId}`;

/**
 * Classifies a transactional producer error. Fatal ones (fenced by a newer instance, producer in
 * error state) end the worker; abortable and retriable ones allow a fresh transaction.
 */
export function classifyTransactionError(err: unknown, what: string): FanoutError {
  if (err instanceof FanoutError) return err;
  const e = err as { fatal?: boolean; abortable?: boolean; retriable?: boolean; message?: string; code?: number };
  if (e.fatal === true) return new FanoutError('KAFKA_FENCED', `${what}: ${e.message ?? String(err)}`, { retriable: false, cause: err });
  const retriable = e.abortable === true || e.retriable === true;
  return new FanoutError(retriable ? 'KAFKA_RETRIABLE' : 'KAFKA_FAILED', `${what}: ${e.message ?? String(err)}`, { retriable, cause: err });
}

/** The Kafka implementation of {@link TransactionalSink}. */
export class KafkaTransactionalSink implements TransactionalSink {
  readonly #kafka: KafkaClient;
  readonly #config: Config;
  readonly #log: Logger;
  readonly #transactionalId: string;
  readonly #source: { readonly topic: string; readonly consumer: KafkaConsumer };
  #producer: KafkaProducer | undefined;

  constructor(kafka: KafkaClient, config: Config, options: { transactionalId: string; source: { readonly topic: string; readonly consumer: KafkaConsumer }; log: Logger }) {
    this.#kafka = kafka;
    this.#config = config;
    this.#log = options.log.child('sink');
    this.#transactionalId = options.transactionalId;
    this.#source = options.source;
  }

  async open(): Promise<void> {
    if (this.#producer) return;
    const producer = this.#kafka.producer({
      'transactional.id': this.#transactionalId,
      'enable.idempotence': true,
      'transaction.timeout.ms': this.#config.kafka.transactionTimeoutMs,
      'linger.ms': 2,
      'compression.type': 'lz4',
    } as never);
    try {
      await producer.connect();
    } catch (err) {
      await producer.disconnect().catch(() => undefined);
      throw classifyTransactionError(err, `connect the transactional producer ${this.#transactionalId}`);
    }
    this.#producer = producer;
  }

  async commit(tx: Transaction): Promise<void> {
    const producer = this.#producer;
    if (!producer) throw new FanoutError('SINK_NOT_OPEN', 'the transactional sink is not open', { retriable: false });
    if (tx.offsets.length === 0 && tx.records.length === 0) return;
    const what = `transaction of ${tx.records.length} records and ${tx.offsets.length} offsets`;
    const t = await producer.transaction().catch((err: unknown) => { throw classifyTransactionError(err, 'begin transaction'); });
    try {
      if (tx.records.length > 0) {
        const byTopic = new Map<string, Array<{ key: string; value: string | null; partition?: number; headers?: Record<string, string> }>>();
        for (const r of tx.records) {
          let list = byTopic.get(r.topic);
          if (!list) byTopic.set(r.topic, (list = []));
          list.push({ key: r.key, value: r.value, ...(r.partition === undefined ? {} : { partition: r.partition }), ...(r.headers ? { headers: { ...r.headers } } : {}) });
        }
        await t.sendBatch({ topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) } as never);
      }
      if (tx.offsets.length > 0) {
        await t.sendOffsets({
          consumer: this.#source.consumer,
          topics: [{ topic: this.#source.topic, partitions: tx.offsets.map((o) => ({ partition: o.partition, offset: o.offset.toString() })) }],
        });
      }
      await t.commit();
    } catch (err) {
      await t.abort().catch((abortErr: unknown) => this.#log.debug('abort failed', { err: String(abortErr) }));
      throw classifyTransactionError(err, what);
    }
  }

  async close(): Promise<void> {
    const p = this.#producer;
    this.#producer = undefined;
    if (p) await p.disconnect().catch((err: unknown) => this.#log.debug('producer disconnect failed', { err: String(err) }));
  }
}
