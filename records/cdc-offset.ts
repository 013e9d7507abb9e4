/**
 * The CDC connector's source offset: where in a node's commit log its committed events end. One
 * record per Cassandra node on partition 0 of the compacted `topics.cdcOffsets`, written in the
 * same transaction as the events it covers.
 */
import type { OutRecord, StateRecord } from '../ports/streams.ts';
import { latestPerKey, parseVersioned } from './latest.ts';

/** Entries of the node's commit log up to this (segment, position) are committed. */
export interface SourceOffset {
  readonly segmentId: bigint;
  readonly position: number;
}

const VERSION = 1;

export const cdcOffsetKey = (nodeId: string): string => `cdc/${nodeId}`;

/** Orders source offsets. */
export function compareOffsets(a: SourceOffset, b: SourceOffset): number {
  if (a.segmentId !== b.segmentId) return a.segmentId < b.segmentId ? -1 : 1;
  return a.position - b.position;
}

export function cdcOffsetRecord(topic: string, nodeId: string, offset: SourceOffset): OutRecord {
  return {
    topic,
    partition: 0,
    key: cdcOffsetKey(nodeId),
    value: JSON.stringify({
      v: VERSION,
      segmentId: offset.segmentId.toString(),
      position: offset.position,
      node: nodeId,
      at: new Date().toISOString(),
    }),
  };
}

/**
 * The node's committed offset in records read back from the offsets topic (null: it never
 * committed). Records written before the version field existed are read as version 1.
 */
export function restoreCdcOffset(
  records: readonly StateRecord[],
  nodeId: string,
): SourceOffset | null {
  const key = cdcOffsetKey(nodeId);
  const value = latestPerKey(records, (k) => k === key).get(key);
  if (value === undefined) return null;
  const v = parseVersioned(value, VERSION, { unversioned: true });
  const segmentId =
    typeof v?.segmentId === 'string' && /^-?\d+$/.test(v.segmentId) ? BigInt(v.segmentId) : null;
  const position = v?.position;
  if (
    segmentId === null ||
    typeof position !== 'number' ||
    !Number.isInteger(position) ||
    position < 0
  ) {
    throw new Error(
      `the CDC offset record ${key} is unreadable: ${value.toString('utf8').slice(0, 200)}`,
    );
  }
  return { segmentId, position };
}
