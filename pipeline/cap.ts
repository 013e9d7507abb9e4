/**
 * Capped home timelines (`timeline.maxEntries`): a TimelineStore that, after each write, trims
 * the timelines of a SAMPLE of the users it inserted into: one insert in `trimEvery`, chosen by a
 * hash of user and tweet (so a replay trims the same). Nothing is read per row on the hot path;
 * a trim is one read of at most maxEntries + 1 ids and, only when over, one range delete: on a
 * full timeline each insert costs maxEntries / trimEvery rows read, hence a sparse sample (256).
 *
 * Trims run behind the writes, one read at a time, each user queued once; each read takes up to
 * `group` queued users (one request for all: a request per user cost the node more than the rows
 * of a short timeline). One read in flight keeps up (the 15,600 trims of a 500k fan-out at one
 * insert in 32 were done ~3 s after its last row) and leaves the node to the writes: 4 in flight
 * took ~5% more of a 500k fan-out's rate (docs/benchmarks.md). When too many are queued the next
 * write waits (memory stays bounded, and no trim is dropped; `pending` is how many wait, the
 * worker's fanout_timeline_trims_queued). A trim that fails is logged and counted: the next
 * sampled insert for that user trims again. The slack this leaves is in docs/formats.md,
 * "Capped timelines". `trimEvery` 0 turns trims off: capTimelines then returns
 * the store itself, so the trims-off baseline pays nothing of this wrapper.
 */
import { metrics } from '@opentelemetry/api';
import type { Logger } from '../lib/log.ts';
import type { TimelineEntry, TimelineMutation, TimelineStore } from '../ports/stores.ts';

export interface CapOptions {
  readonly maxEntries: number;
  readonly trimEvery: number;
  /** Trim reads in flight at once (1). */
  readonly concurrency?: number;
  /** Most users one trim read takes (16). */
  readonly group?: number;
  /** Users queued for a trim beyond which a write waits. */
  readonly maxQueued?: number;
  readonly log?: Logger;
}

/** FNV-1a over the tweet id, mixed with the user id: uniform enough to sample 1 in N. */
export function sampleHash(userId: bigint, tweetId: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < tweetId.length; i++) {
    h ^= tweetId.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= Number(BigInt.asUintN(32, userId));
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h ^= Number(BigInt.asUintN(32, userId >> 32n));
  return (h ^ (h >>> 16)) >>> 0;
}

/** Whether this insert trims its user's timeline. */
export const trimsOn = (userId: bigint, tweetId: string, every: number): boolean =>
  every <= 1 || sampleHash(userId, tweetId) % every === 0;

/** The timeline store to write through: `inner` capped, or `inner` itself when trims are off. */
export function capTimelines(inner: TimelineStore, options: CapOptions): TimelineStore {
  return options.trimEvery === 0 ? inner : new CappedTimelines(inner, options);
}

export class CappedTimelines implements TimelineStore {
  readonly #inner: TimelineStore;
  readonly #keep: number;
  readonly #every: number;
  readonly #concurrency: number;
  readonly #group: number;
  readonly #maxQueued: number;
  readonly #log: Logger | undefined;
  /** Users waiting for a trim, in order (a Set: each once). */
  readonly #queued = new Set<bigint>();
  #running = 0;
  #roomWaiters: Array<() => void> = [];
  #idleWaiters: Array<() => void> = [];
  readonly #trims = metrics.getMeter('fanout').createCounter('fanout_timeline_trims', {
    description:
      'Sampled timeline trims, by result: trimmed (over the cap), under (nothing to do), failed',
  });
  /** Trims done, by result (for tests and status). */
  readonly totals = { trimmed: 0, under: 0, failed: 0 };

  constructor(inner: TimelineStore, options: CapOptions) {
    // trimsOn(…, 0) would trim on every insert, the opposite of what 0 means in the config.
    if (!Number.isInteger(options.trimEvery) || options.trimEvery < 1)
      throw new RangeError(
        `CappedTimelines: trimEvery must be a whole number of at least 1, got ${options.trimEvery} (0, trims off: use capTimelines)`,
      );
    this.#inner = inner;
    this.#keep = options.maxEntries;
    this.#every = options.trimEvery;
    this.#concurrency = options.concurrency ?? 1;
    this.#group = options.group ?? 16;
    this.#maxQueued = options.maxQueued ?? 10_000;
    this.#log = options.log;
  }

  async write(mutations: readonly TimelineMutation[]): Promise<void> {
    await this.#inner.write(mutations);
    for (const m of mutations)
      if (m.op === 'insert' && trimsOn(m.userId, m.tweetId, this.#every)) this.#queue(m.userId);
    while (this.#queued.size >= this.#maxQueued)
      await new Promise<void>((resolve) => this.#roomWaiters.push(resolve));
  }

  read(userId: bigint, limit: number): Promise<TimelineEntry[]> {
    return this.#inner.read(userId, limit);
  }

  trim(userIds: readonly bigint[], keep: number): Promise<bigint[]> {
    return this.#inner.trim(userIds, keep);
  }

  /** Users queued for a trim and not started yet. */
  pending(): number {
    return this.#queued.size;
  }

  /** Resolves once no trim is queued or running. */
  idle(): Promise<void> {
    if (this.#running === 0 && this.#queued.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #queue(userId: bigint): void {
    this.#queued.add(userId);
    this.#pump();
  }

  #pump(): void {
    while (this.#running < this.#concurrency && this.#queued.size > 0) {
      const users: bigint[] = [];
      for (const userId of this.#queued) {
        users.push(userId);
        if (users.length === this.#group) break;
      }
      for (const userId of users) this.#queued.delete(userId);
      this.#running++;
      void this.#trimGroup(users).finally(() => {
        this.#running--;
        if (this.#queued.size < this.#maxQueued) for (const w of this.#roomWaiters.splice(0)) w();
        this.#pump();
        if (this.#running === 0 && this.#queued.size === 0)
          for (const w of this.#idleWaiters.splice(0)) w();
      });
    }
  }

  async #trimGroup(users: readonly bigint[]): Promise<void> {
    try {
      const cut = (await this.#inner.trim(users, this.#keep)).length;
      this.#count('trimmed', cut);
      this.#count('under', users.length - cut);
    } catch (err) {
      this.#count('failed', users.length);
      this.#log?.warn('timeline trim failed; the next sampled insert trims again', {
        users: users.length,
        firstUserId: String(users[0]),
        err: (err as Error).message,
      });
    }
  }

  #count(result: keyof CappedTimelines['totals'], users: number): void {
    if (users === 0) return;
    this.totals[result] += users;
    this.#trims.add(users, { 'fanout.trim': result });
  }
}
