/**
 * The `fanout.completed` event: exactly one per tweet change, whether one job or many tasks
 * delivered it (a move is one change), keyed by tweet id. The public output of the pipeline
 * (docs/formats.md).
 */
import type { OutRecord } from '../ports/streams.ts';

/** Where a change event was read: its CDC topic, partition and offset. */
export interface SourceAt {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
}

export interface Completion {
  readonly tweetId: string;
  readonly authorId: bigint | null;
  readonly op: 'insert' | 'delete';
  readonly delivered: number;
  readonly startedAt: number;
  readonly finishedAt: number;
  readonly resumed: boolean;
  /**
   * An upsert (or a task of one) took its rows back: found deleted or moved on as it ended, or
   * stale as it began (a newer author is recorded). Delivered counts those.
   */
  readonly retracted?: boolean;
  /** The upsert moved the tweet from another author: its followers' rows were deleted first. */
  readonly moved?: { readonly from: bigint };
  readonly source: SourceAt;
  readonly traceparent: string | null;
  /** Split tweets only: how many tasks and which workers delivered them. */
  readonly split?: { readonly tasks: number; readonly workers: readonly string[] };
}

export const sourceJson = (s: SourceAt) => ({
  topic: s.topic,
  partition: s.partition,
  offset: s.offset.toString(),
});

/**
 * The completions-topic partition of a change read from `sourcePartition` of its CDC topic: the
 * topic has `topics.cdcPartitions` partitions, and a CDC topic given more since (kafka-topics.sh)
 * wraps around instead of naming a partition that does not exist.
 */
export const completionPartition = (cdcPartitions: number, sourcePartition: number): number =>
  sourcePartition % cdcPartitions;

/** The completion record, on `partition` of the completions topic `topic`. */
export function completionRecord(
  topic: string,
  partition: number,
  c: Completion,
  workerId: string,
): OutRecord {
  return {
    topic,
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
      ...(c.moved ? { moved: { from: c.moved.from.toString() } } : {}),
      source: sourceJson(c.source),
      workerId,
      ...(c.split ? { split: c.split } : {}),
    }),
    headers: c.traceparent ? { traceparent: c.traceparent } : {},
  };
}
