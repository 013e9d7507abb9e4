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
