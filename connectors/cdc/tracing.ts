/**
 * The connector's spans and latency metric. Each change event has a `cdc.change` span from the
 * moment its commit-log entry is decoded until the Kafka transaction that made it visible
 * committed: the root of the tweet's trace (the worker continues it from the record's headers).
 * Each transaction has a `cdc.transaction` span that every event span links to.
 */
import { SpanKind } from '@opentelemetry/api';
import { OperatorMetrics } from '../../lib/metrics.ts';
import { type LongSpan, linkTo, startSpan, traced } from '../../lib/telemetry.ts';
import type { ChangeEvent } from './events.ts';

export class CdcTracing {
  readonly #spans = new WeakMap<ChangeEvent, LongSpan>();
  readonly #metrics: OperatorMetrics;

  constructor(nodeId: string) {
    this.#metrics = new OperatorMetrics('cdc', { 'fanout.cdc.node': nodeId });
  }

  /** Events decoded from one commit-log entry, whose decoding started at `startMs`. */
  decoded(events: readonly ChangeEvent[], startMs: number): void {
    for (const e of events) {
      this.#spans.set(
        e,
        startSpan(
          'cdc.change',
          SpanKind.PRODUCER,
          {
            'db.system': 'cassandra',
            'fanout.cdc.op': e.op,
            'fanout.cdc.table': `${e.keyspace ?? '?'}.${e.table ?? '?'}`,
            'fanout.cdc.segment': e.source.segmentId,
            'fanout.cdc.position': e.source.position,
            'fanout.event_id': e.eventId,
            ...(e.op !== 'undecodable' && typeof e.key.tweet_id === 'string'
              ? { 'fanout.tweet_id': e.key.tweet_id }
              : {}),
          },
          { startTime: startMs },
        ),
      );
    }
  }

  /**
   * Runs the transaction of `events` (`run` gets each event's trace headers), then ends their
   * spans, linked to the transaction's; a failed transaction ends them failed (a retry decodes
   * the entries again).
   */
  async commit(
    events: readonly ChangeEvent[],
    run: (traceOf: (e: ChangeEvent) => Record<string, string>) => Promise<void>,
  ): Promise<void> {
    const spans = events.flatMap((e) => {
      const s = this.#spans.get(e);
      return s ? [s] : [];
    });
    try {
      await traced(
        'cdc.transaction',
        SpanKind.PRODUCER,
        { 'fanout.cdc.events': events.length },
        (tx) =>
          run((e) => this.#spans.get(e)?.headers() ?? {}).then(() => {
            const link = linkTo(tx);
            for (const s of spans) {
              if (link) s.span.addLink(link);
              s.end();
            }
          }),
      );
    } catch (err) {
      for (const s of spans) s.end(err);
      throw err;
    }
    this.#metrics.cdcCommitted(
      events.flatMap((e) => (e.op === 'undecodable' ? [] : [e.writeTimestamp])),
    );
  }

  close(): void {
    this.#metrics.close();
  }
}
