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
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RowChangeEvent } from '../../../connectors/cdc/events.ts';
import { cdcIndexFileName, segmentFileName } from '../../../connectors/cdc/segment.ts';
import { within } from '../../pipeline/fixtures.ts';
import { collect } from '../../support/kafka.ts';
import { capturingLog } from '../../support/log.ts';
import { buildSegment } from './builders.ts';
import { ownCdcRaw, startConnector } from './own-raw.ts';

describe('corrupt entries in an active segment (real Cassandra + Kafka)', () => {
  const raw = ownCdcRaw('entry');

  it('skips a bad entry and a section with a bad size, produces the rest, logs a stop once, keeps the segment', async () => {
    const config = raw.config();
    const rawDir = raw.rawDir();
    const errorDir = raw.errorDir();
    const [r1, r2, r3, r4, r5, r6, r7] = await Promise.all([1, 2, 3, 4, 5, 6, 7].map(raw.insert));
    // Section 0: rows 1, 2 (payload crc broken), 3. Section 1: rows 4 (size crc broken), 5.
    // Section 2: row 6. Section 3: its sync marker's crc broken (reading stops there).
    const seg = buildSegment({
      id: 50n,
      sections: [[r1!, r2!, r3!], [r4!, r5!], [r6!], [r7!]],
      zeroTail: 1024,
    });
    seg.bytes[seg.positions[0]![1]! - 6]! ^= 0xff;
    seg.bytes[seg.markers[1]! + 8 + 4]! ^= 0xff;
    seg.bytes[seg.markers[3]! + 4]! ^= 0xff;
    const idx = join(rawDir, cdcIndexFileName(7, 50n));
    await writeFile(join(rawDir, segmentFileName(7, 50n)), seg.bytes);
    await writeFile(idx, `${seg.sectionEnds[3]}`); // synced, not COMPLETED: still being filled

    const { log, lines, logged } = capturingLog();
    const { connector, step, close } = await startConnector(raw, log);
    try {
      const topic = raw.topic();
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
        within(10_000, 'segment moved to the error directory', () =>
          existsSync(kept) && readdirSync(rawDir).length === 0 ? true : undefined,
        ),
        'segment moved to the error directory',
      );
      expect(connector.state).toBe('running');
    } finally {
      await close();
    }
  });
});
