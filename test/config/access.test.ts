import { describe, expect, it } from 'vitest';
import { cassandraGrants, kafkaAclCommands, kafkaAcls } from '../../config/access.ts';
import { loadConfig } from '../../config/index.ts';

const config = loadConfig({ env: {}, sets: ['cdc.nodeId=node1'] });

describe('least privilege', () => {
  it('the connector may write its CDC topics and offsets under its one transactional id, nothing of the workers', () => {
    const acls = kafkaAcls(config).filter((a) => a.role === 'connector');
    const has = (resource: string, name: string, op: string): boolean =>
      acls.some((a) => a.resource === resource && a.name === name && a.operation === op);
    expect(has('topic', 'cdc.fanout.', 'Write')).toBe(true);
    expect(has('topic', 'fanout.cdc-offsets', 'Read')).toBe(true);
    expect(has('transactional-id', 'fanout-cdc-node1', 'Write')).toBe(true);
    expect(has('cluster', 'kafka-cluster', 'IdempotentWrite')).toBe(true);
    expect(acls.some((a) => a.name === 'fanout.checkpoints' || a.name === 'fanout-workers')).toBe(
      false,
    );
    expect(acls.every((a) => a.principal === 'User:fanout-cdc')).toBe(true);
  });

  it("without cdc.nodeId the connector's transactional id is its node's host_id, known at run time: allowed by prefix", () => {
    const auto = loadConfig({ env: {}, sets: [] });
    expect(auto.cdc.nodeId).toBe('');
    const txn = kafkaAcls(auto).filter(
      (a) => a.role === 'connector' && a.resource === 'transactional-id',
    );
    expect(txn.map((a) => [a.name, a.pattern])).toEqual([
      ['fanout-cdc-', 'prefixed'],
      ['fanout-cdc-', 'prefixed'],
    ]);
    expect(kafkaAcls(config).find((a) => a.resource === 'transactional-id')?.pattern).toBe(
      'literal',
    );
  });

  it('workers read the tweets and followers CDC topics in their groups and write under their transactional id prefix', () => {
    const acls = kafkaAcls(config).filter((a) => a.role === 'worker');
    for (const topic of ['cdc.fanout.tweets', 'cdc.fanout.followers'])
      expect(acls.filter((a) => a.name === topic).map((a) => a.operation)).toEqual([
        'Read',
        'Describe',
      ]);
    expect(acls.filter((a) => a.resource === 'group').map((a) => a.name)).toEqual([
      'fanout-workers',
      'fanout-workers',
      'fanout-workers.tasks',
      'fanout-workers.tasks',
      'fanout-workers.graph',
      'fanout-workers.graph',
      'fanout-state-reader-',
    ]);
    expect(
      acls.find((a) => a.resource === 'transactional-id' && a.operation === 'Write'),
    ).toMatchObject({ name: 'fanout-fanout-workers-worker-', pattern: 'prefixed' });
    expect(acls.some((a) => a.operation === 'Create')).toBe(false);
  });

  it('prints kafka-acls.sh lines, operations merged per resource', () => {
    const lines = kafkaAclCommands(kafkaAcls(config), '127.0.0.1:9092');
    expect(lines).toContain(
      "kafka-acls.sh --bootstrap-server 127.0.0.1:9092 --command-config admin.properties --add --allow-principal 'User:fanout-worker' --operation Read --operation Describe --topic 'cdc.fanout.tweets'",
    );
    expect(lines.some((l) => l.includes('--cluster') && l.includes('IdempotentWrite'))).toBe(true);
  });

  it('grants SELECT on what the worker reads and MODIFY on what it writes, on the configured keyspace only', () => {
    const grants = cassandraGrants(
      loadConfig({ env: {}, sets: ['cassandra.keyspace=prod'] }),
      'app',
    );
    expect(grants).toContain('GRANT SELECT ON TABLE prod.followers TO app');
    expect(grants).toContain('GRANT MODIFY ON TABLE prod.timelines TO app');
    expect(grants.some((g) => / ON (KEYSPACE|ALL)/.test(g))).toBe(false);
    // Timelines are read to trim them and to find an unfollowed author's tweets; tweets to
    // backfill only live ones; nothing the worker does not use.
    expect(grants).toContain('GRANT SELECT ON TABLE prod.timelines TO app');
    expect(grants).toContain('GRANT SELECT ON TABLE prod.tweets TO app');
    expect(grants).toContain('GRANT MODIFY ON TABLE prod.author_tweets TO app');
    expect(grants.some((g) => /MODIFY ON TABLE prod\.(tweets|followers) /.test(g))).toBe(false);
    // The connector reads its node's CDC space settings (a virtual table, granted by name).
    expect(grants).toContain('GRANT SELECT ON TABLE system_views.settings TO app');
  });
});
