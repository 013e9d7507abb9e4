import { describe, expect, it } from 'vitest';
import { decodeGraphRecord } from '../../../pipeline/graph/decode.ts';
import type { SourceRecord } from '../../../ports/streams.ts';

const record = (value: unknown): SourceRecord => ({
  topic: 'cdc.ks.followers',
  partition: 0,
  offset: 0n,
  key: null,
  value: Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
  headers: {},
});
const event = (op: string, extra: Record<string, unknown> = {}) => ({
  op,
  keyspace: 'ks',
  table: 'followers',
  key: { user_id: '7' },
  clustering: { follower_id: '42' },
  columns: {},
  writeTimestamp: '1000',
  ...extra,
});
const decode = (value: unknown) => decodeGraphRecord(record(value), 'ks');

describe('decodeGraphRecord', () => {
  it('an INSERT or an UPDATE writing a column is a follow, a row delete an unfollow, at the write time', () => {
    const follow = { op: 'follow', authorId: 7n, followerId: 42n, writeTime: 1000n };
    expect(decode(event('insert'))).toEqual({ kind: 'change', change: follow });
    expect(
      decode(event('update', { columns: { followed_at: { value: 'x', ts: '1000' } } })),
    ).toEqual({ kind: 'change', change: follow });
    expect(decode(event('delete_row'))).toEqual({
      kind: 'change',
      change: { ...follow, op: 'unfollow' },
    });
  });

  it('an UPDATE only deleting cells leaves the follow as it is', () => {
    expect(
      decode(
        event('update', { columns: { followed_at: { value: null, ts: '1', deleted: true } } }),
      ),
    ).toMatchObject({ kind: 'skip' });
  });

  it('dead-letters what names no follower pair, or cannot be read, with a reason', () => {
    const code = (v: unknown) => (decode(v) as { code?: string }).code;
    expect(code(event('delete_partition', { clustering: null }))).toBe('unsupported-unfollow');
    expect(code(event('delete_range', { clustering: null }))).toBe('unsupported-unfollow');
    expect(code(event('insert', { table: 'tweets' }))).toBe('unexpected-table');
    expect(code(event('insert', { key: { user_id: 'x' } }))).toBe('malformed-key');
    expect(code(event('insert', { clustering: {} }))).toBe('malformed-key');
    expect(code(event('insert', { writeTimestamp: 'soon' }))).toBe('malformed-timestamp');
    expect(code('{')).toBe('malformed-json');
    expect(code('[]')).toBe('malformed-event');
  });
});
