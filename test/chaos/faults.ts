/**
 * The chaos suite's service faults and observers: a Kafka restart and a Cassandra SIGKILL and
 * restart of the shared local services, through the launcher as the Kafka-restart CDC test does
 * (left up); a watch on `fanout.completed` (when each completion arrived, for recovery times);
 * the dead-letter audit.
 */
import { readFile } from 'node:fs/promises';
import type { Config } from '../../config/index.ts';
import { connectAdmin } from '../../connectors/kafka/admin.ts';
import { readToEnd } from '../../connectors/kafka/read-to-end.ts';
import type { TweetState } from './world.ts';

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Stops the local Kafka (graceful), keeps it down a few seconds, starts it again. */
export async function restartKafka(): Promise<void> {
  const { servicesDown, servicesUp } = await import('../../services/launcher.ts');
  await servicesDown(['kafka']);
  await pause(3_000);
  await servicesUp(['kafka']);
}

/** SIGKILLs the local Cassandra JVM, waits until it is gone, starts it again on its data. */
export async function killAndRestartCassandra(): Promise<void> {
  const { servicePaths, servicesUp } = await import('../../services/launcher.ts');
  const pid = Number((await readFile(servicePaths().cassandra.pidFile, 'utf8')).trim());
  if (!Number.isInteger(pid) || pid <= 1) throw new Error(`no Cassandra pid (${pid})`);
  process.kill(pid, 'SIGKILL');
  for (;;) {
    try {
      process.kill(pid, 0);
      await pause(100);
    } catch {
      break;
    }
  }
  await servicesUp(['cassandra']);
}

interface Seen {
  tweetId: string;
  op: string;
  /** When the worker completed it (its own clock, from the record). */
  at: number;
}

/**
 * The completions topic as read_committed readers see it, read to its end on demand (no
 * long-lived consumer: one would itself have to ride out the Kafka restart).
 */
export class CompletionWatch {
  seen: Seen[] = [];
  readonly #config: Config;

  constructor(config: Config) {
    this.#config = config;
  }

  async #read(): Promise<void> {
    const partitions = Array.from({ length: this.#config.topics.cdcPartitions }, (_, i) => i);
    const records = await readToEnd(this.#config, this.#config.topics.completed, partitions);
    this.seen = records.map((r) => {
      const c = JSON.parse(r.value!.toString('utf8')) as {
        tweetId: string;
        op: string;
        completedAt: string;
      };
      return { tweetId: c.tweetId, op: c.op, at: Date.parse(c.completedAt) };
    });
  }

  /** Waits until each expected (tweet/op) has arrived. */
  async until(expected: Map<string, number>, ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    for (;;) {
      await this.#read().catch(() => undefined);
      const have = new Set(this.seen.map((s) => `${s.tweetId}/${s.op}`));
      const missing = [...expected.keys()].filter((k) => !have.has(k));
      if (missing.length === 0) return;
      if (Date.now() > deadline)
        throw new Error(
          `${missing.length} completions missing after ${ms} ms, e.g. ${missing.slice(0, 5).join(', ')}`,
        );
      await pause(2_000);
    }
  }

  /** ms from `at` until the first completion of a tweet written at or after it. */
  recoveryAfter(at: number, tweets: ReadonlyMap<string, TweetState>): number | undefined {
    const after = this.seen.filter((s) => (tweets.get(s.tweetId)?.writtenAt ?? 0) >= at);
    return after.length === 0 ? undefined : Math.min(...after.map((s) => s.at)) - at;
  }

  /** Completions per tweet/op in the whole topic (committed). */
  async counts(): Promise<Map<string, number>> {
    await this.#read();
    const counts = new Map<string, number>();
    for (const c of this.seen) {
      const k = `${c.tweetId}/${c.op}`;
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    return counts;
  }
}

/**
 * Reads every dead letter and explains it: a bad row (no author) dead-lettered once by a worker,
 * the 2 MB body omitted from its event once by the connector, the delete of a tweet whose insert
 * Cassandra lost at its SIGKILL. Returns what is not explained.
 */
export async function explainDeadLetters(
  config: Config,
  tweets: ReadonlyMap<string, TweetState>,
): Promise<string[]> {
  const records = await readToEnd(config, config.topics.deadLetter, [0]);
  const problems: string[] = [];
  const letters = new Map<string, number>();
  for (const r of records) {
    const d = JSON.parse(r.value!.toString('utf8')) as {
      stage: string;
      reason: { code: string; message: string };
      value?: string;
      event?: { key?: { tweet_id?: string } };
    };
    let tweetId: string | undefined;
    if (d.stage === 'fanout' && d.value)
      tweetId = (
        JSON.parse(Buffer.from(d.value, 'base64').toString('utf8')) as {
          key?: { tweet_id?: string };
        }
      ).key?.tweet_id;
    if (d.stage === 'cdc') tweetId = d.event?.key?.tweet_id;
    const t = tweetId ? tweets.get(tweetId) : undefined;
    const ok =
      (d.stage === 'fanout' && d.reason.code === 'missing-author' && t?.author === null) ||
      // A delete written after Cassandra's SIGKILL of a tweet whose insert the node lost (written
      // in the last moments before it, never synced): the worker knows no author to retract from.
      (d.stage === 'fanout' && d.reason.code === 'unknown-author' && t?.inserted === false) ||
      (d.stage === 'cdc' && d.reason.code === 'oversized' && t?.big === true);
    if (!ok) problems.push(`${d.stage} ${d.reason.code}: ${d.reason.message.slice(0, 200)}`);
    else letters.set(tweetId!, (letters.get(tweetId!) ?? 0) + 1);
  }
  for (const t of tweets.values()) {
    if (!t.inserted || (t.author !== null && !t.big)) continue;
    if (letters.get(t.id) !== 1)
      problems.push(
        `tweet ${t.id} (${t.big ? '2 MB' : 'bad row'}): ${letters.get(t.id) ?? 0} dead letters, expected 1`,
      );
  }
  return problems;
}

/** What became of the changes whose completion never came: written when, which event exists. */
export async function diagnose(
  config: Config,
  watch: CompletionWatch,
  expected: Map<string, number>,
  tweets: ReadonlyMap<string, TweetState>,
  faults: ReadonlyArray<{ what: string; at: number }>,
  t0: number,
): Promise<string> {
  const have = new Set(watch.seen.map((s) => `${s.tweetId}/${s.op}`));
  const missing = [...expected.keys()].filter((k) => !have.has(k));
  const partitions = Array.from({ length: config.topics.cdcPartitions }, (_, i) => i);
  const events = await readToEnd(config, config.topics.tweetsCdc, partitions).catch(() => []);
  const ops = new Map<string, string[]>();
  for (const r of events) {
    const e = JSON.parse(r.value!.toString('utf8')) as { op: string; key: { tweet_id: string } };
    ops.set(e.key.tweet_id, [
      ...(ops.get(e.key.tweet_id) ?? []),
      `${e.op}@${r.partition}/${r.offset}`,
    ]);
  }
  const inTopic = await watch.counts().catch(() => new Map<string, number>());
  const admin = await connectAdmin(config);
  const committed = await admin
    .fetchOffsets({ groupId: config.pipeline.groupId, topics: [config.topics.tweetsCdc] })
    .catch(() => []);
  await admin.disconnect();
  const s = (t: number): string => `${((t - t0) / 1000).toFixed(1)} s`;
  return `group offsets: ${JSON.stringify(committed)}\n${missing
    .slice(0, 10)
    .map((k) => {
      const t = tweets.get(k.split('/')[0]!);
      const near = faults.filter((f) => t && Math.abs(f.at - t.writtenAt) < 5_000);
      return `${k}: author ${t?.author}, big ${t?.big}, written at ${t ? s(t.writtenAt) : '?'}, updates ${t?.updates}, deleted ${t?.deleted}; CDC events: ${ops.get(t?.id ?? '')?.join(' ') ?? 'NONE'}; completions in the topic: ${inTopic.get(k) ?? 0}; faults within 5 s: ${near.map((f) => `${f.what}@${s(f.at)}`).join(', ') || '-'}`;
    })
    .join('\n')}`;
}
