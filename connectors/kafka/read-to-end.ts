import { randomUUID } from 'node:crypto';
import kafkaJs from '@confluentinc/kafka-javascript';
import type { Config } from '../../config/index.ts';
import { classifyKafkaError, withTimeout } from '../errors.ts';
import { baseProps } from './client.ts';

/** librdkafka's logical offset for 'the beginning of the partition'. */
const OFFSET_BEGINNING = -2;

/** A record read back from a state topic. */
export interface StateRecord {
  readonly partition: number;
  readonly offset: number;
  readonly key: string | null;
  /** null for a tombstone. */
  readonly value: Buffer | null;
}

/**
 * Reads the given partitions of a (compacted) state topic from the beginning to their current end,
 * committed records only, and returns them in order. Used to restore source offsets and fan-out
 * checkpoints. End detection relies on librdkafka's partition EOF, which accounts for transaction
 * control records (a read_committed reader never sees the commit markers, so comparing the last
 * message offset with the high watermark would wait forever).
 */
export async function readToEnd(config: Config, topic: string, partitions: readonly number[], timeoutMs = 30_000): Promise<StateRecord[]> {
  const consumer = new kafkaJs.KafkaConsumer({
    ...baseProps(config),
    // Required by librdkafka even for manual assignment; nothing is ever committed under it.
    'group.id': `fanout-state-reader-${randomUUID()}`,
    'enable.auto.commit': false,
    'enable.partition.eof': true,
    'isolation.level': 'read_committed',
    // Without these, each consume() call waits its full default timeout (about 1 s) even when
    // the partition is empty or at its end; with them a state read takes ~0.2 s.
    'fetch.wait.max.ms': 10,
  } as never, {});
  consumer.setDefaultConsumeTimeout(100);
  // In the library (lib/kafka-consumer.js) but missing from its type declarations.
  (consumer as unknown as { setDefaultIsTimeoutOnlyForFirstMessage(v: boolean): void }).setDefaultIsTimeoutOnlyForFirstMessage(true);
  const records: StateRecord[] = [];
  const pending = new Set(partitions);
  const work = new Promise<void>((resolve, reject) => {
    consumer.on('partition.eof', (eof) => {
      pending.delete(eof.partition);
      if (pending.size === 0) resolve();
    });
    consumer.on('event.error', (err) => reject(classifyKafkaError(err, `read ${topic}`)));
    consumer.connect({ timeout: config.kafka.connectTimeoutMs }, (err) => {
      if (err) { reject(classifyKafkaError(err, `connect to read ${topic}`)); return; }
      if (pending.size === 0) { resolve(); return; }
      consumer.assign(partitions.map((partition) => ({ topic, partition, offset: OFFSET_BEGINNING })));
      const loop = (): void => {
        if (pending.size === 0) return;
        consumer.consume(1_000, (cerr, messages) => {
          if (cerr) { reject(classifyKafkaError(cerr, `read ${topic}`)); return; }
          for (const m of messages) {
            records.push({ partition: m.partition, offset: m.offset, key: m.key === undefined || m.key === null ? null : String(m.key), value: m.value ?? null });
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
    await new Promise<void>((resolve) => { consumer.disconnect(() => resolve()); });
  }
}
