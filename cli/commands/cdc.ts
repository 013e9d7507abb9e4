import { connectCassandra } from '../../connectors/cassandra/client.ts';
import { CdcConnector } from '../../connectors/cdc/connector.ts';
import { connectAdmin } from '../../connectors/kafka/admin.ts';
import { retry } from '../../lib/retry.ts';
import type { Context } from '../context.ts';
import { onShutdown } from '../signals.ts';
import { startTelemetry } from '../telemetry.ts';

/**
 * `fanout cdc`: runs the CDC connector until SIGTERM / SIGINT. It starts while Kafka or Cassandra
 * is down and waits for them (retry.outageBudgetMs), as it waits through an outage later on.
 */
export async function cdc(ctx: Context): Promise<void> {
  const { config, log } = ctx;
  const stopTelemetry = startTelemetry(config, 'cdc', log);
  const stop = new AbortController();
  const running: { connector?: CdcConnector } = {};
  const off = onShutdown(
    async () => {
      stop.abort();
      await running.connector?.close();
    },
    config.pipeline.shutdownTimeoutMs,
    (m) => log.info(m),
  );
  const wait = { signal: stop.signal, log };
  const [admin, cassandra] = await Promise.all([
    retry(config.retry, () => connectAdmin(config), { ...wait, what: 'connect to Kafka' }),
    retry(config.retry, () => connectCassandra(config), { ...wait, what: 'connect to Cassandra' }),
  ]).catch(async (err: unknown) => {
    off();
    await stopTelemetry();
    throw err;
  });
  const connector = new CdcConnector({ config, admin, cassandra, log });
  running.connector = connector;
  log.info(`CDC connector reading ${config.cdc.rawDir}`);
  try {
    if (!stop.signal.aborted) await connector.start();
  } finally {
    off();
    await connector.close();
    await Promise.allSettled([admin.disconnect(), cassandra.shutdown()]);
    await stopTelemetry();
  }
}
