import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectCassandra, type CassandraClient } from '../../../connectors/cassandra/client.ts';
import { CassandraFollowerStore } from '../../../connectors/cassandra/followers.ts';
import { applySchema, contractStatements } from '../../../connectors/cassandra/schema.ts';
import { CassandraTweetStore } from '../../../connectors/cassandra/tweets.ts';
import { writeSeed } from '../../../cli/commands/seed.ts';
import { seedPlan } from '../../../cli/seed-graph.ts';
import { testConfig, uniq } from '../../support/config.ts';

/** Polls `check` every 25 ms until it returns a value or `ms` pass (a deadline, not a sleep). */
async function within<T>(ms: number, check: () => Promise<T | undefined>): Promise<T | undefined> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('data contract on the real Cassandra', () => {
  const config = testConfig();
  let client: CassandraClient;

  beforeAll(async () => {
    client = await connectCassandra(config);
  });
  afterAll(async () => {
    await client
      .execute(`DROP KEYSPACE IF EXISTS ${config.cassandra.keyspace}`)
      .catch(() => undefined);
    await client.shutdown();
  });

  it('applies twice without error and creates tweets and followers WITH cdc = true', async () => {
    await applySchema(client, config);
    await applySchema(client, config);
    const rs = await client.execute(
      'SELECT table_name, cdc FROM system_schema.tables WHERE keyspace_name = ?',
      [config.cassandra.keyspace],
    );
    const tables = Object.fromEntries(
      rs.rows.map((r) => [r.get('table_name') as string, r.get('cdc') as boolean | null]),
    );
    expect(Object.keys(tables).sort()).toEqual([
      'author_tweets',
      'fanout_claims',
      'followers',
      'timelines',
      'tweet_authors',
      'tweets',
    ]);
    expect(tables.tweets).toBe(true);
    expect(tables.followers).toBe(true);
    expect(tables.timelines).not.toBe(true);
  });

  it('adds deleted_at to a tweet_authors table made by an older version, keeping its rows (and again: nothing to add)', async () => {
    const old = testConfig();
    const ks = old.cassandra.keyspace;
    try {
      await client.execute(contractStatements(old)[0]!); // the keyspace
      await client.execute(
        `CREATE TABLE ${ks}.tweet_authors (tweet_id timeuuid PRIMARY KEY, author_id bigint)`,
      );
      await client.execute(
        `INSERT INTO ${ks}.tweet_authors (tweet_id, author_id) VALUES (now(), 7)`,
      );
      await applySchema(client, old);
      await applySchema(client, old);
      const cols = await client.execute(
        'SELECT column_name FROM system_schema.columns WHERE keyspace_name = ? AND table_name = ?',
        [ks, 'tweet_authors'],
      );
      expect(cols.rows.map((r) => r.get('column_name') as string).sort()).toEqual([
        'author_id',
        'deleted_at',
        'tweet_id',
      ]);
      expect(
        (await client.execute(`SELECT author_id, deleted_at FROM ${ks}.tweet_authors`)).rows.map(
          (r) => [r.get('author_id') as bigint, r.get('deleted_at') as bigint | null],
        ),
      ).toEqual([[7n, null]]);
    } finally {
      await client.execute(`DROP KEYSPACE IF EXISTS ${ks}`).catch(() => undefined);
    }
  });

  it('a CQL insert into tweets lands in a commit-log segment in cdc_raw, covered by its _cdc.idx, within 3 s', async () => {
    await applySchema(client, config);
    const body = `cdc-probe-${uniq()}`;
    await new CassandraTweetStore(client, config.cassandra.keyspace).insert(42n, body);
    // Cassandra writes the idx after the next commit-log sync (commitlog_sync_period).
    const found = await within(3_000, async () => {
      const files = await readdir(config.cdc.rawDir).catch(() => [] as string[]);
      for (const idx of files.filter((f) => f.endsWith('_cdc.idx'))) {
        const offset = Number.parseInt(
          (await readFile(join(config.cdc.rawDir, idx), 'utf8').catch(() => '')).split('\n')[0] ??
            '',
          10,
        );
        if (!Number.isFinite(offset)) continue;
        const log = await readFile(join(config.cdc.rawDir, idx.replace('_cdc.idx', '.log'))).catch(
          () => undefined,
        );
        if (log?.subarray(0, offset).includes(body)) return idx;
      }
      return undefined;
    });
    expect(found, `no _cdc.idx in ${config.cdc.rawDir} covered the insert within 3 s`).toMatch(
      /^CommitLog-\d+-\d+_cdc\.idx$/,
    );
  });

  it('seed writes exactly the follower counts asked for', async () => {
    await applySchema(client, config);
    const store = new CassandraFollowerStore(client, config.cassandra.keyspace);
    const options = {
      author: 7n,
      followers: 12_345,
      firstFollower: 1_000_000n,
      tailAuthors: 25,
      tailMax: 400,
      seed: 1,
    };
    const result = await writeSeed(store, options, 8);
    const plan = seedPlan(options);
    expect(result.rows).toBe(plan.totalRows);
    for (const a of plan.authors) {
      expect(await store.count(a.authorId), `followers of ${a.authorId}`).toBe(a.followers);
    }
    // Pages walk the partition in follower-id order, resuming from any cursor.
    const first = await store.page(7n, null, 1_000);
    const next = await store.page(7n, first.at(-1) ?? null, 1_000);
    expect(first[0]).toBe(1_000_000n);
    expect(next[0]).toBe(1_001_000n);
    expect(await store.page(7n, 1_000_000n + 12_344n, 10)).toEqual([]);
  });
});
