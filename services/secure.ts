/**
 * The secure local services (`fanout services up --secure`): a second Kafka and Cassandra, on
 * their own ports (config/ports.ts `secureServicePorts`) and run dir (`<home>/secure/`), so the
 * plain set keeps serving the demo and the other tests. A throwaway CA signs their certificates;
 * passwords are generated once and kept in files readable by the owner only, which clients are
 * handed through `*_FILE` variables. Only `fanout-admin` / `fanout_admin` are super users: the
 * product runs as `fanout-cdc` / `fanout-worker` (Kafka) and `fanout_app` (Cassandra) with the
 * least privilege config/access.ts computes.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import cassandra from 'cassandra-driver';
import { cassandraGrants, kafkaAcls, type KafkaAcl } from '../config/access.ts';
import { loadConfig, type Config } from '../config/index.ts';
import { secureServicePorts, type SecureServicePorts } from '../config/ports.ts';
import type { ServiceDriver } from './driver.ts';
import { ServiceError } from './errors.ts';
import { startService, stopService } from './lifecycle.ts';
import { fanoutHome, servicePaths, type CassandraPaths, type KafkaPaths } from './paths.ts';
import { clientCertificate, ensurePki, pkiPaths, type Pki } from './pki.ts';
import { exists, poll, run } from './process.ts';
import {
  secureCassandraDriver,
  secureConf,
  secureKafkaDriver,
  type SecureCredentials,
} from './secure-drivers.ts';
import { findJava } from './toolchain.ts';

export type { SecureCredentials } from './secure-drivers.ts';

export interface SecurePaths {
  /** `<home>/secure`: everything of the secure set; `down --purge` deletes it. */
  readonly root: string;
  readonly pki: Pki;
  /** One file per password (mode 0600), for `*_FILE` variables. */
  readonly secretsDir: string;
  readonly credentialsFile: string;
  /** Client properties of the Kafka admin (for kafka-acls.sh-style tools). */
  readonly adminProperties: string;
  readonly kafka: KafkaPaths;
  readonly cassandra: CassandraPaths;
}

export interface SecureOptions {
  readonly log?: (line: string) => void;
  readonly home?: string;
  readonly portOffset?: number;
}

/** Paths of the secure set: its own run dirs under `<home>/secure`, the plain set's jars. */
export function securePaths(home: string = fanoutHome()): SecurePaths {
  const plain = servicePaths(home);
  const root = join(plain.home, 'secure');
  const own = servicePaths(root);
  return {
    root,
    pki: pkiPaths(join(root, 'pki')),
    secretsDir: join(root, 'secrets'),
    credentialsFile: join(root, 'credentials.json'),
    adminProperties: join(root, 'admin.properties'),
    kafka: { ...own.kafka, jarDir: plain.kafka.jarDir },
    cassandra: { ...own.cassandra, jarDir: plain.cassandra.jarDir },
  };
}

const password = (): string => randomBytes(18).toString('base64url');

/** The secure set's passwords, generated at its first start. */
export async function secureCredentials(home?: string): Promise<SecureCredentials> {
  const paths = securePaths(home);
  if (await exists(paths.credentialsFile))
    return JSON.parse(await readFile(paths.credentialsFile, 'utf8')) as SecureCredentials;
  const creds: SecureCredentials = {
    storePassword: password(),
    kafka: { 'fanout-admin': password(), 'fanout-cdc': password(), 'fanout-worker': password() },
    cassandra: { fanout_admin: password(), fanout_app: password() },
  };
  await mkdir(paths.secretsDir, { recursive: true, mode: 0o700 });
  await writeFile(paths.credentialsFile, JSON.stringify(creds, null, 2), { mode: 0o600 });
  for (const [user, pw] of Object.entries(creds.kafka))
    await writeFile(join(paths.secretsDir, `kafka-${user}`), `${pw}\n`, { mode: 0o600 });
  for (const [role, pw] of Object.entries(creds.cassandra))
    await writeFile(join(paths.secretsDir, `cassandra-${role}`), `${pw}\n`, { mode: 0o600 });
  return creds;
}

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

/** A cassandra-driver client of the secure node, as `role` (TLS, CA checked). */
export async function secureCassandraClient(
  role: string,
  pw: string,
  opts: SecureOptions = {},
): Promise<cassandra.Client> {
  const ports = secureServicePorts(opts.portOffset);
  const ca = await readFile(securePaths(opts.home).pki.caPem);
  const client = new cassandra.Client({
    contactPoints: [`${ports.host}:${ports.cassandra.native}`],
    localDataCenter: 'datacenter1',
    credentials: { username: role, password: pw },
    sslOptions: { ca: [ca], rejectUnauthorized: true },
    encoding: { useBigIntAsLong: true, useBigIntAsVarint: true },
  });
  await client.connect();
  return client;
}

/**
 * Replaces Cassandra's default superuser (cassandra/cassandra) by fanout_admin and makes the
 * application role fanout_app (login only: its GRANTs come per keyspace, after schema apply).
 */
async function ensureCassandraRoles(opts: SecureOptions): Promise<void> {
  const creds = await secureCredentials(opts.home);
  const adminPw = creds.cassandra.fanout_admin ?? '';
  let admin = await secureCassandraClient('fanout_admin', adminPw, opts).catch(() => undefined);
  if (admin === undefined) {
    // First start: the default superuser appears shortly after the node serves clients.
    const first = await poll(
      () => secureCassandraClient('cassandra', 'cassandra', opts).catch(() => undefined),
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    if (first === undefined)
      throw new ServiceError(
        'START_FAILED',
        'secure Cassandra: could not log in as the default superuser within 60 s',
      );
    try {
      await first.execute(
        `CREATE ROLE IF NOT EXISTS fanout_admin WITH SUPERUSER = true AND LOGIN = true AND PASSWORD = '${adminPw}'`,
      );
    } finally {
      await first.shutdown();
    }
    admin = await poll(
      () => secureCassandraClient('fanout_admin', adminPw, opts).catch(() => undefined),
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    if (admin === undefined)
      throw new ServiceError(
        'START_FAILED',
        'secure Cassandra: the new fanout_admin role cannot log in',
      );
  }
  try {
    await admin.execute(`ALTER ROLE cassandra WITH LOGIN = false AND PASSWORD = '${password()}'`);
    await admin.execute(
      `CREATE ROLE IF NOT EXISTS fanout_app WITH LOGIN = true AND PASSWORD = '${creds.cassandra.fanout_app ?? ''}'`,
    );
  } finally {
    await admin.shutdown();
  }
}

/** Grants the application role what config/access.ts says, on `config`'s keyspace (after schema apply). */
export async function applyCassandraGrants(
  config: Config,
  opts: SecureOptions = {},
): Promise<void> {
  const creds = await secureCredentials(opts.home);
  const admin = await secureCassandraClient(
    'fanout_admin',
    creds.cassandra.fanout_admin ?? '',
    opts,
  );
  try {
    for (const grant of cassandraGrants(config, 'fanout_app')) await admin.execute(grant);
  } finally {
    await admin.shutdown();
  }
}

/** Adds `acls` on the secure Kafka, as fanout-admin (through services/conf/secure/KafkaAcls.java). */
export async function applyKafkaAcls(
  acls: readonly KafkaAcl[],
  opts: SecureOptions = {},
): Promise<void> {
  const paths = securePaths(opts.home);
  const ports = secureServicePorts(opts.portOffset);
  const creds = await secureCredentials(opts.home);
  await writeFile(
    paths.adminProperties,
    [
      `bootstrap.servers=${ports.host}:${ports.kafka.broker}`,
      'security.protocol=SASL_SSL',
      'sasl.mechanism=SCRAM-SHA-512',
      `sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="fanout-admin" password="${creds.kafka['fanout-admin']}";`,
      'ssl.truststore.type=PEM',
      `ssl.truststore.location=${paths.pki.caPem}`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  await chmod(paths.adminProperties, 0o600);
  const tsv = join(paths.root, `acls-${process.pid}-${Date.now()}.tsv`);
  const upper = (s: string): string =>
    s
      .replace(/([a-z])([A-Z])/g, '$1_$2')
      .replace(/-/g, '_')
      .toUpperCase();
  await writeFile(
    tsv,
    acls
      .map((a) =>
        [a.principal, upper(a.resource), a.name, upper(a.pattern), upper(a.operation)].join('\t'),
      )
      .join('\n'),
  );
  const java = await findJava();
  const result = await run(java.command, [
    '-cp',
    join(paths.kafka.jarDir, '*'),
    secureConf('KafkaAcls.java'),
    paths.adminProperties,
    tsv,
  ]);
  const { rm } = await import('node:fs/promises');
  await rm(tsv, { force: true });
  if (result.code !== 0)
    throw new ServiceError(
      'START_FAILED',
      `adding Kafka ACLs failed: ${result.output.trim().split('\n').slice(-3).join(' ')}`,
    );
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
