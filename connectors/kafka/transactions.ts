/**
 * The fan-out worker's transactional producer. One per worker, with a stable `transactional.id`
 * derived from the worker id: when a worker restarts, initialising transactions fences the old
 * process (its late commits fail) and aborts whatever transaction it left open, at once rather
 * than after `transaction.timeout.ms`. Offsets are sent with the consumer's group metadata
 * (KIP-447), so a member that lost its partitions in a rebalance cannot commit for them either.
 * Uses librdkafka's producer directly, like the source: `sendOffsetsToTransaction` needs that
 * consumer, and `commitTransaction` flushes every record of the transaction first.
 */
import kafkaJs from '@confluentinc/kafka-javascript';
import type { Config } from '../../config/index.ts';
import { FanoutError, withTimeout } from '../../lib/errors.ts';
import type { Logger } from '../../lib/log.ts';
import type { Transaction, TransactionalSink } from '../../ports/streams.ts';
import { baseProps, transactionalProps } from './client.ts';
import { asError, type RawConsumer } from './source.ts';

type RawProducer = InstanceType<typeof kafkaJs.Producer>;
type Callback = (err: unknown) => void;

/** The transactional id of a worker (unique per consumer group and worker id); `lane`: a second producer of it (e.g. `tasks`). */
export const workerTransactionalId = (config: Config, workerId: string, lane?: string): string =>
  `${config.kafka.clientId}-${config.pipeline.groupId}-worker-${workerId}${lane ? `-${lane}` : ''}`;

/**
 * Codes of a producer that is fenced (a newer instance of its transactional id took over) or
 * otherwise in a fatal state. The KafkaJS-style layer drops librdkafka's `isFatal` flag (it
 * reads `fatal`, which librdkafka's errors do not have; seen on 1.10.1), so the code decides.
 * A fenced producer's records still queued come back purged: nothing else purges them while
 * a transaction is being produced (an abort comes after the error), so a purge means fenced.
 */
const FATAL_CODES: ReadonlySet<number> = new Set([
  kafkaJs.CODES.ERRORS.ERR__FATAL,
  kafkaJs.CODES.ERRORS.ERR__FENCED,
  kafkaJs.CODES.ERRORS.ERR_PRODUCER_FENCED,
  kafkaJs.CODES.ERRORS.ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
  kafkaJs.CODES.ERRORS.ERR__PURGE_QUEUE,
  kafkaJs.CODES.ERRORS.ERR__PURGE_INFLIGHT,
]);

/**
 * Classifies a transactional producer error. Fatal ones (fenced by a newer instance of the same
 * worker or connector, producer in error state) end it; any other (a broker down, a commit that
 * timed out) leaves a state a fresh producer recovers from: the work is redone from the last
 * committed offsets, and transactions keep it exactly once.
 */
export function classifyTransactionError(err: unknown, what: string): FanoutError {
  if (err instanceof FanoutError) return err;
  const e = err as { isFatal?: boolean; fatal?: boolean; code?: number; message?: string };
  const fatal =
    e.isFatal === true ||
    e.fatal === true ||
    (typeof e.code === 'number' && FATAL_CODES.has(e.code));
  return new FanoutError(
    fatal ? 'KAFKA_FENCED' : 'KAFKA_RETRIABLE',
    `${what}: ${e.message ?? String(err)}`,
    { retriable: !fatal, cause: err },
  );
}

/** The Kafka implementation of {@link TransactionalSink}. */
export class KafkaTransactionalSink implements TransactionalSink {
  readonly #config: Config;
  readonly #log: Logger;
  readonly #transactionalId: string;
  readonly #source: { readonly topic: string; readonly consumer: RawConsumer };
  #producer: RawProducer | undefined;

  constructor(
    config: Config,
    options: {
      transactionalId: string;
      source: { readonly topic: string; readonly consumer: RawConsumer };
      log: Logger;
    },
  ) {
    this.#config = config;
    this.#log = options.log.child('sink');
    this.#transactionalId = options.transactionalId;
    this.#source = options.source;
  }

  async open(): Promise<void> {
    if (this.#producer) return;
    const k = this.#config.kafka;
    const producer = new kafkaJs.Producer(
      { ...baseProps(this.#config), ...transactionalProps(this.#config, this.#transactionalId) },
      {},
    );
    try {
      await withTimeout(
        new Promise<void>((resolve, reject) => {
          producer.connect({ timeout: k.connectTimeoutMs }, (err) =>
            err ? reject(asError(err)) : resolve(),
          );
        }),
        k.connectTimeoutMs + 1_000,
        `the transactional producer did not connect within ${k.connectTimeoutMs} ms`,
        'KAFKA_UNREACHABLE',
      );
      producer.setPollInterval(100);
      // Fences any older instance of this worker and aborts its open transaction.
      await call((cb) => producer.initTransactions(k.transactionTimeoutMs, cb));
    } catch (err) {
      await this.#disconnect(producer);
      throw classifyTransactionError(err, `initialise transactions of ${this.#transactionalId}`);
    }
    this.#producer = producer;
  }

  async commit(tx: Transaction): Promise<void> {
    const producer = this.#producer;
    if (!producer)
      throw new FanoutError('SINK_NOT_OPEN', 'the transactional sink is not open', {
        retriable: false,
      });
    if (tx.offsets.length === 0 && tx.records.length === 0) return;
    const timeout = this.#config.kafka.transactionTimeoutMs;
    await call((cb) => producer.beginTransaction(cb)).catch((err: unknown) => {
      throw classifyTransactionError(err, 'begin a transaction');
    });
    try {
      for (const r of tx.records) {
        const headers = r.headers
          ? Object.entries(r.headers).map(([k, v]) => ({ [k]: v }))
          : undefined;
        producer.produce(
          r.topic,
          r.partition ?? null,
          r.value === null ? null : Buffer.from(r.value),
          r.key,
          null,
          null,
          headers,
        );
      }
      if (tx.offsets.length > 0) {
        const offsets = tx.offsets.map((o) => ({
          topic: this.#source.topic,
          partition: o.partition,
          offset: Number(o.offset),
        }));
        await call((cb) =>
          producer.sendOffsetsToTransaction(offsets, this.#source.consumer, timeout, cb),
        );
      }
      await call((cb) => producer.commitTransaction(timeout, cb));
    } catch (err) {
      await call((cb) => producer.abortTransaction(timeout, cb)).catch((abortErr: unknown) =>
        this.#log.debug('abort failed', { err: String(abortErr) }),
      );
      throw classifyTransactionError(
        err,
        `transaction of ${tx.records.length} records and ${tx.offsets.length} offsets`,
      );
    }
  }

  async close(): Promise<void> {
    const p = this.#producer;
    this.#producer = undefined;
    if (p) await this.#disconnect(p);
  }

  async #disconnect(producer: RawProducer): Promise<void> {
    producer.setPollInterval(0);
    if (!producer.isConnected()) return;
    await new Promise<void>((resolve) => {
      producer.disconnect(5_000, (err: unknown) => {
        if (err) this.#log.debug('producer disconnect failed', { err: (err as Error).message });
        resolve();
      });
    });
  }
}

function call(fn: (cb: Callback) => void): Promise<void> {
  return new Promise<void>((resolve, reject) =>
    fn((err) => (err ? reject(asError(err)) : resolve())),
  );
}
