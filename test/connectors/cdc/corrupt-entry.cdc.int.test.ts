/**
 * Corrupt entries in a segment still being filled, on the real node (schema, identity) and broker,
 * with segments built by the test encoder in a cdc_raw of the test's own. Before the fix one entry
 * whose payload crc failed ended the reading of its segment: every later write to it (up to 32 MiB
 * of an active segment) was lost, and each 100 ms poll read it again and logged it at error level.
 * Now that entry, or the rest of a section whose entry size cannot be trusted, is skipped with a
 * dead letter naming the segment, position and reason; the entries after it are produced; a stop
 * (a bad sync marker) is dead-lettered and logged once; the segment is kept in the error directory.
 */
import { existsSync, readdirSync } from 'node:fs';
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
import { testConfig } from '../../support/config.ts';
import { collect } from '../../support/kafka.ts';
import { capturingLog } from '../../support/log.ts';
import { buildSegment, enc } from './builders.ts';
import { encodeMutation } from './mutation-builder.ts';

const TS = 1_700_000_000_000_000n;

describe('corrupt entries in an active segment (real Cassandra + Kafka)', () => {
  let rawDir: string;
  let errorDir: string;
  let client: CassandraClient;
  let config: ReturnType<typeof testConfig>;

  beforeAll(async () => {
    rawDir = await mkdtemp(join(tmpdir(), 'cdc-raw-entry-'));
    errorDir = await mkdtemp(join(tmpdir(), 'cdc-error-entry-'));
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
      ?.execute(`DROP KEYSPACE IF EXISTS ${config.cassandra.keyspace}`)
      .catch(() => undefined);
    await client?.shutdown();
    await rm(rawDir, { recursive: true, force: true });
    await rm(errorDir, { recursive: true, force: true });
  });

  it('skips a bad entry and a section with a bad size, produces the rest, logs a stop once, keeps the segment', async () => {
    const schema = await loadSchema(client);
    const table = [...schema.tables.values()].find(
      (t: TableDef) => t.keyspace === config.cassandra.keyspace && t.table === 't',
    )!;
    const insert = (row: number): Buffer =>
      encodeMutation([
        {
          table,
          key: enc.int(row),
          rows: [{ liveness: { ts: TS }, cells: { v: { value: enc.text(`row ${row}`) } } }],
        },
      ]);
    // Section 0: rows 1, 2 (payload crc broken), 3. Section 1: rows 4 (size crc broken), 5.
    // Section 2: row 6. Section 3: its sync marker's crc broken (reading stops there).
    const seg = buildSegment({
      id: 50n,
      sections: [
        [insert(1), insert(2), insert(3)],
        [insert(4), insert(5)],
        [insert(6)],
        [insert(7)],
      ],
      zeroTail: 1024,
    });
    seg.bytes[seg.positions[0]![1]! - 6]! ^= 0xff;
    seg.bytes[seg.markers[1]! + 8 + 4]! ^= 0xff;
    seg.bytes[seg.markers[3]! + 4]! ^= 0xff;
    const idx = join(rawDir, cdcIndexFileName(7, 50n));
    await writeFile(join(rawDir, segmentFileName(7, 50n)), seg.bytes);
    await writeFile(idx, `${seg.sectionEnds[3]}`); // synced, not COMPLETED: still being filled

    const { log, lines, logged } = capturingLog();
    const kafka = createKafka(config, log);
    const admin = await connectAdmin(kafka, config);
    const connector = new CdcConnector({ config, kafka, admin, cassandra: client, log });
    const running = connector.start();
    const failed = running.then(
      () => Promise.reject(new Error('the connector stopped')),
      (err: unknown) => Promise.reject(new Error(`the connector failed: ${String(err)}`)),
    );
    failed.catch(() => undefined);
    const step = <T>(p: Promise<T>, what: string): Promise<T> =>
      Promise.race([
        p,
        failed,
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error(`not within 30 s: ${what}`)), 30_000).unref(),
        ),
      ]);
    try {
      const topic = `${config.topics.cdcPrefix}.${config.cassandra.keyspace}.t`;
      // Before the fix: row 1 only, reading stopped at row 2's crc.
      const records = await step(
        collect(config, [topic], (r) => r.length >= 3, 30_000),
        'rows',
      );
      const rows = records.map((r) => (JSON.parse(r.value) as RowChangeEvent).key.id as number);
      expect(rows.sort((a, b) => a - b)).toEqual([1, 3, 6]);

      const dead = await step(
        collect(config, [config.topics.deadLetter], (r) => r.length >= 3, 30_000),
        'dead letters',
      );
      const letters = dead.map(
        (r) =>
          JSON.parse(r.value) as {
            reason: { code: string; message: string };
            event: { source: { segmentId: string; position: number } };
          },
      );
      expect(letters.map((l) => l.reason.code)).toEqual(['corrupt', 'corrupt', 'corrupt']);
      const [entry, size, marker] = letters;
      const path = join(rawDir, segmentFileName(7, 50n));
      expect(entry!.reason.message).toMatch(
        new RegExp(
          `^entry crc mismatch at ${seg.positions[0]![0]} .*is skipped \\(segment ${path}\\)`,
        ),
      );
      expect(entry!.event.source).toMatchObject({
        segmentId: '50',
        position: seg.positions[0]![1],
      });
      expect(size!.reason.message).toMatch(
        new RegExp(`^entry size crc mismatch at ${seg.markers[1]! + 8}; the rest of the section`),
      );
      expect(size!.event.source.position).toBe(seg.sectionEnds[1]);
      expect(marker!.reason.message).toMatch(/^sync marker crc mismatch/);
      for (const l of letters)
        expect(l.reason.message).toContain(join(errorDir, segmentFileName(7, 50n)));

      // Polls read the segment up to the bad marker again: said at debug level, not again at error.
      await step(logged(/reading stops after position \d+ as before/, 3), 'three more reads');
      expect(lines.filter((l) => / ERROR /.test(l))).toHaveLength(3);

      // Once COMPLETED it is moved to the error directory, not deleted.
      await writeFile(idx, `${seg.sectionEnds[3]}\nCOMPLETED`);
      const kept = join(errorDir, segmentFileName(7, 50n));
      await step(
        new Promise<void>((resolve) => {
          const check = (): void => {
            if (existsSync(kept) && readdirSync(rawDir).length === 0) resolve();
            else setTimeout(check, 50);
          };
          check();
        }),
        'segment moved to the error directory',
      );
      expect(connector.state).toBe('running');
    } finally {
      await connector.close();
      await running.catch(() => undefined);
      await admin.disconnect();
    }
  });
});
