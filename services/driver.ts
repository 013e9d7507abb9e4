/**
 * What the generic launcher needs to know about one service: a JVM from Maven jars (kafka.ts,
 * cassandra.ts) or a native program (jaeger.ts, prometheus.ts). lifecycle.ts starts, probes and
 * stops either kind the same way.
 */
import type { CommonServicePaths, RunPaths, ServiceName } from './paths.ts';
import type { Java } from './toolchain.ts';

/** What every kind of service has. */
export interface DriverBase {
  readonly name: ServiceName;
  /** For sentences: "Kafka", "Cassandra". */
  readonly title: string;
  readonly version: string;
  readonly paths: RunPaths;
  /** The address every port is bound to (127.0.0.1). */
  readonly host: string;
  /** The port clients use (9092, 9042). */
  readonly clientPort: number;
  /** Every port the process binds; all must be free before it starts. */
  readonly ports: readonly number[];
  /**
   * An argv entry that, with the run dir in argv, identifies our process in /proc: the JVM main
   * class, or a program's configuration flag.
   */
  readonly mainClass: string;
  /** The log line that says the server accepts clients. */
  readonly readyLine: string;
  readonly defaultStartTimeoutMs: number;
  /** One protocol round trip; rejects while the server cannot serve clients. */
  probe(): Promise<void>;
}

/** A JVM service run from jars that Maven copies into the fanout home. */
export interface ServiceDriver extends DriverBase {
  readonly kind?: 'jvm';
  readonly paths: CommonServicePaths;
  /** Creates directories, renders the effective configuration, runs one-time initialisation. */
  prepare(java: Java, log: (line: string) => void): Promise<void>;
  /** The java arguments (JVM options, classpath, main class, program arguments). */
  javaArgs(): Promise<string[]>;
}

/** A native program (Jaeger, Prometheus). */
export interface ProgramDriver extends DriverBase {
  readonly kind: 'program';
  /** Finds or builds the program; returns the path to execute. */
  install(log: (line: string) => void): Promise<string>;
  /** Creates directories and renders the effective configuration. */
  prepare(log: (line: string) => void): Promise<void>;
  /** The program's arguments. */
  args(): string[];
}

export type AnyDriver = ServiceDriver | ProgramDriver;

/** A JVM's options with `-Xms`/`-Xmx` set to `xms`/`xmx` (the secure set and the cluster run beside the plain services on a small box). */
export function withHeap(args: readonly string[], xms: string, xmx: string = xms): string[] {
  return args.map((a) =>
    a.startsWith('-Xms') ? `-Xms${xms}` : a.startsWith('-Xmx') ? `-Xmx${xmx}` : a,
  );
}
