import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import kafkaJs from '@confluentinc/kafka-javascript';
import { describe, expect, inject, it } from 'vitest';
import {
  baseProps,
  connectAdmin,
  createKafka,
  ensureTopics,
} from '../../connectors/kafka/client.ts';
import { createLogger } from '../../lib/log.ts';
import type { OutRecord } from '../../ports/streams.ts';
import { loadConfig, type Config } from '../../config/index.ts';
import { testSettings } from '../support/config.ts';
import { checkpointRecord } from '../../records/checkpoint.ts';
import { taskRecords } from '../../records/task.ts';
import { checkpointTopic, workTopic } from '../support/topics.ts';

const MAIN = resolve(import.meta.dirname, '../../cli/main.ts');

type Lag = Array<{ partition: number; committed: number; end: number; lag: number }>;

/** `fanout status --json` in a child process, against the test's services and topics. */
function runStatus(sets: string[]): {
  tweets: Array<Record<string, unknown>>;
  lag: unknown[];
  tasks: { group: string; lag: Lag };
  graph: { group: string; topic: string; lag: Lag };
} {
  return JSON.parse(fanoutStatus(sets, ['--json'])) as ReturnType<typeof runStatus>;
}

/** `fanout status [flags]` in a child process: its stdout. */
function fanoutStatus(sets: string[], flags: string[]): string {
  const s = inject('services');
  const out = spawnSync(
    process.execPath,
    [MAIN, 'status', ...flags, ...sets.flatMap((x) => ['--set', x])],
    {
      encoding: 'utf8',
      timeout: 60_000,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        KAFKA_BROKERS: s.kafkaBrokers,
        CASSANDRA_CONTACT_POINTS: s.cassandraContactPoints,
      },
    },
  );
  expect(out.status, out.stderr).toBe(0);
  return out.stdout;
}

/** Sends records one at a time, in order (offsets follow the order per partition). */
/** Deletes a test's own topics (best effort) and disconnects the admin. */
async function dropTopics(
  admin: Awaited<ReturnType<typeof connectAdmin>>,
  config: Config,
): Promise<void> {
  const t = config.topics;
  await admin
    .deleteTopics({
      topics: [
        t.tweetsCdc,
        t.followersCdc,
        t.checkpoints,
        t.completed,
        t.tasks,
        t.deadLetter,
        t.cdcOffsets,
      ],
    })
    .catch(() => undefined);
  await admin.disconnect();
}

async function send(config: Config, records: readonly OutRecord[]): Promise<void> {
  const producer = createKafka(config, createLogger('warn')).producer();
  await producer.connect();
  try {
    for (const r of records)
      await producer.send({
        topic: r.topic,
        messages: [{ key: r.key, value: r.value, partition: r.partition }],
      });
  } finally {
    await producer.disconnect();
  }
}

/** Commits `offset` on one partition for `groupId`, as a member of no generation (what an offset reset does). */
async function commitGroupOffset(
  config: Config,
  groupId: string,
  topic: string,
  partition: number,
  offset: number,
): Promise<void> {
  const consumer = new kafkaJs.KafkaConsumer(
    { ...baseProps(config), 'group.id': groupId, 'enable.auto.commit': false },
    {},
  );
  await new Promise<void>((ok, fail) => {
    consumer.connect({ timeout: 10_000 }, (err) => (err ? fail(new Error(err.message)) : ok()));
  });
  try {
    consumer.commitSync([{ topic, partition, offset }]);
  } finally {
    await new Promise<void>((ok) => {
      consumer.disconnect(() => ok());
    });
  }
}

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
      const cp = {
        tweetId: '6a1c0000-ea0a-11f1-95d5-2585f7b7471c',
        op: 'insert' as const,
        authorId: 7n,
        writeTime: 1n,
        cursor: 1_312_000n,
        delivered: 312_000,
        total: 500_000,
        startedAt: Date.now(),
        done: false,
        finishedAt: null,
      };
      const r = checkpointRecord(
        checkpointTopic(config),
        { topic: config.topics.tweetsCdc, partition: 2, offset: 41n },
        cp,
      );
      await producer.send({
        topic: r.topic,
        messages: [{ key: r.key, value: r.value, partition: r.partition }],
      });
      await producer.disconnect();
      const status = runStatus(sets);
      expect(status.tweets).toEqual([
        expect.objectContaining({
          tweet: cp.tweetId,
          author: '7',
          delivered: 312_000,
          total: 500_000,
          remaining: 188_000,
          cursor: '1312000',
          source: '2@41',
        }),
      ]);
      expect(status.lag.length).toBe(config.topics.cdcPartitions);
    } finally {
      await dropTopics(admin, config);
    }
  });
  it('shows a split fan-out from its pending tasks and their checkpoints, not from work its task lanes committed', async () => {
    const sets = testSettings(['topics.tasksPartitions=8']);
    const config = loadConfig({ env: {}, sets });
    const kafka = createKafka(config, createLogger('warn'));
    const admin = await connectAdmin(kafka, config);
    try {
      await ensureTopics(admin, config);
      const tweet = {
        authorId: 7n,
        op: 'insert' as const,
        writeTime: 1n,
        expiresAt: null,
        startedAt: Date.now(),
        traceparent: undefined,
      };
      const SPLIT = '6a1c0000-ea0a-11f1-95d5-2585f7b7471d';
      const plan = {
        total: 200,
        ranges: [0, 1, 2, 3].map((i) => ({
          after: i === 0 ? null : BigInt(i * 50),
          upTo: i === 3 ? null : BigInt((i + 1) * 50),
          rows: 50,
        })),
      };
      const tasks = taskRecords(
        workTopic(config),
        { ...tweet, tweetId: SPLIT },
        { topic: config.topics.tweetsCdc, partition: 1, offset: 9n },
        plan,
      );
      const p0 = tasks[0]!.partition!;
      // An older split's task, first on task 0's partition: the task lanes have committed past it.
      const older = taskRecords(
        workTopic(config),
        { ...tweet, tweetId: '6a1c0000-ea0a-11f1-95d5-2585f7b7471e' },
        { topic: config.topics.tweetsCdc, partition: 0, offset: 3n },
        { total: 10, ranges: [{ after: null, upTo: null, rows: 10 }] },
      )[0]!;
      await send(config, [{ ...older, partition: p0 }, ...tasks]);
      await commitGroupOffset(
        config,
        `${config.pipeline.groupId}.tasks`,
        config.topics.tasks,
        p0,
        1,
      );
      // Task 1 is in progress: its checkpoint is keyed by where it sits (offset 0 of its partition).
      await send(config, [
        checkpointRecord(
          checkpointTopic(config),
          { topic: config.topics.tasks, partition: tasks[1]!.partition!, offset: 0n },
          {
            tweetId: SPLIT,
            op: 'insert',
            authorId: 7n,
            writeTime: 1n,
            cursor: 70n,
            delivered: 20,
            total: 50,
            startedAt: Date.now(),
            done: false,
            finishedAt: null,
          },
        ),
      ]);
      const status = runStatus(sets);
      expect(status.tweets).toEqual([
        expect.objectContaining({
          tweet: SPLIT,
          author: '7',
          delivered: 20,
          total: 200,
          remaining: 180,
          cursor: null,
          source: '1@9',
          split: { tasks: 4, done: 0, inProgress: 1, waiting: 3 },
        }),
      ]);
      expect(status.tasks.lag.find((l) => l.partition === p0)).toEqual({
        partition: p0,
        committed: 1,
        end: 2,
        lag: 1,
      });
    } finally {
      await dropTopics(admin, config);
    }
  });

  it("shows the graph lanes' lag on the followers CDC topic, per partition, in text and JSON", async () => {
    const sets = testSettings();
    const config = loadConfig({ env: {}, sets });
    const kafka = createKafka(config, createLogger('warn'));
    const admin = await connectAdmin(kafka, config);
    const group = `${config.pipeline.groupId}.graph`;
    const topic = config.topics.followersCdc;
    try {
      await ensureTopics(admin, config);
      // Status reads offsets only: what the records hold does not matter here.
      const follow = { topic, partition: 1, key: 'k', value: 'v' };
      await send(config, [follow, follow, follow]);
      await commitGroupOffset(config, group, topic, 1, 1);
      const status = runStatus(sets);
      expect(status.graph.group).toBe(group);
      expect(status.graph.topic).toBe(topic);
      expect(status.graph.lag.length).toBe(config.topics.cdcPartitions);
      expect(status.graph.lag.find((l) => l.partition === 1)).toEqual({
        partition: 1,
        committed: 1,
        end: 3,
        lag: 2,
      });
      expect(fanoutStatus(sets, []).split('\n')).toContain(
        `group ${group} on ${topic}: 2 offsets behind over ${config.topics.cdcPartitions} partitions (partition:lag 1:2) (follows and unfollows)`,
      );
    } finally {
      await dropTopics(admin, config);
    }
  });
});
