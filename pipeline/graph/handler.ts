/**
 * The graph handler: the lane of the CDC topic of `followers`. A change event (./decode.ts) is a
 * FOLLOW, which backfills the follower's timeline with the author's latest tweets, or an
 * UNFOLLOW, which deletes the author's tweets from it (./steps.ts), each at its own write time;
 * it completes with a `fanout.completed` event of op `follow` / `unfollow`.
 *
 * The changes of one follower pair run one at a time, in their partition's order (./serial.ts);
 * with offsets committed in order, a crash replays a pair's changes from the first uncommitted
 * one, in order, so the last change handled is the last one written. A job writes its few rows
 * itself (one single-partition batch): its delivery pages nothing and `total` counts its rows.
 */
import type { Config } from '../../config/index.ts';
import { SpanKind, traced } from '../../lib/telemetry.ts';
import type { AuthorTweetStore, TimelineStore } from '../../ports/stores.ts';
import type { OutRecord, SourceRecord } from '../../ports/streams.ts';
import type { Checkpoint } from '../../records/checkpoint.ts';
import { completionPartition } from '../../records/completion.ts';
import { graphCompletionRecord, graphKey } from '../../records/graph.ts';
import { rowsOf } from '../fanout/page.ts';
import { type GraphJob, graphJob, graphJobId, type Job } from '../job.ts';
import type { Admission, Handler, LaneContext } from '../lane/handler.ts';
import { decodeGraphRecord } from './decode.ts';
import { GraphMetrics } from './metrics.ts';
import { RecentTweets } from './recent.ts';
import { KeyedSerial } from './serial.ts';
import { backfill, type GraphDeps, retract } from './steps.ts';

export interface GraphHandlerOptions {
  readonly config: Config;
  /** The follower's timeline: rows backfilled or deleted (trimmed like any: ../cap.ts). */
  readonly timelines: TimelineStore;
  readonly authorTweets: AuthorTweetStore;
}

/** Rows of the follower's timeline an unfollow reads, per allowed row (the cap and its slack). */
const TIMELINE_READ_FACTOR = 2;

export class GraphHandler implements Handler {
  readonly span = 'fanout.graph';
  readonly #ctx: LaneContext;
  readonly #config: Config;
  readonly #deps: GraphDeps;
  readonly #serial = new KeyedSerial();
  readonly #metrics: GraphMetrics;

  constructor(ctx: LaneContext, options: GraphHandlerOptions) {
    const { config, timelines, authorTweets } = options;
    this.#ctx = ctx;
    this.#config = config;
    this.#metrics = new GraphMetrics(ctx.workerId);
    const recent = new RecentTweets((authorId) =>
      ctx.attempt(`read the latest tweets of ${authorId}`, () =>
        authorTweets.recent(authorId, config.graph.unfollowRecent),
      ),
    );
    this.#deps = {
      timelines,
      authorTweets,
      recent: (authorId) => recent.get(authorId),
      attempt: ctx.attempt,
      backfillTweets: config.graph.backfillTweets,
      timelineReadLimit: TIMELINE_READ_FACTOR * config.timeline.maxEntries + 1_000,
    };
  }

  admit(record: SourceRecord, restored: Checkpoint | null): Admission {
    const decoded = decodeGraphRecord(record, this.#config.cassandra.keyspace);
    if (decoded.kind === 'skip') return { kind: 'done', outputs: [] };
    if (decoded.kind === 'dead') return decoded;
    const c = decoded.change;
    const op = c.op === 'follow' ? 'insert' : 'delete';
    const cp = restored?.tweetId === graphJobId(c) && restored.op === op ? restored : null;
    return { kind: 'job', job: graphJob(record, c, cp) };
  }

  rows(job: Job) {
    const g = job as GraphJob;
    return rowsOf(g, async (_emit, closed) => {
      const d = g.delivery;
      const c = g.change;
      const rows = await this.#serial.run(graphKey(c.authorId, c.followerId), () =>
        d.stopped || closed() ? Promise.resolve(null) : this.#apply(g),
      );
      if (rows === null) return; // stopped: whoever takes the partition over does it
      d.total = rows;
      this.#metrics.handled(c.op, rows, Date.now() - g.startedAt);
      d.endPaging();
    });
  }

  /** The change's step, in a span under the job's. */
  #apply(job: GraphJob): Promise<number> {
    const c = job.change;
    const ids = {
      'fanout.graph.op': c.op,
      'fanout.author_id': c.authorId.toString(),
      'fanout.follower_id': c.followerId.toString(),
    };
    const step = (): Promise<number> =>
      c.op === 'follow' ? backfill(c, this.#deps) : retract(c, this.#deps);
    if (!job.trace) return step();
    job.trace.span.span.setAttributes(ids);
    return traced(
      c.op === 'follow' ? 'fanout.backfill' : 'fanout.unfollow',
      SpanKind.INTERNAL,
      ids,
      async (span) => {
        const rows = await step();
        span.setAttribute('fanout.graph.rows', rows);
        return rows;
      },
      { parent: job.trace.span.context },
    );
  }

  outputs(job: Job, record: SourceRecord): OutRecord[] {
    const g = job as GraphJob;
    const c = g.change;
    return [
      graphCompletionRecord(
        this.#config.topics.completed,
        completionPartition(this.#config.topics.cdcPartitions, g.partition),
        {
          op: c.op,
          authorId: c.authorId,
          followerId: c.followerId,
          writeTime: c.writeTime,
          rows: g.delivery.total ?? 0,
          startedAt: g.startedAt,
          finishedAt: g.delivery.finishedAt ?? Date.now(),
          resumed: g.resumed,
          source: { topic: record.topic, partition: g.partition, offset: g.offset },
          traceparent: g.traceparent ?? null,
        },
        this.#ctx.workerId,
      ),
    ];
  }
}
