/**
 * The `fanout.completed` event of a follow or an unfollow (`op: "follow" | "unfollow"`), one per
 * change of `followers` the graph lane handled, keyed `<authorId>/<followerId>` so one pair's
 * events stay in order (docs/formats.md).
 */
import type { OutRecord } from '../ports/streams.ts';
import { type SourceAt, sourceJson } from './completion.ts';

export interface GraphCompletion {
  readonly op: 'follow' | 'unfollow';
  readonly authorId: bigint;
  readonly followerId: bigint;
  /** The follow's or unfollow's write time, µs: USING TIMESTAMP of every row it wrote. */
  readonly writeTime: bigint;
  /** Timeline rows written: tweets backfilled, or deletes of the author's tweets. */
  readonly rows: number;
  readonly startedAt: number;
  readonly finishedAt: number;
  readonly resumed: boolean;
  readonly source: SourceAt;
  readonly traceparent: string | null;
}

/** The key of a follower pair's records. */
export const graphKey = (authorId: bigint, followerId: bigint): string =>
  `${authorId}/${followerId}`;

export function graphCompletionRecord(
  topic: string,
  partition: number,
  c: GraphCompletion,
  workerId: string,
): OutRecord {
  return {
    topic,
    partition,
    key: graphKey(c.authorId, c.followerId),
    value: JSON.stringify({
      type: 'fanout.completed',
      op: c.op,
      authorId: c.authorId.toString(),
      followerId: c.followerId.toString(),
      writeTime: c.writeTime.toString(),
      [c.op === 'follow' ? 'tweetsBackfilled' : 'tweetsRemoved']: c.rows,
      durationMs: c.finishedAt - c.startedAt,
      startedAt: new Date(c.startedAt).toISOString(),
      completedAt: new Date(c.finishedAt).toISOString(),
      resumed: c.resumed,
      source: sourceJson(c.source),
      workerId,
    }),
    headers: c.traceparent ? { traceparent: c.traceparent } : {},
  };
}
