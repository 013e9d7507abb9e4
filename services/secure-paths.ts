/**
 * Where the secure local set lives (`<home>/secure`: run dirs, CA, secrets) and its generated
 * passwords: made once at its first start, kept readable by the owner only.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fanoutHome, servicePaths, type CassandraPaths, type KafkaPaths } from './paths.ts';
import { pkiPaths, type Pki } from './pki.ts';
import { exists } from './process.ts';
import type { SecureCredentials } from './secure-drivers.ts';

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

export const password = (): string => randomBytes(18).toString('base64url');

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
