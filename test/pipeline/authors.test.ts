import { describe, expect, it } from 'vitest';
import { createLogger } from '../../connectors/log.ts';
import { RecentAuthors } from '../../pipeline/authors.ts';
import { MemoryAuthors } from './fakes.ts';

const log = createLogger('error');
const once = <T>(_what: string, fn: () => Promise<T>): Promise<T> => fn();

describe('RecentAuthors', () => {
  it('keeps the most recent inserts up to its capacity, dropping the oldest first', () => {
    const recent = new RecentAuthors({ store: new MemoryAuthors(), attempt: once, log, capacity: 2 });
    recent.remember('a', 1n);
    recent.remember('b', 2n);
    recent.remember('a', 1n); // seen again: now the newest
    recent.remember('c', 3n);
    expect([recent.get('a'), recent.get('b'), recent.get('c')]).toEqual([1n, undefined, 3n]);
  });

  it('forget drops the author from memory and deletes its row at the delete\'s write time', async () => {
    const store = new MemoryAuthors();
    await store.put('t', 7n, 10n);
    const recent = new RecentAuthors({ store, attempt: once, log });
    recent.remember('t', 7n);
    recent.forget('t', 20n);
    expect(recent.get('t')).toBeUndefined();
    await recent.settled();
    expect(await store.get('t')).toBeNull();
    // A re-insert written before the delete cannot bring the row back (the later write wins).
    await store.put('t', 7n, 15n);
    expect(await store.get('t')).toBeNull();
  });

  it('a failed row delete is logged, not thrown, and settled() still settles', async () => {
    const store = new MemoryAuthors();
    store.forget = () => Promise.reject(new Error('unavailable'));
    const recent = new RecentAuthors({ store, attempt: once, log });
    recent.forget('t', 1n);
    await expect(recent.settled()).resolves.toBeUndefined();
  });
});
