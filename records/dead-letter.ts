/**
 * A dead letter of the fan-out: a record the worker could not use, with the reason, where it came
 * from and its original bytes (base64), keyed by its source coordinates. Nothing is lost: the
 * record's offset is committed together with its dead letter.
 */
import type { OutRecord, SourceRecord } from '../ports/streams.ts';

/**
 * Most bytes of a dead letter's value: librdkafka refuses a record over its message.max.bytes
 * (1,000,000) with "Message size too large", and a transaction that cannot commit holds up its
 * whole partition for good. Base64 makes a record's bytes a third larger, so a source record over
 * ~670 KB (a malformed one produced to the topic by hand, say) would not fit whole.
 */
export const MAX_DEAD_LETTER_BYTES = 900_000;

export function deadLetterRecord(
  topic: string,
  record: SourceRecord,
  code: string,
  message: string,
): OutRecord {
  const source = {
    topic: record.topic,
    partition: record.partition,
    offset: record.offset.toString(),
  };
  const letter = {
    stage: 'fanout',
    reason: { code, message },
    source,
    key: record.key?.toString('base64') ?? null,
    value: record.value?.toString('base64') ?? null,
    headers: record.headers,
    at: new Date().toISOString(),
  };
  let value = JSON.stringify(letter);
  if (Buffer.byteLength(value) > MAX_DEAD_LETTER_BYTES) {
    // Too large whole: the record's bytes stay where they are (the source topic, for its
    // retention), and the letter says so, with their size.
    const bytes = record.value?.length ?? 0;
    value = JSON.stringify({
      ...letter,
      reason: {
        code,
        message: `${message} [the ${bytes}-byte value is omitted from this dead letter (over ${MAX_DEAD_LETTER_BYTES} bytes with it); it is the record at ${source.topic}/${source.partition} offset ${source.offset}, kept for that topic's retention]`,
      },
      value: null,
      valueOmitted: { bytes },
    });
  }
  return {
    topic,
    key: `${record.topic}/${record.partition}/${record.offset}`,
    value,
    headers: {
      'fanout-reason': code,
      ...(record.headers.traceparent ? { traceparent: record.headers.traceparent } : {}),
    },
  };
}
