/**
 * The product's one transactional producer, on librdkafka's own Producer: the fan-out worker's
 * sinks and the CDC connector use it. Each owner has a stable `transactional.id`: opening
 * (initTransactions) fences any older instance of it (its late commits fail) and aborts whatever
 * transaction that instance left open, at once rather than after `transaction.timeout.ms`.
 *
 * A commit is begin, produce, optionally send consumer offsets (with the consumer's group metadata,
 * KIP-447, so a member that lost its partitions cannot commit for them either), commit (which
 * flushes every record of the transaction first); on any failure it aborts, and the error says
 * whether a retry can help (./errors.ts: only fenced or fatal cannot). A commit that timed out
 * (a record not yet flushed to a partition whose leader just died) stays in progress inside
 * librdkafka, and every other transactional call, the abort and the next begin included, then
 * fails with "Conflicting commit_transaction API call is already in progress": when the abort
 * fails, the next commit first replaces the producer, whose initTransactions aborts the stuck
 * transaction on the broker.
 */
import kafkaJs from '@confluentinc/kafka-javascript';
import type { Config } from '../../config/index.ts';
import { FanoutError, withTimeout } from '../../lib/errors.ts';
import type { Logger } from '../../lib/log.ts';
import type { OutRecord, Transaction, TransactionalSink } from '../../ports/streams.ts';
import { asError, classifyKafkaError } from './errors.ts';
import { baseProps, transactionalProps } from './props.ts';
import { watchSecurity } from './security.ts';
import type { RawConsumer } from './source.ts';

type RawProducer = InstanceType<typeof kafkaJs.Producer>;
type Callback = (err: unknown) => void;

/** Consumer offsets to commit in a transaction: next offset to consume, per partition. */
export interface ConsumerOffsets {
  /** The group member that consumed them: its group metadata fences zombies (KIP-447). */
  readonly consumer: RawConsumer;
  readonly offsets: ReadonlyArray<{ topic: string; partition: number; offset: number }>;
}

/** A transactional producer with a stable id; `open` before `commit`, `close` when done. */
export class KafkaTransactions {
  readonly transactionalId: string;
  readonly #config: Config;
  readonly #log: Logger;
  readonly #props: Readonly<Record<string, string | number | boolean>>;
  #producer: RawProducer | undefined;
  /** The last commit could not abort: the producer is replaced before the next one. */
  #stuck = false;

  /** `props`: librdkafka producer properties of this owner on top of the shared ones. */
  constructor(
    config: Config,
    options: {
      transactionalId: string;
      log: Logger;
      props?: Readonly<Record<string, string | number | boolean>>;
    },
  ) {
    this.#config = config;
    this.#log = options.log;
    this.transactionalId = options.transactionalId;
    this.#props = options.props ?? {};
  }

  get isOpen(): boolean {
    return this.#producer !== undefined || this.#stuck;
  }

  /** Connects and initialises transactions (fencing older instances); a no-op when open. */
  async open(): Promise<void> {
    if (this.#producer) return;
    const k = this.#config.kafka;
    const producer = new kafkaJs.Producer(
      {
        ...baseProps(this.#config),
        ...transactionalProps(this.#config, this.transactionalId),
        ...this.#props,
      },
      {},
    );
    const security = watchSecurity(producer, this.#config, this.#log.child('librdkafka'));
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
      await call((cb) => producer.initTransactions(k.transactionTimeoutMs, cb));
    } catch (err) {
      await this.#disconnect(producer);
      throw security.failure(err, `initialise transactions of ${this.transactionalId}`, {
        inTransaction: true,
      });
    }
    this.#producer = producer;
  }

  /** Produces `records` and moves `offsets` (if any) in one transaction; aborts it on failure. */
  async commit(records: readonly OutRecord[], offsets?: ConsumerOffsets): Promise<void> {
    if (this.#stuck) {
      // Not close(): while the new producer cannot open, the next commit tries again.
      const old = this.#producer;
      this.#producer = undefined;
      if (old) await this.#disconnect(old);
      await this.open();
      this.#stuck = false;
      this.#log.info('transactional producer replaced after a commit it could not abort', {
        transactionalId: this.transactionalId,
      });
    }
    const producer = this.#producer;
    if (!producer)
      throw new FanoutError(
        'TRANSACTIONS_NOT_OPEN',
        `the transactional producer ${this.transactionalId} is not open`,
        { retriable: false },
      );
    const moves = offsets?.offsets ?? [];
    if (records.length === 0 && moves.length === 0) return;
    const timeout = this.#config.kafka.transactionTimeoutMs;
    await call((cb) => producer.beginTransaction(cb)).catch((err: unknown) => {
      throw classifyKafkaError(err, `begin a transaction of ${this.transactionalId}`, {
        inTransaction: true,
      });
    });
    try {
      for (const r of records) {
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
      if (offsets && moves.length > 0)
        await call((cb) =>
          producer.sendOffsetsToTransaction([...moves], offsets.consumer, timeout, cb),
        );
      await call((cb) => producer.commitTransaction(timeout, cb));
    } catch (err) {
      const failure = classifyKafkaError(
        err,
        `transaction of ${records.length} records and ${moves.length} offsets of ${this.transactionalId}`,
        { inTransaction: true },
      );
      await call((cb) => producer.abortTransaction(timeout, cb)).catch((abortErr: unknown) => {
        // A fenced or fatal producer is never replaced: that would fence its successor back.
        this.#stuck = failure.retriable;
        this.#log.warn('abort failed', { err: String(abortErr), replace: this.#stuck });
      });
      throw failure;
    }
  }

  /** Disconnects; the next `open` starts a fresh producer (and fences this one's leftovers). */
  async close(): Promise<void> {
    const p = this.#producer;
    this.#producer = undefined;
    this.#stuck = false;
    if (p) await this.#disconnect(p);
  }

  async #disconnect(producer: RawProducer): Promise<void> {
    producer.setPollInterval(0);
    if (!producer.isConnected()) return;
    await new Promise<void>((resolve) => {
      producer.disconnect(5_000, (err: unknown) => {
        if (err) this.#log.debug('producer disconnect failed', { err: asError(err).message });
        resolve();
      });
    });
  }
}

/** The transactional id of a worker (unique per consumer group and worker id); `lane`: a second producer of it (e.g. `tasks`). */
export const workerTransactionalId = (config: Config, workerId: string, lane?: string): string =>
  `${config.kafka.clientId}-${config.pipeline.groupId}-worker-${workerId}${lane ? `-${lane}` : ''}`;

/** The Kafka implementation of {@link TransactionalSink}: the worker's source offsets move with its records. */
export class KafkaTransactionalSink implements TransactionalSink {
  readonly #transactions: KafkaTransactions;
  readonly #source: { readonly topic: string; readonly consumer: RawConsumer };

  constructor(
    config: Config,
    options: {
      transactionalId: string;
      source: { readonly topic: string; readonly consumer: RawConsumer };
      log: Logger;
    },
  ) {
    this.#transactions = new KafkaTransactions(config, {
      transactionalId: options.transactionalId,
      log: options.log.child('sink'),
    });
    this.#source = options.source;
  }

  open(): Promise<void> {
    return this.#transactions.open();
  }

  async commit(tx: Transaction): Promise<void> {
    if (!this.#transactions.isOpen)
      throw new FanoutError('SINK_NOT_OPEN', 'the transactional sink is not open', {
        retriable: false,
      });
    if (tx.offsets.length === 0 && tx.records.length === 0) return;
    const topic = this.#source.topic;
    await this.#transactions.commit(
      tx.records,
      tx.offsets.length === 0
        ? undefined
        : {
            // Read only now: the consumer exists once the source has started.
            consumer: this.#source.consumer,
            offsets: tx.offsets.map((o) => ({
              topic,
              partition: o.partition,
              offset: Number(o.offset),
            })),
          },
    );
  }

  close(): Promise<void> {
    return this.#transactions.close();
  }
}

function call(fn: (cb: Callback) => void): Promise<void> {
  return new Promise<void>((resolve, reject) =>
    fn((err) => (err ? reject(asError(err)) : resolve())),
  );
}
