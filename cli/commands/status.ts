import { setTimeout as sleep } from 'node:timers/promises';
import { readToEnd } from '../../connectors/kafka/read-to-end.ts';
import { FanoutError } from '../../lib/errors.ts';
import { committedProgress } from '../../pipeline/progress.ts';
import type { Context } from '../context.ts';
import {
  nextWatchState,
  renderWatch,
  type PartitionLag,
  type StatusSnapshot,
  type WatchState,
} from './status-watch.ts';

type Admin = Awaited<ReturnType<Context['admin']>>;

export interface StatusOptions {
  /** Redraw every `intervalMs` until Ctrl-C (or `signal`) instead of printing once. */
  readonly watch?: boolean;
  /** Default 1000. */
  readonly intervalMs?: number;
  readonly signal?: AbortSignal;
  /** Where screens go (default stdout; cleared between screens on a terminal). */
  readonly write?: (text: string) => void;
}

/**
 * The committed state of the fan-out, read from Kafka: tweets in progress (pipeline/progress.ts),
 * each consumer group's lag per partition, the dead-letter topic's size.
 */
export async function snapshot(ctx: Context): Promise<StatusSnapshot> {
  const { config } = ctx;
  const admin = await ctx.admin();
  const { tweetsCdc, followersCdc, checkpoints, tasks, deadLetter } = config.topics;
  // A topic not created yet has no partitions to show; any other failure to read Kafka fails
  // the command (shown as nothing in progress, or as a group's whole topic behind, it lied).
  const existing = new Set(await admin.listTopics());
  const present = [tweetsCdc, checkpoints, tasks].filter((t) => existing.has(t));
  const meta = present.length > 0 ? await admin.fetchTopicMetadata({ topics: present }) : [];
  const partitionsOf = (t: string): number[] =>
    (meta.find((m) => m.name === t)?.partitions ?? []).map((p) => p.partitionId);
  const tasksGroup = `${config.pipeline.groupId}.tasks`;
  const graphGroup = `${config.pipeline.groupId}.graph`;
  // The lag first, then the records: a task that commits in between is read as pending and as
  // done, and counted once; a split that completes in between is left out (see committedProgress).
  const lag = await lagOf(admin, config.pipeline.groupId, tweetsCdc, existing);
  const taskLag = await lagOf(admin, tasksGroup, tasks, existing);
  const checkpointRecords = await readToEnd(config, checkpoints, partitionsOf(checkpoints));
  // Every partition from its committed offset (one at its end costs nothing): a task-done committed
  // after the lag was read may land on a home partition that had no lag then.
  const pendingWork = await readToEnd(
    config,
    tasks,
    taskLag.map((l) => l.partition),
    { from: new Map(taskLag.map((l) => [l.partition, l.committed])) },
  );
  const now = Date.now();
  const tweets = committedProgress({
    checkpoints: checkpointRecords,
    pendingWork,
    cdcTopic: tweetsCdc,
    tasksTopic: tasks,
    now,
  });
  // Follows and unfollows commit no progress records: their lag is all there is to show.
  const graphLag = await lagOf(admin, graphGroup, followersCdc, existing);
  const dead = existing.has(deadLetter) ? await admin.fetchTopicOffsets(deadLetter) : [];
  return {
    at: now,
    group: config.pipeline.groupId,
    topic: tweetsCdc,
    tweets,
    lag,
    tasks: { group: tasksGroup, topic: tasks, lag: taskLag },
    graph: { group: graphGroup, topic: followersCdc, lag: graphLag },
    deadLetters: dead.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0),
    pendingWork: pendingWork.length,
  };
}

/**
 * `fanout status [--json] [--watch]`: what the fan-out is doing, from any machine, without asking
 * the workers: tweets in progress from what their workers committed (delivered, total, remaining,
 * cursor; for split tweets, their tasks by state; see pipeline/progress.ts), and each consumer
 * group's lag per partition: the workers on the tweets CDC topic, their task lanes on the work
 * topic, their graph lanes on the followers CDC topic. `--watch` redraws it until Ctrl-C, with
 * each tweet's rate, ETA and checkpoint age.
 */
export async function status(
  ctx: Context,
  json: boolean,
  options: StatusOptions = {},
): Promise<void> {
  if (options.watch) return watch(ctx, options);
  const snap = await snapshot(ctx);
  const { tweets, lag } = snap;
  if (json) {
    console.log(
      JSON.stringify(
        {
          group: snap.group,
          topic: snap.topic,
          tweets,
          lag,
          tasks: snap.tasks,
          graph: snap.graph,
          deadLetters: snap.deadLetters,
        },
        null,
        2,
      ),
    );
    return;
  }
  console.log(lagLine(snap.group, snap.topic, lag));
  console.log(
    `${lagLine(snap.tasks.group, snap.tasks.topic, snap.tasks.lag)}; ${snap.pendingWork} task and task-done records not yet committed`,
  );
  if (snap.graph.lag.length > 0)
    console.log(
      `${lagLine(snap.graph.group, snap.graph.topic, snap.graph.lag)} (follows and unfollows)`,
    );
  if (tweets.length === 0) {
    console.log('no fan-out in progress (as of the last checkpoints)');
    return;
  }
  console.table(
    tweets.map((t) => ({
      tweet: t.tweet,
      op: t.retracting ? 'insert, taken back' : t.op,
      author: t.author,
      delivered: t.delivered,
      total: t.total,
      remaining: t.remaining,
      progress: t.split
        ? `${t.split.tasks} tasks: ${t.split.done} done, ${t.split.inProgress} in progress, ${t.split.waiting} waiting`
        : `cursor ${t.cursor ?? '-'}`,
      'age s': t.ageSeconds,
      source: t.source,
    })),
  );
}

/** Redraws the status every interval until Ctrl-C (SIGINT) or `options.signal`. */
async function watch(ctx: Context, options: StatusOptions): Promise<void> {
  const intervalMs = options.intervalMs ?? 1_000;
  const stop = new AbortController();
  const onSigint = (): void => stop.abort();
  process.once('SIGINT', onSigint);
  options.signal?.addEventListener('abort', onSigint, { once: true });
  const tty = options.write === undefined && process.stdout.isTTY;
  const write =
    options.write ??
    ((text: string): void => {
      // On a terminal: home the cursor and clear, so the screen redraws in place.
      process.stdout.write(tty ? `\x1b[H\x1b[2J${text}\n` : `${text}\n\n`);
    });
  let state: WatchState | undefined;
  try {
    while (!stop.signal.aborted) {
      try {
        const snap = await snapshot(ctx);
        state = nextWatchState(state, snap);
        write(
          renderWatch(snap, state, {
            intervalMs,
            width: tty ? process.stdout.columns : 100,
          }),
        );
      } catch (err) {
        // A read Kafka may answer at the next try (a coordinator loading, a broker restarting):
        // said on the screen instead of a wrong picture, and the watch goes on.
        if (!(err instanceof FanoutError && err.retriable)) throw err;
        write(`status unavailable, trying again in ${intervalMs} ms: ${err.message}`);
      }
      await sleep(intervalMs, undefined, { signal: stop.signal }).catch(() => undefined);
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/**
 * A group's committed offsets against the partitions' ends (no commit yet: from the low
 * watermark); none for a topic not in `existing`. A failed read rejects: taken for "no commit",
 * it showed the group a whole topic behind.
 */
export async function lagOf(
  admin: Pick<Admin, 'fetchTopicOffsets' | 'fetchOffsets'>,
  groupId: string,
  topic: string,
  existing: ReadonlySet<string>,
): Promise<PartitionLag[]> {
  if (!existing.has(topic)) return [];
  const high = await admin.fetchTopicOffsets(topic);
  const committed = (await admin.fetchOffsets({ groupId, topics: [topic] }))[0]?.partitions ?? [];
  return high.map((h) => {
    const c = committed.find((p) => p.partition === h.partition);
    const at = c && Number(c.offset) >= 0 ? Number(c.offset) : Number(h.low);
    return {
      partition: h.partition,
      committed: at,
      end: Number(h.high),
      lag: Math.max(Number(h.high) - at, 0),
    };
  });
}

/**
 * One line per group: how many offsets it is behind the partitions' ends, and which partitions lag.
 * Offsets, not records: on these transactional topics every commit marker takes an offset too,
 * so a group that is fully caught up can show a few.
 */
function lagLine(groupId: string, topic: string, lag: readonly PartitionLag[]): string {
  const behind = lag.filter((l) => l.lag > 0);
  const total = lag.reduce((s, l) => s + l.lag, 0);
  const where =
    behind.length === 0
      ? ''
      : ` (partition:lag ${behind.map((l) => `${l.partition}:${l.lag}`).join(' ')})`;
  return `group ${groupId} on ${topic}: ${total} offsets behind over ${lag.length} partitions${where}`;
}
