import { describe, expect, it } from 'vitest';
import { cpuMsPerTweet } from '../../bench/stream/cpu.ts';
import type { StepRow } from '../../bench/stream/phases.ts';
import { formatReport, summarise, type StreamReport } from '../../bench/stream/report.ts';

describe('the stream bench: CPU per tweet', () => {
  it('adds up every process, per tweet; unknown when one was not readable', () => {
    expect(
      cpuMsPerTweet({ cassandra: 16.8, kafka: 3.2, pipeline: 12.2, bench: 3.5 }, 20_000),
    ).toBeCloseTo(1.785, 2);
    expect(
      cpuMsPerTweet({ cassandra: 9.3, kafka: undefined, pipeline: 0.5, bench: 3.3 }, 20_000),
    ).toBeUndefined();
    expect(cpuMsPerTweet({ cassandra: 1, kafka: 1, pipeline: 1, bench: 1 }, 0)).toBeUndefined();
    // Too short to read: /proc gives tenths of a second, a CI-sized raw run reads 0 everywhere.
    expect(cpuMsPerTweet({ cassandra: 0, kafka: 0, pipeline: 0, bench: 0 }, 8)).toBeUndefined();
  });

  it("prints both runs' CPU per tweet and their ratio beside the rates'", () => {
    const report = reportOf({
      sameLoad: [
        {
          round: 1,
          followers: 20,
          tweets: 20_000,
          pipelineTweetsPerSecond: 1_065,
          rawTweetsPerSecond: 2_911,
          ratio: 0.37,
          rawErrors: 0,
          pipelineCpu: { cassandra: 16.8, kafka: 3.2, pipeline: 12.2, bench: 3.5 },
          rawCpu: { cassandra: 9.3, kafka: 0.4, pipeline: 0.5, bench: 3.3 },
          pipelineRequests: 6.54,
          rawRequests: 2,
          pipelineTrailingMs: 1_240,
          pipelineCpuMsPerTweet: 1.79,
          rawCpuMsPerTweet: 0.68,
          cpuRatio: 0.38,
          writingTweetsPerSecond: 2_620,
          ceiling: 0.9,
          writingCpuMsPerTweet: 0.74,
          writingRequests: 3,
        },
      ],
    });
    expect(formatReport(report)).toContain('| **0.37** | 1.2 | 16.8 / 3.2 / 12.2 |');
    expect(formatReport(report)).toContain('| 1.79 / 0.68 (0.38) |');
  });

  it('prints the ceiling: the raw driver writing its tweets against the raw driver, and the pipeline against it', () => {
    const report = reportOf({ sameLoad: [{ ...sameLoadRow, round: 1 }] });
    // 136 / 185 = 0.735: the pipeline against the most a pipeline fed by those writes can reach.
    expect(formatReport(report)).toContain('| 250 | 1 | 206 | 185 | **0.9** | 0.74 | 10.1 | 3 |');
  });

  it('says whether the timelines were full: what a trim read, against what it reads at the cap', () => {
    const report = (filledTimelines: number, maxEntries: number): StreamReport =>
      reportOf({ sameLoad: [{ ...sameLoadRow, round: 1 }], filledTimelines, maxEntries });
    expect(formatReport(report(0, 800))).toContain(
      'Timelines start empty: a trim reads the few rows the runs wrote, not the 801 ids of a full timeline (--fill-timelines 800 for those).',
    );
    expect(formatReport(report(800, 800))).toContain(
      "Every follower's timeline held 800 older rows before the runs (timeline.maxEntries 800): full, so a trim reads 801 ids, as at a deployment's steady state.",
    );
    expect(formatReport(report(300, 800))).toContain(
      "(timeline.maxEntries 800): a trim reads those and the runs' rows, up to 801 ids.",
    );
  });

  it('prints what the celebrity adds to the p99 beside the ratio (both hold the commit-log sync wait)', () => {
    const report = (alone: number, during: number): StreamReport =>
      reportOf({ headOfLine: [holRun(1, alone, during)] });
    expect(formatReport(report(335, 1_115))).toContain('p99 during / alone: **3.33** (+780 ms)');
    expect(formatReport(report(400, 380))).toContain('p99 during / alone: **0.95** (−20 ms)');
  });

  it('with rounds, prints every round and the medians: per follower count, and of head-of-line', () => {
    const pair = (round: number, followers: number, ratio: number, ceiling = 0.9) => ({
      ...sameLoadRow,
      round,
      followers,
      ratio,
      ceiling,
    });
    const report = reportOf({
      rounds: 3,
      // Interleaved, as run: 20, 250, 20, 250, …
      sameLoad: [
        pair(1, 20, 0.34, 1.13),
        pair(1, 250, 0.74),
        pair(2, 20, 0.38, 0.84),
        pair(2, 250, 0.66),
        pair(3, 20, 0.36, 0.91),
        pair(3, 250, 0.54),
      ],
      headOfLine: [holRun(1, 468, 813), holRun(2, 464, 699), holRun(3, 478, 633)],
    });
    expect(summarise(report)).toEqual({
      sameLoad: [
        {
          followers: 20,
          ratios: [0.34, 0.38, 0.36],
          median: 0.36,
          ceilings: [1.13, 0.84, 0.91],
          medianCeiling: 0.91,
        },
        {
          followers: 250,
          ratios: [0.74, 0.66, 0.54],
          median: 0.66,
          ceilings: [0.9, 0.9, 0.9],
          medianCeiling: 0.9,
        },
      ],
      headOfLine: {
        ratios: [1.74, 1.51, 1.32],
        median: 1.51,
        addedMs: [345, 235, 155],
        medianAddedMs: 235,
      },
    });
    const text = formatReport(report);
    expect(text).toContain('| 250 | 2 | 2,000 |');
    expect(text).toContain(
      '20 followers, pipeline / raw over 3 rounds: 0.34, 0.38, 0.36; median **0.36**',
    );
    expect(text).toContain(
      '250 followers, pipeline / raw over 3 rounds: 0.74, 0.66, 0.54; median **0.66**',
    );
    expect(text).toContain(
      '20 followers, ceiling over 3 rounds: 1.13, 0.84, 0.91; median **0.91**',
    );
    expect(text).toContain('| alone, round 2 | 1,000 |');
    expect(text).toContain('p99 during / alone, round 3: **1.32** (+155 ms)');
    expect(text).toContain('median over 3 rounds: **1.51** (+235 ms)');
  });
});

/** A report of one round with nothing in it but `parts`. */
function reportOf(parts: Partial<StreamReport>): StreamReport {
  return {
    rounds: 1,
    sameLoad: [],
    steps: [],
    p99BoundMs: 1_000,
    pipelineSets: [],
    pipelineNodeFlags: [],
    filledTimelines: 0,
    maxEntries: 800,
    headOfLine: [],
    ...parts,
  };
}

const sameLoadRow = {
  followers: 250,
  tweets: 2_000,
  pipelineTweetsPerSecond: 136,
  rawTweetsPerSecond: 206,
  ratio: 0.66,
  rawErrors: 0,
  pipelineCpu: { cassandra: 18.5, kafka: 2.9, pipeline: 6.8, bench: 0.8 },
  rawCpu: { cassandra: 15.6, kafka: 0.4, pipeline: 0.5, bench: 2.4 },
  pipelineRequests: 13.51,
  rawRequests: 2,
  pipelineTrailingMs: 6_510,
  pipelineCpuMsPerTweet: 14.5,
  rawCpuMsPerTweet: 9.65,
  cpuRatio: 0.67,
  writingTweetsPerSecond: 185,
  ceiling: 0.9,
  writingCpuMsPerTweet: 10.1,
  writingRequests: 3,
};

function stepOf(p99Ms: number): StepRow {
  return {
    targetPerSecond: 100,
    tweets: 1_000,
    tweetsPerSecond: 99,
    rowsPerSecond: 2_000,
    p50Ms: 200,
    p99Ms,
    maxMs: p99Ms + 50,
    p99ToKafkaMs: p99Ms - 40,
    p99ToWorkerMs: p99Ms - 35,
    p99InWorkerMs: 60,
    cpu: { cassandra: 1, kafka: 1, pipeline: 1, bench: 1 },
  };
}

function holRun(round: number, alone: number, during: number): StreamReport['headOfLine'][number] {
  return {
    round,
    ratePerSecond: 100,
    alone: stepOf(alone),
    during: stepOf(during),
    celebrityFollowers: 500_000,
    celebritySeconds: 18,
    ratio: Math.round((during / alone) * 100) / 100,
  };
}
