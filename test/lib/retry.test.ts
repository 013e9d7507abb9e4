import { describe, expect, it } from 'vitest';
import { FanoutError } from '../../lib/errors.ts';
import { backoffDelay, retry } from '../../lib/retry.ts';

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
