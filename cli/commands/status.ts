import { readToEnd } from '../../connectors/kafka/read-to-end.ts';
import { restoreCheckpoints } from '../../pipeline/records.ts';
import type { Context } from '../context.ts';

/**
 * `fanout status [--json]`: what the fan-out is doing, from any machine, without asking the
 * workers: tweets in progress from their latest committed checkpoints (delivered, total,
 * remaining, cursor; as of the last checkpoint, at most checkpointEvery/2 batches old), and
 * the consumer group's lag per partition of the tweets CDC topic.
 */
export async function status(ctx: Context, json: boolean): Promise<void> {
  const { config } = ctx;
  const admin = await ctx.admin();
  const topic = config.topics.tweetsCdc;
  const meta = await admin.fetchTopicMetadata({ topics: [topic, config.topics.checkpoints] }).catch(() => []);
  const partitionsOf = (t: string): number[] => (meta.find((m) => m.name === t)?.partitions ?? []).map((p) => p.partitionId);
  const checkpoints = restoreCheckpoints(await readToEnd(config, config.topics.checkpoints, partitionsOf(config.topics.checkpoints)), topic);
  const now = Date.now();
  const tweets = [...checkpoints].flatMap(([partition, byOffset]) => [...byOffset].filter(([, cp]) => !cp.done).map(([offset, cp]) => ({
    tweet: cp.tweetId,
    op: cp.op,
    author: cp.authorId?.toString() ?? null,
    delivered: cp.delivered,
    total: cp.total,
    remaining: cp.total === null ? null : Math.max(cp.total - cp.delivered, 0),
    cursor: cp.cursor?.toString() ?? null,
    ageSeconds: Math.round((now - cp.startedAt) / 1000),
    source: `${partition}@${offset}`,
  })));
  const high = await admin.fetchTopicOffsets(topic).catch(() => []);
  const committed = (await admin.fetchOffsets({ groupId: config.pipeline.groupId, topics: [topic] }).catch(() => []))[0]?.partitions ?? [];
  const lag = high.map((h) => {
    const c = committed.find((p) => p.partition === h.partition);
    const at = c && Number(c.offset) >= 0 ? Number(c.offset) : Number(h.low);
    return { partition: h.partition, committed: at, end: Number(h.high), lag: Math.max(Number(h.high) - at, 0) };
  });
  if (json) {
    console.log(JSON.stringify({ group: config.pipeline.groupId, topic, tweets, lag }, null, 2));
    return;
  }
  console.log(`group ${config.pipeline.groupId} on ${topic}: lag ${lag.reduce((s, l) => s + l.lag, 0)} records over ${lag.length} partitions`);
  if (tweets.length === 0) console.log('no fan-out in progress (as of the last checkpoints)');
  else console.table(tweets);
}
