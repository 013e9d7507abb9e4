import { Subject, takeUntil } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { sourceRecords } from '../../../pipeline/lane/source.ts';
import type { RecordSource, SourceListener } from '../../../ports/streams.ts';

/** A source that hands its listener out, to fail it when the test says. */
function source(): { source: RecordSource; listener: () => SourceListener } {
  let listener: SourceListener | undefined;
  return {
    source: {
      topic: 't',
      paused: false,
      start: async (l) => {
        listener = l;
      },
      wake: () => undefined,
      highWatermark: () => undefined,
      endReached: () => undefined,
      close: async () => undefined,
    },
    listener: () => listener!,
  };
}

const hooks = {
  room: () => 1,
  assigned: async () => undefined,
  revoked: async () => undefined,
};

describe('sourceRecords', () => {
  it('a source failure errors the records while they flow', () => {
    const s = source();
    const errors: unknown[] = [];
    const late: Error[] = [];
    sourceRecords(s.source, { ...hooks, failedLate: (e) => late.push(e) }).subscribe({
      error: (e: unknown) => errors.push(e),
    });
    s.listener().failed(new Error('broker gone'));
    expect(errors.map((e) => (e as Error).message)).toEqual(['broker gone']);
    expect(late).toEqual([]);
  });

  it('one after the records were completed (a drain under way) reaches failedLate, not nowhere', () => {
    const s = source();
    const stop = new Subject<void>();
    const errors: unknown[] = [];
    const late: Error[] = [];
    sourceRecords(s.source, { ...hooks, failedLate: (e) => late.push(e) })
      .pipe(takeUntil(stop))
      .subscribe({ error: (e: unknown) => errors.push(e) });
    stop.next();
    expect(s.listener().room()).toBe(0);
    s.listener().failed(new Error('rebalance failed'));
    expect(errors).toEqual([]);
    expect(late.map((e) => e.message)).toEqual(['rebalance failed']);
  });
});
