import { CdcConnector } from '../../connectors/cdc/connector.ts';
import { connectWaiting } from '../connect.ts';
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
  try {
    const services = await connectWaiting(config, log, stop.signal);
    if (services === null) return; // stopped while waiting
    const connector = new CdcConnector({
      config,
      admin: services.admin,
      cassandra: services.cassandra,
      log,
    });
    running.connector = connector;
    log.info(`CDC connector reading ${config.cdc.rawDir}`);
    try {
      if (!stop.signal.aborted) await connector.start();
    } finally {
      await connector.close();
      await services.close();
    }
  } finally {
    off();
    await stopTelemetry();
  }
}
