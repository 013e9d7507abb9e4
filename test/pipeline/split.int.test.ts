import { describe, expect, it } from 'vitest';
import { writeSeed } from '../../cli/commands/seed.ts';
import type { Config } from '../../config/index.ts';
import { CassandraFollowerStore } from '../../connectors/cassandra/followers.ts';
import { withTimeout } from '../../lib/errors.ts';
import { CassandraTweetAuthorStore } from '../../connectors/cassandra/tweet-authors.ts';
import type { Worker } from '../../pipeline/worker.ts';
import { collect } from '../support/kafka.ts';
import {
  completedEvents,
  completionOf,
  FIRST as SMALL_FIRST,
  heldReads,
  holders,
  newTweet,
  produce,
  produceEvents,
  range,
  SMALL,
  spawnWorker,
  type TestEnv,
  testEnv,
  tweetEvent,
  within,
} from './fixtures.ts';
import { homePartition, taskRecords } from '../../records/task.ts';
import { workTopic } from '../support/topics.ts';

// Split fan-outs (issue #4, item 7) on real Kafka and Cassandra: an author of 60k followers,
// split above 20k into tasks of 10k (six tasks over the work topic's three partitions).
const STAR = 11n;
const FIRST = 5_000_000n;
const FOLLOWERS = 60_000;
const TASK = 10_000;
const SPLIT = ['pipeline.splitThreshold=20000', `pipeline.splitTaskSize=${TASK}`];
/** checkpointEvery × batchSize of the kill test: the most rows a crash makes a task redo. */
const READ_AHEAD = 10 * 50;

interface SplitCompletion {
  tweetId: string;
  followersDelivered: number;
  durationMs: number;
  resumed: boolean;
  workerId: string;
  split?: { tasks: number; workers: string[] };
}

async function seedStar(env: TestEnv): Promise<void> {
  const store = new CassandraFollowerStore(env.client, env.config.cassandra.keyspace);
  await writeSeed(
    store,
    {
      author: STAR,
      followers: FOLLOWERS,
      firstFollower: FIRST,
      tailAuthors: 0,
      tailMax: 1,
      seed: 1,
    },
    16,
  );
}

/** Every follower has the tweet exactly once (a timeline row per user and tweet), and no one else. */
async function expectDelivered(env: TestEnv, tweetId: string): Promise<void> {
  const ks = env.config.cassandra.keyspace;
  expect((await holders(env.client, ks, range(FIRST, FOLLOWERS), tweetId)).size).toBe(FOLLOWERS);
  const strangers = [...range(FIRST - 50n, 50), ...range(FIRST + BigInt(FOLLOWERS), 50)];
  expect((await holders(env.client, ks, strangers, tweetId)).size).toBe(0);
}

const onlyOne = async (config: Config, tweetId: string): Promise<SplitCompletion> => {
  const all = (await completedEvents(config)).filter(
    (c) => c.tweetId === tweetId,
  ) as unknown as SplitCompletion[];
  expect(all).toHaveLength(1);
  return all[0]!;
};

/** Both lanes of `w` own some partitions. */
const joined =
  (w: Worker, cdc: (n: number) => boolean, tasks: (n: number) => boolean) =>
  (): true | undefined => {
    const s = w.status();
    return s.state === 'running' && cdc(s.partitions.length) && tasks(s.taskPartitions.length)
      ? true
      : undefined;
  };

describe('split fan-outs of celebrity tweets', () => {
  it(
    'one worker: the split tweet is delivered through its tasks, with one completion',
    { timeout: 60_000 },
    async () => {
      const env = await testEnv(SPLIT, { celebrity: false });
      await seedStar(env);
      const w = env.startWorker('solo');
      await within(
        20_000,
        'both lanes assigned',
        joined(
          w,
          (n) => n === 3,
          (n) => n === 3,
        ),
      );
      const { tweetId, writeTime } = newTweet();
      await produceEvents(env.config, [tweetEvent(env.config, 'insert', tweetId, STAR, writeTime)]);
      const done = (await completionOf(
        env.config,
        tweetId,
        undefined,
        40_000,
      )) as unknown as SplitCompletion;
      console.log(
        `split fan-out of ${FOLLOWERS} followers, 1 worker: ${done.durationMs} ms (${Math.round(FOLLOWERS / (done.durationMs / 1000))} rows/s)`,
      );
      expect(done).toMatchObject({
        followersDelivered: FOLLOWERS,
        split: { tasks: 6, workers: ['solo'] },
      });
      await expectDelivered(env, tweetId);
      expect(w.status().totals).toMatchObject({ rowsWritten: FOLLOWERS, tweetsCompleted: 1 });
      await onlyOne(env.config, tweetId);
    },
  );

  it(
    'two workers deliver one celebrity tweet together: every follower once, one completion',
    { timeout: 60_000 },
    async () => {
      const env = await testEnv(SPLIT, { celebrity: false });
      await seedStar(env);
      const a = env.startWorker('a');
      const b = env.startWorker('b');
      for (const w of [a, b])
        await within(
          30_000,
          `${w.workerId} has task partitions`,
          joined(
            w,
            () => true,
            (n) => n > 0,
          ),
        );
      await within(30_000, 'task partitions shared', () =>
        a.status().taskPartitions.length + b.status().taskPartitions.length === 3
          ? true
          : undefined,
      );
      const { tweetId, writeTime } = newTweet();
      await produceEvents(env.config, [tweetEvent(env.config, 'insert', tweetId, STAR, writeTime)]);
      const done = (await completionOf(
        env.config,
        tweetId,
        undefined,
        40_000,
      )) as unknown as SplitCompletion;
      console.log(
        `split fan-out of ${FOLLOWERS} followers, 2 workers: ${done.durationMs} ms (${Math.round(FOLLOWERS / (done.durationMs / 1000))} rows/s)`,
      );
      expect(done.followersDelivered).toBe(FOLLOWERS);
      expect(new Set(done.split?.workers)).toEqual(new Set(['a', 'b']));
      await expectDelivered(env, tweetId);
      const rows = [a, b].map((w) => w.status().totals.rowsWritten);
      expect(rows[0]).toBeGreaterThan(0);
      expect(rows[1]).toBeGreaterThan(0);
      expect(rows[0]! + rows[1]!).toBe(FOLLOWERS);
      await Promise.all([a, b].map((w) => withTimeout(w.close(), 20_000, 'close took over 20 s')));
      await onlyOne(env.config, tweetId);
    },
  );

  it(
    'a worker SIGKILLed during a split fan-out: the other takes its tasks over, same end state, one completion',
    { timeout: 90_000 },
    async () => {
      // Slower writes, so the kill lands while tasks are in flight.
      const env = await testEnv(
        [
          ...SPLIT,
          'pipeline.batchSize=50',
          'pipeline.maxInFlightBatches=2',
          'pipeline.checkpointEvery=10',
          'pipeline.pageSize=500',
        ],
        { celebrity: false },
      );
      const { config } = env;
      await seedStar(env);
      const { child, stderr, exited } = spawnWorker(config, 'k');
      const survivor = env.startWorker('s');
      // The child owns some work-topic partitions once the survivor owns fewer than all three.
      await within(
        40_000,
        'the child joined both groups',
        joined(
          survivor,
          (n) => n > 0 && n < 3,
          (n) => n > 0 && n < 3,
        ),
      ).catch((err: unknown) => {
        throw new Error(`${(err as Error).message}; the child said: ${stderr()}`);
      });
      const childPartitions = [0, 1, 2].filter(
        (p) => !survivor.status().taskPartitions.includes(p),
      );
      const { tweetId, writeTime } = newTweet();
      await produceEvents(config, [tweetEvent(config, 'insert', tweetId, STAR, writeTime)]);
      // Kill the child once a committed checkpoint shows it well into a task of its own.
      const prefixes = childPartitions.map((p) => `${config.topics.tasks}/${p}/`);
      await collect(
        config,
        [config.topics.checkpoints],
        (records) =>
          records.some((r) => {
            if (r.key === null || !prefixes.some((x) => r.key!.startsWith(x)) || r.value === 'null')
              return false;
            const cp = JSON.parse(r.value) as { tweetId: string; delivered: number; done: boolean };
            return cp.tweetId === tweetId && cp.delivered >= 1_000 && !cp.done;
          }),
        40_000,
      ).catch((err: unknown) => {
        throw new Error(`${(err as Error).message}; the child said: ${stderr()}`);
      });
      child.kill('SIGKILL');
      await withTimeout(exited, 10_000, 'the killed worker did not exit');
      // What the child wrote: the rows of its tasks' ranges (task i: follower ids FIRST + i×10k …,
      // on work partition (home + 1 + i) mod 3), read before the survivor takes them over.
      const home = homePartition(tweetId, 3);
      const childTasks = Array.from({ length: 6 }, (_, i) => i).filter((i) =>
        childPartitions.includes((home + 1 + i) % 3),
      );
      const childRows = (
        await holders(
          env.client,
          config.cassandra.keyspace,
          childTasks.flatMap((i) => range(FIRST + BigInt(i * TASK), TASK)),
          tweetId,
        )
      ).size;
      expect(childRows).toBeGreaterThanOrEqual(1_000);
      expect((await completedEvents(config)).filter((c) => c.tweetId === tweetId)).toHaveLength(0);

      // After the session timeout the survivor owns every partition and resumes the dead one's tasks.
      const done = (await completionOf(
        config,
        tweetId,
        undefined,
        60_000,
      )) as unknown as SplitCompletion;
      console.log(
        `split fan-out with a worker killed half-way: ${done.durationMs} ms; survivor wrote ${survivor.status().totals.rowsWritten} rows`,
      );
      expect(done).toMatchObject({ followersDelivered: FOLLOWERS, resumed: true, workerId: 's' });
      await expectDelivered(env, tweetId);
      expect(survivor.status().taskPartitions).toEqual([0, 1, 2]);
      // Rows written twice: only those past the child's last committed checkpoint of each task it
      // had in flight, at most checkpointEvery × batchSize per task.
      const rework = childRows + survivor.status().totals.rowsWritten - FOLLOWERS;
      console.log(
        `child wrote ${childRows} rows of its ${childTasks.length} tasks; rework ${rework} rows (bound ${childTasks.length * READ_AHEAD})`,
      );
      expect(rework).toBeGreaterThanOrEqual(0);
      expect(rework).toBeLessThanOrEqual(childTasks.length * READ_AHEAD);
      await withTimeout(survivor.close(), 20_000, 'close took over 20 s');
      await onlyOne(config, tweetId);
    },
  );

  it(
    "a follow between a delete's reads and a split insert's task: the task finds the delete's mark as it ends and takes its rows back",
    { timeout: 60_000 },
    async () => {
      // Small pages: the held read of the task holds its page's row credit, the delete needs some too.
      const env = await testEnv(['pipeline.pageSize=100'], { celebrity: false });
      const { config, client } = env;
      const ks = config.cassandra.keyspace;
      // Held: the insert task's first read, then that of another tweet ahead of the delete on its
      // partition, which keeps the delete's offset (and the removal of its mark) from committing.
      const held = heldReads(2);
      const w = env.startWorker('solo', held.wrap);
      await within(
        20_000,
        'both lanes assigned',
        joined(
          w,
          (n) => n === 3,
          (n) => n === 3,
        ),
      );
      const { tweetId, writeTime } = newTweet();
      const authors = new CassandraTweetAuthorStore(client, ks);
      // What the worker that split the insert did: record its author, produce its task(s) (here one,
      // the whole id space) with its offset commit.
      await authors.put(tweetId, SMALL, writeTime);
      const tasks = taskRecords(
        workTopic(config),
        {
          tweetId,
          authorId: SMALL,
          op: 'insert',
          writeTime,
          expiresAt: null,
          startedAt: Date.now(),
          traceparent: undefined,
        },
        { topic: config.topics.tweetsCdc, partition: 0, offset: 0n },
        { total: 10, ranges: [{ after: null, upTo: null, rows: 10 }] },
      );
      await produce(config, tasks, config.topics.tasks);
      await within(
        20_000,
        "the task's first read held",
        () => (held.reads === 1 ? true : undefined),
        10,
      );
      const other = newTweet();
      await produceEvents(
        config,
        [tweetEvent(config, 'insert', other.tweetId, SMALL, other.writeTime)],
        0,
      );
      await within(
        20_000,
        "the other tweet's first read held",
        () => (held.reads === 2 ? true : undefined),
        10,
      );
      await produceEvents(
        config,
        [tweetEvent(config, 'delete_partition', tweetId, null, writeTime + 1_000n)],
        0,
      );
      await within(
        20_000,
        'the delete delivered',
        () => (w.status().totals.rowsWritten === 10 ? true : undefined),
        10,
      );
      expect(await authors.get(tweetId)).toBe(SMALL); // marked, not forgotten: its offset waits behind the other tweet
      const late = SMALL_FIRST + 1_000_000n;
      await new CassandraFollowerStore(client, ks).add(SMALL, [late]);
      held.release(0);
      const done = await completionOf(config, tweetId, 'insert', 30_000);
      expect(done).toMatchObject({ followersDelivered: 11, retracted: true, split: { tasks: 1 } });
      expect((await holders(client, ks, [...range(SMALL_FIRST, 10), late], tweetId)).size).toBe(0); // without the retraction: the late follower
      expect(await authors.get(tweetId)).toBe(SMALL); // the task saw the mark, not a missing row
      held.release(1);
      await completionOf(config, tweetId, 'delete', 30_000);
      await completionOf(config, other.tweetId, 'insert', 30_000);
      expect(
        (await holders(client, ks, [...range(SMALL_FIRST, 10), late], other.tweetId)).size,
      ).toBe(11);
    },
  );
});
