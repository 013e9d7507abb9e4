/**
 * The three measurements of the stream bench, each against a running pipeline process:
 * the same small-tweet load through the pipeline and through the raw driver (a ratio), a
 * power-law stream stepped up in rate (latency per step), and that stream with one celebrity
 * tweet in the middle (head-of-line blocking).
 */
import type { CassandraClient } from '../../connectors/cassandra/client.ts';
import { mulberry32 } from '../../cli/seed-graph.ts';
import { cpuMsPerTweet, readCpu, since, type CpuReading } from './cpu.ts';
import {
  type Captures,
  type Completions,
  latencies,
  percentile,
  writeTweets,
  type Written,
} from './load.ts';
import { nodeRequests, perTweet, settle } from './node-requests.ts';
import { type RawResult, rawTweets, TWEETS_WITHOUT_CDC } from './raw.ts';

export interface Env {
  readonly client: CassandraClient;
  readonly keyspace: string;
  readonly done: Completions;
  /** When each tweet's change event became readable in the CDC topic. */
  readonly captured: Captures;
  readonly pipelinePid: number;
  /** Longest wait for a load's completions. */
  readonly timeoutMs: number;
}

export interface SameLoadRow {
  readonly followers: number;
  readonly tweets: number;
  readonly pipelineTweetsPerSecond: number;
  readonly rawTweetsPerSecond: number;
  readonly ratio: number;
  /** Of both raw runs (./raw.ts). */
  readonly rawErrors: number;
  readonly pipelineCpu: CpuReading;
  readonly rawCpu: CpuReading;
  /** Requests the Cassandra node answered per tweet: pipeline run (the tweet's own write too), raw run. */
  readonly pipelineRequests: number;
  readonly rawRequests: number;
  /**
   * The raw driver writing each tweet first, as the application does (./raw.ts): its rate and
   * its rate / the raw run's, the most any pipeline fed by the application's writes can reach.
   */
  readonly writingTweetsPerSecond: number;
  readonly ceiling: number;
  readonly writingCpuMsPerTweet: number | undefined;
  readonly writingRequests: number;
  /**
   * Ms from the pipeline run's last completion until the node was found quiet again (its trims
   * behind the writes; ./node-requests.ts settle, one window included): its CPU and requests are
   * read then, its rate ends at the last completion.
   */
  readonly pipelineTrailingMs: number;
  /**
   * CPU ms per tweet of every process (Cassandra, Kafka, the pipeline process, the bench) during
   * each run, and raw / pipeline: with both runs CPU-bound, what the ratio of rates should be.
   */
  readonly pipelineCpuMsPerTweet: number | undefined;
  readonly rawCpuMsPerTweet: number | undefined;
  readonly cpuRatio: number | undefined;
}

/**
 * `perAuthor` tweets of each author, round robin: through the raw driver, the raw driver writing
 * each tweet first (the ceiling), then the pipeline.
 */
export async function sameLoad(
  env: Omit<Env, 'captured'>,
  followers: number,
  authors: readonly bigint[],
  perAuthor: number,
): Promise<SameLoadRow> {
  const load = Array.from({ length: perAuthor }, () => authors).flat();
  const raw = await rawRun(env, load);
  const writing = await rawRun(env, load, TWEETS_WITHOUT_CDC);
  await settle(env.client);
  const before = readCpu(env.pipelinePid);
  const requestsBefore = await nodeRequests(env.client);
  const started = Date.now();
  const written = await writeTweets(env.client, env.keyspace, load, { concurrency: 32 });
  await env.done.waitFor(written, env.timeoutMs);
  const ended = Math.max(...written.map((t) => env.done.get(t.tweetId)!.receivedAt));
  // Its cost is all it did for these tweets, the trims behind the last row too.
  // Requests only: the compactions its writes leave are left out, as the raw run's are.
  await settle(env.client, { compactions: false });
  const pipelineTrailingMs = Date.now() - ended;
  const pipelineCpu = since(before, readCpu(env.pipelinePid));
  const pipelineRequests = perTweet(requestsBefore, await nodeRequests(env.client), load.length);
  const pipelineRate = load.length / ((ended - started) / 1000);
  const rawRate = raw.tweets / raw.seconds;
  const writingRate = writing.tweets / writing.seconds;
  const pipelineCpuMs = cpuMsPerTweet(pipelineCpu, load.length);
  const rawCpuMs = cpuMsPerTweet(raw.cpu, load.length);
  return {
    followers,
    tweets: load.length,
    pipelineTweetsPerSecond: Math.round(pipelineRate),
    rawTweetsPerSecond: Math.round(rawRate),
    ratio: +(pipelineRate / rawRate).toFixed(2),
    rawErrors: raw.errors + writing.errors,
    pipelineCpu,
    rawCpu: raw.cpu,
    pipelineRequests,
    rawRequests: raw.requests,
    writingTweetsPerSecond: Math.round(writingRate),
    ceiling: +(writingRate / rawRate).toFixed(2),
    writingCpuMsPerTweet: cpuMsPerTweet(writing.cpu, load.length),
    writingRequests: writing.requests,
    pipelineTrailingMs,
    pipelineCpuMsPerTweet: pipelineCpuMs,
    rawCpuMsPerTweet: rawCpuMs,
    cpuRatio:
      pipelineCpuMs === undefined || rawCpuMs === undefined
        ? undefined
        : +(rawCpuMs / pipelineCpuMs).toFixed(2),
  };
}

/** One raw-driver run (./raw.ts) on a quiet node, with the CPU and requests it cost. */
async function rawRun(
  env: Omit<Env, 'captured'>,
  load: readonly bigint[],
  tweetsTable?: string,
): Promise<RawResult & { cpu: CpuReading; requests: number }> {
  await settle(env.client); // no run pays for what the run before left behind
  const before = readCpu(env.pipelinePid);
  const requestsBefore = await nodeRequests(env.client);
  const result = await rawTweets(env.client, env.keyspace, load, {
    inFlight: 64,
    pageSize: 5000,
    ...(tweetsTable === undefined ? {} : { tweetsTable }),
  });
  return {
    ...result,
    cpu: since(before, readCpu(env.pipelinePid)),
    requests: perTweet(requestsBefore, await nodeRequests(env.client), load.length),
  };
}

export interface StepRow {
  readonly targetPerSecond: number;
  readonly tweets: number;
  readonly tweetsPerSecond: number;
  readonly rowsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /**
   * p99 of the legs (ms): write → its change event readable in Kafka (the CDC capture); write →
   * the worker takes it up (the capture, the worker's fetch, any queue); then → last row.
   */
  readonly p99ToKafkaMs: number;
  readonly p99ToWorkerMs: number;
  readonly p99InWorkerMs: number;
  readonly cpu: CpuReading;
}

/** Tweets of authors drawn (seeded) from `authors`: the power-law stream's order. */
export function drawAuthors(authors: readonly bigint[], n: number, seed: number): bigint[] {
  const rnd = mulberry32(seed);
  return Array.from({ length: n }, () => authors[Math.floor(rnd() * authors.length)]!);
}

/** Stats of a paced load once every tweet of it completed. */
function stepOf(env: Env, target: number, written: readonly Written[], cpu: CpuReading): StepRow {
  const started = Math.min(...written.map((t) => t.ackedAt));
  const ended = Math.max(...written.map((t) => env.done.get(t.tweetId)!.finishedAt));
  const seconds = Math.max(0.001, (ended - started) / 1000);
  const rows = written.reduce((s, t) => s + env.done.get(t.tweetId)!.delivered, 0);
  const lat = latencies(written, env.done);
  return {
    targetPerSecond: target,
    tweets: written.length,
    tweetsPerSecond: Math.round(written.length / seconds),
    rowsPerSecond: Math.round(rows / seconds),
    p50Ms: percentile(lat, 50),
    p99Ms: percentile(lat, 99),
    maxMs: percentile(lat, 100),
    p99ToKafkaMs: percentile(latencies(written, env.done, 'toKafka', env.captured), 99),
    p99ToWorkerMs: percentile(latencies(written, env.done, 'toWorker'), 99),
    p99InWorkerMs: percentile(latencies(written, env.done, 'inWorker'), 99),
    cpu,
  };
}

/**
 * The stream at each rate for `seconds`; stops stepping once a step's p99 passes `stopAboveMs`
 * (the pipeline fell behind: higher rates only queue more).
 */
export async function steps(
  env: Env,
  authors: readonly bigint[],
  rates: readonly number[],
  seconds: number,
  stopAboveMs: number,
  onStep: (row: StepRow) => void,
): Promise<StepRow[]> {
  const rows: StepRow[] = [];
  for (const [i, rate] of rates.entries()) {
    const load = drawAuthors(authors, Math.max(1, Math.round(rate * seconds)), 100 + i);
    await settle(env.client);
    const before = readCpu(env.pipelinePid);
    const written = await writeTweets(env.client, env.keyspace, load, { rate });
    await env.done.waitFor(written, env.timeoutMs);
    const row = stepOf(env, rate, written, since(before, readCpu(env.pipelinePid)));
    rows.push(row);
    onStep(row);
    if (row.p99Ms > stopAboveMs) break;
  }
  return rows;
}

export interface HeadOfLine {
  readonly ratePerSecond: number;
  readonly alone: StepRow;
  /** Small tweets written between the celebrity's write and its last row. */
  readonly during: StepRow;
  readonly celebrityFollowers: number;
  readonly celebritySeconds: number;
  readonly ratio: number;
}

/**
 * The stream at `rate` for `seconds` alone, then again with one tweet of `celebrity` written
 * `leadMs` in (the stream goes on until that tweet completed); small tweets' latency during the
 * celebrity's fan-out against the run alone.
 */
export async function headOfLine(
  env: Env,
  authors: readonly bigint[],
  celebrity: { authorId: bigint; followers: number },
  rate: number,
  seconds: number,
  leadMs = 2_000,
): Promise<HeadOfLine> {
  // Each part starts on a quiet node: the fan-out before (a round's celebrity, its trims) done.
  await settle(env.client);
  const aloneBefore = readCpu(env.pipelinePid);
  const alone = await writeTweets(
    env.client,
    env.keyspace,
    drawAuthors(authors, Math.round(rate * seconds), 200),
    { rate },
  );
  await env.done.waitFor(alone, env.timeoutMs);
  const aloneRow = stepOf(env, rate, alone, since(aloneBefore, readCpu(env.pipelinePid)));

  await settle(env.client);
  const before = readCpu(env.pipelinePid);
  let big: Written | undefined;
  let bigDoneAt: number | undefined;
  const writeBig = (async () => {
    await new Promise((r) => setTimeout(r, leadMs));
    [big] = await writeTweets(env.client, env.keyspace, [celebrity.authorId], { concurrency: 1 });
  })();
  const stream = await writeTweets(
    env.client,
    env.keyspace,
    drawAuthors(authors, Math.round(rate * 600), 300),
    { rate },
    () => {
      const c = big && env.done.get(big.tweetId);
      bigDoneAt ??= c ? Date.now() : undefined;
      return bigDoneAt !== undefined && Date.now() - bigDoneAt > 500;
    },
  );
  await writeBig;
  await env.done.waitFor([...stream, big!], env.timeoutMs);
  const bigFinished = env.done.get(big!.tweetId)!.finishedAt;
  const during = stream.filter((t) => t.ackedAt >= big!.ackedAt && t.ackedAt <= bigFinished);
  const duringRow = stepOf(env, rate, during, since(before, readCpu(env.pipelinePid)));
  return {
    ratePerSecond: rate,
    alone: aloneRow,
    during: duringRow,
    celebrityFollowers: celebrity.followers,
    celebritySeconds: +((bigFinished - big!.ackedAt) / 1000).toFixed(1),
    ratio: +(duringRow.p99Ms / aloneRow.p99Ms).toFixed(2),
  };
}
