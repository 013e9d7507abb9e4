import { describe, expect, it } from 'vitest';
import { benchArgs } from '../../bench/fanout-args.ts';
import { layoutRatios, medianRows, trimCostLine, type LayoutRuns } from '../../bench/report.ts';
import type { Row } from '../../bench/runner.ts';

const row = (approach: string, rowsPerSecond: number): Row => ({
  approach,
  rows: 20_000,
  seconds: 20_000 / rowsPerSecond,
  errors: 0,
  maxRssMiB: 200,
  rowsPerSecond,
  note: '',
});

const runs = (untrimmed: number[]): LayoutRuns => ({
  layout: 'shared',
  description: 'every process on every core',
  ceilingNote: 'c',
  joinNote: 'e',
  ceilings: [row('c', 10_000), row('c', 10_000), row('c', 10_000)],
  joins: [row('e', 9_000), row('e', 9_000), row('e', 9_000)],
  pipelines: [row('d', 9_000), row('d', 8_000), row('d', 9_900)],
  traced: [],
  untrimmed: untrimmed.map((r) => row('d off', r)),
});

describe('fan-out bench report: the trims cost (--trim-cost)', () => {
  it('puts on/off beside the other ratios: medians, and each round pair run back to back', () => {
    const l = runs([10_000, 8_000, 10_000]);
    const ratios = layoutRatios(l);
    // Medians: (d) 9,000, trims off 10,000.
    expect(ratios['trims on/off']).toBe(0.9);
    expect(ratios['pairs on/off']).toBe('0.9 1 0.99');
    expect(ratios['median of pairs on/off']).toBe(0.99);
    expect(trimCostLine(l)).toBe(
      'trim cost, shared: (d) trims on/off 0.9 (medians 9000 / 10000 rows/s), pairs 0.9 1 0.99, median of pairs 0.99; issue #21 asks >= 0.95',
    );
    expect(medianRows(l, true).map((r) => r.approach)).toEqual([
      '(c) ceiling',
      '(d) pipeline',
      '(d) pipeline, trims off',
      '(e) raw join (context)',
    ]);
  });

  it('without trims-off runs: no on/off ratio, no line, no row', () => {
    const l = runs([]);
    expect(layoutRatios(l)).not.toHaveProperty('trims on/off');
    expect(trimCostLine(l)).toBeUndefined();
    expect(medianRows(l, true).map((r) => r.approach)).not.toContain('(d) pipeline, trims off');
  });

  it('--trim-cost is an option of the bench, off by default', () => {
    expect(benchArgs(['--followers', '20000', '--rounds', '1']).trimCost).toBe(false);
    expect(benchArgs(['--trim-cost']).trimCost).toBe(true);
  });
});
