/**
 * Approach (d): this pipeline end to end, in its own process (peak RSS is its own):
 *   node bench/approaches/pipeline.ts <author> <followers> [deployment tag] [traced] [trims-off]
 * `traced`: the telemetry SDK runs as in production (telemetry.enabled, default span sampling,
 * traces to telemetry.otlpEndpoint); without it, no SDK. `trims-off`: timeline.trimEvery=0, the
 * timelines written with no trim (the trims' cost is (d) against this); without it, the default.
 * Starts the CDC connector and one fan-out worker, lets one warm-up tweet through, then inserts
 * one tweet with plain CQL, and waits
 * until the worker has written the last timeline row and committed the tweet. Prints one JSON
 * line: { rows, seconds, errors, maxRssMiB, retries, transactions }.
 * Uses the topics, groups and transactional ids of the deployment tag (see ./deployment.ts; without
 * one, its own, removed at the end), and the keyspace given by FANOUT_CASSANDRA_KEYSPACE
 * (bench/fanout.ts sets it). The connector owns the node's cdc_raw while it runs: run benchmarks
 * while no other connector does.
 */
import '../../connectors/kafka/threadpool.ts'; // first: before anything uses libuv's thread pool
import { CassandraTweetStore } from '../../connectors/cassandra/tweets.ts';
import { Context } from '../../cli/context.ts';
import { startRun } from '../../cli/commands/run.ts';
import { startTelemetry } from '../../cli/telemetry.ts';
import type { Worker } from '../../pipeline/worker.ts';
import { cpuSince, servicesCpu, servicesCpuSince } from './cpu.ts';
import { MemoryPeaks } from './memory.ts';
import { deploymentSettings, removeDeployment } from './deployment.ts';

const [authorArg, followersArg, tagArg, ...flags] = process.argv.slice(2);
const unknown = flags.filter((f) => f !== 'traced' && f !== 'trims-off');
if (unknown.length > 0) throw new Error(`unknown flags ${unknown.join(' ')}: traced, trims-off`);
const traced = flags.includes('traced');
const author = BigInt(authorArg ?? '1');
const followers = Number(followersArg ?? '0');
const tag = tagArg ?? `bench-${Date.now().toString(36)}`;
/** An author id no benchmark seeds followers for. */
const WARM_UP_AUTHOR = 999_999_999n;
const ctx = new Context({
  set: [
    ...deploymentSettings(tag),
    ...(traced ? ['telemetry.enabled=true'] : []),
    ...(flags.includes('trims-off') ? ['timeline.trimEvery=0'] : []),
  ],
});
const stopTelemetry = traced ? startTelemetry(ctx.config, 'bench') : undefined;
const memory = new MemoryPeaks();
memory.phase('start');
const running = await startRun(ctx, '0');
memory.phase('warm-up');
const tweets = new CassandraTweetStore(await ctx.cassandra(), ctx.config.cassandra.keyspace);
// Measured as a running service: one warm-up tweet, of an author with no followers, through the
// whole path first (its first transactions, topic metadata, prepared statements: ~0.3 s once
// per process, not per fan-out). The ceiling's process likewise reads the followers untimed.
await tweets.insert(WARM_UP_AUTHOR, 'warm-up');
await untilCompleted(running, 0);
const before = running.worker.counters().totals;
memory.phase('fan-out');
const started = performance.now();
const cpuAtStart = process.cpuUsage();
const servicesAtStart = servicesCpu();
// Phases: CDC (insert -> the worker holds the tweet), start (-> first timeline row), write (-> done).
let seenAt: number | undefined;
let firstRowAt: number | undefined;
await tweets.insert(author, 'benchmark tweet');
await untilCompleted(running, before.tweetsCompleted, (c) => {
  seenAt ??=
    c.inFlight > 0 || c.totals.tweetsCompleted > before.tweetsCompleted
      ? performance.now()
      : undefined;
  firstRowAt ??= c.totals.rowsWritten > before.rowsWritten ? performance.now() : undefined;
});
const ended = performance.now();
const clientCpuSeconds = cpuSince(cpuAtStart);
const timedServiceCpuSeconds = servicesCpuSince(servicesAtStart);
const seconds = (ended - started) / 1000;
const totals = running.worker.counters().totals;
console.log(
  JSON.stringify({
    rows: totals.rowsWritten - before.rowsWritten,
    seconds,
    errors: 0,
    retries: totals.retries - before.retries,
    transactions: totals.transactions - before.transactions,
    maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    memory: memory.stop(),
    clientCpuSeconds,
    timedServiceCpuSeconds,
    phases: {
      cdcSeconds: ((seenAt ?? NaN) - started) / 1000,
      startSeconds: ((firstRowAt ?? NaN) - (seenAt ?? NaN)) / 1000,
      writeSeconds: (ended - (firstRowAt ?? NaN)) / 1000,
    },
    expected: followers,
  }),
);
await running.stop();
await stopTelemetry?.();
await ctx.close();
if (tagArg === undefined) await removeDeployment(tag);
process.exit(0);

/**
 * Resolves once the worker has completed one more tweet than `completedBefore` (one tweet at a
 * time here: a completion is counted when its `fanout.completed` event is committed, for a split
 * tweet with its last task). Polls the worker's counters every 10 ms (not status(), which builds
 * every in-flight tweet's progress: ~0.2 s of CPU per run at this rate).
 */
function untilCompleted(
  r: Awaited<ReturnType<typeof startRun>>,
  completedBefore: number,
  tick?: (c: ReturnType<Worker['counters']>) => void,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      const c = r.worker.counters();
      tick?.(c);
      if (c.totals.tweetsCompleted > completedBefore) {
        clearInterval(timer);
        resolve();
      }
    }, 10);
    r.done.then(
      () => reject(new Error('stopped early')),
      (err: unknown) => {
        clearInterval(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}
