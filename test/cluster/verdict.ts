/**
 * The exactly-once check of the cluster tests, read back from what the pipeline left: the
 * completions topic (one per tweet), the CDC topic (one change per write: one op and write time,
 * however many replica copies, and whatever bytes a replica logged it with again) and every
 * follower's whole timeline at LOCAL_QUORUM (the driver's LOCAL_ONE could read a replica that has
 * not received every row yet).
 */
import cassandra from 'cassandra-driver';
import type { Config } from '../../config/index.ts';
import type { CassandraClient } from '../../connectors/cassandra/client.ts';
import type { RowChangeEvent } from '../../connectors/cdc/events.ts';
import { readToEnd } from '../../connectors/kafka/read-to-end.ts';
import { classifyCassandraError } from '../../lib/errors.ts';
import { retry } from '../../lib/retry.ts';

/** What {@link verdict} found; every list empty means exactly once, exact timelines. */
export interface Verdict {
  /** Tweets with more than one completion: `id ×n`. */
  readonly duplicated: string[];
  readonly missing: string[];
  /** Tweets whose one write logged more than one distinct change (op and write time). */
  readonly splitChanges: string[];
  /**
   * Tweets whose write a replica logged again with other bytes (a read repair: another eventId,
   * the same change): the claims must skip those copies too. Not a failure; said in the log.
   */
  readonly relogged: number;
  /** Followers whose timeline is not exactly the tweets written, and strangers holding any. */
  readonly wrongTimelines: string[];
  /** Copies of the tweets' changes that reached Kafka (3 per change when every replica logged it). */
  readonly copies: number;
}

interface Checked {
  readonly config: Config;
  readonly client: CassandraClient;
  /** Every one of them follows every author, so each timeline must hold every tweet. */
  readonly followers: readonly bigint[];
}

export async function verdict(
  w: Checked,
  written: ReadonlyArray<{ readonly id: string }>,
  copies: number,
): Promise<Verdict> {
  const parts = Array.from({ length: w.config.topics.cdcPartitions }, (_, i) => i);
  const count = new Map<string, number>();
  for (const r of await readToEnd(w.config, w.config.topics.completed, parts)) {
    const c = JSON.parse(r.value!.toString('utf8')) as { tweetId: string; op: string };
    if (c.op === 'insert') count.set(c.tweetId, (count.get(c.tweetId) ?? 0) + 1);
  }
  const changes = new Map<string, Set<string>>();
  const eventIds = new Map<string, Set<string>>();
  const add = (m: Map<string, Set<string>>, id: string, v: string): void =>
    void (m.get(id) ?? m.set(id, new Set()).get(id)!).add(v);
  for (const r of await readToEnd(w.config, w.config.topics.tweetsCdc, parts)) {
    const e = JSON.parse(r.value!.toString('utf8')) as RowChangeEvent;
    const id = e.key?.['tweet_id'] as string | undefined;
    if (id === undefined) continue;
    add(changes, id, `${e.op}/${e.writeTimestamp}`);
    add(eventIds, id, e.eventId);
  }
  return {
    duplicated: written
      .filter((t) => (count.get(t.id) ?? 0) > 1)
      .map((t) => `${t.id} ×${count.get(t.id)}`),
    missing: written.filter((t) => !count.has(t.id)).map((t) => t.id),
    splitChanges: written.filter((t) => (changes.get(t.id)?.size ?? 0) > 1).map((t) => t.id),
    relogged: written.filter((t) => (eventIds.get(t.id)?.size ?? 0) > 1).length,
    wrongTimelines: await wrongTimelines(w, new Set(written.map((t) => t.id))),
    copies,
  };
}

/** Followers whose timeline is not exactly `ids`, and the two strangers around them holding any. */
async function wrongTimelines(w: Checked, ids: ReadonlySet<string>): Promise<string[]> {
  const ks = w.config.cassandra.keyspace;
  const first = w.followers[0]!;
  const last = w.followers[w.followers.length - 1]!;
  const wrong: string[] = [];
  const users = [...w.followers, first - 1n, last + 1n];
  for (let i = 0; i < users.length; i += 16) {
    await Promise.all(
      users.slice(i, i + 16).map(async (u) => {
        // A loaded cluster times reads out right after a fan-out: retried, as the product would.
        const rs = await retry(
          w.config.retry,
          () =>
            w.client
              .execute(`SELECT tweet_id FROM ${ks}.timelines WHERE user_id = ?`, [u], {
                prepare: true,
                fetchSize: 100_000,
                consistency: cassandra.types.consistencies.localQuorum,
              })
              .catch((err: unknown) => {
                throw classifyCassandraError(err, `read the timeline of ${u}`);
              }),
          { what: `read the timeline of ${u}` },
        );
        const held = new Set(rs.rows.map((row) => String(row.get('tweet_id'))));
        const expected = u >= first && u <= last ? ids.size : 0;
        const exact = held.size === expected && [...held].every((t) => ids.has(t));
        if (!exact) wrong.push(`user ${u}: ${held.size} of ${expected}`);
      }),
    );
  }
  return wrong;
}
