/**
 * `fanout trace <tweet-id>`: a tweet's trace from Jaeger's query API, as a waterfall in the
 * terminal (where no Jaeger UI is at hand: a Jaeger built from the Go module has none). The trace
 * is found by its spans' tag fanout.tweet_id, searched in every service of this product
 * (telemetry.serviceName-<command>), then read whole by trace id.
 */
import { FanoutError } from '../../lib/errors.ts';
import { UsageError } from '../args.ts';
import type { Context } from '../context.ts';
import { renderWaterfall, type JaegerTrace } from './trace-waterfall.ts';

export interface TraceOptions {
  /** Jaeger's query API; default telemetry.jaegerUrl. */
  readonly jaegerUrl?: string;
  /** How far back to search, in Jaeger's lookback syntax (default `24h`). */
  readonly lookback?: string;
  /** Print Jaeger's JSON instead of the waterfall. */
  readonly json?: boolean;
  /** Line width (default: the terminal's, else 120). */
  readonly width?: number;
  readonly write?: (text: string) => void;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function getJson<T>(url: string, base: string): Promise<T> {
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(15_000) });
  } catch (error) {
    throw new FanoutError(
      'JAEGER_UNREACHABLE',
      `Jaeger's query API at ${base} did not answer (${(error as Error).message}): start it with ./fanout services up --observability, or point telemetry.jaegerUrl (FANOUT_JAEGER_URL) at yours`,
      { retriable: true, cause: error },
    );
  }
  const body = await response.text();
  if (!response.ok)
    throw new FanoutError(
      'JAEGER_FAILED',
      `Jaeger answered GET ${url} with ${response.status}: ${body.slice(0, 200)}`,
      { retriable: response.status >= 500 },
    );
  return JSON.parse(body) as T;
}

/** The ids of the traces holding a span tagged fanout.tweet_id=`tweetId`, newest first. */
export async function findTraceIds(
  base: string,
  servicePrefix: string,
  tweetId: string,
  lookback: string,
): Promise<{ ids: string[]; services: string[] }> {
  const known = (await getJson<{ data: string[] | null }>(`${base}/api/services`, base)).data ?? [];
  const services = known.filter((s) => s === servicePrefix || s.startsWith(`${servicePrefix}-`));
  const tags = encodeURIComponent(JSON.stringify({ 'fanout.tweet_id': tweetId }));
  const found = new Map<string, number>();
  for (const service of services) {
    const url = `${base}/api/traces?service=${encodeURIComponent(service)}&tags=${tags}&lookback=${encodeURIComponent(lookback)}&limit=20`;
    for (const t of (await getJson<{ data: JaegerTrace[] | null }>(url, base)).data ?? []) {
      const start = Math.min(...t.spans.map((s) => s.startTime));
      found.set(t.traceID, Math.min(found.get(t.traceID) ?? Infinity, start));
    }
  }
  const ids = [...found].sort((a, b) => b[1] - a[1]).map(([id]) => id);
  return { ids, services };
}

/** Prints the waterfall of each trace of `tweetId` (normally one). */
export async function trace(ctx: Context, tweetId: string, opts: TraceOptions = {}): Promise<void> {
  if (!UUID.test(tweetId))
    throw new UsageError(`trace needs a tweet id (a uuid), got ${JSON.stringify(tweetId)}`);
  const write = opts.write ?? ((text: string) => process.stdout.write(`${text}\n`));
  const base = (opts.jaegerUrl ?? ctx.config.telemetry.jaegerUrl).replace(/\/$/, '');
  const lookback = opts.lookback ?? '24h';
  const prefix = ctx.config.telemetry.serviceName;
  const { ids, services } = await findTraceIds(base, prefix, tweetId, lookback);
  if (services.length === 0)
    throw new FanoutError(
      'TRACE_NOT_FOUND',
      `Jaeger at ${base} has no trace of any ${prefix}-* service: is telemetry on (telemetry.enabled) and telemetry.otlpEndpoint pointing at this Jaeger?`,
      { retriable: false },
    );
  if (ids.length === 0)
    throw new FanoutError(
      'TRACE_NOT_FOUND',
      `no trace of tweet ${tweetId} in Jaeger at ${base} (services ${services.join(', ')}, last ${lookback}); a trace is sampled at telemetry.traceSampleRatio and kept in Jaeger's memory only`,
      { retriable: true },
    );
  const traces: JaegerTrace[] = [];
  for (const id of ids) {
    const whole = await getJson<{ data: JaegerTrace[] }>(`${base}/api/traces/${id}`, base);
    traces.push(...whole.data);
  }
  if (opts.json) {
    write(JSON.stringify({ data: traces }, null, 2));
    return;
  }
  if (traces.length > 1)
    write(`${traces.length} traces hold spans of tweet ${tweetId} (newest first):\n`);
  const width = opts.width ?? (process.stdout.isTTY ? process.stdout.columns : 120);
  write(traces.map((t) => renderWaterfall(t, { width })).join('\n\n'));
}
