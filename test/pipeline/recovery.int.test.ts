import { describe, expect, it } from 'vitest';
import type { Config } from '../../config/index.ts';
import { withTimeout } from '../../lib/errors.ts';
import { createKafka } from '../../connectors/kafka/client.ts';
import { readToEnd } from '../../connectors/kafka/read-to-end.ts';
import type { Logger } from '../../lib/log.ts';
import { uniq } from '../support/config.ts';
import { collect } from '../support/kafka.ts';
import {
  awaitCompletions,
  CELEBRITY,
  completedEvents,
  completionOf,
  FIRST,
  FOLLOWERS,
  holders,
  newTweet,
  produceEvents,
  range,
  SMALL,
  spawnWorker,
  testEnv,
  tweetEvent,
  within,
} from './fixtures.ts';
import { checkpointKey, checkpointPartition } from '../../records/checkpoint.ts';
import { checkpointTopic } from '../support/topics.ts';

// Small batches, one write in flight, a checkpoint every 100 rows: a 20k fan-out takes seconds,
// long enough to stop or kill it half-way.
const SLOW = [
  'pipeline.sessionTimeoutMs=6000',
  'kafka.transactionTimeoutMs=15000',
  'pipeline.batchSize=20',
  'pipeline.maxInFlightBatches=2',
  'pipeline.checkpointEvery=10',
  'pipeline.pageSize=100',
  'pipeline.lingerMs=5',
];
const READ_AHEAD = 10 * 20; // checkpointEvery × batchSize: the most rows a crash can make us redo

interface StoredCheckpoint {
  tweetId: string;
  delivered: number;
  cursor: string | null;
  done: boolean;
}

/** The latest committed checkpoint of a source record (null: none, or tombstoned). */
async function checkpointOf(
  config: Config,
  partition: number,
  offset: string,
): Promise<StoredCheckpoint | null> {
  const key = checkpointKey(config.topics.tweetsCdc, partition, BigInt(offset));
  let last: StoredCheckpoint | null = null;
  for (const r of await readToEnd(config, config.topics.checkpoints, [partition])) {
    if (r.key === key)
      last = r.value === null ? null : (JSON.parse(r.value.toString('utf8')) as StoredCheckpoint);
  }
  return last;
}

/** Where a tweet's change event landed in the CDC topic. */
async function locate(
  config: Config,
  tweetId: string,
): Promise<{ partition: number; offset: string }> {
  const records = await readToEnd(
    config,
    config.topics.tweetsCdc,
    Array.from({ length: config.topics.cdcPartitions }, (_, i) => i),
  );
  const r = records.find((x) => x.value?.toString('utf8').includes(tweetId));
  if (!r) throw new Error(`no change event of ${tweetId}`);
  return { partition: r.partition, offset: String(r.offset) };
}

/**
 * A worker that died mid-commit, as the others see it: its transaction open on a checkpoint
 * partition until the broker aborts it (300 s here: longer than any test waits). `abort()` ends it
 * as the broker would; `close()` (for cleanup) aborts it if still open and disconnects.
 */
async function deadWorkerTransaction(
  config: Config,
  log: Logger,
  partition: number,
): Promise<{ abort: () => Promise<void>; close: () => Promise<void> }> {
  const producer = createKafka(config, log).producer({
    'transactional.id': `dead-${uniq()}`,
    'enable.idempotence': true,
    'transaction.timeout.ms': 300_000,
  });
  await producer.connect();
  const open = await producer.transaction();
  await open.send({
    topic: config.topics.checkpoints,
    messages: [{ key: 'dead-worker', value: 'never committed', partition }],
  });
  return {
    abort: () => open.abort(),
    close: async () => {
      await open.abort().catch(() => undefined);
      await producer.disconnect().catch(() => undefined);
    },
  };
}

describe('fan-out recovery: graceful stop, crash, rebalance', () => {
  it(
    'a graceful close mid fan-out checkpoints the exact frontier; the restarted worker redoes nothing',
    { timeout: 90_000 },
    async () => {
      const { config, client, startWorker } = await testEnv(SLOW);
      const { tweetId, writeTime } = newTweet();
      const first = startWorker('g');
      await produceEvents(config, [tweetEvent(config, 'insert', tweetId, CELEBRITY, writeTime)]);
      await within(
        30_000,
        'half-way',
        () =>
          first.status().inFlight.find((t) => t.tweetId === tweetId && t.delivered >= 2_000)
            ? true
            : undefined,
        5,
      );
      await withTimeout(first.close(), 20_000, 'graceful close took over 20 s');
      expect(first.state).toBe('stopped');
      const at = await locate(config, tweetId);
      const cp = await checkpointOf(config, at.partition, at.offset);
      expect(cp?.delivered).toBeGreaterThanOrEqual(2_000);
      expect(cp!.delivered).toBeLessThan(FOLLOWERS);
      expect(
        (await holders(client, config.cassandra.keyspace, range(FIRST, FOLLOWERS), tweetId)).size,
      ).toBe(cp!.delivered);
      expect((await completedEvents(config)).filter((c) => c.tweetId === tweetId)).toHaveLength(0);

      const second = startWorker('g'); // same id: takes the partitions over at once (static membership)
      const done = await completionOf(config, tweetId, undefined, 40_000);
      expect(done).toMatchObject({ followersDelivered: FOLLOWERS, resumed: true });
      expect(second.status().totals.rowsWritten).toBe(FOLLOWERS - cp!.delivered);
      expect(
        (await holders(client, config.cassandra.keyspace, range(FIRST, FOLLOWERS), tweetId)).size,
      ).toBe(FOLLOWERS);
      await withTimeout(second.close(), 20_000, 'close took over 20 s');
      expect((await completedEvents(config)).filter((c) => c.tweetId === tweetId)).toHaveLength(1);
    },
  );

  it(
    'a SIGKILLed worker process is resumed from its last checkpoint: same end state, one completion, rework within checkpointEvery batches',
    { timeout: 90_000 },
    async () => {
      const { config, client, startWorker } = await testEnv(SLOW);
      const ks = config.cassandra.keyspace;
      const { tweetId, writeTime } = newTweet();
      const { child, stderr, exited } = spawnWorker(config, 'k');
      await produceEvents(config, [tweetEvent(config, 'insert', tweetId, CELEBRITY, writeTime)]);
      // Kill it as soon as its committed checkpoints show it well under way.
      await collect(
        config,
        [config.topics.checkpoints],
        (records) =>
          records.some((r) => {
            if (r.value === 'null') return false;
            const cp = JSON.parse(r.value) as StoredCheckpoint;
            return cp.tweetId === tweetId && cp.delivered >= 1_000;
          }),
        40_000,
      ).catch((err: unknown) => {
        throw new Error(`${(err as Error).message}; the worker said: ${stderr()}`);
      });
      child.kill('SIGKILL');
      await withTimeout(exited, 10_000, 'the killed worker did not exit');

      const at = await locate(config, tweetId);
      const written = (await holders(client, ks, range(FIRST, FOLLOWERS), tweetId)).size;
      const cp = (await checkpointOf(config, at.partition, at.offset))!;
      expect(cp.done).toBe(false);
      expect(written).toBeLessThan(FOLLOWERS);
      expect(written).toBeGreaterThanOrEqual(cp.delivered);
      // Rows written past the last committed checkpoint are what the restart redoes.
      const rework = written - cp.delivered;
      console.log(
        `killed at ${written} rows written; last checkpoint ${cp.delivered}; rework ${rework} rows (bound ${READ_AHEAD})`,
      );
      expect(rework).toBeLessThanOrEqual(READ_AHEAD);

      const restarted = startWorker('k'); // same id: fences the dead one's transactions, takes its partitions at once
      const done = await completionOf(config, tweetId, undefined, 40_000);
      expect(done).toMatchObject({ followersDelivered: FOLLOWERS, resumed: true, workerId: 'k' });
      expect(restarted.status().totals.rowsWritten).toBe(FOLLOWERS - cp.delivered);
      expect((await holders(client, ks, range(FIRST, FOLLOWERS), tweetId)).size).toBe(FOLLOWERS);
      await withTimeout(restarted.close(), 20_000, 'close took over 20 s');
      expect((await completedEvents(config)).filter((c) => c.tweetId === tweetId)).toHaveLength(1);
    },
  );

  it(
    'a rebalance moves tweets in flight to the new member without losing or repeating a completion',
    { timeout: 90_000 },
    async () => {
      const { config, client, startWorker } = await testEnv(SLOW);
      const tweets = [newTweet(), newTweet(), newTweet()];
      const one = startWorker('r1');
      await within(20_000, 'r1 owns every partition', () =>
        one.status().partitions.length === 3 ? true : undefined,
      );
      for (const [i, t] of tweets.entries())
        await produceEvents(
          config,
          [tweetEvent(config, 'insert', t.tweetId, CELEBRITY, t.writeTime)],
          i,
        );
      await within(
        30_000,
        'all three under way',
        () =>
          one.status().inFlight.filter((t) => t.delivered >= 500).length === 3 ? true : undefined,
        5,
      );
      const two = startWorker('r2');
      await within(30_000, 'r2 owns a partition', () =>
        two.status().partitions.length > 0 ? true : undefined,
      );
      const done = await awaitCompletions(config, (events) => events.length >= 3);
      expect(new Set(done.map((c) => c.tweetId)).size).toBe(3);
      for (const c of done) expect(c.followersDelivered).toBe(FOLLOWERS);
      expect(
        done.some((c) => c.resumed && (c as unknown as { workerId: string }).workerId === 'r2'),
      ).toBe(true);
      for (const t of tweets)
        expect(
          (await holders(client, config.cassandra.keyspace, range(FIRST, FOLLOWERS), t.tweetId))
            .size,
        ).toBe(FOLLOWERS);
      await Promise.all(
        [one, two].map((w) => withTimeout(w.close(), 20_000, 'close took over 20 s')),
      );
      expect(
        (await completedEvents(config)).filter((c) => tweets.some((t) => t.tweetId === c.tweetId)),
      ).toHaveLength(3);
    },
  );

  it(
    "a worker taking over partitions behind a dead worker's open transaction keeps fanning out the ones it had, and gives them up at once when the group moves them",
    { timeout: 180_000 },
    async () => {
      const { config, log, startWorker } = await testEnv();
      const one = startWorker('t1');
      await within(20_000, 't1 owns every partition', () =>
        one.status().partitions.length === 3 ? true : undefined,
      );
      const two = startWorker('t2');
      await within(30_000, 'the partitions shared', () =>
        two.status().partitions.length > 0 &&
        one.status().partitions.length + two.status().partitions.length === 3
          ? true
          : undefined,
      );
      const moved = two.status().partitions;
      const kept = one.status().partitions[0]!;
      /** Produces an insert of SMALL (10 followers) to a partition; returns its tweet id. */
      const smallTweet = async (partition: number): Promise<string> => {
        const t = newTweet();
        await produceEvents(
          config,
          [tweetEvent(config, 'insert', t.tweetId, SMALL, t.writeTime)],
          partition,
        );
        return t.tweetId;
      };
      // t2 then dies mid-commit: its transaction stays open on the checkpoint partition t1 must restore from.
      const dead = await deadWorkerTransaction(
        config,
        log,
        checkpointPartition(checkpointTopic(config), moved[0]!),
      );
      try {
        await withTimeout(two.close(), 20_000, 'close took over 20 s');
        await within(30_000, 't1 restoring the moved partitions', () =>
          one.status().restoring.partitions.length > 0 ? true : undefined,
        );
        // Meanwhile the partition t1 kept flows: a tweet on it is fanned out and committed.
        expect(await completionOf(config, await smallTweet(kept), undefined, 30_000)).toMatchObject(
          { followersDelivered: 10 },
        );
        expect(one.status().restoring.partitions).toEqual(moved); // still waiting for the dead transaction
        expect(one.status().partitions).not.toContain(moved[0]);
        // A tweet on a partition being restored waits for it, and is not lost.
        const waiting = await smallTweet(moved[0]!);

        // A third worker joins: the group takes a partition from t1 (cooperative-sticky has taken
        // the one being restored in every run seen). Giving it up must not wait for the restore.
        const three = startWorker('t3');
        await within(30_000, 't3 has a partition', () =>
          three.status().partitions.length + three.status().restoring.partitions.length > 0
            ? true
            : undefined,
        );
        expect(
          await completionOf(
            config,
            await smallTweet(one.status().partitions[0]!),
            undefined,
            30_000,
          ),
        ).toMatchObject({ followersDelivered: 10 });

        await dead.abort(); // the broker's timeout would do the same
        await within(30_000, 'every partition owned, none restoring', () => {
          const owned = [...one.status().partitions, ...three.status().partitions].sort(
            (a, b) => a - b,
          );
          const restoring =
            one.status().restoring.partitions.length + three.status().restoring.partitions.length;
          return owned.join() === '0,1,2' && restoring === 0 ? true : undefined;
        });
        expect(await completionOf(config, waiting, undefined, 30_000)).toMatchObject({
          followersDelivered: 10,
          source: { partition: moved[0] },
        });
        for (let p = 0; p < 3; p++) {
          expect(await completionOf(config, await smallTweet(p), undefined, 30_000)).toMatchObject({
            followersDelivered: 10,
            source: { partition: p },
          });
        }
        expect((await completedEvents(config)).filter((c) => c.tweetId === waiting)).toHaveLength(
          1,
        );
      } finally {
        await dead.close();
      }
    },
  );

  it(
    "a graceful stop does not wait for a restore held by a dead worker's open transaction",
    { timeout: 60_000 },
    async () => {
      const { config, log, startWorker } = await testEnv();
      const dead = await deadWorkerTransaction(config, log, 0);
      try {
        const one = startWorker('s1');
        await within(30_000, 's1 restoring', () =>
          one.status().restoring.partitions.length === 3 ? true : undefined,
        );
        await withTimeout(one.close(), 20_000, 'the stop waited for the restore');
        expect(one.state).toBe('stopped');
      } finally {
        await dead.close();
      }
    },
  );
});
