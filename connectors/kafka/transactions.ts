/**
 * The product's one transactional producer, on librdkafka's own Producer: the fan-out worker's
 * sinks and the CDC connector use it. Each owner has a stable `transactional.id`: opening
 * (initTransactions) fences any older instance of it (its late commits fail) and aborts whatever
 * transaction that instance left open, at once rather than after `transaction.timeout.ms`.
 *
 * A commit is begin, produce, optionally send consumer offsets (with the consumer's group metadata,
 * KIP-447, so a member that lost its partitions cannot commit for them either), commit (which
 * flushes every record of the transaction first). A failure before the commit call aborts, and
 * the error says whether a retry can help (./errors.ts: only fenced or fatal cannot): nothing of
 * it is visible, so the caller may plan and commit again.
 *
 * The commit call itself has three outcomes, never a fourth. Committed. Must abort (librdkafka's
 * txn-requires-abort: nothing was committed): aborted, retriable. Timed out or retriable (a slow
 * coordinator, a record not yet flushed to a partition whose leader just died): the outcome is
 * unknown, since the coordinator may already hold the EndTxn and commit it in the background.
 * Aborting then fails ("Conflicting commit_transaction API call is already in progress"), and
 * committing the same records again in a new transaction would deliver them twice (shown with a
 * real broker: test/connectors/kafka/transactions.int.test.ts). So a retriable commit is resumed, as
 * librdkafka asks: the same call again on the same producer, for the outage budget
 * (`retry.outageBudgetMs`), until it returns the real outcome. When the budget is spent the
 * outcome is still unknown: the error is not retriable, and the process restarts from what Kafka
 * holds. Only when an abort after a failure before the commit call fails is the producer
 * replaced before the next commit, whose initTransactions aborts that transaction on the broker.
 */
import kafkaJs from '@confluentinc/kafka-javascript';
import type { Config } from '../../config/index.ts';
import { FanoutError, withTimeout } from '../../lib/errors.ts';
import type { Logger } from '../../lib/log.ts';
import { retry } from '../../lib/retry.ts';
import type { OutRecord, Transaction, TransactionalSink } from '../../ports/streams.ts';
import { asError, classifyKafkaError, commitMustAbort, commitResumable } from './errors.ts';
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
  readonly #commitCallMs: number;
  #producer: RawProducer | undefined;
  /** The last transaction could not abort: the producer is replaced before the next one. */
  #stuck = false;

  /**
   * `props`: librdkafka producer properties of this owner on top of the shared ones.
   * `commitCallMs`: how long one commit call waits before it is resumed (default: the
   * transaction timeout; tests make it short to resume commits still in flight).
   */
  constructor(
    config: Config,
    options: {
      transactionalId: string;
      log: Logger;
      props?: Readonly<Record<string, string | number | boolean>>;
      commitCallMs?: number;
    },
  ) {
    this.#config = config;
    this.#log = options.log;
    this.transactionalId = options.transactionalId;
    this.#props = options.props ?? {};
    this.#commitCallMs = options.commitCallMs ?? config.kafka.transactionTimeoutMs;
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
    const what = (): string =>
      `transaction of ${records.length} records and ${moves.length} offsets of ${this.transactionalId}`;
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
    } catch (err) {
      const failure = classifyKafkaError(err, what(), { inTransaction: true });
      await this.#abort(producer, failure);
      throw failure;
    }
    await this.#finish(producer, what);
  }

  /**
   * The commit call, resumed while librdkafka says it is retriable (see the header): resolves
   * once committed; rejects retriable only when nothing was committed (aborted), and not
   * retriable when fenced, fatal, or still unknown after the outage budget.
   */
  async #finish(producer: RawProducer, what: () => string): Promise<void> {
    try {
      await retry(
        this.#config.retry,
        () => call((cb) => producer.commitTransaction(this.#commitCallMs, cb)),
        {
          what: `commit ${what()}`,
          isRetriable: commitResumable,
          waitingOn: () => 'kafka',
          log: this.#log,
        },
      );
    } catch (err) {
      if (err instanceof FanoutError && err.code === 'RETRIES_EXHAUSTED')
        throw new FanoutError(
          'KAFKA_COMMIT_UNKNOWN',
          `${err.message}; whether it committed is unknown, so it is not redone here: the process must restart from what Kafka holds`,
          { retriable: false, cause: err },
        );
      const failure = classifyKafkaError(err, what(), { inTransaction: true });
      if (!failure.retriable) throw failure; // fenced or fatal: nothing more to do with it
      if (commitMustAbort(err)) {
        await this.#abort(producer, failure);
        throw failure;
      }
      // Neither committed nor abortable by librdkafka's word: only a successful abort says
      // nothing was committed.
      const unknown = new FanoutError('KAFKA_COMMIT_UNKNOWN', failure.message, {
        retriable: false,
        cause: err,
      });
      throw (await this.#abort(producer, unknown)) ? failure : unknown;
    }
  }

  /**
   * Aborts the open transaction after `failure`; true when it did (nothing was committed). A
   * failed abort of a retriable failure replaces the producer before the next commit.
   */
  async #abort(producer: RawProducer, failure: FanoutError): Promise<boolean> {
    const timeout = this.#config.kafka.transactionTimeoutMs;
    try {
      await call((cb) => producer.abortTransaction(timeout, cb));
      return true;
    } catch (abortErr) {
      // A fenced or fatal producer is never replaced: that would fence its successor back.
      this.#stuck = failure.retriable;
      this.#log.warn('abort failed', { err: String(abortErr), replace: this.#stuck });
      return false;
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
