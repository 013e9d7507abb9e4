import { readFileSync } from 'node:fs';
import { createSecureContext, connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import cassandra from 'cassandra-driver';
import type { Config } from '../../config/index.ts';
import { classifyCassandraError, FanoutError, withTimeout } from '../../lib/errors.ts';

export type CassandraClient = cassandra.Client;

/**
 * Creates and connects the app's one Cassandra client (operators never create their own).
 * bigint columns come back as native BigInt. An unreachable cluster is reported in one sentence.
 */
export async function connectCassandra(
  config: Config,
  options: { keyspace?: boolean } = {},
): Promise<CassandraClient> {
  const c = config.cassandra;
  const sslOptions = c.tls ? tlsOptions(config) : undefined;
  const client = new cassandra.Client({
    ...(sslOptions ? { sslOptions } : {}),
    contactPoints: [...c.contactPoints],
    localDataCenter: c.localDataCenter,
    ...(options.keyspace ? { keyspace: c.keyspace } : {}),
    ...(c.username ? { credentials: { username: c.username, password: c.password } } : {}),
    encoding: { useBigIntAsLong: true, useBigIntAsVarint: true },
    socketOptions: { connectTimeout: c.connectTimeoutMs, readTimeout: c.requestTimeoutMs },
    pooling: {
      coreConnectionsPerHost: {
        [cassandra.types.distance.local]: 2,
        [cassandra.types.distance.remote]: 1,
      },
    },
    queryOptions: { prepare: true },
    // The driver's default waits up to 10 min between reconnection attempts: after a node restart
    // it would stay away long after the node is back, past retry.outageBudgetMs (issue #17).
    policies: {
      reconnection: new cassandra.policies.reconnection.ExponentialReconnectionPolicy(500, 5_000),
    },
  });
  try {
    await withTimeout(
      client.connect(),
      c.connectTimeoutMs + 1_000,
      `Cassandra at ${c.contactPoints.join(',')} did not answer within ${c.connectTimeoutMs} ms`,
      'CASSANDRA_UNREACHABLE',
    );
    return client;
  } catch (err) {
    await client.shutdown().catch(() => undefined);
    const refused = securityFailure(config, err) ?? (await tlsOnlyFailure(config, err));
    if (refused)
      throw new FanoutError(refused.code, refused.sentence, { retriable: false, cause: err });
    const cause = err instanceof FanoutError ? err : classifyCassandraError(err, 'connect');
    throw new FanoutError(
      'CASSANDRA_UNREACHABLE',
      `Cassandra at ${c.contactPoints.join(',')} is unreachable: ${firstLine(cause.message)}`,
      {
        retriable: true,
        cause: err,
      },
    );
  }
}

/**
 * Node TLS options of the driver from config: the CA bundle and client certificate read now (a
 * missing file, or a certificate and key that do not load together, is one sentence naming the keys), the server certificate always checked against
 * the CA, and its name against the address connected to unless cassandra.tlsVerifyHostname is off.
 */
export function tlsOptions(config: Config): ConnectionOptions {
  const c = config.cassandra;
  const read = (key: 'tlsCaFile' | 'tlsCertFile' | 'tlsKeyFile'): Buffer | undefined => {
    if (c[key] === '') return undefined;
    try {
      return readFileSync(c[key]);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
      throw new FanoutError(
        'CASSANDRA_TLS_FILE',
        `cassandra.${key} names ${c[key]}, which cannot be read (${code})`,
        { retriable: false },
      );
    }
  };
  const ca = read('tlsCaFile');
  const cert = read('tlsCertFile');
  const key = read('tlsKeyFile');
  if (cert && key) {
    // Loaded here, not at each connection: the driver would report a key that does not load
    // (another certificate's, an encrypted one) as every node unreachable, and wait it out.
    try {
      createSecureContext({ cert, key });
    } catch (err) {
      throw new FanoutError(
        'CASSANDRA_TLS_FILE',
        `cassandra.tlsCertFile ${c.tlsCertFile} and cassandra.tlsKeyFile ${c.tlsKeyFile} do not load as a certificate and its key: ${(err as Error).message}`,
        { retriable: false },
      );
    }
  }
  return {
    rejectUnauthorized: true,
    ...(ca ? { ca: [ca] } : {}),
    ...(cert && key ? { cert, key } : {}),
    ...(c.tlsVerifyHostname ? {} : { checkServerIdentity: () => undefined }),
  };
}

const UNTRUSTED = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_UNTRUSTED',
]);

/** OpenSSL's alerts of a node that refuses the client certificate, or wants one it did not get. */
const CLIENT_CERT_REFUSED =
  /alert (certificate required|bad certificate|unknown ca|certificate unknown)|ALERT_(CERTIFICATE_REQUIRED|BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_UNKNOWN)/i;

/**
 * A login, certificate or protocol refusal in a failed connect, as one sentence naming the
 * settings to fix; undefined for anything else (e.g. the node is down). Retrying cannot help.
 */
function securityFailure(
  config: Config,
  err: unknown,
): { code: string; sentence: string } | undefined {
  const c = config.cassandra;
  const where = `Cassandra at ${c.contactPoints.join(',')}`;
  const inner = Object.values(
    (err as { innerErrors?: Record<string, unknown> }).innerErrors ?? {},
  ) as Array<{ name?: string; code?: string; message?: string }>;
  if (inner.some((e) => e.name === 'AuthenticationError'))
    return c.username === ''
      ? {
          code: 'CASSANDRA_AUTH_FAILED',
          sentence: `${where} requires a login: set cassandra.username and cassandra.password`,
        }
      : {
          code: 'CASSANDRA_AUTH_FAILED',
          sentence: `${where} refused the login of ${c.username}: wrong cassandra.username or cassandra.password`,
        };
  const tlsCode = inner.map((e) => e.code ?? '').find((code) => UNTRUSTED.has(code));
  if (tlsCode)
    return {
      code: 'CASSANDRA_TLS_FAILED',
      sentence: `${where} presented a certificate that is not trusted (${tlsCode}): cassandra.tlsCaFile must hold the CA that signed it`,
    };
  // A node with require_client_auth ends the handshake with an alert (TLS 1.3: after it).
  if (inner.some((e) => CLIENT_CERT_REFUSED.test(`${e.code} ${e.message}`)))
    return c.tlsCertFile === ''
      ? {
          code: 'CASSANDRA_TLS_FAILED',
          sentence: `${where} requires a client certificate: set cassandra.tlsCertFile and cassandra.tlsKeyFile`,
        }
      : {
          code: 'CASSANDRA_TLS_FAILED',
          sentence: `${where} refused the client certificate: cassandra.tlsCertFile must be signed by a CA the node trusts`,
        };
  if (inner.some((e) => e.code === 'ERR_TLS_CERT_ALTNAME_INVALID'))
    return {
      code: 'CASSANDRA_TLS_FAILED',
      sentence: `${where} presented a certificate for another host name (cassandra.tlsVerifyHostname)`,
    };
  if (c.tls && inner.some((e) => /wrong version number|EPROTO/i.test(`${e.code} ${e.message}`)))
    return {
      code: 'CASSANDRA_TLS_FAILED',
      sentence: `${where} does not speak TLS: set cassandra.tls=false or use the node's TLS port`,
    };
  return undefined;
}

/**
 * A node that requires TLS resets a plaintext connection, but so does a node killed while it
 * accepts one (issue #17: a process starting during a Cassandra restart exited on that guess).
 * Only when every contact point reset the connection is each one asked for a TLS handshake: if
 * one completes, the cluster requires TLS; otherwise the nodes are down or restarting (retriable).
 */
async function tlsOnlyFailure(
  config: Config,
  err: unknown,
): Promise<{ code: string; sentence: string } | undefined> {
  const c = config.cassandra;
  const errors = (err as { innerErrors?: Record<string, { code?: string }> }).innerErrors ?? {};
  const hosts = Object.keys(errors);
  if (c.tls || hosts.length === 0 || !hosts.every((h) => errors[h]?.code === 'ECONNRESET'))
    return undefined;
  const answers = await Promise.all(hosts.map((h) => speaksTls(h, c.connectTimeoutMs)));
  if (!answers.some(Boolean)) return undefined;
  return {
    code: 'CASSANDRA_TLS_REQUIRED',
    sentence: `Cassandra at ${c.contactPoints.join(',')} closed the plaintext connection and answered a TLS handshake: it requires TLS (set cassandra.tls=true and cassandra.tlsCaFile)`,
  };
}

/** Whether `host:port` completes a TLS handshake (any certificate: this only asks whether it speaks TLS). */
export function speaksTls(address: string, timeoutMs: number): Promise<boolean> {
  const at = address.lastIndexOf(':');
  const host = address.slice(0, at).replace(/^\[|\]$/g, '');
  const port = Number(address.slice(at + 1));
  return new Promise((resolve) => {
    const socket = tlsConnect({ host, port, rejectUnauthorized: false, timeout: timeoutMs });
    const done = (answer: boolean): void => {
      socket.destroy();
      resolve(answer);
    };
    socket.once('secureConnect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

/** The driver's consistency level of a config name (`local_quorum`, `one`, ...); LOCAL_QUORUM when unknown. */
export function consistencyOf(name: string | undefined): number {
  const levels = cassandra.types.consistencies as unknown as Record<string, number>;
  const key = (name ?? 'local_quorum').replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
  return levels[key] ?? cassandra.types.consistencies.localQuorum;
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}
