/**
 * Corrupt stretches of a segment: durable bytes that cannot be what Cassandra wrote. They are
 * dead-lettered with where and why, and the segment's bytes are kept: once read, the segment is
 * moved (a rename, same filesystem) to the error directory beside cdc_raw, as Debezium relocates
 * its unreadable commit logs, never deleted. The dead letter names the file it is moved to.
 */
import { createHash } from 'node:crypto';
import { mkdir, rename } from 'node:fs/promises';
import { basename, join } from 'node:path';
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

/** The dead-letter event of a corrupt stretch (no bytes in it: the kept file is named). */
export function corruptSection(
  seg: SegmentFile,
  position: number,
  reason: string,
  errorDir: string,
): ChangeEvent {
  return {
    op: 'undecodable',
    keyspace: null,
    table: null,
    tableId: null,
    reason: {
      code: 'corrupt',
      message: `${reason} (segment ${seg.log}, after position ${position}); the segment is kept in ${quarantinedPath(errorDir, seg)}`,
      retriable: false,
    },
    raw: '',
    source: { segmentId: seg.id.toString(), position, fileVersion: seg.version },
    eventId: createHash('sha256')
      .update(`${seg.id}:${position}:corrupt`)
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
