import { describe, expect, it } from 'vitest';
import { HeldRecords } from '../../../connectors/kafka/held.ts';

const rec = (partition: number, offset: number) => ({ partition, offset });

describe('records held by the Kafka source', () => {
  it('keeps a record of a partition being restored and hands it over, in order, once owned', () => {
    const held = new HeldRecords<{ partition: number; offset: number }>();
    const owned = new Set([0]);
    const isOwned = (p: number): boolean => owned.has(p);
    // Partition 1 is being restored, yet librdkafka delivered two of its records.
    held.add([rec(1, 0), rec(0, 7), rec(1, 1), rec(0, 8)]);
    expect(held.next(isOwned)).toEqual(rec(0, 7));
    expect(held.next(isOwned)).toEqual(rec(0, 8));
    expect(held.next(isOwned)).toBeUndefined();
    expect(held.hasReady(isOwned)).toBe(false);
    expect(held.size).toBe(2); // not dropped: its position is already past them

    owned.add(1); // restored
    expect(held.hasReady(isOwned)).toBe(true);
    expect([held.next(isOwned), held.next(isOwned)]).toEqual([rec(1, 0), rec(1, 1)]);
    expect(held.size).toBe(0);
  });

  it('drops the records of partitions given up (their next owner reads them again)', () => {
    const held = new HeldRecords<{ partition: number; offset: number }>();
    held.add([rec(0, 1), rec(1, 1), rec(2, 1), rec(1, 2)]);
    expect(held.drop([1])).toBe(2);
    expect(held.retain((p) => p !== 2)).toBe(1);
    expect(held.next(() => true)).toEqual(rec(0, 1));
    expect(held.size).toBe(0);
  });
});
