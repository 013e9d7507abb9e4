/**
 * Corrupt stretches of a segment: durable bytes that cannot be what Cassandra wrote, or a header
 * that will never read. They are dead-lettered with where and why, and the segment's bytes are
 * kept: once read, the segment is moved (a rename, same filesystem) to the error directory beside
 * cdc_raw, as Debezium relocates its unreadable commit logs, never deleted. The dead letter names
 * the file it is moved to.
 */
import { createHash } from 'node:crypto';
import { mkdir, rename } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { FanoutError } from '../../lib/errors.ts';
import { CdcError } from './errors.ts';
import type { ChangeEvent } from './events.ts';

/** A segment's files. */
export interface SegmentFile {
  id: bigint;
  version: number;
  log: string;
  idx: string;
}

/** Where a corrupt segment's log file is kept. */
export const quarantinedPath = (errorDir: string, seg: SegmentFile): string =>
  join(errorDir, basename(seg.log));

/**
 * Where a corrupt stretch is: `stop` ends the reading of the segment at `position` (the end of the
 * last entry read); `skip` was skipped, reading went on at `position` (its end); `header` is a
 * header that will never read, so nothing in the segment is.
 */
export type CorruptWhere = 'stop' | 'skip' | 'header';

/** The dead-letter event of a corrupt stretch (no bytes in it: the kept file is named). */
export function corruptSection(
  seg: SegmentFile,
  position: number,
  reason: string,
  errorDir: string,
  where: CorruptWhere = 'stop',
): ChangeEvent {
  const kept = `the segment is kept in ${quarantinedPath(errorDir, seg)}`;
  return {
    op: 'undecodable',
    keyspace: null,
    table: null,
    tableId: null,
    reason: {
      code: 'corrupt',
      message:
        where === 'header'
          ? `${reason} (segment ${seg.log}): nothing in it can be read; ${kept}`
          : where === 'skip'
            ? `${reason} (segment ${seg.log}); read on from position ${position}; ${kept}`
            : `${reason} (segment ${seg.log}, after position ${position}); ${kept}`,
      retriable: false,
    },
    raw: '',
    source: { segmentId: seg.id.toString(), position, fileVersion: seg.version },
    eventId: createHash('sha256')
      .update(`${seg.id}:${position}:corrupt${where === 'stop' ? '' : `:${where}`}`)
      .digest('hex')
      .slice(0, 32),
  };
}

/** Moves a segment's log and idx into `errorDir`; true when anything was moved. */
export async function quarantine(seg: SegmentFile, errorDir: string): Promise<boolean> {
  await mkdir(errorDir, { recursive: true });
  let moved = false;
  for (const path of [seg.log, seg.idx]) {
    await rename(path, join(errorDir, basename(path))).then(
      () => {
        moved = true;
      },
      (err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      },
    );
  }
  return moved;
}

/**
 * What an error opening a segment or reading its header means:
 * - `not-ready`: the header is still zeros (the file was just created): read it again next pass;
 * - `gone`: the file vanished between the listing and its opening (Cassandra deletes unread
 *   segments when `cdc_block_writes: false`, and discards segments that never got CDC data);
 * - `unreadable`: a header that will never read (bad crc, encrypted, an unknown compressor, an id
 *   other than its name's): dead-lettered and kept like a corrupt stretch, newer segments go on.
 * `reason` names the file.
 */
export interface SegmentProblem {
  kind: 'not-ready' | 'gone' | 'unreadable';
  reason: string;
}

/**
 * Classifies what loading `seg` or parsing its header threw. Throws what must stop the connector,
 * naming the file: a file version this reader does not know (every newer segment of the node is
 * written the same way, so it waits for a reader that knows it), or an unexpected error. Pure.
 */
export function segmentProblem(err: unknown, seg: SegmentFile): SegmentProblem {
  if ((err as NodeJS.ErrnoException).code === 'ENOENT')
    return { kind: 'gone', reason: `segment ${seg.log} vanished before it was read` };
  if (!(err instanceof CdcError)) throw err;
  const reason = `segment ${seg.log}: ${err.message}`;
  switch (err.code) {
    case 'header-not-ready':
      return { kind: 'not-ready', reason };
    case 'corrupt':
    case 'encrypted-segment':
    case 'unsupported-compression':
    case 'id-mismatch':
      return { kind: 'unreadable', reason };
    default:
      throw new FanoutError(`CDC_${err.code.toUpperCase().replaceAll('-', '_')}`, reason, {
        retriable: false,
        cause: err,
      });
  }
}
