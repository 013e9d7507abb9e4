/**
 * Issue #18 against real secured services (`services up --secure`, started here through the
 * launcher): a CQL-written tweet fanned out exactly once by `fanout cdc` and `fanout worker` over
 * SASL_SSL (SCRAM-SHA-512) with ACLs and Cassandra TLS + password auth, as the least-privilege
 * principals and role; each misconfiguration refused in one sentence with a non-zero exit and
 * nothing lost; and no secret in any output.
 */
import cassandra from 'cassandra-driver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kafkaAcls, type KafkaAcl } from '../../config/access.ts';
import { loadConfig, type Config } from '../../config/index.ts';
import { connectAdmin, createKafka, removeByPrefix } from '../../connectors/kafka/client.ts';
import { readToEnd } from '../../connectors/kafka/read-to-end.ts';
import { KafkaRecordSource } from '../../connectors/kafka/source.ts';
import { KafkaTransactions } from '../../connectors/kafka/transactions.ts';
import { createLogger } from '../../lib/log.ts';
import {
  applyCassandraGrants,
  applyKafkaAcls,
  secureCassandraClient,
  secureClientCertificate,
  secureClientSettings,
  secureCredentials,
  secureServicesUp,
} from '../../services/secure.ts';
import type { SourceListener } from '../../ports/streams.ts';
import { collect } from '../support/kafka.ts';
import {
  exitOf,
  fanoutAs,
  outputs,
  secretsUsed,
  secureConfig,
  secureNames,
  serviceLogs,
  startOtlpSink,
  type FanoutRun,
} from './support.ts';

const AUTHOR = 42n;
const FOLLOWERS = [1001n, 1002n, 1003n, 1004n, 1005n];
const WRONG_KAFKA = 'wrong-kafka-pw-7f3a';
const WRONG_CASSANDRA = 'wrong-cassandra-pw-91c2';

// Spans the processes export land here, to be searched for secrets like every other output.
const spans = await startOtlpSink();
const names = [...secureNames(), `telemetry.otlpEndpoint=${spans.url}`];
let admin: Config;
let db: cassandra.Client;
let acls: KafkaAcl[];
let connector: FanoutRun;
let tweetId: string;
const isWorkerTxn = (a: KafkaAcl): boolean =>
  a.role === 'worker' && a.resource === 'transactional-id';

/** The followers whose home timeline holds the tweet. */
async function delivered(): Promise<bigint[]> {
  const out: bigint[] = [];
  for (const user of FOLLOWERS) {
    const rs = await db.execute(
      `SELECT tweet_id FROM ${admin.cassandra.keyspace}.timelines WHERE user_id = ?`,
      [user],
      { prepare: true },
    );
    if (rs.rows.some((r) => String(r.tweet_id) === tweetId)) out.push(user);
  }
  return out;
}

/** A refused run: non-zero exit, its last stderr line one sentence matching `why`. */
async function refused(run: FanoutRun, why: RegExp): Promise<string> {
  const code = await exitOf(run);
  const lines = run.output().stderr.trim().split('\n');
  const last = lines.at(-1) ?? '';
  expect(code, run.output().stderr.slice(-2_000)).not.toBe(0);
  expect(last).toMatch(/^fanout: [^\n]+$/);
  expect(last).toMatch(why);
  return last;
}

describe('secured Kafka and Cassandra (issue #18)', () => {
  beforeAll(async () => {
    await secureServicesUp({ log: (l) => process.stderr.write(`[secure] ${l}\n`) });
    admin = secureConfig('admin', names);
    // The admin step: schema and topics, then the application role's GRANTs and the ACLs, all
    // but the workers' transactional ids (the missing-ACL case below adds them later).
    const schema = fanoutAs('schema apply', 'admin', ['schema', 'apply'], names);
    expect(await exitOf(schema), schema.output().stderr).toBe(0);
    await applyCassandraGrants(admin);
    acls = kafkaAcls(admin);
    await applyKafkaAcls(acls.filter((a) => !isWorkerTxn(a)));
    const creds = await secureCredentials();
    db = await secureCassandraClient('fanout_admin', creds.cassandra.fanout_admin ?? '');
    const ks = admin.cassandra.keyspace;
    for (const f of FOLLOWERS)
      await db.execute(
        `INSERT INTO ${ks}.followers (user_id, follower_id, followed_at) VALUES (?, ?, toTimestamp(now()))`,
        [AUTHOR, f],
        { prepare: true },
      );
    connector = fanoutAs('cdc', 'connector', ['cdc'], names);
  }, 600_000);

  afterAll(async () => {
    await connector?.stop().catch(() => undefined);
    // The secure set outlives the run: remove this test's keyspace, topics and groups.
    await db?.execute(`DROP KEYSPACE IF EXISTS ${admin.cassandra.keyspace}`).catch(() => undefined);
    await db?.shutdown();
    await spans.close();
    if (admin) {
      const a = await connectAdmin(createKafka(admin, createLogger('error')), admin);
      await removeByPrefix(a, `${admin.topics.completed.split('.')[0]!}.`).catch(() => undefined);
      await a.disconnect();
    }
  }, 120_000);

  it('the connector publishes a CQL-written tweet over SASL_SSL as fanout-cdc', async () => {
    tweetId = cassandra.types.TimeUuid.now().toString();
    await db.execute(
      `INSERT INTO ${admin.cassandra.keyspace}.tweets (tweet_id, author_id, body, created_at) VALUES (?, ?, 'secured hello', toTimestamp(now()))`,
      [tweetId, AUTHOR],
      { prepare: true },
    );
    const records = await collect(admin, [admin.topics.tweetsCdc], (r) =>
      r.some((x) => x.value.includes(tweetId)),
    );
    expect(records.filter((x) => x.value.includes(tweetId))).toHaveLength(1);
  });

  it('refuses, in one sentence, a worker whose transactional id has no ACL; nothing is written', async () => {
    const last = await refused(
      fanoutAs('worker without txn ACL', 'worker', ['worker'], names),
      /[Tt]ransactional[ -][Ii]d.*(authori[sz]ation|not authorized)/,
    );
    expect(last).not.toMatch(/\n/);
    expect(await delivered()).toEqual([]);
  });

  it('refuses a wrong Kafka password', async () => {
    await refused(
      fanoutAs('worker wrong kafka pw', 'worker', ['worker'], names, {
        env: {
          FANOUT_KAFKA_SASL_PASSWORD_FILE: undefined,
          FANOUT_KAFKA_SASL_PASSWORD: WRONG_KAFKA,
        },
      }),
      /refused the login: wrong kafka\.saslUsername or kafka\.saslPassword/,
    );
  });

  it('refuses a wrong Cassandra password', async () => {
    await refused(
      fanoutAs('worker wrong cassandra pw', 'worker', ['worker'], names, {
        env: {
          FANOUT_CASSANDRA_PASSWORD_FILE: undefined,
          FANOUT_CASSANDRA_PASSWORD: WRONG_CASSANDRA,
        },
      }),
      /refused the login of fanout_app: wrong cassandra\.username or cassandra\.password/,
    );
  });

  it('refuses untrusted server certificates (no CA given: system CAs only)', async () => {
    await refused(
      fanoutAs('worker untrusted kafka', 'worker', ['worker'], names, {
        sets: ['kafka.sslCaLocation='],
      }),
      /TLS handshake failed: the broker certificate is not signed by a CA in kafka\.sslCaLocation/,
    );
    await refused(
      fanoutAs('cdc untrusted cassandra', 'connector', ['cdc'], names, {
        sets: ['cassandra.tlsCaFile='],
      }),
      /presented a certificate that is not trusted .*cassandra\.tlsCaFile/,
    );
  });

  it('refuses plaintext clients on the TLS ports', async () => {
    await refused(
      fanoutAs('worker plaintext kafka', 'worker', ['worker'], names, {
        sets: [
          'kafka.securityProtocol=plaintext',
          'kafka.saslUsername=',
          'kafka.sslCaLocation=',
          'kafka.connectTimeoutMs=5000',
        ],
        env: { FANOUT_KAFKA_SASL_PASSWORD_FILE: undefined },
      }),
      /the listener speaks TLS: kafka\.securityProtocol is plaintext/,
    );
    await refused(
      fanoutAs('worker plaintext cassandra', 'worker', ['worker'], names, {
        sets: ['cassandra.tls=false', 'cassandra.tlsCaFile='],
      }),
      /answered a TLS handshake: it requires TLS/,
    );
  });

  it('every raw client explains a refusal the same way: admin, transactional producer, source, state reader', async () => {
    const s = secureClientSettings('worker');
    const as = (env: Record<string, string>, sets: string[]): Config =>
      loadConfig({ env, sets: [...s.sets, ...names, 'kafka.connectTimeoutMs=3000', ...sets] });
    const { FANOUT_KAFKA_SASL_PASSWORD_FILE: _file, ...env } = s.env;
    const cases = [
      {
        config: as({ ...env, FANOUT_KAFKA_SASL_PASSWORD: WRONG_KAFKA }, []),
        code: 'KAFKA_AUTH_FAILED',
        why: /^Kafka at [^ ]+: the broker refused the login: wrong kafka\.saslUsername or kafka\.saslPassword$/,
      },
      {
        config: as(s.env, ['kafka.sslCaLocation=']),
        code: 'KAFKA_TLS_FAILED',
        why: /^Kafka at [^ ]+: the TLS handshake failed: the broker certificate is not signed by a CA in kafka\.sslCaLocation/,
      },
    ];
    const log = createLogger('error');
    const listener: SourceListener = {
      room: () => 0,
      record: () => undefined,
      assigned: async () => undefined,
      revoked: async () => undefined,
      failed: () => undefined,
    };
    // All at once: each waits kafka.connectTimeoutMs for a broker that keeps refusing it.
    const attempts = cases.flatMap(({ config, code, why }) => {
      const source = new KafkaRecordSource(config, { workerId: 'refused', log });
      const producer = new KafkaTransactions(config, { transactionalId: 'refused', log });
      // The outcome is taken at once: a rejection awaited later would be reported unhandled.
      const tried = (client: string, attempt: Promise<unknown>) => ({
        client,
        outcome: attempt.then(
          () => new Error(`${client} connected`),
          (e: unknown) => e,
        ),
        code,
        why,
      });
      return [
        tried('admin', connectAdmin(config)),
        tried(
          'transactional producer',
          producer.open().finally(() => producer.close()),
        ),
        tried(
          'source',
          source.start(listener).finally(() => source.close()),
        ),
        tried('state reader', readToEnd(config, config.topics.checkpoints, [0])),
      ];
    });
    for (const { client, outcome, code, why } of attempts) {
      const err = await outcome;
      expect(err, `${client}: ${String(err)}`).toMatchObject({ code, retriable: false });
      expect((err as Error).message, client).toMatch(why);
    }
  });

  it('with the ACLs complete, a worker fans the tweet out exactly once as fanout-worker', async () => {
    await applyKafkaAcls(acls.filter(isWorkerTxn));
    const worker = fanoutAs('worker', 'worker', ['worker'], names);
    const deadline = Date.now() + 120_000;
    while ((await delivered()).length < FOLLOWERS.length) {
      if (Date.now() > deadline)
        throw new Error(
          `not delivered in 120 s; worker said: ${worker.output().stderr.slice(-3_000)}`,
        );
      await new Promise((r) => setTimeout(r, 250)); // polling a condition with a deadline
    }
    const completed = await collect(admin, [admin.topics.completed], (r) =>
      r.some((x) => x.value.includes(tweetId)),
    );
    expect(completed.filter((x) => x.value.includes(tweetId))).toHaveLength(1);
    expect(await worker.stop(), worker.output().stderr.slice(-3_000)).toBe(0);
    expect(await delivered()).toEqual(FOLLOWERS);
  });

  it('mutual TLS: a client certificate is its principal (CN=fanout-worker sees its topics, a stranger none)', async () => {
    const prefix = `${admin.topics.completed.split('.')[0]!}.`;
    const topicsAs = async (cn: string): Promise<string[]> => {
      const s = secureClientSettings('worker', { mtls: await secureClientCertificate(cn) });
      const config = loadConfig({ env: s.env, sets: [...s.sets, ...names] });
      const a = await connectAdmin(createKafka(config, createLogger('error')), config);
      try {
        return (await a.listTopics()).filter((t) => t.startsWith(prefix));
      } finally {
        await a.disconnect();
      }
    };
    expect(await topicsAs('fanout-worker')).toContain(admin.topics.tweetsCdc);
    expect(await topicsAs('stranger')).toEqual([]);
  });

  it('SASL PLAIN works too, over the same TLS listener', async () => {
    const s = secureClientSettings('worker');
    const config = loadConfig({
      env: s.env,
      sets: [...s.sets, ...names, 'kafka.saslMechanism=plain'],
    });
    const a = await connectAdmin(createKafka(config, createLogger('error')), config);
    try {
      expect(await a.listTopics()).toContain(admin.topics.tweetsCdc);
    } finally {
      await a.disconnect();
    }
  });

  it('no secret appears in any output of these runs (stdout, stderr, exported spans) nor in the services logs', async () => {
    await connector.stop();
    const secrets = await secretsUsed([WRONG_KAFKA, WRONG_CASSANDRA]);
    const channels = [
      ...outputs.flatMap((o) => [
        { name: `${o.name} stdout`, text: o.stdout },
        { name: `${o.name} stderr`, text: o.stderr },
      ]),
      ...(await serviceLogs()),
      ...spans.bodies.map((text, i) => ({ name: `exported spans #${i}`, text })),
    ];
    // Controls: the grep reads real output (user names are printed, passwords are not).
    expect(secrets).toHaveLength(8); // keystore, 3 Kafka users, 2 Cassandra roles, 2 wrong ones
    expect(channels.length).toBeGreaterThan(20);
    expect(channels.some((c) => c.text.includes('refused the login of fanout_app'))).toBe(true);
    expect(spans.bodies.some((b) => b.includes('resourceSpans'))).toBe(true);
    const hits = channels.flatMap((c) =>
      secrets.filter((s) => c.text.includes(s)).map(() => c.name),
    );
    expect(hits).toEqual([]);
  });
});
