/**
 * Bounds on work in flight: the two places backpressure is applied. RxJS has none of its own
 * (`mergeMap` queues whatever it cannot run yet in an unbounded array), so the fan-out bounds
 * what enters it instead: {@link AdmissionGate} at the Kafka source (tweets), {@link Credit} at
 * the follower-page reader (timeline rows).
 */

/**
 * A counting semaphore over rows read but not yet written. A page is read only after its rows
 * were granted; rows are given back when their batch is written. Waiters are served in order.
 */
export class Credit {
  readonly capacity: number;
  #available: number;
  readonly #waiters: Array<{ min: number; max: number; resolve: (n: number) => void }> = [];

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`credit capacity must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
    this.#available = capacity;
  }

  get available(): number {
    return this.#available;
  }

  /** Granted and not yet released. */
  get outstanding(): number {
    return this.capacity - this.#available;
  }

  /**
   * Waits until at least `min` are free (and no earlier waiter is still waiting), then takes up to
   * `max`. Resolves with the number granted, or 0 when `signal` aborts first.
   */
  acquire(min: number, max: number, signal?: AbortSignal): Promise<number> {
    const lo = Math.max(1, Math.min(min, this.capacity));
    const hi = Math.max(lo, max);
    if (signal?.aborted) return Promise.resolve(0);
    if (this.#waiters.length === 0 && this.#available >= lo) return Promise.resolve(this.#take(hi));
    return new Promise<number>((resolve) => {
      const waiter = { min: lo, max: hi, resolve };
      this.#waiters.push(waiter);
      signal?.addEventListener(
        'abort',
        () => {
          const i = this.#waiters.indexOf(waiter);
          if (i >= 0) {
            this.#waiters.splice(i, 1);
            resolve(0);
            this.#drain(); // the head may have changed
          }
        },
        { once: true },
      );
    });
  }

  /** Gives back `n` granted units. */
  release(n: number): void {
    if (n <= 0) return;
    if (n > this.outstanding)
      throw new RangeError(`credit release of ${n} exceeds the ${this.outstanding} outstanding`);
    this.#available += n;
    this.#drain();
  }

  #take(max: number): number {
    const n = Math.min(max, this.#available);
    this.#available -= n;
    return n;
  }

  #drain(): void {
    while (this.#waiters.length > 0 && this.#available >= this.#waiters[0]!.min) {
      const w = this.#waiters.shift()!;
      w.resolve(this.#take(w.max));
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
