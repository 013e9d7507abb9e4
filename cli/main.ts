#!/usr/bin/env node
/**
 * fanout: the command line of the fan-out timeline pipeline. Each command takes only its own
 * options (cli/usage.ts); help, --version and every refusal come before any connection. Every
 * failure ends in one sentence on stderr and a non-zero exit (2: bad usage or configuration,
 * 1: anything else); a stack trace only with FANOUT_LOG_LEVEL=debug.
 */
import '../connectors/kafka/threadpool.ts'; // first: before anything uses libuv's thread pool
import { readFileSync } from 'node:fs';
import { ConfigError } from '../config/errors.ts';
import { FanoutError } from '../lib/errors.ts';
import { configOption, count, UsageError, userId } from './args.ts';
import type { Context } from './context.ts';
import { configFlags, parseCommand, splitCommand, stringOption, type Parsed } from './parse.ts';
import { commandHelp, COMMANDS, findCommand, overview } from './usage.ts';

/** A command with its arguments checked: runs with a context created on first use. */
type Ready = (ctx: () => Context) => Promise<unknown> | void;

// The commands are imported when they run: help and refusals do not load the Kafka binding.
const commands = {
  cdc: () => import('./commands/cdc.ts'),
  config: () => import('./commands/config.ts'),
  demo: () => import('./commands/demo.ts'),
  run: () => import('./commands/run.ts'),
  schema: () => import('./commands/schema.ts'),
  seed: () => import('./commands/seed.ts'),
  security: () => import('./commands/security.ts'),
  services: () => import('./commands/services.ts'),
  status: () => import('./commands/status.ts'),
  trace: () => import('./commands/trace.ts'),
  tweet: () => import('./commands/tweet.ts'),
  worker: () => import('./commands/worker.ts'),
};

/** The graph options; the demo needs a follower to deliver to (`minFollowers` 1). */
const seedOptions = (p: Parsed, minFollowers = 0) => ({
  author: userId(stringOption(p, 'author') ?? '1', '--author'),
  followers: count(stringOption(p, 'followers'), '--followers', minFollowers, 100_000_000, 500_000),
  tailAuthors: count(stringOption(p, 'tail-authors'), '--tail-authors', 0, 1_000_000, 1_000),
  tailMax: count(stringOption(p, 'tail-max'), '--tail-max', 1, 100_000_000, 5_000),
  firstFollower: userId(stringOption(p, 'first-follower') ?? '1000000', '--first-follower'),
  seed: count(stringOption(p, 'seed'), '--seed', 0, 2 ** 31, 42),
});

/** Checks what the commands would check only after connecting, and binds their arguments. */
const PREPARE: Readonly<Record<string, (p: Parsed) => Promise<Ready>>> = {
  demo: async (p) => {
    // With no follower the tweet writes no row, which is what the demo waits for: it would hang.
    const options = seedOptions(p, 1);
    const { demo } = await commands.demo();
    return (ctx) => demo(ctx(), options, p.options.has('observability'));
  },
  cdc: async () => {
    const { cdc } = await commands.cdc();
    return (ctx) => cdc(ctx());
  },
  worker: async (p) => {
    const { worker, workerId } = await commands.worker();
    const id = workerId(stringOption(p, 'worker-id'));
    return (ctx) => worker(ctx(), id);
  },
  run: async (p) => {
    const { workerId } = await commands.worker();
    const id = workerId(stringOption(p, 'worker-id'));
    const { run } = await commands.run();
    return (ctx) => run(ctx(), id);
  },
  status: async (p) => {
    const { status } = await commands.status();
    const watch = p.options.has('watch');
    if (watch && p.options.has('json'))
      throw new UsageError('options --watch and --json do not go together');
    return (ctx) => status(ctx(), p.options.has('json'), { watch });
  },
  tweet: async (p) => {
    const author = stringOption(p, 'author');
    if (author === undefined)
      throw new UsageError('missing --author <id> (usage: fanout tweet --author <id> <text...>)');
    userId(author, '--author');
    const { tweet } = await commands.tweet();
    return (ctx) => tweet(ctx(), author, [...p.positionals]);
  },
  timeline: async (p) => {
    const [user] = p.positionals;
    userId(user, '<user>');
    const limit = count(stringOption(p, 'limit'), '--limit', 1, 10_000, 20);
    const { timeline } = await commands.tweet();
    return (ctx) => timeline(ctx(), user, limit);
  },
  services: async (p) => {
    // It loads no configuration, but a misspelt FANOUT_HOME or FANOUT_PORT_OFFSET would send it
    // to the default set of services (`down --purge` deleting their data): refused like anywhere.
    const { unknownEnv } = await import('../config/load.ts');
    const unknown = unknownEnv(process.env);
    if (unknown.length > 0) throw new ConfigError(unknown);
    const [action, ...names] = p.positionals;
    const purge = p.options.has('purge');
    if (purge && action !== 'down') throw new UsageError('option --purge goes with down only');
    const observability = p.options.has('observability');
    if (observability && action !== 'up')
      throw new UsageError('option --observability goes with up only');
    const secure = p.options.has('secure');
    // The secured set has no status or logs of its own here: refused, not answered for the plain set.
    if (secure && action !== 'up' && action !== 'down')
      throw new UsageError('option --secure goes with up or down only');
    const nodesText = stringOption(p, 'nodes');
    const nodes = nodesText === undefined ? undefined : count(nodesText, '--nodes', 3, 9, 3);
    const { services } = await commands.services();
    return () => services(action, names, purge, observability, secure, nodes);
  },
  security: async (p) => {
    const { security } = await commands.security();
    return (ctx) =>
      security(ctx().config, p.positionals[0], {
        connectorPrincipal: stringOption(p, 'connector-principal'),
        workerPrincipal: stringOption(p, 'worker-principal'),
        role: stringOption(p, 'role'),
        json: p.options.has('json'),
      });
  },
  trace: async (p) => {
    const { trace } = await commands.trace();
    const lookback = stringOption(p, 'lookback');
    return (ctx) =>
      trace(ctx(), p.positionals[0]!, {
        json: p.options.has('json'),
        ...(lookback ? { lookback } : {}),
      });
  },
  schema: async () => {
    const { schemaApply } = await commands.schema();
    return (ctx) => schemaApply(ctx());
  },
  config: async (p) => {
    const { configCommand } = await commands.config();
    return (ctx) => configCommand(ctx(), p.positionals[0]);
  },
  seed: async (p) => {
    const options = seedOptions(p);
    const concurrency = count(stringOption(p, 'concurrency'), '--concurrency', 1, 1024, 16);
    const { seed } = await commands.seed();
    return (ctx) => seed(ctx(), options, concurrency);
  },
};

/**
 * `fanout bench …`: runs bench/fanout.ts with the same arguments, in this Node; `--stream` runs
 * bench/stream.ts with the others instead. `--help` lists both.
 */
async function bench(given: string[]): Promise<void> {
  const { spawn } = await import('node:child_process');
  const { args, file } = configOption(given);
  const env = file === undefined ? process.env : { ...process.env, FANOUT_CONFIG: file };
  const stream = args.includes('--stream');
  const help = !stream && (args.includes('--help') || args.includes('-h'));
  const run = async (file: string, rest: string[]): Promise<void> => {
    const script = new URL(`../bench/${file}`, import.meta.url).pathname;
    const child = spawn(process.execPath, [script, ...rest], { stdio: 'inherit', env });
    // A signal to this process stops the bench too (it stops its own processes), not only us.
    const forward = (signal: NodeJS.Signals): void => void child.kill(signal);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => {
      child.on('exit', (c, s) => resolve([c, s]));
    }).finally(() => {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
    });
    if (signal !== null) throw new Error(`bench was stopped by ${signal}`);
    if (code !== 0) process.exit(code ?? 1); // the bench said why in one line (bench/exit.ts)
  };
  await run(
    stream ? 'stream.ts' : 'fanout.ts',
    args.filter((a) => a !== '--stream'),
  );
  if (help) await run('stream.ts', ['--help']);
}

function version(): string {
  const pkg = new URL('../package.json', import.meta.url);
  return (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
}

async function main(argv: string[]): Promise<void> {
  const { command, args, flag } = splitCommand(argv);
  if (flag === 'version') return void process.stdout.write(`${version()}\n`);
  const commandList = COMMANDS.map((c) => c.name).join(', ');
  // `fanout --config f.json` alone: the options name no command to apply to.
  if (command === undefined && args.length > 0)
    throw new UsageError(`missing command after ${args.join(' ')} (commands: ${commandList})`);
  if (command === undefined || (command === 'help' && args.length === 0))
    return void process.stdout.write(overview());
  // `fanout help <command>` is `fanout <command> --help`.
  const name = command === 'help' ? args[0]! : command;
  const spec = findCommand(name);
  if (spec === undefined)
    throw new UsageError(
      `unknown command ${JSON.stringify(name)} (commands: ${commandList}; ./fanout test runs the tests)`,
    );
  const rest = command === 'help' ? ['--help'] : args;
  if (spec.passThrough) return bench(rest);

  const parsed = parseCommand(spec, rest);
  if (parsed.help) return void process.stdout.write(commandHelp(spec));
  let ready: Ready;
  try {
    ready = await PREPARE[spec.name]!(parsed);
  } catch (err) {
    throw err instanceof UsageError && err.command === undefined
      ? new UsageError(err.message, spec.name)
      : err;
  }
  const { Context } = await import('./context.ts');
  let ctx: Context | undefined;
  try {
    await ready(() => (ctx ??= new Context(configFlags(parsed))));
  } finally {
    await ctx?.close();
  }
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (err: unknown) => {
    const debug = process.env.FANOUT_LOG_LEVEL === 'debug';
    if (err instanceof UsageError) {
      process.stderr.write(`fanout${err.command ? ` ${err.command}` : ''}: ${err.message}\n`);
      process.exit(2);
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`fanout: ${err.message}\n`);
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
