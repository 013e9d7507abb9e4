import { describe, expect, it } from 'vitest';
import { AdmissionGate, Credit } from '../../../pipeline/lane/credit.ts';

describe('Credit (rows read but not yet written)', () => {
  it('never grants more than its capacity, and serves waiters in order as rows are released', async () => {
    const credit = new Credit(100);
    expect(await credit.acquire(10, 60)).toBe(60);
    expect(await credit.acquire(10, 60)).toBe(40); // what is left, since at least 10 are free
    const order: string[] = [];
    const first = credit.acquire(30, 50).then((n) => {
      order.push(`first ${n}`);
      return n;
    });
    const second = credit.acquire(5, 5).then((n) => {
      order.push(`second ${n}`);
      return n;
    });
    credit.release(20); // 20 free: the head wants 30, and the second waits behind it (no overtaking)
    await Promise.resolve();
    expect(order).toEqual([]);
    credit.release(20);
    expect(await first).toBe(40);
    credit.release(5);
    expect(await second).toBe(5);
    expect(order).toEqual(['first 40', 'second 5']);
    expect(credit.outstanding).toBe(100);
    expect(() => credit.release(101)).toThrow(/exceeds/);
  });

  it('gives 0 to a waiter whose signal aborts, and lets the next one through', async () => {
    const credit = new Credit(10);
    await credit.acquire(10, 10);
    const stop = new AbortController();
    const stopped = credit.acquire(5, 5, stop.signal);
    const next = credit.acquire(1, 1);
    stop.abort();
    expect(await stopped).toBe(0);
    credit.release(1);
    expect(await next).toBe(1);
    expect(await credit.acquire(1, 1, stop.signal)).toBe(0);
  });

  it('caps a minimum above the capacity at the capacity (a page never waits forever)', async () => {
    const credit = new Credit(8);
    expect(await credit.acquire(64, 5_000)).toBe(8);
  });
});

describe("Credit in two classes (small tweets ahead of a celebrity's tasks)", () => {
  // 100 rows: bulk may hold 60 (40 reserved for small), small 80 (20 always left for bulk).
  const shares = { bulk: 60, small: 80 };

  it('serves a small waiter before bulk ones queued earlier, and keeps the reserve from bulk', async () => {
    const credit = new Credit(100, shares);
    expect(await credit.acquire(10, 100, undefined, 'bulk')).toBe(60); // its share, no more
    expect(credit.held('bulk')).toBe(60);
    const order: string[] = [];
    const bulk = credit.acquire(10, 10, undefined, 'bulk').then((n) => order.push(`bulk ${n}`));
    // The reserve is there at once, though bulk waits.
    expect(await credit.acquire(30, 30, undefined, 'small')).toBe(30);
    const small = credit.acquire(20, 20, undefined, 'small').then((n) => order.push(`small ${n}`));
    credit.release(20, 'bulk'); // 30 free: the small head (20) first, then bulk gets the last 10
    await Promise.all([bulk, small]);
    expect(order).toEqual(['small 20', 'bulk 10']);
    expect(credit.held('small')).toBe(50);
    expect(credit.held('bulk')).toBe(50);
    expect(() => credit.release(51, 'bulk')).toThrow(/exceeds the 50 outstanding \(bulk\)/);
  });

  it('never starves bulk: with small demand above capacity, a task gets its page whenever tasks hold nothing', async () => {
    const credit = new Credit(100, shares);
    let small = 0;
    const asking = new Set<Promise<number>>();
    const askSmall = (): void => {
      const p = credit.acquire(10, 10, undefined, 'small').then((n) => {
        small += n;
        return n;
      });
      asking.add(p);
    };
    for (let i = 0; i < 20; i++) askSmall(); // 200 rows asked for: more than there is
    await Promise.resolve();
    expect(credit.held('small')).toBe(80); // the share: 20 left
    // A celebrity's task, one page at a time (at least 20 rows each), its rows then written.
    let bulkRows = 0;
    for (let page = 0; page < 5; page++) {
      const got = await credit.acquire(20, 50, undefined, 'bulk');
      expect(got).toBeGreaterThanOrEqual(20);
      bulkRows += got;
      // Small rows are written and asked for again meanwhile: demand never drops.
      credit.release(10, 'small');
      askSmall();
      credit.release(got, 'bulk');
      await Promise.resolve();
    }
    expect(bulkRows).toBeGreaterThanOrEqual(100);
    expect(small).toBeGreaterThan(80);
  });

  it('never starves a small waiter: bulk asking all the time leaves what it needs once small rows drain', async () => {
    const credit = new Credit(100, shares);
    expect(await credit.acquire(80, 80, undefined, 'small')).toBe(80);
    expect(await credit.acquire(20, 20, undefined, 'bulk')).toBe(20);
    // A small tweet whose 70 ids are known wants them at once; tasks keep asking for pages.
    const whole = credit.acquire(70, 70, undefined, 'small');
    const tasks = [0, 1, 2].map(() => credit.acquire(10, 60, undefined, 'bulk'));
    let held = false;
    void whole.then(() => (held = true));
    credit.release(40, 'small'); // 40 free, not yet enough: bulk takes only what leaves it 70
    expect(await tasks[0]).toBe(10);
    credit.release(40, 'small');
    expect(await whole).toBe(70);
    expect(held).toBe(true);
    expect(credit.held('bulk')).toBe(30);
    expect(credit.limit('small')).toBe(80);
    expect(credit.limit('bulk')).toBe(60);
  });

  it('rejects shares outside its capacity', () => {
    expect(() => new Credit(10, { bulk: 11 })).toThrow(/bulk share/);
    expect(() => new Credit(10, { small: 0 })).toThrow(/small share/);
  });
});

describe('AdmissionGate (tweets in flight)', () => {
  it('closes at capacity and reopens only when half the slots are free, saying so once', () => {
    let reopened = 0;
    const gate = new AdmissionGate(4, () => reopened++);
    expect(gate.room()).toBe(4);
    for (let i = 0; i < 4; i++) gate.admit();
    expect(gate.room()).toBe(0);
    gate.release();
    expect(gate.room()).toBe(0); // 3 in flight: still closed (hysteresis)
    gate.release();
    expect(gate.room()).toBe(2);
    expect(reopened).toBe(1);
    gate.admit();
    expect(gate.room()).toBe(1);
    expect(() => {
      for (let i = 0; i < 10; i++) gate.release();
    }).toThrow(/without a matching admit/);
  });

  it('with capacity 1 admits one at a time', () => {
    const gate = new AdmissionGate(1);
    gate.admit();
    expect(gate.room()).toBe(0);
    gate.release();
    expect(gate.room()).toBe(1);
  });
});
