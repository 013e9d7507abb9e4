/** The stream bench's result and its printed tables (markdown, as docs/benchmarks.md quotes them). */
import type { HeadOfLine, SameLoadRow, StepRow } from './phases.ts';

export interface StreamReport {
  sameLoad: SameLoadRow[];
  steps: StepRow[];
  p99BoundMs: number;
  /** The pipeline's config overrides (--set). */
  pipelineSets: string[];
  /** The Node flags the pipeline process ran with (the product's: ../node-flags.ts). */
  pipelineNodeFlags: readonly string[];
  headOfLine?: HeadOfLine;
}

const fmt = (x: number | undefined): string =>
  x === undefined || Number.isNaN(x) ? '–' : x.toLocaleString('en-US');

/** The highest target rate whose p99 stayed under the bound (null: none did). */
export function sustainable(r: StreamReport): StepRow | null {
  return r.steps.filter((s) => s.p99Ms <= r.p99BoundMs).at(-1) ?? null;
}

export function formatReport(r: StreamReport): string {
  const out: string[] = [];
  out.push('', '## Same load: pipeline against the raw driver (tweets/s)', '');
  out.push(
    '| followers | tweets | pipeline | raw driver | ratio | CPU-s pipeline run: cassandra / kafka / pipeline | raw run: cassandra | CPU ms per tweet, all processes: pipeline run / raw run (raw / pipeline) | Cassandra requests per tweet: pipeline run / raw run |',
  );
  out.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const s of r.sameLoad)
    out.push(
      `| ${s.followers} | ${fmt(s.tweets)} | ${fmt(s.pipelineTweetsPerSecond)} | ${fmt(s.rawTweetsPerSecond)} | **${s.ratio}** | ${fmt(s.pipelineCpu.cassandra)} / ${fmt(s.pipelineCpu.kafka)} / ${fmt(s.pipelineCpu.pipeline)} | ${fmt(s.rawCpu.cassandra)} | ${fmt(s.pipelineCpuMsPerTweet)} / ${fmt(s.rawCpuMsPerTweet)} (${fmt(s.cpuRatio)}) | ${fmt(s.pipelineRequests)} / ${fmt(s.rawRequests)} |`,
    );
  if (r.sameLoad.length > 0)
    out.push(
      '',
      'Both runs CPU-bound (on a shared box they are), the ratio of rates follows the ratio of CPU per tweet: a gap between the two means one run waited on something else.',
    );
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
  const h = r.headOfLine;
  if (h) {
    out.push(
      '',
      `## Head-of-line: the stream at ${h.ratePerSecond}/s, one ${fmt(h.celebrityFollowers)}-follower tweet in the middle`,
      '',
    );
    out.push(
      '| small tweets | tweets | tweets/s | rows/s | p50 ms | p99 ms | max ms | p99 to Kafka / to worker / in worker | CPU-s cassandra / kafka / pipeline |',
    );
    out.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
    out.push(stepLine(h.alone, 'alone'));
    out.push(stepLine(h.during, `during the celebrity (${h.celebritySeconds} s)`));
    // The difference too: both p99s hold the wait for the commit-log sync (up to its period), so
    // the ratio also moves with that setting; what the celebrity adds does not.
    const added = h.during.p99Ms - h.alone.p99Ms;
    out.push(
      '',
      `p99 during / alone: **${h.ratio}** (${added >= 0 ? '+' : '−'}${fmt(Math.abs(added))} ms)`,
    );
  }
  return `${out.join('\n')}\n`;
}

function stepLine(s: StepRow, label: string): string {
  return `| ${label} | ${fmt(s.tweets)} | ${fmt(s.tweetsPerSecond)} | ${fmt(s.rowsPerSecond)} | ${fmt(s.p50Ms)} | ${fmt(s.p99Ms)} | ${fmt(s.maxMs)} | ${fmt(s.p99ToKafkaMs)} / ${fmt(s.p99ToWorkerMs)} / ${fmt(s.p99InWorkerMs)} | ${fmt(s.cpu.cassandra)} / ${fmt(s.cpu.kafka)} / ${fmt(s.cpu.pipeline)} |`;
}
