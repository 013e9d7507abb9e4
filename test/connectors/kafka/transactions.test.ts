import kafkaJs from '@confluentinc/kafka-javascript';
import { describe, expect, it } from 'vitest';
import { FanoutError } from '../../../lib/errors.ts';
import { classifyTransactionError } from '../../../connectors/kafka/transactions.ts';

const { ERRORS } = kafkaJs.CODES;

describe('classifyTransactionError', () => {
  it('a commit that timed out while a broker was down is retriable, also as the KafkaJS-style layer reports it (flags dropped, code kept)', () => {
    // What @confluentinc/kafka-javascript 1.10.1's transaction().commit() rejected with in a Kafka restart test.
    const compat = Object.assign(
      new Error('Timed out waiting for operation to finish, retry call to resume'),
      { code: ERRORS.ERR__TIMED_OUT, retriable: false, fatal: false },
    );
    const e = classifyTransactionError(compat, 'CDC transaction of 52 events');
    expect(e).toBeInstanceOf(FanoutError);
    expect(e).toMatchObject({ code: 'KAFKA_RETRIABLE', retriable: true });
    expect(e.message).toBe(
      'CDC transaction of 52 events: Timed out waiting for operation to finish, retry call to resume',
    );
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
        classifyTransactionError(
          Object.assign(new Error('Local: Fatal error'), { code, fatal: false }),
          'x',
        ),
      ).toMatchObject({ code: 'KAFKA_FENCED', retriable: false });
    }
    expect(
      classifyTransactionError(
        Object.assign(new Error('boom'), { code: ERRORS.ERR__TRANSPORT, isFatal: true }),
        'x',
      ),
    ).toMatchObject({ retriable: false });
    expect(
      classifyTransactionError(
        Object.assign(new Error('down'), { code: ERRORS.ERR__TRANSPORT }),
        'x',
      ),
    ).toMatchObject({ retriable: true });
  });
});
