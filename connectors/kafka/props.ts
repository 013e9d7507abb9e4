/**
 * librdkafka properties of the app's Kafka clients, from config. Every client (producers,
 * consumers, admin) is librdkafka's own and gets these under librdkafka's property names.
 */
import { accessSync, constants, readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import type { Config } from '../../config/index.ts';
import { FanoutError } from '../../lib/errors.ts';

/** librdkafka properties every client of the app shares: brokers, identity, security. */
export function baseProps(config: Config): Record<string, string | number> {
  const k = config.kafka;
  const props: Record<string, string | number> = {
    'bootstrap.servers': k.brokers.join(','),
    'client.id': k.clientId,
    'socket.connection.setup.timeout.ms': k.connectTimeoutMs,
    'security.protocol': k.securityProtocol,
  };
  if (k.securityProtocol.startsWith('sasl')) {
    Object.assign(props, {
      'sasl.mechanisms': k.saslMechanism.toUpperCase(),
      'sasl.username': k.saslUsername,
      'sasl.password': k.saslPassword,
    });
  }
  if (k.securityProtocol === 'ssl' || k.securityProtocol === 'sasl_ssl') {
    // librdkafka checks the broker's name by default since 2.0; said here so config decides.
    props['ssl.endpoint.identification.algorithm'] = k.sslVerifyHostname ? 'https' : 'none';
    checkTlsFiles(config);
    if (k.sslCaLocation) props['ssl.ca.location'] = k.sslCaLocation;
    if (k.sslCertificateLocation) props['ssl.certificate.location'] = k.sslCertificateLocation;
    if (k.sslKeyLocation) props['ssl.key.location'] = k.sslKeyLocation;
    if (k.sslKeyPassword) props['ssl.key.password'] = k.sslKeyPassword;
  }
  return props;
}

/**
 * Throws, naming the keys, when a TLS file of the config cannot be read, or the client certificate
 * and key do not load together (another certificate's key, a wrong kafka.sslKeyPassword): librdkafka
 * then fails the client's creation with only "Local: Erroneous state", which reads as an outage.
 */
function checkTlsFiles(config: Config): void {
  const k = config.kafka;
  for (const key of ['sslCaLocation', 'sslCertificateLocation', 'sslKeyLocation'] as const) {
    // A CA location may be a directory, or librdkafka's "probe" (the usual system paths).
    if (k[key] === '' || (key === 'sslCaLocation' && k[key] === 'probe')) continue;
    try {
      accessSync(k[key], constants.R_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
      throw new FanoutError(
        'KAFKA_TLS_FILE',
        `kafka.${key} names ${k[key]}, which cannot be read (${code})`,
        { retriable: false },
      );
    }
  }
  if (k.sslCertificateLocation === '' || k.sslKeyLocation === '') return;
  try {
    createSecureContext({
      cert: readFileSync(k.sslCertificateLocation),
      key: readFileSync(k.sslKeyLocation),
      ...(k.sslKeyPassword ? { passphrase: k.sslKeyPassword } : {}),
    });
  } catch (err) {
    const password = k.sslKeyPassword ? ' (with kafka.sslKeyPassword)' : '';
    throw new FanoutError(
      'KAFKA_TLS_FILE',
      `kafka.sslCertificateLocation ${k.sslCertificateLocation} and kafka.sslKeyLocation ${k.sslKeyLocation}${password} do not load as a certificate and its key: ${(err as Error).message}`,
      { retriable: false },
    );
  }
}

/** librdkafka properties of a transactional producer: the worker's sinks and the CDC connector's. */
export function transactionalProps(
  config: Config,
  transactionalId: string,
): Record<string, string | number | boolean> {
  const timeout = config.kafka.transactionTimeoutMs;
  return {
    'transactional.id': transactionalId,
    'enable.idempotence': true,
    'transaction.timeout.ms': timeout,
    // librdkafka refuses a socket timeout over the transaction timeout (+100 ms); its default is 60 s.
    'socket.timeout.ms': Math.min(60_000, timeout),
    'linger.ms': 2,
    'compression.type': 'lz4',
  };
}
