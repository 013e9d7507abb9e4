/**
 * The local-services launcher against real JVMs: idempotent `up`, `status`, Cassandra coming back
 * with its data after SIGKILL, and `down` leaving no process behind.
 *
 * It runs its own Kafka and Cassandra (a temporary fanout home, ports shifted by 20000) because it
 * kills Cassandra: the shared services that other test files use at the same time stay untouched.
 * The jar cache is shared through a symlink, so nothing is downloaded twice.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'cassandra-driver';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  CASSANDRA_LOCAL_DC,
  CASSANDRA_VERSION,
  KAFKA_VERSION,
  servicePaths,
  servicePorts,
  servicesDown,
  servicesReset,
  servicesStatus,
  servicesUp,
} from '../../services/launcher.ts';
import type { ServiceStatus, ServicesUpOptions } from '../../services/launcher.ts';
import { findProcesses } from '../../services/process.ts';

const PORT_OFFSET = 20_000;
const ports = servicePorts(PORT_OFFSET);

let home = '';
const options = (): ServicesUpOptions => ({
  home,
  portOffset: PORT_OFFSET,
  log: (line) => process.stderr.write(`[launcher test] ${line}\n`),
});

async function statusOf(name: 'kafka' | 'cassandra'): Promise<ServiceStatus> {
  const [status] = await servicesStatus([name], options());
  if (status === undefined) throw new Error(`no status for ${name}`);
  return status;
}

/** `<segment>_cdc.idx` file → its first line (the offset Cassandra has synced in that segment). */
async function cdcIndexes(cdcRawDir: string): Promise<Map<string, string>> {
  const indexes = new Map<string, string>();
  for (const file of await readdir(cdcRawDir)) {
    if (!file.endsWith('_cdc.idx')) continue;
    const text = await readFile(join(cdcRawDir, file), 'utf8').catch(() => '');
    indexes.set(file, text.split('\n')[0] ?? '');
  }
  return indexes;
}

const sameIndexes = (a: Map<string, string>, b: Map<string, string>): boolean =>
  a.size === b.size && [...a].every(([file, offset]) => b.get(file) === offset);

describe('local services launcher', () => {
  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'fanout-launcher-test-'));
    const jars = servicePaths().jarsDir;
    await mkdir(jars, { recursive: true });
    await symlink(jars, join(home, 'jars'));
    await servicesUp(undefined, { ...options(), timeoutMs: 240_000 });
  }, 900_000);

  afterAll(async () => {
    if (home === '') return;
    await servicesReset(undefined, options());
    await rm(home, { recursive: true, force: true }); // removes the jars symlink, not the cache
  }, 120_000);

  it('reports both services running with pid, port, version and uptime', async () => {
    const [kafka, cassandra] = await servicesStatus(undefined, options());
    expect(kafka).toMatchObject({
      name: 'kafka',
      state: 'running',
      port: ports.kafka.broker,
      version: KAFKA_VERSION,
    });
    expect(cassandra).toMatchObject({
      name: 'cassandra',
      state: 'running',
      port: ports.cassandra.native,
      version: CASSANDRA_VERSION,
    });
    const paths = servicePaths(home);
    expect(Number((await readFile(paths.kafka.pidFile, 'utf8')).trim())).toBe(kafka?.pid);
    expect(Number((await readFile(paths.cassandra.pidFile, 'utf8')).trim())).toBe(cassandra?.pid);
    expect(kafka?.uptimeMs).toBeGreaterThan(0);
    expect(await readFile(paths.kafka.logFile, 'utf8')).toContain('Kafka Server started');
  });

  it('does nothing on a second up: same pids', async () => {
    const before = await servicesStatus(undefined, options());
    const started = Date.now();
    await servicesUp(undefined, options());
    expect(Date.now() - started).toBeLessThan(5_000);
    const after = await servicesStatus(undefined, options());
    expect(after.map((s) => s.pid)).toEqual(before.map((s) => s.pid));
    expect(after.map((s) => s.state)).toEqual(['running', 'running']);
  });

  it('brings a SIGKILLed Cassandra back with its data', async () => {
    const keyspace = `launcher_${randomUUID().replaceAll('-', '')}`;
    const contactPoints = [`${ports.host}:${ports.cassandra.native}`];
    const { cdcRawDir } = servicePaths(home).cassandra;
    const client = new Client({ contactPoints, localDataCenter: CASSANDRA_LOCAL_DC });
    await client.connect();
    try {
      await client.execute(
        `CREATE KEYSPACE ${keyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`,
      );
      await client.execute(
        `CREATE TABLE ${keyspace}.kv (k text PRIMARY KEY, v text) WITH cdc = true`,
      );
      const insert = `INSERT INTO ${keyspace}.kv (k, v) VALUES (?, ?)`;
      await client.execute(insert, ['survivor', 'still here'], { prepare: true });

      // commitlog_sync: periodic acknowledges writes before the commit log is synced, and SIGKILL
      // loses what was not synced. Wait for a sync that certainly covers the write, using the CDC
      // index files (rewritten with the synced offset at each sync of a segment holding CDC data):
      // the first index appears at a sync that may have started before the write; any change after
      // it comes from a later sync. The second write makes sure there is something to change.
      const first = await vi.waitFor(
        async () => {
          const indexes = await cdcIndexes(cdcRawDir);
          if (indexes.size === 0) throw new Error(`no _cdc.idx in ${cdcRawDir} yet`);
          return indexes;
        },
        { timeout: 10_000, interval: 50 },
      );
      for (const file of first.keys()) expect(file).toMatch(/^CommitLog-7-\d+_cdc\.idx$/);
      await client.execute(insert, ['nudge', 'second write'], { prepare: true });
      await vi.waitFor(
        async () => {
          if (sameIndexes(first, await cdcIndexes(cdcRawDir)))
            throw new Error('no commit-log sync since the first _cdc.idx');
        },
        { timeout: 10_000, interval: 50 },
      );
    } finally {
      await client.shutdown();
    }

    const killed = await statusOf('cassandra');
    expect(killed.pid).toBeDefined();
    process.kill(killed.pid ?? 0, 'SIGKILL');
    await vi.waitFor(
      async () => {
        expect((await statusOf('cassandra')).state).toBe('stopped');
      },
      { timeout: 10_000, interval: 100 },
    );

    await servicesUp(['cassandra'], options());
    const restarted = await statusOf('cassandra');
    expect(restarted.state).toBe('running');
    expect(restarted.pid).not.toBe(killed.pid);

    const again = new Client({ contactPoints, localDataCenter: CASSANDRA_LOCAL_DC });
    await again.connect();
    try {
      const result = await again.execute(`SELECT v FROM ${keyspace}.kv WHERE k = ?`, ['survivor'], {
        prepare: true,
      });
      expect(result.first()?.get('v')).toBe('still here');
      await again.execute(`DROP KEYSPACE ${keyspace}`);
    } finally {
      await again.shutdown();
    }
  }, 300_000);

  it('leaves no process behind after down', async () => {
    await servicesDown(undefined, options());
    const statuses = await servicesStatus(undefined, options());
    expect(statuses.map((s) => s.state)).toEqual(['stopped', 'stopped']);
    const left = await findProcesses((argv) => argv.some((arg) => arg.includes(home)));
    expect(left.map((p) => p.pid)).toEqual([]);
  }, 120_000);
});
