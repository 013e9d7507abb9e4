/**
 * Bounds on work in flight: the two places backpressure is applied. RxJS has none of its own
 * (`mergeMap` queues whatever it cannot run yet in an unbounded array), so the fan-out bounds
 * what enters it instead: {@link AdmissionGate} at the Kafka source (tweets), {@link Credit} at
 * the follower-page reader (timeline rows).
 */

/**
 * Who asks for room: a SMALL job (a tweet delivered whole) is served before a BULK one (a task of
 * a split celebrity fan-out), so that one big fan-out does not hold up everybody's small tweets.
 */
export type Priority = 'small' | 'bulk';

/** The most each class may hold of a {@link Credit} (both default to all of it). */
export interface CreditShares {
  /** Most a small job's rows may hold: the rest is bulk's, so a celebrity always progresses. */
  readonly small?: number;
  /** Most bulk rows may hold: the rest is reserved for small jobs. */
  readonly bulk?: number;
}

interface Waiter {
  readonly min: number;
  readonly max: number;
  readonly resolve: (n: number) => void;
}

/**
 * A counting semaphore over rows read but not yet written, in two classes. A page is read only
 * after its rows were granted; rows are given back when their batch is written. Waiters of a
 * class are served in order, small ones first; each class holds at most its share. A bulk grant
 * never takes what the small head waiter needs once small rows drain, and small rows never take
 * bulk's part (`capacity - shares.small`), so neither class waits forever while the other keeps
 * asking: a bulk job asking for at most that part is served as soon as bulk holds nothing.
 */
export class Credit {
  readonly capacity: number;
  #available: number;
  readonly #cap: Record<Priority, number>;
  readonly #held: Record<Priority, number> = { small: 0, bulk: 0 };
  readonly #waiters: Record<Priority, Waiter[]> = { small: [], bulk: [] };

  constructor(capacity: number, shares: CreditShares = {}) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`credit capacity must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
    this.#available = capacity;
    this.#cap = { small: shares.small ?? capacity, bulk: shares.bulk ?? capacity };
    for (const p of ['small', 'bulk'] as const) {
      const cap = this.#cap[p];
      if (!Number.isInteger(cap) || cap < 1 || cap > capacity)
        throw new RangeError(`the ${p} share must be a whole number in 1..${capacity}, got ${cap}`);
    }
  }

  get available(): number {
    return this.#available;
  }

  /** Granted and not yet released. */
  get outstanding(): number {
    return this.capacity - this.#available;
  }

  /** Granted to `priority` and not yet released. */
  held(priority: Priority): number {
    return this.#held[priority];
  }

  /** The most `priority` may ever be granted at once (a larger minimum is capped at it). */
  limit(priority: Priority): number {
    return this.#cap[priority];
  }

  /**
   * Waits until at least `min` are free for `priority` (and no earlier waiter of its class is
   * still waiting), then takes up to `max`. Resolves with the number granted, or 0 when `signal`
   * aborts first.
   */
  acquire(
    min: number,
    max: number,
    signal?: AbortSignal,
    priority: Priority = 'small',
  ): Promise<number> {
    const lo = Math.max(1, Math.min(min, this.#cap[priority]));
    const hi = Math.max(lo, max);
    if (signal?.aborted) return Promise.resolve(0);
    const queue = this.#waiters[priority];
    if (queue.length === 0 && this.#room(priority) >= lo)
      return Promise.resolve(this.#take(priority, hi));
    return new Promise<number>((resolve) => {
      const waiter = { min: lo, max: hi, resolve };
      queue.push(waiter);
      signal?.addEventListener(
        'abort',
        () => {
          const i = queue.indexOf(waiter);
          if (i >= 0) {
            queue.splice(i, 1);
            resolve(0);
            this.#drain(); // the heads may have changed
          }
        },
        { once: true },
      );
    });
  }

  /** Gives back `n` units granted to `priority`. */
  release(n: number, priority: Priority = 'small'): void {
    if (n <= 0) return;
    if (n > this.#held[priority])
      throw new RangeError(
        `credit release of ${n} exceeds the ${this.#held[priority]} outstanding (${priority})`,
      );
    this.#held[priority] -= n;
    this.#available += n;
    this.#drain();
  }

  /**
   * What `priority` may take now: what is free, within its share; bulk also leaves what the small
   * head waiter needs once small rows are written (else a stream of tasks could starve it).
   */
  #room(priority: Priority): number {
    let cap = this.#cap[priority];
    const small = this.#waiters.small[0];
    if (priority === 'bulk' && small) cap = Math.min(cap, this.capacity - small.min);
    return Math.min(this.#available, cap - this.#held[priority]);
  }

  #take(priority: Priority, max: number): number {
    const n = Math.min(max, this.#room(priority));
    this.#available -= n;
    this.#held[priority] += n;
    return n;
  }

  #drain(): void {
    for (;;) {
      const p = (['small', 'bulk'] as const).find((c) => {
        const head = this.#waiters[c][0];
        return head !== undefined && this.#room(c) >= head.min;
      });
      if (p === undefined) return;
      const w = this.#waiters[p].shift()!;
      w.resolve(this.#take(p, w.max));
    }
  }
}

/**
 * The bound on tweets in flight per worker, with hysteresis: once full it reports no room until
 * half the slots are free again. Each time the Kafka source resumes, librdkafka refetches what it
 * dropped on pause, so resuming on every single free slot would trade one fetch per tweet for
 * nothing.
 */
export class AdmissionGate {
  readonly capacity: number;
  readonly #reopenAt: number;
  #inFlight = 0;
  #closed = false;
  readonly #onReopen: () => void;

  constructor(capacity: number, onReopen: () => void = () => undefined) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`gate capacity must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
    this.#reopenAt = Math.floor(capacity / 2);
    this.#onReopen = onReopen;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** How many more may enter now (0 while closed). */
  room(): number {
    return this.#closed ? 0 : Math.max(0, this.capacity - this.#inFlight);
  }

  /** One more in flight (admitted even past capacity: the caller already has it). */
  admit(): void {
    this.#inFlight++;
    if (this.#inFlight >= this.capacity) this.#closed = true;
  }

  /** One fewer in flight; reopens (and says so) once at most half the capacity is in use. */
  release(): void {
    if (this.#inFlight === 0) throw new RangeError('gate release without a matching admit');
    this.#inFlight--;
    if (this.#closed && this.#inFlight <= this.#reopenAt) {
      this.#closed = false;
      this.#onReopen();
    }
  }
}
