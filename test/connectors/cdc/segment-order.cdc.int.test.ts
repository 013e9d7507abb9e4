/**
 * Segments are read in id order even when an older one's `_cdc.idx` is not readable yet, on the
 * real node (schema, identity) and broker, with segments built by the test encoder in a cdc_raw of
 * the test's own. Before the fix a segment with no idx was skipped once a newer one had an idx:
 * the newer one was read and committed, and at the next pass the older one, now behind the
 * committed offset, was taken for read and deleted once COMPLETED, its change never produced.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectCassandra, type CassandraClient } from '../../../connectors/cassandra/client.ts';
import { CdcConnector } from '../../../connectors/cdc/connector.ts';
import type { RowChangeEvent } from '../../../connectors/cdc/events.ts';
import { loadSchema, type TableDef } from '../../../connectors/cdc/schema.ts';
import { cdcIndexFileName, segmentFileName } from '../../../connectors/cdc/segment.ts';
import { connectAdmin, createKafka } from '../../../connectors/kafka/client.ts';
import { createLogger } from '../../../lib/log.ts';
import { testConfig } from '../../support/config.ts';
import { collect } from '../../support/kafka.ts';
import { buildSegment, enc } from './builders.ts';
import { encodeMutation } from './mutation-builder.ts';

const log = createLogger(process.env.TEST_LOG === 'debug' ? 'debug' : 'error');
const TS = 1_700_000_000_000_000n;

describe('an older segment whose idx is not readable yet (real Cassandra + Kafka)', () => {
  let rawDir: string;
  let client: CassandraClient;
  let config: ReturnType<typeof testConfig>;

  beforeAll(async () => {
    rawDir = await mkdtemp(join(tmpdir(), 'cdc-raw-order-'));
    config = testConfig([`cdc.rawDir=${rawDir}`, 'cdc.startFrom=earliest']);
    client = await connectCassandra(config);
    const ks = config.cassandra.keyspace;
    await client.execute(
      `CREATE KEYSPACE ${ks} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`,
    );
    await client.execute(`CREATE TABLE ${ks}.t (id int PRIMARY KEY, v text) WITH cdc = true`);
  });
  afterAll(async () => {
    await client
      ?.execute(`DROP KEYSPACE IF EXISTS ${config.cassandra.keyspace}`)
      .catch(() => undefined);
    await client?.shutdown();
    await rm(rawDir, { recursive: true, force: true });
  });

  it('waits for segment 5 whose idx is missing while 6 has one; its change is produced, not deleted unread', async () => {
    const schema = await loadSchema(client);
    const table = [...schema.tables.values()].find(
      (t: TableDef) => t.keyspace === config.cassandra.keyspace && t.table === 't',
    )!;
    /** Writes segment `id` with one insert of `row`; its idx (COMPLETED) only when `idx`. */
    const segment = async (id: bigint, row: number, idx: boolean): Promise<() => Promise<void>> => {
      const built = buildSegment({
        id,
        sections: [
          [
            encodeMutation([
              {
                table,
                key: enc.int(row),
                rows: [{ liveness: { ts: TS }, cells: { v: { value: enc.text(`row ${row}`) } } }],
              },
            ]),
          ],
        ],
      });
      await writeFile(join(rawDir, segmentFileName(7, id)), built.bytes);
      const writeIdx = (): Promise<void> =>
        writeFile(join(rawDir, cdcIndexFileName(7, id)), `${built.sectionEnds[0]}\nCOMPLETED`);
      if (idx) await writeIdx();
      return writeIdx;
    };
    await segment(4n, 4, true);
    const idxOf5 = await segment(5n, 5, false);
    await segment(6n, 6, true);

    // Segment 5's idx appears once segment 4 is committed: in that same pass 5 had none yet.
    let wrote5: Promise<void> | undefined;
    const kafka = createKafka(config, log);
    const admin = await connectAdmin(kafka, config);
    const connector = new CdcConnector({
      config,
      kafka,
      admin,
      cassandra: client,
      log,
      onCommit: (offset) => {
        if (offset.segmentId === 4n) wrote5 ??= idxOf5();
      },
    });
    const running = connector.start();
    try {
      const topic = `${config.topics.cdcPrefix}.${config.cassandra.keyspace}.t`;
      // Before the fix: rows 4 and 6 only, and segment 5 deleted unread.
      const records = await collect(config, [topic], (r) => r.length >= 3, 20_000);
      await wrote5;
      const rows = records.map((r) => (JSON.parse(r.value) as RowChangeEvent).key.id).sort();
      expect(rows).toEqual([4, 5, 6]);
    } finally {
      await connector.close();
      await running.catch(() => undefined);
      await admin.disconnect();
    }
  });
});
