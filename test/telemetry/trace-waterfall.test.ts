/**
 * The `fanout trace` waterfall on a trace recorded from the local Jaeger (fixtures/
 * jaeger-trace.json: GET /api/traces/<id>; a connector process and a worker process, sampled
 * batches with driver query spans, a retried and a slow batch, the commit, fanout.completed).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  formatMicros,
  renderWaterfall,
  type JaegerTrace,
} from '../../cli/commands/trace-waterfall.ts';

const recorded = (
  JSON.parse(readFileSync(resolve(import.meta.dirname, 'fixtures/jaeger-trace.json'), 'utf8')) as {
    data: JaegerTrace[];
  }
).data[0]!;

/** The span-tree column of each span line (what comes before the service, or the bar). */
const labels = (text: string): string[] =>
  text
    .split('\n')
    .slice(2)
    .filter((l) => l.includes('|'))
    .map((l) => {
      const service = l.indexOf(' fanout-');
      return (service >= 0 ? l.slice(0, service) : l.slice(0, l.indexOf('|'))).trimEnd();
    });

describe('renderWaterfall', () => {
  const text = renderWaterfall(recorded, { width: 130 });
  const lines = text.split('\n');

  it('heads with the trace id, the tweet, the duration, the span count and the services', () => {
    expect(lines[0]).toBe(
      'trace dfc880281c66b85841c4af044934f029 of tweet 011bd349-8eb5-41e4-b553-36e4b5e55946: 911 ms, 23 spans, fanout-cdc, fanout-worker',
    );
  });

  it('draws the span tree in start order, connector to commit', () => {
    const tree = labels(text);
    expect(tree.slice(0, 5)).toEqual([
      'cdc.segment',
      '├─ cdc.change',
      '│  └─ fanout.tweet',
      '│     ├─ fanout.page',
      '│     │  └─ cassandra-driver.execute',
    ]);
    expect(tree.at(-2)).toBe('│     └─ fanout.commit');
    expect(tree.at(-1)).toBe('└─ cdc.transaction');
    expect(tree.filter((l) => l.endsWith('fanout.batch'))).toHaveLength(8);
  });

  it('names the worker of every span of a worker process, inherited from the tweet span', () => {
    const worker = lines.slice(2).filter((l) => l.includes('fanout-worker'));
    expect(worker).toHaveLength(20);
    for (const l of worker) expect(l).toContain('fanout-worker w0');
    expect(lines.find((l) => l.startsWith('cdc.segment'))).not.toContain(' w0');
  });

  it('places each bar on the time axis, within the line width', () => {
    for (const l of lines.slice(1, -2)) expect(l.length).toBeLessThanOrEqual(130 + 20);
    const bar = (prefix: string): string => {
      const l = lines.find((x) => x.includes(prefix))!;
      return l.slice(l.indexOf('|') + 1, l.lastIndexOf('|'));
    };
    // The connector's spans start the trace, the worker's tweet span ends it.
    expect(bar('cdc.segment').startsWith('█')).toBe(true);
    expect(bar('fanout.tweet').endsWith('█')).toBe(true);
    expect(bar('fanout.tweet').trimStart().length).toBeLessThan(bar('fanout.tweet').length / 4);
  });

  it('shows retries, slow units, events and the totals of sampled spans', () => {
    expect(lines.find((l) => l.endsWith(' retry'))).toContain('fanout.batch');
    expect(lines.find((l) => l.endsWith('(slow)'))).toContain('fanout.batch');
    expect(lines.find((l) => l.includes('fanout.tweet '))).toMatch(/ fanout\.completed$/);
    expect(lines.slice(-2)).toEqual([
      'fanout.tweet: 24 batches, 8 with a span (1 slow, 0 failed)',
      'fanout.tweet: 2 pages, 2 with a span (0 slow, 0 failed)',
    ]);
  });

  it('cuts long runs of one operation to the first and last few, with their sum', () => {
    const short = labels(renderWaterfall(recorded, { width: 130, maxSiblings: 4 }));
    expect(short.filter((l) => l.endsWith('─ fanout.batch'))).toHaveLength(4);
    const cut = renderWaterfall(recorded, { maxSiblings: 4 })
      .split('\n')
      .find((l) => l.includes('more fanout.batch'));
    expect(cut).toMatch(/│ {5}├─ … 4 more fanout\.batch .*\| [\d.]+ ms in all, slowest [\d.]+ ms$/);
  });

  it('marks failed spans', () => {
    const failing: JaegerTrace = {
      ...recorded,
      spans: recorded.spans.map((s) =>
        s.operationName === 'fanout.commit'
          ? { ...s, tags: [...s.tags, { key: 'otel.status_code', type: 'string', value: 'ERROR' }] }
          : s,
      ),
    };
    expect(labels(renderWaterfall(failing))).toContain('│     └─ ✗ fanout.commit');
  });

  it('formats durations', () => {
    expect([5, 1_500, 250_000, 2_340_000, 95_000_000].map(formatMicros)).toEqual([
      '5 µs',
      '1.5 ms',
      '250 ms',
      '2.34 s',
      '1.6 min',
    ]);
  });
});
