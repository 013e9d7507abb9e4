/**
 * The CDC connector's Kafka side: one transactional producer per Cassandra node. Each transaction
 * holds the change events of a span of commit-log entries AND the source offset (segment id,
 * position) that span ends at, written to a compacted offsets topic: both become visible together
 * or not at all, which is what makes the connector exactly once. A stable transactional.id per
 * node fences a zombie connector and aborts its open transaction as soon as a new one starts.
 */
import type { Config } from '../../config/index.ts';
import { cdcTopic } from '../../config/index.ts';
import { type KafkaClient, type KafkaProducer, transactionalProps } from '../kafka/client.ts';
import { classifyTransactionError } from '../kafka/transactions.ts';
import { readToEnd } from '../kafka/read-to-end.ts';
import type { Logger } from '../../lib/log.ts';
import { SpanKind, tracer, traceparentOf } from '../../lib/telemetry.ts';
import type { ChangeEvent } from './events.ts';
import { cdcOffsetRecord, restoreCdcOffset, type SourceOffset } from '../../records/cdc-offset.ts';

export { compareOffsets, type SourceOffset } from '../../records/cdc-offset.ts';

/** A Kafka record ready to produce. */
interface OutRecord {
  key: string;
  value: string;
  headers: Record<string, string>;
}

/** The record for one change event: keyed by partition key, so a row's changes stay ordered. */
export function toRecord(config: Config, event: ChangeEvent): { topic: string; record: OutRecord } {
  const span = tracer.startSpan('cdc.change', {
    kind: SpanKind.PRODUCER,
    attributes: {
      'db.system': 'cassandra',
      'fanout.cdc.op': event.op,
      'fanout.cdc.table': `${event.keyspace ?? '?'}.${event.table ?? '?'}`,
      'fanout.cdc.segment': event.source.segmentId,
      'fanout.cdc.position': event.source.position,
      'fanout.event_id': event.eventId,
    },
  });
  const headers = { traceparent: traceparentOf(span), 'fanout-event-id': event.eventId };
  span.end();
  if (event.op === 'undecodable') {
    return {
      topic: config.topics.deadLetter,
      record: {
        key: event.eventId,
        value: JSON.stringify({ stage: 'cdc', reason: event.reason, event }),
        headers: { ...headers, 'fanout-reason': event.reason.code },
      },
    };
  }
  return {
    topic: cdcTopic(config.topics.cdcPrefix, event.keyspace, event.table),
    record: { key: JSON.stringify(event.key), value: JSON.stringify(event), headers },
  };
}

export class CdcSink {
  readonly #kafka: KafkaClient;
  readonly #config: Config;
  readonly #log: Logger;
  #producer: KafkaProducer | undefined;

  constructor(kafka: KafkaClient, config: Config, log: Logger) {
    this.#kafka = kafka;
    this.#config = config;
    this.#log = log;
  }

  get transactionalId(): string {
    return `${this.#config.kafka.clientId}-cdc-${this.#config.cdc.nodeId}`;
  }

  /** Connects the producer; initialising transactions fences any older instance of this node. */
  async open(): Promise<void> {
    if (this.#producer) return;
    const producer = this.#kafka.producer(transactionalProps(this.#config, this.transactionalId));
    try {
      await producer.connect();
    } catch (err) {
      await producer.disconnect().catch(() => undefined);
      // Connecting initialises transactions, which needs the coordinator: while Kafka is down it
      // times out, and the connector tries again (fenced or fatal ends it).
      throw classifyTransactionError(err, 'connect the CDC producer');
    }
    this.#producer = producer;
  }

  /** The last committed source offset of this node, from the offsets topic (null: never ran). */
  async committedOffset(): Promise<SourceOffset | null> {
    const records = await readToEnd(this.#config, this.#config.topics.cdcOffsets, [0]);
    return restoreCdcOffset(records, this.#config.cdc.nodeId);
  }

  /** Produces `events` and moves the source offset to `offset`, atomically. */
  async commit(events: readonly ChangeEvent[], offset: SourceOffset): Promise<void> {
    await this.open();
    const producer = this.#producer!;
    const byTopic = new Map<string, OutRecord[]>();
    for (const e of events) {
      const { topic, record } = toRecord(this.#config, e);
      let list = byTopic.get(topic);
      if (!list) byTopic.set(topic, (list = []));
      list.push(record);
    }
    byTopic.set(this.#config.topics.cdcOffsets, [
      {
        ...(({ key, value }) => ({ key, value: value! }))(
          cdcOffsetRecord(this.#config.topics.cdcOffsets, this.#config.cdc.nodeId, offset),
        ),
        headers: {},
      },
    ]);
    const tx = await producer.transaction().catch((err: unknown) => {
      throw classifyTransactionError(err, 'begin CDC transaction');
    });
    try {
      await tx.sendBatch({
        topicMessages: [...byTopic].map(([topic, messages]) => ({
          topic,
          messages: messages.map((m) => ({
            ...m,
            partition: topic === this.#config.topics.cdcOffsets ? 0 : undefined,
          })),
        })),
      });
      await tx.commit();
    } catch (err) {
      await tx.abort().catch(() => undefined);
      // A commit that timed out while a broker was down is retried from the committed offset by
      // a fresh producer (the connector resets it); only a fenced or fatal one ends the connector.
      throw classifyTransactionError(err, `CDC transaction of ${events.length} events`);
    }
  }

  /** Drops the producer after a failed transaction; the next commit re-initialises (and fences). */
  async reset(): Promise<void> {
    const p = this.#producer;
    this.#producer = undefined;
    if (p)
      await p
        .disconnect()
        .catch((err: unknown) =>
          this.#log.debug('producer disconnect failed', { err: String(err) }),
        );
  }

  async close(): Promise<void> {
    await this.reset();
  }
}
