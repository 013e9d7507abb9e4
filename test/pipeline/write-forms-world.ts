/**
 * The world of the write-form tests (write-forms.cdc.int.test.ts): a keyspace with two authors
 * whose followers overlap, the real CDC connector and one worker running on it, and the checks:
 * wait until the worker has committed past every change event of some tweets, then read whose
 * timelines hold them (and with which TTL).
 */
import cassandra from 'cassandra-driver';
import type { Config } from '../../config/index.ts';
import { connectCassandra, type CassandraClient } from '../../connectors/cassandra/client.ts';
import { CassandraFollowerStore } from '../../connectors/cassandra/followers.ts';
import { applySchema } from '../../connectors/cassandra/schema.ts';
import { CdcConnector } from '../../connectors/cdc/connector.ts';
import type { RowChangeEvent } from '../../connectors/cdc/events.ts';
import {
  connectAdmin,
  createKafka,
  ensureTopics,
  type KafkaAdmin,
} from '../../connectors/kafka/client.ts';
import { readToEnd } from '../../connectors/kafka/read-to-end.ts';
import { withTimeout } from '../../lib/errors.ts';
import { createLogger } from '../../lib/log.ts';
import { workerPorts } from '../../pipeline/connect.ts';
import { Worker } from '../../pipeline/worker.ts';
import { testConfig } from '../support/config.ts';
import { holders, range, teardown, ttlsOf, within } from './fixtures.ts';

/** Author A: followers 100..139; author B: 130..159 (ten follow both); author C: 160..169. */
export const A = 11n;
export const B = 12n;
export const C = 13n;
export const A_FOLLOWERS = range(100n, 40);
export const B_FOLLOWERS = range(130n, 30);
export const C_FOLLOWERS = range(160n, 10);
/** Everyone the checks read: both authors' followers and strangers on either side. */
export const EVERYONE = range(80n, 100);

/** A completion event as read back. */
export interface Done {
  tweetId: string;
  op: string;
  authorId: string | null;
  followersDelivered: number;
  retracted?: true;
  moved?: { from: string };
}

export interface FormsWorld {
  readonly config: Config;
  readonly client: CassandraClient;
  readonly ks: string;
  /** A fresh tweet id (timeuuid). */
  readonly id: () => string;
  /** Runs CQL as an application would (prepared). */
  readonly cql: (query: string, params?: unknown[]) => Promise<unknown>;
  /**
   * Waits until the CDC topic holds `events` change events of `tweetIds` (the connector saw the
   * writes) and the worker has committed past each (it handled them); returns their ops.
   */
  readonly processed: (tweetIds: readonly string[], events: number) => Promise<string[]>;
  /** The users of {@link EVERYONE} whose timeline holds `tweetId`, ascending. */
  readonly holding: (tweetId: string) => Promise<bigint[]>;
  /** TTLs of `tweetId`'s timeline rows of `users` (null: none). */
  readonly ttls: (tweetId: string, users: readonly bigint[]) => Promise<Array<number | null>>;
  /** The completion events of `tweetId`, in order. */
  readonly completions: (tweetId: string) => Promise<Done[]>;
  /** The reason codes of the dead letters of `tweetId`'s change events, in order. */
  readonly deadLetters: (tweetId: string) => Promise<string[]>;
  readonly close: () => Promise<void>;
}

const sorted = (xs: Iterable<bigint>): bigint[] => [...xs].sort((a, b) => (a < b ? -1 : 1));

export async function formsWorld(): Promise<FormsWorld> {
  const config = testConfig([
    'cdc.startFrom=latest',
    'pipeline.sessionTimeoutMs=6000',
    'kafka.transactionTimeoutMs=15000',
  ]);
  const ks = config.cassandra.keyspace;
  const log = createLogger(process.env.FANOUT_TEST_LOG === 'info' ? 'info' : 'warn');
  const client = await connectCassandra(config);
  const kafka = createKafka(config, log);
  const admin: KafkaAdmin = await connectAdmin(kafka, config);
  await applySchema(client, config);
  await ensureTopics(admin, config);
  // A table without CDC, for batches mixing tables.
  await client.execute(
    `CREATE TABLE IF NOT EXISTS ${ks}.tweet_notes (tweet_id timeuuid PRIMARY KEY, note text)`,
  );
  const followers = new CassandraFollowerStore(client, ks);
  await followers.add(A, A_FOLLOWERS);
  await followers.add(B, B_FOLLOWERS);
  await followers.add(C, C_FOLLOWERS);

  const connector = new CdcConnector({ config, kafka, admin, cassandra: client, log });
  const running = connector.start();
  await Promise.race([connector.ready, running]);
  const worker = new Worker({
    config,
    workerId: 'forms',
    log,
    ports: workerPorts(config, client, log, 'forms'),
  });
  const work = worker.start();
  work.catch(() => undefined); // a failure shows as state 'failed' (and fails `processed`)
  const cdc = config.topics.tweetsCdc;
  const partitions = Array.from({ length: config.topics.cdcPartitions }, (_, i) => i);
  const read = (topic: string) => readToEnd(config, topic, partitions, { timeoutMs: 20_000 });

  return {
    config,
    client,
    ks,
    id: () => cassandra.types.TimeUuid.now().toString(),
    cql: (query, params = []) => client.execute(query, params, { prepare: true }),
    async processed(tweetIds, events) {
      const mine = await within(
        30_000,
        `${events} change events of ${tweetIds.join(', ')}`,
        async () => {
          const records = (await read(cdc)).filter((r) =>
            tweetIds.some((id) => r.key?.includes(id)),
          );
          return records.length >= events ? records : undefined;
        },
        100,
      );
      await within(
        30_000,
        'the worker committed past them',
        async () => {
          if (worker.state === 'failed') throw new Error('the worker failed');
          const [committed] = await admin.fetchOffsets({
            groupId: config.pipeline.groupId,
            topics: [cdc],
          });
          const at = new Map(committed?.partitions.map((p) => [p.partition, Number(p.offset)]));
          return mine.every((r) => (at.get(r.partition) ?? -1) > r.offset) ? true : undefined;
        },
        100,
      );
      return mine.map((r) => (JSON.parse(r.value!.toString('utf8')) as RowChangeEvent).op);
    },
    holding: async (tweetId) => sorted(await holders(client, ks, EVERYONE, tweetId)),
    ttls: (tweetId, users) =>
      ttlsOf(client, `${ks}.timelines`, 'author_id', 'user_id IN ? AND tweet_id = ?', [
        users,
        tweetId,
      ]),
    completions: async (tweetId) =>
      (await read(config.topics.completed))
        .map((r) => JSON.parse(r.value!.toString('utf8')) as Done)
        .filter((c) => c.tweetId === tweetId),
    deadLetters: async (tweetId) =>
      (await readToEnd(config, config.topics.deadLetter, [0], { timeoutMs: 20_000 })) // one partition
        .map(
          (r) =>
            JSON.parse(r.value!.toString('utf8')) as {
              reason: { code: string };
              value: string | null;
            },
        )
        .filter((d) =>
          Buffer.from(d.value ?? '', 'base64')
            .toString('utf8')
            .includes(tweetId),
        )
        .map((d) => d.reason.code),
    async close() {
      await withTimeout(worker.close(), 30_000, 'worker close took over 30 s').catch(
        () => undefined,
      );
      await connector.close().catch(() => undefined);
      await running.catch(() => undefined);
      await teardown(config, client, admin);
      await admin.disconnect();
      await client.shutdown();
    },
  };
}

export { sorted };
