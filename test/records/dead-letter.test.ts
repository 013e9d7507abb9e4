import { describe, expect, it } from 'vitest';
import { deadLetterRecord, MAX_DEAD_LETTER_BYTES } from '../../records/dead-letter.ts';
import type { SourceRecord } from '../../ports/streams.ts';

const record = (value: Buffer): SourceRecord => ({
  topic: 'cdc.ks.tweets',
  partition: 1,
  offset: 7n,
  key: Buffer.from('k'),
  value,
  headers: { traceparent: '00-aa-bb-01' },
});

interface Letter {
  reason: { code: string; message: string };
  source: { topic: string; partition: number; offset: string };
  value: string | null;
  valueOmitted?: { bytes: number };
}

describe('deadLetterRecord', () => {
  it('carries the record’s bytes (base64), its reason and where it came from', () => {
    const out = deadLetterRecord(
      'dead',
      record(Buffer.from('{"op": not json')),
      'malformed-json',
      'bad',
    );
    const letter = JSON.parse(out.value!) as Letter;
    expect(Buffer.from(letter.value!, 'base64').toString()).toBe('{"op": not json');
    expect(letter.reason).toEqual({ code: 'malformed-json', message: 'bad' });
    expect(letter.source).toEqual({ topic: 'cdc.ks.tweets', partition: 1, offset: '7' });
    expect(out.key).toBe('cdc.ks.tweets/1/7');
    expect(out.headers).toEqual({ 'fanout-reason': 'malformed-json', traceparent: '00-aa-bb-01' });
  });

  it('a record too large for a letter whole (800 KB, a third more in base64) leaves its bytes out, says how many and where they are', () => {
    const big = Buffer.alloc(800_000, 'x');
    const out = deadLetterRecord('dead', record(big), 'malformed-json', 'bad');
    expect(Buffer.byteLength(out.value!)).toBeLessThanOrEqual(MAX_DEAD_LETTER_BYTES);
    const letter = JSON.parse(out.value!) as Letter;
    expect(letter.value).toBeNull();
    expect(letter.valueOmitted).toEqual({ bytes: 800_000 });
    expect(letter.reason.code).toBe('malformed-json');
    expect(letter.reason.message).toMatch(
      /^bad \[the 800000-byte value is omitted.*cdc\.ks\.tweets\/1 offset 7/,
    );
  });
});
