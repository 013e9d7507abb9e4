/**
 * The least privilege the product needs, computed from the configured names: Kafka ACLs for the
 * CDC connector and for fan-out workers, and the CQL GRANTs of the application role. The same
 * data is printed by `fanout security acls|grants` and applied by the secure local services
 * (services/secure.ts), so the documented set is the tested set. Creating topics, keyspace and
 * tables (`fanout schema apply`) is an admin step and needs none of this.
 */
import type { Config } from './compile.ts';

export type AclResource = 'topic' | 'group' | 'transactional-id' | 'cluster';
export type AclOperation = 'Read' | 'Write' | 'Create' | 'Describe' | 'IdempotentWrite';

/** One ALLOW ACL, as kafka-acls.sh and the Admin API take it. */
export interface KafkaAcl {
  /** `User:<name>`. */
  readonly principal: string;
  readonly resource: AclResource;
  /** The resource name (`kafka-cluster` for the cluster). */
  readonly name: string;
  readonly pattern: 'literal' | 'prefixed';
  readonly operation: AclOperation;
  /** Which process needs it, for the printed listing. */
  readonly role: 'connector' | 'worker';
}

/** The principals the ACLs are for. */
export interface Principals {
  /** Default `User:fanout-cdc`. */
  readonly connector: string;
  /** Default `User:fanout-worker`. */
  readonly worker: string;
}

export const DEFAULT_PRINCIPALS: Principals = {
  connector: 'User:fanout-cdc',
  worker: 'User:fanout-worker',
};

/** Group id prefix of the read-to-end state readers (connectors/kafka/read-to-end.ts). */
const STATE_READER_GROUPS = 'fanout-state-reader-';

/** Every ACL the connector and the workers need, for the configured names. */
export function kafkaAcls(config: Config, principals: Principals = DEFAULT_PRINCIPALS): KafkaAcl[] {
  const t = config.topics;
  const out: KafkaAcl[] = [];
  const add = (
    role: KafkaAcl['role'],
    resource: AclResource,
    name: string,
    operations: AclOperation[],
    pattern: KafkaAcl['pattern'] = 'literal',
  ): void => {
    const principal = role === 'connector' ? principals.connector : principals.worker;
    for (const operation of operations)
      out.push({ principal, resource, name, pattern, operation, role });
  };
  // Connector: produces each CDC table's changes (creating the topic of a table that gets CDC
  // later) and its source offsets in one transaction per batch, and reads the offsets back.
  for (const ks of config.cdc.keyspaces)
    add('connector', 'topic', `${t.cdcPrefix}.${ks}.`, ['Write', 'Describe', 'Create'], 'prefixed');
  add('connector', 'topic', t.cdcOffsets, ['Read', 'Write', 'Describe']);
  add('connector', 'topic', t.deadLetter, ['Write', 'Describe']);
  // One transactional id per Cassandra node: named by cdc.nodeId, else by the node's host_id,
  // known only at run time (then every node's connector, by prefix).
  const node = config.cdc.nodeId;
  add(
    'connector',
    'transactional-id',
    `${config.kafka.clientId}-cdc-${node}`,
    ['Write', 'Describe'],
    node === '' ? 'prefixed' : 'literal',
  );
  add('connector', 'group', STATE_READER_GROUPS, ['Read'], 'prefixed');
  add('connector', 'cluster', 'kafka-cluster', ['IdempotentWrite']);
  // Worker: consumes tweets CDC, followers CDC and tasks in its groups, writes checkpoints,
  // completions, tasks and dead letters transactionally (one transactional id per worker and lane).
  for (const topic of [t.tweetsCdc, t.followersCdc])
    add('worker', 'topic', topic, ['Read', 'Describe']);
  for (const topic of [t.checkpoints, t.tasks])
    add('worker', 'topic', topic, ['Read', 'Write', 'Describe']);
  for (const topic of [t.completed, t.deadLetter])
    add('worker', 'topic', topic, ['Write', 'Describe']);
  // `fanout worker` checks that every product topic exists before it starts (a topic it cannot
  // describe looks missing, and it would try to create it).
  add('worker', 'topic', t.cdcOffsets, ['Describe']);
  const g = config.pipeline.groupId;
  for (const group of [g, `${g}.tasks`, `${g}.graph`])
    add('worker', 'group', group, ['Read', 'Describe']);
  add('worker', 'group', STATE_READER_GROUPS, ['Read'], 'prefixed');
  add(
    'worker',
    'transactional-id',
    `${config.kafka.clientId}-${g}-worker-`,
    ['Write', 'Describe'],
    'prefixed',
  );
  add('worker', 'cluster', 'kafka-cluster', ['IdempotentWrite']);
  return out;
}

/** One kafka-acls.sh command line per principal, resource and pattern (operations merged). */
export function kafkaAclCommands(acls: readonly KafkaAcl[], bootstrap = '<bootstrap>'): string[] {
  const byTarget = new Map<string, { acl: KafkaAcl; ops: AclOperation[] }>();
  for (const acl of acls) {
    const key = `${acl.principal}|${acl.resource}|${acl.pattern}|${acl.name}`;
    const entry = byTarget.get(key);
    if (entry) entry.ops.push(acl.operation);
    else byTarget.set(key, { acl, ops: [acl.operation] });
  }
  return [...byTarget.values()].map(({ acl, ops }) => {
    const target = acl.resource === 'cluster' ? '--cluster' : `--${acl.resource} '${acl.name}'`;
    const pattern = acl.pattern === 'prefixed' ? ' --resource-pattern-type prefixed' : '';
    const operations = ops.map((o) => `--operation ${o}`).join(' ');
    return `kafka-acls.sh --bootstrap-server ${bootstrap} --command-config admin.properties --add --allow-principal '${acl.principal}' ${operations} ${target}${pattern}`;
  });
}

/** The application role's permissions: what the fan-out worker reads and writes. */
export function cassandraGrants(config: Config, role = 'fanout_app'): string[] {
  const ks = config.cassandra.keyspace;
  return [
    // Follower pages of the join.
    `GRANT SELECT ON TABLE ${ks}.followers TO ${role}`,
    // Timeline rows (inserts, deletes retracting a tweet or an unfollow, range deletes trimming
    // to timeline.maxEntries); read to trim and to find an unfollowed author's tweets.
    `GRANT SELECT ON TABLE ${ks}.timelines TO ${role}`,
    `GRANT MODIFY ON TABLE ${ks}.timelines TO ${role}`,
    // A follow backfills only tweets still live (and still the author's) in tweets.
    `GRANT SELECT ON TABLE ${ks}.tweets TO ${role}`,
    // Each author's tweets, written with the author record, read by follows and unfollows.
    `GRANT SELECT ON TABLE ${ks}.author_tweets TO ${role}`,
    `GRANT MODIFY ON TABLE ${ks}.author_tweets TO ${role}`,
    // Tweet authors (written on insert, read when a delete must find the author).
    `GRANT SELECT ON TABLE ${ks}.tweet_authors TO ${role}`,
    `GRANT MODIFY ON TABLE ${ks}.tweet_authors TO ${role}`,
    // Copy claims: INSERT ... IF NOT EXISTS reads as well as writes.
    `GRANT SELECT ON TABLE ${ks}.fanout_claims TO ${role}`,
    `GRANT MODIFY ON TABLE ${ks}.fanout_claims TO ${role}`,
    // The CDC connector reads its node's cdc_total_space and cdc_block_writes (cdc_raw pressure).
    `GRANT SELECT ON TABLE system_views.settings TO ${role}`,
  ];
}
