/**
 * One fan-out approach, run in its own process so its peak RSS is its own:
 *   node bench/approaches/baselines.ts <naive|promise-all|ceiling|ceiling-batch> <author> <limit> [concurrency]
 * Reads the author's followers and writes one timeline row per follower for a fresh tweet id,
 * then prints one JSON line: { rows, seconds, errors, maxRssMiB }.
 */
import cassandra from 'cassandra-driver';
import { loadConfig } from '../../config/index.ts';
import { connectCassandra } from '../../connectors/cassandra/client.ts';
import { CassandraFollowerStore } from '../../connectors/cassandra/followers.ts';
import { cpuSince } from './cpu.ts';

const [approach, authorArg, limitArg, concurrencyArg] = process.argv.slice(2);
const config = loadConfig();
const client = await connectCassandra(config);
const ks = config.cassandra.keyspace;
const author = BigInt(authorArg ?? '1');
const limit = Number(limitArg ?? '0');
const tweetId = cassandra.types.TimeUuid.now().toString();
const insert = `INSERT INTO ${ks}.timelines (user_id, tweet_id, author_id) VALUES (?, ?, ?) USING TIMESTAMP ?`;
const ts = BigInt(Date.now()) * 1000n;

// Every approach gets the follower ids the same way (paged reads), outside the timed part.
const store = new CassandraFollowerStore(client, ks);
const followers: bigint[] = [];
for (let after: bigint | null = null; followers.length < limit;) {
  const page = await store.page(author, after, Math.min(5_000, limit - followers.length));
  if (page.length === 0) break;
  followers.push(...page);
  after = page.at(-1)!;
}

let errors = 0;
const started = performance.now();
const cpuAtStart = process.cpuUsage();
if (approach === 'naive') {
  // for (f of followers) await insert(f)
  for (const f of followers) {
    await client.execute(insert, [f, tweetId, author, ts], { prepare: true }).catch(() => { errors++; });
  }
} else if (approach === 'promise-all') {
  // Promise.all(followers.map(insert)): every write at once.
  await Promise.all(followers.map((f) => client.execute(insert, [f, tweetId, author, ts], { prepare: true }).catch(() => { errors++; })));
} else if (approach === 'ceiling') {
  // The driver's own bounded-concurrency executor over prepared single-partition inserts.
  const result = await cassandra.concurrent.executeConcurrent(client, insert, followers.map((f) => [f, tweetId, author, ts]), {
    concurrencyLevel: Number(concurrencyArg ?? '256'),
    raiseOnFirstError: false,
    collectResults: false,
  } as never) as { errors: unknown[] };
  errors = result.errors.length;
} else if (approach === 'ceiling-batch') {
  // Raw driver, the write shape the pipeline uses: unlogged batches of 50 rows, N in flight.
  const concurrency = Number(concurrencyArg ?? '32');
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next; i < followers.length; i = next) {
      next += 50;
      const queries = followers.slice(i, i + 50).map((f) => ({ query: insert, params: [f, tweetId, author, ts] }));
      await client.batch(queries, { prepare: true, logged: false }).catch(() => { errors += queries.length; });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
} else {
  throw new Error(`unknown approach ${approach}`);
}
const seconds = (performance.now() - started) / 1000;
console.log(JSON.stringify({ rows: followers.length, seconds, errors, maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024), clientCpuSeconds: cpuSince(cpuAtStart) }));
await client.shutdown();
process.exit(0);
