/**
 * The records the fan-out produces, all inside its transactions: cursor checkpoints (compacted
 * topic, keyed by source topic/partition/offset, on the source's partition number), their
 * tombstones, `fanout.completed` events and dead letters.
 */
import type { Config } from '../config/index.ts';
import type { OutRecord, SourceRecord, StateRecord } from '../ports/streams.ts';
import type { Checkpoint, TweetJob } from './job.ts';

/**
 * The checkpoint-topic partition of a source partition. The checkpoint topic has `cdcPartitions`
 * partitions: CDC partitions map to themselves, work-topic partitions (which may be more) wrap
 * around; keys name the source topic and partition, so readers filter what they read.
 */
export const checkpointPartition = (config: Config, partition: number): number =>
  partition % config.topics.cdcPartitions;

/** Key of the checkpoint of the record at `offset` of a source partition. */
export const checkpointKey = (topic: string, partition: number, offset: bigint): string =>
  `${topic}/${partition}/${offset}`;

export function checkpointRecord(
  config: Config,
  topic: string,
  partition: number,
  offset: bigint,
  cp: Checkpoint,
): OutRecord {
  return {
    topic: config.topics.checkpoints,
    partition: checkpointPartition(config, partition),
    key: checkpointKey(topic, partition, offset),
    value: JSON.stringify({
      v: 1,
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
    }),
  };
}

export function checkpointTombstone(
  config: Config,
  topic: string,
  partition: number,
  offset: bigint,
): OutRecord {
  return {
    topic: config.topics.checkpoints,
    partition: checkpointPartition(config, partition),
    key: checkpointKey(topic, partition, offset),
    value: null,
  };
}

interface StoredCheckpoint {
  v: number;
  tweetId: string;
  op: 'insert' | 'delete';
  authorId: string | null;
  writeTime: string;
  cursor: string | null;
  delivered: number;
  total: number | null;
  startedAt: number;
  done: boolean;
  finishedAt: number | null;
  retracting?: boolean;
}

function decodeCheckpoint(value: Buffer): Checkpoint | null {
  try {
    const s = JSON.parse(value.toString('utf8')) as StoredCheckpoint;
    if (s.v !== 1) return null;
    return {
      tweetId: s.tweetId,
      op: s.op,
      authorId: s.authorId === null ? null : BigInt(s.authorId),
      writeTime: BigInt(s.writeTime),
      cursor: s.cursor === null ? null : BigInt(s.cursor),
      delivered: s.delivered,
      total: s.total,
      startedAt: s.startedAt,
      done: s.done,
      finishedAt: s.finishedAt,
      ...(s.retracting === true ? { retracting: true } : {}),
    };
  } catch {
    return null; // unreadable: the tweet is redone from the start, which is safe (writes are idempotent)
  }
}

/**
 * The live checkpoints of `topic` in records read back from the checkpoint topic: per source
 * partition, by source offset. Later records win; a tombstone removes the key.
 */
export function restoreCheckpoints(
  records: readonly StateRecord[],
  topic: string,
): Map<number, Map<bigint, Checkpoint>> {
  const latest = new Map<string, Buffer | null>();
  for (const r of records) if (r.key !== null) latest.set(r.key, r.value);
  const out = new Map<number, Map<bigint, Checkpoint>>();
  const prefix = `${topic}/`;
  for (const [key, value] of latest) {
    if (value === null || !key.startsWith(prefix)) continue;
    const [p, o] = key.slice(prefix.length).split('/');
    if (p === undefined || o === undefined || !/^\d+$/.test(p) || !/^\d+$/.test(o)) continue;
    const cp = decodeCheckpoint(value);
    if (cp === null) continue;
    let byOffset = out.get(Number(p));
    if (!byOffset) out.set(Number(p), (byOffset = new Map<bigint, Checkpoint>()));
    byOffset.set(BigInt(o), cp);
  }
  return out;
}

/** What a `fanout.completed` event says: one per tweet, whether one job or many tasks delivered it. */
export interface Completion {
  readonly tweetId: string;
  readonly authorId: bigint | null;
  readonly op: 'insert' | 'delete';
  readonly delivered: number;
  readonly startedAt: number;
  readonly finishedAt: number;
  readonly resumed: boolean;
  /** An insert (or a task of one) found deleted as it ended took its rows back; delivered counts those. */
  readonly retracted?: boolean;
  readonly source: { readonly topic: string; readonly partition: number; readonly offset: bigint };
  readonly traceparent: string | null;
  /** Split tweets only: how many tasks and which workers delivered them. */
  readonly split?: { readonly tasks: number; readonly workers: readonly string[] };
}

/** The `fanout.completed` record of a tweet, keyed by tweet id, on `partition`. */
export function completionEvent(
  config: Config,
  c: Completion,
  partition: number,
  workerId: string,
): OutRecord {
  return {
    topic: config.topics.completed,
    partition,
    key: c.tweetId,
    value: JSON.stringify({
      type: 'fanout.completed',
      tweetId: c.tweetId,
      authorId: c.authorId?.toString() ?? null,
      op: c.op,
      followersDelivered: c.delivered,
      durationMs: c.finishedAt - c.startedAt,
      startedAt: new Date(c.startedAt).toISOString(),
      completedAt: new Date(c.finishedAt).toISOString(),
      resumed: c.resumed,
      ...(c.retracted ? { retracted: true } : {}),
      source: {
        topic: c.source.topic,
        partition: c.source.partition,
        offset: c.source.offset.toString(),
      },
      workerId,
      ...(c.split ? { split: c.split } : {}),
    }),
    headers: c.traceparent ? { traceparent: c.traceparent } : {},
  };
}

/** The `fanout.completed` event of a finished tweet (one job), keyed by tweet id. */
export function completedRecord(
  config: Config,
  topic: string,
  job: TweetJob,
  workerId: string,
): OutRecord {
  return completionEvent(
    config,
    {
      tweetId: job.tweetId,
      authorId: job.authorId,
      op: job.op,
      delivered: job.delivered,
      startedAt: job.startedAt,
      finishedAt: job.finishedAt ?? Date.now(),
      resumed: job.resumed,
      ...(job.retracting ? { retracted: true } : {}),
      source: { topic, partition: job.partition, offset: job.offset },
      traceparent: job.traceparent ?? null,
    },
    job.partition,
    workerId,
  );
}

/** A dead letter: the reason, where the record came from, and its original bytes (base64). */
export function deadLetterRecord(
  config: Config,
  record: SourceRecord,
  code: string,
  message: string,
): OutRecord {
  return {
    topic: config.topics.deadLetter,
    key: `${record.topic}/${record.partition}/${record.offset}`,
    value: JSON.stringify({
      stage: 'fanout',
      reason: { code, message },
      source: {
        topic: record.topic,
        partition: record.partition,
        offset: record.offset.toString(),
      },
      key: record.key?.toString('base64') ?? null,
      value: record.value?.toString('base64') ?? null,
      headers: record.headers,
      at: new Date().toISOString(),
    }),
    headers: {
      'fanout-reason': code,
      ...(record.headers.traceparent ? { traceparent: record.headers.traceparent } : {}),
    },
  };
}
