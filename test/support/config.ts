import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { loadConfig, type Config } from '../../config/index.ts';

/** A short unique suffix for a test's own keyspace / topic / group names. */
export const uniq = (): string => randomUUID().replaceAll('-', '').slice(0, 12);

/**
 * A config pointing at the services the global setup found, with this test's own keyspace and
 * topic names, plus any `key=value` overrides.
 */
export function testConfig(sets: string[] = []): Config {
  return loadConfig({ env: {}, sets: testSettings(sets) });
}

/** The `key=value` settings behind {@link testConfig}, e.g. to hand to a child `fanout` process. */
export function testSettings(sets: string[] = []): string[] {
  const s = inject('services');
  // The run's tag first: the global teardown removes the run's topics and keyspaces by it.
  const id = `${inject('runTag')}${uniq().slice(0, 8)}`;
  return [
    `kafka.brokers=${s.kafkaBrokers}`,
    `cassandra.contactPoints=${s.cassandraContactPoints}`,
    `cdc.rawDir=${s.cdcRawDir}`,
    ...ownNames(id),
    'log.level=warn',
    ...sets,
  ];
}

/**
 * A test's own keyspace, topic and group names from `id` (the run's tag first: the global teardown
 * removes the run's topics and keyspaces by it), 3 partitions each, and no metrics endpoint (test
 * processes would fight over one port).
 */
export function ownNames(id: string): string[] {
  return [
    `cassandra.keyspace=t_${id}`,
    `topics.cdcPrefix=t-${id}.cdc`,
    `topics.cdcOffsets=t-${id}.cdc-offsets`,
    `topics.checkpoints=t-${id}.checkpoints`,
    `topics.completed=t-${id}.completed`,
    `topics.tasks=t-${id}.tasks`,
    `topics.deadLetter=t-${id}.dead-letter`,
    `pipeline.groupId=t-${id}.workers`,
    'topics.cdcPartitions=3',
    'topics.tasksPartitions=3',
    'telemetry.prometheusPort=0',
    // A test seeds its follower graph before it starts a connector: the state it starts from, not
    // follows to deliver (each row of followers is a change event since the graph lane, issue #21).
    'cdc.startFrom=latest',
  ];
}
