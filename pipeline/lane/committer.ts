/**
 * Commits the ledger through the transactional sink, one transaction at a time. Requests that
 * arrive while a transaction runs are coalesced into one follow-up transaction (which plans from
 * the state at that time, so it covers all of them): transactions never overlap, and a burst of
 * finished tweets costs one commit, not one each. A linger before each lets a trickle of them
 * share one too.
 */
import {
  defer,
  filter,
  firstValueFrom,
  from,
  Observable,
  type ObservableInput,
  type OperatorFunction,
  Subject,
  type Subscription,
} from 'rxjs';
import { setTimeout as sleep } from 'node:timers/promises';
import { FanoutError } from '../../lib/errors.ts';
import type { TransactionalSink } from '../../ports/streams.ts';
import { retry, type RetryPolicy } from '../../lib/retry.ts';
import { type Context, ROOT_CONTEXT, SpanKind, type Span } from '@opentelemetry/api';
import { traced } from '../../lib/telemetry.ts';
import type { CommitLedger, CommitPlan } from './ledger.ts';

/**
 * Like `exhaustMap`, but a value that arrives while busy is not dropped: the latest one runs
 * next. Emits each run's results, in order; never runs two at once.
 */
export function coalesceLatest<T, R>(
  project: (value: T) => ObservableInput<R>,
): OperatorFunction<T, R> {
  return (source) =>
    new Observable<R>((subscriber) => {
      let running = false;
      let pending: { value: T } | undefined;
      let sourceDone = false;
      let inner: Subscription | undefined;
      const run = (value: T): void => {
        running = true;
        inner = from(project(value)).subscribe({
          next: (r) => subscriber.next(r),
          error: (err: unknown) => subscriber.error(err),
          complete: () => {
            running = false;
            inner = undefined;
            if (pending) {
              const next = pending.value;
              pending = undefined;
              run(next);
            } else if (sourceDone) {
              subscriber.complete();
            }
          },
        });
      };
      const outer = source.subscribe({
        next: (value) => {
          if (running) pending = { value };
          else run(value);
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => {
          sourceDone = true;
          if (!running) subscriber.complete();
        },
      });
      return () => {
        outer.unsubscribe();
        inner?.unsubscribe();
      };
    });
}

/** A transaction that committed: its span (to link to) and when it ran. */
export interface CommittedTx {
  readonly span: Span;
  readonly startMs: number;
  readonly endMs: number;
}

export interface CommitterOptions {
  readonly ledger: CommitLedger;
  readonly sink: TransactionalSink;
  readonly retry: RetryPolicy;
  /** Aborted on a hard stop: retrying a commit then is pointless. */
  readonly signal?: AbortSignal;
  /** After each committed transaction. */
  /** After each committed transaction, with its span and when it ran (ms since the epoch). */
  readonly onCommit?: (plan: CommitPlan, tx: CommittedTx) => void;
  readonly onRetry?: (err: unknown) => void;
  /** Where a transaction's span hangs (default: a trace of its own). */
  readonly spanParent?: (plan: CommitPlan) => Context | undefined;
  /**
   * How long a transaction waits, once asked for, before it plans (default 0): what finishes
   * meanwhile rides along. A transaction costs the broker far more than a record in it, and small
   * tweets finish a few at a time.
   */
  readonly lingerMs?: number;
}

/** Serialises the worker's transactions and lets callers wait for one that covers their state. */
export class Committer {
  readonly #options: CommitterOptions;
  readonly #requests = new Subject<number>();
  /** Sequence number of the latest request covered by a committed transaction. */
  readonly #covered = new Subject<number>();
  #seq = 0;
  #coveredSeq = 0;
  #failure: unknown;
  readonly #run: Subscription;

  constructor(options: CommitterOptions) {
    this.#options = options;
    this.#run = this.#requests
      .pipe(coalesceLatest((seq) => defer(() => this.#commit(seq))))
      .subscribe({
        next: (seq) => {
          this.#coveredSeq = seq;
          this.#covered.next(seq);
        },
        error: (err: unknown) => {
          this.#failure = err;
          this.#covered.error(err);
        },
      });
  }

  /** Asks for a transaction soon (state changed: a tweet finished, a checkpoint is due). */
  request(): number {
    if (this.#failure !== undefined) return this.#seq;
    this.#requests.next(++this.#seq);
    return this.#seq;
  }

  /** Resolves once a transaction planned after this call committed; rejects if commits failed. */
  async flush(): Promise<void> {
    if (this.#failure !== undefined) throw this.#failure as Error;
    const seq = this.request();
    if (this.#coveredSeq >= seq) return;
    await firstValueFrom(this.#covered.pipe(filter((s) => s >= seq)));
  }

  /** Errors (once) when a transaction failed for good. */
  failures(): Observable<never> {
    return new Observable<never>((subscriber) =>
      this.#covered.subscribe({ error: (err: unknown) => subscriber.error(err) }),
    );
  }

  /** Stops committing; waiters and later flushes reject. */
  close(): void {
    this.#failure ??= new FanoutError('COMMITTER_CLOSED', 'the committer is closed', {
      retriable: false,
    });
    this.#run.unsubscribe();
    this.#requests.complete();
    this.#covered.error(this.#failure);
  }

  async #commit(seq: number): Promise<number> {
    const { ledger, sink, signal, onCommit, onRetry, lingerMs = 0 } = this.#options;
    if (lingerMs > 0) await sleep(lingerMs);
    await retry(
      this.#options.retry,
      async () => {
        const plan = ledger.plan();
        if (plan.empty) return;
        const startMs = Date.now();
        const span = await traced(
          'fanout.commit',
          SpanKind.PRODUCER,
          {
            'fanout.commit.records': plan.tx.records.length,
            'fanout.commit.partitions': plan.tx.offsets.length,
          },
          async (span) => {
            await sink.commit(plan.tx);
            return span;
          },
          { parent: this.#options.spanParent?.(plan) ?? ROOT_CONTEXT },
        );
        plan.apply();
        onCommit?.(plan, { span, startMs, endMs: Date.now() });
      },
      {
        what: 'commit transaction',
        ...(signal ? { signal } : {}),
        ...(onRetry ? { onRetry } : {}),
      },
    );
    return seq;
  }
}
