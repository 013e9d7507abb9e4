import { setTimeout as sleep } from 'node:timers/promises';
import { FanoutError } from './errors.ts';

/** How to retry: attempts in all, and the bounds of the jittered exponential backoff. */
export interface RetryPolicy {
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export interface RetryOptions {
  /** What is being done, for the final error ("write batch failed 5 times"). */
  what: string;
  /** Stops retrying (and waiting) when the app is closing. */
  signal?: AbortSignal;
  /** Which errors are worth another attempt; default: `err.retriable === true`. */
  isRetriable?: (err: unknown) => boolean;
  /** Called before each wait, e.g. to count retries. */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  /** Random source in [0, 1), for tests. */
  random?: () => number;
}

/** Full-jitter exponential backoff delay before attempt `attempt + 1` (attempt counts from 1). */
export function backoffDelay(
  policy: RetryPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.floor(random() * ceiling);
}

/**
 * Runs `fn` until it succeeds, a non-retriable error occurs (rethrown as is: programmer and
 * permanent errors are never retried), the attempts run out, or `signal` aborts. Gives up with
 * one error that lists every attempt's message.
 */
export async function retry<T>(
  policy: RetryPolicy,
  fn: (attempt: number) => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const isRetriable =
    options.isRetriable ?? ((err: unknown) => (err as { retriable?: unknown }).retriable === true);
  const failures: string[] = [];
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (!isRetriable(err)) throw err;
      failures.push(`#${attempt}: ${(err as Error).message}`);
      const giveUp = (why: string): FanoutError =>
        new FanoutError(
          'RETRIES_EXHAUSTED',
          `${options.what} failed ${attempt} times${why}: ${failures.join('; ')}`,
          {
            retriable: false,
            cause: err,
          },
        );
      if (attempt >= policy.maxAttempts) throw giveUp('');
      if (options.signal?.aborted) throw giveUp(' (stopped: closing)');
      const delay = backoffDelay(policy, attempt, options.random);
      options.onRetry?.(err, attempt, delay);
      await sleep(delay, undefined, options.signal ? { signal: options.signal } : undefined).catch(
        () => undefined,
      );
      if (options.signal?.aborted) throw giveUp(' (stopped: closing)');
    }
  }
}
