/**
 * Errors that say whether retrying can help. Driver errors are classified at the connector
 * boundary, so nothing above it inspects driver internals (compare platformatic's `canRetry`):
 * Cassandra's here, Kafka's in connectors/kafka/errors.ts.
 */
import { redactSecrets } from '../config/index.ts';

/** Base of every error this product raises on purpose. */
export class FanoutError extends Error {
  readonly code: string;
  /** True when the same operation may succeed if tried again (timeouts, unavailable, overload). */
  readonly retriable: boolean;
  constructor(code: string, message: string, options: { retriable: boolean; cause?: unknown }) {
    // Its message is printed and logged: no secret in it, whatever a driver's message quoted.
    super(
      redactSecrets(message),
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = 'FanoutError';
    this.code = code;
    this.retriable = options.retriable;
  }
}

// Native protocol error codes (Cassandra's `transport/ProtocolException` / spec section 9).
const CASSANDRA_RETRIABLE_CODES = new Set([
  0x1000, // unavailable
  0x1001, // overloaded
  0x1002, // is_bootstrapping
  0x1100, // write_timeout
  0x1200, // read_timeout
  0x1300, // read_failure
  0x1500, // write_failure
]);
const CASSANDRA_RETRIABLE_NAMES = new Set([
  'OperationTimedOutError',
  'NoHostAvailableError',
  'BusyConnectionError',
]);

/** Classifies a cassandra-driver error; keeps the original as `cause`. */
export function classifyCassandraError(err: unknown, what: string): FanoutError {
  if (err instanceof FanoutError) return err;
  const e = err as { name?: string; code?: number; message?: string; isSocketError?: boolean };
  // A connection the driver closed (e.g. after defunctReadTimeoutThreshold timeouts during a
  // stall) fails every request still pending on it with isSocketError: the node may be fine.
  const retriable =
    CASSANDRA_RETRIABLE_NAMES.has(e.name ?? '') ||
    CASSANDRA_RETRIABLE_CODES.has(e.code ?? -1) ||
    e.isSocketError === true;
  const code = retriable ? 'CASSANDRA_UNAVAILABLE' : 'CASSANDRA_REJECTED';
  return new FanoutError(code, `${what}: ${e.message ?? String(err)}`, { retriable, cause: err });
}

/** Rejects with a FanoutError when `promise` does not settle within `ms`. */
export async function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  message: string,
  code = 'TIMEOUT',
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new FanoutError(code, message, { retriable: true })), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
