/**
 * Loads configuration from defaults, a JSON file, env vars and `--set key=value` overrides (in
 * that order of precedence), validates it strictly, and returns the compiled, frozen object.
 * Every problem is reported at once, each as one sentence naming the key and its env var.
 */
import { readFileSync } from 'node:fs';
import convict from 'convict';
import { compile, type Config } from './compile.ts';
import { ConfigError } from './errors.ts';
import type { Format } from './formats.ts';
import { jsonErrorPosition } from './json-error.ts';
import { extraEnv, schema, testEnv } from './schema.ts';
import { REDACTED, redactSecrets, registerSecret, secretFromEnv } from './secrets.ts';
import { portOffsetFromEnv, servicePorts } from './ports.ts';

export interface LoadOptions {
  /** Environment to read (defaults to process.env). */
  env?: NodeJS.ProcessEnv;
  /** A JSON config file; else FANOUT_CONFIG from env, else none. */
  file?: string;
  /** `key=value` overrides, as given to `--set`. */
  sets?: readonly string[];
}

interface Leaf {
  key: string;
  env: string;
  format: Format;
  sensitive: boolean;
}

/** The schema's leaves, by dotted key. */
export const leaves: ReadonlyMap<string, Leaf> = (() => {
  const out = new Map<string, Leaf>();
  const walk = (node: Record<string, unknown>, prefix: string): void => {
    for (const [name, child] of Object.entries(node)) {
      const key = prefix ? `${prefix}.${name}` : name;
      const item = child as Record<string, unknown>;
      if ('doc' in item && 'default' in item) {
        out.set(key, {
          key,
          env: String(item.env),
          format: item.format as Format,
          sensitive: item.sensitive === true,
        });
      } else {
        walk(item, key);
      }
    }
  };
  walk(schema, '');
  return out;
})();

function flatten(
  obj: unknown,
  prefix = '',
  out = new Map<string, unknown>(),
): Map<string, unknown> {
  if (obj !== null && typeof obj === 'object' && !Array.isArray(obj) && !leaves.has(prefix)) {
    for (const [k, v] of Object.entries(obj)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else {
    out.set(prefix, obj);
  }
  return out;
}

/** Loads, validates and compiles the configuration; throws ConfigError listing every problem. */
export function loadConfig(options: LoadOptions = {}): Config {
  const env = options.env ?? process.env;
  const problems: string[] = [];
  // convict reads neither env nor argv by itself here: we coerce with each format's own parser.
  const conf = convict(schema as never, { env: {}, args: [] });
  // A second set of local services (FANOUT_PORT_OFFSET, see ./ports.ts) is where the
  // defaults point too: `FANOUT_PORT_OFFSET=1000 ./fanout demo` starts those and then uses them.
  try {
    const ports = servicePorts(portOffsetFromEnv(env));
    conf.set('kafka.brokers', [`${ports.host}:${ports.kafka.broker}`]);
    conf.set('cassandra.contactPoints', [`${ports.host}:${ports.cassandra.native}`]);
    conf.set('telemetry.otlpEndpoint', `http://${ports.host}:${ports.jaeger.otlpHttp}`);
    conf.set('telemetry.jaegerUrl', `http://${ports.host}:${ports.jaeger.query}`);
    conf.set('telemetry.prometheusPort', ports.productMetrics[0]!);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
  }

  const apply = (key: string, value: unknown, source: string): void => {
    const leaf = leaves.get(key);
    if (!leaf) {
      problems.push(`${source}: unknown key ${JSON.stringify(key)}${suggest(key)}`);
      return;
    }
    const parsed = typeof value === 'string' ? leaf.format.parse(value) : value;
    try {
      leaf.format(parsed, { sensitive: leaf.sensitive });
      conf.set(key, parsed);
    } catch (err) {
      problems.push(
        `${leaf.key} from ${source}${source.startsWith('env') ? '' : ` (env ${leaf.env})`}: ${(err as Error).message}`,
      );
    }
  };

  const file = options.file ?? env.FANOUT_CONFIG;
  if (file) {
    const parsed = readConfigFile(file);
    for (const [key, value] of flatten(parsed)) apply(key, value, `file ${file}`);
  }

  problems.push(...unknownEnv(env));
  for (const leaf of leaves.values()) {
    if (leaf.sensitive) {
      // A secret may come from a file named by <VAR>_FILE (Docker secrets).
      const { value, problem } = secretFromEnv(env, leaf.env);
      if (problem !== undefined) problems.push(`${leaf.key}: ${problem}`);
      if (value !== undefined) apply(leaf.key, value, `env ${leaf.env}`);
      continue;
    }
    const raw = env[leaf.env];
    if (raw !== undefined) apply(leaf.key, raw, `env ${leaf.env}`);
  }

  for (const pair of options.sets ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) {
      problems.push(
        `--set ${JSON.stringify(pair)} must look like key=value (e.g. pipeline.batchSize=128)`,
      );
      continue;
    }
    apply(pair.slice(0, eq).trim(), pair.slice(eq + 1), '--set');
  }

  if (problems.length === 0) {
    try {
      conf.validate({ allowed: 'strict' });
    } catch (err) {
      problems.push(...(err as Error).message.split('\n'));
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const config = compile(conf.getProperties() as never);
  for (const leaf of leaves.values()) {
    const value = conf.get(leaf.key as never) as unknown;
    if (leaf.sensitive && typeof value === 'string') registerSecret(value);
  }
  return config;
}

/**
 * One sentence per `FANOUT_*` variable of `env` that is no setting of this product (a typo would
 * otherwise be ignored); commands that load no configuration (`services`) check this too.
 */
export function unknownEnv(env: NodeJS.ProcessEnv): string[] {
  const known = new Set<string>([
    ...[...leaves.values()].flatMap((l) => (l.sensitive ? [l.env, `${l.env}_FILE`] : [l.env])),
    ...extraEnv,
    ...testEnv,
  ]);
  return Object.keys(env)
    .filter((name) => name.startsWith('FANOUT_') && !known.has(name))
    .map((name) => `env ${name} is not a setting of this product${suggestEnv(name)}`);
}

/**
 * The parsed JSON of a config file. A syntax error names the file, line and column only: the
 * parser's own message quotes the text around the error, which may be a password.
 */
function readConfigFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ConfigError([`config file ${file} cannot be read (${code})`]);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    const at = jsonErrorPosition(text);
    const where = at === undefined ? '' : ` at line ${at.line}, column ${at.column}`;
    throw new ConfigError([
      `config file ${file} is not valid JSON: syntax error${where} (the text is not shown: it may hold a secret)`,
    ]);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    const got =
      parsed === null ? 'null' : Array.isArray(parsed) ? 'an array' : `a ${typeof parsed}`;
    throw new ConfigError([
      `config file ${file} must hold a JSON object of settings (e.g. { "pipeline": { "batchSize": 100 } }), got ${got}`,
    ]);
  }
  return parsed;
}

/**
 * The effective configuration as JSON text, secrets redacted: the sensitive keys by name, and any
 * registered secret value wherever else it appears (e.g. pasted into another key by mistake).
 */
export function redacted(config: Config): string {
  const copy = JSON.parse(JSON.stringify(config)) as Record<string, Record<string, unknown>>;
  for (const leaf of leaves.values()) {
    if (!leaf.sensitive) continue;
    const [group, name] = leaf.key.split('.') as [string, string];
    const section = copy[group];
    if (section && section[name] !== '' && section[name] !== undefined) section[name] = REDACTED;
  }
  return redactSecrets(JSON.stringify(copy, null, 2));
}

function suggest(key: string): string {
  const lower = key.toLowerCase().replace(/[^a-z0-9.]/g, '');
  const hit = [...leaves.keys()].find(
    (k) => k.toLowerCase() === lower || k.toLowerCase().endsWith(`.${lower.split('.').pop()}`),
  );
  return hit ? `; did you mean ${hit}?` : '';
}

function suggestEnv(name: string): string {
  const squash = (s: string): string => s.replace(/_/g, '');
  const hit = [...[...leaves.values()].map((l) => l.env), ...extraEnv].find(
    (env) => squash(env) === squash(name),
  );
  return hit ? `; did you mean ${hit}?` : '';
}
