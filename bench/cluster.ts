/**
 * Cluster benchmark (issue #20) on the local 3-node cluster, with three connectors and two
 * workers as `fanout` children (test/cluster/world.ts):
 *   - rows/s end to end at RF 3 (3 copies per change, one claim each) vs RF 1 (one copy, no
 *     claims), same tweets and followers: timeline rows / (first write → every copy handled);
 *   - the claim: latency of the lightweight transaction alone (an uncontended claim, and three
 *     copies claiming one change at once, as the workers do), next to a plain LOCAL_QUORUM write;
 *   - with --losses: recovery after SIGKILL of Cassandra node 3 (restart time, then until its
 *     connector's late copies are handled) and of Kafka broker 2 (first completion after it).
 * Prints a table, writes bench-results/cluster.json.
 *
 *   ./fanout services up --nodes 3 && node bench/cluster.ts [--tweets 200] [--followers 2000]
 *       [--claims 300] [--losses]; ./fanout services down --nodes 3
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import cassandra from 'cassandra-driver';
import { CassandraClaimStore } from '../connectors/cassandra/claims.ts';
import { killClusterNode, startClusterNode } from '../services/cluster.ts';
import { ClusterWorld } from '../test/cluster/world.ts';

const { values } = parseArgs({
  options: {
    tweets: { type: 'string', default: '200' },
    followers: { type: 'string', default: '2000' },
    claims: { type: 'string', default: '300' },
    losses: { type: 'boolean', default: false },
    'no-throughput': { type: 'boolean', default: false },
  },
});
const TWEETS = Number(values.tweets);
const FOLLOWERS = Number(values.followers);
const CLAIMS = Number(values.claims);
const say = (line: string): void => void process.stderr.write(`[bench] ${line}\n`);
const secs = (ms: number): number => Math.round(ms / 100) / 10;
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round((s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN) * 10) / 10;
};

/** Rows/s of one end-to-end run at replication factor `rf`. */
async function throughput(
  rf: number,
): Promise<{ rf: number; seconds: number; rowsPerSec: number }> {
  const w = await ClusterWorld.open({
    tweets: TWEETS,
    followers: FOLLOWERS,
    replication: rf,
    tag: 'b',
  });
  try {
    const began = Date.now();
    const written = await w.write(TWEETS);
    const copies = await w.settle(
      written.map((t) => t.id),
      rf,
      1_800_000,
    );
    const ms = Date.now() - began;
    const v = await w.verify(written, copies);
    if (v.duplicated.length + v.missing.length + v.wrongTimelines.length > 0)
      throw new Error(`RF ${rf} run not exact: ${JSON.stringify(v).slice(0, 500)}`);
    const rows = TWEETS * FOLLOWERS;
    say(`RF ${rf}: ${rows} rows in ${secs(ms)} s`);
    return { rf, seconds: secs(ms), rowsPerSec: Math.round(rows / (ms / 1000)) };
  } finally {
    await w.close();
  }
}

/** Latency (ms) of claims in the RF 3 keyspace of a fresh world, against a plain write. */
async function claimCost(): Promise<Record<string, number>> {
  const w = await ClusterWorld.open({ tweets: 0, followers: 1, workers: 1, tag: 'b' });
  try {
    const ks = w.config.cassandra.keyspace;
    const claims = new CassandraClaimStore(w.client, ks);
    const timed = async (f: () => Promise<unknown>): Promise<number> => {
      const t = performance.now();
      await f();
      return performance.now() - t;
    };
    // A claim that times out (contended Paxos on a loaded box) is retried, as the worker does.
    let timeouts = 0;
    const claim = async (eventId: string, who: string): Promise<string> => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await claims.claim(eventId, who);
        } catch (err) {
          timeouts++;
          if (attempt >= 5) throw err;
        }
      }
    };
    const plain: number[] = [];
    const alone: number[] = [];
    const contended: number[] = [];
    for (let i = 0; i < CLAIMS; i++) {
      const id = `bench-${i}`;
      plain.push(
        await timed(() =>
          w.client.execute(
            `INSERT INTO ${ks}.tweet_authors (tweet_id, author_id) VALUES (now(), ?)`,
            [1n],
            {
              prepare: true,
              consistency: cassandra.types.consistencies.localQuorum,
            },
          ),
        ),
      );
      alone.push(await timed(() => claim(`${id}-a`, 'w1')));
      // Three copies of one change claimed at once: the time until all three have an answer.
      contended.push(
        await timed(() => Promise.all(['w1', 'w2', 'w3'].map((c) => claim(`${id}-c`, c)))),
      );
    }
    return {
      plainWriteP50Ms: pct(plain, 50),
      claimP50Ms: pct(alone, 50),
      claimP99Ms: pct(alone, 99),
      threeCopiesP50Ms: pct(contended, 50),
      threeCopiesP99Ms: pct(contended, 99),
      claimTimeoutsRetried: timeouts,
    };
  } finally {
    await w.close();
  }
}

/** Recovery after SIGKILL of Cassandra node 3 and of Kafka broker 2 (the tests' sequences). */
async function losses(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  {
    const w = await ClusterWorld.open({ tweets: TWEETS, followers: FOLLOWERS, tag: 'b' });
    try {
      const before = await w.write(Math.floor(TWEETS / 3));
      await killClusterNode('cassandra', 3);
      const during = await w.write(TWEETS - before.length);
      const restart = await startClusterNode('cassandra', 3, { timeoutMs: 600_000 });
      const back = Date.now();
      await w.settle(
        [...before, ...during].map((t) => t.id),
        3,
        1_800_000,
      );
      out['cassandraRestartS'] = secs(restart.elapsedMs);
      out['cassandraCatchUpS'] = secs(Date.now() - back);
    } finally {
      await w.close();
      await startClusterNode('cassandra', 3, { timeoutMs: 600_000 });
    }
  }
  {
    const w = await ClusterWorld.open({ tweets: TWEETS, followers: FOLLOWERS, tag: 'b' });
    try {
      w.watchCompletions(TWEETS, 1_800_000);
      const before = await w.write(Math.floor(TWEETS / 3));
      await killClusterNode('kafka', 2);
      const killed = Date.now();
      const during = await w.write(TWEETS - before.length);
      await w.settle(
        [...before, ...during].map((t) => t.id),
        3,
        1_800_000,
      );
      const first = Math.min(...during.map((t) => w.arrivals.get(t.id) ?? Infinity));
      out['kafkaFirstCompletionAfterKillS'] = secs(first - killed);
      out['kafkaAllDoneAfterKillS'] = secs(Date.now() - killed);
      out['kafkaRestartS'] = secs(
        (await startClusterNode('kafka', 2, { timeoutMs: 600_000 })).elapsedMs,
      );
    } finally {
      await w.close();
      await startClusterNode('kafka', 2, { timeoutMs: 600_000 });
    }
  }
  return out;
}

const result = {
  at: new Date().toISOString(),
  tweets: TWEETS,
  followers: FOLLOWERS,
  rf3: values['no-throughput'] ? undefined : await throughput(3),
  rf1: values['no-throughput'] ? undefined : await throughput(1),
  claims: await claimCost(),
  losses: values.losses ? await losses() : undefined,
  load: (await import('node:os')).loadavg().map((l) => Math.round(l * 10) / 10),
};
if (result.rf3 && result.rf1) console.table([result.rf3, result.rf1]);
console.table([result.claims]);
if (result.losses) console.table([result.losses]);
const dir = resolve(import.meta.dirname, '../bench-results');
mkdirSync(dir, { recursive: true });
writeFileSync(resolve(dir, 'cluster.json'), `${JSON.stringify(result, null, 2)}\n`);
say(`wrote ${resolve(dir, 'cluster.json')}`);
