import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  jsonErrorPosition,
  loadConfig,
  redacted,
  redactSecrets,
} from '../../config/index.ts';
import { createLogger } from '../../lib/log.ts';
import { FanoutError } from '../../lib/errors.ts';
import { redactAttributes } from '../../lib/telemetry.ts';

const dir = mkdtempSync(join(tmpdir(), 'fanout-secrets-'));
const file = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const failure = (f: () => unknown): ConfigError => {
  try {
    f();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
};

describe('secrets from *_FILE variables', () => {
  it('reads a password from the file FANOUT_CASSANDRA_PASSWORD_FILE names, without its trailing newline', () => {
    const c = loadConfig({
      env: {
        FANOUT_CASSANDRA_USERNAME: 'app',
        FANOUT_CASSANDRA_PASSWORD_FILE: file('cassandra-pw', 's3cret-from-file\n'),
        FANOUT_KAFKA_SECURITY_PROTOCOL: 'sasl_ssl',
        FANOUT_KAFKA_SASL_USERNAME: 'worker',
        FANOUT_KAFKA_SASL_PASSWORD_FILE: file('kafka-pw', 'kafka-pw-from-file'),
      },
    });
    expect(c.cassandra.password).toBe('s3cret-from-file');
    expect(c.kafka.saslPassword).toBe('kafka-pw-from-file');
  });

  it('names the variable and file, never the content, when the file cannot be read or both are set', () => {
    const missing = failure(() =>
      loadConfig({ env: { FANOUT_CASSANDRA_PASSWORD_FILE: join(dir, 'nope') } }),
    );
    expect(missing.problems[0]).toBe(
      `cassandra.password: env FANOUT_CASSANDRA_PASSWORD_FILE names ${join(dir, 'nope')}, which cannot be read (ENOENT)`,
    );
    const both = failure(() =>
      loadConfig({
        env: {
          FANOUT_CASSANDRA_PASSWORD: 'direct-secret',
          FANOUT_CASSANDRA_PASSWORD_FILE: file('x', 'file-secret'),
        },
      }),
    );
    expect(both.message).toContain(
      'env FANOUT_CASSANDRA_PASSWORD and FANOUT_CASSANDRA_PASSWORD_FILE are both set',
    );
    expect(both.message).not.toMatch(/direct-secret|file-secret/);
  });

  it('does not take FANOUT_*_FILE of a setting that is no secret', () => {
    const e = failure(() => loadConfig({ env: { FANOUT_GROUP_ID_FILE: '/x' } }));
    expect(e.problems[0]).toMatch(/^env FANOUT_GROUP_ID_FILE is not a setting of this product/);
  });
});

describe('redaction', () => {
  const secret = 'hunter2-redaction-test';
  const config = loadConfig({
    env: { FANOUT_CASSANDRA_USERNAME: 'app', FANOUT_CASSANDRA_PASSWORD: secret },
  });

  it('config show prints the key redacted', () => {
    const shown = redacted(config);
    expect(shown).not.toContain(secret);
    expect(JSON.parse(shown).cassandra.password).toBe('[redacted]');
  });

  it('log lines, error messages and span attributes lose a loaded secret wherever it appears', () => {
    const lines: string[] = [];
    createLogger('debug', 'test', (l) => lines.push(l)).error(`login with ${secret} failed`, {
      detail: `password=${secret}`,
    });
    expect(lines.join('\n')).not.toContain(secret);
    expect(lines[0]).toContain('login with [redacted] failed');
    expect(new FanoutError('X', `auth ${secret}`, { retriable: false }).message).toBe(
      'auth [redacted]',
    );
    expect(redactAttributes({ 'db.statement': `PASSWORD = '${secret}'`, n: 1 })).toEqual({
      'db.statement': "PASSWORD = '[redacted]'",
      n: 1,
    });
    expect(redactSecrets(`a ${secret} b ${secret}`)).toBe('a [redacted] b [redacted]');
    expect(config.cassandra.password).toBe(secret); // the value itself is intact for the driver
  });

  it('a bad value of a sensitive key is not echoed', () => {
    const e = failure(() =>
      loadConfig({ env: {}, file: file('c.json', '{"kafka": {"saslPassword": 12345678}}') }),
    );
    expect(e.message).toContain('kafka.saslPassword');
    expect(e.message).not.toContain('12345678');
  });
});

describe('config file parse errors', () => {
  it('name the file, line and column and never quote the text (faults-seen: a quoted password)', () => {
    const path = file('bad.json', '{\n  "cassandra": {"password": hunter2secret}\n}\n');
    const e = failure(() => loadConfig({ env: {}, file: path }));
    expect(e.problems).toEqual([
      `config file ${path} is not valid JSON: syntax error at line 2, column 29 (the text is not shown: it may hold a secret)`,
    ]);
    expect(e.message).not.toMatch(/hunter|assword/);
  });

  it('positions agree with the JSON grammar', () => {
    expect(jsonErrorPosition('{"a": 1}')).toBeUndefined();
    expect(jsonErrorPosition('{"a":[1,2,{"b":null}],"c":"\\u00e9"}')).toBeUndefined();
    expect(jsonErrorPosition('{"a":1,}')).toEqual({ line: 1, column: 8 });
    expect(jsonErrorPosition('{"a":1,\n "b": "x"')).toEqual({ line: 2, column: 10 });
    expect(jsonErrorPosition('{"a": tru}')).toEqual({ line: 1, column: 10 });
    expect(jsonErrorPosition('')).toEqual({ line: 1, column: 1 });
  });

  it('an unreadable file is named with the reason only', () => {
    const e = failure(() => loadConfig({ env: {}, file: join(dir, 'absent.json') }));
    expect(e.problems).toEqual([`config file ${join(dir, 'absent.json')} cannot be read (ENOENT)`]);
  });
});

describe('TLS settings', () => {
  it('reject contradictions in one sentence naming the keys', () => {
    const e = failure(() =>
      loadConfig({
        env: {},
        sets: ['cassandra.tlsCaFile=/ca.pem', 'kafka.sslCertificateLocation=/c.pem'],
      }),
    );
    expect(e.problems).toEqual([
      'kafka.sslCertificateLocation is set but kafka.securityProtocol is plaintext: use ssl or sasl_ssl',
      'kafka.sslCertificateLocation and kafka.sslKeyLocation must be set together',
      'cassandra.tlsCaFile is set but cassandra.tls is false: set cassandra.tls=true',
    ]);
  });
});

describe('SASL settings', () => {
  it('a SASL login without its password, or with a protocol that sends none, is refused naming the keys', () => {
    const empty = file('empty-pw', '\n');
    const noPassword = failure(() =>
      loadConfig({
        env: {
          FANOUT_KAFKA_SECURITY_PROTOCOL: 'sasl_ssl',
          FANOUT_KAFKA_SASL_USERNAME: 'worker',
          FANOUT_KAFKA_SASL_PASSWORD_FILE: empty,
        },
      }),
    );
    expect(noPassword.problems).toEqual([
      'kafka.securityProtocol is sasl_ssl, so kafka.saslPassword must be set (env FANOUT_KAFKA_SASL_PASSWORD or FANOUT_KAFKA_SASL_PASSWORD_FILE)',
    ]);
    const ignored = failure(() =>
      loadConfig({
        env: {
          FANOUT_KAFKA_SECURITY_PROTOCOL: 'ssl',
          FANOUT_KAFKA_SASL_USERNAME: 'worker',
          FANOUT_KAFKA_SASL_PASSWORD: 'sasl-pw-never-sent',
        },
      }),
    );
    expect(ignored.problems).toEqual([
      'kafka.saslUsername is set but kafka.securityProtocol is ssl: use sasl_ssl (or sasl_plaintext)',
      'kafka.saslPassword is set but kafka.securityProtocol is ssl: use sasl_ssl (or sasl_plaintext)',
    ]);
    expect(ignored.message).not.toContain('sasl-pw-never-sent');
  });
});

describe('redaction of secrets that JSON escapes', () => {
  const secret = 'pa"ss\\word-json';
  loadConfig({ env: { FANOUT_CASSANDRA_USERNAME: 'app', FANOUT_CASSANDRA_PASSWORD: secret } });
  const escaped = JSON.stringify(secret).slice(1, -1);

  it('json log lines and text log extras lose a secret with a quote or backslash', () => {
    for (const format of ['json', 'text'] as const) {
      const lines: string[] = [];
      createLogger({ level: 'debug', format }, 'test', (l) => lines.push(l)).error(
        `login with ${secret} failed`,
        { detail: `password=${secret}` },
      );
      const out = lines.join('\n');
      expect(out, format).not.toContain(escaped);
      expect(out, format).not.toContain(secret);
      expect(out, format).toContain('password=[redacted]');
    }
  });
});
