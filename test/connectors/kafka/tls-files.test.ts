/**
 * A Kafka TLS file that cannot be read is a setting to fix, named in one sentence, whichever client
 * meets it first; librdkafka fails such a client with "Local: Erroneous state", which read as a
 * broker outage and was waited out for retry.outageBudgetMs.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../config/index.ts';
import { connectAdmin } from '../../../connectors/kafka/admin.ts';
import { readToEnd } from '../../../connectors/kafka/read-to-end.ts';
import { KafkaRecordSource } from '../../../connectors/kafka/source.ts';
import { KafkaTransactions } from '../../../connectors/kafka/transactions.ts';
import { createLogger } from '../../../lib/log.ts';
import type { SourceListener } from '../../../ports/streams.ts';

const dir = mkdtempSync(join(tmpdir(), 'fanout-tls-files-'));
const missing = join(dir, 'absent.pem');
const present = join(dir, 'present.pem');
writeFileSync(present, 'not read: the missing file is reported first\n');
const log = createLogger('error');
const listener: SourceListener = {
  room: () => 0,
  record: () => undefined,
  assigned: async () => undefined,
  revoked: async () => undefined,
  failed: () => undefined,
};

describe('Kafka TLS files', () => {
  for (const [key, sets] of [
    ['kafka.sslCaLocation', [`kafka.sslCaLocation=${missing}`]],
    [
      'kafka.sslCertificateLocation',
      [`kafka.sslCertificateLocation=${missing}`, `kafka.sslKeyLocation=${present}`],
    ],
    [
      'kafka.sslKeyLocation',
      [`kafka.sslCertificateLocation=${present}`, `kafka.sslKeyLocation=${missing}`],
    ],
  ] as const) {
    it(`${key} naming a missing file is refused by every client in one sentence, not retried`, async () => {
      const config = loadConfig({
        env: {},
        sets: [
          'kafka.brokers=127.0.0.1:1',
          'kafka.securityProtocol=ssl',
          'kafka.connectTimeoutMs=1000',
          ...sets,
        ],
      });
      const source = new KafkaRecordSource(config, { workerId: 'tls-files', log });
      const producer = new KafkaTransactions(config, { transactionalId: 'tls-files', log });
      const attempts: Array<[string, () => Promise<unknown>]> = [
        ['admin', () => connectAdmin(config)],
        ['transactional producer', () => producer.open().finally(() => producer.close())],
        ['source', () => source.start(listener).finally(() => source.close())],
        ['state reader', () => readToEnd(config, 'any', [0])],
      ];
      for (const [client, attempt] of attempts) {
        const err = await attempt().then(
          () => new Error(`${client} connected`),
          (e: unknown) => e,
        );
        expect(err, `${client}: ${String(err)}`).toMatchObject({
          code: 'KAFKA_TLS_FILE',
          retriable: false,
          message: `${key} names ${missing}, which cannot be read (ENOENT)`,
        });
      }
    });
  }
});

describe('Kafka client certificate and key', () => {
  const pem = (name: string): { cert: string; key: string } => {
    const [cert, key] = [join(dir, `${name}.pem`), join(dir, `${name}.key`)];
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-days', '1', '-subj', `/CN=${name}`].concat([
        '-passout',
        'pass:right-pass',
        '-keyout',
        key,
        '-out',
        cert,
      ]),
      { stdio: 'ignore' },
    );
    return { cert, key };
  };
  const [a, b] = [pem('a'), pem('b')];

  for (const [why, key, password] of [
    ['a wrong kafka.sslKeyPassword', a.key, 'wrong-pass'],
    ['the key of another certificate', b.key, 'right-pass'],
  ] as const) {
    it(`${why} is refused naming the keys, not retried`, async () => {
      const config = loadConfig({
        env: {},
        sets: [
          'kafka.brokers=127.0.0.1:1',
          'kafka.securityProtocol=ssl',
          'kafka.connectTimeoutMs=1000',
          `kafka.sslCertificateLocation=${a.cert}`,
          `kafka.sslKeyLocation=${key}`,
          `kafka.sslKeyPassword=${password}`,
        ],
      });
      const err = await connectAdmin(config).then(
        () => new Error('connected'),
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ code: 'KAFKA_TLS_FILE', retriable: false });
      expect((err as Error).message).toMatch(
        new RegExp(
          `^kafka\\.sslCertificateLocation ${a.cert} and kafka\\.sslKeyLocation ${key} \\(with kafka\\.sslKeyPassword\\) do not load as a certificate and its key: `,
        ),
      );
      expect((err as Error).message).not.toContain(password);
    });
  }
});
