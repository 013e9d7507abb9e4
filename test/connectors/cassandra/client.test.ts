import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { createServer as createTlsServer } from 'node:tls';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../config/index.ts';
import { connectCassandra, speaksTls } from '../../../connectors/cassandra/client.ts';
import { FanoutError } from '../../../lib/errors.ts';

/** A listener that resets every connection it accepts: a node killed mid-accept looks like this. */
async function resetting(): Promise<{ server: Server; address: string }> {
  const server = createServer((socket: Socket) => socket.resetAndDestroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, address: `127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('connectCassandra when every connection is reset (issue #17)', () => {
  let server: Server | undefined;
  afterEach(
    () => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())),
  );

  it('asks for a TLS handshake before saying TLS is required; a node that is not TLS is retriable', async () => {
    const r = await resetting();
    server = r.server;
    expect(await speaksTls(r.address, 2_000)).toBe(false);
    const config = loadConfig({
      env: {},
      sets: [`cassandra.contactPoints=${r.address}`, 'cassandra.connectTimeoutMs=2000'],
    });
    const err = await connectCassandra(config).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(FanoutError);
    expect((err as FanoutError).code).toBe('CASSANDRA_UNREACHABLE');
    expect((err as FanoutError).retriable).toBe(true);
  });
});

describe('connectCassandra and client certificates', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fanout-cassandra-tls-'));
  const pair = (name: string, extra: string[] = []): { cert: string; key: string } => {
    const [cert, key] = [join(dir, `${name}.pem`), join(dir, `${name}.key`)];
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        `/CN=${name}`,
        '-keyout',
        key,
        '-out',
        cert,
        ...extra,
      ],
      { stdio: 'ignore' },
    );
    return { cert, key };
  };
  const [a, b] = [pair('a'), pair('b')];

  it('names cassandra.tlsCertFile and cassandra.tlsKeyFile, not retriable, for a key of another certificate', async () => {
    const config = loadConfig({
      env: {},
      sets: [
        'cassandra.contactPoints=127.0.0.1:1',
        'cassandra.connectTimeoutMs=1000',
        'cassandra.tls=true',
        `cassandra.tlsCertFile=${a.cert}`,
        `cassandra.tlsKeyFile=${b.key}`,
      ],
    });
    const err = await connectCassandra(config).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'CASSANDRA_TLS_FILE', retriable: false });
    expect((err as Error).message).toMatch(
      new RegExp(
        `^cassandra\\.tlsCertFile ${a.cert} and cassandra\\.tlsKeyFile ${b.key} do not load as a certificate and its key: .*key values mismatch`,
      ),
    );
  });

  it('names the client certificate settings when the node requires a certificate it is not given', async () => {
    const node = pair('node', ['-addext', 'subjectAltName=IP:127.0.0.1']);
    // A node with client_encryption_options.require_client_auth.
    const server = createTlsServer(
      {
        cert: readFileSync(node.cert),
        key: readFileSync(node.key),
        requestCert: true,
        rejectUnauthorized: true,
        ca: [readFileSync(a.cert)],
      },
      (socket) => socket.end(),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const at = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    const attempt = (sets: string[]): Promise<unknown> =>
      connectCassandra(
        loadConfig({
          env: {},
          sets: [
            `cassandra.contactPoints=${at}`,
            'cassandra.connectTimeoutMs=2000',
            'cassandra.tls=true',
            `cassandra.tlsCaFile=${node.cert}`,
            ...sets,
          ],
        }),
      ).then(
        () => undefined,
        (e: unknown) => e,
      );
    try {
      expect(await attempt([])).toMatchObject({
        code: 'CASSANDRA_TLS_FAILED',
        retriable: false,
        message: `Cassandra at ${at} requires a client certificate: set cassandra.tlsCertFile and cassandra.tlsKeyFile`,
      });
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
