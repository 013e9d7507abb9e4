/**
 * Issue #16: after a demo-sized run, every PromQL expression of grafana/**\/*.json returns data
 * from the local Prometheus. `fanout run` (connector + worker, telemetry on) runs as a child
 * process on the product's metrics ports, which the generated scrape config scrapes; tweets
 * written with plain CQL fan out, a split celebrity's among them (as the demo's is); then every
 * expression, scoped to this run's instance (a port no other process served on within the
 * dashboard's longest range) so no other process can answer for it, is evaluated until it returns
 * a series. Counters of events a clean run has none of (aborts, retries, replica copies,
 * retractions) answer with their zero series; the dead letter is made for real.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { leaves, type Config } from '../../config/index.ts';
import { CassandraTweetStore } from '../../connectors/cassandra/tweets.ts';
import {
  awaitCompletions,
  CELEBRITY,
  completionOf,
  produce,
  SMALL,
  testEnv,
  within,
} from '../pipeline/fixtures.ts';
import {
  eventually,
  getJson,
  observabilityStack,
  STACK_TIMEOUT_MS,
  type ObservabilityStack,
} from '../telemetry/stack.ts';
import { promqlExpressions, scoped } from './dashboards.ts';

interface QueryResult {
  status: string;
  data: { result: { metric: Record<string, string>; value: [number, string] }[] };
}

const MAIN = resolve(import.meta.dirname, '../../cli/main.ts');

let stack: ObservabilityStack;
beforeAll(async () => {
  stack = await observabilityStack();
}, STACK_TIMEOUT_MS);

/** Evaluates `expr` now, or at `atSec` (seconds since the epoch). */
const query = (expr: string, atSec?: number): Promise<QueryResult> =>
  getJson<QueryResult>(
    `${stack.prometheus}/api/v1/query?query=${encodeURIComponent(expr)}${atSec === undefined ? '' : `&time=${atSec}`}`,
  );

/** Longer than the dashboard's longest range (5m) plus a scrape. */
const QUIET = '6m';

/**
 * Whether a process was scraped on `instance` in the {@link QUIET} window before `atSec`: a range
 * selector (rate over 5m) still returns an earlier process's samples from such a window.
 */
async function usedBefore(instance: string, atSec: number): Promise<boolean> {
  const r = await query(`max_over_time(up{job="fanout",instance="${instance}"}[${QUIET}])`, atSec);
  return r.data.result.some((s) => s.value[1] !== '0');
}

/** A product metrics port that nothing has served metrics on for {@link QUIET}. */
async function quietPort(): Promise<number | undefined> {
  const now = Date.now() / 1000;
  for (const port of stack.ports.productMetrics)
    if (!(await usedBefore(`${stack.ports.host}:${port}`, now))) return port;
  return undefined;
}

/**
 * `fanout run` as a child process with `config` (a JSON file), the SDK on: spans to the local
 * Jaeger, metrics on the first free port from `metricsPort`, which its log names.
 */
function spawnRun(
  config: Config,
  metricsPort: number,
): { port: Promise<number>; reading: Promise<void>; stop: () => Promise<void> } {
  const dir = mkdtempSync(join(tmpdir(), 'fanout-promql-'));
  const out: Record<string, Record<string, unknown>> = {};
  const c = config as unknown as Record<string, Record<string, unknown>>;
  for (const key of leaves.keys()) {
    const [group, name] = key.split('.') as [string, string];
    (out[group] ??= {})[name] = c[group]![name];
  }
  out.log = { level: 'info', format: 'text' };
  out.telemetry = {
    ...out.telemetry,
    enabled: true,
    otlpEndpoint: stack.otlp,
    prometheusHost: stack.ports.host,
    prometheusPort: metricsPort,
  };
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(out));
  const child = spawn(process.execPath, [MAIN, 'run', '--worker-id', 'promql', '--config', file], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  let announced: (port: number) => void = () => undefined;
  const port = new Promise<number>((r) => (announced = r));
  let resumed: () => void = () => undefined;
  const resumedAt = new Promise<void>((r) => (resumed = r));
  child.stderr.on('data', (d: Buffer) => {
    log += d.toString();
    const m = /metrics on http:\/\/\S+:(\d+)\/metrics/.exec(log);
    if (m) announced(Number(m[1]));
    if (log.includes('resuming after segment')) resumed();
  });
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  const died = (what: string): Promise<never> =>
    exited.then(() => {
      throw new Error(`fanout run exited before ${what}:\n${log.slice(-3_000)}`);
    });
  const stop = async (): Promise<void> => {
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 30_000))]);
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  onTestFinished(async ({ task }) => {
    if (task.result?.state === 'fail')
      process.stderr.write(`fanout run's log:\n${log.slice(-6_000)}`);
    await stop();
  });
  return {
    port: Promise.race([port, died('it served metrics')]),
    // With cdc.startFrom=latest the connector starts at the end of cdc_raw as it finds it on its
    // first run: a tweet written before that is behind its start, never read.
    reading: Promise.race([resumedAt, died('its connector resumed')]),
    stop,
  };
}

describe('the dashboards after a real run', () => {
  it(
    'every PromQL expression of grafana/**/*.json returns data from this run',
    { timeout: 900_000 },
    async () => {
      // The demo's celebrity is split into tasks: so is this one (20k followers, 4 tasks).
      const env = await testEnv(['pipeline.splitThreshold=10000', 'pipeline.splitTaskSize=5000']);
      const { config } = env;
      // Only this run's series may answer: a port no other process served on in the window.
      const quiet = await eventually(`a metrics port quiet for ${QUIET}`, quietPort, 420_000);
      const spawnedAt = Date.now() / 1000;
      const run = spawnRun(config, quiet);
      const port = await run.port;
      expect(stack.ports.productMetrics).toContain(port);
      const instance = `${stack.ports.host}:${port}`;
      expect(await usedBefore(instance, spawnedAt), `${instance} served before`).toBe(false);
      const at = `instance="${instance}"`;
      await eventually(`Prometheus scraping ${at}`, async () => {
        const r = await query(`up{job="fanout",${at}}`);
        return r.data.result[0]?.value[1] === '1' ? true : undefined;
      });

      await run.reading;
      const tweets = new CassandraTweetStore(env.client, config.cassandra.keyspace);
      // The first completion may wait for the worker to start.
      const small = await tweets.insert(SMALL, 'to ten followers');
      await completionOf(config, small.tweetId, undefined, 120_000);
      // A record no connector wrote: dead-lettered for real, not only counted from zero.
      await produce(config, [{ key: 'promql', value: 'not a change event' }]);
      // Followers remaining per tweet is read at a scrape (every 5 s): celebrity fan-outs until
      // one was in flight at a scrape. Its series stays, at 0, once the tweet is delivered.
      await within(
        360_000,
        'a scrape during a celebrity fan-out',
        async () => {
          const ids = await Promise.all(
            [1, 2, 3].map(async (i) => (await tweets.insert(CELEBRITY, `celebrity ${i}`)).tweetId),
          );
          await awaitCompletions(
            config,
            (events) => ids.every((id) => events.some((e) => e.tweetId === id)),
            180_000,
          );
          const r = await query(`fanout_tweet_followers_remaining{${at}}`);
          return r.data.result.length > 0 ? true : undefined;
        },
        0,
      );

      const exprs = promqlExpressions();
      expect(exprs.length).toBeGreaterThan(20);
      const empty = new Map(exprs.map((e) => [e.expr, e]));
      // rate() needs two scrapes in its window.
      await eventually(
        'data for every expression',
        async () => {
          for (const expr of [...empty.keys()]) {
            const r = await query(scoped(expr, at));
            if (r.status === 'success' && r.data.result.length > 0) empty.delete(expr);
          }
          return empty.size === 0 ? true : undefined;
        },
        90_000,
      ).catch((error: unknown) => {
        const list = [...empty.values()].map(
          (e) => `  ${e.file} "${e.panel}" ${e.refId}: ${scoped(e.expr, at)}`,
        );
        throw new Error(`${(error as Error).message}; no data for:\n${list.join('\n')}`);
      });
      // As written in the dashboard, too.
      for (const e of exprs) expect((await query(e.expr)).data.result, e.expr).not.toEqual([]);

      // What the panels promise beyond "some data": lag on both topics, the real dead letter.
      const topics = await query(`count by (topic) (fanout_partition_lag{${at}})`);
      expect(topics.data.result.map((r) => r.metric.topic).sort()).toEqual(
        [config.topics.tasks, config.topics.tweetsCdc].sort(),
      );
      await eventually('the dead letter counted', async () => {
        const r = await query(`sum(fanout_dead_letters_total{${at}})`);
        return r.data.result[0]?.value[1] === '1' ? true : undefined;
      });
      await run.stop();
    },
  );
});
