/**
 * A throwaway certificate authority for the secure local services, made with openssl: a CA, one
 * server certificate for Kafka and Cassandra (names 127.0.0.1 and localhost, so clients can check
 * host names), its PKCS12 keystore for the JVMs, and client certificates for mutual TLS whose
 * common name is the Kafka principal. Made once per run dir; keys are readable by the owner only.
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ServiceError } from './errors.ts';
import { exists, run } from './process.ts';

export interface Pki {
  readonly dir: string;
  /** The CA certificate (PEM): what clients trust. */
  readonly caPem: string;
  /** Server certificate and key (PEM), and both as a PKCS12 keystore. */
  readonly serverPem: string;
  readonly serverKey: string;
  readonly serverP12: string;
  /** Client certificate and key (PEM) of a principal, made by {@link clientCertificate}. */
  readonly client: (name: string) => { cert: string; key: string };
}

export function pkiPaths(dir: string): Pki {
  return {
    dir,
    caPem: join(dir, 'ca.pem'),
    serverPem: join(dir, 'server.pem'),
    serverKey: join(dir, 'server.key'),
    serverP12: join(dir, 'server.p12'),
    client: (name) => ({ cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) }),
  };
}

async function openssl(args: string[], what: string): Promise<void> {
  const result = await run('openssl', args).catch((err: unknown) => ({
    code: -1,
    output: (err as Error).message,
  }));
  if (result.code !== 0)
    throw new ServiceError(
      'START_FAILED',
      `openssl could not ${what} (exit ${result.code}): ${result.output.trim().split('\n').slice(-3).join(' ')}`,
    );
}

/** A key and a certificate signed by the CA of `pki`, with `subject` and optional SAN extension. */
async function signed(pki: Pki, base: string, subject: string, san?: string): Promise<void> {
  const key = join(pki.dir, `${base}.key`);
  const csr = join(pki.dir, `${base}.csr`);
  const ext = join(pki.dir, `${base}.ext`);
  await openssl(['genrsa', '-out', key, '2048'], `make the key of ${base}`);
  await chmod(key, 0o600);
  await openssl(
    ['req', '-new', '-key', key, '-subj', subject, '-out', csr],
    `make a CSR for ${base}`,
  );
  await writeFile(
    ext,
    `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n${san ? `subjectAltName=${san}\n` : ''}`,
  );
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      pki.caPem,
      '-CAkey',
      join(pki.dir, 'ca.key'),
      '-CAcreateserial',
      '-days',
      '30',
      '-sha256',
      '-extfile',
      ext,
      '-out',
      join(pki.dir, `${base}.pem`),
    ],
    `sign the certificate of ${base}`,
  );
}

/**
 * Makes the CA, the server certificate and keystore (password `storePassword`) in `dir` unless
 * they exist. Returns their paths.
 */
export async function ensurePki(dir: string, storePassword: string): Promise<Pki> {
  const pki = pkiPaths(dir);
  if (await exists(pki.serverP12)) return pki;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const caKey = join(dir, 'ca.key');
  await openssl(['genrsa', '-out', caKey, '2048'], 'make the CA key');
  await chmod(caKey, 0o600);
  await openssl(
    [
      'req',
      '-x509',
      '-new',
      '-key',
      caKey,
      '-sha256',
      '-days',
      '30',
      '-subj',
      '/CN=fanout-local-ca',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
      '-out',
      pki.caPem,
    ],
    'make the CA certificate',
  );
  await signed(pki, 'server', '/CN=fanout-local-server', 'IP:127.0.0.1,DNS:localhost');
  await openssl(
    [
      'pkcs12',
      '-export',
      '-in',
      pki.serverPem,
      '-inkey',
      pki.serverKey,
      '-certfile',
      pki.caPem,
      '-name',
      'server',
      '-passout',
      `pass:${storePassword}`,
      '-out',
      pki.serverP12,
    ],
    'make the server keystore',
  );
  await chmod(pki.serverP12, 0o600);
  return pki;
}

/** A client certificate with common name `name` (the Kafka principal under mutual TLS). */
export async function clientCertificate(
  pki: Pki,
  name: string,
): Promise<{ cert: string; key: string }> {
  const files = pki.client(name);
  if (!(await exists(files.cert))) await signed(pki, name, `/CN=${name}`);
  return files;
}
