import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { connectAdmin, createKafka, ensureTopics } from '../../connectors/kafka/client.ts';
import { createLogger } from '../../connectors/log.ts';
import { checkpointRecord } from '../../pipeline/records.ts';
import { loadConfig } from '../../config/index.ts';
import { testSettings } from '../support/config.ts';

const MAIN = resolve(import.meta.dirname, '../../cli/main.ts');

describe('fanout status', () => {
  it('shows fan-outs in progress from their committed checkpoints, with delivered and remaining', async () => {
    const sets = testSettings();
    const config = loadConfig({ env: {}, sets });
    const kafka = createKafka(config, createLogger('warn'));
    const admin = await connectAdmin(kafka, config);
    try {
      await ensureTopics(admin, config);
      const producer = kafka.producer();
      await producer.connect();
      const cp = { tweetId: '6a1c0000-ea0a-11f1-95d5-2585f7b7471c', op: 'insert' as const, authorId: 7n, writeTime: 1n, cursor: 1_312_000n, delivered: 312_000, total: 500_000, startedAt: Date.now(), done: false, finishedAt: null };
      const r = checkpointRecord(config, config.topics.tweetsCdc, 2, 41n, cp);
      await producer.send({ topic: r.topic, messages: [{ key: r.key, value: r.value, partition: r.partition }] });
      await producer.disconnect();
      const s = inject('services');
      const out = spawnSync(process.execPath, [MAIN, 'status', '--json', ...sets.flatMap((x) => ['--set', x])], {
        encoding: 'utf8', timeout: 60_000,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', KAFKA_BROKERS: s.kafkaBrokers, CASSANDRA_CONTACT_POINTS: s.cassandraContactPoints },
      });
      expect(out.status, out.stderr).toBe(0);
      const status = JSON.parse(out.stdout) as { tweets: Array<Record<string, unknown>>; lag: unknown[] };
      expect(status.tweets).toEqual([expect.objectContaining({ tweet: cp.tweetId, author: '7', delivered: 312_000, total: 500_000, remaining: 188_000, cursor: '1312000', source: '2@41' })]);
      expect(status.lag.length).toBe(config.topics.cdcPartitions);
    } finally {
      await admin.deleteTopics({ topics: [config.topics.tweetsCdc, config.topics.checkpoints, config.topics.completed, config.topics.tasks, config.topics.deadLetter, config.topics.cdcOffsets] }).catch(() => undefined);
      await admin.disconnect();
    }
  });
});
