/**
 * The world of the cluster tests and bench: a keyspace at RF 3 and topics at RF 3 on the local
 * 3-node cluster, `authors` authors followed by the same `followers` users, one `fanout cdc` child
 * per Cassandra node (its own contact point and cdc_raw) and `workers` `fanout worker` children.
 * Tests that share a world each write as a {@link Cohort} of their own: other authors, other
 * followers, so that each verdict is about its own tweets and timelines only.
 * Tweets are written with CQL at LOCAL_QUORUM, each with a fixed client timestamp and values so
 * that a write the application retries is byte-identical (the same change, the same eventId).
 */
import { randomUUID } from 'node:crypto';
import cassandra from 'cassandra-driver';
import { loadConfig, type Config } from '../../config/index.ts';
import { connectCassandra, type CassandraClient } from '../../connectors/cassandra/client.ts';
import { CassandraFollowerStore } from '../../connectors/cassandra/followers.ts';
import { applySchema } from '../../connectors/cassandra/schema.ts';
import { retry } from '../../lib/retry.ts';
import type { RowChangeEvent } from '../../connectors/cdc/events.ts';
import {
  connectAdmin,
  createKafka,
  ensureTopics,
  type KafkaAdmin,
} from '../../connectors/kafka/client.ts';
import { readToEnd } from '../../connectors/kafka/read-to-end.ts';
import { createLogger } from '../../lib/log.ts';
import { clusterClientSettings, clusterLayout } from '../../services/cluster-layout.ts';
import { Supervised, type UnexpectedExit } from '../chaos/processes.ts';
import { range, teardown, within } from '../pipeline/fixtures.ts';
import { ownNames } from '../support/config.ts';
import { collect } from '../support/kafka.ts';
import { verdict, type Verdict } from './verdict.ts';

export type { Verdict } from './verdict.ts';

export interface WorldOptions {
  readonly tweets: number;
  readonly followers: number;
  readonly authors?: number;
  readonly workers?: number;
  /** pipeline.dedupeCopies of the workers: `off` shows what the claims prevent. */
  readonly dedupe?: 'auto' | 'off';
  /** Starts the names of the keyspace and topics (a test run's tag: its teardown removes them). */
  readonly tag?: string;
  /** Replication factor of the keyspace (3; the bench compares 1). */
  readonly replication?: number;
  /** Where the time of {@link ClusterWorld.open} and {@link ClusterWorld.settle} goes. */
  readonly log?: (line: string) => void;
}

/** This world's own keyspace, topic and group names. */
const ownNamesOf = (tag: string): string[] =>
  ownNames(`${tag}${randomUUID().replaceAll('-', '').slice(0, 8)}`);

export interface Written {
  readonly id: string;
  readonly author: bigint;
  /** When the write was acknowledged (ms since the epoch). */
  readonly at: number;
}

export const FIRST_FOLLOWER = 10_000_000n;

/** Authors and the users who follow every one of them. */
export interface Cohort {
  readonly authors: readonly bigint[];
  readonly followers: readonly bigint[];
}

/** Cohort `k` (0: the world's own): ids apart from every other cohort's, with strangers between. */
const cohortIds = (k: number, authors: number, followers: number): Cohort => ({
  authors: range(1n + 1_000n * BigInt(k), authors),
  followers: range(FIRST_FOLLOWER + 1_000_000n * BigInt(k), followers),
});
const sets = (...s: string[]): string[] => s.flatMap((x) => ['--set', x]);

export class ClusterWorld implements Cohort {
  readonly config: Config;
  readonly client: CassandraClient;
  readonly admin: KafkaAdmin;
  readonly connectors: Supervised[];
  readonly workers: Supervised[];
  readonly exits: UnexpectedExit[] = [];
  readonly authors: readonly bigint[];
  readonly followers: readonly bigint[];
  /** Arrival time (ms) of each tweet's first completion, as a live consumer saw it. */
  readonly arrivals = new Map<string, number>();
  readonly #log: (line: string) => void;
  #cohorts = 0;
  /** Tweets written so far, every cohort's. */
  #written = 0;

  private constructor(
    config: Config,
    client: CassandraClient,
    admin: KafkaAdmin,
    o: WorldOptions,
    settings: string[],
  ) {
    this.config = config;
    this.client = client;
    this.admin = admin;
    this.#log = o.log ?? (() => {});
    ({ authors: this.authors, followers: this.followers } = cohortIds(
      0,
      o.authors ?? 4,
      o.followers,
    ));
    const layout = clusterLayout(3);
    // Endpoints come from the --set pairs alone.
    const env = {};
    this.connectors = layout.nodes.map(
      (n) =>
        new Supervised(
          `cdc-${n.index}`,
          'cdc',
          sets(...settings, ...clusterClientSettings(layout, n.index)),
          this.exits,
          { env },
        ),
    );
    this.workers = Array.from(
      { length: o.workers ?? 2 },
      (_, i) =>
        new Supervised(
          `worker-${i + 1}`,
          'worker',
          ['--worker-id', `w${i + 1}`, ...sets(...settings)],
          this.exits,
          { env },
        ),
    );
  }

  static async open(o: WorldOptions): Promise<ClusterWorld> {
    const layout = clusterLayout(3);
    const settings = [
      ...clusterClientSettings(layout),
      ...ownNamesOf(o.tag ?? 'c'),
      `cassandra.replication=SimpleStrategy:${o.replication ?? 3}`,
      `pipeline.dedupeCopies=${o.dedupe ?? 'auto'}`,
      'cdc.startFrom=latest',
      'log.level=info',
      'pipeline.sessionTimeoutMs=6000',
      'kafka.transactionTimeoutMs=15000',
      'cassandra.requestTimeoutMs=20000',
    ];
    const config = loadConfig({ env: {}, sets: settings });
    const client = await connectCassandra(config);
    const admin = await connectAdmin(createKafka(config, createLogger('warn')), config);
    const w = new ClusterWorld(config, client, admin, o, settings);
    const laps: string[] = [];
    let t = Date.now();
    const lap = (what: string): void => {
      laps.push(`${what} ${((Date.now() - t) / 1000).toFixed(1)} s`);
      t = Date.now();
    };
    // A node still applying the previous test's DROP KEYSPACE can refuse the next DDL
    // ("Unknown CF"): the schema converges within seconds.
    for (let attempt = 1; ; attempt++) {
      try {
        await applySchema(client, config);
        break;
      } catch (err) {
        if (attempt >= 5) throw err;
        await new Promise((r) => setTimeout(r, 2_000 * attempt));
      }
    }
    lap('schema');
    await ensureTopics(admin, config);
    await w.#follow(w);
    lap('topics and follows');
    for (const p of [...w.connectors, ...w.workers]) p.start();
    await Promise.all([...w.connectors, ...w.workers].map((p) => p.untilReady(180_000)));
    lap('processes ready');
    w.#log(`open: ${laps.join(', ')}`);
    return w;
  }

  /** A new cohort of `followers` users following `authors` new authors. */
  async cohort(followers: number, authors = 4): Promise<Cohort> {
    const c = cohortIds(++this.#cohorts, authors, followers);
    await this.#follow(c);
    return c;
  }

  async #follow(c: Cohort): Promise<void> {
    const store = new CassandraFollowerStore(this.client, this.config.cassandra.keyspace);
    if (c.followers.length === 0) return;
    // A write a loaded cluster timed out is written again, as is.
    const at = new Date();
    for (const a of c.authors)
      await retry(this.config.retry, () => store.add(a, c.followers, at), {
        what: `follow author ${a}`,
      });
  }

  /**
   * Starts a live consumer of completions that stamps {@link arrivals} until `expected` tweets
   * more than were written before the call have completed (earlier ones are in the topic too).
   */
  watchCompletions(expected: number, timeoutMs: number): void {
    const target = this.#written + expected;
    let seen = 0;
    void collect(
      this.config,
      [this.config.topics.completed],
      (records) => {
        for (; seen < records.length; seen++) {
          const id = (JSON.parse(records[seen]!.value) as { tweetId: string }).tweetId;
          if (!this.arrivals.has(id)) this.arrivals.set(id, Date.now());
        }
        return this.arrivals.size >= target;
      },
      timeoutMs,
    ).catch(() => undefined);
  }

  /**
   * Writes `count` tweets, 8 at a time, round robin over the cohort's authors, at LOCAL_QUORUM;
   * a failed write is retried as is (same timestamp).
   */
  async write(count: number, cohort: Cohort = this, concurrency = 8): Promise<Written[]> {
    const ks = this.config.cassandra.keyspace;
    const cql = `INSERT INTO ${ks}.tweets (tweet_id, author_id, body, created_at) VALUES (?, ?, ?, ?)`;
    const out: Written[] = [];
    let next = 0;
    const one = async (i: number): Promise<void> => {
      const id = cassandra.types.TimeUuid.now().toString();
      const author = cohort.authors[i % cohort.authors.length]!;
      const timestamp = cassandra.types.Long.fromString(
        String(BigInt(Date.now()) * 1000n + BigInt(i % 1000)),
      );
      const createdAt = new Date(); // as is: a retry with another value would be another write
      for (let attempt = 1; ; attempt++) {
        try {
          await this.client.execute(cql, [id, author, `tweet ${i}`, createdAt], {
            prepare: true,
            timestamp,
            consistency: cassandra.types.consistencies.localQuorum,
          });
          break;
        } catch (err) {
          if (attempt >= 10) throw err;
          await new Promise((r) => setTimeout(r, 200 * attempt));
        }
      }
      out.push({ id, author, at: Date.now() });
      this.#written++;
    };
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < count) await one(next++);
      }),
    );
    return out;
  }

  /**
   * Waits until the CDC topic holds `copies` events of each change to the tweets `ids` (one per
   * replica's connector) and returns them. On timeout the error says which changes are short.
   */
  async copies(
    ids: readonly string[],
    copies: number,
    timeoutMs: number,
  ): Promise<Array<{ partition: number; offset: number }>> {
    const parts = Array.from({ length: this.config.topics.cdcPartitions }, (_, i) => i);
    const want = new Set(ids);
    const what = `${copies} copies of each of ${ids.length} changes in the CDC topic`;
    let seen = new Map<string, number>();
    return within(
      timeoutMs,
      what,
      async () => {
        const records = (
          await readToEnd(this.config, this.config.topics.tweetsCdc, parts, { timeoutMs: 60_000 })
        ).flatMap((r) => {
          if (r.value === null) return [];
          const id = (JSON.parse(r.value.toString('utf8')) as RowChangeEvent).key?.['tweet_id'];
          return typeof id === 'string' && want.has(id)
            ? [{ id, partition: r.partition, offset: Number(r.offset) }]
            : [];
        });
        seen = new Map();
        for (const r of records) seen.set(r.id, (seen.get(r.id) ?? 0) + 1);
        return records.length >= ids.length * copies ? records : undefined;
      },
      1_000,
    ).catch((err: Error) => {
      const short = ids.filter((id) => (seen.get(id) ?? 0) < copies);
      const sample = short.slice(0, 5).map((id) => `${id} (${seen.get(id) ?? 0})`);
      throw new Error(`${err.message}: ${short.length} short, e.g. ${sample.join(', ')}`);
    });
  }

  /**
   * Waits until each tweet has `copies` copies of its change in the CDC topic (every replica's
   * connector sent its own) and the workers committed past all of them; returns the copy count.
   */
  async settle(ids: readonly string[], copies: number, timeoutMs: number): Promise<number> {
    const start = Date.now();
    const mine = await this.copies(ids, copies, timeoutMs);
    const began = Date.now();
    this.#log(`settle: every copy in the CDC topic after ${((began - start) / 1000).toFixed(1)} s`);
    await within(
      timeoutMs,
      'the workers committed past every copy',
      async () => {
        const [committed] = await this.admin.fetchOffsets({
          groupId: this.config.pipeline.groupId,
          topics: [this.config.topics.tweetsCdc],
        });
        const at = new Map(committed?.partitions.map((p) => [p.partition, Number(p.offset)]));
        return mine.every((r) => (at.get(r.partition) ?? -1) > r.offset) ? true : undefined;
      },
      500,
    ).catch((err: Error) => {
      const tails = this.workers.map((p) => `${p.name}:\n${p.log.slice(-3_000)}`).join('\n');
      throw new Error(
        `${err.message} (after ${Date.now() - began} ms); the workers said:\n${tails}`,
      );
    });
    this.#log(`settle: committed past them ${((Date.now() - began) / 1000).toFixed(1)} s later`);
    return mine.length;
  }

  /** Completions per tweet, distinct changes per tweet, and every cohort follower's timeline. */
  verify(written: readonly Written[], copies: number, cohort: Cohort = this): Promise<Verdict> {
    const { config, client } = this;
    return verdict({ config, client, followers: cohort.followers }, written, copies);
  }

  async close(): Promise<void> {
    await Promise.all([...this.workers, ...this.connectors].map((p) => p.stop(30_000)));
    await teardown(this.config, this.client, this.admin);
    await this.admin.disconnect();
    await this.client.shutdown();
  }
}
