import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/index.ts';
import { SecurityWatch, watchSecurity } from '../../connectors/kafka/security.ts';

const sasl = loadConfig({
  env: {},
  sets: [
    'kafka.brokers=127.0.0.1:9192',
    'kafka.securityProtocol=sasl_ssl',
    'kafka.saslUsername=u',
    'kafka.saslPassword=p',
  ],
});
const plaintext = loadConfig({ env: {} });

// librdkafka 2.x log lines (facility FAIL) recorded against the secure local set.
const AUTH =
  'sasl_ssl://127.0.0.1:9192/bootstrap: SASL authentication error: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512 (after 315ms in state AUTH_REQ)';
const UNTRUSTED =
  'sasl_ssl://127.0.0.1:9192/bootstrap: SSL handshake failed: error:0A000086:SSL routines::certificate verify failed: broker certificate could not be verified, verify that ssl.ca.location is correctly configured or root CA certificates are installed (install ca-certificates package) (after 6ms in state SSL_HANDSHAKE)';
const TLS_ON_PLAINTEXT =
  'sasl_ssl://127.0.0.1:9092/bootstrap: SSL handshake failed: Disconnected: SSL connection closed by peer: connecting to a PLAINTEXT broker listener? (after 3ms in state SSL_HANDSHAKE)';
const NO_CLIENT_CERT =
  'ssl://127.0.0.1:9194/bootstrap: Receive failed: error:0A000412:SSL routines::ssl/tls alert bad certificate: SSL alert number 42 (after 1ms in state APIVERSION_QUERY)';
const PLAINTEXT_ON_TLS =
  '127.0.0.1:9192/bootstrap: Disconnected: connection closed by peer: receive 0 after POLLIN (after 4ms in state APIVERSION_QUERY)';

const transport = Object.assign(new Error('Local: Broker transport failure'), { code: -195 });

describe('SecurityWatch (librdkafka only logs security failures)', () => {
  it('names the settings of a refused SASL login, in one sentence that is not retriable', () => {
    const w = new SecurityWatch(sasl);
    w.note(AUTH);
    expect(w.refusal).toEqual({
      code: 'KAFKA_AUTH_FAILED',
      sentence: 'the broker refused the login: wrong kafka.saslUsername or kafka.saslPassword',
    });
    const err = w.failure(transport, 'list topics');
    expect(err.code).toBe('KAFKA_AUTH_FAILED');
    expect(err.retriable).toBe(false);
    expect(err.message).toBe(
      'Kafka at 127.0.0.1:9192: the broker refused the login: wrong kafka.saslUsername or kafka.saslPassword',
    );
    expect(err.cause).toBe(transport);
  });

  it('names the CA setting of a failed certificate check', () => {
    const w = new SecurityWatch(sasl);
    w.note(UNTRUSTED);
    expect(w.refusal?.code).toBe('KAFKA_TLS_FAILED');
    expect(w.refusal?.sentence).toMatch(
      /^the TLS handshake failed: the broker certificate is not signed by a CA in kafka\.sslCaLocation/,
    );
  });

  it('tells a TLS client on a plaintext listener and a refused client certificate apart from an untrusted broker', () => {
    const onPlaintext = new SecurityWatch(sasl);
    onPlaintext.note(TLS_ON_PLAINTEXT);
    expect(onPlaintext.refusal?.sentence).toMatch(
      /^the listener does not speak TLS: set kafka\.securityProtocol to plaintext/,
    );
    const noCert = new SecurityWatch(sasl);
    noCert.note(NO_CLIENT_CERT);
    expect(noCert.refusal?.sentence).toMatch(
      /^the broker refused the client certificate: kafka\.sslCertificateLocation/,
    );
  });

  it("a plaintext client on a TLS listener is refused by librdkafka's own diagnosis, not waited on as a broker that is down", () => {
    const w = new SecurityWatch(plaintext);
    w.note('Connect to ipv4#127.0.0.1:9192 failed: Connection refused');
    expect(w.refusal).toBeUndefined(); // a broker that is down: waited on
    const cut =
      '127.0.0.1:9192/bootstrap: Disconnected: connection closed by peer: receive 0 after POLLIN (after 3ms in state APIVERSION_QUERY)';
    w.note(cut);
    expect(w.refusal).toBeUndefined(); // once: maybe a broker going down
    w.note(`${cut.slice(0, -1)}, 1 identical error(s) suppressed)`);
    expect(w.refusal?.sentence).toMatch(
      /^the listener speaks TLS: kafka\.securityProtocol is plaintext; set it to ssl or sasl_ssl/,
    );
    expect(w.failure(new Error('Broker transport failure'), 'connect').retriable).toBe(false);
  });

  it('names kafka.saslMechanism, and what the broker takes, when the broker does not enable the mechanism', () => {
    // Recorded against the secure local set (SCRAM-SHA-512 and PLAIN) with kafka.saslMechanism=scram-sha-256.
    const line =
      "[thrd:sasl_ssl://127.0.0.1:9192/bootstrap]: sasl_ssl://127.0.0.1:9192/bootstrap: SASL SCRAM-SHA-256 mechanism handshake failed: Broker: Unsupported SASL mechanism: broker's supported mechanisms: SCRAM-SHA-512,PLAIN (after 308ms in state AUTH_HANDSHAKE)";
    const w = new SecurityWatch(sasl);
    w.note(line);
    expect(w.refusal).toEqual({
      code: 'KAFKA_AUTH_FAILED',
      sentence:
        'the broker does not take kafka.saslMechanism SCRAM-SHA-256, only SCRAM-SHA-512,PLAIN: set kafka.saslMechanism to one of those (plain | scram-sha-256 | scram-sha-512)',
    });
    expect(w.failure(transport, 'list topics').retriable).toBe(false);
  });

  it('a client without SASL on a SASL listener is refused naming kafka.securityProtocol, on the second cut right after UP', () => {
    const tls = loadConfig({ env: {}, sets: ['kafka.securityProtocol=ssl'] });
    // Recorded against the secure local set's SASL_SSL listener with kafka.securityProtocol=ssl.
    const cut =
      '[thrd:ssl://127.0.0.1:9192/bootstrap]: ssl://127.0.0.1:9192/bootstrap: Disconnected: SSL connection closed by peer (after 5ms in state UP)';
    const w = new SecurityWatch(tls);
    w.note(cut);
    expect(w.refusal).toBeUndefined(); // once: maybe a broker going down
    w.note(`${cut.slice(0, -1)}, 1 identical error(s) suppressed)`);
    expect(w.refusal).toEqual({
      code: 'KAFKA_AUTH_FAILED',
      sentence:
        'the listener wants a SASL login: kafka.securityProtocol is ssl; set it to sasl_ssl, with kafka.saslMechanism, kafka.saslUsername and kafka.saslPassword',
    });
    expect(w.failure(transport, 'list topics').retriable).toBe(false);
    // A connection that was up for longer, cut by a broker going down, is not one.
    const up = new SecurityWatch(tls);
    for (let i = 0; i < 3; i++)
      up.note(
        'ssl://127.0.0.1:9192/bootstrap: Disconnected: SSL connection closed by peer (after 1500ms in state UP)',
      );
    expect(up.refusal).toBeUndefined();
    // librdkafka's own hint to a plaintext client (rdkafka_broker.c, rd_kafka_broker_set_error).
    const plain = new SecurityWatch(plaintext);
    const hinted =
      '127.0.0.1:9092/bootstrap: Disconnected: verify that security.protocol is correctly configured, broker might require SASL authentication (after 2ms in state UP)';
    plain.note(hinted);
    plain.note(hinted);
    expect(plain.refusal?.sentence).toBe(
      'the listener wants a SASL login: kafka.securityProtocol is plaintext; set it to sasl_ssl (or sasl_plaintext), with kafka.saslMechanism, kafka.saslUsername and kafka.saslPassword',
    );
  });

  it('a sasl_plaintext client on a TLS listener is refused naming kafka.securityProtocol, as a plaintext one is', () => {
    const saslPlaintext = loadConfig({
      env: {},
      sets: [
        'kafka.securityProtocol=sasl_plaintext',
        'kafka.saslUsername=u',
        'kafka.saslPassword=p',
      ],
    });
    // Recorded against the secure local set's SASL_SSL listener with kafka.securityProtocol=sasl_plaintext.
    const cut =
      '[thrd:sasl_plaintext://127.0.0.1:9192/bootstrap]: sasl_plaintext://127.0.0.1:9192/bootstrap: Disconnected: connection closed by peer: receive 0 after POLLIN (after 1ms in state APIVERSION_QUERY)';
    const w = new SecurityWatch(saslPlaintext);
    w.note(cut);
    w.note(`${cut.slice(0, -1)}, 1 identical error(s) suppressed)`);
    expect(w.refusal).toEqual({
      code: 'KAFKA_TLS_FAILED',
      sentence:
        'the listener speaks TLS: kafka.securityProtocol is sasl_plaintext; set it to sasl_ssl (and kafka.sslCaLocation)',
    });
    expect(w.failure(transport, 'list topics').retriable).toBe(false);
  });

  it('keeps the last refusal through the lines that follow it, and ignores other lines', () => {
    const w = new SecurityWatch(sasl);
    w.note('Connect to ipv4#127.0.0.1:9192 failed: Connection refused');
    expect(w.refusal).toBeUndefined();
    w.note(AUTH);
    w.note('127.0.0.1:9192/bootstrap: Disconnected (after 2ms in state UP)');
    expect(w.refusal?.code).toBe('KAFKA_AUTH_FAILED');
  });

  it('without a refusal, classifies the error as any Kafka error and hints only for a plaintext client', () => {
    const w = new SecurityWatch(plaintext);
    w.note(PLAINTEXT_ON_TLS);
    expect(w.refusal).toBeUndefined();
    const err = w.failure(transport, 'list topics');
    expect(err.code).toBe('KAFKA_RETRIABLE'); // a broker down for now: waited out
    expect(err.message).toBe('list topics: Local: Broker transport failure');
    expect(w.unreachableHint()).toMatch(
      /^ \(kafka\.securityProtocol is plaintext: if the listener wants TLS or SASL, set it to ssl or sasl_ssl\)$/,
    );
    expect(new SecurityWatch(sasl).unreachableHint()).toBe('');
  });

  it('is fed by the log events of a librdkafka client, and hands them to the logger at debug', () => {
    const client = new EventEmitter();
    const lines: string[] = [];
    const log = {
      debug: (m: string) => lines.push(m),
      info: () => undefined,
      warn: () => undefined,
      error: () => undefined,
      child() {
        return this;
      },
    };
    const w = watchSecurity(client, sasl, log);
    client.emit('event.log', { severity: 3, fac: 'FAIL', message: AUTH });
    expect(w.refusal?.code).toBe('KAFKA_AUTH_FAILED');
    expect(lines).toEqual([AUTH]);
  });
});
