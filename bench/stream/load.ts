/**
 * The stream bench's load and its observation: tweets written with plain CQL (as fast as a fixed
 * concurrency allows, or paced at a target rate), and the pipeline's `fanout.completed` events
 * read back (read_committed) to time each tweet from its write's acknowledgement to its last
 * timeline row (the event's `completedAt`) and to its committed completion (when read here).
 * Every clock is this machine's wall clock (the pipeline runs in a child process on it).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import cassandra from 'cassandra-driver';
import type { CassandraClient } from '../../connectors/cassandra/client.ts';
import type { KafkaClient } from '../../connectors/kafka/client.ts';

export interface Written {
  readonly tweetId: string;
  readonly authorId: bigint;
  /** Date.now() when the CQL write was acknowledged. */
  readonly ackedAt: number;
}

export interface Completed {
  /** The worker took the tweet up (the event's startedAt): the CDC hop and any queue are behind. */
  readonly startedAt: number;
  /** The last timeline row written (the event's completedAt). */
  readonly finishedAt: number;
  /** Read here: committed. */
  readonly receivedAt: number;
  readonly delivered: number;
}

/**
 * One value per tweet read from a topic, from its start (read_committed) under its own group:
 * `parse` turns a record's value and the time it arrived here into the tweet and its value (or
 * nothing); `keep` says whether a later record of the same tweet replaces the first.
 */
export class ByTweet<T> {
  readonly #seen = new Map<string, T>();
  readonly #consumer: ReturnType<KafkaClient['consumer']>;

  private constructor(consumer: ReturnType<KafkaClient['consumer']>) {
    this.#consumer = consumer;
  }

  static async open<T>(
    kafka: KafkaClient,
    topic: string,
    group: string,
    keep: 'first' | 'last',
    parse: (value: string, receivedAt: number) => [tweetId: string, value: T] | undefined,
  ): Promise<ByTweet<T>> {
    const consumer = kafka.consumer({
      'group.id': group,
      'auto.offset.reset': 'earliest',
      'isolation.level': 'read_committed',
      'fetch.wait.max.ms': 10,
    } as never);
    const c = new ByTweet<T>(consumer);
    await consumer.connect();
    await consumer.subscribe({ topics: [topic] });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const entry = parse(String(message.value), Date.now());
        if (entry && (keep === 'last' || !c.#seen.has(entry[0]))) c.#seen.set(...entry);
      },
    });
    return c;
  }

  get(tweetId: string): T | undefined {
    return this.#seen.get(tweetId);
  }

  /** Resolves once every tweet has a value; rejects naming how many had not by `timeoutMs`. */
  async waitFor(tweets: readonly Written[], timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let missing = tweets.length;
    while (Date.now() < deadline) {
      missing = tweets.filter((t) => !this.#seen.has(t.tweetId)).length;
      if (missing === 0) return;
      await sleep(20);
    }
    throw new Error(`${missing} of ${tweets.length} tweets not completed within ${timeoutMs} ms`);
  }

  async close(): Promise<void> {
    await this.#consumer.disconnect();
  }
}

/** Every `fanout.completed` event of a topic, by tweet id. */
export type Completions = ByTweet<Completed>;

export const openCompletions = (
  kafka: KafkaClient,
  topic: string,
  group: string,
): Promise<Completions> =>
  ByTweet.open(kafka, topic, group, 'last', (value, receivedAt) => {
    const e = JSON.parse(value) as {
      tweetId: string;
      startedAt: string;
      completedAt: string;
      followersDelivered: number;
    };
    return [
      e.tweetId,
      {
        startedAt: Date.parse(e.startedAt),
        finishedAt: Date.parse(e.completedAt),
        receivedAt,
        delivered: e.followersDelivered,
      },
    ];
  });

/**
 * When each tweet's first change event became readable in the tweets CDC topic (committed by the
 * connector), by tweet id: what splits the hop to the worker into the CDC capture (the commit-log
 * sync, the connector's read and transaction) and the rest (the worker's fetch and admission).
 */
export type Captures = ByTweet<number>;

export const openCaptures = (kafka: KafkaClient, topic: string, group: string): Promise<Captures> =>
  ByTweet.open(kafka, topic, group, 'first', (value, receivedAt) => {
    const tweetId = (JSON.parse(value) as { key?: { tweet_id?: unknown } }).key?.tweet_id;
    return typeof tweetId === 'string' ? [tweetId, receivedAt] : undefined;
  });

export type Pace = { readonly concurrency: number } | { readonly rate: number };

/** Attempts per tweet write before the bench gives up (a loaded node times writes out). */
const WRITE_ATTEMPTS = 5;

/** Most CQL writes in flight when pacing a rate (a rate the node cannot take shows as lateness). */
const MAX_PACED_IN_FLIGHT = 256;

/** One tweet as the application writes it: a plain CQL insert into `table` (`tweets`: CDC on). */
export async function writeTweet(
  client: CassandraClient,
  keyspace: string,
  tweet: { tweetId: string; authorId: bigint; createdAt: Date },
  table = 'tweets',
): Promise<void> {
  await client.execute(
    `INSERT INTO ${keyspace}.${table} (tweet_id, author_id, body, created_at) VALUES (?, ?, ?, ?)`,
    [tweet.tweetId, tweet.authorId, 'stream bench', tweet.createdAt],
    { prepare: true },
  );
}

/**
 * Writes one tweet per author given, in order, as plain CQL inserts paced by `pace` (a paced
 * stream ends early once `stop` says so).
 */
export async function writeTweets(
  client: CassandraClient,
  keyspace: string,
  authors: readonly bigint[],
  pace: Pace,
  stop: () => boolean = () => false,
): Promise<Written[]> {
  const written: Written[] = [];
  const one = async (authorId: bigint): Promise<void> => {
    const tweetId = cassandra.types.TimeUuid.now().toString();
    const createdAt = new Date();
    // As an application would: a timed-out write is retried (the same row: idempotent).
    for (let attempt = 1; ; attempt++) {
      try {
        await writeTweet(client, keyspace, { tweetId, authorId, createdAt });
        break;
      } catch (err) {
        if (attempt === WRITE_ATTEMPTS) throw err;
      }
    }
    written.push({ tweetId, authorId, ackedAt: Date.now() });
  };
  let next = 0;
  if ('concurrency' in pace) {
    const writer = async (): Promise<void> => {
      while (next < authors.length) await one(authors[next++]!);
    };
    await Promise.all(Array.from({ length: pace.concurrency }, writer));
    return written;
  }
  const started = performance.now();
  const inFlight = new Set<Promise<void>>();
  while (next < authors.length && !stop()) {
    const due = Math.min(
      authors.length,
      Math.floor(((performance.now() - started) * pace.rate) / 1000) + 1,
    );
    while (next < due && inFlight.size < MAX_PACED_IN_FLIGHT) {
      const p = one(authors[next++]!).finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
    await (inFlight.size >= MAX_PACED_IN_FLIGHT ? Promise.race(inFlight) : sleep(2));
  }
  await Promise.all(inFlight);
  return written;
}

/** The `p`-th percentile (nearest rank) of `values` (sorted here), rounded; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!);
}

/**
 * A leg of a tweet's latency: from its write's acknowledgement to its last timeline row
 * (`whole`), to its change event readable in Kafka (`toKafka`: the CDC capture), to the worker
 * taking it up (`toWorker`: the capture, then the worker's fetch and any wait for room), or from
 * then to its last row (`inWorker`).
 */
export type Leg = 'whole' | 'toKafka' | 'toWorker' | 'inWorker';

/** Latencies (ms) of each tweet's `leg`; `toKafka` needs `captures`. */
export function latencies(
  tweets: readonly Written[],
  done: Completions,
  leg: Leg = 'whole',
  captures?: Captures,
): number[] {
  return tweets.flatMap((t) => {
    if (leg === 'toKafka') {
      const at = captures?.get(t.tweetId);
      return at === undefined ? [] : [Math.max(0, at - t.ackedAt)];
    }
    const c = done.get(t.tweetId);
    if (!c) return [];
    const from = leg === 'inWorker' ? c.startedAt : t.ackedAt;
    const to = leg === 'toWorker' ? c.startedAt : c.finishedAt;
    return [Math.max(0, to - from)];
  });
}
