/**
 * A table created and a column added just after the connector read the schema, on the real node
 * and broker: the writes to them reach their tables' topics, not the dead-letter topic. Before the
 * fix an entry naming an unknown table or column less than a second after the previous schema read
 * skipped the re-read (a throttle) and went to the dead letters (`unknown-table`,
 * `unknown-column`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectCassandra, type CassandraClient } from '../../../connectors/cassandra/client.ts';
import { applySchema } from '../../../connectors/cassandra/schema.ts';
import type { RowChangeEvent } from '../../../connectors/cdc/events.ts';
import { readToEnd } from '../../../connectors/kafka/read-to-end.ts';
import { createLogger } from '../../../lib/log.ts';
import { testConfig } from '../../support/config.ts';
import { withConnector } from '../../support/cdc.ts';
import { collect } from '../../support/kafka.ts';

const log = createLogger(process.env.TEST_LOG === 'debug' ? 'debug' : 'error');

describe('a schema change right after a schema read (real Cassandra + Kafka)', () => {
  const config = testConfig();
  const ks = config.cassandra.keyspace;
  let client: CassandraClient;

  beforeAll(async () => {
    client = await connectCassandra(config);
    await applySchema(client, config);
    await client.execute(`CREATE TABLE ${ks}.t (id int PRIMARY KEY, v text) WITH cdc = true`);
    await client.execute(`CREATE TABLE ${ks}.t2 (id int PRIMARY KEY, v text) WITH cdc = true`);
  });

  /** The dead letters so far, as `code: message`. */
  const letters = async (): Promise<string[]> =>
    (await readToEnd(config, config.topics.deadLetter, [0])).map((r) => {
      const l = JSON.parse(r.value?.toString() ?? '') as {
        reason: { code: string; message: string };
      };
      return `${l.reason.code}: ${l.reason.message}`;
    });

  /** The first event of `table`'s topic; failing, the dead letters say why it is not there. */
  const firstEvent = async (table: string): Promise<RowChangeEvent> => {
    const [record] = await collect(
      config,
      [`${config.topics.cdcPrefix}.${ks}.${table}`],
      (r) => r.length >= 1,
      20_000,
    ).catch(async (err: unknown) => {
      throw new Error(`${(err as Error).message}; dead letters: ${(await letters()).join('; ')}`);
    });
    return JSON.parse(record!.value) as RowChangeEvent;
  };
  afterAll(async () => {
    await client?.execute(`DROP KEYSPACE IF EXISTS ${ks}`).catch(() => undefined);
    await client?.shutdown();
  });

  it('writes to a table and a column added just after a schema read reach the CDC topics', async () => {
    // Table u is created just after the connector read the schema at its start; the connector
    // reads it again when it meets u, then commits u's event: the column is added after that
    // read, and written at once.
    let readU: () => void = () => undefined;
    const uCommitted = new Promise<void>((resolve) => (readU = resolve));
    await withConnector(
      config,
      client,
      log,
      async (_connector, running) => {
        await client.execute(`CREATE TABLE ${ks}.u (id int PRIMARY KEY) WITH cdc = true`);
        await client.execute(`INSERT INTO ${ks}.u (id) VALUES (1)`);
        await Promise.race([uCommitted, running]);

        await client.execute(`ALTER TABLE ${ks}.t ADD added text`);
        await client.execute(
          `INSERT INTO ${ks}.t (id, v, added) VALUES (?, ?, ?)`,
          [1, 'x', 'new'],
          { prepare: true },
        );

        expect((await firstEvent('u')).key).toEqual({ id: 1 });
        const event = await firstEvent('t');
        expect(event.key).toEqual({ id: 1 });
        expect(event.columns['added']?.value).toBe('new');
        expect(await letters()).toEqual([]);
      },
      { onCommit: () => readU() },
    );
  });

  it('a write to a column added just after the connector started (its schema read) reaches the CDC topic', async () => {
    await withConnector(config, client, log, async () => {
      await client.execute(`ALTER TABLE ${ks}.t2 ADD added text`);
      await client.execute(
        `INSERT INTO ${ks}.t2 (id, v, added) VALUES (?, ?, ?)`,
        [2, 'y', 'newer'],
        { prepare: true },
      );
      const event = await firstEvent('t2');
      expect(event.key).toEqual({ id: 2 });
      expect(event.columns['added']?.value).toBe('newer');
      expect(await letters()).toEqual([]);
    });
  });
});
