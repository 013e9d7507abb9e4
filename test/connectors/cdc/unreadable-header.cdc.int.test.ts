/**
 * Segments whose header does not read, on the real node (schema, identity) and broker, with
 * segments built by the test encoder in a cdc_raw of the test's own. Before the fix every header
 * problem stopped the connector for good, and again at each restart: a header with a bad crc, an
 * encrypted one, one naming an unknown compressor, and also a header not written yet (documented
 * as retriable) and a segment that vanished between the listing and its opening. Now an
 * unreadable header is a corrupt segment (a dead letter naming it, the file moved to the error
 * directory, newer segments go on), and the other two are read again at the next pass.
 */
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, symlink, unlink, writeFile } from 'node:fs/promises';
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
import { buildHeader, buildSegment, enc } from './builders.ts';
import { encodeMutation } from './mutation-builder.ts';

const TS = 1_700_000_000_000_000n;

/** Polls until `check` holds, or fails after `ms` (a deadline, not a sleep). */
async function eventually(ms: number, check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('segments whose header does not read (real Cassandra + Kafka)', () => {
  let rawDir: string;
  let errorDir: string;
  let client: CassandraClient;
  let config: ReturnType<typeof testConfig>;

  beforeAll(async () => {
    rawDir = await mkdtemp(join(tmpdir(), 'cdc-raw-header-'));
    errorDir = await mkdtemp(join(tmpdir(), 'cdc-error-header-'));
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

  it('dead-letters and keeps bad-crc, encrypted and unknown-compressor segments, waits for an unwritten header and a vanished file, goes on', async () => {
    const schema = await loadSchema(client);
    const table = [...schema.tables.values()].find(
      (t: TableDef) => t.keyspace === config.cassandra.keyspace && t.table === 't',
    )!;
    const path = (id: bigint): string => join(rawDir, segmentFileName(7, id));
    /** Segment `id` with one insert of row `id`, its header replaced by `header` if given. */
    const built = (id: bigint, header?: Buffer): Buffer => {
      const { bytes } = buildSegment({
        id,
        sections: [
          [
            encodeMutation([
              {
                table,
                key: enc.int(Number(id)),
                rows: [{ liveness: { ts: TS }, cells: { v: { value: enc.text(`row ${id}`) } } }],
              },
            ]),
          ],
        ],
      });
      return header === undefined ? bytes : Buffer.concat([header, bytes.subarray(20)]);
    };
    const put = async (id: bigint, bytes: Buffer): Promise<void> => {
      await writeFile(path(id), bytes);
      await writeFile(join(rawDir, cdcIndexFileName(7, id)), `${bytes.length}\nCOMPLETED`);
    };
    await put(40n, built(40n));
    await put(41n, built(41n, buildHeader({ id: 41n, crcWithShortParamLen: true })));
    await put(42n, built(42n, buildHeader({ id: 42n, params: { encCipher: 'AES', encIV: 'x' } })));
    await put(43n, built(43n, buildHeader({ id: 43n, params: { compressionClass: 'Brotli' } })));
    await put(44n, built(44n));
    // Once 44 is read: 45 with its header still zeros, 46 gone before it is opened (a dangling
    // link: listed, idx readable, open fails with ENOENT), then 47.
    const later = async (): Promise<void> => {
      const zeros = built(45n);
      zeros.fill(0, 0, 20);
      await put(45n, zeros);
      await symlink(join(rawDir, 'gone', segmentFileName(7, 46n)), path(46n));
      await writeFile(join(rawDir, cdcIndexFileName(7, 46n)), '100\nCOMPLETED');
      await put(47n, built(47n));
    };

    const { log, logged } = capturingLog();
    let wroteLater: Promise<void> | undefined;
    const kafka = createKafka(config, log);
    const admin = await connectAdmin(kafka, config);
    const connector = new CdcConnector({
      config,
      kafka,
      admin,
      cassandra: client,
      log,
      onCommit: (offset) => {
        if (offset.segmentId === 44n) wroteLater ??= later();
      },
    });
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
      // Before the fix: the connector failed at segment 41, "commit-log header crc mismatch".
      await step(logged(/CommitLog-7-45\.log: commit-log header not written yet/), '45 waited for');
      await wroteLater;
      await writeFile(path(45n), built(45n));
      await step(logged(/CommitLog-7-46\.log vanished before it was read/), '46 vanished');
      await unlink(path(46n));
      await unlink(join(rawDir, cdcIndexFileName(7, 46n)));

      const topic = `${config.topics.cdcPrefix}.${config.cassandra.keyspace}.t`;
      const records = await step(
        collect(config, [topic], (r) => r.length >= 4, 30_000),
        'rows',
      );
      const rows = records.map((r) => (JSON.parse(r.value) as RowChangeEvent).key.id as number);
      expect(rows.sort((a, b) => a - b)).toEqual([40, 44, 45, 47]);

      const dead = await step(
        collect(config, [config.topics.deadLetter], (r) => r.length >= 3, 30_000),
        'dead letters',
      );
      const letters = dead.map(
        (r) => JSON.parse(r.value) as { reason: { code: string; message: string } },
      );
      expect(letters.map((l) => l.reason.code)).toEqual(['corrupt', 'corrupt', 'corrupt']);
      const [crc, encrypted, brotli] = letters.map((l) => l.reason.message);
      expect(crc).toMatch(/CommitLog-7-41\.log: commit-log header crc mismatch/);
      expect(encrypted).toMatch(/CommitLog-7-42\.log: .*encrypted/);
      expect(brotli).toMatch(/CommitLog-7-43\.log: commit-log compressor Brotli/);
      for (const [i, message] of [crc, encrypted, brotli].entries())
        expect(message).toContain(join(errorDir, segmentFileName(7, 41n + BigInt(i))));

      // Kept, not deleted: the three in the error directory, cdc_raw emptied as read.
      await eventually(
        10_000,
        () => readdirSync(rawDir).length === 0,
        `cdc_raw emptied (have ${readdirSync(rawDir).join()})`,
      );
      for (const id of [41n, 42n, 43n])
        expect(existsSync(join(errorDir, segmentFileName(7, id)))).toBe(true);
      expect(connector.state).toBe('running');
    } finally {
      await connector.close();
      await running.catch(() => undefined);
      await admin.disconnect();
    }
  });
});
