/**
 * The tracing helpers library code uses (only @opentelemetry/api; the entry point starts the SDK,
 * cli/telemetry.ts). Context crosses Kafka in record headers through the global propagator (W3C
 * traceparent + tracestate, baggage): without an SDK the propagator is a no-op, so no header is
 * written and no trace id is ever invented. Spans made by {@link traced} and {@link startSpan}'s
 * `run` are active, so spans started inside them (cassandra-driver queries) become children.
 * Per-batch spans of a big fan-out go through a SpanSampler (span-sampler.ts, telemetry.batchSpans).
 */
import { randomBytes } from 'node:crypto';
import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Link,
  type Span,
  type SpanContext,
  type TimeInput,
} from '@opentelemetry/api';
import { redactSecrets } from '../config/index.ts';

export const tracer = trace.getTracer('fanout');

/** Kafka record headers as clients hand them over: strings, Buffers, or lists of either. */
export type RecordHeaders = Readonly<
  Record<string, string | Buffer | readonly (string | Buffer)[] | undefined>
>;

/** Where a new span hangs: its parent context and the spans it links to. */
export interface SpanPlacement {
  /** Parent context; default the active one. */
  readonly parent?: Context;
  /** Links, e.g. from a batch span to each tweet whose rows it writes. */
  readonly links?: readonly Link[];
  /** When the work began, if before the span is made (default: now). */
  readonly startTime?: TimeInput;
}

/**
 * Writes the trace headers of `ctx` (default: the active context) into `headers` and returns it.
 * Writes nothing when no SDK runs or no valid span is in `ctx`.
 */
export function inject(
  headers: Record<string, string>,
  ctx: Context = context.active(),
): Record<string, string> {
  propagation.inject(ctx, headers);
  return headers;
}

/** The trace headers of `span` (see {@link inject}); `{}` when it is not a real span. */
export function headersOf(span: Span): Record<string, string> {
  return inject({}, trace.setSpan(context.active(), span));
}

/** The context carried by record headers (W3C traceparent, tracestate, baggage) over `base`. */
export function extract(headers: RecordHeaders | undefined, base: Context = ROOT_CONTEXT): Context {
  const carrier: Record<string, string> = {};
  for (const [key, raw] of Object.entries(headers ?? {})) {
    const value = Array.isArray(raw) ? (raw as readonly (string | Buffer)[])[0] : raw;
    if (typeof value === 'string') carrier[key.toLowerCase()] = value;
    else if (Buffer.isBuffer(value)) carrier[key.toLowerCase()] = value.toString('utf8');
  }
  return propagation.extract(base, carrier);
}

/** A link to the span a context (or record headers) carries; undefined when there is none. */
export function linkTo(from: Context | Span, attributes?: Attributes): Link | undefined {
  const sc: SpanContext | undefined =
    'spanContext' in from ? from.spanContext() : trace.getSpanContext(from);
  if (sc === undefined || !trace.isSpanContextValid(sc)) return undefined;
  return attributes === undefined ? { context: sc } : { context: sc, attributes };
}

/** Marks `span` failed with `error`. */
export function recordFailure(span: Span, error: unknown): void {
  const err = error instanceof Error ? error : new Error(String(error));
  // Exported spans leave the process: no secret in them (config/secrets.ts).
  const message = redactSecrets(err.message);
  span.recordException({ name: err.name, message, stack: redactSecrets(err.stack ?? '') });
  span.setStatus({ code: SpanStatusCode.ERROR, message });
}

/** `attributes` with every registered secret removed from their string values. */
export function redactAttributes(attributes: Attributes): Attributes {
  const out: Attributes = {};
  for (const [k, v] of Object.entries(attributes))
    out[k] = typeof v === 'string' ? redactSecrets(v) : v;
  return out;
}

/**
 * Runs `fn` in a new span that is ACTIVE for its whole run (context.with): sets its kind, records
 * an exception, always ends it.
 */
export function traced<T>(
  name: string,
  kind: SpanKind,
  attributes: Attributes,
  fn: (span: Span) => Promise<T> | T,
  placement: SpanPlacement = {},
): Promise<T> {
  const parent = placement.parent ?? context.active();
  const span = tracer.startSpan(name, spanOptions(kind, attributes, placement.links), parent);
  return context.with(trace.setSpan(parent, span), async () => {
    try {
      return await fn(span);
    } catch (error) {
      recordFailure(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}

/** A span that outlives one call: a tweet's fan-out, across seconds of callbacks. */
export interface LongSpan {
  readonly span: Span;
  /** The parent context with this span in it: the parent of its children. */
  readonly context: Context;
  /** Runs `fn` with this span active, so spans started inside are its children. */
  run<T>(fn: () => T): T;
  /** The trace headers for records this span produces (see {@link inject}). */
  headers(): Record<string, string>;
  /** Ends the span (failed when `error` is given); later calls do nothing. */
  end(error?: unknown): void;
}

/** Starts a {@link LongSpan}; it is active only inside its `run`. */
export function startSpan(
  name: string,
  kind: SpanKind,
  attributes: Attributes,
  placement: SpanPlacement = {},
): LongSpan {
  const parent = placement.parent ?? context.active();
  const span = tracer.startSpan(
    name,
    spanOptions(kind, attributes, placement.links, placement.startTime),
    parent,
  );
  const ctx = trace.setSpan(parent, span);
  let ended = false;
  return {
    span,
    context: ctx,
    run: (fn) => context.with(ctx, fn),
    headers: () => inject({}, ctx),
    end(error?: unknown): void {
      if (ended) return;
      ended = true;
      if (error !== undefined) recordFailure(span, error);
      span.end();
    },
  };
}

function spanOptions(
  kind: SpanKind,
  attributes: Attributes,
  links: readonly Link[] | undefined,
  startTime?: TimeInput,
): { kind: SpanKind; attributes: Attributes; links?: Link[]; startTime?: TimeInput } {
  return {
    kind,
    attributes: redactAttributes(attributes),
    ...(links && links.length > 0 ? { links: [...links] } : {}),
    ...(startTime === undefined ? {} : { startTime }),
  };
}

/**
 * The `traceparent` header value for a span; without an SDK, a random one (unchanged behaviour
 * until its callers move).
 * @deprecated Use {@link inject} / {@link headersOf}: they keep tracestate, and write nothing
 *   without an SDK instead of inventing a trace whose parent never exists (issue #16).
 */
export function traceparentOf(span: Span): string {
  const sc = span.spanContext();
  if (trace.isSpanContextValid(sc))
    return `00-${sc.traceId}-${sc.spanId}-0${(sc.traceFlags & 1).toString(16)}`;
  return `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`;
}

/**
 * The context carried by a record's headers.
 * @deprecated Use {@link extract}.
 */
export function contextFromHeaders(headers: Record<string, unknown> | undefined): Context {
  return extract(headers as RecordHeaders | undefined, context.active());
}

export { SpanKind };
