import { describe, expect, it } from 'vitest';
import { atRisk, judge, lossWindow, type Seen } from './loss.ts';

const killedAt = 100_000;
const w = lossWindow(killedAt, 2_000);
const seen = (
  tweetId: string,
  op: string,
  startedAt: number,
  at: number,
  retracted = false,
): Seen => ({
  tweetId,
  op,
  startedAt,
  at,
  retracted,
});

describe('the chaos suite loss window', () => {
  it('puts at risk the fan-outs that ran in the window: completed in it, in flight at the kill', () => {
    const risk = atRisk(
      [
        seen('early', 'insert', 90_000, 97_900), // completed before the window
        seen('recent', 'insert', 97_000, 99_700), // completed 0.3 s before the kill
        seen('flight', 'insert', 99_000, 130_000), // in flight at the kill
        seen('after', 'insert', 102_000, 103_000), // started after the kill
        seen('del', 'delete', 99_500, 99_600),
        seen('back', 'insert', 99_000, 99_900, true), // took its rows back
      ],
      w,
    );
    expect([...risk.inserts].sort()).toEqual(['back', 'flight', 'recent']);
    expect([...risk.tombstones].sort()).toEqual(['back', 'del']);
  });

  it('accepts only the direction a loss can take, of those tweets only', () => {
    const risk = { inserts: new Set(['a']), tombstones: new Set(['d']) };
    const v = judge(
      [
        { user: 1n, missing: ['a'], extra: ['d'] },
        { user: 2n, missing: ['d', 'x'], extra: ['a'] },
        { user: 3n, missing: [], extra: ['o'] },
      ],
      risk,
      new Set(['o']),
    );
    expect(v.problems).toEqual(['user 2: missing d,x; extra a']);
    expect(v.accepted).toEqual(
      new Map([
        ['a', { missing: 1, extra: 0 }],
        ['d', { missing: 0, extra: 1 }],
        ['o', { missing: 0, extra: 1 }],
      ]),
    );
  });
});
