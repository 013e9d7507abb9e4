import { describe, expect, it } from 'vitest';
import type { StateRecord } from '../../ports/streams.ts';
import { cdcOffsetRecord, compareOffsets, restoreCdcOffset } from '../../records/cdc-offset.ts';
import { latestPerKey } from '../../records/latest.ts';

const state = (key: string | null, value: string | null, offset = 0): StateRecord => ({
  partition: 0,
  offset,
  key,
  value: value === null ? null : Buffer.from(value),
});

describe('latestPerKey', () => {
  it('keeps the last value per key and drops keys whose last record is a tombstone', () => {
    const live = latestPerKey([
      state('a', '1'),
      state('b', '1'),
      state('a', '2'),
      state('b', null),
      state(null, 'x'),
      state('c', null),
      state('c', '3'),
    ]);
    expect([...live].map(([k, v]) => [k, v.toString()])).toEqual([
      ['a', '2'],
      ['c', '3'],
    ]);
  });
});

describe('CDC offset record', () => {
  it('round-trips through the offsets topic, per node', () => {
    const a = cdcOffsetRecord('offsets', 'node-a', { segmentId: 17n, position: 4096 });
    const b = cdcOffsetRecord('offsets', 'node-b', { segmentId: 3n, position: 8 });
    expect(a).toMatchObject({ topic: 'offsets', partition: 0, key: 'cdc/node-a' });
    const records = [a, b].map((r, i) => state(r.key, r.value, i));
    expect(restoreCdcOffset(records, 'node-a')).toEqual({ segmentId: 17n, position: 4096 });
    expect(restoreCdcOffset(records, 'node-b')).toEqual({ segmentId: 3n, position: 8 });
    expect(restoreCdcOffset(records, 'node-c')).toBeNull();
    expect(restoreCdcOffset([...records, state('cdc/node-a', null, 3)], 'node-a')).toBeNull();
  });

  it('reads records written before the format had a version', () => {
    const old = state('cdc/n', JSON.stringify({ segmentId: '5', position: 10, node: 'n' }));
    expect(restoreCdcOffset([old], 'n')).toEqual({ segmentId: 5n, position: 10 });
  });

  it('refuses an unreadable record instead of restarting from the beginning', () => {
    expect(() => restoreCdcOffset([state('cdc/n', '{"v":1,"segmentId":"x"}')], 'n')).toThrow(
      /CDC offset record cdc\/n is unreadable/,
    );
    expect(() => restoreCdcOffset([state('cdc/n', '{"v":9}')], 'n')).toThrow(/unreadable/);
  });

  it('orders offsets by segment, then position', () => {
    expect(
      compareOffsets({ segmentId: 1n, position: 9 }, { segmentId: 2n, position: 0 }),
    ).toBeLessThan(0);
    expect(
      compareOffsets({ segmentId: 2n, position: 9 }, { segmentId: 2n, position: 3 }),
    ).toBeGreaterThan(0);
    expect(compareOffsets({ segmentId: 2n, position: 3 }, { segmentId: 2n, position: 3 })).toBe(0);
  });
});
