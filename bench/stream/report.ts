/** The stream bench's result and its printed tables (markdown, as docs/benchmarks.md quotes them). */
import { medianOf } from '../runner.ts';
import type { HeadOfLine, SameLoadRow, StepRow } from './phases.ts';

/** A measurement of one round (from 1): rounds repeat the same-load pairs and head-of-line runs. */
export type InRound<T> = T & { readonly round: number };

export interface StreamReport {
  /** `--rounds`: how often the same-load pairs and the head-of-line run were repeated. */
  rounds: number;
  /** Every round's pair for each follower count, in the order run (rounds interleaved). */
  sameLoad: Array<InRound<SameLoadRow>>;
  steps: StepRow[];
  p99BoundMs: number;
  /** The pipeline's config overrides (--set). */
  pipelineSets: string[];
  /** The Node flags the pipeline process ran with (the product's: ../node-flags.ts). */
  pipelineNodeFlags: readonly string[];
  /** Rows written into each same-load follower's timeline before the runs (`--fill-timelines`). */
  filledTimelines: number;
  /** The pipeline's timeline.maxEntries (a trim reads up to one more). */
  maxEntries: number;
  /** One per round; empty with --celebrity 0. */
  headOfLine: Array<InRound<HeadOfLine>>;
}

/** What the rounds give, as judged: per follower count the ratios and their median; the same of head-of-line. */
export interface RoundsSummary {
  readonly sameLoad: ReadonlyArray<{
    followers: number;
    ratios: number[];
    median: number;
    /** The raw driver writing its tweets / the raw driver: the most a pipeline can reach. */
    ceilings: number[];
    medianCeiling: number;
  }>;
  readonly headOfLine?: {
    ratios: number[];
    median: number;
    addedMs: number[];
    medianAddedMs: number;
  };
}

export function summarise(r: StreamReport): RoundsSummary {
  const followers = [...new Set(r.sameLoad.map((s) => s.followers))];
  const sameLoad = followers.map((f) => {
    const rows = r.sameLoad.filter((s) => s.followers === f);
    const ratios = rows.map((s) => s.ratio);
    const ceilings = rows.map((s) => s.ceiling);
    return {
      followers: f,
      ratios,
      median: medianOf(ratios)!,
      ceilings,
      medianCeiling: medianOf(ceilings)!,
    };
  });
  if (r.headOfLine.length === 0) return { sameLoad };
  const ratios = r.headOfLine.map((h) => h.ratio);
  const addedMs = r.headOfLine.map(added);
  return {
    sameLoad,
    headOfLine: { ratios, median: medianOf(ratios)!, addedMs, medianAddedMs: medianOf(addedMs)! },
  };
}

/** What the celebrity adds to the small tweets' p99 (ms). */
const added = (h: HeadOfLine): number => h.during.p99Ms - h.alone.p99Ms;
const signed = (ms: number): string => `${ms >= 0 ? '+' : '−'}${fmt(Math.abs(ms))} ms`;

const fmt = (x: number | undefined): string =>
  x === undefined || Number.isNaN(x) ? '–' : x.toLocaleString('en-US');

/** The highest target rate whose p99 stayed under the bound (null: none did). */
export function sustainable(r: StreamReport): StepRow | null {
  return r.steps.filter((s) => s.p99Ms <= r.p99BoundMs).at(-1) ?? null;
}

/** What a trim read in these runs: the runs' few rows, or a full timeline's maxEntries + 1 ids. */
function fillLine(r: StreamReport): string {
  const cap = `timeline.maxEntries ${fmt(r.maxEntries)}`;
  if (r.filledTimelines === 0)
    return `Timelines start empty: a trim reads the few rows the runs wrote, not the ${fmt(r.maxEntries + 1)} ids of a full timeline (--fill-timelines ${fmt(r.maxEntries)} for those).`;
  const held = `Every follower's timeline held ${fmt(r.filledTimelines)} older rows before the runs (${cap})`;
  return r.filledTimelines >= r.maxEntries
    ? `${held}: full, so a trim reads ${fmt(r.maxEntries + 1)} ids, as at a deployment's steady state.`
    : `${held}: a trim reads those and the runs' rows, up to ${fmt(r.maxEntries + 1)} ids.`;
}

export function formatReport(r: StreamReport): string {
  const out: string[] = [];
  out.push('', '## Same load: pipeline against the raw driver (tweets/s)', '');
  out.push(fillLine(r), '');
  out.push(
    '| followers | round | tweets | pipeline | raw driver | ratio | pipeline run: node busy after its last row, s | CPU-s pipeline run (until quiet): cassandra / kafka / pipeline | raw run: cassandra | CPU ms per tweet, all processes: pipeline run / raw run (raw / pipeline) | Cassandra requests per tweet: pipeline run / raw run |',
  );
  out.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const s of r.sameLoad)
    out.push(
      `| ${s.followers} | ${s.round} | ${fmt(s.tweets)} | ${fmt(s.pipelineTweetsPerSecond)} | ${fmt(s.rawTweetsPerSecond)} | **${s.ratio}** | ${(s.pipelineTrailingMs / 1000).toFixed(1)} | ${fmt(s.pipelineCpu.cassandra)} / ${fmt(s.pipelineCpu.kafka)} / ${fmt(s.pipelineCpu.pipeline)} | ${fmt(s.rawCpu.cassandra)} | ${fmt(s.pipelineCpuMsPerTweet)} / ${fmt(s.rawCpuMsPerTweet)} (${fmt(s.cpuRatio)}) | ${fmt(s.pipelineRequests)} / ${fmt(s.rawRequests)} |`,
    );
  const summary = summarise(r);
  if (r.rounds > 1)
    for (const f of summary.sameLoad)
      out.push(
        '',
        `${f.followers} followers, pipeline / raw over ${f.ratios.length} rounds: ${f.ratios.join(', ')}; median **${f.median}**`,
      );
  if (r.sameLoad.length > 0) {
    out.push(
      '',
      'Each run starts on a quiet node. The pipeline run keeps the node busy after its last row (its sampled timeline trims run behind the writes): its rate ends at the last row, its CPU and requests are read once the node is quiet. Both runs CPU-bound (on a shared box they are), the ratio of rates follows the ratio of CPU per tweet; a gap between the two is that trailing work, or one run waited on something else.',
      '',
      '## The ceiling: the raw driver writing each tweet first, as the application does (to a copy of `tweets` without CDC)',
      '',
      '| followers | round | raw driver | raw driver writing its tweets | ceiling (writing / raw) | pipeline / ceiling | CPU ms per tweet, all processes: writing run | Cassandra requests per tweet: writing run |',
      '| --- | --- | --- | --- | --- | --- | --- | --- |',
    );
    for (const s of r.sameLoad)
      out.push(
        `| ${s.followers} | ${s.round} | ${fmt(s.rawTweetsPerSecond)} | ${fmt(s.writingTweetsPerSecond)} | **${s.ceiling}** | ${(s.pipelineTweetsPerSecond / s.writingTweetsPerSecond).toFixed(2)} | ${fmt(s.writingCpuMsPerTweet)} | ${fmt(s.writingRequests)} |`,
      );
    if (r.rounds > 1)
      for (const f of summary.sameLoad)
        out.push(
          '',
          `${f.followers} followers, ceiling over ${f.ceilings.length} rounds: ${f.ceilings.join(', ')}; median **${f.medianCeiling}**`,
        );
    out.push(
      '',
      "Every pipeline in which the application writes its tweets to Cassandra pays that write before any fan-out, as the pipeline run above does (its load is those writes): on a node bound by CPU its rate stays below the writing run's, and pipeline / raw below the ceiling.",
    );
  }
  out.push('', '## Power-law stream, stepped (write acknowledged → last timeline row)', '');
  out.push(
    '| target/s | tweets | tweets/s | rows/s | p50 ms | p99 ms | max ms | p99 to Kafka / to worker / in worker | CPU-s cassandra / kafka / pipeline |',
  );
  out.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const s of r.steps) out.push(stepLine(s, String(s.targetPerSecond)));
  const best = sustainable(r);
  out.push(
    '',
    best
      ? `highest rate with p99 ≤ ${r.p99BoundMs} ms: ${fmt(best.targetPerSecond)} tweets/s (${fmt(best.rowsPerSecond)} rows/s)`
      : `no step kept p99 ≤ ${r.p99BoundMs} ms`,
  );
  const [first] = r.headOfLine;
  if (first) {
    out.push(
      '',
      `## Head-of-line: the stream at ${first.ratePerSecond}/s, one ${fmt(first.celebrityFollowers)}-follower tweet in the middle`,
      '',
    );
    out.push(
      '| small tweets | tweets | tweets/s | rows/s | p50 ms | p99 ms | max ms | p99 to Kafka / to worker / in worker | CPU-s cassandra / kafka / pipeline |',
    );
    out.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
    const inRound = (h: InRound<HeadOfLine>): string => (r.rounds > 1 ? `, round ${h.round}` : '');
    for (const h of r.headOfLine) {
      out.push(stepLine(h.alone, `alone${inRound(h)}`));
      out.push(stepLine(h.during, `during the celebrity (${h.celebritySeconds} s)${inRound(h)}`));
    }
    // The difference too: both p99s hold the wait for the commit-log sync (up to its period), so
    // the ratio also moves with that setting; what the celebrity adds does not.
    out.push('');
    for (const h of r.headOfLine)
      out.push(`p99 during / alone${inRound(h)}: **${h.ratio}** (${signed(added(h))})`);
    const hol = summary.headOfLine!;
    if (r.rounds > 1)
      out.push(
        '',
        `median over ${hol.ratios.length} rounds: **${hol.median}** (${signed(hol.medianAddedMs)})`,
      );
  }
  return `${out.join('\n')}\n`;
}

function stepLine(s: StepRow, label: string): string {
  return `| ${label} | ${fmt(s.tweets)} | ${fmt(s.tweetsPerSecond)} | ${fmt(s.rowsPerSecond)} | ${fmt(s.p50Ms)} | ${fmt(s.p99Ms)} | ${fmt(s.maxMs)} | ${fmt(s.p99ToKafkaMs)} / ${fmt(s.p99ToWorkerMs)} / ${fmt(s.p99InWorkerMs)} | ${fmt(s.cpu.cassandra)} / ${fmt(s.cpu.kafka)} / ${fmt(s.cpu.pipeline)} |`;
}
