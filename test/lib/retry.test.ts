import { describe, expect, it } from 'vitest';
import { FanoutError } from '../../lib/errors.ts';
import { backoffDelay, Outage, retry, waitingOnOf } from '../../lib/retry.ts';

const policy = { maxAttempts: 4, baseDelayMs: 1, maxDelayMs: 4 };
const transient = (n: number) =>
  new FanoutError('CASSANDRA_UNAVAILABLE', `timeout ${n}`, { retriable: true });

describe('retry', () => {
  it('retries retriable errors until success', async () => {
    let calls = 0;
    const v = await retry(
      policy,
      async () => {
        calls++;
        if (calls < 3) throw transient(calls);
        return 'ok';
      },
      { what: 'write batch' },
    );
    expect([v, calls]).toEqual(['ok', 3]);
  });

  it('gives up with one error listing every attempt', async () => {
    const err = await retry(
      policy,
      async (n) => {
        throw transient(n);
      },
      { what: 'write batch' },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FanoutError);
    expect((err as FanoutError).message).toBe(
      'write batch failed 4 times: #1: timeout 1; #2: timeout 2; #3: timeout 3; #4: timeout 4',
    );
    expect((err as FanoutError).retriable).toBe(false);
  });

  it('never retries a non-retriable error', async () => {
    let calls = 0;
    const boom = new TypeError('programmer error');
    await expect(
      retry(
        policy,
        async () => {
          calls++;
          throw boom;
        },
        { what: 'x' },
      ),
    ).rejects.toBe(boom);
    expect(calls).toBe(1);
  });

  it('stops when the app is closing', async () => {
    const ac = new AbortController();
    let calls = 0;
    const err = await retry(
      { maxAttempts: 100, baseDelayMs: 10_000, maxDelayMs: 10_000 },
      async (n) => {
        calls++;
        queueMicrotask(() => ac.abort());
        throw transient(n);
      },
      { what: 'produce', signal: ac.signal, random: () => 0.99 },
    ).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/^produce failed 1 times \(stopped: closing\)/);
    expect(calls).toBe(1);
  });

  it('backoff is full-jitter exponential, capped', () => {
    const p = { maxAttempts: 10, baseDelayMs: 100, maxDelayMs: 1_000 };
    expect([1, 2, 3, 4, 5].map((a) => backoffDelay(p, a, () => 0.999999))).toEqual([
      99, 199, 399, 799, 999,
    ]);
    expect(backoffDelay(p, 3, () => 0)).toBe(0);
  });
});

describe('classifyCassandraError', () => {
  it('retries timeouts, unavailability and closed sockets; not syntax or invalid requests', async () => {
    const { classifyCassandraError } = await import('../../lib/errors.ts');
    const socketClosed = Object.assign(new Error('Socket was closed'), {
      name: 'DriverError',
      isSocketError: true,
    });
    expect(classifyCassandraError(socketClosed, 'write').retriable).toBe(true);
    expect(
      classifyCassandraError(
        Object.assign(new Error('t'), { name: 'OperationTimedOutError' }),
        'write',
      ).retriable,
    ).toBe(true);
    expect(
      classifyCassandraError(
        Object.assign(new Error('overloaded'), { name: 'ResponseError', code: 0x1001 }),
        'write',
      ).retriable,
    ).toBe(true);
    expect(
      classifyCassandraError(
        Object.assign(new Error('bad cql'), { name: 'ResponseError', code: 0x2000 }),
        'write',
      ).retriable,
    ).toBe(false);
    expect(
      classifyCassandraError(
        Object.assign(new Error('invalid'), { name: 'ResponseError', code: 0x2200 }),
        'write',
      ).retriable,
    ).toBe(false);
  });
});

describe('retry: outage budget', () => {
  const outagePolicy = { maxAttempts: 0, baseDelayMs: 1, maxDelayMs: 2, outageBudgetMs: 60_000 };

  it('retries for the whole budget whatever the attempts, then fails naming the budget', () => {
    let now = 0;
    const lines: string[] = [];
    const log = { warn: (m: string) => lines.push(m) } as never;
    const outage = new Outage(outagePolicy, { what: 'write batch', now: () => now, log });
    for (let i = 0; i < 500; i++) {
      outage.failed(transient(i));
      now += 100; // 50 s of failures in 500 attempts: still within the 60 s budget
    }
    now = 60_000;
    let err: unknown;
    try {
      outage.failed(transient(501));
    } catch (e) {
      err = e;
    }
    expect((err as FanoutError).code).toBe('RETRIES_EXHAUSTED');
    expect((err as FanoutError).message).toMatch(
      /^write batch failed 501 times over 60 s waiting for cassandra: retry\.outageBudgetMs \(60000\) spent: #1: timeout 0; .*#501: timeout 501$/,
    );
    // Rate-limited: one line per 5 s of the (fake) clock, each saying what is waited on.
    expect(lines.length).toBeGreaterThanOrEqual(10);
    expect(lines.length).toBeLessThanOrEqual(12);
    expect(lines[0]).toMatch(/^waiting for cassandra: write batch failed 1 times/);
  });

  it('a success ends the streak: the budget counts from the next failure again', () => {
    let now = 0;
    const log = { warn: () => undefined } as never;
    const outage = new Outage(outagePolicy, { what: 'x', now: () => now, log });
    outage.failed(transient(1));
    now = 59_000;
    outage.succeeded();
    outage.failed(transient(2));
    now = 100_000;
    expect(() => outage.failed(transient(3))).not.toThrow();
  });

  it('maxAttempts still caps the attempts when set', () => {
    const outage = new Outage(
      { ...outagePolicy, maxAttempts: 2 },
      { what: 'x', log: { warn: () => undefined } as never },
    );
    outage.failed(transient(1));
    expect(() => outage.failed(transient(2))).toThrow(/^x failed 2 times: #1/);
  });

  it('a delay never runs past the end of the budget', () => {
    let now = 0;
    const outage = new Outage(
      { maxAttempts: 0, baseDelayMs: 10_000, maxDelayMs: 10_000, outageBudgetMs: 10_000 },
      { what: 'x', now: () => now, random: () => 0.99, log: { warn: () => undefined } as never },
    );
    outage.failed(transient(1));
    now = 9_000;
    expect(outage.failed(transient(2))).toBe(1_000);
  });

  it('tells what is waited on from the error code', () => {
    expect(waitingOnOf(transient(1))).toBe('cassandra');
    expect(waitingOnOf(new FanoutError('KAFKA_RETRIABLE', 'x', { retriable: true }))).toBe('kafka');
    expect(waitingOnOf(new Error('x'))).toBe('other');
  });
});
