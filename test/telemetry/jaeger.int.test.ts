/**
 * Traces reach the local Jaeger with the structure the code meant: a program using lib/telemetry
 * with the SDK (cli/telemetry.ts) exports one trace per tweet, found through Jaeger's query API by
 * the tag fanout.tweet_id, with parents across a record-header hop, sampled batch spans, and
 * cassandra-driver query spans nested under the active batch span; a query outside any trace is
 * not exported.
 */
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import type { Context } from '../../cli/context.ts';
import { trace as traceCommand } from '../../cli/commands/trace.ts';
import { loadConfig } from '../../config/index.ts';
import {
  eventually,
  getJson,
  observabilityStack,
  runProgram,
  STACK_TIMEOUT_MS,
  type ObservabilityStack,
} from './stack.ts';
import type { JaegerSpan, JaegerTrace } from '../../cli/commands/trace-waterfall.ts';

let stack: ObservabilityStack;
beforeAll(async () => {
  stack = await observabilityStack();
}, STACK_TIMEOUT_MS);

describe('traces in the local Jaeger', () => {
  it('one trace per tweet: header hop, sampled batches, driver queries under the active span', async () => {
    const service = `fanout-test-${randomUUID().slice(0, 8)}`;
    const tweetId = randomUUID();
    const sets = [
      `telemetry.serviceName=${service}`,
      `telemetry.otlpEndpoint=${stack.otlp}`,
      'telemetry.prometheusPort=0',
      `cassandra.contactPoints=${inject('services').cassandraContactPoints}`,
    ];
    await runProgram(resolve(import.meta.dirname, 'programs/traced.ts'), [
      JSON.stringify(sets),
      tweetId,
    ]).done;

    const search = (tags: Record<string, string>): string =>
      `${stack.jaeger}/api/traces?service=${service}-probe&lookback=1h&limit=50&tags=${encodeURIComponent(JSON.stringify(tags))}`;
    const traces = await eventually('the trace in Jaeger, complete', async () => {
      const found =
        (await getJson<{ data: JaegerTrace[] | null }>(search({ 'fanout.tweet_id': tweetId })))
          .data ?? [];
      return found.length === 1 && found[0]!.spans.length === 6 ? found : undefined;
    });
    const trace = traces[0]!;
    const byId = new Map(trace.spans.map((s) => [s.spanID, s]));
    const parent = (s: JaegerSpan): string | undefined => {
      const ref = s.references.find((r) => r.refType === 'CHILD_OF');
      return ref && byId.get(ref.spanID)?.operationName;
    };
    const shape = trace.spans.map((s) => `${parent(s) ?? '(root)'} > ${s.operationName}`).sort();
    expect(shape).toEqual(
      [
        '(root) > probe.produce',
        'probe.produce > probe.fanout',
        'probe.fanout > probe.batch',
        'probe.fanout > probe.batch',
        'probe.batch > cassandra-driver.execute',
        'probe.batch > cassandra-driver.execute',
      ].sort(),
    );
    const fanout = trace.spans.find((s) => s.operationName === 'probe.fanout')!;
    const tag = (s: JaegerSpan, key: string): unknown => s.tags.find((t) => t.key === key)?.value;
    expect(tag(fanout, 'fanout.batches.units')).toBe(3);
    expect(tag(fanout, 'fanout.batches.spans')).toBe(2);
    const query = trace.spans.find((s) => s.operationName === 'cassandra-driver.execute')!;
    expect(tag(query, 'db.system.name')).toBe('cassandra');
    expect(trace.processes[query.processID]?.serviceName).toBe(`${service}-probe`);

    // The query made outside any trace was dropped, not exported as a trace of its own.
    const all = (await getJson<{ data: JaegerTrace[] | null }>(search({}))).data ?? [];
    expect(all.map((t) => t.traceID)).toEqual([trace.traceID]);

    // `fanout trace` finds it through the same API and prints its waterfall.
    const ctx = { config: loadConfig({ env: {}, sets: [`telemetry.serviceName=${service}`] }) };
    const out: string[] = [];
    await traceCommand(ctx as Context, tweetId, {
      jaegerUrl: stack.jaeger,
      width: 120,
      write: (t) => out.push(t),
    });
    const lines = out.join('\n').split('\n');
    expect(lines[0]).toBe(
      `trace ${trace.traceID} of tweet ${tweetId}: ${lines[0]!.split(': ')[1]}`,
    );
    expect(lines[0]).toContain(`6 spans, ${service}-probe`);
    expect(lines.filter((l) => l.includes('cassandra-driver.execute'))).toHaveLength(2);
    await expect(
      traceCommand(ctx as Context, randomUUID(), { jaegerUrl: stack.jaeger, write: () => {} }),
    ).rejects.toThrow(/no trace of tweet .* in Jaeger/);
  });
});
