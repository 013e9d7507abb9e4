/**
 * The stream bench at CI size (issue #19): `fanout bench --stream` against the real services with
 * small numbers, in this test's own keyspace and topics. Every tweet it writes must complete (the
 * bench fails otherwise), and its report has every table: the same load through the pipeline and
 * the raw driver, the stepped stream, and head-of-line blocking by a (small, split) celebrity.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { NODE_FLAGS } from '../../bench/node-flags.ts';
import { FILL_AUTHOR } from '../../bench/stream/fill.ts';
import { loadConfig } from '../../config/index.ts';
import { connectCassandra } from '../../connectors/cassandra/client.ts';
import type { RoundsSummary, StreamReport } from '../../bench/stream/report.ts';
import { testSettings } from '../support/config.ts';

const MAIN = resolve(import.meta.dirname, '../../cli/main.ts');

describe('fanout bench --stream, CI-sized', () => {
  it('writes every tweet through CQL, sees each complete, and reports every table', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fanout-stream-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const settings = testSettings([
      'pipeline.splitThreshold=2000',
      'pipeline.splitTaskSize=1000',
      'pipeline.pageSize=500',
      'timeline.maxEntries=20',
    ]);
    const keyspace = settings.find((s) => s.startsWith('cassandra.keyspace='))!.split('=')[1]!;
    const out = join(dir, 'stream.json');
    const args = [
      ...['--keyspace', keyspace, '--out', out, '--seed', '7'],
      ...['--authors-20', '20', '--authors-250', '4', '--tweets-per-author', '2'],
      ...['--authors', '50', '--rates', '20,40', '--step-seconds', '2'],
      ...['--celebrity', '5000', '--hol-rate', '20', '--hol-seconds', '3', '--rounds', '2'],
      ...['--fill-timelines', '30'], // past the cap of 20: the pipeline's trims read full timelines
      ...settings.flatMap((s) => ['--set', s]),
    ];
    const child = spawn(process.execPath, [MAIN, 'bench', '--stream', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += String(d)));
    child.stderr.on('data', (d: Buffer) => (stderr += String(d)));
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    expect(code, stderr).toBe(0);

    const report = JSON.parse(readFileSync(out, 'utf8')) as StreamReport;
    // The pipeline is measured as the product runs: with ./fanout's Node flags.
    expect(report.pipelineNodeFlags).toEqual(NODE_FLAGS);
    // Two rounds, interleaved.
    expect(report.sameLoad.map((r) => [r.round, r.followers, r.tweets])).toEqual([
      [1, 20, 40],
      [1, 250, 8],
      [2, 20, 40],
      [2, 250, 8],
    ]);
    for (const r of report.sameLoad) {
      expect(r.pipelineTweetsPerSecond).toBeGreaterThan(0);
      expect(r.rawTweetsPerSecond).toBeGreaterThan(0);
      expect(r.ratio).toBeGreaterThan(0);
      expect(r.rawErrors).toBe(0);
      // Lower bounds only: other suites may share the node. Raw: a page and a batch per tweet.
      // The pipeline: the tweet's write, its author read and record, a page and its end check.
      expect(r.rawRequests).toBeGreaterThanOrEqual(2);
      // The ceiling's run: the tweet's write too, to its own table (the pipeline does not see it).
      expect(r.writingTweetsPerSecond).toBeGreaterThan(0);
      expect(r.writingRequests).toBeGreaterThanOrEqual(3);
      expect(r.ceiling).toBeCloseTo(r.writingTweetsPerSecond / r.rawTweetsPerSecond, 1);
      expect(r.pipelineRequests).toBeGreaterThanOrEqual(5);
      // The pipeline run keeps the node busy a while after its last row (its trims).
      expect(r.pipelineTrailingMs).toBeGreaterThanOrEqual(0);
      // CPU per tweet of every process in each run, and raw / pipeline from them. At CI size a
      // run can be too short for the /proc readings (tenths of a second): then unmeasured.
      for (const ms of [r.pipelineCpuMsPerTweet, r.rawCpuMsPerTweet])
        if (ms !== undefined) expect(ms).toBeGreaterThan(0);
      if (r.pipelineCpuMsPerTweet === undefined || r.rawCpuMsPerTweet === undefined)
        expect(r.cpuRatio).toBeUndefined();
      else expect(r.cpuRatio).toBeCloseTo(r.rawCpuMsPerTweet / r.pipelineCpuMsPerTweet, 1);
    }
    expect(report.steps.length).toBeGreaterThanOrEqual(1);
    for (const s of report.steps) {
      expect(s.tweets).toBe(s.targetPerSecond * 2);
      expect(s.rowsPerSecond).toBeGreaterThan(0);
      expect(s.p50Ms).toBeLessThanOrEqual(s.p99Ms);
      expect(s.p99Ms).toBeLessThanOrEqual(s.maxMs);
      // The legs: the CDC hop takes time (the commit-log sync), and neither leg outlasts the whole.
      // Its capture (write → readable in Kafka) is measured for every tweet: a number, not NaN.
      expect(s.p99ToKafkaMs).toBeGreaterThan(0);
      expect(s.p99ToWorkerMs).toBeGreaterThan(0);
      expect(s.p99ToWorkerMs).toBeLessThanOrEqual(s.maxMs);
      expect(s.p99InWorkerMs).toBeLessThanOrEqual(s.maxMs);
    }
    expect(report.headOfLine.map((h) => h.round)).toEqual([1, 2]);
    for (const h of report.headOfLine) {
      expect(h.alone.tweets).toBe(60);
      expect(h.during.tweets).toBeGreaterThanOrEqual(1);
      expect(h.celebrityFollowers).toBe(5000);
      expect(h.ratio).toBeGreaterThan(0);
    }
    // The medians the rounds give, in the file as printed.
    const { summary } = JSON.parse(readFileSync(out, 'utf8')) as { summary: RoundsSummary };
    expect(summary.sameLoad.map((s) => [s.followers, s.ratios.length])).toEqual([
      [20, 2],
      [250, 2],
    ]);
    expect(summary.headOfLine!.ratios).toEqual(report.headOfLine.map((h) => h.ratio));
    for (const heading of [
      '## Same load',
      '## The ceiling',
      '## Power-law stream',
      '## Head-of-line',
    ])
      expect(stdout).toContain(heading);
    expect(stdout).toContain(`median over 2 rounds: **${summary.headOfLine!.median}**`);

    // The same-load followers' timelines were filled first, with rows older than any tweet of
    // the runs: a trim cuts those (keeping the newest 20), so some are left in every case.
    expect([report.filledTimelines, report.maxEntries]).toEqual([30, 20]);
    expect(stdout).toContain(
      "Every follower's timeline held 30 older rows before the runs (timeline.maxEntries 20): full, so a trim reads 21 ids",
    );
    const client = await connectCassandra(loadConfig({ sets: settings }));
    onTestFinished(() => client.shutdown());
    for (const follower of [100_000_000n, 200_000_000n]) {
      const rows = (
        await client.execute(
          `SELECT author_id FROM ${keyspace}.timelines WHERE user_id = ?`,
          [follower],
          { prepare: true },
        )
      ).rows.map((r) => r.get('author_id') as bigint);
      expect(
        rows.filter((a) => a === FILL_AUTHOR).length,
        `fill rows of ${follower}`,
      ).toBeGreaterThan(0);
      expect(rows.length, `rows of ${follower}`).toBeGreaterThanOrEqual(20);
    }
  });
});
