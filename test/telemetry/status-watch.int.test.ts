/**
 * `fanout status --watch` against the real Kafka: it redraws from the committed checkpoints until
 * stopped, a tweet's row moves as its checkpoint advances, and a delivered tweet shows as done.
 */
import { describe, expect, it } from 'vitest';
import type { Context } from '../../cli/context.ts';
import { status } from '../../cli/commands/status.ts';
import { loadConfig } from '../../config/index.ts';
import { connectAdmin, createKafka, ensureTopics } from '../../connectors/kafka/client.ts';
import { createLogger } from '../../lib/log.ts';
import { checkpointRecord } from '../../records/checkpoint.ts';
import { checkpointTopic } from '../support/topics.ts';
import { testSettings } from '../support/config.ts';

describe('fanout status --watch', () => {
  it('redraws a fan-out as its checkpoints advance, until stopped', async () => {
    const config = loadConfig({ env: {}, sets: testSettings() });
    const kafka = createKafka(config, createLogger('warn'));
    const admin = await connectAdmin(kafka, config);
    const producer = kafka.producer();
    try {
      await ensureTopics(admin, config);
      await producer.connect();
      const cp = (delivered: number, done: boolean) => ({
        tweetId: '6a1c0000-ea0a-11f1-95d5-2585f7b7471e',
        op: 'insert' as const,
        authorId: 7n,
        writeTime: 1n,
        cursor: BigInt(1_000_000 + delivered),
        delivered,
        total: 500_000,
        startedAt: Date.now(),
        done,
        finishedAt: done ? Date.now() : null,
      });
      const checkpoint = async (delivered: number, done = false): Promise<void> => {
        const r = checkpointRecord(
          checkpointTopic(config),
          { topic: config.topics.tweetsCdc, partition: 2, offset: 41n },
          cp(delivered, done),
        );
        await producer.send({
          topic: r.topic,
          messages: [{ key: r.key, value: r.value, partition: r.partition }],
        });
      };
      await checkpoint(100_000);
      const screens: string[] = [];
      const stop = new AbortController();
      const ctx = { config, admin: () => Promise.resolve(admin) } as unknown as Context;
      const watching = status(ctx, false, {
        watch: true,
        intervalMs: 100,
        signal: stop.signal,
        write: (s) => screens.push(s),
      });
      const row = (): string | undefined =>
        screens
          .at(-1)
          ?.split('\n')
          .find((l) => l.startsWith('6a1c0000'));
      const until = async (what: string, ok: () => boolean): Promise<void> => {
        const deadline = Date.now() + 30_000;
        while (!ok()) {
          if (Date.now() > deadline) throw new Error(`${what}; last screen:\n${screens.at(-1)}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      };
      await until('the tweet at 20%', () => row()?.includes(' 20% ') === true);
      await checkpoint(300_000);
      await until('the tweet at 60%, with a rate', () => /60% .*k\/s/.test(row() ?? ''));
      await checkpoint(500_000, true);
      await until('the tweet done', () => / done .* 0$/.test(row() ?? ''));
      stop.abort();
      await watching;
      const count = screens.length;
      await new Promise((r) => setTimeout(r, 300));
      expect(screens.length).toBe(count);
      expect(screens.at(-1)).toContain(
        `lag      ${config.pipeline.groupId} on ${config.topics.tweetsCdc}`,
      );
    } finally {
      await producer.disconnect();
      await admin.disconnect();
    }
  });
});
