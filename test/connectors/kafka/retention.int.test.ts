/**
 * Issue #17, retention: a worker whose committed offset fell out of retention (the records after
 * it deleted before it fanned them out) stops with OFFSET_OUT_OF_RANGE instead of resetting to
 * the earliest offset and skipping them silently; with pipeline.offsetReset=earliest it goes on
 * from the oldest record left, after a loud warning. A partition the group never committed still
 * starts at its beginning.
 */
import kafkaJs from '@confluentinc/kafka-javascript';
import { describe, expect, it } from 'vitest';
import type { Config } from '../../../config/index.ts';
import { baseProps } from '../../../connectors/kafka/props.ts';
import { createLogger } from '../../../lib/log.ts';
import { Worker } from '../../../pipeline/worker.ts';
import { workerPorts } from '../../../pipeline/connect.ts';
import {
  completedEvents,
  newTweet,
  produceEvents,
  testEnv,
  tweetEvent,
  LONELY,
} from '../../pipeline/fixtures.ts';

/** Commits `offset` for partition 0 of the tweets topic in the workers' group, as a worker would have. */
async function commitOffset(config: Config, offset: number): Promise<void> {
  const consumer = new kafkaJs.KafkaConsumer(
    { ...baseProps(config), 'group.id': config.pipeline.groupId, 'enable.auto.commit': false },
    {},
  );
  await new Promise<void>((res, rej) =>
    consumer.connect({}, (err) => (err ? rej(new Error(String(err.message))) : res())),
  );
  try {
    consumer.commitSync([{ topic: config.topics.tweetsCdc, partition: 0, offset }]);
  } finally {
    await new Promise<void>((res) => consumer.disconnect(() => res()));
  }
}

/** Deletes the records of partition 0 before `offset` (what retention does). */
async function deleteBefore(config: Config, offset: number): Promise<void> {
  const admin = kafkaJs.AdminClient.create(baseProps(config));
  try {
    await new Promise<void>((res, rej) =>
      admin.deleteRecords(
        [{ topic: config.topics.tweetsCdc, partition: 0, offset }],
        { timeout: 10_000, operationTimeout: 10_000 },
        (err) => (err ? rej(new Error(String(err.message))) : res()),
      ),
    );
  } finally {
    admin.disconnect();
  }
}

async function outOfRangeWorld(sets: string[] = []) {
  const env = await testEnv(sets, { celebrity: false });
  const { config } = env;
  const tweets = Array.from({ length: 10 }, () => newTweet());
  // Tweets by an author with no followers: each completes at once.
  await produceEvents(
    config,
    tweets.map((t) => tweetEvent(config, 'insert', t.tweetId, LONELY, t.writeTime)),
    0,
  );
  await commitOffset(config, 3); // a worker fanned out 0..2 ...
  await deleteBefore(config, 6); // ... then 3..5 fell out of retention before it came back
  return { ...env, tweets };
}

describe('a committed offset out of retention (real Kafka)', () => {
  it('stops the worker with OFFSET_OUT_OF_RANGE: nothing after it is skipped silently', async () => {
    const { config, client, tweets } = await outOfRangeWorld();
    const log = createLogger('error');
    const worker = new Worker({
      config,
      workerId: '0',
      log,
      ports: workerPorts(config, client, log, '0'),
    });
    const err = await worker.start().then(
      () => new Error('the worker stopped without an error'),
      (e: unknown) => e as Error,
    );
    await worker.close();
    expect((err as { code?: string }).code).toBe('OFFSET_OUT_OF_RANGE');
    expect(err.message).toMatch(/out of range.*pipeline\.offsetReset=earliest/);
    // Nothing was fanned out past the gap: no completion for any of the tweets left.
    const done = new Set((await completedEvents(config)).map((c) => c.tweetId));
    for (const t of tweets.slice(6)) expect(done.has(t.tweetId)).toBe(false);
  });

  it('with pipeline.offsetReset=earliest it goes on from the oldest record left, saying so', async () => {
    const { config, client, tweets } = await outOfRangeWorld(['pipeline.offsetReset=earliest']);
    const lines: string[] = [];
    const log = createLogger('warn', 'fanout', (l) => lines.push(l));
    const worker = new Worker({
      config,
      workerId: '0',
      log,
      ports: workerPorts(config, client, log, '0'),
    });
    const running = worker.start().catch(() => undefined);
    try {
      const deadline = Date.now() + 60_000;
      let done = new Set<string>();
      while (tweets.slice(6).some((t) => !done.has(t.tweetId))) {
        if (Date.now() > deadline) throw new Error(`not completed: have ${[...done].join(',')}`);
        await new Promise((r) => setTimeout(r, 250));
        done = new Set((await completedEvents(config)).map((c) => c.tweetId));
      }
      expect(lines.some((l) => /pipeline\.offsetReset=earliest.*SKIPPED/.test(l))).toBe(true);
    } finally {
      await worker.close();
      await running;
    }
  });
});
