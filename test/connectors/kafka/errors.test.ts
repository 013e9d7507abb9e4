import kafkaJs from '@confluentinc/kafka-javascript';
import { describe, expect, it } from 'vitest';
import { FanoutError } from '../../../lib/errors.ts';
import {
  classifyKafkaError,
  commitMustAbort,
  commitResumable,
} from '../../../connectors/kafka/errors.ts';

const { ERRORS } = kafkaJs.CODES;

/** An error as librdkafka's binding hands it over: an Error with a code, and flags on transactional calls. */
const librdkafka = (
  code: number,
  flags: { isFatal?: boolean; isRetriable?: boolean; isTxnRequiresAbort?: boolean } = {},
): Error =>
  Object.assign(new Error(`error ${code}`), { code, errno: code, origin: 'local', ...flags });

/** The flags librdkafka sets on every error of a transactional call. */
const txn = (isFatal: boolean, isRetriable: boolean, isTxnRequiresAbort: boolean) => ({
  isFatal,
  isRetriable,
  isTxnRequiresAbort,
});

describe('classifyKafkaError', () => {
  it('a commit that timed out while a broker was down is retriable, also as the KafkaJS-style layer reports it (flags dropped, code kept)', () => {
    // What @confluentinc/kafka-javascript 1.10.1's transaction().commit() rejected with in a Kafka restart test.
    const compat = Object.assign(
      new Error('Timed out waiting for operation to finish, retry call to resume'),
      { code: ERRORS.ERR__TIMED_OUT, retriable: false, fatal: false },
    );
    const e = classifyKafkaError(compat, 'CDC transaction of 52 events', { inTransaction: true });
    expect(e).toBeInstanceOf(FanoutError);
    expect(e).toMatchObject({ code: 'KAFKA_RETRIABLE', retriable: true });
    expect(e.message).toBe(
      'CDC transaction of 52 events: Timed out waiting for operation to finish, retry call to resume',
    );
  });

  it('a broker unreachable for now is retriable without librdkafka flagging it (admin calls during a Kafka restart)', () => {
    for (const code of [ERRORS.ERR__TRANSPORT, ERRORS.ERR__ALL_BROKERS_DOWN, ERRORS.ERR__TIMED_OUT])
      expect(classifyKafkaError(librdkafka(code), 'list topics')).toMatchObject({
        code: 'KAFKA_RETRIABLE',
        retriable: true,
      });
    // Not every local error: an unknown topic without the flag is still not retried.
    expect(classifyKafkaError(librdkafka(ERRORS.ERR__UNKNOWN_TOPIC), 'list topics')).toMatchObject({
      code: 'KAFKA_FAILED',
      retriable: false,
    });
  });

  it("fenced or fatal ends the producer's owner, whether the flag or only the code says so", () => {
    // A connector fenced by a second one for its node saw its batch come back "Local: Purged in queue".
    for (const code of [
      ERRORS.ERR__FATAL,
      ERRORS.ERR__FENCED,
      ERRORS.ERR_PRODUCER_FENCED,
      ERRORS.ERR__PURGE_QUEUE,
      ERRORS.ERR__PURGE_INFLIGHT,
    ]) {
      expect(
        classifyKafkaError(
          Object.assign(new Error('Local: Fatal error'), { code, fatal: false }),
          'x',
          { inTransaction: true },
        ),
      ).toMatchObject({ code: 'KAFKA_FENCED', retriable: false });
    }
    expect(
      classifyKafkaError(
        Object.assign(new Error('boom'), { code: ERRORS.ERR__TRANSPORT, isFatal: true }),
        'x',
        { inTransaction: true },
      ),
    ).toMatchObject({ retriable: false });
    expect(
      classifyKafkaError(Object.assign(new Error('down'), { code: ERRORS.ERR__TRANSPORT }), 'x', {
        inTransaction: true,
      }),
    ).toMatchObject({ retriable: true });
  });

  // [what, error, in a transaction, expected code, retriable]
  const table: Array<[string, unknown, boolean, string, boolean]> = [
    [
      // What produce() threw for a dead letter over message.max.bytes: redone, it fails again.
      'a record over the size limit, produced in a transaction',
      librdkafka(ERRORS.ERR_MSG_SIZE_TOO_LARGE),
      true,
      'KAFKA_FAILED',
      false,
    ],
    [
      'commit timed out (retriable flag)',
      librdkafka(ERRORS.ERR__TIMED_OUT, txn(false, true, false)),
      true,
      'KAFKA_RETRIABLE',
      true,
    ],
    [
      'abortable transaction error',
      librdkafka(ERRORS.ERR_INVALID_PRODUCER_EPOCH, txn(false, false, true)),
      true,
      'KAFKA_RETRIABLE',
      true,
    ],
    [
      'INVALID_PRODUCER_EPOCH flagged fatal',
      librdkafka(ERRORS.ERR_INVALID_PRODUCER_EPOCH, txn(true, false, false)),
      true,
      'KAFKA_FATAL',
      false,
    ],
    [
      'INVALID_PRODUCER_EPOCH without flags: left to them, a transaction is redone',
      librdkafka(ERRORS.ERR_INVALID_PRODUCER_EPOCH, txn(false, false, false)),
      true,
      'KAFKA_RETRIABLE',
      true,
    ],
    [
      'fatal flag with the fatal code (a fenced producer)',
      librdkafka(ERRORS.ERR__FATAL, txn(true, false, false)),
      true,
      'KAFKA_FENCED',
      false,
    ],
    [
      'PRODUCER_FENCED even if flagged retriable',
      librdkafka(ERRORS.ERR_PRODUCER_FENCED, txn(false, true, false)),
      true,
      'KAFKA_FENCED',
      false,
    ],
    ['purged in flight', librdkafka(ERRORS.ERR__PURGE_INFLIGHT), true, 'KAFKA_FENCED', false],
    [
      'transactional id not authorized, no flag',
      librdkafka(ERRORS.ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED),
      true,
      'KAFKA_FATAL',
      false,
    ],
    [
      'state error of a transactional call, no flags',
      librdkafka(ERRORS.ERR__STATE),
      true,
      'KAFKA_RETRIABLE',
      true,
    ],
    [
      'consumer transport failure (no flags outside transactions: a broker down for now)',
      librdkafka(ERRORS.ERR__TRANSPORT),
      false,
      'KAFKA_RETRIABLE',
      true,
    ],
    [
      'consumer fatal error (static member fenced)',
      librdkafka(ERRORS.ERR__FATAL, { isFatal: true }),
      false,
      'KAFKA_FENCED',
      false,
    ],
    [
      'admin error flagged retriable',
      librdkafka(ERRORS.ERR_REQUEST_TIMED_OUT, { isRetriable: true }),
      false,
      'KAFKA_RETRIABLE',
      true,
    ],
    [
      'KafkaJS-style error flagged retriable',
      Object.assign(new Error('x'), { code: ERRORS.ERR__TIMED_OUT, retriable: true, fatal: false }),
      false,
      'KAFKA_RETRIABLE',
      true,
    ],
    [
      'KafkaJS-style error flagged fatal',
      Object.assign(new Error('x'), { code: ERRORS.ERR_UNKNOWN, retriable: true, fatal: true }),
      false,
      'KAFKA_FATAL',
      false,
    ],
    ['not an error object', 'boom', false, 'KAFKA_FAILED', false],
    ['null', null, true, 'KAFKA_RETRIABLE', true],
  ];

  it.each(table)('%s', (_what, err, inTransaction, code, retriable) => {
    const e = classifyKafkaError(err, 'op', { inTransaction });
    expect(e).toBeInstanceOf(FanoutError);
    expect(e).toMatchObject({ code, retriable });
    expect(e.cause).toBe(err);
    expect(e.message).toMatch(/^op: /);
  });

  it('returns a FanoutError as it is', () => {
    const own = new FanoutError('KAFKA_UNREACHABLE', 'no answer', { retriable: true });
    expect(classifyKafkaError(own, 'op')).toBe(own);
    expect(classifyKafkaError(own, 'op', { inTransaction: true })).toBe(own);
  });

  it("names the operation and keeps librdkafka's message", () => {
    const e = classifyKafkaError(
      librdkafka(ERRORS.ERR__TRANSPORT, txn(false, true, false)),
      'commit',
    );
    expect(e.message).toBe(`commit: error ${ERRORS.ERR__TRANSPORT}`);
    expect(classifyKafkaError('boom', 'read t').message).toBe('read t: boom');
  });
});

describe('commitResumable', () => {
  it('a commit call that timed out or is flagged retriable is resumed; one that must abort, is fatal or is anything else is not', () => {
    expect(commitResumable(librdkafka(ERRORS.ERR__TIMED_OUT))).toBe(true);
    expect(commitResumable(librdkafka(ERRORS.ERR__TRANSPORT, txn(false, true, false)))).toBe(true);
    expect(commitResumable(librdkafka(ERRORS.ERR__TIMED_OUT, txn(false, true, true)))).toBe(false);
    expect(commitResumable(librdkafka(ERRORS.ERR__FENCED, txn(true, false, false)))).toBe(false);
    expect(commitResumable(librdkafka(ERRORS.ERR__STATE))).toBe(false);
    expect(commitResumable('boom')).toBe(false);
  });
});

describe('commitMustAbort', () => {
  it("is librdkafka's txn-requires-abort flag, and nothing else", () => {
    expect(commitMustAbort(librdkafka(ERRORS.ERR__TIMED_OUT, txn(false, true, true)))).toBe(true);
    expect(commitMustAbort(librdkafka(ERRORS.ERR__TIMED_OUT, txn(false, true, false)))).toBe(false);
    expect(commitMustAbort(librdkafka(ERRORS.ERR__TIMED_OUT))).toBe(false);
    expect(commitMustAbort(null)).toBe(false);
  });
});
