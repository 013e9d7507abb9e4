import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { batchRows, writeBatches } from '../../../pipeline/fanout/batch.ts';
import { WriteSlots } from '../../../pipeline/lane/write-slots.ts';

const small = () => 'small' as const;

const scheduler = (): TestScheduler =>
  new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

describe('batchRows', () => {
  it('cuts chunks into batches of exactly `size`, carrying rows across chunks', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const chunks = cold('a-b-|', { a: [1, 2, 3], b: [4, 5, 6, 7] });
      expectObservable(chunks.pipe(batchRows(3, 100))).toBe('a-b-(c|)', {
        a: [1, 2, 3],
        b: [4, 5, 6],
        c: [7],
      });
    });
  });

  it('emits a partial batch lingerMs after its first row, not later', () => {
    scheduler().run(({ cold, expectObservable }) => {
      // First row of the tail at frame 0; more rows at 2 join it; the timer does not restart.
      const chunks = cold('a-b------------|', { a: [1], b: [2] });
      expectObservable(chunks.pipe(batchRows(10, 5))).toBe('-----x---------|', { x: [1, 2] });
    });
  });

  it('lets the rows of several small tweets share one batch', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const chunks = cold('a-b-c---|', { a: ['t1'], b: ['t2', 't2'], c: ['t3'] });
      expectObservable(chunks.pipe(batchRows(4, 5))).toBe('----x---|', {
        x: ['t1', 't2', 't2', 't3'],
      });
    });
  });

  it('with lingerMs 0 writes the tail right after the chunk that left it', () => {
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('a---|', { a: [1, 2, 3] }).pipe(batchRows(2, 0))).toBe('(ab)|', {
        a: [1, 2],
        b: [3],
      });
    });
  });

  it('flushes on complete (shutdown by completing the source loses nothing) and never emits an empty batch', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const chunks = cold<number[]>('a-e-b|', { a: [1, 2], e: [], b: [3] });
      expectObservable(chunks.pipe(batchRows<number>(2, 50))).toBe('a----(b|)', {
        a: [1, 2],
        b: [3],
      });
    });
  });

  it('passes an error on and drops its timer', () => {
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('a-#', { a: [1] }).pipe(batchRows(5, 10))).toBe('--#');
    });
  });
});

describe('writeBatches', () => {
  it('never has more than maxInFlight writes running, and queues the rest in order', () => {
    scheduler().run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const writes = { a: cold('----|'), b: cold('----|'), c: cold('------|'), d: cold('-----|') };
      const batches = hot<'a' | 'b' | 'c' | 'd'>('(abcd)', { a: 'a', b: 'b', c: 'c', d: 'd' });
      // Two at once: a and b start at 0; c starts when a ends (4), d when b ends (4); out in completion order.
      expectObservable(
        batches.pipe(
          writeBatches((k: 'a' | 'b' | 'c' | 'd') => writes[k], new WriteSlots(2), small),
        ),
      ).toBe('----(ab)-dc', { a: 'a', b: 'b', c: 'c', d: 'd' });
      expectSubscriptions(writes.a.subscriptions).toBe('^---!');
      expectSubscriptions(writes.b.subscriptions).toBe('^---!');
      expectSubscriptions(writes.c.subscriptions).toBe('----^-----!');
      expectSubscriptions(writes.d.subscriptions).toBe('----^----!');
    });
  });

  it('fails the stream when a write fails (retries happen inside the write)', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const out = cold('ab|').pipe(
        writeBatches(
          (k: string) => (k === 'b' ? cold('--#') : cold('---|')),
          new WriteSlots(4),
          small,
        ),
      );
      expectObservable(out).toBe('---(a#)');
    });
  });

  it('writes a small batch queued behind bulk ones first, in the slots two lanes share', () => {
    scheduler().run(({ cold, hot, expectObservable }) => {
      const slots = new WriteSlots(2);
      const write = (k: string) => cold(k === 'b' ? '------|' : '----|');
      const bulk = hot('(abc)').pipe(writeBatches(write, slots, () => 'bulk' as const));
      const tweets = hot('-s').pipe(writeBatches(write, slots, small));
      // a and b run at 0; when a ends (4) s, queued since 1, goes ahead of c, which starts at 6.
      expectObservable(bulk).toBe('----a-b---c');
      expectObservable(tweets).toBe('--------s');
    });
  });
});
