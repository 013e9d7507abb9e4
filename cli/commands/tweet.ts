import { CassandraTimelineStore } from '../../connectors/cassandra/timelines.ts';
import { CassandraTweetStore } from '../../connectors/cassandra/tweets.ts';
import type { Context } from '../context.ts';
import { UsageError, userId } from '../args.ts';

/** `fanout tweet --author <id> <text…>`: a plain CQL INSERT into tweets, as an application does. */
export async function tweet(
  ctx: Context,
  author: string | undefined,
  words: string[],
): Promise<void> {
  if (words.length === 0)
    throw new UsageError('tweet needs a text: fanout tweet --author 1 "hello world"');
  const store = new CassandraTweetStore(await ctx.cassandra(), ctx.config.cassandra.keyspace);
  const t = await store.insert(userId(author, '--author'), words.join(' '));
  console.log(t.tweetId);
}

/** `fanout timeline <user> [--limit n]`: a home timeline, newest first, hydrated from tweets. */
export async function timeline(
  ctx: Context,
  user: string | undefined,
  limit: number,
): Promise<void> {
  const client = await ctx.cassandra();
  const ks = ctx.config.cassandra.keyspace;
  const entries = await new CassandraTimelineStore(client, ks).read(userId(user, 'user'), limit);
  const tweets = new Map(
    (await new CassandraTweetStore(client, ks).get(entries.map((e) => e.tweetId))).map((t) => [
      t.tweetId,
      t,
    ]),
  );
  // The cap is kept by sampled trims, so a timeline may briefly hold a few more (docs/formats.md).
  const { maxEntries, trimEvery } = ctx.config.timeline;
  const cap =
    trimEvery === 0
      ? 'not capped: timeline.trimEvery=0'
      : `capped at ${maxEntries} entries, timeline.maxEntries`;
  console.log(
    entries.length === 0
      ? `timeline of ${user}: empty (${cap})`
      : `timeline of ${user}: newest ${entries.length} (${cap})`,
  );
  for (const e of entries) {
    const t = tweets.get(e.tweetId);
    console.log(
      t
        ? `${t.createdAt.toISOString()}  @${t.authorId}: ${t.body}  (${t.tweetId})`
        : `(deleted tweet ${e.tweetId} by @${e.authorId})`,
    );
  }
}
