/**
 * Records the Kafka source took from librdkafka and has not handed over yet, in the order taken.
 *
 * A record is handed over only once its partition is owned (assigned and restored). One of a
 * partition still being restored is KEPT until then: librdkafka can deliver a record of a newly
 * assigned partition even though the source paused it in the same turn as the assignment (a
 * fetch that started before the pause was served; seen on librdkafka 2.15 under load), and its
 * position has then moved past that record, so dropping it would skip it for good (a later
 * offset committed past it: the tweet never fanned out). Records of a partition given up are
 * dropped: its next owner reads them again from the committed offset.
 */
export class HeldRecords<M extends { readonly partition: number }> {
  #records: M[] = [];

  get size(): number {
    return this.#records.length;
  }

  add(records: readonly M[]): void {
    for (const r of records) this.#records.push(r);
  }

  /** Removes and returns the first record whose partition is owned, if any. */
  next(owned: (partition: number) => boolean): M | undefined {
    const i = this.#records.findIndex((r) => owned(r.partition));
    return i < 0 ? undefined : this.#records.splice(i, 1)[0];
  }

  /** Whether a record of `partition` is waiting. */
  holds(partition: number): boolean {
    return this.#records.some((r) => r.partition === partition);
  }

  /** Whether a record of an owned partition is waiting. */
  hasReady(owned: (partition: number) => boolean): boolean {
    return this.#records.some((r) => owned(r.partition));
  }

  /** Drops every record of these partitions (given up); returns how many. */
  drop(partitions: Iterable<number>): number {
    const gone = new Set(partitions);
    return this.retain((p) => !gone.has(p));
  }

  /** Keeps only the records of partitions `keep` accepts; returns how many were dropped. */
  retain(keep: (partition: number) => boolean): number {
    const before = this.#records.length;
    this.#records = this.#records.filter((r) => keep(r.partition));
    return before - this.#records.length;
  }
}
