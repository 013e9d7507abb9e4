/**
 * Sampling of per-unit spans in bulk work (a 500k fan-out writes 10,000 batches): every Nth unit
 * gets a live, active span (driver query spans nest under it); any other unit that turns out slow,
 * fails or records an event (a retry) gets its span after the fact, with its real start, end and
 * events, but no children. Units without a span run with no active span, so their driver queries
 * make root spans, which the SDK's sampler drops (cli/telemetry.ts). The owner of the work reads
 * the totals onto its own span.
 */
import {
  context,
  SpanKind,
  trace,
  type Attributes,
  type AttributeValue,
  type Link,
  type Span,
} from '@opentelemetry/api';
import { recordFailure, traced, tracer, type SpanPlacement } from './telemetry.ts';

/** telemetry.batchSpans and its two knobs. */
export interface BatchSpanPolicy {
  /** all: a span per unit; none: no unit spans; sampled: every Nth plus slow, failed, retried. */
  readonly mode: 'all' | 'none' | 'sampled';
  /** sampled: the 1st, (N+1)th, (2N+1)th… unit get a live span. */
  readonly every: number;
  /** sampled: a unit slower than this many ms gets a span after the fact. */
  readonly slowMs: number;
}

/** What a unit of work may add to its span, whether that span exists yet or not. */
export interface SampledSpan {
  addEvent(name: string, attributes?: Attributes): void;
  setAttribute(key: string, value: AttributeValue): void;
}

type Reason = 'all' | 'nth' | 'slow' | 'failed' | 'event';

/** Counts of one sampler's units: how many ran, and how many got a span for which reason. */
export interface SamplerTotals {
  units: number;
  spans: number;
  slow: number;
  failed: number;
}

/** One sampler per owner of bulk work (one per tweet: each tweet's first unit gets a span). */
export class SpanSampler {
  readonly #policy: BatchSpanPolicy;
  readonly #now: () => number;
  readonly #totals: SamplerTotals = { units: 0, spans: 0, slow: 0, failed: 0 };

  constructor(
    policy: BatchSpanPolicy,
    now: () => number = () => performance.timeOrigin + performance.now(),
  ) {
    if (!Number.isInteger(policy.every) || policy.every < 1)
      throw new RangeError(`every must be a whole number >= 1, got ${policy.every}`);
    this.#policy = policy;
    this.#now = now;
  }

  /** Runs one unit of work under the policy (see the module comment). */
  run<T>(
    name: string,
    kind: SpanKind,
    attributes: Attributes,
    fn: (span: SampledSpan) => Promise<T>,
    placement: SpanPlacement = {},
  ): Promise<T> {
    const index = this.#totals.units++;
    const { mode, every } = this.#policy;
    if (mode === 'all' || (mode === 'sampled' && index % every === 0)) {
      this.#totals.spans++;
      const reason: Reason = mode === 'all' ? 'all' : 'nth';
      return traced(name, kind, { ...attributes, 'fanout.span.sampled': reason }, fn, placement);
    }
    return this.#unsampled(name, kind, attributes, fn, placement);
  }

  /** The counts so far. */
  totals(): Readonly<SamplerTotals> {
    return { ...this.#totals };
  }

  /** The counts as span attributes `<prefix>.units`, `<prefix>.spans`, `.slow`, `.failed`. */
  attributes(prefix: string): Attributes {
    const t = this.#totals;
    return {
      [`${prefix}.units`]: t.units,
      [`${prefix}.spans`]: t.spans,
      [`${prefix}.slow`]: t.slow,
      [`${prefix}.failed`]: t.failed,
    };
  }

  async #unsampled<T>(
    name: string,
    kind: SpanKind,
    attributes: Attributes,
    fn: (span: SampledSpan) => Promise<T>,
    placement: SpanPlacement,
  ): Promise<T> {
    const parent = placement.parent ?? context.active();
    const events: { name: string; attributes: Attributes | undefined; time: number }[] = [];
    const extra: Attributes = {};
    const pending: SampledSpan = {
      addEvent: (event, attrs) =>
        events.push({ name: event, attributes: attrs, time: this.#now() }),
      setAttribute: (key, value) => {
        extra[key] = value;
      },
    };
    const start = this.#now();
    const late = (reason: Reason): Span => {
      this.#totals.spans++;
      const span = tracer.startSpan(
        name,
        {
          kind,
          attributes: { ...attributes, ...extra, 'fanout.span.sampled': reason },
          startTime: start,
          ...(placement.links && placement.links.length > 0
            ? { links: [...placement.links] as Link[] }
            : {}),
        },
        parent,
      );
      for (const e of events) span.addEvent(e.name, e.attributes, e.time);
      return span;
    };
    // No span is active inside: the unit's driver queries must not hang under the owner's span.
    const bare = trace.deleteSpan(context.active());
    if (this.#policy.mode === 'none') return context.with(bare, () => fn(pending));
    let result: T;
    try {
      result = await context.with(bare, () => fn(pending));
    } catch (error) {
      this.#totals.failed++;
      const span = late('failed');
      recordFailure(span, error);
      span.end(this.#now());
      throw error;
    }
    const end = this.#now();
    if (end - start > this.#policy.slowMs) {
      this.#totals.slow++;
      late('slow').end(end);
    } else if (events.length > 0) {
      late('event').end(end);
    }
    return result;
  }
}
