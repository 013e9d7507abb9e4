/**
 * The one retry helper. Retriable failures (a node or broker down, timeouts, overload) are retried
 * for an outage budget of TIME (`retry.outageBudgetMs`, long enough for a node restart), with
 * jittered exponential backoff; `retry.maxAttempts`, when not 0, caps the attempts too (whichever
 * ends first). While it waits it counts each retry by what is waited on (`cassandra`, `kafka`, …)
 * and says so in a rate-limited log line; when the budget is spent it fails loudly, with one
 * error naming the budget and the attempts. Non-retriable errors are rethrown as they are.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { metrics } from '@opentelemetry/api';
import { FanoutError } from './errors.ts';
import { createLogger, type Logger } from './log.ts';

/** How to retry: the bounds of the jittered exponential backoff, the budget and the attempt cap. */
export interface RetryPolicy {
  /** Most attempts in all; 0 = no cap (the outage budget decides). */
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** How long, from the first failure of a streak, failures are retried; absent = no time limit. */
  readonly outageBudgetMs?: number;
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
  /** What the failure waits on, for the metric and the log; default: from the error's code. */
  waitingOn?: (err: unknown) => string;
  /** Where the "waiting for …" lines go; default: a warn-level logger on stderr. */
  log?: Logger;
  /** Random source in [0, 1), for tests. */
  random?: () => number;
  /** Clock, for tests. */
  now?: () => number;
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

/** `cassandra`, `kafka`, `timeout` or `other`: what a retriable error says is down. */
export function waitingOnOf(err: unknown): string {
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code !== 'string') return 'other';
  if (code.startsWith('CASSANDRA')) return 'cassandra';
  if (code.startsWith('KAFKA')) return 'kafka';
  if (code === 'TIMEOUT') return 'timeout';
  return 'other';
}

/** At most one "waiting for X" line per X and logger in this long. */
const LOG_EVERY_MS = 5_000;
const lastLogged = new WeakMap<Logger, Map<string, { at: number; suppressed: number }>>();
let defaultLog: Logger | undefined;
let retriesCounter: ReturnType<ReturnType<typeof metrics.getMeter>['createCounter']> | undefined;

/**
 * Labelled by what is waited on only: `what` names tweets and users ("read the author of <id>"),
 * and the SDK keeps every label set for the life of the process, up to 2,000, after which new
 * ones all land in one overflow series without `fanout_waiting_on`.
 */
function countRetry(waitingOn: string): void {
  retriesCounter ??= metrics.getMeter('fanout').createCounter('fanout_outage_retries', {
    description: 'Retries of a retriable failure, by what is waited on (cassandra, kafka, …)',
  });
  retriesCounter.add(1, { 'fanout.waiting_on': waitingOn });
}

/**
 * One streak of failures of one operation: when to try again, and when the budget is spent.
 * `failed` returns the delay before the next attempt or throws the final error; `succeeded`
 * ends the streak (and says so when the wait was logged).
 */
export class Outage {
  readonly #policy: RetryPolicy;
  readonly #options: RetryOptions;
  readonly #now: () => number;
  #since: number | undefined;
  #attempts = 0;
  #logged = false;
  readonly #failures: string[] = [];

  constructor(policy: RetryPolicy, options: RetryOptions) {
    this.#policy = policy;
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** Failures so far in this streak. */
  get attempts(): number {
    return this.#attempts;
  }

  /** Milliseconds since the streak's first failure (0 when none). */
  get elapsedMs(): number {
    return this.#since === undefined ? 0 : this.#now() - this.#since;
  }

  /** Records a retriable failure: the delay before the next attempt, or throws when spent. */
  failed(err: unknown): number {
    const { signal } = this.#options;
    const now = this.#now();
    this.#since ??= now;
    this.#attempts++;
    const message = (err as Error | undefined)?.message ?? String(err);
    // Minutes of retries must not grow an error without bound: the first few and the last.
    if (this.#failures.length >= 6) this.#failures.splice(3, 1);
    this.#failures.push(`#${this.#attempts}: ${message}`);
    const on = (this.#options.waitingOn ?? waitingOnOf)(err);
    const elapsed = now - this.#since;
    const { maxAttempts, outageBudgetMs } = this.#policy;
    if (signal?.aborted) throw this.#giveUp(err, ' (stopped: closing)');
    if (maxAttempts > 0 && this.#attempts >= maxAttempts) throw this.#giveUp(err, '');
    if (outageBudgetMs !== undefined && elapsed >= outageBudgetMs)
      throw this.#giveUp(
        err,
        ` over ${fmt(elapsed)} waiting for ${on}: retry.outageBudgetMs (${outageBudgetMs}) spent`,
      );
    let delay = backoffDelay(this.#policy, this.#attempts, this.#options.random);
    if (outageBudgetMs !== undefined) delay = Math.min(delay, outageBudgetMs - elapsed);
    countRetry(on);
    this.#logWait(on, message, elapsed);
    this.#options.onRetry?.(err, this.#attempts, delay);
    return delay;
  }

  /** The operation succeeded: the streak is over. */
  succeeded(): void {
    if (this.#logged)
      this.#logger().warn(
        `${this.#options.what}: recovered after ${fmt(this.elapsedMs)} and ${this.#attempts} retries`,
      );
    this.#since = undefined;
    this.#attempts = 0;
    this.#logged = false;
    this.#failures.length = 0;
  }

  /** The error to stop with when the app closes during a wait. */
  closing(err: unknown): FanoutError {
    return this.#giveUp(err, ' (stopped: closing)');
  }

  #logger(): Logger {
    return this.#options.log ?? (defaultLog ??= createLogger('warn', 'fanout.retry'));
  }

  #logWait(on: string, message: string, elapsed: number): void {
    const now = this.#now();
    const log = this.#logger();
    let byWhat = lastLogged.get(log);
    if (!byWhat) {
      byWhat = new Map<string, { at: number; suppressed: number }>();
      lastLogged.set(log, byWhat);
    }
    const last = byWhat.get(on);
    if (last && now - last.at < LOG_EVERY_MS) {
      last.suppressed++;
      return;
    }
    byWhat.set(on, { at: now, suppressed: 0 });
    const budget = this.#policy.outageBudgetMs;
    const left = budget === undefined ? '' : ` of the ${fmt(budget)} outage budget`;
    const more = last?.suppressed ? ` (+${last.suppressed} retries not logged)` : '';
    log.warn(
      `waiting for ${on}: ${this.#options.what} failed ${this.#attempts} times over ${fmt(elapsed)}${left}; retrying: ${message}${more}`,
    );
    this.#logged = true;
  }

  #giveUp(err: unknown, why: string): FanoutError {
    return new FanoutError(
      'RETRIES_EXHAUSTED',
      `${this.#options.what} failed ${this.#attempts} times${why}: ${this.#failures.join('; ')}`,
      { retriable: false, cause: err },
    );
  }
}

function fmt(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}

/**
 * Runs `fn` until it succeeds, a non-retriable error occurs (rethrown as is: programmer and
 * permanent errors are never retried), the budget or the attempts run out, or `signal` aborts.
 * Gives up with one error that lists the attempts' messages.
 */
export async function retry<T>(
  policy: RetryPolicy,
  fn: (attempt: number) => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const isRetriable =
    options.isRetriable ?? ((err: unknown) => (err as { retriable?: unknown }).retriable === true);
  const outage = new Outage(policy, options);
  for (let attempt = 1; ; attempt++) {
    try {
      const value = await fn(attempt);
      outage.succeeded();
      return value;
    } catch (err) {
      if (!isRetriable(err)) throw err;
      const delay = outage.failed(err);
      await sleep(delay, undefined, options.signal ? { signal: options.signal } : undefined).catch(
        () => undefined,
      );
      if (options.signal?.aborted) throw outage.closing(err);
    }
  }
}
