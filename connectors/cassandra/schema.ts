/**
 * The data contract: the keyspace and tables applications write (tweets and followers, both
 * WITH cdc = true) and the timelines the pipeline fills. Applied idempotently; see README "Data contract".
 */
import type { Config } from '../../config/index.ts';
import type { CassandraClient } from './client.ts';
import { classifyCassandraError } from '../../lib/errors.ts';

/** How long a claim on a change event is kept: copies of one write arrive within the CDC topic's retention. */
export const CLAIM_TTL_SECONDS = 7 * 24 * 3600;

/** The CQL statements of the contract, in order. */
export function contractStatements(config: Config): string[] {
  const ks = config.cassandra.keyspace;
  const replication = JSON.stringify(config.cassandra.replicationMap).replaceAll('"', "'");
  return [
    `CREATE KEYSPACE IF NOT EXISTS ${ks} WITH replication = ${replication}`,
    `CREATE TABLE IF NOT EXISTS ${ks}.tweets (
       tweet_id timeuuid PRIMARY KEY,
       author_id bigint,
       body text,
       created_at timestamp
     ) WITH cdc = true`,
    // CREATE ... IF NOT EXISTS keeps an older table as it was: make sure CDC is on.
    `ALTER TABLE ${ks}.tweets WITH cdc = true`,
    `CREATE TABLE IF NOT EXISTS ${ks}.followers (
       user_id bigint,
       follower_id bigint,
       followed_at timestamp,
       PRIMARY KEY ((user_id), follower_id)
     ) WITH cdc = true`,
    // Follows and unfollows reach the graph lane through CDC too (an older table gets it here).
    `ALTER TABLE ${ks}.followers WITH cdc = true`,
    `CREATE TABLE IF NOT EXISTS ${ks}.timelines (
       user_id bigint,
       tweet_id timeuuid,
       author_id bigint,
       PRIMARY KEY ((user_id), tweet_id)
     ) WITH CLUSTERING ORDER BY (tweet_id DESC)`,
    // Written by the pipeline, not by applications: a CDC delete carries only the key (Cassandra
    // logs no before-image), so retracting a tweet needs its author from here. deleted_at: the
    // write time of a delete of the tweet, marked before its first follower read and kept 7 days;
    // every insert checks it as it ends (README "Deletes during their insert").
    `CREATE TABLE IF NOT EXISTS ${ks}.tweet_authors (
       tweet_id timeuuid PRIMARY KEY,
       author_id bigint,
       deleted_at bigint
     )`,
    // Written by the pipeline with each tweet's author record (and deleted with the tweet's
    // delete): an author's tweets, newest first, for the backfill of a follow and the deletes of
    // an unfollow (pipeline/graph/).
    `CREATE TABLE IF NOT EXISTS ${ks}.author_tweets (
       author_id bigint,
       tweet_id timeuuid,
       PRIMARY KEY ((author_id), tweet_id)
     ) WITH CLUSTERING ORDER BY (tweet_id DESC)`,
    // Written by the pipeline when replica copies are de-duplicated (pipeline.dedupeCopies): which
    // copy of a change fans it out, by change key (tweet/op/write time; the column's name is from
    // when it held the eventId). Kept for the CDC topic's retention (7 days by default).
    `CREATE TABLE IF NOT EXISTS ${ks}.fanout_claims (
       event_id text PRIMARY KEY,
       claimed_by text
     ) WITH default_time_to_live = ${CLAIM_TTL_SECONDS}`,
  ];
}

/** Applies the data contract; safe to run any number of times (the driver waits for schema agreement after each DDL). */
export async function applySchema(client: CassandraClient, config: Config): Promise<void> {
  const ks = config.cassandra.keyspace;
  const run = async (cql: string): Promise<void> => {
    try {
      await client.execute(cql, [], { prepare: false });
    } catch (err) {
      throw classifyCassandraError(err, `schema statement failed (${cql.split('\n')[0]})`);
    }
  };
  for (const cql of contractStatements(config)) await run(cql);
  // Columns added since a table was first created (CREATE ... IF NOT EXISTS keeps the old one).
  // Looked up rather than ADD IF NOT EXISTS, which Cassandra 4.0 does not know.
  for (const [table, column, type] of ADDED_COLUMNS) {
    const rs = await client.execute(
      'SELECT column_name FROM system_schema.columns WHERE keyspace_name = ? AND table_name = ? AND column_name = ?',
      [ks, table, column],
      { prepare: true },
    );
    if (rs.rowLength === 0) await run(`ALTER TABLE ${ks}.${table} ADD ${column} ${type}`);
  }
}

/** Columns a table of an older version may lack: table, column, type. */
const ADDED_COLUMNS: ReadonlyArray<readonly [string, string, string]> = [
  ['tweet_authors', 'deleted_at', 'bigint'],
];
