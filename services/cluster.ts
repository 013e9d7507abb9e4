/**
 * The local cluster (`fanout services up|down|status --nodes 3`): N Cassandra nodes and N KRaft
 * brokers on 127.0.0.2… (cluster-layout.ts), beside the single-node services, which it never
 * touches. Brokers start together (a combined controller waits for a quorum of voters); Cassandra
 * nodes start one at a time beside them, each ready before the next (Cassandra refuses concurrent
 * joins).
 */
import { rm } from 'node:fs/promises';
import { clusterCassandraDriver, clusterKafkaDriver } from './cluster-drivers.ts';
import { clusterClientSettings, clusterLayout, type ClusterLayout } from './cluster-layout.ts';
import type { ServiceDriver } from './driver.ts';
import { ServiceError } from './errors.ts';
import { findRunning, startService, stopService } from './lifecycle.ts';
import { portAnswers, signalGroup, groupMembers, poll } from './process.ts';
import { findJava } from './toolchain.ts';

export interface ClusterOptions {
  readonly nodes?: number;
  readonly home?: string;
  readonly portOffset?: number;
  readonly log?: (line: string) => void;
}

export type ClusterRole = 'cassandra' | 'kafka';

export interface ClusterDrivers {
  readonly layout: ClusterLayout;
  readonly cassandra: readonly ServiceDriver[];
  readonly kafka: readonly ServiceDriver[];
}

export function clusterDrivers(opts: ClusterOptions = {}): ClusterDrivers {
  const layout = clusterLayout(opts.nodes ?? 3, opts);
  return {
    layout,
    cassandra: layout.nodes.map((n) => clusterCassandraDriver(layout, n)),
    kafka: layout.nodes.map((n) => clusterKafkaDriver(layout, n)),
  };
}

const quiet = (): void => {};

function driverOf(set: ClusterDrivers, role: ClusterRole, node: number): ServiceDriver {
  const driver = set[role][node - 1];
  if (driver === undefined)
    throw new TypeError(`the cluster has nodes 1 to ${set[role].length}, not ${node}`);
  return driver;
}

/** Starts one node's Cassandra or broker (again), waiting until it is ready. */
export async function startClusterNode(
  role: ClusterRole,
  node: number,
  opts: ClusterOptions & { timeoutMs?: number } = {},
): Promise<{ elapsedMs: number }> {
  const driver = driverOf(clusterDrivers(opts), role, node);
  const log = opts.log ?? quiet;
  const result = await startService(
    driver,
    await findJava(),
    (l) => log(`node${node} ${l}`),
    opts.timeoutMs ?? driver.defaultStartTimeoutMs,
  );
  return { elapsedMs: result.elapsedMs };
}

/**
 * SIGKILL to one node's Cassandra or broker (its whole process group), as a crash: no drain, no
 * flush. Resolves once no process of the group is left; returns the pid killed.
 */
export async function killClusterNode(
  role: ClusterRole,
  node: number,
  opts: ClusterOptions = {},
): Promise<number> {
  const driver = driverOf(clusterDrivers(opts), role, node);
  const info = await findRunning(driver);
  if (info === undefined) throw new Error(`${driver.title} is not running`);
  signalGroup(info.pid, 'SIGKILL');
  const gone = await poll(
    async () => ((await groupMembers(info.pid)).length === 0 ? true : undefined),
    {
      timeoutMs: 15_000,
      intervalMs: 50,
    },
  );
  if (gone !== true) throw new Error(`${driver.title} (pid ${info.pid}) survived SIGKILL`);
  return info.pid;
}

/**
 * Makes the whole cluster run (idempotent: running nodes are left alone) and logs the settings
 * of its workers and of each node's connector.
 */
export async function clusterUp(opts: ClusterOptions & { timeoutMs?: number } = {}): Promise<void> {
  const log = opts.log ?? quiet;
  const set = clusterDrivers(opts);
  const began = Date.now();
  const java = await findJava();
  const start = (d: ServiceDriver, i: number): Promise<unknown> =>
    startService(
      d,
      java,
      (l) => log(`node${i + 1} ${l}`),
      opts.timeoutMs ?? d.defaultStartTimeoutMs,
    );
  // Nothing of Cassandra waits for Kafka: the brokers' start overlaps the first node's.
  const cassandra = async (): Promise<void> => {
    for (const [i, driver] of set.cassandra.entries()) await start(driver, i);
  };
  const results = await Promise.allSettled([...set.kafka.map(start), cassandra()]);
  const failed = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
  if (failed.length > 0)
    throw new ServiceError('START_FAILED', failed.map((e) => e.message).join('\n\n'), {
      causes: failed,
    });
  log(`cluster ready after ${((Date.now() - began) / 1000).toFixed(1)} s`);
  log(`workers: --set ${clusterClientSettings(set.layout).join(' --set ')}`);
  for (const n of set.layout.nodes)
    log(
      `connector of node ${n.index}: --set ${clusterClientSettings(set.layout, n.index).join(' --set ')}`,
    );
}

/** Stops every node (concurrently); `purge` also deletes `<home>/cluster`. */
export async function clusterDown(
  opts: ClusterOptions & { purge?: boolean; graceMs?: number } = {},
): Promise<void> {
  const log = opts.log ?? quiet;
  const set = clusterDrivers(opts);
  const all = [...set.cassandra, ...set.kafka];
  const results = await Promise.allSettled(
    all.map(async (d) => {
      if (!(await stopService(d, opts.graceMs ?? 30_000, log))) log(`${d.title}: not running`);
    }),
  );
  const failed = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
  if (failed.length > 0)
    throw new ServiceError('STOP_FAILED', failed.map((e) => e.message).join('\n'), {
      causes: failed,
    });
  if (opts.purge) {
    await rm(set.layout.root, { recursive: true, force: true });
    log(`cluster: deleted ${set.layout.root}`);
  }
}

export interface ClusterNodeStatus {
  readonly role: ClusterRole;
  readonly node: number;
  readonly state: 'running' | 'starting' | 'stopped';
  readonly pid: number | undefined;
  readonly endpoint: string;
  readonly logFile: string;
}

export async function clusterStatus(opts: ClusterOptions = {}): Promise<ClusterNodeStatus[]> {
  const set = clusterDrivers(opts);
  const one = async (
    role: ClusterRole,
    d: ServiceDriver,
    i: number,
  ): Promise<ClusterNodeStatus> => {
    const info = await findRunning(d);
    const answers = info !== undefined && (await portAnswers(d.host, d.clientPort));
    return {
      role,
      node: i + 1,
      state: info === undefined ? 'stopped' : answers ? 'running' : 'starting',
      pid: info?.pid,
      endpoint: `${d.host}:${d.clientPort}`,
      logFile: d.paths.logFile,
    };
  };
  return Promise.all([
    ...set.cassandra.map((d, i) => one('cassandra', d, i)),
    ...set.kafka.map((d, i) => one('kafka', d, i)),
  ]);
}
