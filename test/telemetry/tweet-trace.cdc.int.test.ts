/**
 * Issue #16, end to end: a tweet written with plain CQL is one trace in the local Jaeger, from the
 * connector's span to the worker's commit, with page and batch spans and cassandra-driver query
 * spans under them; a split tweet's task spans, from two workers, are in that one trace too. The
 * connector and the workers run as `fanout cdc` / `fanout worker` processes with the SDK on,
 * exporting to Jaeger as a deployment would.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawn } from 'node:child_process';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { findTraceIds } from '../../cli/commands/trace.ts';
import { writeSeed } from '../../cli/commands/seed.ts';
import type { Config } from '../../config/index.ts';
import { leaves } from '../../config/index.ts';
import { CassandraFollowerStore } from '../../connectors/cassandra/followers.ts';
import { CassandraTweetStore } from '../../connectors/cassandra/tweets.ts';
import {
  CELEBRITY,
  completedEvents,
  completionOf,
  testEnv,
  type TestEnv,
  within,
} from '../pipeline/fixtures.ts';
import {
  eventually,
  getJson,
  observabilityStack,
  STACK_TIMEOUT_MS,
  type ObservabilityStack,
} from './stack.ts';
import type { JaegerSpan, JaegerTrace } from '../../cli/commands/trace-waterfall.ts';

const MAIN = resolve(import.meta.dirname, '../../cli/main.ts');

let stack: ObservabilityStack;
beforeAll(async () => {
  stack = await observabilityStack();
}, STACK_TIMEOUT_MS);

/** `fanout <command>` as a child process with `config`, the SDK on and every batch span kept. */
function spawnTraced(config: Config, args: readonly string[]): { stop: () => Promise<void> } {
  const dir = mkdtempSync(join(tmpdir(), 'fanout-traced-'));
  const out: Record<string, Record<string, unknown>> = {};
  const c = config as unknown as Record<string, Record<string, unknown>>;
  for (const key of leaves.keys()) {
    const [group, name] = key.split('.') as [string, string];
    (out[group] ??= {})[name] = c[group]![name];
  }
  out.telemetry = {
    ...out.telemetry,
    enabled: true,
    otlpEndpoint: stack.otlp,
    batchSpans: 'all',
    prometheusPort: 0,
  };
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(out));
  const child = spawn(process.execPath, [MAIN, ...args, '--config', file], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  const stop = async (): Promise<void> => {
    child.kill('SIGTERM'); // a graceful stop flushes the spans still buffered
    await Promise.race([exited, new Promise((r) => setTimeout(r, 30_000))]);
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  onTestFinished(stop);
  return { stop };
}

const tag = (s: JaegerSpan, key: string): unknown => s.tags.find((t) => t.key === key)?.value;

/** The one trace of `tweetId`, once it holds `ready` (spans arrive in batches from each process). */
async function traceOf(tweetId: string, ready: (t: JaegerTrace) => boolean): Promise<JaegerTrace> {
  return eventually(
    `the trace of ${tweetId} in Jaeger`,
    async () => {
      const { ids } = await findTraceIds(stack.jaeger, 'fanout', tweetId, '1h');
      if (ids.length === 0) return undefined;
      expect(ids, 'one trace per tweet').toHaveLength(1);
      const { data } = await getJson<{ data: JaegerTrace[] }>(
        `${stack.jaeger}/api/traces/${ids[0]}`,
      );
      const t = data[0]!;
      return ready(t) ? t : undefined;
    },
    90_000,
  );
}

function shape(t: JaegerTrace) {
  const byId = new Map(t.spans.map((s) => [s.spanID, s]));
  const parentOf = (s: JaegerSpan): JaegerSpan | undefined => {
    const ref = s.references.find((r) => r.refType === 'CHILD_OF');
    return ref && byId.get(ref.spanID);
  };
  const named = (name: string) => t.spans.filter((s) => s.operationName === name);
  const service = (s: JaegerSpan) => t.processes[s.processID]!.serviceName;
  const queriesUnder = (name: string) =>
    t.spans.filter(
      (s) => s.operationName.startsWith('cassandra-driver.') && parentOf(s)?.operationName === name,
    );
  return { parentOf, named, service, queriesUnder };
}

/**
 * Warm-up tweets of nobody's until one completed and `done` holds: the connector and workers are
 * then running. Each try writes a new one, so a tweet the connector does not send (one written
 * before it reads, at cdc.startFrom=latest) is not waited on for the whole deadline.
 */
const warmUp = (
  tweets: CassandraTweetStore,
  config: Config,
  done: () => Promise<boolean>,
): Promise<true> =>
  within(150_000, 'a warm-up tweet completed (the connector and the workers run)', async () => {
    const warm = await tweets.insert(999_999n, 'warm-up');
    const completed = await completionOf(config, warm.tweetId, undefined, 15_000).then(
      () => true,
      () => false,
    );
    return completed && (await done()) ? true : undefined;
  });

describe('a tweet is one trace in Jaeger, commit log to last timeline row', () => {
  let env: TestEnv;

  it(
    'a whole fan-out (20k followers): connector span, fan-out span, pages, batches with driver queries under them, commit',
    { timeout: 300_000 },
    async () => {
      env = await testEnv();
      const cdc = spawnTraced(env.config, ['cdc']);
      const worker = spawnTraced(env.config, ['worker', '--worker-id', 'w1']);
      const tweets = new CassandraTweetStore(env.client, env.config.cassandra.keyspace);
      await warmUp(tweets, env.config, async () => true);
      const { tweetId } = await tweets.insert(CELEBRITY, 'traced tweet');
      await completionOf(env.config, tweetId, undefined, 120_000);
      await Promise.all([worker.stop(), cdc.stop()]);

      const t = await traceOf(tweetId, (tr) =>
        ['cdc.change', 'fanout.tweet', 'fanout.batch', 'fanout.commit'].every((n) =>
          tr.spans.some((s) => s.operationName === n),
        ),
      );
      const { parentOf, named, service, queriesUnder } = shape(t);
      const [change] = named('cdc.change');
      const [fanout] = named('fanout.tweet');
      expect(service(change!)).toBe('fanout-cdc');
      expect(parentOf(change!)).toBeUndefined(); // the root: the commit-log entry
      expect(service(fanout!)).toBe('fanout-worker');
      expect(parentOf(fanout!)?.operationName).toBe('cdc.change');
      expect(tag(fanout!, 'fanout.delivered')).toBe(20_000);
      // Every page read and batch write hangs under the fan-out, each with its driver queries.
      const pages = named('fanout.page');
      const batches = named('fanout.batch');
      expect(pages.length).toBeGreaterThan(0);
      expect(batches.length).toBe(Math.ceil(20_000 / env.config.pipeline.batchSize));
      for (const s of [...pages, ...batches]) expect(parentOf(s)).toBe(fanout);
      expect(queriesUnder('fanout.page').length).toBeGreaterThanOrEqual(pages.length);
      expect(queriesUnder('fanout.batch').length).toBeGreaterThanOrEqual(batches.length);
      // The transaction that committed its offset and completion is in the same trace.
      expect(named('fanout.commit').some((s) => parentOf(s) === fanout)).toBe(true);
    },
  );

  it(
    'a split fan-out: every task span, from both workers, is in the tweet trace',
    { timeout: 300_000 },
    async () => {
      env = await testEnv(['pipeline.splitThreshold=20000', 'pipeline.splitTaskSize=10000'], {
        celebrity: false,
      });
      const star = 11n;
      await writeSeed(
        new CassandraFollowerStore(env.client, env.config.cassandra.keyspace),
        {
          author: star,
          followers: 60_000,
          firstFollower: 5_000_000n,
          tailAuthors: 0,
          tailMax: 1,
          seed: 1,
        },
        16,
      );
      const cdc = spawnTraced(env.config, ['cdc']);
      const workers = ['w1', 'w2'].map((id) =>
        spawnTraced(env.config, ['worker', '--worker-id', id]),
      );
      const tweets = new CassandraTweetStore(env.client, env.config.cassandra.keyspace);
      // Both workers run (their two lanes join together) before the tweet: warm-up tweets of
      // nobody's until each worker has completed one.
      await warmUp(tweets, env.config, async () => {
        const by = new Set((await completedEvents(env.config)).map((c) => c.workerId));
        return by.has('w1') && by.has('w2');
      });
      const { tweetId } = await tweets.insert(star, 'traced celebrity tweet');
      const done = await completionOf(env.config, tweetId, undefined, 180_000);
      await Promise.all([...workers.map((w) => w.stop()), cdc.stop()]);

      const tasks = (done as unknown as { split?: { tasks: number; workers: string[] } }).split;
      expect(tasks?.tasks).toBe(6);
      const t = await traceOf(
        tweetId,
        (tr) => tr.spans.filter((s) => s.operationName === 'fanout.task').length === 6,
      );
      const { parentOf, named } = shape(t);
      const [parent] = named('fanout.tweet');
      expect(tag(parent!, 'fanout.split.tasks')).toBe(6);
      const taskSpans = named('fanout.task');
      for (const s of taskSpans) expect(parentOf(s)).toBe(parent);
      const ran = new Set(taskSpans.map((s) => tag(s, 'fanout.worker')));
      expect([...ran].sort()).toEqual([...new Set(tasks!.workers)].sort());
      expect(ran.size).toBe(2);
    },
  );
});
