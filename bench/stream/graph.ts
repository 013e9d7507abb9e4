/**
 * The follower graphs of the stream bench, deterministic for a seed: groups of authors with a
 * fixed follower count (disjoint follower ids, as the raw-ceiling comparison wants), authors whose
 * counts follow a power law (Pareto, capped), and one celebrity. Ids of each graph sit in their
 * own range, so one keyspace holds them all.
 */
import { followChunks, mulberry32 } from '../../cli/seed-graph.ts';
import { eachInPool } from '../../lib/pool.ts';
import type { FollowerStore } from '../../ports/stores.ts';

export interface Author {
  readonly authorId: bigint;
  readonly followers: number;
  /** Follower ids, ascending. */
  readonly ids: () => Iterable<bigint>;
}

/** `count` authors from `firstAuthor`, each followed by its own `followers` ids from `firstFollower`. */
export function fixedAuthors(
  firstAuthor: bigint,
  count: number,
  followers: number,
  firstFollower: bigint,
): Author[] {
  return Array.from({ length: count }, (_, i) => ({
    authorId: firstAuthor + BigInt(i),
    followers,
    ids: function* () {
      const base = firstFollower + BigInt(i * followers);
      for (let k = 0n; k < BigInt(followers); k++) yield base + k;
    },
  }));
}

export interface PowerLawOptions {
  readonly firstAuthor: bigint;
  readonly authors: number;
  /** Fewest and most followers of an author. */
  readonly min: number;
  readonly max: number;
  /** Pareto shape: P(n > x) = (min / x)^alpha. */
  readonly alpha: number;
  /** Followers are drawn from `population` ids starting at `firstFollower`. */
  readonly population: number;
  readonly firstFollower: bigint;
  readonly seed: number;
}

/** Authors whose follower counts fall off like a power law, as real follow graphs do. */
export function powerLawAuthors(o: PowerLawOptions): Author[] {
  const rnd = mulberry32(o.seed);
  return Array.from({ length: o.authors }, (_, i) => {
    const n = Math.min(o.max, o.population, Math.floor(o.min / (1 - rnd()) ** (1 / o.alpha)));
    const seed = o.seed * 1_000_003 + i;
    return {
      authorId: o.firstAuthor + BigInt(i),
      followers: n,
      ids: function* () {
        const pick = mulberry32(seed);
        const picked = new Set<number>();
        while (picked.size < n) picked.add(Math.floor(pick() * o.population));
        for (const k of [...picked].sort((a, b) => a - b)) yield o.firstFollower + BigInt(k);
      },
    };
  });
}

/** Writes every author's follows, `concurrency` chunks of at most 1,000 ids in flight. */
export async function seedAuthors(
  store: FollowerStore,
  authors: readonly Author[],
  concurrency = 16,
): Promise<number> {
  let rows = 0;
  await eachInPool(followChunks(authors, 1_000), concurrency, async (chunk) => {
    await store.add(chunk.authorId, chunk.ids);
    rows += chunk.ids.length;
  });
  return rows;
}
