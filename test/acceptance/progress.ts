/**
 * A fan-out's progress as the outside world sees it: the cursor checkpoints its worker commits to
 * the compacted checkpoint topic (read_committed: only what a restart would restore), and the
 * `fanout.completed` events.
 */
import type { Config } from '../../config/index.ts';
import { readToEnd } from '../../connectors/kafka/read-to-end.ts';
import { createKafka } from '../../connectors/kafka/client.ts';
import { createLogger } from '../../lib/log.ts';
import { uniq } from '../support/config.ts';
import { checkpointKey } from '../../records/checkpoint.ts';
import { decodeWorkRecord, type SplitTask } from '../../records/task.ts';

/** A committed checkpoint as stored (the fields the tests need). */
export interface StoredCheckpoint {
  readonly tweetId: string;
  readonly op: 'insert' | 'delete';
  readonly delivered: number;
  readonly cursor: string | null;
  readonly done: boolean;
}

/** Where a change event sits in the CDC topic. */
export interface SourcePosition {
  readonly partition: number;
  readonly offset: bigint;
}

/** Where the change event of `tweetId` with `op` landed in the CDC topic. */
export async function locate(
  config: Config,
  tweetId: string,
  op: 'insert' | 'delete',
): Promise<SourcePosition> {
  const records = await readToEnd(
    config,
    config.topics.tweetsCdc,
    Array.from({ length: config.topics.cdcPartitions }, (_, i) => i),
  );
  const r = records.find((x) => {
    const v =
      x.value === null
        ? null
        : (JSON.parse(x.value.toString('utf8')) as { op: string; key: { tweet_id: string } });
    return (
      v?.key.tweet_id === tweetId &&
      (op === 'insert' ? v.op === 'insert' : v.op.startsWith('delete'))
    );
  });
  if (!r) throw new Error(`no ${op} event of ${tweetId} in ${config.topics.tweetsCdc}`);
  return { partition: r.partition, offset: BigInt(r.offset) };
}

/**
 * The latest committed checkpoint of the record at `at` of `topic` (the CDC topic, or the work
 * topic for a task); null: none yet, or tombstoned after its commit.
 */
export async function committedCheckpoint(
  config: Config,
  at: SourcePosition,
  topic = config.topics.tweetsCdc,
): Promise<StoredCheckpoint | null> {
  const key = checkpointKey(topic, at.partition, at.offset);
  let last: StoredCheckpoint | null = null;
  for (const r of await readToEnd(config, config.topics.checkpoints, [at.partition])) {
    if (r.key === key)
      last = r.value === null ? null : (JSON.parse(r.value.toString('utf8')) as StoredCheckpoint);
  }
  return last;
}

/** The committed page-range tasks of a split tweet, where each sits in the work topic, and which are done. */
export async function splitTasksOf(
  config: Config,
  tweetId: string,
): Promise<{ tasks: Array<{ at: SourcePosition; task: SplitTask }>; done: Set<number> }> {
  const records = await readToEnd(
    config,
    config.topics.tasks,
    Array.from({ length: config.topics.tasksPartitions }, (_, i) => i),
  );
  const tasks: Array<{ at: SourcePosition; task: SplitTask }> = [];
  const done = new Set<number>();
  for (const r of records) {
    const w = decodeWorkRecord({
      topic: config.topics.tasks,
      partition: r.partition,
      offset: BigInt(r.offset),
      key: null,
      value: r.value,
      headers: {},
    });
    if (w.kind === 'task' && w.task.tweetId === tweetId)
      tasks.push({ at: { partition: r.partition, offset: BigInt(r.offset) }, task: w.task });
    if (w.kind === 'done' && w.done.tweetId === tweetId) done.add(w.done.index);
  }
  return { tasks: tasks.sort((a, b) => a.task.index - b.task.index), done };
}

/** Every committed `fanout.completed` event of `tweetId` (all partitions, read to the end). */
export async function completionsOf(
  config: Config,
  tweetId: string,
): Promise<
  Array<{
    op: string;
    followersDelivered: number;
    durationMs: number;
    resumed: boolean;
    workerId: string;
  }>
> {
  const records = await readToEnd(
    config,
    config.topics.completed,
    Array.from({ length: config.topics.cdcPartitions }, (_, i) => i),
  );
  return records
    .map(
      (r) =>
        JSON.parse(r.value!.toString('utf8')) as {
          tweetId: string;
          op: string;
          followersDelivered: number;
          durationMs: number;
          resumed: boolean;
          workerId: string;
        },
    )
    .filter((c) => c.tweetId === tweetId);
}

/**
 * Follows the checkpoint topic (read_committed) with one long-lived consumer and keeps the
 * highest `delivered` committed per tweet, so a test can act at a point of a fan-out without
 * re-reading the topic each time.
 */
export class CheckpointWatch {
  /** Highest `delivered` per checkpoint key (one per tweet, or per task of a split one), by tweet. */
  readonly #byKey = new Map<string, Map<string, number>>();
  readonly #consumer;
  #failure: unknown;

  private constructor(config: Config) {
    this.#consumer = createKafka(config, createLogger('warn')).consumer({
      'group.id': `t-watch-${uniq()}`,
      'auto.offset.reset': 'earliest',
      'isolation.level': 'read_committed',
      'enable.auto.commit': false,
    } as never);
  }

  static async start(config: Config): Promise<CheckpointWatch> {
    const w = new CheckpointWatch(config);
    await w.#consumer.connect();
    await w.#consumer.subscribe({ topics: [config.topics.checkpoints] });
    w.#consumer
      .run({
        eachMessage: async ({ message }) => {
          if (!message.value) return; // tombstone: the tweet's commit landed
          const cp = JSON.parse(message.value.toString()) as StoredCheckpoint;
          const keys = w.#byKey.get(cp.tweetId) ?? new Map<string, number>();
          const key = message.key?.toString() ?? '';
          keys.set(key, Math.max(keys.get(key) ?? 0, cp.delivered));
          w.#byKey.set(cp.tweetId, keys);
        },
      })
      .catch((err: unknown) => {
        w.#failure = err;
      });
    return w;
  }

  /** The highest committed `delivered` of `tweetId` seen so far (0: none). */
  delivered(tweetId: string): number {
    if (this.#failure !== undefined)
      throw new Error(`checkpoint watch failed: ${(this.#failure as Error).message}`);
    return Math.max(0, ...(this.#byKey.get(tweetId)?.values() ?? []));
  }

  /** For a split tweet: the committed `delivered` of its tasks, summed (0: none). */
  deliveredByTasks(tweetId: string): number {
    if (this.#failure !== undefined)
      throw new Error(`checkpoint watch failed: ${(this.#failure as Error).message}`);
    return [...(this.#byKey.get(tweetId)?.values() ?? [])].reduce((a, b) => a + b, 0);
  }

  async close(): Promise<void> {
    await this.#consumer.disconnect();
  }
}
