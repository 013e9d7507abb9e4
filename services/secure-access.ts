/**
 * Who may do what on the secure local set: its Cassandra roles (the default superuser replaced by
 * fanout_admin, the application role fanout_app), the GRANTs and the Kafka ACLs of
 * config/access.ts, applied as the admins.
 */
import { chmod, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import cassandra from 'cassandra-driver';
import { cassandraGrants, type KafkaAcl } from '../config/access.ts';
import type { Config } from '../config/index.ts';
import { secureServicePorts } from '../config/ports.ts';
import { ServiceError } from './errors.ts';
import { poll, run } from './process.ts';
import { secureConf } from './secure-drivers.ts';
import { password, secureCredentials, securePaths, type SecureOptions } from './secure-paths.ts';
import { findJava } from './toolchain.ts';

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
export async function ensureCassandraRoles(opts: SecureOptions): Promise<void> {
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
  await rm(tsv, { force: true });
  if (result.code !== 0)
    throw new ServiceError(
      'START_FAILED',
      `adding Kafka ACLs failed: ${result.output.trim().split('\n').slice(-3).join(' ')}`,
    );
}
