import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, inject, it } from 'vitest';

const MAIN = resolve(import.meta.dirname, '../../cli/main.ts');

function fanout(args: string[], env: Record<string, string> = {}) {
  const services = inject('services');
  const r = spawnSync(process.execPath, [MAIN, ...args], {
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      KAFKA_BROKERS: services.kafkaBrokers,
      CASSANDRA_CONTACT_POINTS: services.cassandraContactPoints,
      ...env,
    },
    timeout: 60_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const noStack = (text: string): void => {
  expect(text).not.toMatch(/\n\s+at /);
};

describe('fanout CLI: bad input is one clear sentence and a non-zero exit', () => {
  it('FANOUT_BATCH_SIZE=0 names the key, the value and what is allowed', () => {
    const r = fanout(['config', 'show'], { FANOUT_BATCH_SIZE: '0' });
    expect(r.code).toBe(2);
    expect(r.err.trim()).toBe(
      'fanout: invalid configuration: pipeline.batchSize from env FANOUT_BATCH_SIZE: must be an integer from 1 to 10000, got 0',
    );
    noStack(r.err);
  });

  it('an unknown key is refused, with a suggestion', () => {
    const r = fanout(['config', 'show', '--set', 'pipeline.batchsize=5']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('unknown key "pipeline.batchsize"; did you mean pipeline.batchSize?');
    noStack(r.err);
  });

  it('an unreachable broker is reported as such', () => {
    const r = fanout(['schema', 'apply', '--set', 'kafka.connectTimeoutMs=1500'], {
      KAFKA_BROKERS: '127.0.0.1:1',
    });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^fanout: Kafka at 127\.0\.0\.1:1 is unreachable/);
    noStack(r.err);
  });

  it('config show redacts secrets', () => {
    const r = fanout(['config', 'show'], {
      FANOUT_CASSANDRA_USERNAME: 'app',
      FANOUT_CASSANDRA_PASSWORD: 's3cret-value',
    });
    expect(r.code).toBe(0);
    expect(r.out).not.toContain('s3cret-value');
    expect(JSON.parse(r.out).cassandra.password).toBe('[redacted]');
  });

  it('bench: a bad or unknown option is one line naming it, exit 2, before any service is touched', () => {
    for (const [args, says] of [
      [['--rounds', 'x'], '--rounds must be a whole number of at least 1, got "x"'],
      [['--nope'], "Unknown option '--nope'"],
    ] as const) {
      const r = fanout(['bench', ...args]);
      expect(r.code).toBe(2);
      expect(r.err.split('\n')[0]).toBe(`fanout bench: ${says}`);
      noStack(r.err);
    }
    const help = fanout(['bench', '--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/^usage: fanout bench /);
  });
});
