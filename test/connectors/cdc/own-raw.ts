/**
 * What the CDC tests that build their own segments share: a cdc_raw (and cdc_error) directory of
 * the test's own, a keyspace with one CDC table `t (id int PRIMARY KEY, v text)` on the real node,
 * inserts into it as commit-log entries (the test encoder), and a connector run whose steps fail
 * fast, naming the step, when the connector stops or fails.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import type { Config } from '../../../config/index.ts';
import { connectCassandra, type CassandraClient } from '../../../connectors/cassandra/client.ts';
import { CdcConnector, type ConnectorDeps } from '../../../connectors/cdc/connector.ts';
import { loadSchema, type TableDef } from '../../../connectors/cdc/schema.ts';
import { connectAdmin, createKafka } from '../../../connectors/kafka/client.ts';
import type { Logger } from '../../../lib/log.ts';
import { testConfig } from '../../support/config.ts';
import { enc } from './builders.ts';
import { encodeMutation } from './mutation-builder.ts';

const TS = 1_700_000_000_000_000n;

export interface OwnRaw {
  readonly config: () => Config;
  readonly client: () => CassandraClient;
  readonly rawDir: () => string;
  readonly errorDir: () => string;
  /** The topic of table t. */
  readonly topic: () => string;
  /** An insert of row `n` into t (v = "row n"), as the payload of a commit-log entry. */
  readonly insert: (n: number) => Promise<Buffer>;
}

/** Sets up (beforeAll) and removes (afterAll) a test file's own cdc_raw, cdc_error and keyspace. */
export function ownCdcRaw(name: string): OwnRaw {
  let rawDir = '';
  let errorDir = '';
  let config: Config | undefined;
  let client: CassandraClient | undefined;
  let table: TableDef | undefined;
  beforeAll(async () => {
    rawDir = await mkdtemp(join(tmpdir(), `cdc-raw-${name}-`));
    errorDir = await mkdtemp(join(tmpdir(), `cdc-error-${name}-`));
    config = testConfig([
      `cdc.rawDir=${rawDir}`,
      `cdc.errorDir=${errorDir}`,
      'cdc.startFrom=earliest',
    ]);
    client = await connectCassandra(config);
    const ks = config.cassandra.keyspace;
    await client.execute(
      `CREATE KEYSPACE ${ks} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`,
    );
    await client.execute(`CREATE TABLE ${ks}.t (id int PRIMARY KEY, v text) WITH cdc = true`);
  });
  afterAll(async () => {
    await client
      ?.execute(`DROP KEYSPACE IF EXISTS ${config!.cassandra.keyspace}`)
      .catch(() => undefined);
    await client?.shutdown();
    await rm(rawDir, { recursive: true, force: true });
    await rm(errorDir, { recursive: true, force: true });
  });
  return {
    config: () => config!,
    client: () => client!,
    rawDir: () => rawDir,
    errorDir: () => errorDir,
    topic: () => `${config!.topics.cdcPrefix}.${config!.cassandra.keyspace}.t`,
    insert: async (n) => {
      table ??= [...(await loadSchema(client!)).tables.values()].find(
        (t) => t.keyspace === config!.cassandra.keyspace && t.table === 't',
      )!;
      return encodeMutation([
        {
          table,
          key: enc.int(n),
          rows: [{ liveness: { ts: TS }, cells: { v: { value: enc.text(`row ${n}`) } } }],
        },
      ]);
    },
  };
}

/** A connector started for a test; `step` waits for `p`, failing at once if the connector ends. */
export interface ConnectorRun {
  readonly connector: CdcConnector;
  readonly step: <T>(p: Promise<T>, what: string, ms?: number) => Promise<T>;
  readonly close: () => Promise<void>;
}

export async function startConnector(
  raw: OwnRaw,
  log: Logger,
  hooks: Pick<ConnectorDeps, 'onCommit'> = {},
): Promise<ConnectorRun> {
  const config = raw.config();
  const kafka = createKafka(config, log);
  const admin = await connectAdmin(kafka, config);
  const connector = new CdcConnector({
    config,
    kafka,
    admin,
    cassandra: raw.client(),
    log,
    ...hooks,
  });
  const running = connector.start();
  const failed = running.then(
    () => Promise.reject(new Error('the connector stopped')),
    (err: unknown) => Promise.reject(new Error(`the connector failed: ${String(err)}`)),
  );
  failed.catch(() => undefined);
  return {
    connector,
    step: <T>(p: Promise<T>, what: string, ms = 30_000): Promise<T> =>
      Promise.race([
        p,
        failed,
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error(`not within ${ms} ms: ${what}`)), ms).unref(),
        ),
      ]),
    close: async () => {
      await connector.close();
      await running.catch(() => undefined);
      await admin.disconnect();
    },
  };
}
