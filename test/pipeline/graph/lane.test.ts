import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../config/index.ts';
import { createLogger } from '../../../lib/log.ts';
import { Worker } from '../../../pipeline/worker.ts';
import {
  FakeSink,
  FakeSource,
  MemoryAuthors,
  MemoryAuthorTweets,
  MemoryFollowers,
  MemoryTimelines,
} from '../fakes.ts';
import { within } from '../fixtures.ts';

// The graph lane inside a worker, over fakes: change events of `followers` in, timeline rows and
// completions out (the same on the real services: graph.cdc.int.test.ts).
const config = loadConfig({
  env: {},
  sets: ['cassandra.keyspace=ks', 'graph.backfillTweets=3', 'graph.unfollowRecent=5'],
});
const tid = (t: number): string => `${t.toString(16).padStart(8, '0')}-0000-1000-8000-000000000000`;
let position = 0;
const event = (op: string, author: bigint, follower: bigint | null, ts: bigint) => ({
  op,
  keyspace: 'ks',
  table: 'followers',
  tableId: '0'.repeat(32),
  key: { user_id: String(author) },
  clustering: follower === null ? null : { follower_id: String(follower) },
  columns:
    op === 'insert' ? { followed_at: { value: '2026-01-01T00:00:00Z', ts: String(ts) } } : {},
  writeTimestamp: String(ts),
  source: { segmentId: '1', position: ++position, fileVersion: 8 },
  eventId: '0'.repeat(32),
});

describe('graph lane (fakes)', () => {
  it('a follow backfills, an unfollow removes, each completes once; a range delete is dead-lettered', async () => {
    const graphSource = new FakeSource([0], config.topics.followersCdc);
    const graphSink = new FakeSink();
    const timelines = new MemoryTimelines();
    const authorTweets = new MemoryAuthorTweets();
    for (let i = 1; i <= 10; i++) authorTweets.add(tid(i), 7n, BigInt(i));
    const worker = new Worker({
      config,
      workerId: 'w',
      log: createLogger('error'),
      ports: {
        source: new FakeSource([]),
        sink: new FakeSink(),
        readCheckpoints: async () => [],
        followers: new MemoryFollowers(),
        timelines,
        authors: new MemoryAuthors(),
        graph: {
          source: graphSource,
          sink: graphSink,
          readCheckpoints: async () => [],
          authorTweets,
        },
      },
    });
    const run = worker.start();
    graphSource.push(0, event('insert', 7n, 100n, 50n));
    graphSource.push(0, event('insert', 7n, 101n, 50n));
    graphSource.push(0, event('delete_row', 7n, 101n, 60n));
    graphSource.push(0, event('delete_partition', 7n, null, 70n));
    const completions = () =>
      graphSink
        .records(config.topics.completed)
        .map((r) => JSON.parse(r.value!) as Record<string, unknown>);
    await within(5_000, 'three completions', () => (completions().length === 3 ? true : undefined));
    expect(
      completions().map((c) => [c.op, c.followerId, c.tweetsBackfilled ?? c.tweetsRemoved]),
    ).toEqual([
      ['follow', '100', 3],
      ['follow', '101', 3],
      ['unfollow', '101', 5],
    ]);
    expect((await timelines.read(100n, 100)).map((e) => e.tweetId).sort()).toEqual(
      [8, 9, 10].map(tid),
    );
    expect(await timelines.read(101n, 100)).toEqual([]);
    expect(graphSink.records(config.topics.deadLetter)).toHaveLength(1);
    expect(graphSink.offset(0)).toBe(4n);
    expect(worker.status().graph?.partitions).toEqual([0]);
    await worker.close();
    await run;
  });

  it('a follow of a partition past topics.cdcPartitions (partitions added since) completes on a partition fanout.completed has', async () => {
    const one = loadConfig({ env: {}, sets: ['cassandra.keyspace=ks', 'topics.cdcPartitions=1'] });
    const graphSource = new FakeSource([3], one.topics.followersCdc);
    const graphSink = new FakeSink();
    const worker = new Worker({
      config: one,
      workerId: 'w',
      log: createLogger('error'),
      ports: {
        source: new FakeSource([]),
        sink: new FakeSink(),
        readCheckpoints: async () => [],
        followers: new MemoryFollowers(),
        timelines: new MemoryTimelines(),
        authors: new MemoryAuthors(),
        graph: {
          source: graphSource,
          sink: graphSink,
          readCheckpoints: async () => [],
          authorTweets: new MemoryAuthorTweets(),
        },
      },
    });
    const run = worker.start();
    graphSource.push(3, event('insert', 7n, 100n, 50n));
    await within(5_000, 'completed', () => (graphSink.offset(3) === 1n ? true : undefined));
    expect(graphSink.records(one.topics.completed).map((r) => r.partition)).toEqual([0]);
    await worker.close();
    await run;
  });
});
