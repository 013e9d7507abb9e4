import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/index.ts';
import { SecurityWatch } from '../../connectors/kafka/security.ts';

const sasl = loadConfig({
  env: {},
  sets: ['kafka.securityProtocol=sasl_ssl', 'kafka.saslUsername=u', 'kafka.saslPassword=p'],
});
const plaintext = loadConfig({ env: {} });

describe('SecurityWatch (librdkafka only logs security failures)', () => {
  it('names the settings of a refused SASL login', () => {
    const w = new SecurityWatch();
    w.note(
      'sasl_ssl://127.0.0.1:9192/bootstrap: SASL authentication error: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512',
    );
    expect(w.explain(sasl)).toEqual({
      code: 'KAFKA_AUTH_FAILED',
      sentence: 'the broker refused the login: wrong kafka.saslUsername or kafka.saslPassword',
    });
  });

  it('names the CA setting of a failed certificate check', () => {
    const w = new SecurityWatch();
    w.note('SSL handshake failed: error:0A000086:SSL routines::certificate verify failed');
    expect(w.explain(sasl)?.code).toBe('KAFKA_TLS_FAILED');
    expect(w.explain(sasl)?.sentence).toMatch(/kafka\.sslCaLocation/);
  });

  it('hints at the protocol for a plaintext client that got no answer, and says nothing otherwise', () => {
    const w = new SecurityWatch();
    w.note('Connection refused');
    expect(w.explain(plaintext)?.sentence).toMatch(
      /kafka\.securityProtocol is plaintext: if the listener wants TLS or SASL/,
    );
    expect(w.explain(sasl)).toBeUndefined();
  });
});
