import type { Config } from '../../config/index.ts';
import { CdcConnector } from '../../connectors/cdc/connector.ts';
import { ensureTopics } from '../../connectors/kafka/topics.ts';
import { createWorker } from '../../pipeline/connect.ts';
import type { Worker } from '../../pipeline/worker.ts';
import type { Context } from '../context.ts';
import { onShutdown } from '../signals.ts';
import { startTelemetry } from '../telemetry.ts';

/** The CDC connector and one fan-out worker in one process. */
export interface Running {
  readonly connector: CdcConnector;
  readonly worker: Worker;
  /** Settles when either stops (rejects when either failed). */
  readonly done: Promise<void>;
  /** Stops both (worker first: it stops taking tweets, then the connector); idempotent. */
  readonly stop: () => Promise<void>;
}

/** Starts connector + worker; resolves once both are running. */
export async function startRun(
  ctx: Context,
  workerId: string,
  config: Config = ctx.config,
): Promise<Running> {
  const admin = await ctx.admin();
  const cassandra = await ctx.cassandra();
  await ensureTopics(admin, ctx.config);
  const connector = new CdcConnector({
    config,
    kafka: ctx.kafka(),
    admin,
    cassandra,
    log: ctx.log,
  });
  const worker = createWorker({ config: ctx.config, cassandra, log: ctx.log, workerId });
  const done = Promise.race([connector.start(), worker.start()]);
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      await Promise.allSettled([worker.close()]);
      await Promise.allSettled([connector.close()]);
    })());
  await Promise.race([connector.ready, done]);
  // Ready = the connector resumed and both lanes of the worker hold partitions (group joins
  // done), so a write made now is picked up at once, split or not. A worker may also get none
  // (more workers than partitions): then go on after a while.
  const joinedBy = Date.now() + 15_000;
  await Promise.race([
    done,
    new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        const s = worker.status();
        if (
          (s.partitions.length > 0 && s.taskPartitions.length > 0) ||
          Date.now() > joinedBy ||
          (worker.state !== 'starting' && worker.state !== 'running')
        ) {
          clearInterval(timer);
          resolve();
        }
      }, 20);
    }),
  ]);
  return { connector, worker, done, stop };
}

/** `fanout run [--worker-id N]`: connector + worker until SIGTERM / SIGINT (the demo's default). */
export async function run(ctx: Context, workerId: string): Promise<void> {
  const stopTelemetry = startTelemetry(ctx.config, 'run', ctx.log);
  const r = await startRun(ctx, workerId);
  const off = onShutdown(r.stop, ctx.config.pipeline.shutdownTimeoutMs, (m) => ctx.log.info(m));
  ctx.log.info(
    `running: CDC ${ctx.config.cdc.rawDir} -> ${ctx.config.topics.tweetsCdc} -> ${ctx.config.cassandra.keyspace}.timelines`,
  );
  try {
    await r.done;
  } finally {
    off();
    await r.stop();
    await stopTelemetry();
  }
}
