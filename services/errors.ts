/** Errors of the local-services launcher. */

/**
 * What went wrong; each code is fixed in meaning so that a CLI can map it to an exit status.
 * - `JAVA_NOT_FOUND` / `JAVA_VERSION`: no usable `java` (JAVA_HOME or PATH).
 * - `MAVEN_NOT_FOUND` / `JAR_FETCH_FAILED`: the jars could not be copied from Maven Central.
 * - `PORT_IN_USE`: another process holds a port the service needs.
 * - `FORMAT_FAILED`: Kafka's KRaft storage could not be formatted.
 * - `EXITED`: the JVM exited during start-up.
 * - `START_TIMEOUT`: the JVM did not become ready in time (it was stopped again).
 * - `STOP_FAILED`: a process of the service survived SIGKILL.
 * - `START_FAILED`: several services failed; see `causes`.
 * - `GO_NOT_FOUND` / `TOOL_BUILD_FAILED`: Jaeger could not be built from the Go module proxy.
 * - `PROMETHEUS_NOT_FOUND`: no Prometheus binary (Debian: apt-get install prometheus).
 */
export type ServiceErrorCode =
  | 'JAVA_NOT_FOUND'
  | 'JAVA_VERSION'
  | 'MAVEN_NOT_FOUND'
  | 'JAR_FETCH_FAILED'
  | 'PORT_IN_USE'
  | 'FORMAT_FAILED'
  | 'EXITED'
  | 'START_TIMEOUT'
  | 'STOP_FAILED'
  | 'START_FAILED'
  | 'GO_NOT_FOUND'
  | 'TOOL_BUILD_FAILED'
  | 'PROMETHEUS_NOT_FOUND';

/** A launcher failure with a sentence meant for a person and a stable `code`. */
export class ServiceError extends Error {
  override readonly name = 'ServiceError';
  readonly code: ServiceErrorCode;
  /** True when running the same command again may succeed without changing anything (network, slowness). */
  readonly retriable: boolean;
  /** For `START_FAILED`: the error of each service that failed. */
  readonly causes: readonly Error[];

  constructor(
    code: ServiceErrorCode,
    message: string,
    options: { retriable?: boolean; cause?: unknown; causes?: readonly Error[] } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retriable = options.retriable ?? false;
    this.causes = options.causes ?? [];
  }
}
