/**
 * The same two services as the local launcher, for machines with a Docker engine: official
 * images, CDC on, and Cassandra's data directory bind-mounted from the host so the connector can
 * read cdc_raw (Cassandra hard-links segments there, so it must share the commit log's volume).
 */
import { mkdtempSync, chmodSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { GenericContainer, Wait, type StartedTestContainer } from 'testcontainers';

const CASSANDRA_YAML = resolve(import.meta.dirname, '../../docker/cassandra.yaml');

export async function startContainers(): Promise<{
  services: { kafkaBrokers: string; cassandraContactPoints: string; cdcRawDir: string };
  stop: () => Promise<void>;
}> {
  const data = mkdtempSync(join(tmpdir(), 'fanout-cassandra-'));
  chmodSync(data, 0o777);
  const yaml = join(data, 'cassandra.yaml');
  copyFileSync(CASSANDRA_YAML, yaml);
  const kafkaPort = 19092;
  const started: StartedTestContainer[] = [];
  try {
    started.push(
      await new GenericContainer('apache/kafka:4.2.2')
        .withExposedPorts({ container: kafkaPort, host: kafkaPort })
        .withEnvironment({
          KAFKA_NODE_ID: '1',
          KAFKA_PROCESS_ROLES: 'broker,controller',
          KAFKA_LISTENERS: `PLAINTEXT://:${kafkaPort},CONTROLLER://:9093`,
          KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://127.0.0.1:${kafkaPort}`,
          KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
          KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
          KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
          KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
          KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
          KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR: '1',
          KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR: '1',
          KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
          // Abort a dead producer's timed-out transaction within a second (default: 10 s).
          KAFKA_TRANSACTION_ABORT_TIMED_OUT_TRANSACTION_CLEANUP_INTERVAL_MS: '1000',
        })
        .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
        .start(),
    );
    started.push(
      await new GenericContainer('cassandra:5.0')
        .withExposedPorts(9042)
        .withBindMounts([
          { source: yaml, target: '/etc/cassandra/cassandra.yaml', mode: 'rw' },
          { source: data, target: '/var/lib/cassandra', mode: 'rw' },
        ])
        .withEnvironment({ MAX_HEAP_SIZE: '1G', HEAP_NEWSIZE: '200M' })
        .withWaitStrategy(Wait.forLogMessage(/Starting listening for CQL clients/))
        .withStartupTimeout(240_000)
        .start(),
    );
  } catch (err) {
    await Promise.allSettled(started.map((c) => c.stop()));
    throw err;
  }
  const [kafka, cassandra] = started as [StartedTestContainer, StartedTestContainer];
  return {
    services: {
      kafkaBrokers: `127.0.0.1:${kafka.getMappedPort(kafkaPort)}`,
      cassandraContactPoints: `${cassandra.getHost()}:${cassandra.getMappedPort(9042)}`,
      cdcRawDir: join(data, 'cdc_raw'),
    },
    stop: async () => {
      await Promise.allSettled(started.map((c) => c.stop()));
    },
  };
}
