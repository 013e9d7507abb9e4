import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import kafkaJs from '@confluentinc/kafka-javascript';
import type { Config } from '../../config/index.ts';
import { withTimeout } from '../../lib/errors.ts';
import { classifyKafkaError } from './errors.ts';
import { baseProps } from './props.ts';
import { watchSecurity } from './security.ts';

/** librdkafka's logical offset for 'the beginning of the partition'. */
const OFFSET_BEGINNING = -2;

export interface ReadOptions {
  /** Gives up after this long (default: long enough to wait out an open transaction). */
  readonly timeoutMs?: number;
  /** Per partition, the offset to read from (default: its beginning). */
  readonly from?: ReadonlyMap<number, number>;
  /** Cancels the read: it rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

/** A record read back from a state topic. */
export interface StateRecord {
  readonly partition: number;
  readonly offset: number;
  readonly key: string | null;
  /** null for a tombstone. */
  readonly value: Buffer | null;
}

/**
 * Reads the given partitions of a (compacted) state topic from the beginning (or from the offsets
 * in `from`) to their current end, committed records only, and returns them in order. Used to
 * restore source offsets, fan-out checkpoints and split tallies.
 *
 * The end is every record committed before the read: a partition is done at a partition EOF
 * (which accounts for transaction control records: a read_committed reader never sees the commit
 * markers, so comparing the last message offset with the high watermark would wait forever) at
 * or past the high watermark seen at its first EOF. A read_committed fetch stops at the last
 * stable offset, so while another producer's transaction is open on the partition (a worker
 * SIGKILLed mid-commit: open until `kafka.transactionTimeoutMs`) the first EOF comes early, and
 * records committed after that transaction began (another lane's, another worker's) would be
 * missed: a new owner would restore an older tally than its committed offset and never complete
 * the split. So the read waits for the open transaction to end; the default timeout covers it.
 */
export async function readToEnd(
  config: Config,
  topic: string,
  partitions: readonly number[],
  options: ReadOptions = {},
): Promise<StateRecord[]> {
  const { timeoutMs = config.kafka.transactionTimeoutMs + 30_000, from, signal } = options;
  signal?.throwIfAborted();
  const consumer = new kafkaJs.KafkaConsumer(
    {
      ...baseProps(config),
      // Required by librdkafka even for manual assignment; nothing is ever committed under it.
      'group.id': `fanout-state-reader-${randomUUID()}`,
      'enable.auto.commit': false,
      'enable.partition.eof': true,
      'isolation.level': 'read_committed',
      // Without these, each consume() call waits its full default timeout (about 1 s) even when
      // the partition is empty or at its end; with them a state read takes ~0.2 s.
      'fetch.wait.max.ms': 10,
    } as never,
    { 'auto.offset.reset': 'earliest' },
  ); // a `from` the log no longer holds: from its start, not its end
  const security = watchSecurity(consumer, config);
  consumer.setDefaultConsumeTimeout(100);
  // In the library (lib/kafka-consumer.js) but missing from its type declarations.
  (
    consumer as unknown as { setDefaultIsTimeoutOnlyForFirstMessage(v: boolean): void }
  ).setDefaultIsTimeoutOnlyForFirstMessage(true);
  const records: StateRecord[] = [];
  const pending = new Set(partitions);
  /** Set once the read is over (done, failed, cancelled): callbacks still to come must not touch the consumer. */
  let closing = false;
  /** Resolves when connect() has called back: a disconnect that ran first would leave the consumer connected. */
  let connectReturned!: () => void;
  const connectDone = new Promise<void>((resolve) => {
    connectReturned = resolve;
  });
  /** Per partition, the high watermark at its first EOF: what the read must reach. */
  const ends = new Map<number, number>();
  const work = new Promise<void>((resolve, reject) => {
    consumer.on('partition.eof', (eof) => {
      if (!pending.has(eof.partition)) return;
      let end = ends.get(eof.partition);
      if (end === undefined) {
        try {
          end = consumer.getWatermarkOffsets(topic, eof.partition).highOffset;
        } catch {
          end = eof.offset; // no cached watermark (cannot happen after a fetch): the EOF is the end
        }
        ends.set(eof.partition, end);
      }
      if (eof.offset < end) return; // an open transaction holds the stable offset back: wait for it
      pending.delete(eof.partition);
      if (pending.size === 0) resolve();
    });
    // librdkafka reports every broker connection it loses or cannot make here, and retries on its
    // own: with one of several bootstrap brokers down, 1 read in 3 failed on "broker transport
    // failure" while the others answered. Only a fatal error ends the read; `timeoutMs` bounds the rest.
    consumer.on('event.error', (err) => {
      if ((err as { isFatal?: boolean }).isFatal === true)
        reject(classifyKafkaError(err, `read ${topic}`));
    });
    signal?.addEventListener(
      'abort',
      () => reject(signal.reason instanceof Error ? signal.reason : new Error('read cancelled')),
      { once: true },
    );
    consumer.connect({ timeout: config.kafka.connectTimeoutMs }, (err) => {
      connectReturned();
      if (closing) return; // cancelled or timed out while connecting: disconnected below
      if (err) {
        reject(security.failure(err, `connect to read ${topic}`));
        return;
      }
      if (pending.size === 0) {
        resolve();
        return;
      }
      consumer.assign(
        partitions.map((partition) => ({
          topic,
          partition,
          offset: from?.get(partition) ?? OFFSET_BEGINNING,
        })),
      );
      const loop = (): void => {
        if (pending.size === 0 || closing) return;
        consumer.consume(1_000, (cerr, messages) => {
          if (cerr) {
            reject(classifyKafkaError(cerr, `read ${topic}`));
            return;
          }
          for (const m of messages) {
            records.push({
              partition: m.partition,
              offset: m.offset,
              key: m.key === undefined || m.key === null ? null : String(m.key),
              value: m.value ?? null,
            });
          }
          setImmediate(loop);
        });
      };
      loop();
    });
  });
  try {
    await withTimeout(work, timeoutMs, `reading ${topic} to its end took over ${timeoutMs} ms`);
    return records;
  } finally {
    closing = true;
    // A read cancelled within milliseconds of its start: connect first, then disconnect (3 of 20
    // such reads leaked a connected consumer otherwise). connect() calls back within its timeout.
    await Promise.race([connectDone, sleep(config.kafka.connectTimeoutMs + 1_000)]);
    await new Promise<void>((resolve) => {
      consumer.disconnect(() => resolve());
    });
  }
}
