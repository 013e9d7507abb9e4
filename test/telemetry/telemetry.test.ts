/**
 * lib/telemetry.ts and lib/span-sampler.ts against the real SDK (NodeSDK, in-memory exporter):
 * propagation through record headers, active spans, links, long-lived spans, batch sampling.
 */
import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import { NodeSDK } from '@opentelemetry/sdk-node';
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SpanSampler } from '../../lib/span-sampler.ts';
import {
  contextFromHeaders,
  extract,
  headersOf,
  inject,
  linkTo,
  startSpan,
  traced,
  tracer,
  traceparentOf,
} from '../../lib/telemetry.ts';

const exporter = new InMemorySpanExporter();
const sdk = new NodeSDK({
  spanProcessors: [new SimpleSpanProcessor({ exporter })],
  metricReaders: [],
  instrumentations: [],
  // No async resource detection: spans are exported as they end.
  resourceDetectors: [],
});

beforeAll(() => sdk.start());
afterAll(() => sdk.shutdown());
beforeEach(() => exporter.reset());

const spans = (): ReadableSpan[] => exporter.getFinishedSpans();
const named = (name: string): ReadableSpan[] => spans().filter((s) => s.name === name);
const one = (name: string): ReadableSpan => {
  const found = named(name);
  expect(found, name).toHaveLength(1);
  return found[0]!;
};
const parentOf = (s: ReadableSpan): string | undefined => s.parentSpanContext?.spanId;

describe('propagation through record headers', () => {
  it('writes traceparent, tracestate and baggage, and reads them back into the same trace', async () => {
    const headers = await traced('produce', SpanKind.PRODUCER, {}, () => {
      const bag = propagation.setBaggage(
        context.active(),
        propagation.createBaggage({ tenant: { value: 'acme' } }),
      );
      return inject({}, bag);
    });
    expect(propagation.fields()).toEqual(
      expect.arrayContaining(['traceparent', 'tracestate', 'baggage']),
    );
    expect(headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(headers.baggage).toBe('tenant=acme');
    const produced = one('produce');

    // Kafka hands headers over as Buffers (or lists of them).
    const ctx = extract({
      traceparent: Buffer.from(headers.traceparent ?? ''),
      baggage: [Buffer.from(headers.baggage ?? '')],
    });
    await traced('consume', SpanKind.CONSUMER, {}, async () => undefined, { parent: ctx });
    const consumed = one('consume');
    expect(consumed.spanContext().traceId).toBe(produced.spanContext().traceId);
    expect(parentOf(consumed)).toBe(produced.spanContext().spanId);
    expect(propagation.getBaggage(ctx)?.getEntry('tenant')?.value).toBe('acme');
  });

  it('keeps tracestate across a hop', async () => {
    const upstream = {
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      tracestate: 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7',
    };
    const headers = await traced('hop', SpanKind.CONSUMER, {}, () => inject({}), {
      parent: extract(upstream),
    });
    expect(headers.traceparent).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);
    expect(headers.tracestate).toBe(upstream.tracestate);
  });

  it('writes nothing for a context without a span, and reads no parent from no headers', () => {
    expect(inject({}, context.active())).toEqual({});
    expect(trace.getSpanContext(extract(undefined))).toBeUndefined();
    expect(trace.getSpanContext(extract({ traceparent: 'garbage' }))).toBeUndefined();
  });

  it('keeps the deprecated helpers working', async () => {
    await traced('old', SpanKind.INTERNAL, {}, (span) => {
      const tp = traceparentOf(span);
      expect(tp).toBe(headersOf(span).traceparent);
      expect(trace.getSpanContext(contextFromHeaders({ traceparent: tp }))?.spanId).toBe(
        span.spanContext().spanId,
      );
    });
  });
});

describe('traced', () => {
  it('makes its span active for fn, so spans started inside are children', async () => {
    await traced('outer', SpanKind.INTERNAL, { a: 1 }, async () => {
      await new Promise((r) => setTimeout(r, 5));
      tracer.startSpan('inner').end();
    });
    expect(parentOf(one('inner'))).toBe(one('outer').spanContext().spanId);
    expect(one('outer').attributes).toEqual({ a: 1 });
    expect(one('outer').kind).toBe(SpanKind.INTERNAL);
  });

  it('records the exception, marks the span failed, ends it and rethrows', async () => {
    await expect(
      traced('fails', SpanKind.CLIENT, {}, () => Promise.reject(new Error('boom'))),
    ).rejects.toThrow('boom');
    const s = one('fails');
    expect(s.status).toMatchObject({ code: 2, message: 'boom' });
    expect(s.events.map((e) => e.name)).toEqual(['exception']);
  });

  it('links to other spans, e.g. a batch holding rows of several tweets', async () => {
    const a = tracer.startSpan('tweet-a');
    const b = tracer.startSpan('tweet-b');
    const links = [linkTo(a), linkTo(b, { 'fanout.rows': 3 })].filter((l) => l !== undefined);
    await traced('batch', SpanKind.CLIENT, {}, async () => undefined, { links });
    a.end();
    b.end();
    expect(one('batch').links.map((l) => l.context.spanId)).toEqual([
      a.spanContext().spanId,
      b.spanContext().spanId,
    ]);
    expect(one('batch').links[1]!.attributes).toEqual({ 'fanout.rows': 3 });
    expect(linkTo(context.active())).toBeUndefined();
  });
});

describe('startSpan (a long-lived span)', () => {
  it('is active only inside run, across callbacks, and ends once', async () => {
    const long = startSpan('fanout.tweet', SpanKind.CONSUMER, { 'fanout.tweet_id': '7' });
    expect(trace.getSpan(context.active())).toBeUndefined();
    await new Promise<void>((resolve) =>
      setTimeout(
        () =>
          long.run(() => {
            tracer.startSpan('page').end();
            resolve();
          }),
        1,
      ),
    );
    await long.run(() => traced('batch', SpanKind.CLIENT, {}, async () => undefined));
    expect(long.headers().traceparent).toContain(long.span.spanContext().spanId);
    long.end(new Error('late failure'));
    long.end();
    const tweet = one('fanout.tweet');
    expect(parentOf(one('page'))).toBe(tweet.spanContext().spanId);
    expect(parentOf(one('batch'))).toBe(tweet.spanContext().spanId);
    expect(tweet.status.code).toBe(2);
  });
});

describe('SpanSampler', () => {
  const runUnits = async (
    sampler: SpanSampler,
    n: number,
    body: (i: number, span: { addEvent(name: string): void }) => Promise<void> = async () =>
      undefined,
  ): Promise<void> => {
    for (let i = 0; i < n; i++)
      await sampler
        .run('batch', SpanKind.CLIENT, { i }, (span) => body(i, span))
        .catch(() => undefined);
  };

  it('sampled: every Nth unit gets a live span, and queries of the others hang under none', async () => {
    let clock = 0;
    const sampler = new SpanSampler({ mode: 'sampled', every: 4, slowMs: 100 }, () => clock);
    const owner = startSpan('owner', SpanKind.CONSUMER, {});
    await owner.run(() =>
      runUnits(sampler, 10, async () => {
        tracer.startSpan('query').end();
        clock += 1;
      }),
    );
    owner.end();
    expect(named('batch').map((s) => s.attributes.i)).toEqual([0, 4, 8]);
    // Queries under a sampled batch are its children; the others see no active span (roots).
    const queries = named('query');
    const batchIds = new Set(named('batch').map((s) => s.spanContext().spanId));
    expect(queries.filter((q) => batchIds.has(parentOf(q) ?? ''))).toHaveLength(3);
    expect(queries.filter((q) => parentOf(q) === undefined)).toHaveLength(7);
    expect(sampler.totals()).toEqual({ units: 10, spans: 3, slow: 0, failed: 0 });
    expect(sampler.attributes('fanout.batches')).toMatchObject({
      'fanout.batches.units': 10,
      'fanout.batches.spans': 3,
    });
  });

  it('sampled: a slow, failed or retried unit gets its span after the fact, with its real times and events', async () => {
    let clock = 1_000;
    const sampler = new SpanSampler({ mode: 'sampled', every: 100, slowMs: 50 }, () => clock);
    const owner = startSpan('owner', SpanKind.CONSUMER, {});
    await owner.run(() =>
      runUnits(sampler, 5, async (i, span) => {
        if (i === 1) clock += 80; // slow
        if (i === 2) throw new Error('write failed');
        if (i === 3) span.addEvent('retry');
        clock += 1;
      }),
    );
    owner.end();
    const byI = new Map(named('batch').map((s) => [s.attributes.i, s]));
    expect([...byI.keys()]).toEqual([0, 1, 2, 3]);
    expect(byI.get(1)!.attributes['fanout.span.sampled']).toBe('slow');
    expect(byI.get(1)!.duration).toEqual([0, 81_000_000]);
    expect(byI.get(2)!.status.code).toBe(2);
    expect(byI.get(3)!.events.map((e) => e.name)).toEqual(['retry']);
    for (const s of byI.values()) expect(parentOf(s)).toBe(owner.span.spanContext().spanId);
    expect(sampler.totals()).toEqual({ units: 5, spans: 4, slow: 1, failed: 1 });
  });

  it('all and none', async () => {
    await runUnits(new SpanSampler({ mode: 'all', every: 1000, slowMs: 0 }), 3);
    expect(named('batch')).toHaveLength(3);
    exporter.reset();
    await runUnits(new SpanSampler({ mode: 'none', every: 1, slowMs: 0 }), 3, async () => {
      throw new Error('even failures');
    });
    expect(named('batch')).toHaveLength(0);
  });

  it('rejects a policy with every < 1', () => {
    expect(() => new SpanSampler({ mode: 'sampled', every: 0, slowMs: 1 })).toThrow(/every/);
  });
});
