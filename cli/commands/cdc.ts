import { CdcConnector } from '../../connectors/cdc/connector.ts';
import type { Context } from '../context.ts';
import { onShutdown } from '../signals.ts';
import { startTelemetry } from '../telemetry.ts';

/** `fanout cdc`: runs the CDC connector until SIGTERM / SIGINT. */
export async function cdc(ctx: Context): Promise<void> {
  const stopTelemetry = startTelemetry(ctx.config, 'cdc', ctx.log);
  const connector = new CdcConnector({
    config: ctx.config,
    kafka: ctx.kafka(),
    admin: await ctx.admin(),
    cassandra: await ctx.cassandra(),
    log: ctx.log,
  });
  const off = onShutdown(
    () => connector.close(),
    ctx.config.pipeline.shutdownTimeoutMs,
    (m) => ctx.log.info(m),
  );
  ctx.log.info(`CDC connector reading ${ctx.config.cdc.rawDir} as node ${ctx.config.cdc.nodeId}`);
  try {
    await connector.start();
  } finally {
    off();
    await connector.close();
    await stopTelemetry();
  }
}
