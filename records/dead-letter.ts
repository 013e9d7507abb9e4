/**
 * A dead letter of the fan-out: a record the worker could not use, with the reason, where it came
 * from and its original bytes (base64), keyed by its source coordinates. Nothing is lost: the
 * record's offset is committed together with its dead letter.
 */
import type { OutRecord, SourceRecord } from '../ports/streams.ts';

export function deadLetterRecord(
  topic: string,
  record: SourceRecord,
  code: string,
  message: string,
): OutRecord {
  return {
    topic,
    key: `${record.topic}/${record.partition}/${record.offset}`,
    value: JSON.stringify({
      stage: 'fanout',
      reason: { code, message },
      source: {
        topic: record.topic,
        partition: record.partition,
        offset: record.offset.toString(),
      },
      key: record.key?.toString('base64') ?? null,
      value: record.value?.toString('base64') ?? null,
      headers: record.headers,
      at: new Date().toISOString(),
    }),
    headers: {
      'fanout-reason': code,
      ...(record.headers.traceparent ? { traceparent: record.headers.traceparent } : {}),
    },
  };
}
