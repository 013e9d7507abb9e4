/**
 * Wires a worker to the real services: the Kafka source and transactional sink (created here
 * with the worker's stable identity and owned by the worker, which closes them), the checkpoint
 * reader, and the Cassandra stores over the app's one Cassandra client (passed in, never created).
 */
import type { Config } from '../config/index.ts';
import type { CassandraClient } from '../connectors/cassandra/client.ts';
import { CassandraAuthorTweetStore } from '../connectors/cassandra/author-tweets.ts';
import { CassandraClaimStore } from '../connectors/cassandra/claims.ts';
import { CassandraFollowerStore } from '../connectors/cassandra/followers.ts';
import { CassandraTimelineStore } from '../connectors/cassandra/timelines.ts';
import { CassandraTweetAuthorStore } from '../connectors/cassandra/tweet-authors.ts';
import { readToEnd } from '../connectors/kafka/read-to-end.ts';
import { KafkaRecordSource } from '../connectors/kafka/source.ts';
import { KafkaTransactionalSink, workerTransactionalId } from '../connectors/kafka/transactions.ts';
import type { Logger } from '../lib/log.ts';
import { checkpointPartition } from '../records/checkpoint.ts';
import { capTimelines } from './cap.ts';
import { Worker, type WorkerPorts } from './worker.ts';

export function workerPorts(
  config: Config,
  cassandra: CassandraClient,
  log: Logger,
  workerId: string,
): WorkerPorts {
  const ks = config.cassandra.keyspace;
  const source = new KafkaRecordSource(config, { workerId, log });
  return {
    source,
    sink: new KafkaTransactionalSink(config, {
      transactionalId: workerTransactionalId(config, workerId),
      source,
      log,
    }),
    readCheckpoints: (partitions, signal) =>
      readToEnd(config, config.topics.checkpoints, partitions, { signal }),
    followers: new CassandraFollowerStore(cassandra, ks, {
      readConsistency: config.cassandra.readConsistency,
    }),
    timelines: capTimelines(
      new CassandraTimelineStore(cassandra, ks, {
        writeConsistency: config.cassandra.writeConsistency,
        readConsistency: config.cassandra.readConsistency,
        strategy: config.pipeline.writeStrategy,
      }),
      { ...config.timeline, log },
    ),
    authors: new CassandraTweetAuthorStore(cassandra, ks),
    ...(dedupesCopies(config) ? { claims: new CassandraClaimStore(cassandra, ks) } : {}),
    work: workLanePorts(config, log, workerId),
    graph: {
      ...laneStreams(config, log, workerId, config.topics.followersCdc, 'graph'),
      authorTweets: new CassandraAuthorTweetStore(cassandra, ks),
    },
  };
}

/**
 * The work-topic lane of split fan-outs: its own consumer group (`<groupId>.tasks`) and
 * transactional producer. Its checkpoints and tallies live in the checkpoint topic, on partition
 * (work partition mod cdcPartitions), keyed by work topic and partition.
 */
function workLanePorts(config: Config, log: Logger, workerId: string): WorkerPorts['work'] {
  return laneStreams(config, log, workerId, config.topics.tasks, 'tasks');
}

/**
 * The streams of a lane other than the tweets': its source in group `<groupId>.<lane>`, its own
 * transactional producer, and its checkpoints on partition (source partition mod cdcPartitions)
 * of the checkpoint topic, keyed by its source topic and partition.
 */
function laneStreams(
  config: Config,
  log: Logger,
  workerId: string,
  topic: string,
  lane: 'tasks' | 'graph',
): NonNullable<WorkerPorts['work']> {
  const source = new KafkaRecordSource(config, {
    workerId,
    log,
    topic,
    groupSuffix: `.${lane}`,
  });
  return {
    source,
    sink: new KafkaTransactionalSink(config, {
      transactionalId: workerTransactionalId(config, workerId, lane),
      source,
      log,
    }),
    readCheckpoints: (partitions, signal) =>
      readToEnd(
        config,
        config.topics.checkpoints,
        [
          ...new Set(
            partitions.map((p) =>
              checkpointPartition(
                { name: config.topics.checkpoints, partitions: config.topics.cdcPartitions },
                p,
              ),
            ),
          ),
        ],
        { signal },
      ),
  };
}

/** A worker over Kafka and Cassandra. `workerId` must be stable across restarts and unique in the group. */
export function createWorker(options: {
  config: Config;
  cassandra: CassandraClient;
  log: Logger;
  workerId: string;
}): Worker {
  const { config, cassandra, log, workerId } = options;
  return new Worker({
    config,
    workerId,
    log,
    ports: workerPorts(config, cassandra, log, workerId),
  });
}

/**
 * Whether replica copies of a write are de-duplicated (`pipeline.dedupeCopies`): `auto` when the
 * keyspace keeps more than one replica in all, since then every replica's connector sends a copy
 * (one replica in each of two data centres is two copies).
 */
export function dedupesCopies(config: Config): boolean {
  const mode = config.pipeline.dedupeCopies;
  if (mode !== 'auto') return mode === 'on';
  const replicas = Object.entries(config.cassandra.replicationMap)
    .filter(([key]) => key !== 'class')
    .reduce((n, [, rf]) => n + Number(rf), 0);
  return replicas > 1;
}
