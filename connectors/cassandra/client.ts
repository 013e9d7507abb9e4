import cassandra from 'cassandra-driver';
import type { Config } from '../../config/index.ts';
import { classifyCassandraError, FanoutError, withTimeout } from '../../lib/errors.ts';

export type CassandraClient = cassandra.Client;

/**
 * Creates and connects the app's one Cassandra client (operators never create their own).
 * bigint columns come back as native BigInt. An unreachable cluster is reported in one sentence.
 */
export async function connectCassandra(
  config: Config,
  options: { keyspace?: boolean } = {},
): Promise<CassandraClient> {
  const c = config.cassandra;
  const client = new cassandra.Client({
    contactPoints: [...c.contactPoints],
    localDataCenter: c.localDataCenter,
    ...(options.keyspace ? { keyspace: c.keyspace } : {}),
    ...(c.username ? { credentials: { username: c.username, password: c.password } } : {}),
    encoding: { useBigIntAsLong: true, useBigIntAsVarint: true },
    socketOptions: { connectTimeout: c.connectTimeoutMs, readTimeout: c.requestTimeoutMs },
    pooling: {
      coreConnectionsPerHost: {
        [cassandra.types.distance.local]: 2,
        [cassandra.types.distance.remote]: 1,
      },
    },
    queryOptions: { prepare: true },
  });
  try {
    await withTimeout(
      client.connect(),
      c.connectTimeoutMs + 1_000,
      `Cassandra at ${c.contactPoints.join(',')} did not answer within ${c.connectTimeoutMs} ms`,
      'CASSANDRA_UNREACHABLE',
    );
    return client;
  } catch (err) {
    await client.shutdown().catch(() => undefined);
    const cause = err instanceof FanoutError ? err : classifyCassandraError(err, 'connect');
    throw new FanoutError(
      'CASSANDRA_UNREACHABLE',
      `Cassandra at ${c.contactPoints.join(',')} is unreachable: ${firstLine(cause.message)}`,
      {
        retriable: true,
        cause: err,
      },
    );
  }
}

/** The driver's consistency level of a config name (`local_quorum`, `one`, ...); LOCAL_QUORUM when unknown. */
export function consistencyOf(name: string | undefined): number {
  const levels = cassandra.types.consistencies as unknown as Record<string, number>;
  const key = (name ?? 'local_quorum').replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
  return levels[key] ?? cassandra.types.consistencies.localQuorum;
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}
