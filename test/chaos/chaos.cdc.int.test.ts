/**
 * Issue #17's chaos suite on the whole product with DEFAULT retry settings: a stream of plain CQL
 * writes to `tweets` (small authors, some with thousands of followers, one above splitThreshold,
 * updates and deletes, a few bad rows, one 2 MB body) while `fanout cdc` and two `fanout worker`
 * processes run; at random points a connector or a worker is SIGKILLed and restarted, Kafka is
 * restarted once, and Cassandra is SIGKILLed and restarted once (the shared local services,
 * through the launcher, left up). At the end every user's timeline is exactly the live tweets of
 * the authors they follow, one `fanout.completed` per insert and delete, every dead letter
 * explained, but for what Cassandra's SIGKILL may take of the fan-outs in its window (./loss.ts).
 * Prints the seed (FANOUT_CHAOS_SEED replays it), the faults and the recovery after each. CI size
 * by default (in `./fanout test`); FANOUT_CHAOS=long for the nightly size.
 */
import { randomInt } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { connectCassandra, type CassandraClient } from '../../connectors/cassandra/client.ts';
import { applySchema } from '../../connectors/cassandra/schema.ts';
import { connectAdmin } from '../../connectors/kafka/admin.ts';
import { ensureTopics } from '../../connectors/kafka/topics.ts';
import { loadConfig, type Config } from '../../config/index.ts';
import { testSettings } from '../support/config.ts';
import { Supervised, type UnexpectedExit } from './processes.ts';
import { makeGraph, seeded, seedGraph, timelineDiffs, Writer } from './world.ts';
import {
  CompletionWatch,
  describeFaults,
  diagnose,
  explainDeadLetters,
  orphanedDeletes,
  readDeadLetters,
  restartKafka,
  killAndRestartCassandra,
  type Fault,
} from './faults.ts';
import { atRisk, describeLoss, judge, lossWindow, type AtRisk, type LossWindow } from './loss.ts';

const LONG = process.env.FANOUT_CHAOS === 'long';
const SIZE = LONG
  ? {
      writes: 6_000,
      rate: 20,
      kills: 200,
      users: 20_000,
      small: 300,
      big: 6,
      bigFollowers: 3_000,
      celebrityFollowers: 12_000,
    }
  : {
      writes: 800,
      rate: 8,
      kills: 30,
      users: 6_000,
      small: 60,
      big: 3,
      bigFollowers: 2_000,
      celebrityFollowers: 5_500,
    };

/**
 * Writes acknowledged this long before Cassandra's SIGKILL may be lost by Cassandra itself: its
 * periodic commit-log sync (300 ms in the launcher) plus the sync's own time and scheduling. It
 * covers the application's writes and the pipeline's (./loss.ts).
 */
const LOSS_WINDOW_MS = 2_000;

describe(`chaos on the whole product (${LONG ? 'long' : 'CI'} size)`, () => {
  let config: Config;
  let client: CassandraClient;
  const processes: Supervised[] = [];
  afterAll(async () => {
    await Promise.allSettled(processes.map((p) => p.stop(10_000)));
    await client
      ?.execute(`DROP KEYSPACE IF EXISTS ${config.cassandra.keyspace}`)
      .catch(() => undefined);
    await client?.shutdown();
  }, 120_000);

  it.runIf(inject('services').source === 'local')(
    'SIGKILLs of connector and workers, a Kafka restart, a Cassandra SIGKILL: every timeline exact, one completion per change, every dead letter explained',
    async () => {
      const seed = Number(process.env.FANOUT_CHAOS_SEED ?? randomInt(2 ** 31));
      process.stdout.write(`chaos seed ${seed} (replay: FANOUT_CHAOS_SEED=${seed})\n`);
      const random = seeded(seed);
      const sets = testSettings([
        'cdc.startFrom=latest',
        'log.level=info',
        // A celebrity above the split threshold, at a size CI can afford (not retry limits).
        'pipeline.splitThreshold=5000',
        'pipeline.splitTaskSize=1000',
        'pipeline.pageSize=1000',
      ]);
      config = loadConfig({ env: {}, sets });
      client = await connectCassandra(config);
      await applySchema(client, config);
      const admin = await connectAdmin(config);
      await ensureTopics(admin, config);
      await admin.disconnect();
      const graph = makeGraph(SIZE, random);
      await seedGraph(client, config.cassandra.keyspace, graph);
      const t0 = Date.now();
      const elapsed = (t = Date.now()): string => `${((t - t0) / 1000).toFixed(1)} s`;

      const exits: UnexpectedExit[] = [];
      const args = sets.flatMap((s) => ['--set', s]);
      const cdc = new Supervised('cdc', 'cdc', args, exits);
      const workers = ['w1', 'w2'].map(
        (id) => new Supervised(id, 'worker', ['--worker-id', id, ...args], exits),
      );
      processes.push(cdc, ...workers);
      for (const p of processes) p.start();
      await Promise.all(processes.map((p) => p.untilReady(90_000)));
      const watch = new CompletionWatch(config);

      const writer = new Writer(client, config.cassandra.keyspace, graph, random);
      const faults: Fault[] = [];
      const bad = new Set(Array.from({ length: 4 }, () => Math.floor(random() * SIZE.writes)));
      const big = Math.floor(SIZE.writes / 3);
      const kafkaAt = Math.floor(SIZE.writes * 0.25);
      // Cassandra's SIGKILL once the pipeline serves again after the Kafka restart (each recovery
      // its own; the backlog of the outage keeps fan-outs at work then), from 60 % of the stream.
      // At 90 % the stream waits for that (a loaded host restarts Kafka in over a minute): the
      // backlog written meanwhile is what completes.
      const cassandraAt = Math.floor(SIZE.writes * 0.6);
      const cassandraLatest = Math.floor(SIZE.writes * 0.9);
      let kafkaServed = false;
      let served: Promise<boolean> = Promise.resolve(false);
      let cassandraKilled = false;
      let writesDone = false;
      let cassandraBack: Promise<void> = Promise.resolve();
      let window: LossWindow | undefined; // of Cassandra's SIGKILL, once it happened
      let kafkaBack: Promise<void> = Promise.resolve();

      // The stream: one write at a time at about SIZE.rate per second; the service faults are
      // injected from here, at fixed points of it.
      const streamStart = Date.now();
      const stream = (async () => {
        for (let i = 0; i < SIZE.writes; i++) {
          const due = streamStart + (i * 1000) / SIZE.rate;
          if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
          if (i === kafkaAt) {
            const at = Date.now();
            const fault: Fault = { what: 'Kafka restart', at };
            faults.push(fault);
            kafkaBack = restartKafka().then(
              () => {
                fault.backAt = Date.now();
                served = watch.completedSince(fault.backAt, 180_000);
                void served.then((ok) => (kafkaServed = ok));
              },
              (err: unknown) => {
                faults.push({ what: `Kafka restart FAILED: ${String(err)}`, at: Date.now() });
              },
            );
          }
          if (!cassandraKilled && i >= cassandraAt && (kafkaServed || i >= cassandraLatest)) {
            cassandraKilled = true;
            await kafkaBack;
            const ok = await served;
            const at = Date.now();
            const what = `Cassandra SIGKILL + restart${ok ? '' : ' (pipeline not back from Kafka)'}`;
            const fault: Fault = { what, at };
            faults.push(fault);
            let killedAt = at;
            cassandraBack = killAndRestartCassandra((t) => {
              killedAt = t;
              window = lossWindow(t, LOSS_WINDOW_MS);
            }).then(
              async () => {
                fault.backAt = Date.now();
                const lost = await writer.reconcile(killedAt, LOSS_WINDOW_MS);
                process.stdout.write(
                  `Cassandra (commitlog_sync periodic) lost ${lost.length} acknowledged writes made just before its SIGKILL${lost.length ? `: ${lost.join('; ')}` : ''}\n`,
                );
              },
              (err: unknown) => {
                faults.push({ what: `Cassandra restart FAILED: ${String(err)}`, at: Date.now() });
              },
            );
            // Nothing is written until the node is back and the model knows what it kept.
            await cassandraBack;
          }
          await writer.step(i, { bad: bad.has(i), big: i === big });
        }
      })().finally(() => {
        writesDone = true; // or failed: the killer stops either way, and the failure is thrown below
      });

      // The killer: a process every 2.5-5.5 s until the stream is over and enough died.
      let kills = 0;
      while (!writesDone || kills < SIZE.kills) {
        await new Promise((r) => setTimeout(r, 2_500 + random() * 3_000));
        // Mostly a process that is serving (a crash at a random point of its work); now and then
        // one still starting (a crash before its first transaction). Killing only starting ones
        // would measure how long Node takes to start on two busy cores, not the product.
        const serving = processes.filter((p) => p.ready);
        const pool = serving.length > 0 && random() > 0.1 ? serving : processes;
        const victim = pool[Math.floor(random() * pool.length)]!;
        faults.push({ what: `SIGKILL ${victim.name}`, at: Date.now(), victim });
        await victim.kill(random() < 0.3 ? Math.floor(random() * 2_000) : 0);
        kills++;
      }
      await stream;
      process.stdout.write(
        `stream done at ${elapsed()}: ${writer.tweets.size} tweets, ${kills} kills\n`,
      );

      // Converge: every expected completion arrives.
      const expected = writer.expectedCompletions();
      const dir = join(tmpdir(), `fanout-chaos-${seed}`);
      const saveLogs = (): void => {
        mkdirSync(dir, { recursive: true });
        for (const p of processes) writeFileSync(join(dir, `${p.name}.log`), p.history);
      };
      // The tweets whose fan-out ran in Cassandra's loss window, and the deletes of those whose
      // author record the node lost (dead-lettered, no completion).
      const risk = (): AtRisk =>
        window ? atRisk(watch.seen, window) : { inserts: new Set(), tombstones: new Set() };
      const orphaned = async (): Promise<Set<string>> =>
        orphanedDeletes(await readDeadLetters(config), writer.tweets, risk());
      const excuse = async (missing: string[]): Promise<string[]> => {
        const tweet = (k: string): string => k.split('/')[0]!;
        const maybe = (k: string): boolean => k.endsWith('/delete') && risk().inserts.has(tweet(k));
        if (!missing.some(maybe)) return missing;
        const gone = await orphaned();
        return missing.filter((k) => !(maybe(k) && gone.has(tweet(k))));
      };
      await watch.until(expected, 180_000, excuse).catch(async (err: unknown) => {
        saveLogs();
        throw new Error(
          `process logs in ${dir}\n` +
            `${(err as Error).message}\n${await diagnose(config, watch, expected, writer.tweets, faults, t0)}\n${processes.map((p) => `--- ${p.name} (${p.starts} starts):\n${p.log.slice(-3_000)}`).join('\n')}`,
        );
      });
      for (const f of faults) {
        f.recoveredMs = watch.recoveryAfter(f.at, writer.tweets);
        f.backAt ??= f.victim?.readyTimes.find((t) => t > f.at);
      }
      process.stdout.write(describeFaults(faults, elapsed));
      await Promise.all(processes.map((p) => p.stop()));
      saveLogs();
      process.stdout.write(`process logs in ${dir}\n`);

      // Exactly one completion per insert and delete, nothing else (but an orphaned delete's).
      const counts = await watch.counts();
      const letters = await readDeadLetters(config);
      const orphans = orphanedDeletes(letters, writer.tweets, risk());
      for (const t of orphans) expected.set(`${t}/delete`, 0);
      const wrong = [...new Set([...counts.keys(), ...expected.keys()])]
        .filter((k) => (counts.get(k) ?? 0) !== (expected.get(k) ?? 0))
        .map((k) => `${k}: ${counts.get(k) ?? 0} completions, expected ${expected.get(k) ?? 0}`);
      expect(wrong.slice(0, 20)).toEqual([]);
      // Every timeline exact, non-followers hold nothing, but for the rows Cassandra's SIGKILL
      // may have taken: of the fan-outs that ran in its window only, and only in its direction.
      const diffs = await timelineDiffs(
        client,
        config.cassandra.keyspace,
        writer.expectedTimelines(),
      );
      const verdict = judge(diffs, risk(), orphans);
      const loss = describeLoss(verdict, risk());
      process.stdout.write(`${loss}\n`);
      expect(verdict.problems).toEqual([]);
      // Every dead letter explained: the bad rows (no author) once each, the 2 MB body's omission.
      expect(explainDeadLetters(letters, writer.tweets, orphans)).toEqual([]);
      expect(kills).toBeGreaterThanOrEqual(SIZE.kills);
      // No process gave up waiting out an outage with the default retry settings. One that died
      // otherwise (e.g. fenced when the coordinator aborted its transaction across the Kafka
      // restart) was restarted by the supervisor; the checks above prove nothing was lost.
      const died = exits.filter((e) => e.afterReady);
      for (const e of died)
        process.stdout.write(
          `${e.name} exited ${e.code} while serving: ${e.tail.split('\n').slice(-2).join(' ')}\n`,
        );
      expect(
        // The CLI's last line is the one sentence the process failed with.
        died.filter((e) =>
          /outageBudgetMs|RETRIES_EXHAUSTED/.test(e.tail.trim().split('\n').pop() ?? ''),
        ),
      ).toEqual([]);
      process.stdout.write(
        `chaos seed ${seed}: ${writer.tweets.size} tweets, ${kills} kills, ${exits.length} start failures, ${elapsed()} in all; ${loss}\n`,
      );
    },
  );
});
