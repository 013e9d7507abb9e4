/**
 * The fan-out bench's command line (bench/fanout.ts): its usage text and its options, checked
 * before any service is touched. Bad arguments end in one line and exit code 2, like every
 * `fanout` command; `--help` prints the usage and exits 0.
 */
import { parseArgs } from 'node:util';

export const BENCH_USAGE = `usage: fanout bench [--followers 500000] [--naive-rows 20000] [--promise-all-rows 100000]
                    [--rounds 3] [--flat-rss N] [--keyspace fanout_bench] [--tracing]
                    [--isolate] [--trim-cost]
  --flat-rss N   also run the pipeline for an author with N followers, for peak RSS (default 0: off)
  --tracing      also run (d) with the telemetry SDK on (default sampling, traces to
                 telemetry.otlpEndpoint) beside each (d) run: ratio traced/untraced
  --isolate      also run (c), (d) and (e) with the local Cassandra pinned to its own core and
                 Kafka and the client on the other(s) (taskset; restored at the end): both
                 layouts' ratios side by side, rounds interleaved
  --trim-cost    also run (d) with trims off (timeline.trimEvery=0) beside each (d) run (trims
                 on, the default config), the order flipping each round: ratio on/off
  (services must be up: ./fanout services up)`;

export interface BenchArgs {
  readonly followers: number;
  readonly naiveRows: string;
  readonly promiseAllRows: string;
  readonly keyspace: string;
  readonly rounds: number;
  /** Followers of the second author run for peak RSS (0: none). */
  readonly flatRss: number;
  readonly tracing: boolean;
  readonly isolate: boolean;
  readonly trimCost: boolean;
}

/** Bad arguments end in one line and exit code 2, like every `fanout` command. */
export function usageError(message: string): never {
  process.stderr.write(`fanout bench: ${message}\n${BENCH_USAGE}\n`);
  process.exit(2);
}

/** The bench's options from `argv` (default: this process's), or exit as usageError says. */
export function benchArgs(argv: string[] = process.argv.slice(2)): BenchArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        followers: { type: 'string', default: '500000' },
        'naive-rows': { type: 'string', default: '20000' },
        'promise-all-rows': { type: 'string', default: '100000' },
        keyspace: { type: 'string', default: 'fanout_bench' },
        rounds: { type: 'string', default: '3' },
        'flat-rss': { type: 'string', default: '0' },
        tracing: { type: 'boolean', default: false },
        isolate: { type: 'boolean', default: false },
        'trim-cost': { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    });
  } catch (err) {
    usageError((err as Error).message);
  }
  const { values } = parsed;
  if (values.help) {
    process.stdout.write(`${BENCH_USAGE}\n`);
    process.exit(0);
  }
  for (const [key, min] of [
    ['followers', 1],
    ['naive-rows', 1],
    ['promise-all-rows', 1],
    ['rounds', 1],
    ['flat-rss', 0],
  ] as const) {
    const v = values[key];
    if (!/^\d+$/.test(v) || Number(v) < min)
      usageError(`--${key} must be a whole number of at least ${min}, got ${JSON.stringify(v)}`);
  }
  return {
    followers: Number(values.followers),
    naiveRows: values['naive-rows'],
    promiseAllRows: values['promise-all-rows'],
    keyspace: values.keyspace,
    rounds: Number(values.rounds),
    flatRss: Number(values['flat-rss']),
    tracing: values.tracing,
    isolate: values.isolate,
    trimCost: values['trim-cost'],
  };
}
