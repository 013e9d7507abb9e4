/**
 * Starts the OpenTelemetry SDK for a long-running command: traces over OTLP/HTTP (Jaeger, an OTel
 * collector) and metrics on a Prometheus endpoint. Library code only uses @opentelemetry/api;
 * this entry-point module is the one place the SDK is configured. W3C trace context is the
 * default propagator, so traceparent headers on Kafka records join up across processes.
 */
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { ParentBasedSampler, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace';
import type { Config } from '../config/index.ts';

/** Starts the SDK when telemetry is enabled; returns its shutdown (flushes spans). */
export function startTelemetry(config: Config, component: string): () => Promise<void> {
  const t = config.telemetry;
  if (!t.enabled) return async () => undefined;
  const sdk = new NodeSDK({
    serviceName: `${t.serviceName}-${component}`,
    traceExporter: new OTLPTraceExporter({ url: `${t.otlpEndpoint.replace(/\/$/, '')}/v1/traces` }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(t.traceSampleRatio) }),
    ...(t.prometheusPort > 0
      ? { metricReaders: [new PrometheusExporter({ port: t.prometheusPort, host: '127.0.0.1' })] }
      : {}),
    instrumentations: [],
  });
  sdk.start();
  let stopped: Promise<void> | undefined;
  return () => (stopped ??= sdk.shutdown().catch(() => undefined));
}
