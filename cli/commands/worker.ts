import type { CassandraClient } from '../../connectors/cassandra/client.ts';
import { ensureTopics } from '../../connectors/kafka/topics.ts';
import { retry } from '../../lib/retry.ts';
import { createWorker } from '../../pipeline/connect.ts';
import type { Worker, WorkerStatus } from '../../pipeline/worker.ts';
import { UsageError } from '../args.ts';
import { connectWaiting } from '../connect.ts';
import type { Context } from '../context.ts';
import { onShutdown } from '../signals.ts';
import { startTelemetry } from '../telemetry.ts';

/** How often a running worker logs its progress. */
const STATUS_EVERY_MS = 10_000;

/** A worker id from the command line: stable across restarts, unique within the consumer group. */
export function workerId(raw: string | undefined): string {
  const id = raw ?? '0';
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(id))
    throw new UsageError(
      `--worker-id must be 1-64 letters, digits, '.', '_' or '-', got ${JSON.stringify(id)}`,
    );
  return id;
}

/** One log line of progress; the graph lane's part when the worker has one. */
export function statusLine(s: WorkerStatus): string {
  const tweets = s.inFlight
    .map((t) => `${t.tweetId} ${t.op} ${t.delivered}/${t.total ?? '?'}`)
    .join(', ');
  const restoring = [
    ...s.restoring.partitions,
    ...s.restoring.taskPartitions.map((p) => `task ${p}`),
  ];
  return (
    `worker ${s.workerId} ${s.state}: partitions [${s.partitions.join(',')}]${s.paused ? ' (paused)' : ''}, ` +
    `${restoring.length > 0 ? `restoring [${restoring.join(',')}], ` : ''}` +
    `${s.inFlight.length} tweets in flight${tweets ? ` (${tweets})` : ''}, ${s.totals.rowsWritten} rows written, ` +
    `${s.totals.tweetsCompleted} tweets completed, lag ${s.consumerLag ?? '?'}` +
    (s.graph
      ? `; graph lane: partitions [${s.graph.partitions.join(',')}], ${s.graph.inFlight} follows/unfollows in flight, ` +
        `${s.graph.uncommitted} uncommitted, lag ${s.graph.consumerLag ?? '?'}`
      : '')
  );
}

/**
 * `fanout worker [--worker-id N]`: runs a fan-out worker until SIGTERM / SIGINT. Like `fanout cdc`
 * it starts while Kafka or Cassandra is down and waits for them (retry.outageBudgetMs), as it
 * waits through an outage later on: a supervisor restarting everything at once needs no ordering.
 */
export async function worker(ctx: Context, id: string): Promise<void> {
  const { config, log } = ctx;
  const stopTelemetry = startTelemetry(config, 'worker', log);
  const stop = new AbortController();
  const running: { worker?: Worker } = {};
  const off = onShutdown(
    async () => {
      stop.abort();
      await running.worker?.close();
    },
    config.pipeline.shutdownTimeoutMs,
    (m) => log.info(m),
  );
  try {
    const services = await connectWaiting(config, log, stop.signal);
    if (services === null) return; // stopped while waiting
    try {
      await retry(config.retry, () => ensureTopics(services.admin, config), {
        signal: stop.signal,
        log,
        what: 'create the topics',
      });
      if (!stop.signal.aborted) await serve(ctx, id, services.cassandra, running);
    } finally {
      await services.close();
    }
  } finally {
    off();
    await stopTelemetry();
  }
}

async function serve(
  ctx: Context,
  id: string,
  cassandra: CassandraClient,
  running: { worker?: Worker },
): Promise<void> {
  const w = createWorker({ config: ctx.config, cassandra, log: ctx.log, workerId: id });
  running.worker = w;
  const timer = setInterval(() => ctx.log.info(statusLine(w.status())), STATUS_EVERY_MS);
  timer.unref();
  ctx.log.info(
    `fan-out worker ${id}: ${ctx.config.topics.tweetsCdc} -> ${ctx.config.cassandra.keyspace}.timelines (group ${ctx.config.pipeline.groupId}, writes: ${ctx.config.pipeline.writeStrategy})`,
  );
  try {
    await w.start();
  } finally {
    clearInterval(timer);
    await w.close();
    ctx.log.info(statusLine(w.status()));
  }
}
