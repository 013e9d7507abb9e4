/**
 * What each `fanout` command takes: its positionals, its options and their help, in one table.
 * cli/parse.ts holds the command line to it (an option a command does not list is refused) and
 * renders `fanout <command> --help` from it; cli/main.ts binds each entry to its implementation.
 */

/** One option of a command. */
export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  /** Placeholder of a string option's value in the help, e.g. `<n>`. */
  readonly value?: string;
  readonly doc: string;
  /** Repeatable: every value is kept, in order. */
  readonly multiple?: boolean;
}

export interface CommandSpec {
  readonly name: string;
  /** Arguments after `fanout <name>` in the usage line. */
  readonly usage: string;
  /** One line for `fanout --help`. */
  readonly summary: string;
  /** A few sentences for `fanout <name> --help`. */
  readonly about: string;
  readonly options: Readonly<Record<string, OptionSpec>>;
  /** Loads the configuration, so takes --config and --set. */
  readonly config: boolean;
  /** Allowed first positional, when the command takes an action. */
  readonly actions?: readonly string[];
  /** How many positionals (the action included), and what the usage calls a missing one. */
  readonly positionals: { readonly min: number; readonly max: number; readonly missing?: string };
  /** Parses its own arguments (bench/fanout.ts): nothing is checked here. */
  readonly passThrough?: boolean;
  /** Group in the overview. */
  readonly group: 'run' | 'setup';
}

/** The options of every command that loads the configuration. */
export const CONFIG_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  config: { type: 'string', value: '<file.json>', doc: 'a JSON config file (also FANOUT_CONFIG)' },
  set: {
    type: 'string',
    value: '<key=value>',
    multiple: true,
    doc: 'override one setting, repeatable (keys: fanout config keys)',
  },
};

const id = (doc: string): OptionSpec => ({ type: 'string', value: '<id>', doc });
const n = (doc: string): OptionSpec => ({ type: 'string', value: '<n>', doc });
const workerIdOption = id(
  'worker id, default 0: stable across restarts (it names the transactional id and the static ' +
    'group membership) and unique in the group (two live workers with one id fence each other)',
);
const graph: Readonly<Record<string, OptionSpec>> = {
  author: id('the celebrity author, default 1'),
  followers: n('followers of the author, 0 to 100000000, default 500000'),
  'tail-authors': n('long-tail authors besides the celebrity, default 1000'),
  'tail-max': n('most followers of a long-tail author (power law), default 5000'),
  'first-follower': id('the first follower id, default 1000000'),
  seed: n('random seed of the long tail, default 42'),
};
const none = { min: 0, max: 0 } as const;

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'demo',
    group: 'run',
    usage: '[--followers 500000] [--author 1] [--observability] [graph options]',
    summary: 'the whole product once: one tweet to 500k timelines, with a progress bar',
    about:
      'Starts the local services when the configuration points at them (the default endpoints) ' +
      'and they do not answer yet; other endpoints are used as they are. Applies the schema, ' +
      'seeds an author with 500k followers plus a long tail, runs the CDC connector and a fan-out worker, inserts one tweet with plain CQL, shows a ' +
      "progress bar until every follower's timeline holds it, prints the rate and checks a sample " +
      'of timelines.',
    options: {
      ...graph,
      followers: n('followers of the author, 1 to 100000000, default 500000'),
      observability: {
        type: 'boolean',
        doc: 'also start Jaeger and Prometheus and export the run to them (fanout trace, status --watch)',
      },
    },
    config: true,
    positionals: none,
  },
  {
    name: 'cdc',
    group: 'run',
    usage: '',
    summary: 'the CDC connector: cdc_raw commit-log segments -> Kafka, exactly once',
    about:
      "Runs the CDC connector of one Cassandra node (cdc.nodeId) on that node's host: reads " +
      'cdc.rawDir, produces change events and its source offset in one Kafka transaction, deletes ' +
      'segments once committed. Stops gracefully on SIGTERM / SIGINT.',
    options: {},
    config: true,
    positionals: none,
  },
  {
    name: 'worker',
    group: 'run',
    usage: '[--worker-id 0]',
    summary: 'one fan-out worker: CDC topic -> follower timelines; start more to scale out',
    about:
      'Runs one fan-out worker until SIGTERM / SIGINT. Workers of one group share the partitions ' +
      'of the CDC topic and of the work topic of split fan-outs; it logs its progress every 10 s.',
    options: { 'worker-id': workerIdOption },
    config: true,
    positionals: none,
  },
  {
    name: 'run',
    group: 'run',
    usage: '[--worker-id 0]',
    summary: 'the CDC connector and one fan-out worker in one process',
    about: 'The CDC connector and one fan-out worker in one process, until SIGTERM / SIGINT.',
    options: { 'worker-id': workerIdOption },
    config: true,
    positionals: none,
  },
  {
    name: 'status',
    group: 'run',
    usage: '[--json | --watch]',
    summary: 'fan-outs in progress (delivered, remaining) and consumer lag, from any machine',
    about:
      'Fan-outs in progress as their workers committed them (delivered, total, remaining; the ' +
      'cursor of a whole tweet, the tasks of a split one) and the lag of the worker group on the ' +
      'CDC topic, of its task lanes on the work topic and of its graph lanes on the followers ' +
      'CDC topic. Reads Kafka only; asks no worker (a running worker logs its own status line).',
    options: {
      json: { type: 'boolean', doc: 'machine-readable, with the lag per partition' },
      watch: {
        type: 'boolean',
        doc: 'redraw every second: progress bar, rate and ETA per fan-out, lag, dead letters',
      },
    },
    config: true,
    positionals: none,
  },
  {
    name: 'tweet',
    group: 'run',
    usage: '--author <id> <text...>',
    summary: 'insert a tweet with plain CQL, as an application does',
    about: 'A plain CQL INSERT INTO tweets, exactly as an application would; prints the tweet id.',
    options: { author: id('the author (required)') },
    config: true,
    positionals: { min: 1, max: Infinity, missing: '<text...>' },
  },
  {
    name: 'timeline',
    group: 'run',
    usage: '<user> [--limit 20]',
    summary: 'a home timeline, newest first',
    about:
      "A user's home timeline, newest first, hydrated from tweets; the first line says the cap (timeline.maxEntries) it is kept to.",
    options: { limit: n('most entries shown, 1 to 10000, default 20') },
    config: true,
    positionals: { min: 1, max: 1, missing: '<user>' },
  },
  {
    name: 'services',
    group: 'setup',
    usage: 'up|down|status|logs [<service>...] [--observability|--secure|--nodes N]',
    summary: 'the local Kafka 4 (KRaft) and Cassandra 5 (CDC on), from Maven jars, on loopback',
    about:
      'Services: kafka, cassandra, jaeger, prometheus. ' +
      'up: download (once) and start Kafka and Cassandra; a no-op when they run; with ' +
      '--observability also Jaeger (built once from the Go module proxy) and Prometheus (Debian). ' +
      'down: stop them all; with --purge also delete their data (the jars stay). --secure: the ' +
      'secured set (TLS, SASL, ACLs, Cassandra auth) on ports of its own, beside the plain one. ' +
      '--nodes 3: the local cluster instead (3 Cassandra nodes and 3 Kafka brokers on ' +
      '127.0.0.2-4, docs/deploying.md). ' +
      'status: JSON. logs <name>: the log of one. FANOUT_HOME moves everything; ' +
      'FANOUT_PORT_OFFSET=N adds N to every port.',
    options: {
      purge: { type: 'boolean', doc: 'with down: also delete the data' },
      observability: { type: 'boolean', doc: 'with up: also Jaeger and Prometheus' },
      secure: { type: 'boolean', doc: 'up|down the secured set instead (docs/security.md)' },
      nodes: n('up|down|status the local cluster of that many nodes instead (3 to 9)'),
    },
    config: false,
    actions: ['up', 'down', 'status', 'logs'],
    positionals: { min: 1, max: 5 },
  },
  {
    name: 'security',
    group: 'setup',
    usage: 'acls|grants [options]',
    summary: 'the least-privilege Kafka ACLs and Cassandra GRANTs for the configured names',
    about:
      'acls: kafka-acls.sh command lines for the CDC connector and the workers (topics, groups, ' +
      'transactional ids, idempotent write); --json: the same as data. grants: the Cassandra role ' +
      'and its GRANTs (schema apply stays an admin step). See docs/security.md.',
    options: {
      'connector-principal': {
        type: 'string',
        value: '<User:name>',
        doc: 'default User:fanout-cdc',
      },
      'worker-principal': {
        type: 'string',
        value: '<User:name>',
        doc: 'default User:fanout-worker',
      },
      role: { type: 'string', value: '<role>', doc: 'the Cassandra role, default fanout_app' },
      json: { type: 'boolean', doc: 'the ACLs as JSON' },
    },
    config: true,
    actions: ['acls', 'grants'],
    positionals: { min: 1, max: 1 },
  },
  {
    name: 'trace',
    group: 'run',
    usage: '<tweet-id> [--json] [--lookback 24h]',
    summary: "a tweet's trace from Jaeger as a waterfall in the terminal",
    about:
      "Finds the tweet's trace through Jaeger's query API (telemetry.jaegerUrl) and prints its " +
      "span tree: durations as bars, the worker of each span, retries. --json: Jaeger's JSON.",
    options: {
      json: { type: 'boolean', doc: "Jaeger's JSON instead of the waterfall" },
      lookback: { type: 'string', value: '<dur>', doc: 'how far back to search, default 24h' },
    },
    config: true,
    positionals: { min: 1, max: 1, missing: '<tweet-id>' },
  },
  {
    name: 'schema',
    group: 'setup',
    usage: 'apply',
    summary: 'create the keyspace, tables and Kafka topics (idempotent)',
    about:
      'Creates the keyspace, the tables (tweets WITH cdc = true) and the Kafka topics; idempotent, ' +
      'returns once every partition has a leader.',
    options: {},
    config: true,
    actions: ['apply'],
    positionals: { min: 1, max: 1 },
  },
  {
    name: 'config',
    group: 'setup',
    usage: 'show|keys',
    summary: 'the effective configuration (secrets redacted) | every key and its env var',
    about:
      'show: the effective configuration as JSON, secrets redacted. keys: every key with its env ' +
      'var. Precedence: defaults < --config file < env < --set.',
    options: {},
    config: true,
    actions: ['show', 'keys'],
    positionals: { min: 1, max: 1 },
  },
  {
    name: 'seed',
    group: 'setup',
    usage: '[--followers 500000] [--author 1] [graph options] [--concurrency 16]',
    summary: 'write a follower graph: one celebrity plus a power-law long tail',
    about: 'Writes a follower graph with bounded concurrency and a progress bar.',
    options: { ...graph, concurrency: n('follower writes in flight, 1 to 1024, default 16') },
    config: true,
    positionals: none,
  },
  {
    name: 'bench',
    group: 'setup',
    usage: '[--followers 500000] [--rounds 3] [--flat-rss N] [...] | --stream [...]',
    summary: 'the fan-out benchmark; --stream: small tweets (fanout bench --help for options)',
    about:
      'The fan-out benchmark, bench/fanout.ts; with --stream, the small-tweet stream benchmark, bench/stream.ts. Each parses its own options.',
    options: {},
    config: false,
    positionals: { min: 0, max: Infinity },
    passThrough: true,
  },
];

export function findCommand(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name);
}

/** Every option a command takes, its own first. */
export function optionsOf(spec: CommandSpec): Readonly<Record<string, OptionSpec>> {
  return spec.config ? { ...spec.options, ...CONFIG_OPTIONS } : spec.options;
}

/** `--a, --b` for the refusals, or a note that there are none. */
export function optionNames(spec: CommandSpec): string {
  const names = Object.keys(optionsOf(spec)).map((o) => `--${o}`);
  return names.length > 0 ? `options: ${names.join(', ')}` : 'it takes no options';
}

export const usageLine = (spec: CommandSpec): string =>
  `fanout ${spec.name}${spec.usage ? ` ${spec.usage}` : ''}`;

/** Wraps prose at `width` columns, each line indented by `indent`. */
function wrap(text: string, indent: number, width = 100): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && indent + line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines.map((l) => ' '.repeat(indent) + l).join('\n');
}

/** `fanout <command> --help`. */
export function commandHelp(spec: CommandSpec): string {
  const rows: Array<readonly [string, string]> = Object.entries(optionsOf(spec)).map(
    ([name, o]) => [`--${name}${o.value ? ` ${o.value}` : ''}`, o.doc],
  );
  rows.push(['-h, --help', 'this help']);
  const w = Math.max(...rows.map(([flag]) => flag.length)) + 2;
  const options = rows.map(([flag, doc]) => `  ${flag.padEnd(w)}${wrap(doc, w + 2).trimStart()}`);
  return `usage: ${usageLine(spec)}\n\n${wrap(spec.about, 0)}\n\noptions:\n${options.join('\n')}\n`;
}

/** `fanout --help`. */
export function overview(): string {
  const line = (c: CommandSpec): string => `  ${c.name.padEnd(10)}${c.summary}`;
  const group = (g: CommandSpec['group']): string =>
    COMMANDS.filter((c) => c.group === g)
      .map(line)
      .join('\n');
  return `usage: fanout <command> [options]       fanout <command> --help: its options

running it:
${group('run')}

setting up:
${group('setup')}

  ./fanout test   typecheck, lint, cycle check, then every test (the ./fanout script runs it)

fanout --version prints the version. Exit codes: 0 ok, 2 bad usage or configuration, 1 anything else.
Documentation: README.md and docs/.
`;
}
