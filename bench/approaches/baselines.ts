/**
 * One fan-out approach, run in its own process so its peak RSS is its own:
 *   node bench/approaches/baselines.ts <naive|promise-all|ceiling|ceiling-batch|raw-join> <author> <limit> [concurrency]
 * Writes one timeline row per follower for a fresh tweet id, then prints one JSON line:
 * { rows, seconds, errors, maxRssMiB }. All but `raw-join` read the followers first, untimed;
 * `raw-join` reads them in its timed part, as (d) must.
 */
import cassandra from 'cassandra-driver';
import { loadConfig } from '../../config/index.ts';
import { connectCassandra } from '../../connectors/cassandra/client.ts';
import { CassandraFollowerStore } from '../../connectors/cassandra/followers.ts';
import { cpuSince, servicesCpu, servicesCpuSince } from './cpu.ts';

const [approach, authorArg, limitArg, concurrencyArg] = process.argv.slice(2);
const config = loadConfig();
const client = await connectCassandra(config);
const ks = config.cassandra.keyspace;
const author = BigInt(authorArg ?? '1');
const limit = Number(limitArg ?? '0');
// One parsed id for every row (the pipeline too parses a tweet's id once, not per row).
const tweetId = cassandra.types.TimeUuid.now();
const insert = `INSERT INTO ${ks}.timelines (user_id, tweet_id, author_id) VALUES (?, ?, ?) USING TIMESTAMP ?`;
const ts = BigInt(Date.now()) * 1000n;

// Every approach but raw-join gets the follower ids the same way (paged reads), outside the
// timed part; raw-join reads one id first (its read statement prepared, as (d)'s warm-up does).
const store = new CassandraFollowerStore(client, ks);
const followers: bigint[] = [];
if (approach === 'raw-join') await store.page(author, null, 1);
for (let after: bigint | null = null; approach !== 'raw-join' && followers.length < limit;) {
  const page = await store.page(author, after, Math.min(5_000, limit - followers.length));
  if (page.length === 0) break;
  followers.push(...page);
  after = page.at(-1)!;
}

let errors = 0;
let rows = followers.length; // raw-join counts its own as it reads them
const started = performance.now();
const cpuAtStart = process.cpuUsage();
const servicesAtStart = servicesCpu();
if (approach === 'naive') {
  // for (f of followers) await insert(f)
  for (const f of followers) {
    await client.execute(insert, [f, tweetId, author, ts], { prepare: true }).catch(() => {
      errors++;
    });
  }
} else if (approach === 'promise-all') {
  // Promise.all(followers.map(insert)): every write at once.
  await Promise.all(
    followers.map((f) =>
      client.execute(insert, [f, tweetId, author, ts], { prepare: true }).catch(() => {
        errors++;
      }),
    ),
  );
} else if (approach === 'ceiling') {
  // The driver's own bounded-concurrency executor over prepared single-partition inserts.
  const result = (await cassandra.concurrent.executeConcurrent(
    client,
    insert,
    followers.map((f) => [f, tweetId, author, ts]),
    {
      concurrencyLevel: Number(concurrencyArg ?? '256'),
      raiseOnFirstError: false,
      collectResults: false,
    } as never,
  )) as { errors: unknown[] };
  errors = result.errors.length;
} else if (approach === 'ceiling-batch') {
  // Raw driver, the write shape the pipeline uses: unlogged batches of 50 rows, N in flight.
  function* slices(): Generator<bigint[]> {
    for (let i = 0; i < followers.length; i += 50) yield followers.slice(i, i + 50);
  }
  await writeBatches(slices(), Number(concurrencyArg ?? '32'));
} else if (approach === 'raw-join') {
  // (d)'s job by hand, without its reliability (no Kafka, no CDC, no checkpoints, no retries):
  // page through the followers, the next page read while this one is written, into unlogged
  // 50-row batches, N in flight. The same page size as the pipeline's default.
  const pageSize = config.pipeline.pageSize;
  async function* batches(): AsyncGenerator<bigint[]> {
    for (let next = store.page(author, null, pageSize); ;) {
      const ids = await next;
      const more = ids.length === pageSize && rows + ids.length < limit;
      if (more) next = store.page(author, ids.at(-1)!, pageSize);
      rows += ids.length;
      for (let i = 0; i < ids.length; i += 50) yield ids.slice(i, i + 50);
      if (!more) return;
    }
  }
  await writeBatches(batches(), Number(concurrencyArg ?? '8')); // an async generator queues concurrent next() calls
} else {
  throw new Error(`unknown approach ${approach}`);
}
const seconds = (performance.now() - started) / 1000;
console.log(
  JSON.stringify({
    rows,
    seconds,
    errors,
    maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    clientCpuSeconds: cpuSince(cpuAtStart),
    timedServiceCpuSeconds: servicesCpuSince(servicesAtStart),
  }),
);
await client.shutdown();
process.exit(0);

/** `concurrency` writers of unlogged batches, each taking the next batch of ids until there are none. */
async function writeBatches(
  batches: Iterator<bigint[]> | AsyncIterator<bigint[]>,
  concurrency: number,
): Promise<void> {
  const writer = async (): Promise<void> => {
    for (let b = await batches.next(); !b.done; b = await batches.next()) {
      const queries = b.value.map((f) => ({ query: insert, params: [f, tweetId, author, ts] }));
      await client.batch(queries, { prepare: true, logged: false }).catch(() => {
        errors += queries.length;
      });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, writer));
}
