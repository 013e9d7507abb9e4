/**
 * The one classifier of Kafka client errors: every Kafka call of the product (producers,
 * consumers, admin) turns a failure into a FanoutError here, with the original as `cause`.
 *
 * librdkafka says itself what an error means: its transactional calls carry `isFatal` (the client
 * is unusable, e.g. fenced by a newer instance of its transactional id), `isRetriable` and
 * `isTxnRequiresAbort`; other calls carry only a code. Codes that mean fenced count without the
 * flag (the KafkaJS-style layer reads `fatal`, which librdkafka's errors lack: seen on 1.10.1).
 */
import kafkaJs from '@confluentinc/kafka-javascript';
import { FanoutError } from '../../lib/errors.ts';

const { ERRORS } = kafkaJs.CODES;

/**
 * A producer fenced by a newer instance of its transactional id, or in librdkafka's fatal state
 * (which fencing puts it in). A fenced producer's records still queued come back purged: nothing
 * else purges them while a transaction is being produced (an abort comes after the error), so a
 * purge means fenced. INVALID_PRODUCER_EPOCH is not here: librdkafka flags it fatal or abortable.
 */
const FENCED_CODES: ReadonlySet<number> = new Set([
  ERRORS.ERR__FATAL,
  ERRORS.ERR__FENCED,
  ERRORS.ERR_PRODUCER_FENCED,
  ERRORS.ERR__PURGE_QUEUE,
  ERRORS.ERR__PURGE_INFLIGHT,
]);

/** Codes no retry can help with, flagged or not. */
const FATAL_CODES: ReadonlySet<number> = new Set([
  ERRORS.ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
]);

/**
 * A record over a size limit (librdkafka's message.max.bytes, checked when it is produced, or the
 * broker's): producing the same records again fails the same way, so not retriable even inside a
 * transaction. Retried, it held the CDC connector in an abort-and-redo loop until its outage budget
 * ran out, and again after every restart (an oversized dead letter).
 */
const TOO_LARGE_CODES: ReadonlySet<number> = new Set([
  ERRORS.ERR_MSG_SIZE_TOO_LARGE,
  ERRORS.ERR_RECORD_LIST_TOO_LARGE,
]);

/**
 * Errors of a broker being unreachable for now, retriable whatever librdkafka's flag says: its admin
 * calls report a broker that is down or restarting without the flag (a worker or connector
 * starting during a Kafka restart exited 'list topics: Local: Broker transport failure' in the
 * chaos suite, where it must wait out the outage like any other call).
 */
const UNREACHABLE_CODES: ReadonlySet<number> = new Set([
  ERRORS.ERR__TRANSPORT,
  ERRORS.ERR__ALL_BROKERS_DOWN,
  ERRORS.ERR__TIMED_OUT,
]);

/** What a Kafka error may carry: librdkafka's flags, or the KafkaJS-style layer's. */
interface KafkaErrorFields {
  readonly message?: unknown;
  readonly code?: unknown;
  readonly isFatal?: unknown;
  readonly isRetriable?: unknown;
  readonly isTxnRequiresAbort?: unknown;
  readonly fatal?: unknown;
  readonly retriable?: unknown;
  readonly abortable?: unknown;
}

const fieldsOf = (err: unknown): KafkaErrorFields =>
  typeof err === 'object' && err !== null ? err : {};

export interface ClassifyOptions {
  /**
   * The error ended a transactional call (init, begin, produce, send offsets, commit). Then
   * anything not fatal is retriable even without librdkafka's flag (a commit that timed out, a
   * broker down): the transaction is aborted or never began, and redoing the work from the last
   * committed offsets with a fresh producer is what transactions make safe.
   */
  readonly inTransaction?: boolean;
}

/**
 * Classifies a Kafka client error: `KAFKA_FENCED` and `KAFKA_FATAL` are never retriable,
 * `KAFKA_RETRIABLE` is, `KAFKA_FAILED` is not. A FanoutError is returned as it is.
 */
export function classifyKafkaError(
  err: unknown,
  what: string,
  options: ClassifyOptions = {},
): FanoutError {
  if (err instanceof FanoutError) return err;
  const e = fieldsOf(err);
  const message = `${what}: ${typeof e.message === 'string' ? e.message : String(err)}`;
  const code = typeof e.code === 'number' ? e.code : undefined;
  if (code !== undefined && FENCED_CODES.has(code))
    return new FanoutError('KAFKA_FENCED', message, { retriable: false, cause: err });
  if (e.isFatal === true || e.fatal === true || (code !== undefined && FATAL_CODES.has(code)))
    return new FanoutError('KAFKA_FATAL', message, { retriable: false, cause: err });
  if (code !== undefined && TOO_LARGE_CODES.has(code))
    return new FanoutError('KAFKA_FAILED', message, { retriable: false, cause: err });
  const retriable =
    options.inTransaction === true ||
    (code !== undefined && UNREACHABLE_CODES.has(code)) ||
    e.isRetriable === true ||
    e.isTxnRequiresAbort === true ||
    e.retriable === true ||
    e.abortable === true;
  return new FanoutError(retriable ? 'KAFKA_RETRIABLE' : 'KAFKA_FAILED', message, {
    retriable,
    cause: err,
  });
}

/**
 * Whether a failed commit_transaction call may be called again to resume the same commit, as
 * librdkafka documents: a timeout or an error it flags retriable, never one it says must abort.
 * Its outcome is unknown until the resumed call returns (../kafka/transactions.ts).
 */
export function commitResumable(err: unknown): boolean {
  if (commitMustAbort(err)) return false;
  const e = fieldsOf(err);
  return e.isRetriable === true || e.code === ERRORS.ERR__TIMED_OUT;
}

/** librdkafka's word that a failed transactional call committed nothing and must be aborted. */
export function commitMustAbort(err: unknown): boolean {
  return fieldsOf(err).isTxnRequiresAbort === true;
}

/** librdkafka's errors are Errors at runtime (util.inherits) but not in its typings. */
export function asError(err: unknown): Error {
  if (err instanceof Error) return err;
  const message = (err as { message?: unknown } | null)?.message;
  return Object.assign(
    new Error(typeof message === 'string' ? message : 'unknown Kafka error'),
    typeof err === 'object' ? err : {},
  );
}
