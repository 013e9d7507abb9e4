/**
 * A cursor checkpoint of a fan-out in progress (a whole tweet or one task of a split tweet), on
 * the compacted checkpoint topic. Keyed by the source record it belongs to
 * (`<source topic>/<partition>/<offset>`), on the source partition's checkpoint partition;
 * tombstoned in the transaction that commits that source offset.
 *
 * Version 1 is every checkpoint but a moved tweet's; version 2 adds the MOVE (`movedFrom`, the
 * author a tweet moves from, and `moving` during its pass over that author's followers). A reader
 * of version 1 only finds a move's checkpoint unreadable and redoes the change from the start,
 * rather than resuming a move pass's cursor as a delivery's. Both versions are read.
 */
import type { OutRecord, StateRecord } from '../ports/streams.ts';
import { latestPerKey, parseVersioned } from './latest.ts';
import { bigintOrNull, int64 } from './values.ts';

/** The checkpoint topic: its name and partition count (= the CDC topic's). */
export interface CheckpointTopic {
  readonly name: string;
  readonly partitions: number;
}

export interface Checkpoint {
  readonly tweetId: string;
  readonly op: 'insert' | 'delete';
  readonly authorId: bigint | null;
  readonly writeTime: bigint;
  /** Every follower id up to and including this one has the change (null: none yet). */
  readonly cursor: bigint | null;
  readonly delivered: number;
  readonly total: number | null;
  readonly startedAt: number;
  /** The fan-out is complete; only its offset commit (and completion event) is outstanding. */
  readonly done: boolean;
  readonly finishedAt: number | null;
  /**
   * An upsert taking its rows back (found deleted or moved on as it ended, or stale as it began):
   * cursor and counts are of that pass.
   */
  readonly retracting?: boolean;
  /** A move: the author the tweet moves from (its old followers get deletes first). */
  readonly movedFrom?: bigint | null;
  /** A move in its first pass, over the old author's followers: cursor and counts are of that. */
  readonly moving?: boolean;
}

const VERSION = 1;
const VERSION_MOVE = 2;

/**
 * The checkpoint-topic partition of a source partition: CDC partitions map to themselves,
 * work-topic partitions (which may be more) wrap around. Keys name the source topic and partition,
 * so readers filter what they read.
 */
export const checkpointPartition = (topic: CheckpointTopic, sourcePartition: number): number =>
  sourcePartition % topic.partitions;

/** Key of the checkpoint of the record at `offset` of a source partition. */
export const checkpointKey = (sourceTopic: string, partition: number, offset: bigint): string =>
  `${sourceTopic}/${partition}/${offset}`;

export function checkpointRecord(
  topic: CheckpointTopic,
  at: { topic: string; partition: number; offset: bigint },
  cp: Checkpoint,
): OutRecord {
  return {
    topic: topic.name,
    partition: checkpointPartition(topic, at.partition),
    key: checkpointKey(at.topic, at.partition, at.offset),
    value: JSON.stringify({
      v: cp.movedFrom == null ? VERSION : VERSION_MOVE,
      tweetId: cp.tweetId,
      op: cp.op,
      authorId: cp.authorId?.toString() ?? null,
      writeTime: cp.writeTime.toString(),
      cursor: cp.cursor?.toString() ?? null,
      delivered: cp.delivered,
      total: cp.total,
      startedAt: cp.startedAt,
      done: cp.done,
      finishedAt: cp.finishedAt,
      ...(cp.retracting ? { retracting: true } : {}),
      ...(cp.movedFrom == null
        ? {}
        : { movedFrom: cp.movedFrom.toString(), ...(cp.moving ? { moving: true } : {}) }),
    }),
  };
}

export function checkpointTombstone(
  topic: CheckpointTopic,
  at: { topic: string; partition: number; offset: bigint },
): OutRecord {
  return {
    topic: topic.name,
    partition: checkpointPartition(topic, at.partition),
    key: checkpointKey(at.topic, at.partition, at.offset),
    value: null,
  };
}

/** Decodes a checkpoint value; null when unreadable (the tweet is then redone from the start, which is safe). */
export function decodeCheckpoint(value: Buffer): Checkpoint | null {
  const s = parseVersioned(value, VERSION) ?? parseVersioned(value, VERSION_MOVE);
  if (s === null) return null;
  const movedFrom = s.v === VERSION_MOVE ? int64(s.movedFrom) : null;
  if (s.v === VERSION_MOVE && movedFrom === null) return null;
  const writeTime = int64(s.writeTime);
  const op = s.op;
  if (
    typeof s.tweetId !== 'string' ||
    (op !== 'insert' && op !== 'delete') ||
    writeTime === null ||
    typeof s.delivered !== 'number' ||
    typeof s.startedAt !== 'number' ||
    typeof s.done !== 'boolean'
  ) {
    return null;
  }
  return {
    tweetId: s.tweetId,
    op,
    authorId: bigintOrNull(s.authorId),
    writeTime,
    cursor: bigintOrNull(s.cursor),
    delivered: s.delivered,
    total: typeof s.total === 'number' ? s.total : null,
    startedAt: s.startedAt,
    done: s.done,
    finishedAt: typeof s.finishedAt === 'number' ? s.finishedAt : null,
    ...(s.retracting === true ? { retracting: true } : {}),
    ...(movedFrom === null ? {} : { movedFrom, ...(s.moving === true ? { moving: true } : {}) }),
  };
}

/**
 * The live checkpoints of `sourceTopic` in records read back from the checkpoint topic: per
 * source partition, by source offset.
 */
export function restoreCheckpoints(
  records: readonly StateRecord[],
  sourceTopic: string,
): Map<number, Map<bigint, Checkpoint>> {
  const prefix = `${sourceTopic}/`;
  const out = new Map<number, Map<bigint, Checkpoint>>();
  for (const [key, value] of latestPerKey(records, (k) => k.startsWith(prefix))) {
    const [p, o, extra] = key.slice(prefix.length).split('/');
    if (extra !== undefined || !/^\d+$/.test(p ?? '') || !/^\d+$/.test(o ?? '')) continue;
    const cp = decodeCheckpoint(value);
    if (cp === null) continue;
    let byOffset = out.get(Number(p));
    if (!byOffset) out.set(Number(p), (byOffset = new Map<bigint, Checkpoint>()));
    byOffset.set(BigInt(o!), cp);
  }
  return out;
}
