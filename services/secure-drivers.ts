/**
 * The two JVMs of the secure local set, as drivers for the generic lifecycle (lifecycle.ts): the
 * plain drivers' start-up, with secured configuration. Kafka: SASL_SSL (SCRAM-SHA-512, PLAIN),
 * mutual TLS, the StandardAuthorizer, SCRAM users made at storage-format time. Cassandra:
 * PasswordAuthenticator, CassandraAuthorizer, TLS required on the native port.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SecureServicePorts } from '../config/ports.ts';
import { cassandraDriver } from './cassandra.ts';
import { withHeap, type ServiceDriver } from './driver.ts';
import { ServiceError } from './errors.ts';
import { kafkaDriver, randomClusterId } from './kafka.ts';
import type { CassandraPaths, KafkaPaths } from './paths.ts';
import type { Pki } from './pki.ts';
import { exists, run } from './process.ts';
import { render, renderTemplate } from './templates.ts';
import { cqlOptionsTls, kafkaApiVersionsTls } from './tls-probes.ts';
import type { Java } from './toolchain.ts';

/** Generated passwords of the secure set (kept in its run dir, readable by the owner only). */
export interface SecureCredentials {
  /** Of the PKCS12 keystores. */
  readonly storePassword: string;
  /** Kafka SCRAM/PLAIN users: fanout-admin (the only super user), fanout-cdc, fanout-worker. */
  readonly kafka: Readonly<Record<string, string>>;
  /** Cassandra roles: fanout_admin (superuser), fanout_app (least privilege). */
  readonly cassandra: Readonly<Record<string, string>>;
}

/** A file of services/conf/secure/. */
export const secureConf = (file: string): string =>
  fileURLToPath(new URL(`./conf/secure/${file}`, import.meta.url));

export function secureKafkaDriver(
  paths: KafkaPaths,
  ports: SecureServicePorts,
  pki: Pki,
  creds: SecureCredentials,
): ServiceDriver {
  const base = kafkaDriver(paths, ports);
  const { host } = ports;
  const { broker, controller, mtls } = ports.kafka;
  const admin = creds.kafka['fanout-admin'] ?? '';
  const vars = {
    host,
    brokerPort: String(broker),
    controllerPort: String(controller),
    mtlsPort: String(mtls),
    dataDir: paths.dataDir,
    keystore: pki.serverP12,
    storePassword: creds.storePassword,
    caPem: pki.caPem,
    adminPassword: admin,
    plainUsers: Object.entries(creds.kafka)
      .map(([user, pw]) => `user_${user}="${pw}"`)
      .join(' '),
    logDir: paths.logDir,
    log4jConfig: paths.log4jConfig,
  };
  return {
    ...base,
    ports: [broker, controller, mtls],
    async prepare(java: Java, log: (line: string) => void): Promise<void> {
      await Promise.all(
        [paths.confDir, paths.dataDir, paths.logDir].map((d) => mkdir(d, { recursive: true })),
      );
      const template = secureConf('kafka.properties');
      await writeFile(
        paths.serverProperties,
        render(await readFile(template, 'utf8'), vars, template),
        {
          mode: 0o600,
        },
      );
      await renderTemplate('kafka', 'log4j2.yaml', paths.log4jConfig, vars);
      if (await exists(join(paths.dataDir, 'meta.properties'))) return;
      // SCRAM credentials live in the metadata log: written at format time, before any broker
      // can serve the request that would create them.
      const scram = Object.entries(creds.kafka).flatMap(([name, pw]) => [
        '--add-scram',
        `SCRAM-SHA-512=[name=${name},password=${pw}]`,
      ]);
      const result = await run(java.command, [
        `-Dlog4j2.configurationFile=${paths.log4jConfig}`,
        '-cp',
        join(paths.jarDir, '*'),
        'kafka.tools.StorageTool',
        'format',
        '--ignore-formatted',
        '-t',
        randomClusterId(),
        '-c',
        paths.serverProperties,
        ...scram,
      ]);
      if (result.code !== 0)
        throw new ServiceError(
          'FORMAT_FAILED',
          `secure Kafka storage format failed (exit ${result.code}): ${result.output.trim().split('\n').slice(-3).join(' ')}`,
        );
      log(`kafka: formatted KRaft storage with SCRAM users ${Object.keys(creds.kafka).join(', ')}`);
    },
    async javaArgs(): Promise<string[]> {
      return withHeap(await base.javaArgs(), '512m');
    },
    probe: () => kafkaApiVersionsTls(host, broker, pki.caPem),
  };
}

export function secureCassandraDriver(
  paths: CassandraPaths,
  ports: SecureServicePorts,
  pki: Pki,
  creds: SecureCredentials,
): ServiceDriver {
  const base = cassandraDriver(paths, ports);
  return {
    ...base,
    async prepare(java: Java, log: (line: string) => void): Promise<void> {
      await base.prepare(java, log);
      const plain = await readFile(paths.cassandraYaml, 'utf8');
      const secured = plain
        .replace(/^authenticator: .*$/m, 'authenticator: PasswordAuthenticator')
        .replace(/^authorizer: .*$/m, 'authorizer: CassandraAuthorizer')
        .replace('cluster_name: fanout-local', 'cluster_name: fanout-local-secure');
      if (!secured.includes('PasswordAuthenticator') || !secured.includes('CassandraAuthorizer'))
        throw new ServiceError(
          'START_FAILED',
          `could not secure ${paths.cassandraYaml}: no authenticator/authorizer line`,
        );
      const tls = [
        '',
        '# Secure set: clients must use TLS (no plaintext fallback); no client certificate needed.',
        'client_encryption_options:',
        '  enabled: true',
        '  optional: false',
        `  keystore: ${pki.serverP12}`,
        `  keystore_password: ${creds.storePassword}`,
        '  store_type: PKCS12',
        '  require_client_auth: false',
        '',
      ].join('\n');
      await writeFile(paths.cassandraYaml, secured + tls, { mode: 0o600 });
    },
    async javaArgs(): Promise<string[]> {
      const args = withHeap(await base.javaArgs(), '512M', '1G');
      // The default superuser is made at once, not 10 s after start, so the launcher can replace it.
      return ['-Dcassandra.superuser_setup_delay_ms=0', ...args];
    },
    probe: () => cqlOptionsTls(ports.host, ports.cassandra.native, pki.caPem),
  };
}
