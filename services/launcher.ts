/**
 * The local Kafka and Cassandra of the fanout project, run as plain JVMs from Maven Central jars
 * (no Docker), and on request Jaeger (built from the Go module proxy) and Prometheus (Debian's):
 * `fanout services up|down|status|logs` are thin wrappers around these functions.
 *
 * Everything lives under {@link fanoutHome} (`$FANOUT_HOME`, else `~/.cache/fanout`): jars in
 * `jars/`, the Jaeger build in `tools/`, configuration, data, logs and pid files in
 * `run/<service>/`. The processes are detached (own
 * session and process group) and outlive the process that started them.
 */
import { rm } from 'node:fs/promises';
import { cassandraDriver } from './cassandra.ts';
import type { AnyDriver } from './driver.ts';
import { ServiceError } from './errors.ts';
import { jaegerDriver } from './jaeger.ts';
import { kafkaDriver } from './kafka.ts';
import { findRunning, runningVersion, startService, stopService } from './lifecycle.ts';
import {
  ALL_SERVICE_NAMES,
  SERVICE_NAMES,
  fanoutHome,
  servicePaths,
  servicePorts,
} from './paths.ts';
import type { ServiceName } from './paths.ts';
import { prometheusDriver } from './prometheus.ts';
import { portAnswers } from './process.ts';
import { findJava } from './toolchain.ts';

export { ServiceError } from './errors.ts';
export type { ServiceErrorCode } from './errors.ts';
export {
  ALL_SERVICE_NAMES,
  CASSANDRA_CONTACT_POINT,
  CASSANDRA_LOCAL_DC,
  CASSANDRA_VERSION,
  KAFKA_BOOTSTRAP,
  KAFKA_VERSION,
  OBSERVABILITY_SERVICE_NAMES,
  PROMETHEUS_VERSION,
  SERVICE_NAMES,
  SERVICE_PORTS,
  cassandraCdcRawDir,
  fanoutHome,
  servicePaths,
  servicePorts,
} from './paths.ts';
export { JAEGER_VERSION } from './gotool.ts';
export type {
  CoreServiceName,
  ObservabilityServiceName,
  ServiceName,
  ServicePaths,
  ServicePorts,
} from './paths.ts';

/** Options shared by the launcher functions. */
export interface ServicesOptions {
  /** Receives one progress line at a time ("kafka: ready on 127.0.0.1:9092 after 6.1 s …"). */
  readonly log?: (line: string) => void;
  /** The fanout home to use; default {@link fanoutHome}. */
  readonly home?: string;
  /**
   * Added to every port (default `$FANOUT_PORT_OFFSET`, else 0), for a second set of services
   * beside the first; use the same offset with the same home in every call.
   */
  readonly portOffset?: number;
}

export interface ServicesUpOptions extends ServicesOptions {
  /**
   * How long each service may take from its start to ready (default: Kafka 120 s, Cassandra
   * 180 s, Jaeger and Prometheus 60 s). Fetching jars or building Jaeger the first time is not
   * counted.
   */
  readonly timeoutMs?: number;
}

export interface ServicesDownOptions extends ServicesOptions {
  /** How long a service may take to shut down after SIGTERM before it gets SIGKILL (default 30 s). */
  readonly graceMs?: number;
}

/** One service as `servicesStatus()` sees it. */
export interface ServiceStatus {
  readonly name: ServiceName;
  /** `starting`: the JVM runs but its client port does not answer yet. */
  readonly state: 'running' | 'starting' | 'stopped';
  readonly pid: number | undefined;
  readonly host: string;
  /** The client port: Kafka 9092, Cassandra 9042, Jaeger's query API 16686, Prometheus 9090. */
  readonly port: number;
  /** The running version, or the version `up` would start. */
  readonly version: string;
  readonly uptimeMs: number | undefined;
  readonly logFile: string;
  readonly runDir: string;
}

const DEFAULT_GRACE_MS = 30_000;

function driversFor(
  names: readonly ServiceName[],
  opts: Pick<ServicesOptions, 'home' | 'portOffset'>,
): AnyDriver[] {
  const paths = servicePaths(opts.home ?? fanoutHome());
  const ports = servicePorts(opts.portOffset);
  const unique = [...new Set(names)];
  for (const name of unique) {
    if (!ALL_SERVICE_NAMES.includes(name))
      throw new TypeError(
        `unknown service "${String(name)}": expected one of ${ALL_SERVICE_NAMES.join(', ')}`,
      );
  }
  return unique.map((name): AnyDriver => {
    switch (name) {
      case 'kafka':
        return kafkaDriver(paths.kafka, ports);
      case 'cassandra':
        return cassandraDriver(paths.cassandra, ports);
      case 'jaeger':
        return checkedPorts(jaegerDriver(paths.jaeger, paths.home, ports));
      case 'prometheus':
        return checkedPorts(prometheusDriver(paths.prometheus, ports));
    }
  });
}

/** Jaeger's ports are the highest: a large FANOUT_PORT_OFFSET can push them past 65535. */
function checkedPorts(driver: AnyDriver): AnyDriver {
  const over = driver.ports.find((port) => port > 65_535);
  if (over !== undefined)
    throw new TypeError(
      `${driver.title} would listen on port ${over}, past 65535: use a smaller FANOUT_PORT_OFFSET`,
    );
  return driver;
}

/** Runs `task` for every driver at once; throws the one failure, or a START_FAILED listing all. */
async function forEachService<T>(
  drivers: readonly AnyDriver[],
  task: (driver: AnyDriver) => Promise<T>,
): Promise<T[]> {
  const settled = await Promise.allSettled(drivers.map(task));
  const failures = settled.flatMap((result) =>
    result.status === 'rejected' ? [result.reason as Error] : [],
  );
  const [first] = failures;
  if (first !== undefined && failures.length === 1) throw first;
  if (failures.length > 1) {
    throw new ServiceError('START_FAILED', failures.map((error) => error.message).join('\n\n'), {
      causes: failures,
      retriable: failures.every((error) => error instanceof ServiceError && error.retriable),
    });
  }
  return settled.map((result) => (result as PromiseFulfilledResult<T>).value);
}

/**
 * Makes the services run, concurrently: fetches missing jars with Maven (once, into the fanout
 * home; Jaeger: builds it with go, once), renders the configuration into the run dir, formats Kafka's KRaft storage on first start,
 * starts each JVM detached with its output in {@link serviceLogPath}, writes its pid file and waits
 * until it is ready (log line, open port, and one protocol round trip: a Kafka Metadata request, a
 * CQL OPTIONS request).
 *
 * Idempotent: a running service is left alone. A stale pid file (the JVM was killed) starts the
 * service again on its existing data.
 *
 * @throws ServiceError `JAVA_NOT_FOUND`, `PORT_IN_USE`, `JAR_FETCH_FAILED`, `EXITED`,
 *   `START_TIMEOUT`…; `START_FAILED` (with `causes`) when several services failed. Services that
 *   did start are left running.
 */
export async function servicesUp(
  names: ServiceName[] = [...SERVICE_NAMES],
  opts: ServicesUpOptions = {},
): Promise<void> {
  const log = opts.log ?? ((): void => {});
  const drivers = driversFor(names, opts);
  // Jaeger and Prometheus alone need no Java.
  const java = drivers.some((d) => d.kind !== 'program') ? await findJava() : undefined;
  await forEachService(drivers, (driver) =>
    startService(driver, java, log, opts.timeoutMs ?? driver.defaultStartTimeoutMs),
  );
}

/**
 * Stops the services, concurrently: SIGTERM to each JVM's process group, SIGKILL after
 * `graceMs`, then checks that no process of the group is left. Data is kept (see
 * {@link servicesReset}). Stopping a stopped service does nothing.
 *
 * @throws ServiceError `STOP_FAILED` when a process survives SIGKILL.
 */
export async function servicesDown(
  names: ServiceName[] = [...SERVICE_NAMES],
  opts: ServicesDownOptions = {},
): Promise<void> {
  const log = opts.log ?? ((): void => {});
  await forEachService(driversFor(names, opts), async (driver) => {
    const wasRunning = await stopService(driver, opts.graceMs ?? DEFAULT_GRACE_MS, log);
    if (!wasRunning) log(`${driver.name}: not running`);
  });
}

/**
 * `down --purge`: stops the services and deletes their run directories (data, commit log,
 * cdc_raw, logs, configuration). The jars stay, so the next `up` needs no download.
 */
export async function servicesReset(
  names: ServiceName[] = [...SERVICE_NAMES],
  opts: ServicesDownOptions = {},
): Promise<void> {
  const log = opts.log ?? ((): void => {});
  await servicesDown(names, opts);
  for (const driver of driversFor(names, opts)) {
    await rm(driver.paths.runDir, { recursive: true, force: true });
    log(`${driver.name}: deleted ${driver.paths.runDir}`);
  }
}

/** Per service: running / starting / stopped, pid, client port, version and uptime. */
export async function servicesStatus(
  names: ServiceName[] = [...SERVICE_NAMES],
  opts: Pick<ServicesOptions, 'home' | 'portOffset'> = {},
): Promise<ServiceStatus[]> {
  return Promise.all(
    driversFor(names, opts).map(async (driver): Promise<ServiceStatus> => {
      const info = await findRunning(driver);
      const base = {
        name: driver.name,
        host: driver.host,
        port: driver.clientPort,
        logFile: driver.paths.logFile,
        runDir: driver.paths.runDir,
      };
      if (info === undefined)
        return {
          ...base,
          state: 'stopped',
          pid: undefined,
          version: driver.version,
          uptimeMs: undefined,
        };
      const answers = await portAnswers(driver.host, driver.clientPort);
      return {
        ...base,
        state: answers ? 'running' : 'starting',
        pid: info.pid,
        version: runningVersion(driver, info.argv),
        uptimeMs: info.uptimeMs,
      };
    }),
  );
}

/**
 * The file holding a service's stdout and stderr (its whole log) for the current run; the
 * previous run's is `<file>.1`.
 */
export function serviceLogPath(name: ServiceName, home?: string): string {
  const [driver] = driversFor([name], home === undefined ? {} : { home });
  if (driver === undefined) throw new TypeError(`unknown service "${name}"`);
  return driver.paths.logFile;
}
