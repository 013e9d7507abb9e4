/**
 * The one tracing helper library code uses (only @opentelemetry/api; the entry point starts the
 * SDK), plus W3C trace-context headers for records crossing Kafka.
 */
import { randomBytes } from 'node:crypto';
import { redactSecrets } from '../config/index.ts';
import {
  context,
  propagation,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
} from '@opentelemetry/api';

export const tracer = trace.getTracer('fanout');

/** Runs `fn` in a span: sets its kind, records an exception, always ends it. */
export async function traced<T>(
  name: string,
  kind: SpanKind,
  attributes: Attributes,
  fn: (span: Span) => Promise<T>,
  parent?: Context,
): Promise<T> {
  return tracer.startActiveSpan(
    name,
    { kind, attributes: redactAttributes(attributes) },
    parent ?? context.active(),
    async (span) => {
      try {
        return await fn(span);
      } catch (err) {
        // Exported spans leave the process: no secret in them (config/secrets.ts).
        const e = err as Error;
        const message = redactSecrets(e.message);
        span.recordException({ name: e.name, message, stack: redactSecrets(e.stack ?? '') });
        span.setStatus({ code: SpanStatusCode.ERROR, message });
        throw err;
      } finally {
        span.end();
      }
    },
  );
}

/** `attributes` with every registered secret removed from their string values. */
export function redactAttributes(attributes: Attributes): Attributes {
  const out: Attributes = {};
  for (const [k, v] of Object.entries(attributes))
    out[k] = typeof v === 'string' ? redactSecrets(v) : v;
  return out;
}

/**
 * The `traceparent` header value for a span. Without an SDK (tests, tools) spans are not
 * recording and carry no ids: a fresh random trace id is minted then, so every record still
 * starts a trace that later stages can join.
 */
export function traceparentOf(span: Span): string {
  const sc = span.spanContext();
  if (trace.isSpanContextValid(sc))
    return `00-${sc.traceId}-${sc.spanId}-0${(sc.traceFlags & 1).toString(16)}`;
  return `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`;
}

/** The context carried by a record's headers (W3C traceparent / tracestate). */
export function contextFromHeaders(headers: Record<string, unknown> | undefined): Context {
  const carrier: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    // Kafka header values arrive as Buffers or strings.
    if (typeof v === 'string') carrier[k.toLowerCase()] = v;
    else if (Buffer.isBuffer(v)) carrier[k.toLowerCase()] = v.toString('utf8');
  }
  return propagation.extract(context.active(), carrier);
}

export { SpanKind };
