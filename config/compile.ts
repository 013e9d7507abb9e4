/**
 * Turns validated settings into the one frozen, fully defaulted object the rest of the code
 * receives, with derived values (topic of the tweets CDC stream, replication map) computed once
 * and contradictory combinations rejected in a sentence naming both keys.
 */
import { dirname, join } from 'node:path';
import { ConfigError } from './errors.ts';
import { parseReplication } from './formats.ts';

type Level = 'debug' | 'info' | 'warn' | 'error';

/** Settings as validated by the schema (see schema.ts for every doc string). */
export interface Settings {
  kafka: {
    brokers: string[];
    clientId: string;
    securityProtocol: 'plaintext' | 'ssl' | 'sasl_plaintext' | 'sasl_ssl';
    saslMechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512';
    saslUsername: string;
    saslPassword: string;
    sslCaLocation: string;
    sslCertificateLocation: string;
    sslKeyLocation: string;
    sslKeyPassword: string;
    sslVerifyHostname: boolean;
    connectTimeoutMs: number;
    transactionTimeoutMs: number;
    replicationFactor: number;
  };
  cassandra: {
    contactPoints: string[];
    localDataCenter: string;
    username: string;
    password: string;
    tls: boolean;
    tlsCaFile: string;
    tlsCertFile: string;
    tlsKeyFile: string;
    tlsVerifyHostname: boolean;
    keyspace: string;
    replication: string;
    writeConsistency: string;
    readConsistency: string;
    requestTimeoutMs: number;
    connectTimeoutMs: number;
  };
  topics: {
    cdcPrefix: string;
    cdcPartitions: number;
    cdcOffsets: string;
    checkpoints: string;
    completed: string;
    tasks: string;
    tasksPartitions: number;
    deadLetter: string;
  };
  cdc: {
    rawDir: string;
    nodeId: string;
    errorDir: string;
    maxEventBytes: number;
    keyspaces: string[];
    startFrom: 'earliest' | 'latest';
    pollIntervalMs: number;
    maxEventsPerTransaction: number;
    totalSpaceMiB: number;
    warnUsageRatio: number;
  };
  pipeline: {
    groupId: string;
    pageSize: number;
    batchSize: number;
    lingerMs: number;
    maxInFlightBatches: number;
    maxInFlightTweets: number;
    checkpointEvery: number;
    splitThreshold: number;
    splitTaskSize: number;
    smallFirst: boolean;
    shutdownTimeoutMs: number;
    writeStrategy: 'batch' | 'concurrent';
    dedupeCopies: 'auto' | 'on' | 'off';
    sessionTimeoutMs: number;
    offsetReset: 'error' | 'earliest' | 'latest';
  };
  graph: { backfillTweets: number; unfollowRecent: number; maxInFlight: number };
  timeline: { maxEntries: number; trimEvery: number };
  retry: { maxAttempts: number; baseDelayMs: number; maxDelayMs: number; outageBudgetMs: number };
  telemetry: {
    enabled: boolean;
    serviceName: string;
    otlpEndpoint: string;
    jaegerUrl: string;
    prometheusPort: number;
    prometheusHost: string;
    traceSampleRatio: number;
    batchSpans: 'all' | 'none' | 'sampled';
    batchSpanEvery: number;
    slowSpanMs: number;
    cassandraSpans: boolean;
  };
  log: { level: Level; format: 'text' | 'json' };
}

type DeepReadonly<T> = { readonly [K in keyof T]: T[K] extends object ? DeepReadonly<T[K]> : T[K] };

/** The compiled configuration: settings plus derived values, deeply frozen. */
export type Config = DeepReadonly<
  Settings & {
    topics: Settings['topics'] & {
      /** CDC topic of the data contract's `tweets` table: <cdcPrefix>.<keyspace>.tweets. */
      tweetsCdc: string;
      /** CDC topic of the `followers` table (follows and unfollows): <cdcPrefix>.<keyspace>.followers. */
      followersCdc: string;
    };
    cassandra: Settings['cassandra'] & {
      /** Replication map for CREATE KEYSPACE. */
      replicationMap: Record<string, string | number>;
    };
  }
>;

/** The CDC topic name of a table. */
export const cdcTopic = (prefix: string, keyspace: string, table: string): string =>
  `${prefix}.${keyspace}.${table}`;

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/**
 * SASL settings that cannot work together, one sentence each naming the keys: a login needs both
 * its name and password, and a protocol without SASL would drop them silently (the broker's SASL
 * listener then cuts the connection with no word of why).
 */
function saslProblems(s: Settings): string[] {
  const k = s.kafka;
  const sasl = k.securityProtocol.startsWith('sasl');
  if (sasl)
    return [
      ...(k.saslUsername === ''
        ? [`kafka.securityProtocol is ${k.securityProtocol}, so kafka.saslUsername must be set`]
        : []),
      ...(k.saslPassword === ''
        ? [
            `kafka.securityProtocol is ${k.securityProtocol}, so kafka.saslPassword must be set (env FANOUT_KAFKA_SASL_PASSWORD or FANOUT_KAFKA_SASL_PASSWORD_FILE)`,
          ]
        : []),
    ];
  return (['saslUsername', 'saslPassword'] as const)
    .filter((key) => k[key] !== '')
    .map(
      (key) =>
        `kafka.${key} is set but kafka.securityProtocol is ${k.securityProtocol}: use sasl_ssl (or sasl_plaintext)`,
    );
}

/** TLS settings that cannot work together, one sentence each naming the keys. */
function tlsProblems(s: Settings): string[] {
  const problems: string[] = [];
  const k = s.kafka;
  const kafkaTls = k.securityProtocol === 'ssl' || k.securityProtocol === 'sasl_ssl';
  for (const key of ['sslCaLocation', 'sslCertificateLocation', 'sslKeyLocation'] as const) {
    if (k[key] !== '' && !kafkaTls)
      problems.push(
        `kafka.${key} is set but kafka.securityProtocol is ${k.securityProtocol}: use ssl or sasl_ssl`,
      );
  }
  if ((k.sslCertificateLocation === '') !== (k.sslKeyLocation === ''))
    problems.push('kafka.sslCertificateLocation and kafka.sslKeyLocation must be set together');
  if (k.sslKeyPassword !== '' && k.sslKeyLocation === '')
    problems.push('kafka.sslKeyPassword is set but kafka.sslKeyLocation is not');
  const c = s.cassandra;
  for (const key of ['tlsCaFile', 'tlsCertFile', 'tlsKeyFile'] as const) {
    if (c[key] !== '' && !c.tls)
      problems.push(`cassandra.${key} is set but cassandra.tls is false: set cassandra.tls=true`);
  }
  if ((c.tlsCertFile === '') !== (c.tlsKeyFile === ''))
    problems.push('cassandra.tlsCertFile and cassandra.tlsKeyFile must be set together');
  return problems;
}

/** Whether every `host:port` of `endpoints` is on this machine (loopback). */
function allLoopback(endpoints: readonly string[]): boolean {
  return endpoints.every((e) => /^(127\.\d+\.\d+\.\d+|localhost)(:\d+)?$/.test(e));
}

/**
 * Settings that work but send a password across the network in the clear, one sentence each
 * naming the keys (the process warns at start; a loopback-only endpoint list is exempt: its
 * traffic never leaves the machine).
 */
export function configWarnings(c: Config): string[] {
  const warnings: string[] = [];
  const k = c.kafka;
  if (
    k.securityProtocol === 'sasl_plaintext' &&
    k.saslMechanism === 'plain' &&
    !allLoopback(k.brokers)
  )
    warnings.push(
      'kafka.securityProtocol is sasl_plaintext with kafka.saslMechanism plain: the SASL password crosses the network in the clear; use sasl_ssl (or a scram-sha-* mechanism, which sends no password)',
    );
  const cq = c.cassandra;
  if (cq.username !== '' && !cq.tls && !allLoopback(cq.contactPoints))
    warnings.push(
      'cassandra.username is set and cassandra.tls is false: the password crosses the network in the clear; set cassandra.tls=true',
    );
  return warnings;
}

/** Compiles validated settings; throws with every contradiction found. */
export function compile(s: Settings): Config {
  const problems: string[] = [];
  const p = s.pipeline;
  if (p.splitTaskSize < p.pageSize) {
    problems.push(
      `pipeline.splitTaskSize (${p.splitTaskSize}) must be at least pipeline.pageSize (${p.pageSize}): a task is a whole number of pages`,
    );
  }
  if (p.splitThreshold < p.splitTaskSize) {
    problems.push(
      `pipeline.splitThreshold (${p.splitThreshold}) must be at least pipeline.splitTaskSize (${p.splitTaskSize}), or a split tweet would make a single task`,
    );
  }
  if (s.graph.unfollowRecent < s.graph.backfillTweets) {
    problems.push(
      `graph.unfollowRecent (${s.graph.unfollowRecent}) must be at least graph.backfillTweets (${s.graph.backfillTweets}): an unfollow must reach every tweet a replayed backfill could write`,
    );
  }
  if (s.retry.maxDelayMs < s.retry.baseDelayMs) {
    problems.push(
      `retry.maxDelayMs (${s.retry.maxDelayMs}) must be at least retry.baseDelayMs (${s.retry.baseDelayMs})`,
    );
  }
  if (s.retry.outageBudgetMs < s.retry.maxDelayMs) {
    problems.push(
      `retry.outageBudgetMs (${s.retry.outageBudgetMs}) must be at least retry.maxDelayMs (${s.retry.maxDelayMs}): an outage budget shorter than one backoff delay cannot outlast any outage (cap attempts with retry.maxAttempts instead)`,
    );
  }
  if (p.lingerMs >= s.kafka.transactionTimeoutMs) {
    problems.push(
      `pipeline.lingerMs (${p.lingerMs}) must be below kafka.transactionTimeoutMs (${s.kafka.transactionTimeoutMs})`,
    );
  }
  problems.push(...saslProblems(s));
  if ((s.cassandra.username === '') !== (s.cassandra.password === '')) {
    problems.push('cassandra.username and cassandra.password must be set together');
  }
  for (const [key, example] of [
    ['otlpEndpoint', 'http://127.0.0.1:4318'],
    ['jaegerUrl', 'http://127.0.0.1:16686'],
  ] as const) {
    if (!/^https?:\/\/[^/\s]+/.test(s.telemetry[key]))
      problems.push(
        `telemetry.${key} must be an http:// or https:// URL (e.g. ${example}), got ${JSON.stringify(s.telemetry[key])}`,
      );
  }
  problems.push(...tlsProblems(s));
  const replicationMap = parseReplication(s.cassandra.replication);
  if (!replicationMap)
    problems.push(`cassandra.replication ${JSON.stringify(s.cassandra.replication)} is malformed`);
  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze({
    ...s,
    topics: {
      ...s.topics,
      tweetsCdc: cdcTopic(s.topics.cdcPrefix, s.cassandra.keyspace, 'tweets'),
      followersCdc: cdcTopic(s.topics.cdcPrefix, s.cassandra.keyspace, 'followers'),
    },
    cassandra: { ...s.cassandra, replicationMap },
    cdc: {
      ...s.cdc,
      keyspaces: s.cdc.keyspaces.length > 0 ? s.cdc.keyspaces : [s.cassandra.keyspace],
      errorDir: s.cdc.errorDir || join(dirname(s.cdc.rawDir), 'cdc_error'),
    },
  }) as Config;
}
