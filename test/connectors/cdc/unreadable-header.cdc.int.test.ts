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
import { symlink, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RowChangeEvent } from '../../../connectors/cdc/events.ts';
import { cdcIndexFileName, segmentFileName } from '../../../connectors/cdc/segment.ts';
import { within } from '../../pipeline/fixtures.ts';
import { collect } from '../../support/kafka.ts';
import { capturingLog } from '../../support/log.ts';
import { buildHeader, buildSegment } from './builders.ts';
import { ownCdcRaw, startConnector } from './own-raw.ts';

describe('segments whose header does not read (real Cassandra + Kafka)', () => {
  const raw = ownCdcRaw('header');

  it('dead-letters and keeps bad-crc, encrypted and unknown-compressor segments, waits for an unwritten header and a vanished file, goes on', async () => {
    const config = raw.config();
    const rawDir = raw.rawDir();
    const errorDir = raw.errorDir();
    const rows = new Map<bigint, Buffer>();
    for (const id of [40n, 41n, 42n, 43n, 44n, 45n, 47n])
      rows.set(id, await raw.insert(Number(id)));
    const path = (id: bigint): string => join(rawDir, segmentFileName(7, id));
    /** Segment `id` with one insert of row `id`, its header replaced by `header` if given. */
    const built = (id: bigint, header?: Buffer): Buffer => {
      const { bytes } = buildSegment({ id, sections: [[rows.get(id)!]] });
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
    const { connector, step, close } = await startConnector(raw, log, {
      onCommit: (offset) => {
        if (offset.segmentId === 44n) wroteLater ??= later();
      },
    });
    try {
      // Before the fix: the connector failed at segment 41, "commit-log header crc mismatch".
      await step(logged(/CommitLog-7-45\.log: commit-log header not written yet/), '45 waited for');
      await wroteLater;
      await writeFile(path(45n), built(45n));
      await step(logged(/CommitLog-7-46\.log vanished before it was read/), '46 vanished');
      await unlink(path(46n));
      await unlink(join(rawDir, cdcIndexFileName(7, 46n)));

      const topic = raw.topic();
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
      await within(10_000, 'cdc_raw emptied', () =>
        readdirSync(rawDir).length === 0 ? true : undefined,
      );
      for (const id of [41n, 42n, 43n])
        expect(existsSync(join(errorDir, segmentFileName(7, id)))).toBe(true);
      expect(connector.state).toBe('running');
    } finally {
      await close();
    }
  });
});
