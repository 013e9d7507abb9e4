/**
 * The loopback ports of the project's local services (started by services/launcher.ts): Kafka and
 * Cassandra, and on request Jaeger and Prometheus. Here because the configuration's default
 * endpoints follow them (FANOUT_PORT_OFFSET).
 */
import { ConfigError } from './errors.ts';

/** The loopback addresses and ports of one set of services. */
export interface ServicePorts {
  readonly host: string;
  readonly kafka: { readonly broker: number; readonly controller: number };
  readonly cassandra: { readonly native: number; readonly storage: number; readonly jmx: number };
  /** Jaeger v2 all-in-one: OTLP receivers, the query API (and placeholder UI), health check. */
  readonly jaeger: {
    readonly otlpGrpc: number;
    readonly otlpHttp: number;
    readonly query: number;
    readonly queryGrpc: number;
    readonly health: number;
    /** Jaeger's own (collector) metrics. */
    readonly metrics: number;
  };
  readonly prometheus: { readonly http: number };
  /**
   * The metrics ports of the product's processes that the local Prometheus scrapes: the first is
   * telemetry.prometheusPort's default, one more per further process on the host.
   */
  readonly productMetrics: readonly number[];
}

/** How many product processes (connector, workers, demo) per host the local scrape config covers. */
export const PRODUCT_METRICS_PORTS = 8;

/**
 * The ports of the services, each shifted by `offset` (default `$FANOUT_PORT_OFFSET`, else 0):
 * a second set of services (another FANOUT_HOME, e.g. a test that kills Cassandra without
 * disturbing the shared one) can run beside the first. Everything binds 127.0.0.1 only.
 */
export function servicePorts(offset: number = portOffsetFromEnv()): ServicePorts {
  if (!Number.isInteger(offset) || offset < 0 || offset > 50_000) {
    throw new TypeError(
      `port offset must be an integer from 0 to 50000, not ${offset} (FANOUT_PORT_OFFSET)`,
    );
  }
  return Object.freeze({
    host: '127.0.0.1',
    kafka: Object.freeze({ broker: 9092 + offset, controller: 9093 + offset }),
    cassandra: Object.freeze({ native: 9042 + offset, storage: 7000 + offset, jmx: 7199 + offset }),
    jaeger: Object.freeze({
      otlpGrpc: 4317 + offset,
      otlpHttp: 4318 + offset,
      query: 16686 + offset,
      queryGrpc: 16685 + offset,
      health: 13133 + offset,
      metrics: 8888 + offset,
    }),
    prometheus: Object.freeze({ http: 9090 + offset }),
    productMetrics: Object.freeze(
      Array.from({ length: PRODUCT_METRICS_PORTS }, (_, i) => 9464 + offset + i),
    ),
  });
}

/** `$FANOUT_PORT_OFFSET` as a number (0 when unset); a ConfigError naming it when malformed. */
export function portOffsetFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const text = env['FANOUT_PORT_OFFSET'];
  if (text === undefined || text === '') return 0;
  if (!/^\d{1,5}$/.test(text) || Number(text) > 50_000)
    throw new ConfigError([
      `env FANOUT_PORT_OFFSET must be a whole number from 0 to 50000 (added to every local service port), got ${JSON.stringify(text)}`,
    ]);
  return Number(text);
}

/** How far the secure set of services (`services up --secure`) sits above the plain one. */
export const SECURE_PORT_SHIFT = 100;

/** The ports of the secure set: the plain ones + 100, plus Kafka's mutual-TLS listener. */
export interface SecureServicePorts extends ServicePorts {
  readonly kafka: ServicePorts['kafka'] & {
    /** SSL listener that requires a client certificate (the broker port is SASL_SSL). */
    readonly mtls: number;
  };
}

/**
 * The ports of the secure local services: Kafka SASL_SSL 9192, controller 9193, mutual TLS 9194;
 * Cassandra (TLS only) 9142, storage 7100, JMX 7299; each shifted by `offset` like
 * {@link servicePorts}, so both sets run at once.
 */
export function secureServicePorts(offset: number = portOffsetFromEnv()): SecureServicePorts {
  const p = servicePorts(offset + SECURE_PORT_SHIFT);
  return Object.freeze({
    ...p,
    kafka: Object.freeze({ ...p.kafka, mtls: p.kafka.controller + 1 }),
  });
}
