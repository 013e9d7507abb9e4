/**
 * The long-running commands' connections: Kafka (admin) and Cassandra, each waited for while it is
 * down (retry.outageBudgetMs), as an outage later on is waited out, so a supervisor restarting a
 * whole host needs no start order.
 */
import type { Config } from '../config/index.ts';
import { connectCassandra, type CassandraClient } from '../connectors/cassandra/client.ts';
import { connectAdmin, type KafkaAdmin } from '../connectors/kafka/admin.ts';
import type { Logger } from '../lib/log.ts';
import { retry } from '../lib/retry.ts';

export interface Services {
  readonly admin: KafkaAdmin;
  readonly cassandra: CassandraClient;
  /** Disconnects both; never throws. */
  readonly close: () => Promise<void>;
}

/** Both connections, or null when `signal` stopped the wait (a clean stop, not a failure). */
export async function connectWaiting(
  config: Config,
  log: Logger,
  signal: AbortSignal,
): Promise<Services | null> {
  const wait = { signal, log };
  const [kafka, cass] = await Promise.allSettled([
    retry(config.retry, () => connectAdmin(config), { ...wait, what: 'connect to Kafka' }),
    retry(config.retry, () => connectCassandra(config), { ...wait, what: 'connect to Cassandra' }),
  ]);
  if (kafka.status === 'fulfilled' && cass.status === 'fulfilled') {
    const [admin, cassandra] = [kafka.value, cass.value];
    return {
      admin,
      cassandra,
      close: async () => {
        await Promise.allSettled([admin.disconnect(), cassandra.shutdown()]);
      },
    };
  }
  if (kafka.status === 'fulfilled') await kafka.value.disconnect().catch(() => undefined);
  if (cass.status === 'fulfilled') await cass.value.shutdown().catch(() => undefined);
  if (signal.aborted) return null;
  throw kafka.status === 'rejected' ? kafka.reason : (cass as PromiseRejectedResult).reason;
}
