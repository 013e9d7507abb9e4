import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../config/index.ts';
import type { SourceRecord } from '../../../ports/streams.ts';
import { tweetEvent, usingTtl } from '../fixtures.ts';
import { decodeTweetRecord } from '../../../pipeline/tweets/decode.ts';

const config = loadConfig({ env: {}, sets: ['cassandra.keyspace=ks'] });
const ID = '9b2f5a40-8c4e-11ef-9f0b-0242ac120002';
const record = (value: string | object | null): SourceRecord => ({
  topic: 't',
  partition: 0,
  offset: 0n,
  key: null,
  headers: {},
  value:
    value === null ? null : Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
});
const decode = (value: string | object | null) => decodeTweetRecord(record(value), 'ks');

describe('decodeTweetRecord', () => {
  it("an insert is a fan-out with its author, write time and event id (the replica copies' common id)", () => {
    const event = tweetEvent(config, 'insert', ID, 42n, 1_700_000_000_000_000n);
    expect(decode(event)).toEqual({
      kind: 'fanout',
      change: {
        op: 'insert',
        tweetId: ID,
        authorId: 42n,
        writeTime: 1_700_000_000_000_000n,
        expiresAt: null,
        eventId: event.eventId,
      },
    });
    // Without a well-formed id the change is still fanned out, never de-duplicated.
    expect(decode({ ...event, eventId: 'not-hex' })).toMatchObject({
      kind: 'fanout',
      change: { eventId: null },
    });
  });

  it('an insert written with a TTL carries its expiry; a bad expiry is a dead letter', () => {
    const event = usingTtl(tweetEvent(config, 'insert', ID, 42n, 5n), 3_600, 1_700_003_600);
    expect(decode(event)).toMatchObject({
      kind: 'fanout',
      change: { op: 'insert', expiresAt: 1_700_003_600 },
    });
    const author = (expiresAt: unknown) => ({
      ...event,
      columns: { ...event.columns, author_id: { ...event.columns.author_id, expiresAt } },
    });
    for (const bad of ['1700003600', -1])
      expect(decode(author(bad))).toMatchObject({ kind: 'dead', code: 'malformed-ttl' });
  });

  it("an insert whose row and author cell expire apart (one tweet's writes merged in a batch) lives as long as its author", () => {
    // BEGIN BATCH INSERT INTO tweets (tweet_id, body) … USING TTL 60;
    //             UPDATE tweets SET author_id = 42 WHERE tweet_id = … APPLY BATCH
    const rowOnly = {
      ...tweetEvent(config, 'insert', ID, 42n, 5n),
      ttl: 60,
      expiresAt: 1_700_000_060,
    };
    expect(decode(rowOnly)).toMatchObject({ kind: 'fanout', change: { expiresAt: null } });
    // …and the other way round: the author cell expires, the row does not.
    const authorOnly = tweetEvent(config, 'insert', ID, 42n, 5n);
    authorOnly.columns.author_id = {
      ...authorOnly.columns.author_id!,
      ttl: 60,
      expiresAt: 1_700_000_060,
    };
    expect(decode(authorOnly)).toMatchObject({
      kind: 'fanout',
      change: { expiresAt: 1_700_000_060 },
    });
  });

  it('delete_partition and delete_row retract; the author is not in the event', () => {
    for (const op of ['delete_partition', 'delete_row'] as const) {
      const event = tweetEvent(config, op, ID, null, 5n);
      expect(decode(event)).toEqual({
        kind: 'fanout',
        change: {
          op: 'delete',
          tweetId: ID,
          authorId: null,
          writeTime: 5n,
          expiresAt: null,
          eventId: event.eventId,
        },
      });
    }
  });

  it('an update has nothing to fan out', () => {
    expect(decode(tweetEvent(config, 'update', ID, null, 5n)).kind).toBe('skip');
  });

  it.each([
    ['no value', null, 'empty-record'],
    ['not JSON', '{"op":', 'malformed-json'],
    ['not an object', '[1,2]', 'malformed-event'],
    [
      'another table',
      { ...tweetEvent(config, 'insert', ID, 1n, 5n), table: 'followers' },
      'unexpected-table',
    ],
    [
      'another keyspace',
      { ...tweetEvent(config, 'insert', ID, 1n, 5n), keyspace: 'other' },
      'unexpected-table',
    ],
    [
      'a key that is not a uuid',
      { ...tweetEvent(config, 'insert', ID, 1n, 5n), key: { tweet_id: 'nope' } },
      'malformed-key',
    ],
    [
      'a bad write time',
      { ...tweetEvent(config, 'insert', ID, 1n, 5n), writeTimestamp: '12abc' },
      'malformed-timestamp',
    ],
    [
      'an author beyond 64 bits',
      {
        ...tweetEvent(config, 'insert', ID, 1n, 5n),
        columns: { author_id: { value: '9223372036854775808', ts: '5' } },
      },
      'missing-author',
    ],
    [
      'a range delete',
      { ...tweetEvent(config, 'insert', ID, 1n, 5n), op: 'delete_range' },
      'unexpected-op',
    ],
  ])('dead-letters %s', (_, value, code) => {
    const d = decode(value);
    expect(d.kind).toBe('dead');
    expect(d.kind === 'dead' && d.code).toBe(code);
  });
});
