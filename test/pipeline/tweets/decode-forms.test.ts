import { describe, expect, it } from 'vitest';
import type { ColumnChange, RowChangeEvent } from '../../../connectors/cdc/events.ts';
import { decodeTweetRecord } from '../../../pipeline/tweets/decode.ts';

// The write forms of docs/write-forms.md as the CDC connector reports them
// (connectors/cdc/events.ts: `columns` holds only what a change wrote, `deleted: true` for a cell
// tombstone, `ttl` per cell), decoded by what they set, not by their verb.
const ID = '9b2f5a40-8c4e-11ef-9f0b-0242ac120002';
const T = 1_700_000_000_123_456n;
const cell = (value: string | null, extra: Partial<ColumnChange> = {}): ColumnChange => ({
  value,
  ts: String(T),
  ...extra,
});
const event = (
  op: RowChangeEvent['op'],
  columns: Record<string, ColumnChange>,
  extra: Partial<RowChangeEvent> = {},
): RowChangeEvent => ({
  op,
  keyspace: 'ks',
  table: 'tweets',
  tableId: '0'.repeat(32),
  key: { tweet_id: ID },
  clustering: op === 'delete_partition' ? null : {},
  columns,
  writeTimestamp: String(T),
  source: { segmentId: '1', position: 1, fileVersion: 8 },
  eventId: 'ab'.repeat(16),
  ...extra,
});
const decode = (e: RowChangeEvent) =>
  decodeTweetRecord(
    {
      topic: 't',
      partition: 0,
      offset: 0n,
      key: null,
      headers: {},
      value: Buffer.from(JSON.stringify(e)),
    },
    'ks',
  );
const body = cell('hello');
const upsert = (authorId: bigint, expiresAt: number | null = null, writeTime = T) => ({
  kind: 'fanout',
  change: { op: 'insert', tweetId: ID, authorId, writeTime, expiresAt, eventId: 'ab'.repeat(16) },
});
const retract = (writeTime = T) => ({
  kind: 'fanout',
  change: {
    op: 'delete',
    tweetId: ID,
    authorId: null,
    writeTime,
    expiresAt: null,
    eventId: 'ab'.repeat(16),
  },
});

describe('decoding by what a change sets (the write-form contract)', () => {
  it.each([
    [
      'INSERT (or INSERT IF NOT EXISTS)',
      event('insert', { author_id: cell('42'), body }),
      upsert(42n),
    ],
    [
      "INSERT … USING TTL: the expiry Cassandra set (its author cell's, the row's too)",
      event(
        'insert',
        {
          author_id: cell('42', { ttl: 60, expiresAt: 1_700_000_060 }),
          body: cell('b', { ttl: 60, expiresAt: 1_700_000_060 }),
        },
        { ttl: 60, expiresAt: 1_700_000_060 },
      ),
      upsert(42n, 1_700_000_060),
    ],
    [
      'UPDATE setting author_id (an upsert)',
      event('update', { author_id: cell('42'), body }),
      upsert(42n),
    ],
    [
      'UPDATE … USING TTL setting author_id, from a connector that did not carry its expiry: its TTL from the write time',
      event('update', { author_id: cell('42', { ttl: 3_600 }) }),
      upsert(42n, 1_700_003_600),
    ],
    [
      'UPDATE … USING TTL AND TIMESTAMP far ahead: the expiry Cassandra set, not one from the write time',
      event(
        'update',
        // USING TIMESTAMP in nanoseconds by mistake; applied at 1_700_000_000 s
        { author_id: cell('42', { ttl: 3_600, expiresAt: 1_700_003_600, ts: String(T * 1_000n) }) },
        { writeTimestamp: String(T * 1_000n) },
      ),
      upsert(42n, 1_700_003_600, T * 1_000n),
    ],
    [
      'UPDATE … USING TTL setting author_id, with a bad expiry',
      event('update', { author_id: cell('42', { ttl: 3_600, expiresAt: -1 }) }),
      { kind: 'dead', code: 'malformed-ttl' },
    ],
    ['UPDATE of the body only', event('update', { body }), { kind: 'skip' }],
    [
      'UPDATE … USING TTL of the body only',
      event('update', { body: cell('b', { ttl: 60 }) }),
      { kind: 'skip' },
    ],
    [
      'DELETE author_id FROM tweets (or SET author_id = null)',
      event('update', { author_id: cell(null, { deleted: true }) }),
      retract(),
    ],
    [
      'INSERT with author_id null',
      event('insert', { author_id: cell(null, { deleted: true }), body }),
      retract(),
    ],
    ['DELETE FROM tweets (the partition)', event('delete_partition', {}), retract()],
    ['a row deletion', event('delete_row', {}), retract()],
    [
      'INSERT without author_id: unauthored (an edit if the tweet has an author recorded, else a dead letter: the handler asks)',
      event('insert', { body }),
      { kind: 'unauthored', change: { op: 'insert', authorId: null, tweetId: ID } },
    ],
    [
      'UPDATE with an author_id beyond 64 bits',
      event('update', { author_id: cell('9223372036854775808') }),
      { kind: 'dead', code: 'missing-author' },
    ],
    [
      'UPDATE with a bad author_id TTL',
      event('update', { author_id: cell('42', { ttl: -5 }) }),
      { kind: 'dead', code: 'malformed-ttl' },
    ],
  ])('%s', (_, e, want) => {
    expect(decode(e)).toMatchObject(want);
  });

  it("orders by the author cell's own write time when a row change merges writes of several times", () => {
    const e = event('update', {
      author_id: cell('42', { ts: String(T - 5n) }),
      body: cell('b', { ts: String(T) }),
    });
    expect(decode(e)).toMatchObject(upsert(42n, null, T - 5n));
    const gone = event('update', {
      author_id: cell(null, { deleted: true, ts: String(T - 7n) }),
      body,
    });
    expect(decode(gone)).toMatchObject(retract(T - 7n));
  });
});
