/**
 * Reads of an author's latest tweet ids, shared by the follows and unfollows that ask at once: a
 * burst of follows of one author (an application importing a graph) costs a read per read time,
 * not one per follow. A caller is only ever given a read that STARTED after it asked: the read
 * then sees every tweet recorded before the change it handles was applied (which is what makes a
 * follow during that author's fan-out converge: ./steps.ts). So per author: at most one read in
 * flight, and one queued that every later caller joins.
 */
interface Queued {
  readonly promise: Promise<string[]>;
  readonly resolve: (ids: string[]) => void;
  readonly reject: (err: unknown) => void;
}

export class RecentTweets {
  readonly #read: (authorId: bigint) => Promise<string[]>;
  readonly #authors = new Map<bigint, { running: boolean; queued: Queued | null }>();
  /** Reads started (for tests and metrics). */
  reads = 0;

  constructor(read: (authorId: bigint) => Promise<string[]>) {
    this.#read = read;
  }

  /** The author's latest tweet ids, from a read started after this call. */
  get(authorId: bigint): Promise<string[]> {
    let a = this.#authors.get(authorId);
    if (!a) this.#authors.set(authorId, (a = { running: false, queued: null }));
    if (a.queued) return a.queued.promise;
    let resolve!: Queued['resolve'];
    let reject!: Queued['reject'];
    const promise = new Promise<string[]>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    a.queued = { promise, resolve, reject };
    if (!a.running) this.#launch(authorId);
    return promise;
  }

  /** Authors with a read in flight or queued. */
  get size(): number {
    return this.#authors.size;
  }

  #launch(authorId: bigint): void {
    const a = this.#authors.get(authorId)!;
    const q = a.queued!;
    a.queued = null;
    a.running = true;
    this.reads++;
    this.#read(authorId)
      .then(q.resolve, q.reject)
      .finally(() => {
        a.running = false;
        if (a.queued) this.#launch(authorId);
        else this.#authors.delete(authorId);
      });
  }
}
