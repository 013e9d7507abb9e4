import type { Config } from '../../config/index.ts';
import { createKafka } from '../../connectors/kafka/client.ts';
import { createLogger } from '../../lib/log.ts';
import { uniq } from './config.ts';

export interface Collected {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: string;
  headers: Record<string, string>;
}

/**
 * Reads `topics` from the beginning with a read_committed consumer until `done(records)` holds,
 * or rejects after `timeoutMs` with what it had (a deadline, not a sleep).
 */
export async function collect(
  config: Config,
  topics: string[],
  done: (records: Collected[]) => boolean,
  timeoutMs = 60_000,
): Promise<Collected[]> {
  const kafka = createKafka(config, createLogger('warn'));
  // A consumer notices a topic created after it subscribed only at its next metadata refresh
  // (minutes): wait for the topics to exist first.
  const admin = kafka.admin();
  await admin.connect();
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const existing = new Set(await admin.listTopics());
      if (topics.every((t) => existing.has(t))) break;
      if (Date.now() > deadline)
        throw new Error(
          `collect: topics ${topics.join(',')} were not created within ${timeoutMs} ms`,
        );
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await admin.disconnect();
  }
  const consumer = kafka.consumer({
    'group.id': `t-collect-${uniq()}`,
    'auto.offset.reset': 'earliest',
    'isolation.level': 'read_committed',
    'enable.auto.commit': false,
  } as never);
  await consumer.connect();
  await consumer.subscribe({ topics });
  const records: Collected[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `collect(${topics.join(',')}): condition not met within ${timeoutMs} ms; have ${records.length} records`,
            ),
          ),
        timeoutMs,
      );
      if (done(records)) {
        clearTimeout(timer);
        resolve();
        return;
      }
      consumer
        .run({
          eachMessage: async ({ topic, partition, message }) => {
            const headers: Record<string, string> = {};
            for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
            records.push({
              topic,
              partition,
              offset: message.offset,
              key: message.key ? String(message.key) : null,
              value: String(message.value),
              headers,
            });
            if (done(records)) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
    return records;
  } finally {
    await consumer.disconnect();
  }
}
