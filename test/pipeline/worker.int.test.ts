import { describe, expect, it, onTestFinished } from 'vitest';
import { KafkaTransactions } from '../../connectors/kafka/transactions.ts';
import { CassandraFollowerStore } from '../../connectors/cassandra/followers.ts';
import { CassandraTweetAuthorStore } from '../../connectors/cassandra/tweet-authors.ts';
import {
  awaitCompletions,
  CELEBRITY,
  completedEvents,
  completionOf,
  FIRST,
  FOLLOWERS,
  heldReads,
  holders,
  LONELY,
  newTweet,
  produce,
  produceEvents,
  range,
  readAll,
  SMALL,
  testEnv,
  ttlsOf,
  tweetEvent,
  usingTtl,
  within,
} from './fixtures.ts';
import { rowCredit } from '../../pipeline/bounds.ts';
import { uniq } from '../support/config.ts';
import { createLogger } from '../../lib/log.ts';

// Each test has its own keyspace, topics and consumer group (testEnv → testConfig), seeded with
// a celebrity of 20k followers and a small author of 10, and runs its own worker.
describe('fan-out worker on real Kafka and Cassandra', () => {
  it("an insert lands in every follower timeline exactly once, in no one else's, with one completion event", async () => {
    const { config, client, startWorker } = await testEnv();
    const ks = config.cassandra.keyspace;
    const worker = startWorker('0');
    const { tweetId, writeTime } = newTweet();
    await produceEvents(config, [tweetEvent(config, 'insert', tweetId, CELEBRITY, writeTime)]);
    const done = await completionOf(config, tweetId, undefined, 60_000);
    expect(done.followersDelivered).toBe(FOLLOWERS);
    expect(done.authorId).toBe(String(CELEBRITY));
    console.log(
      `fan-out of ${FOLLOWERS} followers: ${done.durationMs} ms (${Math.round(FOLLOWERS / (done.durationMs / 1000))} rows/s)`,
    );
    expect((await holders(client, ks, range(FIRST, FOLLOWERS), tweetId)).size).toBe(FOLLOWERS);
    const strangers = [...range(FIRST - 50n, 50), ...range(FIRST + BigInt(FOLLOWERS), 50)];
    expect((await holders(client, ks, strangers, tweetId)).size).toBe(0);
    const rows = await client.execute(
      `SELECT tweet_id FROM ${ks}.timelines WHERE user_id = ?`,
      [FIRST + 123n],
      { prepare: true },
    );
    expect(rows.rows.filter((r) => String(r.get('tweet_id')) === tweetId)).toHaveLength(1);
    expect((await completedEvents(config)).filter((c) => c.tweetId === tweetId)).toHaveLength(1);
    const status = worker.status();
    expect(status).toMatchObject({
      state: 'running',
      partitions: [0, 1, 2],
      inFlight: [],
      rowsOutstanding: 0,
    });
    expect(status.totals).toMatchObject({
      rowsWritten: FOLLOWERS,
      tweetsCompleted: 1,
      deadLetters: 0,
    });
  });

  it('replica copies of one write (same eventId) fan out once, with one completion; the copies commit with nothing (pipeline.dedupeCopies=on)', async () => {
    const { config, client, admin, startWorker } = await testEnv(['pipeline.dedupeCopies=on'], {
      celebrity: false,
    });
    const worker = startWorker('0');
    const { tweetId, writeTime } = newTweet();
    const event = tweetEvent(config, 'insert', tweetId, SMALL, writeTime);
    await produceEvents(config, [event, event, event], 0); // what three replicas' connectors send
    const done = await completionOf(config, tweetId, 'insert', 60_000);
    await within(
      30_000,
      'the three copies committed',
      async () => {
        const [offsets] = await admin.fetchOffsets({
          groupId: config.pipeline.groupId,
          topics: [config.topics.tweetsCdc],
        });
        return Number(offsets?.partitions.find((p) => p.partition === 0)?.offset ?? -1) >= 3
          ? true
          : undefined;
      },
      100,
    );
    expect((await completedEvents(config)).filter((c) => c.tweetId === tweetId)).toHaveLength(1);
    expect(worker.status().totals).toMatchObject({ rowsWritten: 10, tweetsCompleted: 1 });
    expect((await holders(client, config.cassandra.keyspace, range(FIRST, 10), tweetId)).size).toBe(
      10,
    );
    const claim = await client.execute(
      `SELECT claimed_by FROM ${config.cassandra.keyspace}.fanout_claims WHERE event_id = ?`,
      [`${tweetId}/insert/${writeTime}`],
      { prepare: true },
    );
    // The copies are in flight together: whichever claimed first fanned out and completed.
    expect(claim.first()?.get('claimed_by')).toBe(
      `${config.topics.tweetsCdc}/0/${done.source.offset}`,
    );
  });

  it('a delete retracts the tweet from every follower timeline', async () => {
    const { config, client, startWorker } = await testEnv();
    startWorker('0');
    const { tweetId, writeTime } = newTweet();
    await produceEvents(config, [tweetEvent(config, 'insert', tweetId, CELEBRITY, writeTime)]);
    await completionOf(config, tweetId, 'insert', 60_000);
    await produceEvents(config, [
      tweetEvent(config, 'delete_partition', tweetId, null, writeTime + 1_000n),
    ]);
    const done = await completionOf(config, tweetId, 'delete', 60_000);
    expect(done.followersDelivered).toBe(FOLLOWERS);
    expect(done.authorId).toBe(String(CELEBRITY)); // read back from tweet_authors: the delete carries only the key
    expect(
      (await holders(client, config.cassandra.keyspace, range(FIRST, FOLLOWERS), tweetId)).size,
    ).toBe(0);
    // Its author record goes once the delete is committed (deleted USING TIMESTAMP of the delete).
    const authors = new CassandraTweetAuthorStore(client, config.cassandra.keyspace);
    await within(
      10_000,
      'tweet_authors row deleted',
      async () => ((await authors.get(tweetId)) === null ? true : undefined),
      50,
    );
    await authors.put(tweetId, CELEBRITY, writeTime); // a replayed insert
    expect(await authors.get(tweetId)).toBeNull();
  });

  it("someone who follows between a delete's follower reads and its insert's does not keep the deleted tweet (the insert takes its rows back)", async () => {
    const { config, client, startWorker } = await testEnv([], { celebrity: false });
    // The worker's real follower store, with its first read held until the test lets it go.
    const held = heldReads(1);
    const worker = startWorker('0', held.wrap);
    await within(
      30_000,
      'partitions assigned',
      () => (worker.status().partitions.length === 3 ? true : undefined),
      50,
    );
    const { tweetId, writeTime } = newTweet();
    await produceEvents(config, [tweetEvent(config, 'insert', tweetId, SMALL, writeTime)], 0);
    await within(
      30_000,
      "the insert's first follower read held",
      () => (held.reads === 1 ? true : undefined),
      10,
    );
    await produceEvents(
      config,
      [tweetEvent(config, 'delete_partition', tweetId, null, writeTime + 1_000n)],
      0,
    );
    // The delete reads the 10 followers and writes its tombstones while the insert waits ...
    await within(
      30_000,
      'the delete delivered',
      () => (worker.status().totals.rowsWritten === 10 ? true : undefined),
      10,
    );
    // ... then someone follows the author, and only then does the insert read its followers.
    const late = FIRST + 1_000_000n;
    await new CassandraFollowerStore(client, config.cassandra.keyspace).add(SMALL, [late]);
    held.release(0);
    const done = await completionOf(config, tweetId, 'insert', 60_000);
    expect(done).toMatchObject({ followersDelivered: 11, retracted: true });
    await completionOf(config, tweetId, 'delete', 60_000);
    expect(
      (await holders(client, config.cassandra.keyspace, [...range(FIRST, 10), late], tweetId)).size,
    ).toBe(0); // without the retraction: the late follower
    expect(worker.status().totals.rowsWritten).toBe(10 + 11 + 11); // the delete; the insert; its retraction
  });

  it('a delete right behind its insert wins, whatever order the writes land in (USING TIMESTAMP)', async () => {
    const { config, client, startWorker } = await testEnv([], { celebrity: false });
    startWorker('0');
    const { tweetId, writeTime } = newTweet();
    await produceEvents(config, [
      tweetEvent(config, 'insert', tweetId, SMALL, writeTime),
      tweetEvent(config, 'delete_row', tweetId, null, writeTime + 1n),
      // A replay of the insert (older write time) must not resurrect it.
      tweetEvent(config, 'insert', tweetId, SMALL, writeTime),
    ]);
    await awaitCompletions(
      config,
      (events) => events.filter((c) => c.tweetId === tweetId).length === 3,
    );
    expect((await holders(client, config.cassandra.keyspace, range(FIRST, 10), tweetId)).size).toBe(
      0,
    );
  });

  it('a tweet written with a TTL: its timeline rows and author record expire when it does', async () => {
    const { config, client, startWorker } = await testEnv([], { celebrity: false });
    const ks = config.cassandra.keyspace;
    startWorker('0');
    const { tweetId, writeTime } = newTweet();
    const expiresAt = Math.floor(Date.now() / 1000) + 3_600;
    await produceEvents(config, [
      usingTtl(tweetEvent(config, 'insert', tweetId, SMALL, writeTime), 3_600, expiresAt),
    ]);
    expect((await completionOf(config, tweetId, undefined, 30_000)).followersDelivered).toBe(10);
    const ttls = await ttlsOf(
      client,
      `${ks}.timelines`,
      'author_id',
      'user_id IN ? AND tweet_id = ?',
      [range(FIRST, 10), tweetId],
    );
    const [authorTtl] = await ttlsOf(client, `${ks}.tweet_authors`, 'author_id', 'tweet_id = ?', [
      tweetId,
    ]);
    expect(ttls).toHaveLength(10);
    for (const t of [...ttls, authorTtl]) {
      expect(t).toBeGreaterThan(3_500);
      expect(t).toBeLessThanOrEqual(3_600);
    }
  });

  it('an author with no followers completes at once', async () => {
    const { config, startWorker } = await testEnv([], { celebrity: false });
    startWorker('0');
    const { tweetId, writeTime } = newTweet();
    await produceEvents(config, [tweetEvent(config, 'insert', tweetId, LONELY, writeTime)]);
    const done = await completionOf(config, tweetId, undefined, 30_000);
    expect(done.followersDelivered).toBe(0);
    expect(done.durationMs).toBeLessThan(1_000);
  });

  it('an idle worker is not behind: the commit markers of the transactions it consumed are not counted as lag', async () => {
    const { config, startWorker } = await testEnv([], { celebrity: false });
    const worker = startWorker('0');
    // As the connector produces them: each transaction's records, then its commit marker.
    const producer = new KafkaTransactions(config, {
      transactionalId: `t-${uniq()}`,
      log: createLogger('warn'),
    });
    onTestFinished(() => producer.close());
    await producer.open();
    const tweets = [newTweet(), newTweet(), newTweet()];
    for (const [i, { tweetId, writeTime }] of tweets.entries()) {
      const event = tweetEvent(config, 'insert', tweetId, SMALL, writeTime);
      await producer.commit([
        {
          topic: config.topics.tweetsCdc,
          partition: i,
          key: JSON.stringify(event.key),
          value: JSON.stringify(event),
        },
      ]);
    }
    await awaitCompletions(
      config,
      (events) => tweets.every((t) => events.some((e) => e.tweetId === t.tweetId)),
      60_000,
    );
    const idle = await within(30_000, 'lag 0', () => {
      const s = worker.status();
      return s.uncommitted === 0 && s.consumerLag === 0 ? s : undefined;
    });
    expect(idle.partitions).toEqual([0, 1, 2]);
  });

  it('malformed records go to the dead-letter topic with reason and bytes; the partition keeps flowing', async () => {
    const { config, client, startWorker } = await testEnv([], { celebrity: false });
    const worker = startWorker('0');
    const { tweetId, writeTime } = newTweet();
    const other = newTweet();
    const garbage = '{"op": "insert", not json';
    const wrongTable = {
      ...tweetEvent(config, 'insert', other.tweetId, SMALL, other.writeTime),
      table: 'followers',
    };
    // Too large for a dead letter whole (base64): its bytes are left out, the partition flows on.
    const huge = `{"op": ${'x'.repeat(800_000)}`;
    await produce(config, [
      { key: 'x', value: garbage, partition: 1 },
      { key: 'y', value: JSON.stringify(wrongTable), partition: 1 },
      { key: 'z', value: huge, partition: 1 },
      {
        key: JSON.stringify({ tweet_id: tweetId }),
        value: JSON.stringify(tweetEvent(config, 'insert', tweetId, SMALL, writeTime)),
        partition: 1,
      },
    ]);
    const done = await completionOf(config, tweetId, undefined, 60_000);
    expect(done.followersDelivered).toBe(10);
    expect((await holders(client, config.cassandra.keyspace, range(FIRST, 10), tweetId)).size).toBe(
      10,
    );
    const dead = (await readAll(config, config.topics.deadLetter, 1)).map(
      (r) =>
        JSON.parse(r.value!.toString('utf8')) as {
          reason: { code: string; message: string };
          source: { topic: string; partition: number; offset: string };
          value: string;
          valueOmitted?: { bytes: number };
        },
    );
    expect(dead).toHaveLength(3);
    const json = dead.find((d) => Buffer.from(d.value, 'base64').toString('utf8') === garbage);
    expect(json?.reason.code).toBe('malformed-json');
    expect(json?.source).toEqual({ topic: config.topics.tweetsCdc, partition: 1, offset: '0' });
    const table = dead.find((d) => d.reason.code === 'unexpected-table');
    expect(JSON.parse(Buffer.from(table!.value, 'base64').toString('utf8'))).toEqual(wrongTable);
    expect(table!.source.offset).toBe('1');
    const omitted = dead.find((d) => d.source.offset === '2');
    expect(omitted?.reason.code).toBe('malformed-json');
    expect(omitted?.valueOmitted).toEqual({ bytes: huge.length });
    expect(worker.status().totals.deadLetters).toBe(3);
  });

  it('an update fans out nothing but completes in order: the committed offset passes it', async () => {
    const { config, client, admin, startWorker } = await testEnv([], { celebrity: false });
    const worker = startWorker('0');
    const { tweetId, writeTime } = newTweet();
    await produceEvents(
      config,
      [
        tweetEvent(config, 'insert', tweetId, SMALL, writeTime),
        tweetEvent(config, 'update', tweetId, null, writeTime + 5n),
      ],
      2,
    );
    await completionOf(config, tweetId, undefined, 60_000);
    await within(30_000, 'committed offset past the update', async () => {
      const committed = await admin.fetchOffsets({
        groupId: config.pipeline.groupId,
        topics: [config.topics.tweetsCdc],
      });
      return committed[0]?.partitions.find((p) => p.partition === 2)?.offset === '2'
        ? true
        : undefined;
    });
    expect((await completedEvents(config)).filter((c) => c.tweetId === tweetId)).toHaveLength(1);
    expect((await holders(client, config.cassandra.keyspace, range(FIRST, 10), tweetId)).size).toBe(
      10,
    );
    expect(worker.status().totals.rowsWritten).toBe(10);
  });

  it(
    'backpressure: at most maxInFlightTweets tweets and the row credit in flight; the consumer pauses, then drains',
    { timeout: 90_000 },
    async () => {
      const { config, startWorker } = await testEnv([
        'pipeline.maxInFlightTweets=2',
        'pipeline.batchSize=32',
        'pipeline.maxInFlightBatches=4',
        'pipeline.pageSize=100',
      ]);
      const worker = startWorker('0');
      const tweets = Array.from({ length: 6 }, () => newTweet());
      await produceEvents(
        config,
        tweets.map((t) => tweetEvent(config, 'insert', t.tweetId, CELEBRITY, t.writeTime)),
        0,
      );
      let maxTweets = 0;
      let maxRows = 0;
      let paused = false;
      const sampler = setInterval(() => {
        const s = worker.status();
        maxTweets = Math.max(maxTweets, s.inFlight.length);
        maxRows = Math.max(maxRows, s.rowsOutstanding);
        paused ||= s.paused;
      }, 2);
      try {
        await awaitCompletions(config, (events) => events.length === 6, 80_000);
      } finally {
        clearInterval(sampler);
      }
      expect(maxTweets).toBe(2);
      expect(maxRows).toBeGreaterThan(0);
      expect(maxRows).toBeLessThanOrEqual(rowCredit(config.pipeline)); // 4 × 32 in flight + a page of 100
      expect(paused).toBe(true);
      expect(worker.status().totals.rowsWritten).toBe(6 * FOLLOWERS);
    },
  );
});
