import { describe, expect, it } from 'vitest';
import { cpuMsPerTweet } from '../../bench/stream/cpu.ts';
import type { StepRow } from '../../bench/stream/phases.ts';
import { formatReport, type StreamReport } from '../../bench/stream/report.ts';

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
    const report: StreamReport = {
      sameLoad: [
        {
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
          pipelineCpuMsPerTweet: 1.79,
          rawCpuMsPerTweet: 0.68,
          cpuRatio: 0.38,
        },
      ],
      steps: [],
      p99BoundMs: 1_000,
      pipelineSets: [],
      pipelineNodeFlags: [],
    };
    expect(formatReport(report)).toContain('| 1.79 / 0.68 (0.38) |');
  });

  it('prints what the celebrity adds to the p99 beside the ratio (both hold the commit-log sync wait)', () => {
    const step = (p99Ms: number): StepRow => ({
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
    });
    const report = (alone: number, during: number): StreamReport => ({
      sameLoad: [],
      steps: [],
      p99BoundMs: 1_000,
      pipelineSets: [],
      pipelineNodeFlags: [],
      headOfLine: {
        ratePerSecond: 100,
        alone: step(alone),
        during: step(during),
        celebrityFollowers: 500_000,
        celebritySeconds: 18,
        ratio: Math.round((during / alone) * 100) / 100,
      },
    });
    expect(formatReport(report(335, 1_115))).toContain('p99 during / alone: **3.33** (+780 ms)');
    expect(formatReport(report(400, 380))).toContain('p99 during / alone: **0.95** (−20 ms)');
  });
});
