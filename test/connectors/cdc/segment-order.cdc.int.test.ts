/**
 * Segments are read in id order, on the real node (schema, identity) and broker, with segments
 * built by the test encoder in a cdc_raw of the test's own. Cassandra syncs segments in order and
 * writes a segment's `_cdc.idx` at the first sync that finds CDC data in it, so once a newer
 * segment has an idx an older one without an idx FILE holds no CDC data and is stepped over at
 * once; one whose idx file is there but does not parse yet (being written) is waited for. Before
 * the fix both were stepped over: the newer one was read and committed, and at the next pass the
 * older one, behind the committed offset, was deleted unread, its change never produced.
 */
import { access, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RowChangeEvent } from '../../../connectors/cdc/events.ts';
import { cdcIndexFileName, segmentFileName } from '../../../connectors/cdc/segment.ts';
import { createLogger } from '../../../lib/log.ts';
import { withConnector } from '../../support/cdc.ts';
import { collect } from '../../support/kafka.ts';
import { buildSegment } from './builders.ts';
import { ownCdcRaw } from './own-raw.ts';

const log = createLogger(process.env.TEST_LOG === 'debug' ? 'debug' : 'error');

describe('an older segment whose idx is not readable yet (real Cassandra + Kafka)', () => {
  const raw = ownCdcRaw('order');
  /** Writes segment `id`, with one insert of `row` (none: no CDC data); returns its idx writer. */
  const segment = async (id: bigint, row: number | null): Promise<() => Promise<void>> => {
    const built = buildSegment({
      id,
      sections: row === null ? [] : [[await raw.insert(row)]],
    });
    await writeFile(join(raw.rawDir(), segmentFileName(7, id)), built.bytes);
    return () =>
      writeFile(join(raw.rawDir(), cdcIndexFileName(7, id)), `${built.sectionEnds[0]}\nCOMPLETED`);
  };
  const rowsOf = (records: Array<{ value: string }>): number[] =>
    records.map((r) => (JSON.parse(r.value) as RowChangeEvent).key.id as number).sort();

  it('waits for segment 5 whose idx file is there but not written yet while 6 has one; its change is produced, not deleted unread', async () => {
    await (
      await segment(4n, 4)
    )();
    const idxOf5 = await segment(5n, 5);
    await writeFile(join(raw.rawDir(), cdcIndexFileName(7, 5n)), ''); // being written
    await (
      await segment(6n, 6)
    )();
    // Segment 5's idx gets its content once segment 4 is committed: in that pass it had none.
    let wrote5: Promise<void> | undefined;
    await withConnector(
      raw.config(),
      raw.client(),
      log,
      async () => {
        // Before the fix: rows 4 and 6 only, and segment 5 deleted unread.
        const records = await collect(raw.config(), [raw.topic()], (r) => r.length >= 3, 20_000);
        await wrote5;
        expect(rowsOf(records)).toEqual([4, 5, 6]);
      },
      {
        onCommit: (offset) => {
          if (offset.segmentId === 4n) wrote5 ??= idxOf5();
        },
      },
    );
  });

  it('steps over segment 8 with no idx file (no CDC data) once 9 has one, without waiting for it to retire', async () => {
    await segment(8n, null); // never gets an idx
    await (
      await segment(9n, 9)
    )();
    await withConnector(raw.config(), raw.client(), log, async () => {
      const records = await collect(raw.config(), [raw.topic()], (r) => r.length >= 4, 20_000);
      expect(rowsOf(records)).toEqual([4, 5, 6, 9]);
      // Read while segment 8 was still there: it did not wait out its retirement (5 s).
      await access(join(raw.rawDir(), segmentFileName(7, 8n)));
    });
  });
});
