/**
 * Stream benchmark (issue #19): small tweets, the everyday load, end to end through CQL.
 *   1. the same small-tweet load (authors with 20, then 250 followers) through the pipeline and
 *      through the raw driver (./stream/raw.ts), as tweets/s and their ratio;
 *   2. a power-law stream written at rates stepped up: per step tweets/s, rows/s and p50/p99/max
 *      of CQL write acknowledged → last timeline row; the highest rate whose p99 stays under the
 *      bound;
 *   3. that stream alone, then with one celebrity tweet in the middle: small tweets' p99 during
 *      its fan-out against without it.
 * The pipeline (connector + one worker) runs in a process of its own on a benchmark deployment's
 * topics; the load and the raw driver run here. Prints tables, writes bench-results/stream.json.
 *
 *   ./fanout services up && ./fanout bench --stream [options]   (--help lists them)
 */
import '../connectors/kafka/threadpool.ts'; // first: before anything uses libuv's thread pool
import './exit.ts'; // failures in one line, signals stop the pipeline process too
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/index.ts';
import { connectCassandra } from '../connectors/cassandra/client.ts';
import { CassandraFollowerStore } from '../connectors/cassandra/followers.ts';
import { CassandraTimelineStore } from '../connectors/cassandra/timelines.ts';
import { applySchema } from '../connectors/cassandra/schema.ts';
import { createKafka } from '../connectors/kafka/client.ts';
import { createLogger } from '../lib/log.ts';
import { deploymentSettings, removeDeployment } from './approaches/deployment.ts';
import { fillTimelines } from './stream/fill.ts';
import { fixedAuthors, powerLawAuthors, seedAuthors } from './stream/graph.ts';
import { type Captures, openCaptures, openCompletions, writeTweets } from './stream/load.ts';
import { headOfLine, sameLoad, steps, type Env } from './stream/phases.ts';
import { startPipeline } from './stream/pipeline.ts';
import { createTweetsWithoutCdc } from './stream/raw.ts';
import { formatReport, summarise, type StreamReport } from './stream/report.ts';

export const STREAM_USAGE = `usage: fanout bench --stream [--tweets-per-author 5] [--authors-20 1000] [--authors-250 400]
                    [--authors 5000] [--rates 250,500,1000,2000,4000] [--step-seconds 5]
                    [--p99-bound-ms 1000] [--celebrity 500000] [--hol-rate 200] [--hol-seconds 10]
                    [--rounds 1] [--seed 1] [--keyspace fanout_stream] [--set key=value ...]
                    [--fill-timelines 0] [--out bench-results/stream.json]
  small tweets through CQL: the pipeline against the raw driver (20 and 250 followers), a
  power-law stream stepped up in rate (p50/p99/max of write -> last timeline row), and that
  stream with one --celebrity tweet in the middle (0: skip). --rounds repeats the same-load
  pairs and the head-of-line run (interleaved) and prints each round and the medians: one
  round on a shared box moves by more than the goals' margins. --set configures the pipeline.
  --fill-timelines writes that many older rows into every same-load follower's timeline first
  (timeline.maxEntries: full timelines, as a deployment has them after a few days).
  (services must be up: ./fanout services up)`;

function usageError(message: string): never {
  process.stderr.write(`fanout bench --stream: ${message}\n${STREAM_USAGE}\n`);
  process.exit(2);
}
const counts = {
  'tweets-per-author': '5',
  'authors-20': '1000',
  'authors-250': '400',
  authors: '5000',
  'step-seconds': '5',
  'p99-bound-ms': '1000',
  celebrity: '500000',
  'hol-rate': '200',
  'hol-seconds': '10',
  rounds: '1',
  seed: '1',
  'fill-timelines': '0',
} as const;
type CountKey = keyof typeof counts;
let values;
try {
  values = parseArgs({
    options: {
      ...Object.fromEntries(
        Object.entries(counts).map(([k, v]) => [k, { type: 'string' as const, default: v }]),
      ),
      rates: { type: 'string', default: '250,500,1000,2000,4000' },
      keyspace: { type: 'string', default: 'fanout_stream' },
      out: { type: 'string', default: 'bench-results/stream.json' },
      set: { type: 'string', multiple: true, default: [] },
      help: { type: 'boolean', default: false },
    },
  }).values;
} catch (err) {
  usageError((err as Error).message);
}
if (values.help) {
  process.stdout.write(`${STREAM_USAGE}\n`);
  process.exit(0);
}
const n = {} as Record<CountKey, number>;
for (const key of Object.keys(counts) as CountKey[]) {
  const v = (values as Record<string, unknown>)[key] as string;
  const min = key === 'celebrity' || key.startsWith('authors-') || key.startsWith('fill-') ? 0 : 1;
  if (!/^\d+$/.test(v) || Number(v) < min)
    usageError(`--${key} must be a whole number of at least ${min}, got ${JSON.stringify(v)}`);
  n[key] = Number(v);
}
const rates = values.rates.split(',').map(Number);
if (rates.some((r) => !Number.isInteger(r) || r < 1))
  usageError(`--rates must be positive whole numbers separated by commas, got ${values.rates}`);
for (const s of values.set)
  if (!/^[\w.]+=/.test(s)) usageError(`--set takes key=value, got ${JSON.stringify(s)}`);

const keyspace = values.keyspace;
const tag = `bench-${Date.now().toString(36)}`;
// The pipeline's settings: the benchmark deployment's topics and groups, then --set, then the
// keyspace. This process reads the same (services, topics) from them.
const sets = [...deploymentSettings(tag), ...values.set, `cassandra.keyspace=${keyspace}`];
const config = loadConfig({ sets });
const client = await connectCassandra(config);
await applySchema(client, config);
for (const table of ['followers', 'timelines', 'tweet_authors'])
  await client.execute(`TRUNCATE ${keyspace}.${table}`);
await createTweetsWithoutCdc(client, keyspace);

// The graphs, each in its own id range.
const small20 = fixedAuthors(1_000_001n, n['authors-20'], 20, 100_000_000n);
const small250 = fixedAuthors(2_000_001n, n['authors-250'], 250, 200_000_000n);
const power = powerLawAuthors({
  firstAuthor: 3_000_001n,
  authors: n.authors,
  min: 5,
  max: 2_000,
  alpha: 1.2,
  population: 200_000,
  firstFollower: 300_000_000n,
  seed: n.seed,
});
const celebrity = fixedAuthors(4_000_000n, n.celebrity > 0 ? 1 : 0, n.celebrity, 400_000_000n);
const store = new CassandraFollowerStore(client, keyspace);
const seeded = await seedAuthors(store, [...small20, ...small250, ...power, ...celebrity]);
process.stderr.write(`seeded ${seeded} follows\n`);
if (n['fill-timelines'] > 0) {
  const timelines = new CassandraTimelineStore(client, keyspace);
  const filled = await fillTimelines(timelines, [...small20, ...small250], n['fill-timelines']);
  process.stderr.write(`filled timelines with ${filled} rows\n`);
}

const pipeline = await startPipeline(sets);
const kafka = createKafka(config, createLogger('warn'));
const done = await openCompletions(
  kafka,
  config.topics.completed,
  `${config.pipeline.groupId}.bench-reader`, // removed with the deployment (or the test run)
);
const ctx: Omit<Env, 'captured'> = {
  client,
  keyspace,
  done,
  pipelinePid: pipeline.pid,
  timeoutMs: 300_000,
};
// Opened once the same-load runs are done: they do not use it, and the raw runs beside them do not
// pay for a reader of every change event (this process's JSON, the broker's fetches).
let captured: Captures | undefined;
try {
  // Warm-up: the first tweets' statements, transactions and topic metadata, once per process.
  await done.waitFor(
    await writeTweets(client, keyspace, [999_999_999n, power[0]!.authorId], { concurrency: 1 }),
    60_000,
  );
  const report: StreamReport = {
    rounds: n.rounds,
    sameLoad: [],
    steps: [],
    p99BoundMs: n['p99-bound-ms'],
    pipelineSets: values.set,
    pipelineNodeFlags: pipeline.nodeFlags,
    filledTimelines: n['fill-timelines'],
    maxEntries: config.timeline.maxEntries,
    headOfLine: [],
  };
  // Rounds interleaved (20, 250, 20, 250, …): drift on a shared box spreads over both.
  for (let round = 1; round <= n.rounds; round++)
    for (const [followers, authors] of [
      [20, small20],
      [250, small250],
    ] as const) {
      if (authors.length === 0) continue;
      const ids = authors.map((a) => a.authorId);
      const row = await sameLoad(ctx, followers, ids, n['tweets-per-author']);
      report.sameLoad.push({ round, ...row });
      process.stderr.write(
        `same load, ${followers} followers, round ${round}: ${JSON.stringify(row)}\n`,
      );
    }
  captured = await openCaptures(
    kafka,
    config.topics.tweetsCdc,
    `${config.pipeline.groupId}.bench-capture-reader`,
  );
  // It reads the topic from its start: once a tweet written now is captured, it is at the end.
  await captured.waitFor(
    await writeTweets(client, keyspace, [power[0]!.authorId], { concurrency: 1 }),
    ctx.timeoutMs,
  );
  const timed: Env = { ...ctx, captured };
  const powerIds = power.map((a) => a.authorId);
  report.steps = await steps(
    timed,
    powerIds,
    rates,
    n['step-seconds'],
    4 * n['p99-bound-ms'],
    (r) => process.stderr.write(`step: ${JSON.stringify(r)}\n`),
  );
  if (celebrity.length > 0)
    for (let round = 1; round <= n.rounds; round++) {
      const hol = await headOfLine(
        timed,
        powerIds,
        { authorId: celebrity[0]!.authorId, followers: n.celebrity },
        n['hol-rate'],
        n['hol-seconds'],
      );
      report.headOfLine.push({ round, ...hol });
      process.stderr.write(`head-of-line, round ${round}: p99 during / alone ${hol.ratio}\n`);
    }
  process.stdout.write(formatReport(report));
  mkdirSync(dirname(values.out), { recursive: true });
  writeFileSync(
    values.out,
    `${JSON.stringify({ ...report, summary: summarise(report) }, null, 2)}\n`,
  );
} finally {
  await done.close().catch(() => undefined);
  await captured?.close().catch(() => undefined);
  await pipeline.stop();
  await client.shutdown();
  await removeDeployment(tag);
}
process.exit(0);
