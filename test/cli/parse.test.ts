import { describe, expect, it } from 'vitest';
import { UsageError } from '../../cli/args.ts';
import { parseCommand, splitCommand } from '../../cli/parse.ts';
import {
  commandHelp,
  COMMANDS,
  findCommand,
  optionsOf,
  type CommandSpec,
} from '../../cli/usage.ts';

const spec = (name: string): CommandSpec => {
  const s = findCommand(name);
  if (!s) throw new Error(`no command ${name}`);
  return s;
};

/** The one sentence a refusal prints, as main.ts prints it. */
function refusal(name: string, argv: string[]): string {
  try {
    parseCommand(spec(name), argv);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return `fanout ${(err as UsageError).command}: ${(err as Error).message}`;
  }
  throw new Error(`fanout ${name} ${argv.join(' ')} was accepted`);
}

describe('parseCommand: each command takes its own options', () => {
  it('reads options, repeatable --set and positionals', () => {
    const p = parseCommand(spec('timeline'), ['42', '--limit', '5', '--set', 'a=1', '--set=b=2']);
    expect(p.help).toBe(false);
    expect(p.positionals).toEqual(['42']);
    expect(p.options.get('limit')).toBe('5');
    expect(p.options.get('set')).toEqual(['a=1', 'b=2']);
    expect(parseCommand(spec('status'), ['--json']).options.get('json')).toBe(true);
  });

  it('refuses an option of another command, naming its own', () => {
    expect(refusal('status', ['--author', '5'])).toBe(
      'fanout status: unknown option --author (options: --json, --watch, --config, --set)',
    );
    expect(refusal('cdc', ['--worker-id', '1'])).toBe(
      'fanout cdc: unknown option --worker-id (options: --config, --set)',
    );
    expect(refusal('services', ['up', '--config', 'x.json'])).toBe(
      'fanout services: unknown option --config (options: --purge, --observability, --secure, --nodes)',
    );
    expect(refusal('status', ['-hx'])).toBe(
      'fanout status: unknown option -hx (options: --json, --watch, --config, --set)',
    );
  });

  it('reads a negative number as an argument, not as an option', () => {
    expect(parseCommand(spec('timeline'), ['-5']).positionals).toEqual(['-5']);
    expect(parseCommand(spec('timeline'), ['-12']).positionals).toEqual(['-12']);
    expect(parseCommand(spec('timeline'), ['1', '--limit', '-5']).options.get('limit')).toBe('-5');
    expect(refusal('status', ['-5'])).toMatch(/^fanout status: unexpected argument "-5"/);
  });

  it('refuses a missing value, a value for a flag, a repeated option', () => {
    expect(refusal('timeline', ['1', '--limit'])).toBe(
      'fanout timeline: option --limit needs a value (--limit <n>)',
    );
    expect(refusal('timeline', ['1', '--limit', '--json'])).toBe(
      'fanout timeline: option --limit needs a value (--limit <n>), got --json',
    );
    expect(refusal('status', ['--json=yes'])).toBe(
      'fanout status: option --json takes no value, got --json=yes',
    );
    expect(refusal('timeline', ['1', '--limit', '2', '--limit', '3'])).toBe(
      'fanout timeline: option --limit given twice',
    );
  });

  it('checks actions and the number of arguments', () => {
    expect(refusal('schema', [])).toBe('fanout schema: missing action (actions: apply)');
    expect(refusal('config', ['list'])).toBe(
      'fanout config: unknown action "list" (actions: show, keys)',
    );
    expect(refusal('timeline', [])).toBe(
      'fanout timeline: missing <user> (usage: fanout timeline <user> [--limit 20])',
    );
    expect(refusal('status', ['now'])).toBe(
      'fanout status: unexpected argument "now" (usage: fanout status [--json | --watch]; options: --json, --watch, --config, --set)',
    );
    expect(parseCommand(spec('tweet'), ['--author', '1', 'a', 'b']).positionals).toEqual([
      'a',
      'b',
    ]);
  });

  it('--help or -h wins over anything else before --', () => {
    expect(parseCommand(spec('status'), ['--author', '5', '--help']).help).toBe(true);
    expect(parseCommand(spec('timeline'), ['-h']).help).toBe(true);
    expect(parseCommand(spec('tweet'), ['--author', '1', '--', '-h']).help).toBe(false);
  });
});

describe('splitCommand', () => {
  it('finds the command after global options, which move after it', () => {
    expect(splitCommand(['--config', 'f.json', 'status', '--json'])).toEqual({
      command: 'status',
      args: ['--json', '--config', 'f.json'],
    });
    expect(splitCommand(['--set=a=1', 'cdc'])).toEqual({ command: 'cdc', args: ['--set=a=1'] });
    expect(splitCommand(['--version', 'status']).flag).toBe('version');
    expect(splitCommand(['-h']).flag).toBe('help');
    expect(splitCommand([])).toEqual({ command: undefined, args: [] });
    expect(() => splitCommand(['--json', 'status'])).toThrow(
      'unknown option --json before the command (options there: --config, --set, --help, --version)',
    );
  });
});

describe('commandHelp', () => {
  it.each(COMMANDS.filter((c) => !c.passThrough).map((c) => [c.name, c] as const))(
    '%s: usage line, then every option it takes',
    (name, c) => {
      const help = commandHelp(c);
      expect(help.startsWith(`usage: fanout ${name}`)).toBe(true);
      for (const option of Object.keys(optionsOf(c))) expect(help).toContain(`--${option}`);
      for (const line of help.split('\n')) expect(line.length).toBeLessThanOrEqual(100);
    },
  );
});
