/**
 * The acceptance tests' shared world: one keyspace and one set of topics seeded once with a
 * 500k-follower author (seeding is most of the cost, so the tests share it and fan out different
 * tweets), and `fanout worker` child processes over it, started with `--set` overrides and killed
 * or stopped like an operator (or the kernel) would.
 */
import { writeSeed } from '../../cli/commands/seed.ts';
import { loadConfig, type Config } from '../../config/index.ts';
import { connectCassandra, type CassandraClient } from '../../connectors/cassandra/client.ts';
import { CassandraFollowerStore } from '../../connectors/cassandra/followers.ts';
import { applySchema } from '../../connectors/cassandra/schema.ts';
import {
  connectAdmin,
  createKafka,
  ensureTopics,
  productTopics,
  type KafkaAdmin,
} from '../../connectors/kafka/client.ts';
import { createLogger } from '../../lib/log.ts';
import { testSettings } from '../support/config.ts';
import { spawnWorkerProcess, type WorkerProcess } from '../support/worker-process.ts';

export type { WorkerProcess };

/** The celebrity and its followers FIRST .. FIRST+FOLLOWERS-1. */
export const AUTHOR = 7n;
export const FIRST = 1_000_000n;
export const FOLLOWERS = 500_000;
/** Another author, followed only by users who do not follow {@link AUTHOR}. */
export const OTHER_AUTHOR = 8n;
export const NON_FOLLOWERS: readonly bigint[] = [
  FIRST - 3n,
  FIRST - 2n,
  FIRST - 1n,
  FIRST + BigInt(FOLLOWERS),
  FIRST + BigInt(FOLLOWERS) + 1n,
];

export interface World {
  /** The `key=value` settings every config of this world starts from (names, services). */
  readonly settings: readonly string[];
  readonly config: Config;
  readonly client: CassandraClient;
  readonly admin: KafkaAdmin;
  readonly seedSeconds: number;
  /** A config of this world with extra overrides (same keyspace, topics and group). */
  readonly configWith: (sets: readonly string[]) => Config;
  /** Drops the keyspace and topics, closes the clients. */
  readonly close: () => Promise<void>;
}

/** Schema, topics and the 500k seed in a keyspace of its own. */
export async function createWorld(sets: readonly string[]): Promise<World> {
  const settings = testSettings([...sets]);
  const configWith = (more: readonly string[]): Config =>
    loadConfig({ env: {}, sets: [...settings, ...more] });
  const config = configWith([]);
  const client = await connectCassandra(config);
  const admin = await connectAdmin(createKafka(config, createLogger('warn')), config);
  const close = async (): Promise<void> => {
    await admin
      .deleteTopics({ topics: productTopics(config).map((t) => t.topic) })
      .catch(() => undefined);
    await client
      .execute(`DROP KEYSPACE IF EXISTS ${config.cassandra.keyspace}`)
      .catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    await client.shutdown().catch(() => undefined);
  };
  try {
    await applySchema(client, config);
    await ensureTopics(admin, config);
    const followers = new CassandraFollowerStore(client, config.cassandra.keyspace);
    const seeded = await writeSeed(
      followers,
      {
        author: AUTHOR,
        followers: FOLLOWERS,
        firstFollower: FIRST,
        tailAuthors: 0,
        tailMax: 1,
        seed: 1,
      },
      16,
    );
    await followers.add(OTHER_AUTHOR, NON_FOLLOWERS);
    return { settings, config, client, admin, seedSeconds: seeded.seconds, configWith, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Starts `fanout worker --worker-id <id>` over `settings` (+ `more`); its log level is info. */
export function spawnWorker(
  settings: readonly string[],
  id: string,
  more: readonly string[] = [],
): WorkerProcess {
  return spawnWorkerProcess(
    id,
    [...settings, 'log.level=info', ...more].flatMap((s) => ['--set', s]),
  );
}

/** Rows written by a worker process, from the status line it logs when it stops. */
export function rowsWrittenAtExit(stderr: string): number | undefined {
  const lines = [...stderr.matchAll(/ (\d+) rows written, /g)];
  const last = lines.at(-1);
  return last ? Number(last[1]) : undefined;
}
