import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  configWarnings,
  leaves,
  loadConfig,
  redacted,
  schema,
} from '../../config/index.ts';

const problems = (f: () => unknown): readonly string[] => {
  try {
    f();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
};

describe('loadConfig', () => {
  it('defaults validate and compile into a deeply frozen object with derived values', () => {
    const c = loadConfig({ env: {} });
    expect(c.pipeline.batchSize).toBe(50);
    expect(c.kafka.brokers).toEqual(['127.0.0.1:9092']);
    expect(c.topics.tweetsCdc).toBe('cdc.fanout.tweets');
    expect(c.cassandra.replicationMap).toEqual({ class: 'SimpleStrategy', replication_factor: 1 });
    expect(
      Object.isFrozen(c) && Object.isFrozen(c.kafka.brokers) && Object.isFrozen(c.pipeline),
    ).toBe(true);
  });

  it('FANOUT_PORT_OFFSET moves the default endpoints to the offset local services; explicit ones win; a bad offset is named', () => {
    const c = loadConfig({ env: { FANOUT_PORT_OFFSET: '1000' } });
    expect(c.kafka.brokers).toEqual(['127.0.0.1:10092']);
    expect(c.cassandra.contactPoints).toEqual(['127.0.0.1:10042']);
    expect(
      loadConfig({ env: { FANOUT_PORT_OFFSET: '1000', KAFKA_BROKERS: 'k:1' } }).kafka.brokers,
    ).toEqual(['k:1']);
    expect(problems(() => loadConfig({ env: { FANOUT_PORT_OFFSET: 'ten' } }))).toEqual([
      'env FANOUT_PORT_OFFSET must be a whole number from 0 to 50000 (added to every local service port), got "ten"',
    ]);
  });

  it('precedence: file < env < --set', () => {
    const file = join(tmpdir(), `fanout-${process.pid}.json`);
    writeFileSync(
      file,
      JSON.stringify({ pipeline: { batchSize: 10, pageSize: 300 }, kafka: { brokers: ['f:1'] } }),
    );
    const c = loadConfig({
      file,
      env: { FANOUT_BATCH_SIZE: '20', KAFKA_BROKERS: 'a:1, b:2' },
      sets: ['pipeline.batchSize=30'],
    });
    expect(c.pipeline.batchSize).toBe(30);
    expect(c.pipeline.pageSize).toBe(300);
    expect(c.kafka.brokers).toEqual(['a:1', 'b:2']);
  });

  it('reports every bad value with key, source, allowed range and the value given', () => {
    expect(
      problems(() => loadConfig({ env: { FANOUT_BATCH_SIZE: '0', FANOUT_LOG_LEVEL: 'loud' } })),
    ).toEqual([
      'pipeline.batchSize from env FANOUT_BATCH_SIZE: must be an integer from 1 to 10000, got 0',
      'log.level from env FANOUT_LOG_LEVEL: must be one of debug | info | warn | error, got "loud"',
    ]);
    expect(problems(() => loadConfig({ env: {}, sets: ['pipeline.pageSize=12abc'] }))).toEqual([
      'pipeline.pageSize from --set (env FANOUT_PAGE_SIZE): must be an integer from 1 to 100000, got "12abc"',
    ]);
  });

  it('refuses unknown keys in files, --set and FANOUT_ env vars, suggesting the right one', () => {
    const file = join(tmpdir(), `fanout-unknown-${process.pid}.json`);
    writeFileSync(file, JSON.stringify({ pipeline: { batchsize: 5 } }));
    expect(problems(() => loadConfig({ file, env: {} }))[0]).toMatch(
      /unknown key "pipeline.batchsize"; did you mean pipeline.batchSize\?/,
    );
    expect(problems(() => loadConfig({ env: { FANOUT_BATCHSIZE: '5' } }))).toEqual([
      'env FANOUT_BATCHSIZE is not a setting of this product; did you mean FANOUT_BATCH_SIZE?',
    ]);
    // The test suite's knobs are inherited by the processes it spawns (CI runs FANOUT_CLUSTER=0).
    expect(() =>
      loadConfig({ env: { FANOUT_CLUSTER: '0', FANOUT_CHAOS_SEED: '7' } }),
    ).not.toThrow();
    expect(problems(() => loadConfig({ env: {}, sets: ['nonsense'] }))[0]).toMatch(
      /must look like key=value/,
    );
  });

  it('a config file that is not a JSON object of settings says so, naming the file', () => {
    const file = join(tmpdir(), `fanout-shape-${process.pid}.json`);
    for (const [text, got] of [
      ['[{ "pipeline": { "batchSize": 5 } }]', 'an array'],
      ['null', 'null'],
      ['"pipeline.batchSize=5"', 'a string'],
    ] as const) {
      writeFileSync(file, text);
      expect(problems(() => loadConfig({ file, env: {} }))).toEqual([
        `config file ${file} must hold a JSON object of settings (e.g. { "pipeline": { "batchSize": 100 } }), got ${got}`,
      ]);
    }
  });

  it('cdc.maxEventBytes stops at what the producer can send (librdkafka message.max.bytes)', () => {
    expect(loadConfig({ env: { FANOUT_CDC_MAX_EVENT_BYTES: '1000000' } }).cdc.maxEventBytes).toBe(
      1_000_000,
    );
    expect(problems(() => loadConfig({ env: { FANOUT_CDC_MAX_EVENT_BYTES: '2000000' } }))).toEqual([
      'cdc.maxEventBytes from env FANOUT_CDC_MAX_EVENT_BYTES: must be an integer from 16384 to 1000000, got 2000000',
    ]);
  });

  it('rejects contradictory settings in a sentence naming both keys', () => {
    expect(
      problems(() =>
        loadConfig({ env: {}, sets: ['pipeline.pageSize=1000', 'pipeline.splitTaskSize=500'] }),
      ),
    ).toEqual([
      'pipeline.splitTaskSize (500) must be at least pipeline.pageSize (1000): a task is a whole number of pages',
    ]);
    expect(problems(() => loadConfig({ env: { FANOUT_CASSANDRA_USERNAME: 'u' } }))).toEqual([
      'cassandra.username and cassandra.password must be set together',
    ]);
  });

  it('validates replication strings', () => {
    expect(
      loadConfig({ env: { FANOUT_CASSANDRA_REPLICATION: 'NetworkTopologyStrategy:dc1=3,dc2=2' } })
        .cassandra.replicationMap,
    ).toEqual({ class: 'NetworkTopologyStrategy', dc1: 3, dc2: 2 });
    expect(
      problems(() => loadConfig({ env: { FANOUT_CASSANDRA_REPLICATION: 'Simple:1' } }))[0],
    ).toMatch(/must be SimpleStrategy:<rf>/);
  });

  it('never prints secrets: neither in config show nor in validation errors', () => {
    const c = loadConfig({
      env: {
        FANOUT_KAFKA_SECURITY_PROTOCOL: 'sasl_ssl',
        FANOUT_KAFKA_SASL_USERNAME: 'u',
        FANOUT_KAFKA_SASL_PASSWORD: 'hunter2',
      },
    });
    expect(redacted(c)).not.toContain('hunter2');
    expect(JSON.parse(redacted(c)).kafka.saslPassword).toBe('[redacted]');
  });

  it('every knob has a doc, a default and its own env var', () => {
    const envs = new Set<string>();
    for (const leaf of leaves.values()) {
      expect(leaf.env, leaf.key).toMatch(
        /^(FANOUT_|KAFKA_BROKERS$|CASSANDRA_CONTACT_POINTS$|OTEL_SERVICE_NAME$)/,
      );
      expect(envs.has(leaf.env), `env ${leaf.env} used twice`).toBe(false);
      envs.add(leaf.env);
    }
    expect(leaves.size).toBeGreaterThan(40);
    expect(Object.keys(schema)).toEqual([
      'kafka',
      'cassandra',
      'topics',
      'cdc',
      'pipeline',
      'graph',
      'timeline',
      'retry',
      'telemetry',
      'log',
    ]);
  });
});

describe('configWarnings', () => {
  const sasl = (extra: Record<string, string>) =>
    configWarnings(
      loadConfig({
        env: {
          FANOUT_KAFKA_SECURITY_PROTOCOL: 'sasl_plaintext',
          FANOUT_KAFKA_SASL_USERNAME: 'u',
          FANOUT_KAFKA_SASL_PASSWORD: 'hunter2',
          KAFKA_BROKERS: 'kafka-1.example:9092',
          ...extra,
        },
      }),
    );

  it('warns, naming the keys, when a password would cross the network in the clear', () => {
    expect(sasl({})).toEqual([
      expect.stringMatching(/kafka.securityProtocol is sasl_plaintext .*kafka.saslMechanism plain/),
    ]);
    const cassandra = configWarnings(
      loadConfig({
        env: {
          FANOUT_CASSANDRA_USERNAME: 'app',
          FANOUT_CASSANDRA_PASSWORD: 'hunter2',
          CASSANDRA_CONTACT_POINTS: 'cassandra-1.example:9042,127.0.0.1:9042',
        },
      }),
    );
    expect(cassandra).toEqual([expect.stringMatching(/cassandra.username .*cassandra.tls=true/)]);
    expect(JSON.stringify(cassandra)).not.toContain('hunter2');
  });

  it('says nothing for TLS, SCRAM, no credentials, or endpoints on loopback only', () => {
    expect(sasl({ FANOUT_KAFKA_SECURITY_PROTOCOL: 'sasl_ssl' })).toEqual([]);
    expect(sasl({ FANOUT_KAFKA_SASL_MECHANISM: 'scram-sha-256' })).toEqual([]);
    expect(sasl({ KAFKA_BROKERS: '127.0.0.1:9092,localhost:9093' })).toEqual([]);
    expect(configWarnings(loadConfig({ env: {} }))).toEqual([]);
    const local = loadConfig({
      env: { FANOUT_CASSANDRA_USERNAME: 'app', FANOUT_CASSANDRA_PASSWORD: 'hunter2' },
    });
    expect(configWarnings(local)).toEqual([]);
  });
});
