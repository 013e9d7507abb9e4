/**
 * The command line held to each command's own table (cli/usage.ts). util.parseArgs splits it into
 * tokens (non-strict, so that its refusals do not come out as Node's multi-line messages); each
 * token is then checked here, and every refusal is one sentence that names the command's options.
 * Nothing here touches a service: help and refusals come before any connection.
 */
import { parseArgs } from 'node:util';
import { UsageError } from './args.ts';
import { CONFIG_OPTIONS, optionNames, optionsOf, usageLine, type CommandSpec } from './usage.ts';

export type OptionValue = string | true | readonly string[];

export interface Parsed {
  readonly help: boolean;
  readonly options: ReadonlyMap<string, OptionValue>;
  readonly positionals: readonly string[];
}

/** A negative number is an argument with a sign, not an option: `timeline -5` names user -5. */
const NUMBER = /^-\d[\d.]*$/;

/** Parses the arguments after `fanout <command>`; throws a UsageError naming the command. */
export function parseCommand(spec: CommandSpec, argv: readonly string[]): Parsed {
  const fail = (message: string): never => {
    throw new UsageError(message, spec.name);
  };
  const table = optionsOf(spec);
  const { tokens } = parseArgs({
    args: [...argv],
    strict: false,
    allowPositionals: true,
    tokens: true,
    options: {
      ...Object.fromEntries(Object.entries(table).map(([name, o]) => [name, { type: o.type }])),
      help: { type: 'boolean', short: 'h' },
    },
  });
  // Help wins over everything else before `--`, as it does in most command lines.
  const end = tokens.find((t) => t.kind === 'option-terminator')?.index ?? argv.length;
  if (argv.slice(0, end).some((a) => a === '--help' || a === '-h'))
    return { help: true, options: new Map(), positionals: [] };

  const options = new Map<string, OptionValue>();
  const positionals: string[] = [];
  let numberAt = -1; // `-12` comes as two tokens of one index
  for (const t of tokens) {
    if (t.kind === 'option-terminator') continue;
    if (t.kind === 'positional') {
      positionals.push(t.value);
      continue;
    }
    const raw = argv[t.index]!;
    if (NUMBER.test(raw)) {
      if (numberAt !== t.index) positionals.push(raw);
      numberAt = t.index;
      continue;
    }
    const o = table[t.name];
    // A group of short options (`-hx`) is named as typed.
    const given = raw.startsWith('--') ? t.rawName : raw;
    if (o === undefined) fail(`unknown option ${given} (${optionNames(spec)})`);
    else if (o.type === 'boolean') {
      if (t.value !== undefined) fail(`option ${t.rawName} takes no value, got ${raw}`);
      options.set(t.name, true);
    } else {
      // Non-strict parsing takes the next argument as the value whatever it is: `--limit --json`.
      const missing = t.value === undefined || (!t.inlineValue && /^--?[^\d]/.test(t.value));
      if (missing)
        fail(
          `option ${t.rawName} needs a value (${t.rawName} ${o.value ?? '<value>'})${t.value ? `, got ${t.value}` : ''}`,
        );
      const value = t.value!;
      const before = options.get(t.name);
      if (o.multiple) options.set(t.name, [...(typeof before === 'object' ? before : []), value]);
      else if (before !== undefined) fail(`option ${t.rawName} given twice`);
      else options.set(t.name, value);
    }
  }
  checkPositionals(spec, positionals, fail);
  return { help: false, options, positionals };
}

function checkPositionals(
  spec: CommandSpec,
  positionals: readonly string[],
  fail: (message: string) => never,
): void {
  const { min, max, missing } = spec.positionals;
  if (spec.actions) {
    const actions = `actions: ${spec.actions.join(', ')}`;
    const action = positionals[0] ?? fail(`missing action (${actions})`);
    if (!spec.actions.includes(action))
      fail(`unknown action ${JSON.stringify(action)} (${actions})`);
  }
  if (positionals.length > max)
    fail(
      `unexpected argument ${JSON.stringify(positionals[max])} (usage: ${usageLine(spec)}; ${optionNames(spec)})`,
    );
  if (positionals.length < min)
    fail(`missing ${missing ?? 'argument'} (usage: ${usageLine(spec)})`);
}

/** A string option's value (undefined when not given). */
export function stringOption(p: Parsed, name: string): string | undefined {
  const v = p.options.get(name);
  return typeof v === 'string' ? v : undefined;
}

/** The global flags of a command that loads the configuration. */
export function configFlags(p: Parsed): { config?: string; set: string[] } {
  const config = stringOption(p, 'config');
  const set = p.options.get('set');
  return {
    ...(config === undefined ? {} : { config }),
    set: typeof set === 'object' ? [...set] : [],
  };
}

/**
 * Where a command line starts: `fanout [--config f] [--set k=v] <command> ...` is accepted as
 * it always was; the global options found before the command are moved after it.
 */
export function splitCommand(argv: readonly string[]): {
  command: string | undefined;
  args: string[];
  flag?: 'help' | 'version';
} {
  const leading: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') return { command: undefined, args: [], flag: 'help' };
    if (a === '--version' || a === '-V') return { command: undefined, args: [], flag: 'version' };
    const name = /^--([^=]+)/.exec(a)?.[1];
    if (name !== undefined && name in CONFIG_OPTIONS) {
      leading.push(a);
      if (!a.includes('=') && argv[i + 1] !== undefined) leading.push(argv[++i]!);
      continue;
    }
    if (a.startsWith('-'))
      throw new UsageError(
        `unknown option ${a} before the command (options there: --config, --set, --help, --version)`,
      );
    return { command: a, args: [...argv.slice(i + 1), ...leading] };
  }
  return { command: undefined, args: leading };
}
