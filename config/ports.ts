/**
 * The loopback ports of the project's local Kafka and Cassandra (started by services/launcher.ts),
 * here because the configuration's default endpoints follow them (FANOUT_PORT_OFFSET).
 */

/** The loopback addresses and ports of one set of services. */
export interface ServicePorts {
  readonly host: string;
  readonly kafka: { readonly broker: number; readonly controller: number };
  readonly cassandra: { readonly native: number; readonly storage: number; readonly jmx: number };
}

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
  });
}

/** `$FANOUT_PORT_OFFSET` as a number (0 when unset). */
export function portOffsetFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const text = env['FANOUT_PORT_OFFSET'];
  return text === undefined || text === '' ? 0 : Number(text);
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
