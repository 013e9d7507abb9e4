/**
 * The fan-out bench's summary: per core layout, the medians of (c), (d), (e) (and (t)), their
 * ratios, each round's back-to-back pair d/c, and where the CPU went during each timed part
 * (client, Cassandra, Kafka, from /proc): the figure that says which process limits a ratio.
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
  };
}

/** Where each median run's CPU went during its timed part, per second of wall time. */
export function cpuRows(l: LayoutRuns): Record<string, string | number | undefined>[] {
  const runs: [string, Row[]][] = [
    ['(c)', l.ceilings],
    ['(e)', l.joins],
    ['(d)', l.pipelines],
    ['(t)', l.traced],
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
