import { servicePorts, servicesUp } from '../../services/launcher.ts';
import { cqlOptions, kafkaMetadata } from '../../services/probes.ts';
import { CassandraFollowerStore } from '../../connectors/cassandra/followers.ts';
import { CassandraTimelineStore } from '../../connectors/cassandra/timelines.ts';
import { CassandraTweetStore } from '../../connectors/cassandra/tweets.ts';
import type { SeedOptions } from '../seed-graph.ts';
import type { Config } from '../../config/index.ts';
import type { Context } from '../context.ts';
import { progress } from '../progress.ts';
import { onShutdown } from '../signals.ts';
import { deliveredSoFar } from '../../pipeline/status.ts';
import { startTelemetry } from '../telemetry.ts';
import { startRun } from './run.ts';
import { schemaApply } from './schema.ts';
import { seed } from './seed.ts';

/** Timelines checked at the end: a sample of followers (must hold the tweet) and non-followers (must not). */
const SAMPLE = 1_000;

/**
 * README command 1, the whole product once: start the local services (when the config points at
 * them), apply the schema, seed a celebrity, run the CDC connector and a fan-out worker, insert
 * one tweet with plain CQL as an application would, watch it reach every follower's timeline,
 * print the rate, check a sample of timelines.
 */
export async function demo(
  ctx: Context,
  options: SeedOptions,
  observability = false,
): Promise<void> {
  const say = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };
  const log = (l: string): void => {
    process.stderr.write(`[services] ${l}\n`);
  };
  if (await needsLocalServices(ctx.config)) await servicesUp(undefined, { log });
  // Jaeger and Prometheus, and the SDK exporting to them: the run can be watched and traced.
  if (observability) await servicesUp(['jaeger', 'prometheus'], { log });
  const stopTelemetry = observability ? startTelemetry(ctx.config, 'demo', ctx.log) : undefined;
  try {
    await demoRun(ctx, options, say);
  } finally {
    await stopTelemetry?.();
  }
  if (observability) {
    const p = servicePorts();
    say('trace the tweet: ./fanout trace <tweet id>; watch a run: ./fanout status --watch');
    say(
      `Jaeger's API: http://${p.host}:${p.jaeger.query}; Prometheus: http://${p.host}:${p.prometheus.http}`,
    );
  }
}

async function demoRun(ctx: Context, options: SeedOptions, say: (line: string) => void) {
  await schemaApply(ctx);
  const cassandra = await ctx.cassandra();
  const ks = ctx.config.cassandra.keyspace;
  const followers = new CassandraFollowerStore(cassandra, ks);
  let total = await followers.count(options.author);
  if (total === options.followers) {
    say(`author ${options.author} already has ${options.followers} followers`);
  } else {
    await seed(ctx, options, 16);
    // Seeding adds followers, never removes any: an author an earlier run gave more keeps them.
    total = await followers.count(options.author);
  }
  if (total !== options.followers)
    say(
      `author ${options.author} has ${total} followers, not ${options.followers} (an earlier run seeded them; --author <id> starts a fresh one): the tweet goes to all ${total}`,
    );

  // The graph just seeded is what the demo starts from, not 500k follows to deliver (each row of
  // followers is a change event): a first run's connector starts after it, as a new deployment
  // over an existing graph would (cdc.startFrom=latest); later runs resume their own offset.
  const running = await startRun(ctx, 'demo', {
    ...ctx.config,
    cdc: { ...ctx.config.cdc, startFrom: 'latest' },
  });
  // Ctrl-C stops the worker and the connector gracefully, as `fanout run` does: a next run then
  // restores at once instead of waiting out their open transactions (kafka.transactionTimeoutMs).
  const off = onShutdown(running.stop, ctx.config.pipeline.shutdownTimeoutMs, (m) =>
    process.stderr.write(`${m}\n`),
  );
  try {
    const tweet = await new CassandraTweetStore(cassandra, ks).insert(
      options.author,
      `hello to my ${total} followers`,
    );
    const started = performance.now();
    say(
      `tweet ${tweet.tweetId} by @${options.author} inserted with plain CQL; CDC -> Kafka -> fan-out:`,
    );
    const bar = progress('timelines', total, process.stdout);
    const completed = running.worker.status().totals.tweetsCompleted;
    let shown = 0;
    let seen = false;
    const timelines = new CassandraTimelineStore(cassandra, ks);
    /** Whether a follower's timeline holds the tweet: for one fanned out between two looks. */
    const landed = async (): Promise<boolean> =>
      (await timelines.read(options.firstFollower, 50)).some((e) => e.tweetId === tweet.tweetId);
    await new Promise<void>((resolve, reject) => {
      let looking = false;
      const done = (): void => {
        clearInterval(timer);
        resolve();
      };
      const fail = (err: unknown): void => {
        clearInterval(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      };
      const timer = setInterval(() => {
        if (looking) return;
        const s = running.worker.status();
        if (s.state === 'failed') return fail(new Error('the worker failed; see the log above'));
        const delivered = deliveredSoFar(s, tweet.tweetId);
        const mine = delivered !== undefined;
        seen ||= mine;
        // A finished task leaves the in-flight list before its count reaches the tally: never go back.
        if (mine) bar.update((shown = Math.max(shown, delivered)));
        // Done when the worker has committed a completion past what it had before and ours, seen
        // in flight, is gone (another completion, of a tweet an earlier run left, is not ours); a
        // tweet never seen in flight has to be in a follower's timeline too.
        if (mine || s.totals.tweetsCompleted <= completed || s.totals.rowsWritten === 0) return;
        if (seen) return done();
        looking = true;
        landed().then((there) => {
          looking = false;
          if (there) done();
        }, fail);
      }, 100);
      running.done.then(
        () => fail(new Error('stopped before the tweet reached every timeline')),
        fail,
      );
    });
    bar.update(total);
    bar.stop();
    const seconds = (performance.now() - started) / 1000;
    say(
      `delivered to ${total} timelines in ${seconds.toFixed(1)} s (${Math.round(total / seconds)} timelines/s, CQL insert to last row)`,
    );

    // Check a sample: followers hold the tweet exactly once, non-followers do not.
    let ok = 0;
    const missing: bigint[] = [];
    for (let i = 0; i < SAMPLE; i++) {
      const user = options.firstFollower + BigInt(Math.floor(Math.random() * options.followers));
      const rows = (await timelines.read(user, 50)).filter((e) => e.tweetId === tweet.tweetId);
      if (rows.length === 1) ok++;
      else missing.push(user);
    }
    let leaked = 0;
    for (let i = 1; i <= 100; i++) {
      const outsider = options.firstFollower + BigInt(options.followers) + 10_000_000n + BigInt(i);
      if ((await timelines.read(outsider, 50)).some((e) => e.tweetId === tweet.tweetId)) leaked++;
    }
    say(
      `sample: ${ok}/${SAMPLE} followers' timelines hold it exactly once; ${leaked}/100 non-followers' do`,
    );
    const sample = options.firstFollower;
    const top = await timelines.read(sample, 3);
    const tweets = new Map(
      (await new CassandraTweetStore(cassandra, ks).get(top.map((e) => e.tweetId))).map((t) => [
        t.tweetId,
        t,
      ]),
    );
    // Earlier demos' tweets (same author, same text) are there too: each line says which is which.
    say(`timeline of follower ${sample}, newest first:`);
    for (const e of top) {
      const t = tweets.get(e.tweetId);
      const line = t ? `${t.createdAt.toISOString()}  @${e.authorId}: ${t.body}` : '(deleted)';
      say(`  ${line}${e.tweetId === tweet.tweetId ? '  <- this run' : ''}`);
    }
    if (ok !== SAMPLE || leaked !== 0)
      throw new Error(
        `demo check failed: ${SAMPLE - ok} sampled followers lack the tweet (e.g. ${missing.slice(0, 3).join(', ')}), ${leaked} outsiders have it`,
      );
  } finally {
    off();
    await running.stop();
  }
}

/**
 * The demo starts the local launcher's services when the config points at them (the launcher's
 * loopback ports, FANOUT_PORT_OFFSET included) and nothing answers there yet; services that
 * already answer (the launcher's, or `docker compose`'s on the same ports) are used as they are.
 * Endpoints elsewhere, loopback on other ports included, are the user's: never started here. A
 * config that asks for TLS or SASL is not theirs either (they are plain; `services up --secure`
 * starts the secure set), and the plain probes below cannot tell whether it answers: the demo's
 * own clients connect to it, or say why not.
 */
export async function needsLocalServices(config: Config): Promise<boolean> {
  const { brokers, securityProtocol } = config.kafka;
  const { contactPoints, tls } = config.cassandra;
  if (securityProtocol !== 'plaintext' || tls) return false;
  const ports = servicePorts();
  const launcher = (port: number) => (hp: string) =>
    hp === `127.0.0.1:${port}` || hp === `localhost:${port}`;
  if (
    !brokers.every(launcher(ports.kafka.broker)) ||
    !contactPoints.every(launcher(ports.cassandra.native))
  )
    return false;
  const at = (hp: string): [string, number] => [
    hp.slice(0, hp.lastIndexOf(':')),
    Number(hp.slice(hp.lastIndexOf(':') + 1)),
  ];
  try {
    await Promise.all([
      kafkaMetadata(...at(brokers[0]!), 1_000),
      cqlOptions(...at(contactPoints[0]!), 1_000),
    ]);
    return false;
  } catch {
    return true;
  }
}
