/**
 * Peak memory of a bench process per phase, sampled every 50 ms: RSS, and what V8 and Node account
 * for inside it (JS heap, external memory, ArrayBuffers). RSS growing without the others is native
 * memory (librdkafka's queues, malloc arenas); the heap growing is JS objects.
 */
import { getHeapSpaceStatistics } from 'node:v8';

const SAMPLE_MS = 50;
const MiB = 1024 * 1024;

/** The V8 spaces whose committed size is sampled (young generation, old generation, big objects). */
const SPACES = ['new_space', 'old_space', 'large_object_space'] as const;
type Peaks = Record<
  'rss' | 'heapTotal' | 'heapUsed' | 'external' | 'arrayBuffers' | (typeof SPACES)[number],
  number
>;

export class MemoryPeaks {
  readonly #phases = new Map<string, Peaks>();
  #current: Peaks | undefined;
  readonly #timer = setInterval(() => this.#sample(), SAMPLE_MS).unref();

  /** Starts a new phase (its peaks counted from now). */
  phase(name: string): void {
    this.#current = Object.fromEntries(
      ['rss', 'heapTotal', 'heapUsed', 'external', 'arrayBuffers', ...SPACES].map((k) => [k, 0]),
    ) as Peaks;
    this.#phases.set(name, this.#current);
    this.#sample();
  }

  /** Stops sampling; the peaks per phase, in MiB. */
  stop(): Record<string, Peaks> {
    this.#sample();
    clearInterval(this.#timer);
    const out: Record<string, Peaks> = {};
    for (const [name, p] of this.#phases)
      out[name] = Object.fromEntries(
        Object.entries(p).map(([k, v]) => [k, Math.round(v / MiB)]),
      ) as Peaks;
    return out;
  }

  #sample(): void {
    const p = this.#current;
    if (!p) return;
    const m = process.memoryUsage();
    for (const k of ['rss', 'heapTotal', 'heapUsed', 'external', 'arrayBuffers'] as const)
      p[k] = Math.max(p[k], m[k]);
    for (const space of getHeapSpaceStatistics())
      if ((SPACES as readonly string[]).includes(space.space_name)) {
        const k = space.space_name as (typeof SPACES)[number];
        p[k] = Math.max(p[k], space.space_size);
      }
  }
}
