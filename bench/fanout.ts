/**
 * Fan-out benchmark (issue #4), all approaches on this machine in one run, side by side:
 *   (a) naive: for (f of followers) await insert(f)        — on a sample, it is slow
 *   (b) Promise.all over the followers                      — on a sample, it is a DoS
 *   (c) ceiling: raw cassandra-driver writes of the same rows, the best of single-row
 *       executeConcurrent and unlogged 50-row batches, each at the best concurrency found
 *   (d) this pipeline end to end (when available: bench/approaches/pipeline.ts)
 * Each runs in its own process (peak RSS is its own). Prints a table, writes
 * bench-results/fanout.json.
 *
 *   ./fanout services up && node bench/fanout.ts [--followers 500000] [--naive-rows 20000]
 *       [--promise-all-rows 100000] [--flat-rss 5000000]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/index.ts';
import { connectCassandra } from '../connectors/cassandra/client.ts';
import { CassandraFollowerStore } from '../connectors/cassandra/followers.ts';
import { applySchema } from '../connectors/cassandra/schema.ts';
import { writeSeed } from '../cli/commands/seed.ts';

const { values } = parseArgs({
  options: {
    followers: { type: 'string', default: '500000' },
    'naive-rows': { type: 'string', default: '20000' },
    'promise-all-rows': { type: 'string', default: '100000' },
    keyspace: { type: 'string', default: 'fanout_bench' },
    // Also run (d) for a second author with this many followers, to compare peak RSS (0 = skip).
    'flat-rss': { type: 'string', default: '0' },
  },
});
const bigFollowers = Number(values['flat-rss']);
const bigAuthor = 2n;
const followers = Number(values.followers);
const env = { ...process.env, FANOUT_CASSANDRA_KEYSPACE: values.keyspace };
const config = loadConfig({ env });
const author = 1n;

const client = await connectCassandra(config);
await applySchema(client, config);
const store = new CassandraFollowerStore(client, config.cassandra.keyspace);
if ((await store.count(author)) !== followers) {
  await client.execute(`TRUNCATE ${config.cassandra.keyspace}.followers`);
  process.stderr.write(`seeding ${followers} followers of author ${author}...\n`);
  await writeSeed(store, { author, followers, firstFollower: 1_000_000n, tailAuthors: 0, tailMax: 1, seed: 1 }, 16);
}
if (bigFollowers > 0 && (await store.count(bigAuthor)) !== bigFollowers) {
  process.stderr.write(`seeding ${bigFollowers} followers of author ${bigAuthor}...\n`);
  await writeSeed(store, { author: bigAuthor, followers: bigFollowers, firstFollower: 10_000_000n, tailAuthors: 0, tailMax: 1, seed: 2 }, 16);
}
await client.shutdown();

interface Row { approach: string; rows: number; seconds: number; errors: number; maxRssMiB: number; rowsPerSecond: number; note: string }

function run(script: string, args: string[], note: string, approach: string): Row {
  const r = spawnSync(process.execPath, [resolve(import.meta.dirname, script), ...args], { env, encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`${approach} failed: ${r.stderr.slice(-2000)}`);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Omit<Row, 'approach' | 'note' | 'rowsPerSecond'>;
  const row = { approach, ...out, rowsPerSecond: Math.round((out.rows - out.errors) / out.seconds), note };
  process.stderr.write(`${approach}: ${JSON.stringify(row)}\n`);
  return row;
}

const rows: Row[] = [];
rows.push(run('approaches/baselines.ts', ['naive', String(author), values['naive-rows']], `sample of ${values['naive-rows']} rows`, '(a) naive loop'));
rows.push(run('approaches/baselines.ts', ['promise-all', String(author), values['promise-all-rows']], `sample of ${values['promise-all-rows']} rows`, '(b) Promise.all'));
let best: Row | undefined;
const tuneRows = String(Math.min(followers, 100_000));
for (const [shape, levels] of [['ceiling', [64, 256, 1024]], ['ceiling-batch', [8, 32, 128]]] as const) {
  for (const c of levels) {
    const r = run('approaches/baselines.ts', [shape, String(author), tuneRows, String(c)], `${shape} ${c}`, `(c) tuning ${shape} c=${c}`);
    if (!best || r.rowsPerSecond > best.rowsPerSecond) best = { ...r, note: `${shape} ${c}` };
  }
}
const [shape, level] = best!.note.split(' ') as [string, string];
rows.push(run('approaches/baselines.ts', [shape, String(author), String(followers), level], `raw driver: ${shape === 'ceiling' ? 'executeConcurrent single-row' : 'unlogged 50-row batches'}, concurrency ${level}`, '(c) ceiling'));
const pipelineScript = resolve(import.meta.dirname, 'approaches/pipeline.ts');
if (existsSync(pipelineScript)) {
  rows.push(run('approaches/pipeline.ts', [String(author), String(followers)], 'CQL insert of the tweet -> last timeline row written', '(d) pipeline'));
  if (bigFollowers > 0) rows.push(run('approaches/pipeline.ts', [String(bigAuthor), String(bigFollowers)], `same, author with ${bigFollowers} followers (peak RSS comparison)`, '(d) pipeline, big author'));
}

const rate = (prefix: string): number | undefined => rows.find((r) => r.approach.startsWith(prefix))?.rowsPerSecond;
const d = rows.find((r) => r.approach === '(d) pipeline')?.rowsPerSecond;
const ratios = d === undefined ? {} : {
  'd/c': +(d / rate('(c) ceiling')!).toFixed(2),
  'd/a': +(d / rate('(a)')!).toFixed(1),
  'd/b': +(d / rate('(b)')!).toFixed(1),
  ...(bigFollowers > 0 ? { 'peak RSS big/small': +(rows.find((r) => r.approach === '(d) pipeline, big author')!.maxRssMiB / rows.find((r) => r.approach === '(d) pipeline')!.maxRssMiB).toFixed(2) } : {}),
};
console.table(rows.map(({ approach, rows: n, seconds, rowsPerSecond, errors, maxRssMiB, note }) => ({ approach, rows: n, seconds: +seconds.toFixed(2), 'rows/s': rowsPerSecond, errors, 'peak RSS MiB': maxRssMiB, note })));
if (d !== undefined) console.table([ratios]);
mkdirSync('bench-results', { recursive: true });
writeFileSync('bench-results/fanout.json', `${JSON.stringify({ followers, at: new Date().toISOString(), rows, ratios }, null, 2)}\n`);
