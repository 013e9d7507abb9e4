#!/usr/bin/env node
/**
 * fanout: the command line of the fan-out timeline pipeline. Every failure ends in one sentence
 * on stderr and a non-zero exit (2: bad usage or configuration, 1: anything else); a stack trace
 * only with FANOUT_LOG_LEVEL=debug.
 */
import '../connectors/kafka/threadpool.ts'; // first: before anything uses libuv's thread pool
import { parseArgs } from 'node:util';
import { ConfigError } from '../config/index.ts';
import { FanoutError } from '../lib/errors.ts';
import { count, UsageError, userId } from './args.ts';
import { cdc } from './commands/cdc.ts';
import { configCommand } from './commands/config.ts';
import { demo } from './commands/demo.ts';
import { run } from './commands/run.ts';
import { status } from './commands/status.ts';
import { schemaApply } from './commands/schema.ts';
import { seed } from './commands/seed.ts';
import { services } from './commands/services.ts';
import { timeline, tweet } from './commands/tweet.ts';
import { worker, workerId } from './commands/worker.ts';
import { Context } from './context.ts';

const USAGE = `usage: fanout <command> [options]

  demo                       the whole product once: services, schema, an author with 500k
                             followers, CDC + fan-out, one tweet, a progress bar to the last timeline
  run [--worker-id 0]        CDC connector + one fan-out worker in one process
  status [--json]            fan-outs in progress (delivered, remaining) and consumer lag
  bench [options]            the fan-out benchmark (bench/fanout.ts: naive, Promise.all,
                             driver ceiling, this pipeline; table + bench-results/fanout.json)
  services up|down|status|logs [kafka|cassandra] [--purge]
                             local Kafka 4 (KRaft) and Cassandra 5 (CDC on), from Maven jars
  schema apply               create keyspace, tables (tweets WITH cdc = true) and Kafka topics
  config show|keys           effective configuration (secrets redacted) | every key and env var
  seed [--author 1] [--followers 500000] [--tail-authors 1000] [--tail-max 5000]
       [--first-follower 1000000] [--seed 42] [--concurrency 16]
                             write a follower graph: one celebrity plus a power-law long tail
  cdc                        run the CDC connector: cdc_raw segments -> Kafka, exactly once
  worker [--worker-id 0]     run a fan-out worker: tweets CDC topic -> follower timelines;
                             the id must be stable across restarts and unique in the group
  tweet --author <id> <text...>
                             insert a tweet with plain CQL, as an application does
  timeline <user> [--limit 20]
                             a home timeline, newest first

global options:
  --config <file.json>       a config file (also FANOUT_CONFIG)
  --set <key=value>          override one setting, repeatable (see: fanout config keys)
`;

/** `fanout bench …`: runs bench/fanout.ts with the same arguments, in this Node. */
async function bench(args: string[]): Promise<void> {
  const { spawn } = await import('node:child_process');
  const script = new URL('../bench/fanout.ts', import.meta.url).pathname;
  const code = await new Promise<number | null>((resolve) => {
    spawn(process.execPath, [script, ...args], { stdio: 'inherit' }).on('exit', resolve);
  });
  if (code === 2) process.exit(2); // bad arguments: bench said why in one line
  if (code !== 0) throw new Error(`bench exited with ${code}`);
}

async function main(argv: string[]): Promise<void> {
  // bench takes its own options (bench/fanout.ts parses them).
  if (argv[0] === 'bench') return bench(argv.slice(1));
  const { values: o, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      set: { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h' },
      purge: { type: 'boolean' },
      author: { type: 'string' },
      followers: { type: 'string' },
      'tail-authors': { type: 'string' },
      'tail-max': { type: 'string' },
      'first-follower': { type: 'string' },
      seed: { type: 'string' },
      concurrency: { type: 'string' },
      limit: { type: 'string' },
      'worker-id': { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  const [command, ...rest] = positionals;
  if (o.help || command === undefined || command === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  if (command === 'services') return services(rest[0], rest.slice(1), o.purge === true);

  const ctx = new Context({ config: o.config, set: o.set });
  const seedOptions = () => ({
    author: userId(o.author ?? '1', '--author'),
    followers: count(o.followers, '--followers', 0, 100_000_000, 500_000),
    tailAuthors: count(o['tail-authors'], '--tail-authors', 0, 1_000_000, 1_000),
    tailMax: count(o['tail-max'], '--tail-max', 1, 100_000_000, 5_000),
    firstFollower: userId(o['first-follower'] ?? '1000000', '--first-follower'),
    seed: count(o.seed, '--seed', 0, 2 ** 31, 42),
  });
  try {
    switch (command) {
      case 'demo':
        return await demo(ctx, {
          ...seedOptions(),
          followers: count(o.followers, '--followers', 0, 100_000_000, 500_000),
        });
      case 'schema':
        if (rest[0] !== 'apply') throw new UsageError('schema needs an action: apply');
        return await schemaApply(ctx);
      case 'config':
        return configCommand(ctx, rest[0]);
      case 'seed':
        await seed(ctx, seedOptions(), count(o.concurrency, '--concurrency', 1, 1024, 16));
        return;
      case 'cdc':
        return await cdc(ctx);
      case 'status':
        return await status(ctx, o.json === true);
      case 'run':
        return await run(ctx, workerId(o['worker-id']));
      case 'worker':
        return await worker(ctx, workerId(o['worker-id']));
      case 'tweet':
        return await tweet(ctx, o.author, rest);
      case 'timeline':
        return await timeline(ctx, rest[0], count(o.limit, '--limit', 1, 10_000, 20));
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}; run fanout --help`);
    }
  } finally {
    await ctx.close();
  }
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (err: unknown) => {
    const debug = process.env.FANOUT_LOG_LEVEL === 'debug';
    if (
      err instanceof ConfigError ||
      err instanceof UsageError ||
      (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
    ) {
      process.stderr.write(`fanout: ${(err as Error).message}\n`);
      process.exit(2);
    }
    const known =
      err instanceof FanoutError || (err instanceof Error && err.name === 'ServiceError');
    process.stderr.write(
      `fanout: ${known || !debug ? (err as Error).message : (err as Error).stack}\n`,
    );
    if (debug && known) process.stderr.write(`${err.stack}\n`);
    process.exit(1);
  },
);
