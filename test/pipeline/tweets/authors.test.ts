import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../lib/log.ts';
import { RecentAuthors } from '../../../pipeline/tweets/authors.ts';
import { MemoryAuthors } from '../fakes.ts';

const log = createLogger('error');
const once = <T>(_what: string, fn: () => Promise<T>): Promise<T> => fn();

describe('RecentAuthors', () => {
  it('keeps the most recent inserts up to its capacity, dropping the oldest first', () => {
    const recent = new RecentAuthors({
      store: new MemoryAuthors(),
      attempt: once,
      log,
      capacity: 2,
    });
    recent.remember('a', 1n);
    recent.remember('b', 2n);
    recent.remember('a', 1n); // seen again: now the newest
    recent.remember('c', 3n);
    expect([recent.get('a'), recent.get('b'), recent.get('c')]).toEqual([1n, undefined, 3n]);
  });

  it("of two upserts of a tweet keeps the later write's author, whichever came first (a stale one arriving late)", () => {
    const recent = new RecentAuthors({ store: new MemoryAuthors(), attempt: once, log });
    recent.remember('t', 1n, 100n);
    recent.remember('t', 3n, 200n); // a move
    expect(recent.get('t')).toBe(3n);
    recent.remember('t', 1n, 150n); // an older change, replayed or re-sent
    expect(recent.get('t')).toBe(3n);
  });

  it('drop forgets the authors of upserts of the partitions given up, and only those', () => {
    const recent = new RecentAuthors({ store: new MemoryAuthors(), attempt: once, log });
    recent.remember('a', 1n, 10n, 0);
    recent.remember('b', 2n, 10n, 1);
    recent.remember('c', 3n, 10n, 2);
    recent.drop([0, 2]);
    expect([recent.get('a'), recent.get('b'), recent.get('c')]).toEqual([undefined, 2n, undefined]);
  });

  it("forget drops the author from memory and deletes its row at the delete's write time", async () => {
    const store = new MemoryAuthors();
    await store.put('t', 7n, 10n);
    const deletes: Array<[string, bigint]> = [];
    const forget = store.forget.bind(store);
    store.forget = (tweetId, writeTime) => {
      deletes.push([tweetId, writeTime]);
      return forget(tweetId, writeTime);
    };
    const recent = new RecentAuthors({ store, attempt: once, log });
    recent.remember('t', 7n);
    recent.forget('t', 20n);
    expect(recent.get('t')).toBeUndefined();
    await recent.settled();
    expect(deletes).toEqual([['t', 20n]]);
    expect(await store.get('t')).toBeNull();
  });

  it('a failed row delete is logged as a warning, not thrown, and settled() still settles', async () => {
    const store = new MemoryAuthors();
    store.forget = () => Promise.reject(new Error('unavailable'));
    const lines: string[] = [];
    const recent = new RecentAuthors({
      store,
      attempt: once,
      log: createLogger('warn', 'fanout', (l) => lines.push(l)),
    });
    recent.forget('t', 1n);
    await expect(recent.settled()).resolves.toBeUndefined();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /WARN .*could not delete the author record of a deleted tweet.*unavailable/,
    );
  });
});
