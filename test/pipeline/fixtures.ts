/**
 * Helpers of the pipeline tests: CDC-shaped change events exactly as the connector emits them
 * (keyed by JSON.stringify(key), with a traceparent header), and checks on real timelines.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import cassandra from 'cassandra-driver';
import { onTestFailed, onTestFinished } from 'vitest';
import { writeSeed } from '../../cli/commands/seed.ts';
import { retry } from '../../lib/retry.ts';
import { leaves, type Config } from '../../config/index.ts';
import { connectCassandra, type CassandraClient } from '../../connectors/cassandra/client.ts';
import { CassandraFollowerStore } from '../../connectors/cassandra/followers.ts';
import { applySchema } from '../../connectors/cassandra/schema.ts';
import type { RowChangeEvent } from '../../connectors/cdc/events.ts';
import type { FollowerStore } from '../../ports/stores.ts';
import { classifyCassandraError, withTimeout } from '../../lib/errors.ts';
import {
  connectAdmin,
  createKafka,
  ensureTopics,
  productTopics,
  type KafkaAdmin,
} from '../../connectors/kafka/client.ts';
import { readToEnd } from '../../connectors/kafka/read-to-end.ts';
import { createLogger, type Logger } from '../../lib/log.ts';
import { workerPorts } from '../../pipeline/connect.ts';
import { Worker, type WorkerPorts } from '../../pipeline/worker.ts';
import { testConfig } from '../support/config.ts';
import { collect } from '../support/kafka.ts';
import { spawnWorkerProcess, type WorkerProcess } from '../support/worker-process.ts';

let eventSeq = 0;

/** `event` as an INSERT … USING TTL writes it: the row and every cell expire at `expiresAt`. */
export function usingTtl(event: RowChangeEvent, ttl: number, expiresAt: number): RowChangeEvent {
  const columns = Object.fromEntries(
    Object.entries(event.columns).map(([name, c]) => [name, { ...c, ttl, expiresAt }]),
  );
  return { ...event, ttl, expiresAt, columns };
}

/** A tweets change event as the CDC connector produces it. */
export function tweetEvent(
  config: Config,
  op: RowChangeEvent['op'],
  tweetId: string,
  authorId: bigint | null,
  writeTimeMicros: bigint,
): RowChangeEvent {
  const ts = writeTimeMicros.toString();
  const insert = op === 'insert';
  return {
    op,
    keyspace: config.cassandra.keyspace,
    table: 'tweets',
    tableId: '0'.repeat(32),
    key: { tweet_id: tweetId },
    clustering: op === 'delete_partition' ? null : {},
    columns: insert
      ? {
          author_id: { value: String(authorId), ts },
          body: { value: 'hello', ts },
          created_at: { value: new Date().toISOString(), ts },
        }
      : op === 'update'
        ? { body: { value: 'edited', ts } }
        : {},
    writeTimestamp: ts,
    source: { segmentId: '1', position: ++eventSeq, fileVersion: 8 },
    eventId: randomBytes(16).toString('hex'),
  };
}

/** A fresh timeuuid (canonical text) and a write time in µs a little after now. */
export function newTweet(): { tweetId: string; writeTime: bigint } {
  return {
    tweetId: cassandra.types.TimeUuid.now().toString(),
    writeTime: BigInt(Date.now()) * 1000n,
  };
}

/** Produces records to the tweets CDC topic, or `topic` (raw values allowed, for malformed input). */
export async function produce(
  config: Config,
  records: ReadonlyArray<{ key: string | null; value: string | null; partition?: number }>,
  topic = config.topics.tweetsCdc,
): Promise<void> {
  const kafka = createKafka(config, createLogger('warn'));
  const producer = kafka.producer({ 'enable.idempotence': true });
  await producer.connect();
  try {
    await producer.send({
      topic,
      messages: records.map((r) => ({
        key: r.key,
        value: r.value,
        ...(r.partition === undefined ? {} : { partition: r.partition }),
        headers: {
          traceparent: `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`,
        },
      })),
    });
  } finally {
    await producer.disconnect();
  }
}

/** Produces change events, keyed like the connector does. */
export async function produceEvents(
  config: Config,
  events: readonly RowChangeEvent[],
  partition?: number,
): Promise<void> {
  await produce(
    config,
    events.map((e) => ({
      key: JSON.stringify(e.key),
      value: JSON.stringify(e),
      ...(partition === undefined ? {} : { partition }),
    })),
  );
}

/**
 * Holds a worker's first `n` follower reads (its real store's, in the order they come) until the
 * test releases each: `startWorker(id, held.wrap)`.
 */
export function heldReads(n: number): {
  readonly reads: number;
  readonly release: (i: number) => void;
  readonly wrap: (ports: WorkerPorts) => WorkerPorts;
} {
  const gates = Array.from({ length: n }, () => {
    let open!: () => void;
    return {
      promise: new Promise<void>((r) => {
        open = r;
      }),
      open: () => open(),
    };
  });
  let reads = 0;
  return {
    get reads() {
      return reads;
    },
    release: (i) => gates[i]!.open(),
    wrap: (ports) => {
      const real = ports.followers;
      const followers: FollowerStore = {
        page: async (...args) => {
          const i = reads++;
          if (i < n) await gates[i]!.promise;
          return real.page(...args);
        },
        last: (user) => real.last(user),
        count: (user) => real.count(user),
        add: (user, ids, at) => real.add(user, ids, at),
      };
      return { ...ports, followers };
    },
  };
}

/** TTL(column) of the rows of `table` matching `where`, null for a row without one. */
export async function ttlsOf(
  client: CassandraClient,
  table: string,
  column: string,
  where: string,
  params: unknown[],
): Promise<Array<number | null>> {
  const rs = await client.execute(
    `SELECT TTL(${column}) AS t FROM ${table} WHERE ${where}`,
    params,
    { prepare: true },
  );
  return rs.rows.map((r) => r.get('t') as number | null);
}

/**
 * Which of `userIds` have `tweetId` in their timeline (IN queries of 100 partitions, 8 at a time).
 * A read the server times out on a loaded machine is retried (the answer itself is never relaxed).
 */
export async function holders(
  client: CassandraClient,
  keyspace: string,
  userIds: readonly bigint[],
  tweetId: string,
): Promise<Set<bigint>> {
  const out = new Set<bigint>();
  const chunks: bigint[][] = [];
  for (let i = 0; i < userIds.length; i += 100) chunks.push(userIds.slice(i, i + 100));
  const policy = { maxAttempts: 5, baseDelayMs: 200, maxDelayMs: 2_000 };
  for (let i = 0; i < chunks.length; i += 8) {
    await Promise.all(
      chunks.slice(i, i + 8).map(async (chunk) => {
        const rs = await retry(
          policy,
          async () => {
            try {
              return await client.execute(
                `SELECT user_id FROM ${keyspace}.timelines WHERE user_id IN ? AND tweet_id = ?`,
                [chunk, tweetId],
                { prepare: true, fetchSize: 1_000 },
              );
            } catch (err) {
              throw classifyCassandraError(err, 'read timelines');
            }
          },
          { what: 'verification read' },
        );
        for (const r of rs.rows) out.add(r.get('user_id') as bigint);
      }),
    );
  }
  return out;
}

/** Polls `check` until it returns a value other than undefined, or rejects after `ms` (a deadline, not a sleep). */
export async function within<T>(
  ms: number,
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The seeded graph: a celebrity with FOLLOWERS followers FIRST.., a small author with the first 10 of them, a lonely one. */
export const CELEBRITY = 7n;
export const SMALL = 8n;
export const LONELY = 9n;
export const FIRST = 1_000_000n;
export const FOLLOWERS = 20_000;
export const range = (from: bigint, n: number): bigint[] =>
  Array.from({ length: n }, (_, i) => from + BigInt(i));

/** A `fanout.completed` event as read back. */
export interface Completed {
  tweetId: string;
  authorId: string | null;
  op: string;
  followersDelivered: number;
  durationMs: number;
  resumed: boolean;
  source: { partition: number; offset: string };
  workerId: string;
}

/** Every committed record of a topic (all partitions), read to its end. */
export async function readAll(
  config: Config,
  topic: string,
  partitions: number,
): Promise<Array<{ key: string | null; value: Buffer | null; partition: number }>> {
  return readToEnd(
    config,
    topic,
    Array.from({ length: partitions }, (_, i) => i),
  );
}

/** Every committed completion event. */
export async function completedEvents(config: Config): Promise<Completed[]> {
  const records = await readAll(config, config.topics.completed, config.topics.cdcPartitions);
  return records.map((r) => JSON.parse(r.value!.toString('utf8')) as Completed);
}

/**
 * Waits (long-lived consumer, so no polling delay) until the completion events satisfy `done`;
 * returns them all.
 */
export async function awaitCompletions(
  config: Config,
  done: (events: Completed[]) => boolean,
  timeoutMs = 60_000,
): Promise<Completed[]> {
  const parse = (records: Array<{ value: string }>): Completed[] =>
    records.map((r) => JSON.parse(r.value) as Completed);
  return parse(
    await collect(config, [config.topics.completed], (records) => done(parse(records)), timeoutMs),
  );
}

/** Waits for the completion event of a tweet (optionally of one op) and returns it. */
export async function completionOf(
  config: Config,
  tweetId: string,
  op?: string,
  timeoutMs = 60_000,
): Promise<Completed> {
  const match = (c: Completed): boolean =>
    c.tweetId === tweetId && (op === undefined || c.op === op);
  return (await awaitCompletions(config, (events) => events.some(match), timeoutMs)).find(match)!;
}

/** Schema, topics and the seeded follower graph of a test's own keyspace. */
export async function setup(
  config: Config,
  client: CassandraClient,
  admin: KafkaAdmin,
  celebrity = true,
): Promise<void> {
  await applySchema(client, config);
  await ensureTopics(admin, config);
  const followers = new CassandraFollowerStore(client, config.cassandra.keyspace);
  if (celebrity)
    await writeSeed(
      followers,
      {
        author: CELEBRITY,
        followers: FOLLOWERS,
        firstFollower: FIRST,
        tailAuthors: 0,
        tailMax: 1,
        seed: 1,
      },
      16,
    );
  await followers.add(SMALL, range(FIRST, 10));
}

/** Drops what {@link setup} made. */
export async function teardown(
  config: Config,
  client: CassandraClient,
  admin: KafkaAdmin,
): Promise<void> {
  await admin
    .deleteTopics({ topics: productTopics(config).map((t) => t.topic) })
    .catch(() => undefined);
  await client
    .execute(`DROP KEYSPACE IF EXISTS ${config.cassandra.keyspace}`)
    .catch(() => undefined);
}

/** A test's own world: config (keyspace, topics, group), clients, seeded graph, its workers. */
export interface TestEnv {
  readonly config: Config;
  readonly client: CassandraClient;
  readonly admin: KafkaAdmin;
  readonly log: Logger;
  /**
   * Starts a worker over this env (closed when the test finishes). `wrap` may wrap its real ports
   * (to observe or hold a call; never to replace a service).
   */
  readonly startWorker: (id: string, wrap?: (ports: WorkerPorts) => WorkerPorts) => Worker;
}

/**
 * The workers' logger: warnings and errors go to stderr as they happen; info lines are kept and
 * printed only if the test fails, so a worker that never completed can say what it was doing
 * (FANOUT_TEST_LOG=info prints them all as they happen).
 */
function testLog(): Logger {
  if (process.env.FANOUT_TEST_LOG === 'info') return createLogger('info');
  const kept: string[] = [];
  onTestFailed(() => {
    process.stderr.write(`--- the workers' log (info and above) ---\n${kept.join('\n')}\n---\n`);
  });
  return createLogger('info', 'fanout', (line) => {
    kept.push(line);
    if (/^\S+ (WARN|ERROR) /.test(line)) process.stderr.write(`${line}\n`);
  });
}

/**
 * Makes a {@link TestEnv} from `testConfig(sets)` and registers its cleanup: workers closed
 * (with a deadline), topics and keyspace dropped, clients shut down.
 */
export async function testEnv(
  sets: string[] = [],
  options: { celebrity?: boolean } = {},
): Promise<TestEnv> {
  // A worker SIGKILLed mid-commit leaves its transaction open until this timeout, and whoever takes
  // its partitions over waits for it when restoring (connectors/kafka/read-to-end.ts): 15 s, not 60.
  const config = testConfig([
    'pipeline.sessionTimeoutMs=6000',
    'kafka.transactionTimeoutMs=15000',
    ...sets,
  ]);
  const log = testLog();
  const client = await connectCassandra(config);
  const admin = await connectAdmin(createKafka(config, log), config);
  const workers: Worker[] = [];
  onTestFinished(async () => {
    await Promise.allSettled(
      workers.map((w) => withTimeout(w.close(), 30_000, 'worker close took over 30 s')),
    );
    await teardown(config, client, admin);
    await admin.disconnect();
    await client.shutdown();
  });
  await setup(config, client, admin, options.celebrity ?? true);
  return {
    config,
    client,
    admin,
    log,
    startWorker: (id, wrap = (ports) => ports) => {
      const w = new Worker({
        config,
        workerId: id,
        log,
        ports: wrap(workerPorts(config, client, log, id)),
      });
      workers.push(w);
      w.start().catch(() => undefined); // a failure shows as state 'failed'
      return w;
    },
  };
}

/**
 * Starts `fanout worker --worker-id <id>` as a child process with `config` (written to a JSON
 * file; log level info so its stderr can explain a failure; no metrics endpoint, so parallel tests
 * do not fight over a port). Killed and cleaned up when the test finishes.
 */
export function spawnWorker(config: Config, workerId: string): WorkerProcess {
  const dir = mkdtempSync(join(tmpdir(), 'fanout-worker-'));
  const out: Record<string, Record<string, unknown>> = {};
  const c = config as unknown as Record<string, Record<string, unknown>>;
  for (const key of leaves.keys()) {
    const [group, name] = key.split('.') as [string, string];
    (out[group] ??= {})[name] = c[group]![name];
  }
  out.log = { level: 'info' };
  out.telemetry = { ...out.telemetry, enabled: false };
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(out));
  const worker = spawnWorkerProcess(workerId, ['--config', file]);
  onTestFinished(() => {
    worker.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  return worker;
}
