/**
 * The secure local services (`fanout services up --secure`): a second Kafka and Cassandra, on
 * their own ports (config/ports.ts `secureServicePorts`) and run dir (`<home>/secure/`), so the
 * plain set keeps serving the demo and the other tests. A throwaway CA signs their certificates;
 * passwords are generated once and kept in files readable by the owner only, which clients are
 * handed through `*_FILE` variables. Only `fanout-admin` / `fanout_admin` are super users: the
 * product runs as `fanout-cdc` / `fanout-worker` (Kafka) and `fanout_app` (Cassandra) with the
 * least privilege config/access.ts computes.
 */
import { join } from 'node:path';
import { kafkaAcls } from '../config/access.ts';
import { loadConfig } from '../config/index.ts';
import { secureServicePorts, type SecureServicePorts } from '../config/ports.ts';
import type { ServiceDriver } from './driver.ts';
import { ServiceError } from './errors.ts';
import { startService, stopService } from './lifecycle.ts';
import { clientCertificate, ensurePki } from './pki.ts';
import { applyKafkaAcls, ensureCassandraRoles } from './secure-access.ts';
import { secureCassandraDriver, secureKafkaDriver } from './secure-drivers.ts';
import { secureCredentials, securePaths, type SecureOptions } from './secure-paths.ts';
import { findJava } from './toolchain.ts';

export type { SecureCredentials } from './secure-drivers.ts';
export { applyCassandraGrants, applyKafkaAcls, secureCassandraClient } from './secure-access.ts';
export { secureCredentials, securePaths } from './secure-paths.ts';
export type { SecureOptions, SecurePaths } from './secure-paths.ts';

async function drivers(opts: SecureOptions): Promise<[ServiceDriver, ServiceDriver]> {
  const paths = securePaths(opts.home);
  const ports = secureServicePorts(opts.portOffset);
  const creds = await secureCredentials(opts.home);
  const pki = await ensurePki(paths.pki.dir, creds.storePassword);
  return [
    secureKafkaDriver(paths.kafka, ports, pki, creds),
    secureCassandraDriver(paths.cassandra, ports, pki, creds),
  ];
}

/**
 * Starts the secure Kafka and Cassandra (concurrently), then makes sure the Cassandra roles
 * exist and the product's Kafka ACLs for the default names are in place. Idempotent.
 */
export async function secureServicesUp(
  opts: SecureOptions & { timeoutMs?: number } = {},
): Promise<void> {
  const log = opts.log ?? ((): void => {});
  const began = Date.now();
  const java = await findJava();
  const set = await drivers(opts);
  const results = await Promise.allSettled(
    set.map((d) =>
      startService(d, java, (l) => log(`secure ${l}`), opts.timeoutMs ?? d.defaultStartTimeoutMs),
    ),
  );
  const failed = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
  if (failed.length > 0)
    throw new ServiceError('START_FAILED', failed.map((e) => e.message).join('\n\n'), {
      causes: failed,
    });
  await ensureCassandraRoles(opts);
  log('secure cassandra: roles fanout_admin (superuser) and fanout_app (login only) in place');
  await applyKafkaAcls(kafkaAcls(loadConfig({ env: {} })), opts);
  log('secure kafka: ACLs of the product for the default names in place');
  log(`secure services ready after ${((Date.now() - began) / 1000).toFixed(1)} s`);
}

/** Stops the secure set (data kept; `purge` deletes `<home>/secure`). */
export async function secureServicesDown(
  opts: SecureOptions & { purge?: boolean } = {},
): Promise<void> {
  const log = opts.log ?? ((): void => {});
  const set = await drivers(opts);
  await Promise.all(
    set.map(async (d) => {
      if (!(await stopService(d, 30_000, (l) => log(`secure ${l}`))))
        log(`secure ${d.name}: not running`);
    }),
  );
  if (opts.purge) {
    const { rm } = await import('node:fs/promises');
    const root = securePaths(opts.home).root;
    await rm(root, { recursive: true, force: true });
    log(`secure: deleted ${root}`);
  }
}

/** Who a client of the secure set is. */
export type SecureIdentity = 'connector' | 'worker' | 'admin';

/**
 * Settings (`--set` pairs) and environment (`*_FILE` secrets) of a product process against the
 * secure set: SASL_SSL with SCRAM-SHA-512 (or mutual TLS with `mtls`) as the identity's Kafka
 * user, TLS with password authentication to Cassandra as fanout_app (fanout_admin for `admin`).
 */
export function secureClientSettings(
  who: SecureIdentity,
  opts: SecureOptions & { mtls?: { cert: string; key: string } } = {},
): { sets: string[]; env: Record<string, string> } {
  const paths = securePaths(opts.home);
  const ports: SecureServicePorts = secureServicePorts(opts.portOffset);
  const user =
    who === 'connector' ? 'fanout-cdc' : who === 'worker' ? 'fanout-worker' : 'fanout-admin';
  const role = who === 'admin' ? 'fanout_admin' : 'fanout_app';
  const kafka = opts.mtls
    ? [
        `kafka.brokers=${ports.host}:${ports.kafka.mtls}`,
        'kafka.securityProtocol=ssl',
        `kafka.sslCertificateLocation=${opts.mtls.cert}`,
        `kafka.sslKeyLocation=${opts.mtls.key}`,
      ]
    : [
        `kafka.brokers=${ports.host}:${ports.kafka.broker}`,
        'kafka.securityProtocol=sasl_ssl',
        'kafka.saslMechanism=scram-sha-512',
        `kafka.saslUsername=${user}`,
      ];
  return {
    sets: [
      ...kafka,
      `kafka.sslCaLocation=${paths.pki.caPem}`,
      `cassandra.contactPoints=${ports.host}:${ports.cassandra.native}`,
      `cassandra.username=${role}`,
      'cassandra.tls=true',
      `cassandra.tlsCaFile=${paths.pki.caPem}`,
      `cdc.rawDir=${paths.cassandra.cdcRawDir}`,
    ],
    env: {
      ...(opts.mtls
        ? {}
        : { FANOUT_KAFKA_SASL_PASSWORD_FILE: join(paths.secretsDir, `kafka-${user}`) }),
      FANOUT_CASSANDRA_PASSWORD_FILE: join(paths.secretsDir, `cassandra-${role}`),
    },
  };
}

/** A client certificate for mutual TLS as Kafka principal `User:<name>`. */
export async function secureClientCertificate(
  name: string,
  opts: SecureOptions = {},
): Promise<{ cert: string; key: string }> {
  return clientCertificate(securePaths(opts.home).pki, name);
}
