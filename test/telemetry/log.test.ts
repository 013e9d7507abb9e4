/** lib/log.ts: text and JSON (pino) lines, levels, children, trace ids of the active span. */
import { SpanKind } from '@opentelemetry/api';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../lib/log.ts';
import { traced } from '../../lib/telemetry.ts';

const sdk = new NodeSDK({
  spanProcessors: [new SimpleSpanProcessor({ exporter: new InMemorySpanExporter() })],
  metricReaders: [],
  instrumentations: [],
  resourceDetectors: [],
});
beforeAll(() => sdk.start());
afterAll(() => sdk.shutdown());

describe('log', () => {
  it("text: today's format, level filter, child names, trace ids appended inside a span", async () => {
    const lines: string[] = [];
    const log = createLogger('info', 'fanout', (l) => lines.push(l));
    log.debug('dropped');
    log.warn('plain', { n: 1n });
    const ids = await traced('s', SpanKind.INTERNAL, {}, (span) => {
      log.child('worker').info('in span');
      return span.spanContext();
    });
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z WARN {2}\[fanout\] plain \{"n":"1"\}$/);
    expect(lines[1]).toMatch(
      new RegExp(
        `INFO  \\[fanout\\.worker\\] in span trace_id=${ids.traceId} span_id=${ids.spanId}$`,
      ),
    );
  });

  it('json: one pino object per line with level, name, msg, extras and trace ids', async () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'debug', format: 'json' }, 'fanout', (l) => lines.push(l));
    log.info('outside');
    const ids = await traced('s', SpanKind.INTERNAL, {}, (span) => {
      log.child('cdc').error('inside', { segment: 12, big: 2n ** 70n });
      return span.spanContext();
    });
    const [outside, inside] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(outside).toMatchObject({ level: 'info', name: 'fanout', msg: 'outside' });
    expect(outside).not.toHaveProperty('trace_id');
    expect(inside).toMatchObject({
      level: 'error',
      name: 'fanout.cdc',
      msg: 'inside',
      segment: 12,
      trace_id: ids.traceId,
      span_id: ids.spanId,
    });
    expect(typeof inside!.time).toBe('string');
  });

  it('json: drops records below the level', () => {
    const lines: string[] = [];
    createLogger({ level: 'warn', format: 'json' }, 'x', (l) => lines.push(l)).info('no');
    expect(lines).toEqual([]);
  });
});
