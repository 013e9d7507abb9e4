/**
 * An in-order completion frontier: items are added in order, finish in any order, and only the
 * finished prefix may be taken out. The commit tracker uses one per source partition (a Kafka
 * offset may be committed only past records that are all done, whatever order they finished in)
 * and each tweet uses one over its write segments (its cursor may only move past follower rows
 * that are all written, whatever order the concurrent batches finished in).
 */

/** A slot in a frontier: mark it done with {@link InOrderFrontier.done}. */
export interface Slot<T> {
  readonly value: T;
  done: boolean;
}

export class InOrderFrontier<T> {
  #items: Array<Slot<T>> = [];
  #head = 0;

  /** Appends `value` (after every item added before it). */
  add(value: T): Slot<T> {
    const slot = { value, done: false };
    this.#items.push(slot);
    return slot;
  }

  /** Marks a slot done; it leaves the frontier once everything before it is done too. */
  done(slot: Slot<T>): void {
    slot.done = true;
  }

  /** The done prefix, oldest first, without removing it. */
  donePrefix(): T[] {
    const out: T[] = [];
    for (let i = this.#head; i < this.#items.length && this.#items[i]!.done; i++)
      out.push(this.#items[i]!.value);
    return out;
  }

  /** Removes the first `count` items, which must be a done prefix (as returned by {@link donePrefix}). */
  shift(count: number): void {
    for (let i = 0; i < count; i++) {
      const slot = this.#items[this.#head];
      if (slot === undefined || !slot.done)
        throw new Error(`InOrderFrontier.shift(${count}): item ${i} is not done`);
      this.#head++;
    }
    // Drop the taken prefix once it is half the array (each item is copied at most once in
    // amortization). A task's frontier takes its ~1,000 segments in a few checkpoints: waiting
    // for a prefix of 1,024 first kept each of them for the task's life (docs/benchmarks.md).
    if (this.#head >= 32 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Removes and returns the done prefix. */
  takeDone(): T[] {
    const prefix = this.donePrefix();
    this.shift(prefix.length);
    return prefix;
  }

  /** Items still in the frontier (done or not), oldest first. */
  *values(): IterableIterator<T> {
    for (let i = this.#head; i < this.#items.length; i++) yield this.#items[i]!.value;
  }

  get size(): number {
    return this.#items.length - this.#head;
  }
}
