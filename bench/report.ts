/**
 * The fan-out bench's summary: per core layout, the medians of (c), (d), (e) (and of (t) and (d)
 * with trims off), their ratios, each round's back-to-back pairs, and where the CPU went during
 * each timed part (client, Cassandra, Kafka, from /proc): the figure that says which process
 * limits a ratio.
 */
import type { Layout } from './cores.ts';
import { median, medianOf, type Row } from './runner.ts';

/** One layout's runs, interleaved by round. */
export interface LayoutRuns {
  readonly layout: Layout;
  readonly description: string;
  readonly ceilingNote: string;
  readonly joinNote: string;
  readonly ceilings: Row[];
  readonly joins: Row[];
  readonly pipelines: Row[];
  readonly traced: Row[];
  /** (d) with timeline.trimEvery=0 (--trim-cost), each beside the round's (d). */
  readonly untrimmed: Row[];
}

const label = (layout: Layout, approach: string): string =>
  layout === 'shared' ? approach : `${approach} [${layout}]`;

const medianNote = (runs: readonly Row[], note: string): string =>
  runs.length > 1
    ? `${note}; median of ${runs.length}: ${runs.map((r) => r.rowsPerSecond).join(', ')} rows/s`
    : note;

/** The median rows of one layout, labelled. */
export function medianRows(l: LayoutRuns, hasPipeline: boolean): Row[] {
  const out: Row[] = [
    {
      ...median(l.ceilings),
      approach: label(l.layout, '(c) ceiling'),
      note: medianNote(l.ceilings, l.ceilingNote),
    },
  ];
  if (!hasPipeline) return out;
  const dNote = 'CQL insert of the tweet -> last timeline row written';
  out.push({
    ...median(l.pipelines),
    approach: label(l.layout, '(d) pipeline'),
    note: medianNote(l.pipelines, dNote),
  });
  if (l.traced.length > 0)
    out.push({
      ...median(l.traced),
      approach: label(l.layout, '(t) pipeline, traced'),
      note: medianNote(l.traced, 'same as (d), telemetry SDK on at default settings'),
    });
  if (l.untrimmed.length > 0)
    out.push({
      ...median(l.untrimmed),
      approach: label(l.layout, '(d) pipeline, trims off'),
      note: medianNote(l.untrimmed, 'same as (d), timeline.trimEvery=0: no timeline trims'),
    });
  out.push({
    ...median(l.joins),
    approach: label(l.layout, '(e) raw join (context)'),
    note: medianNote(l.joins, l.joinNote),
  });
  return out;
}

/** d/c, d/e, t/d and the pairs of one layout (empty without (d) runs). */
export function layoutRatios(l: LayoutRuns): Record<string, number | string | undefined> {
  if (l.pipelines.length === 0) return {};
  const [c, d, e] = [median(l.ceilings), median(l.pipelines), median(l.joins)];
  const pairs = l.pipelines.map(
    (p, i) => +(p.rowsPerSecond / l.ceilings[i]!.rowsPerSecond).toFixed(2),
  );
  return {
    layout: l.layout,
    'd/c': +(d.rowsPerSecond / c.rowsPerSecond).toFixed(2),
    // Counting only (d)'s writing phase (first row -> last): what its fixed costs hide.
    'd/c writing': d.phases ? +(c.seconds / d.phases.writeSeconds).toFixed(2) : undefined,
    // Context: the pipeline against the same job done by hand without reliability.
    'd/e': +(d.rowsPerSecond / e.rowsPerSecond).toFixed(2),
    'e/c': +(e.rowsPerSecond / c.rowsPerSecond).toFixed(2),
    // Tracing's cost: the pipeline with the telemetry SDK on against off, side by side.
    ...(l.traced.length > 0
      ? { 't/d': +(median(l.traced).rowsPerSecond / d.rowsPerSecond).toFixed(2) }
      : {}),
    // Each round's own pair, run back to back: the paired estimate (a pair shares its minute of load).
    'pairs d/c': pairs.join(' '),
    'median of pairs': medianOf(pairs),
    ...trimRatios(l),
  };
}

/** Per round, (d) (trims on) over the (d) with trims off run right beside it. */
const trimPairs = (l: LayoutRuns): number[] =>
  l.untrimmed.map((off, i) => +(l.pipelines[i]!.rowsPerSecond / off.rowsPerSecond).toFixed(3));

/** The trims' cost (issue #21: on/off at least 0.95): medians' ratio, and the paired estimate. */
function trimRatios(l: LayoutRuns): Record<string, number | string | undefined> {
  if (l.untrimmed.length === 0) return {};
  const pairs = trimPairs(l);
  return {
    'trims on/off': +(
      median(l.pipelines).rowsPerSecond / median(l.untrimmed).rowsPerSecond
    ).toFixed(3),
    'pairs on/off': pairs.join(' '),
    'median of pairs on/off': medianOf(pairs),
  };
}

/** One line on the trims' cost in a layout (undefined without --trim-cost runs). */
export function trimCostLine(l: LayoutRuns): string | undefined {
  if (l.untrimmed.length === 0) return undefined;
  const r = trimRatios(l);
  return (
    `trim cost, ${l.layout}: (d) trims on/off ${r['trims on/off']} (medians ` +
    `${median(l.pipelines).rowsPerSecond} / ${median(l.untrimmed).rowsPerSecond} rows/s), ` +
    `pairs ${r['pairs on/off']}, median of pairs ${r['median of pairs on/off']}; issue #21 asks >= 0.95`
  );
}

/** Where each median run's CPU went during its timed part, per second of wall time. */
export function cpuRows(l: LayoutRuns): Record<string, string | number | undefined>[] {
  const runs: [string, Row[]][] = [
    ['(c)', l.ceilings],
    ['(e)', l.joins],
    ['(d)', l.pipelines],
    ['(t)', l.traced],
    ['(d) trims off', l.untrimmed],
  ];
  return runs
    .filter(([, r]) => r.length > 0)
    .map(([name, r]) => {
      const m = median(r);
      const perSecond = (cpu: number | undefined): number | undefined =>
        cpu === undefined ? undefined : +(cpu / m.seconds).toFixed(2);
      return {
        run: label(l.layout, name),
        seconds: +m.seconds.toFixed(2),
        'client CPU s': m.clientCpuSeconds,
        'Cassandra CPU s': m.timedServiceCpuSeconds?.cassandra,
        'Kafka CPU s': m.timedServiceCpuSeconds?.kafka,
        'client cores': perSecond(m.clientCpuSeconds),
        'Cassandra cores': perSecond(m.timedServiceCpuSeconds?.cassandra),
        'Kafka cores': perSecond(m.timedServiceCpuSeconds?.kafka),
      };
    });
}

/** Prints the table of rows the way the README quotes it. */
export function printRows(rows: readonly Row[]): void {
  console.table(
    rows.map((r) => ({
      approach: r.approach,
      rows: r.rows,
      seconds: +r.seconds.toFixed(2),
      'rows/s': r.rowsPerSecond,
      errors: r.errors,
      'peak RSS MiB': r.maxRssMiB,
      'Cassandra CPU s': r.cassandraCpuSeconds,
      'Kafka CPU s': r.kafkaCpuSeconds,
      'client CPU s': r.clientCpuSeconds,
      note: r.note,
    })),
  );
}

/**
 * Prints the summary of a run (the rows, (d)'s phases, each layout's ratios, the trims' cost, the
 * ratios to (a) and (b), where the CPU went) and returns the ratios for bench-results/fanout.json.
 */
export function printSummary(
  rows: readonly Row[],
  plans: readonly LayoutRuns[],
  options: { readonly hasPipeline: boolean; readonly bigFollowers: number },
): Record<string, unknown> {
  const { hasPipeline, bigFollowers } = options;
  const rate = (prefix: string): number | undefined =>
    rows.find((r) => r.approach.startsWith(prefix))?.rowsPerSecond;
  const shared = plans.find((p) => p.layout === 'shared')!;
  const cRate = median(shared.ceilings).rowsPerSecond;
  const d = hasPipeline ? median(shared.pipelines).rowsPerSecond : undefined;
  const perLayout = plans.map(layoutRatios);
  const ratios = {
    ...Object.fromEntries(perLayout.map((r, i) => [plans[i]!.layout, r])),
    'd/a': d === undefined ? undefined : +(d / rate('(a)')!).toFixed(1),
    // The most d/a can be on this setup: no pipeline outruns the ceiling (c), so d/a <= c/a. The
    // naive loop waits one round trip per row and the ceiling is bounded by the node's cores: on a
    // loopback node c/a is what the two allow here, whatever the pipeline does.
    'c/a': +(cRate / rate('(a)')!).toFixed(1),
    // Every (b) write can fail (the driver's queue overflows): then no finite ratio exists.
    'd/b':
      d === undefined
        ? undefined
        : rate('(b)')! > 0
          ? +(d / rate('(b)')!).toFixed(1)
          : 'unbounded: (b) wrote no row',
    ...(bigFollowers > 0 && hasPipeline
      ? {
          'peak RSS big/small': +(
            rows.find((r) => r.approach === '(d) pipeline, big author')!.maxRssMiB /
            median(shared.pipelines).maxRssMiB
          ).toFixed(2),
        }
      : {}),
  };
  printRows(rows);
  for (const p of plans) {
    const m = p.pipelines.length > 0 ? median(p.pipelines) : undefined;
    if (m?.phases)
      console.log(
        `(d) phases, ${p.layout} (${p.description}): CDC ${m.phases.cdcSeconds.toFixed(2)} s, to first row ${m.phases.startSeconds.toFixed(2)} s, writing ${m.phases.writeSeconds.toFixed(2)} s`,
      );
  }
  if (hasPipeline) console.table(perLayout);
  for (const line of plans.map(trimCostLine)) if (line) console.log(line);
  console.table({
    'd/a': ratios['d/a'],
    'c/a': ratios['c/a'],
    'd/b': ratios['d/b'],
    'peak RSS big/small': ratios['peak RSS big/small'],
  });
  console.log('CPU during each median run\'s timed part (from /proc; "cores" = CPU s per wall s):');
  console.table(plans.flatMap(cpuRows));
  return ratios;
}
