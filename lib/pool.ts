/**
 * Runs `each` over `items` with at most `concurrency` calls in flight: a fixed pool of workers
 * pulls from one shared iterator, so memory stays at `concurrency` items however many there are
 * (a generator's items are made only as they are taken).
 */
export async function eachInPool<T>(
  items: Iterable<T>,
  concurrency: number,
  each: (item: T) => Promise<void>,
): Promise<void> {
  const source = items[Symbol.iterator]();
  const worker = async (): Promise<void> => {
    for (let next = source.next(); !next.done; next = source.next()) await each(next.value);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}
