/**
 * Fan-out benchmark (issue #4), all approaches on this machine in one run, side by side:
 *   (a) naive: for (f of followers) await insert(f)        — on a sample, it is slow
 *   (b) Promise.all over the followers                      — on a sample, it is a DoS
 *   (c) ceiling: raw cassandra-driver writes of the same rows, the best of single-row
 *       executeConcurrent and unlogged 50-row batches, each at the best concurrency found
 *   (d) this pipeline end to end (when available: bench/approaches/pipeline.ts)
 *   (e) context, not a goal: (d)'s job by hand with the raw driver (read pages of followers and
 *       write them in (c)'s batches at (c)'s concurrency) without its reliability: d/e is what
 *       the CDC hop, Kafka transactions and checkpoints cost
 * Each runs in its own process (peak RSS is its own). The box is shared and noisy, so (c), (e) and
 * (d) run `--rounds` times, interleaved (c e d, d e c, ...), after (c)'s tuning runs and one
 * discarded (d) warm-up run, each on an emptied timelines table (no approach pays for an earlier
 * one's compactions); the ratios use the medians. With `--isolate` the same rounds also run with
 * Cassandra pinned to its own core (./cores.ts), layouts alternating within each round, (c) tuned
 * per layout. `--tracing` and `--trim-cost` run variants of (d) right beside each (d) run (traced;
 * timeline trims off), the order flipping each round. Each run records the CPU the local Cassandra
 * and Kafka spent during its timed part (from /proc, when the services are this project's
 * launcher's): which process limits a ratio. Prints tables, writes bench-results/fanout.json.
 *
 *   ./fanout services up && node bench/fanout.ts [--followers 500000] [--naive-rows 20000]
 *       [--promise-all-rows 100000] [--rounds 3] [--flat-rss N] [--tracing] [--isolate]
 *       [--trim-cost]          (options: ./fanout-args.ts)
 */
import './exit.ts'; // first: failures in one line, signals stop the approach processes too
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadConfig } from '../config/index.ts';
import { connectCassandra } from '../connectors/cassandra/client.ts';
import { applySchema } from '../connectors/cassandra/schema.ts';
import { removeDeployment } from './approaches/deployment.ts';
import { CoreLayouts, type Layout } from './cores.ts';
import { benchArgs, usageError } from './fanout-args.ts';
import { medianRows, printSummary, type LayoutRuns } from './report.ts';
import { median, runApproach, type Row } from './runner.ts';
import { ensureFollowers } from './seed.ts';

const args = benchArgs();
const bigFollowers = args.flatRss;
const bigAuthor = 2n;
const followers = args.followers;
const env = { ...process.env, FANOUT_CASSANDRA_KEYSPACE: args.keyspace };
const config = loadConfig({ env });
const author = 1n;
const layouts: Layout[] = args.isolate ? ['shared', 'isolated'] : ['shared'];
let cores: CoreLayouts | undefined;
try {
  cores = args.isolate ? new CoreLayouts() : undefined;
} catch (err) {
  usageError(`--isolate: ${(err as Error).message}`);
}

const client = await connectCassandra(config);
await applySchema(client, config);
const ks = config.cassandra.keyspace;
await ensureFollowers(client, ks, author, followers, 1_000_000n);
if (bigFollowers > 0) await ensureFollowers(client, ks, bigAuthor, bigFollowers, 10_000_000n);

/** Runs one approach in its own process, pinned as `layout` wants, on an emptied timelines table. */
const run = (
  script: string,
  args: string[],
  note: string,
  approach: string,
  layout: Layout = 'shared',
): Promise<Row> =>
  runApproach({
    script,
    args,
    note,
    approach: layout === 'shared' ? approach : `${approach} [${layout}]`,
    env,
    prefix: cores?.clientPrefix(layout) ?? [],
    before: async () => {
      cores?.apply(layout);
      await client.execute(`TRUNCATE ${ks}.timelines`);
    },
  });

const rows: Row[] = [];
rows.push(
  await run(
    'approaches/baselines.ts',
    ['naive', String(author), args.naiveRows],
    `sample of ${args.naiveRows} rows`,
    '(a) naive loop',
  ),
);
rows.push(
  await run(
    'approaches/baselines.ts',
    ['promise-all', String(author), args.promiseAllRows],
    `sample of ${args.promiseAllRows} rows`,
    '(b) Promise.all',
  ),
);

// (c)'s tuning, per layout (the best concurrency may differ with Cassandra on one core):
// single-row writes once per level on 100k rows (at half the batches' rate here, never close),
// the batch levels on all the rows in TUNE_ROUNDS interleaved rounds, each level judged by its
// median: a lucky two-second run of 100k rows must not pick the ceiling's concurrency (one did:
// 128, which then ran 10–20% under its tuning figure at 500k).
const TUNE_ROUNDS = 3;
async function tuneCeiling(layout: Layout): Promise<{ shape: string; level: string }> {
  const tuning = new Map<string, Row[]>();
  const tune = async (shape: string, c: number, n: number): Promise<void> => {
    const r = await run(
      'approaches/baselines.ts',
      [shape, String(author), String(n), String(c)],
      `${shape} ${c}`,
      `(c) tuning ${shape} c=${c}`,
      layout,
    );
    tuning.set(`${shape} ${c}`, [...(tuning.get(`${shape} ${c}`) ?? []), r]);
  };
  for (const c of [64, 256, 1024]) await tune('ceiling', c, Math.min(followers, 100_000));
  const batchLevels = [8, 16, 32, 128];
  for (let round = 0; round < TUNE_ROUNDS; round++) {
    for (const c of round % 2 === 0 ? batchLevels : [...batchLevels].reverse())
      await tune('ceiling-batch', c, followers);
  }
  const tuned = [...tuning].map(([key, runs]) => ({ key, rate: median(runs).rowsPerSecond }));
  process.stderr.write(
    `(c) tuning medians, ${layout}: ${tuned.map((t) => `${t.key}: ${t.rate}`).join(', ')}\n`,
  );
  const [shape, level] = tuned.reduce((a, b) => (b.rate > a.rate ? b : a)).key.split(' ');
  return { shape: shape!, level: level! };
}

interface Plan extends LayoutRuns {
  readonly shape: string;
  readonly level: string;
  readonly joinLevel: string;
}
const plans: Plan[] = [];
for (const layout of layouts) {
  const { shape, level } = await tuneCeiling(layout);
  // (c)'s batch concurrency (or, if single-row writes won, the pipeline's batches in flight).
  const joinLevel = shape === 'ceiling-batch' ? level : String(config.pipeline.maxInFlightBatches);
  plans.push({
    layout,
    description: cores?.describe(layout) ?? 'every process on every core',
    shape,
    level,
    joinLevel,
    ceilingNote: `raw driver: ${shape === 'ceiling' ? 'executeConcurrent single-row' : 'unlogged 50-row batches'}, concurrency ${level}`,
    joinNote: `raw driver, no reliability: pages of followers read and written as unlogged 50-row batches, concurrency ${joinLevel}`,
    ceilings: [],
    joins: [],
    pipelines: [],
    traced: [],
    untrimmed: [],
  });
}

const pipelineScript = resolve(import.meta.dirname, 'approaches/pipeline.ts');
const hasPipeline = existsSync(pipelineScript);
// Every (d) run is a fresh process of one deployment (its topics and groups outlive the process,
// as a deployed pipeline's do), and the first one is a discarded warm-up, as (c) had its tuning
// runs: the broker's side of the path (transactions, fetches) is then not measured cold.
const deployment = `bench-${Date.now().toString(36)}`;
const dNote = 'CQL insert of the tweet -> last timeline row written';
const rounds = args.rounds;

/** (d), with (t) (--tracing) and (d) with trims off (--trim-cost) beside it: pipeline.ts's flags. */
const variants = (
  [
    {
      on: args.tracing,
      runs: 'traced',
      flags: ['traced'],
      label: '(t) pipeline traced',
      note: 'same, telemetry SDK on (default span sampling, traces exported)',
    },
    { on: true, runs: 'pipelines', flags: [], label: '(d) pipeline', note: dNote },
    {
      on: args.trimCost,
      runs: 'untrimmed',
      flags: ['trims-off'],
      label: '(d) pipeline, trims off',
      note: 'same, timeline.trimEvery=0: no timeline trims',
    },
  ] as const
).filter((v) => v.on);

/** One round of one layout: (c), (e), (d) and its variants, the order flipping each round. */
async function runRound(p: Plan, round: number): Promise<void> {
  const at = `round ${round}`;
  const c = async (): Promise<void> => {
    p.ceilings.push(
      await run(
        'approaches/baselines.ts',
        [p.shape, String(author), String(followers), p.level],
        p.ceilingNote,
        `(c) ceiling, ${at}`,
        p.layout,
      ),
    );
  };
  const e = async (): Promise<void> => {
    p.joins.push(
      await run(
        'approaches/baselines.ts',
        ['raw-join', String(author), String(followers), p.joinLevel],
        p.joinNote,
        `(e) raw join, ${at}`,
        p.layout,
      ),
    );
  };
  // (d) and its variants back to back, the order flipping every round: (d) sits in the middle,
  // beside each, so every pair shares its minute of load.
  const d = async (): Promise<void> => {
    for (const v of round % 2 === 1 ? variants : [...variants].reverse())
      p[v.runs].push(
        await run(
          'approaches/pipeline.ts',
          [String(author), String(followers), deployment, ...v.flags],
          v.note,
          `${v.label}, ${at}`,
          p.layout,
        ),
      );
  };
  if (!hasPipeline) return c();
  for (const step of round % 2 === 1 ? [c, e, d] : [d, e, c]) await step();
}

try {
  if (hasPipeline)
    await run(
      'approaches/pipeline.ts',
      [String(author), String(followers), deployment],
      'discarded',
      '(d) warm-up',
    );
  // Layouts alternate within each round (their order flipping too), so both see the same minutes.
  for (let round = 1; round <= rounds; round++)
    for (const p of round % 2 === 1 ? plans : [...plans].reverse()) await runRound(p, round);
  for (const p of plans) rows.push(...medianRows(p, hasPipeline));
  if (hasPipeline && bigFollowers > 0)
    rows.push(
      await run(
        'approaches/pipeline.ts',
        [String(bigAuthor), String(bigFollowers), deployment],
        `same, author with ${bigFollowers} followers (peak RSS comparison)`,
        '(d) pipeline, big author',
      ),
    );
} finally {
  cores?.restore();
  if (hasPipeline) await removeDeployment(deployment); // also when a run failed
}
await client.execute(`TRUNCATE ${ks}.timelines`);
await client.shutdown();

const ratios = printSummary(rows, plans, { hasPipeline, bigFollowers });
mkdirSync('bench-results', { recursive: true });
writeFileSync(
  'bench-results/fanout.json',
  `${JSON.stringify({ followers, at: new Date().toISOString(), rows, ratios, layouts: plans }, null, 2)}\n`,
);
