/**
 * The CDC connector's Kafka side: one transactional producer per Cassandra node. Each transaction
 * holds the change events of a span of commit-log entries AND the source offset (segment id,
 * position) that span ends at, written to a compacted offsets topic: both become visible together
 * or not at all, which is what makes the connector exactly once. A stable transactional.id per
 * node fences a zombie connector and aborts its open transaction as soon as a new one starts.
 */
import type { Config } from '../../config/index.ts';
import { cdcTopic } from '../../config/index.ts';
import { readToEnd } from '../kafka/read-to-end.ts';
import { KafkaTransactions } from '../kafka/transactions.ts';
import type { Logger } from '../../lib/log.ts';
import type { OutRecord } from '../../ports/streams.ts';
import type { ChangeEvent } from './events.ts';
import { fitEvent, fitUndecodable } from './oversize.ts';
import { cdcOffsetRecord, restoreCdcOffset, type SourceOffset } from '../../records/cdc-offset.ts';

export { compareOffsets, type SourceOffset } from '../../records/cdc-offset.ts';

/** Bytes a record needs besides its value: key, headers and Kafka's record framing. */
const RECORD_OVERHEAD = 1_024;

/**
 * The records of one change event: keyed by partition key, so a row's changes stay ordered.
 * `trace`: the trace headers of the event's span (none without an SDK). An event over
 * `cdc.maxEventBytes` goes out with its largest values omitted (./oversize.ts), plus a dead letter
 * naming what was left out; one that cannot fit even so becomes a dead letter of its own. The dead
 * letter of an undecodable entry is cut to the same limit (its bytes left out, {@link fitUndecodable}).
 */
export function toRecords(
  config: Config,
  event: ChangeEvent,
  trace: Record<string, string> = {},
): OutRecord[] {
  const headers = { ...trace, 'fanout-event-id': event.eventId };
  if (event.op === 'undecodable') {
    return [
      {
        topic: config.topics.deadLetter,
        key: event.eventId,
        value: fitUndecodable(
          event,
          config.cdc.maxEventBytes,
          RECORD_OVERHEAD + Buffer.byteLength(event.eventId),
        ),
        headers: { ...headers, 'fanout-reason': event.reason.code },
      },
    ];
  }
  const key = JSON.stringify(event.key);
  const overhead = RECORD_OVERHEAD + Buffer.byteLength(key);
  const fitted = fitEvent(event, config.cdc.maxEventBytes, overhead);
  const topic = cdcTopic(config.topics.cdcPrefix, event.keyspace, event.table);
  if (fitted.omitted.length === 0) return [{ topic, key, value: fitted.value, headers }];
  const code = fitted.tooLarge ? 'too-large' : 'oversized';
  const what = fitted.omitted.map((o) => `${o.column} (${o.bytes} bytes)`).join(', ');
  const letter: OutRecord = {
    topic: config.topics.deadLetter,
    key: `${event.eventId}:${code}`,
    value: JSON.stringify({
      stage: 'cdc',
      reason: {
        code,
        message: fitted.tooLarge
          ? `the change of ${event.keyspace}.${event.table} ${key} does not fit cdc.maxEventBytes (${config.cdc.maxEventBytes}) even with every value omitted; not produced`
          : `the change of ${event.keyspace}.${event.table} ${key} exceeds cdc.maxEventBytes (${config.cdc.maxEventBytes}): produced with these values omitted: ${what}`,
        retriable: false,
      },
      event: {
        op: event.op,
        keyspace: event.keyspace,
        table: event.table,
        key: event.key,
        clustering: event.clustering,
        writeTimestamp: event.writeTimestamp,
        source: event.source,
        eventId: event.eventId,
      },
      omitted: fitted.omitted,
    }),
    headers: { ...headers, 'fanout-reason': code },
  };
  return fitted.tooLarge ? [letter] : [{ topic, key, value: fitted.value, headers }, letter];
}

export class CdcSink {
  readonly #config: Config;
  readonly #transactions: KafkaTransactions;
  readonly #nodeId: string;

  /** `nodeId`: the node's identity (host_id or cdc.nodeId). */
  constructor(config: Config, log: Logger, nodeId: string) {
    this.#config = config;
    this.#nodeId = nodeId;
    this.#transactions = new KafkaTransactions(config, {
      transactionalId: `${config.kafka.clientId}-cdc-${nodeId}`,
      log,
      // The Java client's partitioner, which the KafkaJS-style layer this producer used set: a
      // row's key stays on the partition its earlier changes went to.
      props: { partitioner: 'murmur2_random' },
    });
  }

  get transactionalId(): string {
    return this.#transactions.transactionalId;
  }

  /**
   * Connects the producer; initialising transactions fences any older instance of this node.
   * While Kafka is down it times out, and the connector tries again (fenced or fatal ends it).
   */
  open(): Promise<void> {
    return this.#transactions.open();
  }

  /** The last committed source offset of this node (or of `nodeId`), from the offsets topic (null: never ran). */
  async committedOffset(nodeId = this.#nodeId): Promise<SourceOffset | null> {
    const records = await readToEnd(this.#config, this.#config.topics.cdcOffsets, [0]);
    return restoreCdcOffset(records, nodeId);
  }

  /**
   * Produces `events` and moves the source offset to `offset`, atomically. A commit that timed
   * out while a broker was down is retried from the committed offset by a fresh producer (the
   * connector resets it); only a fenced or fatal one ends the connector.
   */
  async commit(
    events: readonly ChangeEvent[],
    offset: SourceOffset,
    traceOf: (event: ChangeEvent) => Record<string, string> = () => ({}),
  ): Promise<void> {
    await this.open();
    const { topics } = this.#config;
    await this.#transactions.commit([
      ...events.flatMap((e) => toRecords(this.#config, e, traceOf(e))),
      cdcOffsetRecord(topics.cdcOffsets, this.#nodeId, offset),
    ]);
  }

  /** Drops the producer after a failed transaction; the next commit re-initialises (and fences). */
  reset(): Promise<void> {
    return this.#transactions.close();
  }

  close(): Promise<void> {
    return this.#transactions.close();
  }
}
