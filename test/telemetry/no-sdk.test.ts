/**
 * Without an SDK (tests, tools, a connector with telemetry off) the helpers run the code, write no
 * trace header and invent no trace id: a consumer downstream then starts its own root.
 */
import { SpanKind } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../lib/log.ts';
import { SpanSampler } from '../../lib/span-sampler.ts';
import { extract, headersOf, inject, startSpan, traced } from '../../lib/telemetry.ts';

describe('telemetry without an SDK', () => {
  it('writes no header, and reads none', async () => {
    const headers = await traced('x', SpanKind.PRODUCER, {}, (span) => ({
      active: inject({}),
      of: headersOf(span),
    }));
    expect(headers).toEqual({ active: {}, of: {} });
    const long = startSpan(
      'y',
      SpanKind.CONSUMER,
      {},
      {
        parent: extract({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' }),
      },
    );
    expect(long.run(() => 42)).toBe(42);
    long.end();
  });

  it('still runs sampled work and returns its result', async () => {
    const sampler = new SpanSampler({ mode: 'sampled', every: 2, slowMs: 0 });
    const out = [];
    for (let i = 0; i < 3; i++)
      out.push(await sampler.run('b', SpanKind.CLIENT, {}, async () => i));
    expect(out).toEqual([0, 1, 2]);
  });

  it('logs no trace ids', async () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'info', format: 'json' }, 'fanout', (l) => lines.push(l));
    await traced('z', SpanKind.INTERNAL, {}, () => log.info('inside'));
    expect(JSON.parse(lines[0]!)).not.toHaveProperty('trace_id');
  });
});
