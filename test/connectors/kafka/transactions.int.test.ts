import kafkaJs from '@confluentinc/kafka-javascript';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { connectAdmin, type KafkaAdmin } from '../../../connectors/kafka/admin.ts';
import { asError } from '../../../connectors/kafka/errors.ts';
import { baseProps } from '../../../connectors/kafka/props.ts';
import { readToEnd } from '../../../connectors/kafka/read-to-end.ts';
import { ensureTopics } from '../../../connectors/kafka/topics.ts';
import { KafkaTransactions } from '../../../connectors/kafka/transactions.ts';
import { FanoutError } from '../../../lib/errors.ts';
import { createLogger } from '../../../lib/log.ts';
import { testConfig, uniq } from '../../support/config.ts';

// Proves the broker's transactions work end to end through our one transactional producer: what
// the CDC connector and the pipeline's checkpoints stand on.
describe('Kafka transactions (real broker)', () => {
  const config = testConfig();
  const log = createLogger('warn');
  let admin: KafkaAdmin;
  const input = `${config.topics.cdcPrefix}.in`;
  const output = `${config.topics.cdcPrefix}.out`;

  beforeAll(async () => {
    admin = await connectAdmin(config);
    await ensureTopics(admin, config, [
      { topic: input, partitions: 1, compacted: false },
      { topic: output, partitions: 1, compacted: false },
    ]);
  });
  afterAll(async () => {
    await admin.deleteTopics({ topics: [input, output] }).catch(() => undefined);
    await admin.disconnect();
  });

  const transactions = (transactionalId: string): KafkaTransactions => {
    const t = new KafkaTransactions(config, { transactionalId, log });
    onTestFinished(() => t.close());
    return t;
  };

  /** A connected group member that never subscribes: its group metadata is what offsets need. */
  async function member(group: string): Promise<InstanceType<typeof kafkaJs.KafkaConsumer>> {
    const consumer = new kafkaJs.KafkaConsumer(
      { ...baseProps(config), 'group.id': group, 'enable.auto.commit': false },
      {},
    );
    await new Promise<void>((resolve, reject) => {
      consumer.connect({ timeout: 10_000 }, (err) => (err ? reject(asError(err)) : resolve()));
    });
    onTestFinished(() => new Promise<void>((resolve) => consumer.disconnect(() => resolve())));
    return consumer;
  }

  it("a committed transaction (records + consumer offsets) is visible to read_committed; a fenced zombie's is not", async () => {
    const group = `t-${uniq()}`;
    // Something to consume, so there is a real offset to commit through the transaction.
    const seed = transactions(`t-${uniq()}`);
    await seed.open();
    await seed.commit([{ topic: input, key: 'k', value: 'source-1' }]);

    const consumer = await member(group);
    const offsets = { consumer, offsets: [{ topic: input, partition: 0, offset: 1 }] };
    const id = `t-${uniq()}`;
    const zombie = transactions(id);
    await zombie.open();
    const successor = transactions(id);
    await successor.open(); // same transactional id: fences the zombie
    const fenced = await zombie
      .commit([{ topic: output, key: 'a', value: 'aborted' }], offsets)
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(fenced).toBeInstanceOf(FanoutError);
    expect(fenced).toMatchObject({ retriable: false });

    await successor.commit([{ topic: output, key: 'c', value: 'committed' }], offsets);
    const seen = (await readToEnd(config, output, [0])).map((r) => r.value?.toString());
    expect(seen).toEqual(['committed']);

    const committed = await admin.fetchOffsets({
      groupId: group,
      topics: [input],
      requireStableOffsets: true,
    });
    expect(committed[0]?.partitions[0]?.offset).toBe('1');
  });

  // A commit call that times out has not failed: the coordinator may hold its EndTxn and commit it
  // in the background. Redoing the records in a new transaction then delivers them twice; the
  // commit must be resumed instead. A 5 ms call makes many commits time out while in flight
  // (redone as before, 2 of 20 records came twice).
  it('a commit whose call timed out is resumed, not redone: every record exactly once', async () => {
    const topic = `${config.topics.cdcPrefix}.resumed`;
    await ensureTopics(admin, config, [{ topic, partitions: 1, compacted: false }]);
    onTestFinished(() => admin.deleteTopics({ topics: [topic] }).then(() => undefined));
    const t = new KafkaTransactions(config, {
      transactionalId: `t-${uniq()}`,
      log,
      commitCallMs: 5,
    });
    onTestFinished(() => t.close());
    await t.open();
    const sent = Array.from({ length: 20 }, (_, i) => `record-${i}`);
    for (const value of sent) {
      // What the worker's committer does with a retriable failure: plan the same records again.
      for (let attempt = 1; ; attempt++) {
        const failed = await t.commit([{ topic, key: value, value }]).then(
          () => undefined,
          (err: unknown) => err as FanoutError,
        );
        if (failed === undefined) break;
        expect(failed.retriable, failed.message).toBe(true);
        expect(attempt, failed.message).toBeLessThan(5);
      }
    }
    const seen = (await readToEnd(config, topic, [0])).map((r) => r.value?.toString());
    expect(seen).toEqual(sent);
  });

  it('commit before open is refused as a programmer error; close is safe twice', async () => {
    const t = transactions(`t-${uniq()}`);
    await expect(t.commit([{ topic: output, key: 'k', value: 'v' }])).rejects.toMatchObject({
      code: 'TRANSACTIONS_NOT_OPEN',
      retriable: false,
    });
    await t.open();
    await t.close();
    await t.close();
    expect(t.isOpen).toBe(false);
  });
});
