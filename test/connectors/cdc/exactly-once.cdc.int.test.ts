/**
 * Issue #3's acceptance: the CDC connector on the real Cassandra node and Kafka broker delivers
 * exactly one event per write — through a mixed 10k-tweet workload, through ≥ 20 SIGKILLs of the
 * connector process, and through a Kafka restart.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { connectCassandra, type CassandraClient } from '../../../connectors/cassandra/client.ts';
import { applySchema } from '../../../connectors/cassandra/schema.ts';
import { createLogger } from '../../../lib/log.ts';
import { loadConfig, type Config } from '../../../config/index.ts';
import { withConnector } from '../../support/cdc.ts';
import { testSettings } from '../../support/config.ts';
import { collect } from '../../support/kafka.ts';
import { checkExactlyOnce, prepareWorkload, runWorkload } from '../../support/tweet-workload.ts';

const MAIN = resolve(import.meta.dirname, '../../../cli/main.ts');
const log = createLogger(process.env.TEST_LOG === 'debug' ? 'debug' : 'warn');

async function setup(
  extra: string[] = [],
): Promise<{ config: Config; sets: string[]; client: CassandraClient }> {
  const sets = testSettings(['cdc.startFrom=latest', ...extra]);
  const config = loadConfig({ env: {}, sets });
  const client = await connectCassandra(config);
  await applySchema(client, config);
  await prepareWorkload(client, config.cassandra.keyspace);
  return { config, sets, client };
}

async function teardown(config: Config, client: CassandraClient): Promise<void> {
  await client
    .execute(`DROP KEYSPACE IF EXISTS ${config.cassandra.keyspace}`)
    .catch(() => undefined);
  await client.shutdown();
}

describe('CDC exactly once (real Cassandra + Kafka)', () => {
  let ctx: Awaited<ReturnType<typeof setup>>;
  afterAll(async () => {
    if (ctx) await teardown(ctx.config, ctx.client);
  });

  it('10,000 tweets with updates, deletes, TTLs, unicode, 64 KiB bodies and multi-table batches: one event per write', async () => {
    ctx = await setup();
    const { config, client } = ctx;
    await withConnector(config, client, log, async () => {
      const { expected, events } = await runWorkload(client, config.cassandra.keyspace, {
        tweets: 10_000,
        concurrency: 16,
      });
      const records = await collect(
        config,
        [config.topics.tweetsCdc],
        (r) => r.length >= events,
        120_000,
      );
      expect(events).toBe(10_000 + 1_000 + 400);
      expect(
        checkExactlyOnce(
          records.map((r) => r.value),
          expected,
        ),
      ).toEqual([]);
      expect(records.length).toBe(events);
    });
  });
});

describe('CDC exactly once through crashes', () => {
  let ctx: Awaited<ReturnType<typeof setup>>;
  afterAll(async () => {
    if (ctx) await teardown(ctx.config, ctx.client);
  });

  /** Starts `fanout cdc` as a child; resolves once it says it resumed. */
  function startChild(sets: string[]): Promise<ChildProcess> {
    const s = inject('services');
    const child = spawn(
      process.execPath,
      [MAIN, 'cdc', ...sets.flatMap((x) => ['--set', x]), '--set', 'log.level=info'],
      {
        env: {
          PATH: process.env.PATH ?? '',
          HOME: process.env.HOME ?? '/tmp',
          KAFKA_BROKERS: s.kafkaBrokers,
          CASSANDRA_CONTACT_POINTS: s.cassandraContactPoints,
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    return new Promise((resolveChild, reject) => {
      let err = '';
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`connector did not resume within 60 s: ${err.slice(-2000)}`));
      }, 60_000);
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
        if (err.includes('resuming after segment')) {
          clearTimeout(timer);
          resolveChild(child);
        }
      });
      child.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`connector exited with ${code} before resuming: ${err.slice(-2000)}`));
      });
    });
  }

  const exited = (child: ChildProcess): Promise<void> =>
    new Promise((r) => {
      if (child.exitCode !== null || child.signalCode !== null) r();
      else child.once('exit', () => r());
    });

  it('SIGKILL the connector process 20+ times during a 10,000-tweet stream: every event exactly once', async () => {
    ctx = await setup(['cdc.maxEventsPerTransaction=300']);
    const { config, client, sets } = ctx;
    // The first start fixes the start position before any write.
    let child = await startChild(sets);
    const stop = new AbortController();
    const writing = runWorkload(client, config.cassandra.keyspace, {
      tweets: 10_000,
      concurrency: 8,
      ratePerSecond: 150,
      signal: stop.signal,
    });
    let kills = 0;
    let writerDone = false;
    void writing.finally(() => {
      writerDone = true;
    });
    try {
      while (kills < 20 || !writerDone) {
        // A random point to crash at; the first kill lands before any event transaction (a
        // restart must not recompute startFrom=latest and skip what was written meanwhile).
        await new Promise((r) => setTimeout(r, kills === 0 ? 0 : 200 + Math.random() * 1_300));
        child.kill('SIGKILL');
        await exited(child);
        kills++;
        child = await startChild(sets);
      }
      const { expected, events } = await writing;
      const records = await collect(
        config,
        [config.topics.tweetsCdc],
        (r) => r.length >= events,
        180_000,
      );
      expect(kills).toBeGreaterThanOrEqual(20);
      expect(
        checkExactlyOnce(
          records.map((r) => r.value),
          expected,
        ),
      ).toEqual([]);
      expect(records.length).toBe(events);
    } finally {
      stop.abort();
      child.kill('SIGTERM');
      await exited(child);
    }
  });
});

describe('CDC through a Kafka restart', () => {
  let ctx: Awaited<ReturnType<typeof setup>>;
  afterAll(async () => {
    if (ctx) await teardown(ctx.config, ctx.client);
  });

  it.runIf(inject('services').source === 'local')(
    'the connector waits for Kafka and resumes; nothing lost, nothing twice',
    async () => {
      const { servicesDown, servicesUp } = await import('../../../services/launcher.ts');
      ctx = await setup(['cdc.maxEventsPerTransaction=200']);
      const { config, client } = ctx;
      await withConnector(config, client, log, async () => {
        const writing = runWorkload(client, config.cassandra.keyspace, {
          tweets: 3_000,
          concurrency: 4,
          ratePerSecond: 150,
        });
        await new Promise((r) => setTimeout(r, 5_000)); // mid-stream
        await servicesDown(['kafka']);
        await new Promise((r) => setTimeout(r, 3_000)); // Kafka stays down while writes continue
        await servicesUp(['kafka']);
        const { expected, events } = await writing;
        const records = await collect(
          config,
          [config.topics.tweetsCdc],
          (r) => r.length >= events,
          180_000,
        );
        expect(
          checkExactlyOnce(
            records.map((r) => r.value),
            expected,
          ),
        ).toEqual([]);
        expect(records.length).toBe(events);
      });
    },
  );
});

describe('CDC zombie fencing', () => {
  let ctx: Awaited<ReturnType<typeof setup>>;
  afterAll(async () => {
    if (ctx) await teardown(ctx.config, ctx.client);
  });

  it('a second connector for the same node fences the first; events stay exactly once', async () => {
    ctx = await setup();
    const { config, client } = ctx;
    await withConnector(config, client, log, async (zombie) => {
      const first = await runWorkload(client, config.cassandra.keyspace, {
        tweets: 300,
        concurrency: 4,
      });
      await collect(config, [config.topics.tweetsCdc], (r) => r.length >= first.events, 60_000);
      // Same node id = same transactional.id: starting it fences the first one.
      await withConnector(config, client, log, async () => {
        const second = await runWorkload(client, config.cassandra.keyspace, {
          tweets: 300,
          concurrency: 4,
        });
        const expected = new Map([...first.expected, ...second.expected]);
        const records = await collect(
          config,
          [config.topics.tweetsCdc],
          (r) => r.length >= first.events + second.events,
          60_000,
        );
        expect(
          checkExactlyOnce(
            records.map((r) => r.value),
            expected,
          ),
        ).toEqual([]);
        // The fenced zombie stops for good instead of fencing back (which would ping-pong).
        await zombie.start().catch(() => undefined);
        expect(zombie.state).toBe('failed');
      });
    });
  });
});
