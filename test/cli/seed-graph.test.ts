import { describe, expect, it } from 'vitest';
import { seedPlan, tailCount } from '../../cli/seed-graph.ts';

describe('seedPlan', () => {
  const options = {
    author: 1n,
    followers: 1_000,
    firstFollower: 5_000n,
    tailAuthors: 10,
    tailMax: 300,
    seed: 7,
  };

  it('gives the celebrity exactly the followers asked for, contiguous from firstFollower', () => {
    const [celebrity] = seedPlan(options).authors;
    const ids = [...celebrity!.ids()];
    expect(ids.length).toBe(1_000);
    expect([ids[0], ids.at(-1)]).toEqual([5_000n, 5_999n]);
  });

  it('tail authors follow a power law, distinct ids, reproducible for a seed', () => {
    const plan = seedPlan(options);
    const tail = plan.authors.slice(1);
    expect(tail.map((a) => a.followers)).toEqual(
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((k) => tailCount(k, 300)),
    );
    expect(tail[0]!.followers).toBe(300);
    for (const a of tail) {
      const ids = [...a.ids()];
      expect(new Set(ids).size).toBe(a.followers);
      expect(ids).toEqual([
        ...seedPlan(options)
          .authors.find((b) => b.authorId === a.authorId)!
          .ids(),
      ]);
    }
    expect(plan.totalRows).toBe(1_000 + tail.reduce((s, a) => s + a.followers, 0));
  });
});
