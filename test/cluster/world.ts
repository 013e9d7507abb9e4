/**
 * The world of the cluster tests and bench: a keyspace at RF 3 and topics at RF 3 on the local
 * 3-node cluster, `authors` authors followed by the same `followers` users, one `fanout cdc` child
 * per Cassandra node (its own contact point and cdc_raw) and `workers` `fanout worker` children.
 * Tweets are written with CQL at LOCAL_QUORUM, each with a fixed client timestamp so that a write
 * the application retries is byte-identical (the same change, the same eventId).
 */
import { randomUUID } from 'node:crypto';
import cassandra from 'cassandra-driver';
import { loadConfig, type Config } from '../../config/index.ts';
import { connectCassandra, type CassandraClient } from '../../connectors/cassandra/client.ts';
import { CassandraFollowerStore } from '../../connectors/cassandra/followers.ts';
import { applySchema } from '../../connectors/cassandra/schema.ts';
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
const sets = (...s: string[]): string[] => s.flatMap((x) => ['--set', x]);

export class ClusterWorld {
  readonly config: Config;
  readonly client: CassandraClient;
  readonly admin: KafkaAdmin;
  readonly connectors: Supervised[];
  readonly workers: Supervised[];
  readonly exits: UnexpectedExit[] = [];
  readonly authors: bigint[];
  readonly followers: bigint[];
  /** Arrival time (ms) of each tweet's first completion, as a live consumer saw it. */
  readonly arrivals = new Map<string, number>();

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
    this.authors = range(1n, o.authors ?? 4);
    this.followers = range(FIRST_FOLLOWER, o.followers);
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
    await ensureTopics(admin, config);
    const store = new CassandraFollowerStore(client, config.cassandra.keyspace);
    for (const a of w.authors) await store.add(a, w.followers);
    for (const p of [...w.connectors, ...w.workers]) p.start();
    await Promise.all([...w.connectors, ...w.workers].map((p) => p.untilReady(180_000)));
    return w;
  }

  /** Starts a live consumer of completions that stamps {@link arrivals} until it has `expected`. */
  watchCompletions(expected: number, timeoutMs: number): void {
    let seen = 0;
    void collect(
      this.config,
      [this.config.topics.completed],
      (records) => {
        for (; seen < records.length; seen++) {
          const id = (JSON.parse(records[seen]!.value) as { tweetId: string }).tweetId;
          if (!this.arrivals.has(id)) this.arrivals.set(id, Date.now());
        }
        return this.arrivals.size >= expected;
      },
      timeoutMs,
    ).catch(() => undefined);
  }

  /**
   * Writes `count` tweets, `concurrency` at a time, round robin over the authors, at LOCAL_QUORUM;
   * a failed write is retried as is (same timestamp). `onWritten(n)` after each acknowledgement.
   */
  async write(
    count: number,
    concurrency = 8,
    onWritten?: (n: number) => Promise<void> | void,
  ): Promise<Written[]> {
    const ks = this.config.cassandra.keyspace;
    const cql = `INSERT INTO ${ks}.tweets (tweet_id, author_id, body, created_at) VALUES (?, ?, ?, ?)`;
    const out: Written[] = [];
    let next = 0;
    const one = async (i: number): Promise<void> => {
      const id = cassandra.types.TimeUuid.now().toString();
      const author = this.authors[i % this.authors.length]!;
      const timestamp = cassandra.types.Long.fromString(
        String(BigInt(Date.now()) * 1000n + BigInt(i % 1000)),
      );
      for (let attempt = 1; ; attempt++) {
        try {
          await this.client.execute(cql, [id, author, `tweet ${i}`, new Date()], {
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
      await onWritten?.(out.length);
    };
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < count) await one(next++);
      }),
    );
    return out;
  }

  /**
   * Waits until each tweet has `copies` copies of its change in the CDC topic (every replica's
   * connector sent its own) and the workers committed past all of them; returns the copy count.
   */
  async settle(ids: readonly string[], copies: number, timeoutMs: number): Promise<number> {
    const parts = Array.from({ length: this.config.topics.cdcPartitions }, (_, i) => i);
    const want = new Set(ids);
    const mine = await within(
      timeoutMs,
      `${copies} copies of each of ${ids.length} changes in the CDC topic`,
      async () => {
        const records = (
          await readToEnd(this.config, this.config.topics.tweetsCdc, parts, { timeoutMs: 60_000 })
        ).filter(
          (r) =>
            r.value !== null &&
            want.has(
              (JSON.parse(r.value.toString('utf8')) as RowChangeEvent).key?.['tweet_id'] as string,
            ),
        );
        return records.length >= ids.length * copies ? records : undefined;
      },
      1_000,
    );
    const began = Date.now();
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
    return mine.length;
  }

  /** Completions per tweet, distinct changes per tweet, and every follower's whole timeline. */
  verify(written: readonly Written[], copies: number): Promise<Verdict> {
    return verdict(this, written, copies);
  }

  async close(): Promise<void> {
    await Promise.all([...this.workers, ...this.connectors].map((p) => p.stop(30_000)));
    await teardown(this.config, this.client, this.admin);
    await this.admin.disconnect();
    await this.client.shutdown();
  }
}
