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
import type { AtRisk, Seen } from './loss.ts';
import type { Supervised } from './processes.ts';
import type { TweetState } from './world.ts';

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A fault the suite injected. */
export interface Fault {
  what: string;
  at: number;
  /** When the process or service was back (ready, or restarted). */
  backAt?: number;
  /** The killed process, to find when it was back. */
  victim?: Supervised;
  /** ms until the product served a write made after the fault (its completion arrived). */
  recoveredMs?: number;
}

/** The faults, one a line, with how long each took to be back and to serve again. */
export function describeFaults(faults: readonly Fault[], elapsed: (t: number) => string): string {
  const s = (ms: number | undefined): string =>
    ms === undefined ? '?' : `${(ms / 1000).toFixed(1)} s`;
  const lines = faults.map(
    (f) =>
      `  ${elapsed(f.at).padStart(8)}  ${f.what.padEnd(28)} back in ${s(f.backAt === undefined ? undefined : f.backAt - f.at).padEnd(7)} a later tweet completed after ${s(f.recoveredMs)}`,
  );
  return `faults injected (${faults.length}):\n${lines.join('\n')}\n`;
}

/** Stops the local Kafka (graceful), keeps it down a few seconds, starts it again. */
export async function restartKafka(): Promise<void> {
  const { servicesDown, servicesUp } = await import('../../services/launcher.ts');
  await servicesDown(['kafka']);
  await pause(3_000);
  await servicesUp(['kafka']);
}

/**
 * SIGKILLs the local Cassandra JVM, waits until it is gone, starts it again on its data. Calls
 * `killed` with the time of the kill (the start of what the node may have lost).
 */
export async function killAndRestartCassandra(killed: (at: number) => void): Promise<void> {
  const { servicePaths, servicesUp } = await import('../../services/launcher.ts');
  const pid = Number((await readFile(servicePaths().cassandra.pidFile, 'utf8')).trim());
  if (!Number.isInteger(pid) || pid <= 1) throw new Error(`no Cassandra pid (${pid})`);
  killed(Date.now());
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

  /** Reads begun, and the one `seen` is of: one that ends after a newer one is dropped. */
  #reads = 0;
  #applied = 0;

  async #read(): Promise<void> {
    const mine = ++this.#reads;
    const partitions = Array.from({ length: this.#config.topics.cdcPartitions }, (_, i) => i);
    const records = await readToEnd(this.#config, this.#config.topics.completed, partitions);
    if (mine < this.#applied) return;
    this.#applied = mine;
    this.seen = records.map((r) => {
      const c = JSON.parse(r.value!.toString('utf8')) as {
        tweetId: string;
        op: string;
        startedAt: string;
        completedAt: string;
        retracted?: boolean;
      };
      return {
        tweetId: c.tweetId,
        op: c.op,
        startedAt: Date.parse(c.startedAt),
        at: Date.parse(c.completedAt),
        retracted: c.retracted === true,
      };
    });
  }

  /**
   * Waits until each expected (tweet/op) has arrived, or `excuse` (given those still missing)
   * explains its absence.
   */
  async until(
    expected: Map<string, number>,
    ms: number,
    excuse: (missing: string[]) => Promise<string[]> = async (m) => m,
  ): Promise<void> {
    const deadline = Date.now() + ms;
    for (;;) {
      await this.#read().catch(() => undefined);
      const have = new Set(this.seen.map((s) => `${s.tweetId}/${s.op}`));
      let missing = [...expected.keys()].filter((k) => !have.has(k));
      if (missing.length > 0) missing = await excuse(missing).catch(() => missing);
      if (missing.length === 0) return;
      if (Date.now() > deadline)
        throw new Error(
          `${missing.length} completions missing after ${ms} ms, e.g. ${missing.slice(0, 5).join(', ')}`,
        );
      await pause(2_000);
    }
  }

  /**
   * Resolves once a change completed at or after `at` (true: the pipeline serves again after a
   * fault, from its backlog or new writes), or after `ms` (false).
   */
  async completedSince(at: number, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    for (;;) {
      await this.#read().catch(() => undefined);
      if (this.seen.some((s) => s.at >= at)) return true;
      if (Date.now() > deadline) return false;
      await pause(1_000);
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

/** A dead letter as the suite reads it: who wrote it, why, and of which tweet. */
export interface Letter {
  stage: string;
  code: string;
  message: string;
  tweetId: string | undefined;
}

export async function readDeadLetters(config: Config): Promise<Letter[]> {
  const records = await readToEnd(config, config.topics.deadLetter, [0]);
  return records.map((r) => {
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
    return { stage: d.stage, code: d.reason.code, message: d.reason.message, tweetId };
  });
}

/**
 * The deletes dead-lettered `unknown-author` although their insert was acknowledged: explained
 * only when that insert's fan-out (which records the author first) ran in Cassandra's loss window.
 */
export function orphanedDeletes(
  letters: readonly Letter[],
  tweets: ReadonlyMap<string, TweetState>,
  risk: AtRisk,
): Set<string> {
  const out = new Set<string>();
  for (const l of letters) {
    const t = l.tweetId ? tweets.get(l.tweetId) : undefined;
    if (l.code === 'unknown-author' && t?.inserted && t.deleted && risk.inserts.has(t.id))
      out.add(t.id);
  }
  return out;
}

/**
 * Explains every dead letter: a bad row (no author) dead-lettered once by a worker, the 2 MB body
 * omitted from its event once by the connector, the delete of a tweet whose insert (or the author
 * record its fan-out wrote) Cassandra lost at its SIGKILL. Returns what is not explained.
 */
export function explainDeadLetters(
  letters: readonly Letter[],
  tweets: ReadonlyMap<string, TweetState>,
  orphaned: ReadonlySet<string>,
): string[] {
  const problems: string[] = [];
  const counted = new Map<string, number>();
  for (const d of letters) {
    const t = d.tweetId ? tweets.get(d.tweetId) : undefined;
    const ok =
      (d.stage === 'fanout' && d.code === 'missing-author' && t?.author === null) ||
      // A delete written after Cassandra's SIGKILL of a tweet whose insert the node lost (written
      // in the last moments before it, never synced): the worker knows no author to retract from.
      (d.stage === 'fanout' && d.code === 'unknown-author' && t?.inserted === false) ||
      (d.stage === 'fanout' && d.code === 'unknown-author' && orphaned.has(t?.id ?? '')) ||
      (d.stage === 'cdc' && d.code === 'oversized' && t?.big === true);
    if (!ok) problems.push(`${d.stage} ${d.code}: ${d.message.slice(0, 200)}`);
    else counted.set(t!.id, (counted.get(t!.id) ?? 0) + 1);
  }
  for (const t of tweets.values()) {
    const once = (t.inserted && (t.author === null || t.big)) || orphaned.has(t.id);
    if (once && counted.get(t.id) !== 1)
      problems.push(
        `tweet ${t.id} (${t.big ? '2 MB' : t.author === null ? 'bad row' : 'orphaned delete'}): ${counted.get(t.id) ?? 0} dead letters, expected 1`,
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
