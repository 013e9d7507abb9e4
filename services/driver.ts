/** What the generic launcher needs to know about one service (implemented in kafka.ts, cassandra.ts). */
import type { CommonServicePaths, ServiceName } from './paths.ts';
import type { Java } from './toolchain.ts';

export interface ServiceDriver {
  readonly name: ServiceName;
  /** For sentences: "Kafka", "Cassandra". */
  readonly title: string;
  readonly version: string;
  readonly paths: CommonServicePaths;
  /** The address every port is bound to (127.0.0.1). */
  readonly host: string;
  /** The port clients use (9092, 9042). */
  readonly clientPort: number;
  /** Every port the JVM binds; all must be free before it starts. */
  readonly ports: readonly number[];
  /** The JVM main class: with the run dir in argv it identifies our process in /proc. */
  readonly mainClass: string;
  /** The log line that says the server accepts clients. */
  readonly readyLine: string;
  readonly defaultStartTimeoutMs: number;
  /** Creates directories, renders the effective configuration, runs one-time initialisation. */
  prepare(java: Java, log: (line: string) => void): Promise<void>;
  /** The java arguments (JVM options, classpath, main class, program arguments). */
  javaArgs(): Promise<string[]>;
  /** One protocol round trip; rejects while the server cannot serve clients. */
  probe(): Promise<void>;
}
