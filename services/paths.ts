/**
 * Where the local services live: jars (and the built Jaeger), configuration, data, logs and pid
 * files.
 *
 * Everything sits under one "fanout home" outside the repository (a cache, like Maven's), so a
 * checkout stays clean and `services down --purge` can delete run state while keeping the
 * ~110 MiB of jars. Pure functions: nothing here touches the disk.
 */
import { join, resolve } from 'node:path';
import { fanoutHome } from '../config/home.ts';
import { jaegerToolDir } from './gotool.ts';
import { portOffsetFromEnv, servicePorts, type ServicePorts } from '../config/ports.ts';

export { portOffsetFromEnv, servicePorts, type ServicePorts };

/** Kafka broker version fetched from Maven Central; keep equal to services/maven/kafka/pom.xml. */
export const KAFKA_VERSION = '4.2.2';
/** cassandra-all version fetched from Maven Central; keep equal to services/maven/cassandra/pom.xml. */
export const CASSANDRA_VERSION = '5.0.9';

/**
 * The version of Debian bookworm's `prometheus` package, which the launcher runs (whatever
 * `prometheus` is on PATH; `scripts/toolchain.sh --observability` installs it).
 */
export const PROMETHEUS_VERSION = '2.42';

/** The data services, which `up` starts by default. */
export type CoreServiceName = 'kafka' | 'cassandra';
/** The observability services, started on request (`services up --observability`). */
export type ObservabilityServiceName = 'jaeger' | 'prometheus';
/** The services the launcher manages. */
export type ServiceName = CoreServiceName | ObservabilityServiceName;
/** The data services, in start order (both start concurrently; the order is for output only). */
export const SERVICE_NAMES: readonly CoreServiceName[] = Object.freeze(['kafka', 'cassandra']);
/** The trace store and the metrics store of `services up --observability`. */
export const OBSERVABILITY_SERVICE_NAMES: readonly ObservabilityServiceName[] = Object.freeze([
  'jaeger',
  'prometheus',
]);
/** Every service the launcher knows. */
export const ALL_SERVICE_NAMES: readonly ServiceName[] = Object.freeze([
  ...SERVICE_NAMES,
  ...OBSERVABILITY_SERVICE_NAMES,
]);

/** The default ports: Kafka 9092 (controller 9093), Cassandra 9042 (storage 7000, JMX 7199). */
export const SERVICE_PORTS: ServicePorts = servicePorts(0);

/** `127.0.0.1:9092`: the bootstrap server of the local Kafka. */
export const KAFKA_BOOTSTRAP = `${SERVICE_PORTS.host}:${SERVICE_PORTS.kafka.broker}`;
/** `127.0.0.1:9042`: the contact point of the local Cassandra. */
export const CASSANDRA_CONTACT_POINT = `${SERVICE_PORTS.host}:${SERVICE_PORTS.cassandra.native}`;
/** Cassandra's datacenter name under SimpleSnitch (what cassandra-driver's `localDataCenter` needs). */
export const CASSANDRA_LOCAL_DC = 'datacenter1';

export { fanoutHome };

/** Files of one service that the launcher handles generically, JVM or not. */
export interface RunPaths {
  /** Everything the running service owns; `servicesReset()` deletes it. */
  readonly runDir: string;
  /** The effective configuration, rendered from services/conf/<name>/ at each start. */
  readonly confDir: string;
  readonly logDir: string;
  /** The JVM's stdout and stderr (the only log: logging goes to the console appender). */
  readonly logFile: string;
  /** The pid of the JVM, which is also its process-group id. */
  readonly pidFile: string;
}

/** Files of one JVM service. */
export interface CommonServicePaths extends RunPaths {
  /** Jars copied from Maven Central (`<home>/jars/<name>-<version>`). */
  readonly jarDir: string;
}

export interface KafkaPaths extends CommonServicePaths {
  /** `log.dirs`, holding the KRaft metadata log too. */
  readonly dataDir: string;
  readonly serverProperties: string;
  readonly log4jConfig: string;
}

export interface CassandraPaths extends CommonServicePaths {
  readonly dataDir: string;
  readonly commitlogDir: string;
  /** Hard links to commit-log segments holding CDC data, plus their `_cdc.idx` files. */
  readonly cdcRawDir: string;
  readonly savedCachesDir: string;
  readonly hintsDir: string;
  readonly cassandraYaml: string;
  readonly logbackXml: string;
}

export interface JaegerPaths extends RunPaths {
  /** The built binary and its throwaway Go module (`<home>/tools/jaeger-<version>`). */
  readonly toolDir: string;
  readonly configYaml: string;
}

export interface PrometheusPaths extends RunPaths {
  /** The TSDB (`--storage.tsdb.path`). */
  readonly dataDir: string;
  /** The generated scrape configuration. */
  readonly configYaml: string;
}

export interface ServicePaths {
  readonly home: string;
  readonly jarsDir: string;
  readonly runDir: string;
  readonly kafka: KafkaPaths;
  readonly cassandra: CassandraPaths;
  readonly jaeger: JaegerPaths;
  readonly prometheus: PrometheusPaths;
}

function runPaths(home: string, name: ServiceName): RunPaths {
  const runDir = join(home, 'run', name);
  const logDir = join(runDir, 'logs');
  return {
    runDir,
    confDir: join(runDir, 'conf'),
    logDir,
    logFile: join(logDir, `${name}.log`),
    pidFile: join(runDir, `${name}.pid`),
  };
}

function common(home: string, name: ServiceName, version: string): CommonServicePaths {
  return { ...runPaths(home, name), jarDir: join(home, 'jars', `${name}-${version}`) };
}

/** All paths of the local services under `home` (default: {@link fanoutHome}). */
export function servicePaths(home: string = fanoutHome()): ServicePaths {
  const abs = resolve(home);
  const kafka = common(abs, 'kafka', KAFKA_VERSION);
  const cassandra = common(abs, 'cassandra', CASSANDRA_VERSION);
  const jaeger = runPaths(abs, 'jaeger');
  const prometheus = runPaths(abs, 'prometheus');
  return Object.freeze({
    home: abs,
    jarsDir: join(abs, 'jars'),
    runDir: join(abs, 'run'),
    kafka: Object.freeze({
      ...kafka,
      dataDir: join(kafka.runDir, 'data'),
      serverProperties: join(kafka.confDir, 'server.properties'),
      log4jConfig: join(kafka.confDir, 'log4j2.yaml'),
    }),
    cassandra: Object.freeze({
      ...cassandra,
      dataDir: join(cassandra.runDir, 'data'),
      commitlogDir: join(cassandra.runDir, 'commitlog'),
      cdcRawDir: join(cassandra.runDir, 'cdc_raw'),
      savedCachesDir: join(cassandra.runDir, 'saved_caches'),
      hintsDir: join(cassandra.runDir, 'hints'),
      cassandraYaml: join(cassandra.confDir, 'cassandra.yaml'),
      logbackXml: join(cassandra.confDir, 'logback.xml'),
    }),
    jaeger: Object.freeze({
      ...jaeger,
      toolDir: jaegerToolDir(abs),
      configYaml: join(jaeger.confDir, 'jaeger.yaml'),
    }),
    prometheus: Object.freeze({
      ...prometheus,
      dataDir: join(prometheus.runDir, 'data'),
      configYaml: join(prometheus.confDir, 'prometheus.yml'),
    }),
  });
}

/**
 * The local Cassandra's `cdc_raw_directory`: the default for the CDC connector's input directory.
 * It is on the same filesystem as the commit log (Cassandra hard-links segments into it).
 */
export function cassandraCdcRawDir(home: string = fanoutHome()): string {
  return servicePaths(home).cassandra.cdcRawDir;
}
