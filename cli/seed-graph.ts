/**
 * The follower graph `fanout seed` writes: one celebrity author with exactly `followers`
 * followers, plus a long tail of `tailAuthors` ordinary authors whose follower counts fall off
 * like a power law (Zipf, exponent 1.1), as real follow graphs do. Deterministic for a given seed,
 * so runs and tests know exactly which ids follow whom.
 */

export interface SeedPlan {
  /** The celebrity author and its follower ids first. */
  readonly authors: ReadonlyArray<{
    readonly authorId: bigint;
    readonly followers: number;
    readonly ids: () => Iterable<bigint>;
  }>;
  readonly totalRows: number;
}

export interface SeedOptions {
  author: bigint;
  followers: number;
  /** First follower id of the celebrity; its followers are firstFollower .. firstFollower+followers-1. */
  firstFollower: bigint;
  tailAuthors: number;
  /** Followers of the most followed tail author. */
  tailMax: number;
  seed: number;
}

/** A small fast PRNG (mulberry32): reproducible sequences from a 32-bit seed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Follower count of the k-th (1-based) tail author. */
export const tailCount = (k: number, tailMax: number): number =>
  Math.max(1, Math.floor(tailMax / k ** 1.1));

export function seedPlan(o: SeedOptions): SeedPlan {
  const authors: Array<SeedPlan['authors'][number]> = [
    {
      authorId: o.author,
      followers: o.followers,
      ids: function* () {
        for (let i = 0n; i < BigInt(o.followers); i++) yield o.firstFollower + i;
      },
    },
  ];
  // Tail authors take the ids right after the celebrity, and follow/are followed among the
  // celebrity's follower ids (distinct per author: a set of draws without repeats).
  const population = Math.max(o.followers, 1);
  for (let k = 1; k <= o.tailAuthors; k++) {
    const n = Math.min(tailCount(k, o.tailMax), population);
    const authorId = o.author + BigInt(k);
    const seed = o.seed * 1_000_003 + k;
    authors.push({
      authorId,
      followers: n,
      ids: function* () {
        const rnd = mulberry32(seed);
        const picked = new Set<number>();
        while (picked.size < n) picked.add(Math.floor(rnd() * population));
        for (const i of [...picked].sort((a, b) => a - b)) yield o.firstFollower + BigInt(i);
      },
    });
  }
  return { authors, totalRows: authors.reduce((s, a) => s + a.followers, 0) };
}

/**
 * Each author's follower ids in chunks of at most `size`, one author's at a time (a chunk is one
 * `FollowerStore.add`: a single partition), made as they are taken.
 */
export function* followChunks(
  authors: Iterable<{ readonly authorId: bigint; readonly ids: () => Iterable<bigint> }>,
  size: number,
): Generator<{ authorId: bigint; ids: bigint[] }> {
  for (const a of authors) {
    let ids: bigint[] = [];
    for (const id of a.ids()) {
      ids.push(id);
      if (ids.length === size) {
        yield { authorId: a.authorId, ids };
        ids = [];
      }
    }
    if (ids.length > 0) yield { authorId: a.authorId, ids };
  }
}
