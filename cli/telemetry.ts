/**
 * Starts the OpenTelemetry SDK for a long-running command: traces over OTLP/HTTP (Jaeger, an OTel
 * collector), metrics on a Prometheus endpoint, W3C trace-context + baggage propagation (NodeSDK's
 * default), cassandra-driver query spans. Library code only uses @opentelemetry/api; this module is
 * the one place the SDK is configured.
 *
 * Invariants: a query span is recorded only inside a trace (root `cassandra-driver.*` spans are
 * dropped, so schema set-up and unsampled batches add nothing); the metrics endpoint takes the
 * first free port of telemetry.prometheusPort and the next 7, which the local Prometheus scrapes,
 * so several processes on one host are all seen.
 */
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import {
  context,
  diag,
  trace,
  ValueType,
  type Attributes,
  type Context,
  type Link,
  type SpanKind,
} from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { CassandraDriverInstrumentation } from '@opentelemetry/instrumentation-cassandra-driver';
import { NodeSDK } from '@opentelemetry/sdk-node';
import {
  ParentBasedSampler,
  SamplingDecision,
  TraceIdRatioBasedSampler,
  type Sampler,
  type SamplingResult,
} from '@opentelemetry/sdk-trace';
import type { Config } from '../config/index.ts';
import { PRODUCT_METRICS_PORTS } from '../config/ports.ts';
import type { Logger } from '../lib/log.ts';
import { currentGauges } from '../lib/metrics.ts';

/** The shutdown of a started SDK (flushes spans; safe to call twice), and where metrics are. */
export type StopTelemetry = (() => Promise<void>) & {
  /** The port the metrics endpoint listens on; undefined when off or no port was free. */
  readonly metricsPort: Promise<number | undefined>;
};

const SHUTDOWN_DEADLINE_MS = 5_000;

/** Drops driver query spans that have no parent; defers everything else to `inner`. */
export class DropOrphanQueries implements Sampler {
  readonly #inner: Sampler;
  constructor(inner: Sampler) {
    this.#inner = inner;
  }
  shouldSample(
    ctx: Context,
    traceId: string,
    name: string,
    kind: SpanKind,
    attributes: Attributes,
    links: Link[],
  ): SamplingResult {
    if (name.startsWith('cassandra-driver.') && !hasParent(ctx))
      return { decision: SamplingDecision.NOT_RECORD };
    return this.#inner.shouldSample(ctx, traceId, name, kind, attributes, links);
  }
  toString(): string {
    return `DropOrphanQueries{${this.#inner.toString()}}`;
  }
}

/** True when `ctx` holds a span (local, or remote from record headers). */
const hasParent = (ctx: Context): boolean => trace.getSpan(ctx) !== undefined;

/** Starts the SDK when telemetry is enabled; returns its shutdown. */
export function startTelemetry(config: Config, component: string, log?: Logger): StopTelemetry {
  const t = config.telemetry;
  if (!t.enabled)
    return Object.assign(async () => undefined, { metricsPort: Promise.resolve(undefined) });
  const exporter =
    t.prometheusPort > 0
      ? new PrometheusExporter({ preventServerStart: true, metricProducers: [currentProducer] })
      : undefined;
  const cassandra = t.cassandraSpans ? new CassandraDriverInstrumentation() : undefined;
  const sdk = new NodeSDK({
    serviceName: `${t.serviceName}-${component}`,
    traceExporter: new OTLPTraceExporter({ url: `${t.otlpEndpoint.replace(/\/$/, '')}/v1/traces` }),
    sampler: new DropOrphanQueries(
      new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(t.traceSampleRatio) }),
    ),
    ...(exporter ? { metricReaders: [exporter] } : {}),
    instrumentations: cassandra ? [cassandra] : [],
  });
  sdk.start();
  // The instrumentation patches cassandra-driver when it is next required; the CLI imported it
  // (as ESM, which the hook does not see) before the SDK started. Requiring it again patches the
  // one shared module object in place.
  if (cassandra) patchLoadedDriver();
  let server: Server | undefined;
  const metricsPort = exporter
    ? listenOnFreePort(exporter, t.prometheusHost, t.prometheusPort, log).then((s) => {
        server = s?.server;
        return s?.port;
      })
    : Promise.resolve(undefined);
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      const deadline = new Promise<void>((r) => setTimeout(r, SHUTDOWN_DEADLINE_MS).unref());
      await Promise.race([sdk.shutdown().catch(() => undefined), deadline]);
      await metricsPort;
      await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    })());
  return Object.assign(stop, { metricsPort });
}

type MetricProducer = NonNullable<
  NonNullable<ConstructorParameters<typeof PrometheusExporter>[0]>['metricProducers']
>[number];
type CollectionResult = Awaited<ReturnType<MetricProducer['collect']>>;

/**
 * The gauges whose series come and go (lib/metrics.ts `CurrentGauge`: per tweet, per partition)
 * as gauges holding only the current points at each scrape.
 * The numbers are the SDK's enums (sdk-metrics is not a dependency of its own here): data point
 * type GAUGE = 2, temporality CUMULATIVE = 1; the exporter ignores the resource.
 */
const currentProducer: MetricProducer = {
  collect(): Promise<CollectionResult> {
    const ms = Date.now();
    const time: [number, number] = [Math.floor(ms / 1000), (ms % 1000) * 1_000_000];
    const result = {
      resourceMetrics: {
        resource: undefined,
        scopeMetrics: [
          {
            scope: { name: 'fanout' },
            metrics: currentGauges().map(({ gauge, points }) => ({
              descriptor: {
                name: gauge.name,
                description: gauge.description,
                unit: '',
                valueType: ValueType.DOUBLE,
              },
              aggregationTemporality: 1,
              dataPointType: 2,
              dataPoints: points.map((p) => ({
                attributes: p.attributes,
                startTime: time,
                endTime: time,
                value: p.value,
              })),
            })),
          },
        ],
      },
      errors: [],
    };
    return Promise.resolve(result as unknown as CollectionResult);
  },
};

function patchLoadedDriver(): void {
  const require = createRequire(import.meta.url);
  const driver = require('cassandra-driver') as { Client: { prototype: object } };
  require('cassandra-driver/lib/request-execution.js');
  for (const method of ['_execute', 'batch', 'stream'])
    skipOutsideTraces(driver.Client.prototype as Record<string, unknown>, method);
}

/** A method the instrumentation wrapped (its shimmer keeps the original). */
type Wrapped = ((...args: unknown[]) => unknown) & { __original?: (...args: unknown[]) => unknown };

/**
 * Calls the driver's own `method` when no span is active: the instrumentation would make a span
 * that DropOrphanQueries drops anyway, after joining a batch's 50 statements into one string and
 * binding its promise: ~60 µs per unsampled batch, most of what tracing cost a fan-out (#16).
 * Unwrapping (the SDK's shutdown) puts the driver's own method back.
 */
function skipOutsideTraces(proto: Record<string, unknown>, method: string): void {
  const patched = proto[method] as Wrapped | undefined;
  const original = patched?.__original;
  if (typeof patched !== 'function' || typeof original !== 'function') return;
  const gate = function (this: unknown, ...args: unknown[]): unknown {
    return (trace.getSpan(context.active()) === undefined ? original : patched).apply(this, args);
  };
  for (const [key, value] of Object.entries({
    __original: original,
    __wrapped: true,
    __unwrap: () => {
      if (proto[method] === gate) proto[method] = original;
    },
  }))
    Object.defineProperty(gate, key, { value, configurable: true, enumerable: false });
  proto[method] = gate;
}

/**
 * Serves `/metrics` on the first free port from `first` (up to {@link PRODUCT_METRICS_PORTS}
 * ports), logging which; without a free one, warns and serves nothing.
 */
async function listenOnFreePort(
  exporter: PrometheusExporter,
  host: string,
  first: number,
  log: Logger | undefined,
): Promise<{ server: Server; port: number } | undefined> {
  const server = createServer((req, res) => {
    if (req.url === '/metrics' || req.url?.startsWith('/metrics?') === true)
      exporter.getMetricsRequestHandler(req, res);
    else res.writeHead(404).end('not found: metrics are at /metrics\n');
  }).unref();
  const last = Math.min(first + PRODUCT_METRICS_PORTS - 1, 65_535);
  for (let port = first; port <= last; port++) {
    const error = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      server.once('error', resolve);
      server.listen({ host, port, exclusive: true }, () => {
        server.off('error', resolve);
        resolve(undefined);
      });
    });
    if (error === undefined) {
      log?.info(`metrics on http://${host}:${port}/metrics`, { port });
      return { server, port };
    }
    if (error.code !== 'EADDRINUSE') {
      log?.warn(`metrics endpoint not started on ${host}:${port}: ${error.message}`);
      diag.error('metrics endpoint', error);
      return undefined;
    }
  }
  log?.warn(
    `metrics endpoint not started: ports ${first}-${last} on ${host} are all in use (telemetry.prometheusPort, env FANOUT_PROMETHEUS_PORT)`,
  );
  return undefined;
}
