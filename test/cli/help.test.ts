import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { COMMANDS, optionsOf } from '../../cli/usage.ts';

const MAIN = resolve(import.meta.dirname, '../../cli/main.ts');
const run = promisify(execFile);

/**
 * `fanout <args>` in a child process. The services it would use are unreachable (port 1): help
 * and refusals must come before any connection, so they answer at once with exit 0 or 2 where a
 * connection attempt would end in exit 1 after its timeout.
 */
async function fanout(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return fanoutWith({}, ...args);
}

async function fanoutWith(
  extra: Record<string, string>,
  ...args: string[]
): Promise<{ code: number; out: string; err: string }> {
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    KAFKA_BROKERS: '127.0.0.1:1',
    CASSANDRA_CONTACT_POINTS: '127.0.0.1:1',
    FANOUT_TELEMETRY_ENABLED: 'false',
    ...extra,
  };
  try {
    const r = await run(process.execPath, [MAIN, ...args], { env, timeout: 15_000 });
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout: string; stderr: string };
    return { code: err.code ?? -1, out: err.stdout, err: err.stderr };
  }
}

/** Runs `fanout` for each argument list, two at a time (the box has two cores). */
async function each(argvs: string[][]): Promise<Array<Awaited<ReturnType<typeof fanout>>>> {
  const out: Array<Awaited<ReturnType<typeof fanout>>> = [];
  for (let i = 0; i < argvs.length; i += 2)
    out.push(...(await Promise.all(argvs.slice(i, i + 2).map((a) => fanout(...a)))));
  return out;
}

describe('fanout CLI: help, version and refusals, before any connection', () => {
  it('--version prints the version of package.json', async () => {
    const pkg = JSON.parse(
      readFileSync(resolve(import.meta.dirname, '../../package.json'), 'utf8'),
    ) as { version: string };
    expect(await fanout('--version')).toEqual({ code: 0, out: `${pkg.version}\n`, err: '' });
  });

  it('fanout, --help and help list every command', async () => {
    const outs = await each([[], ['--help'], ['help']]);
    for (const r of outs) {
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/^usage: fanout <command>/);
      for (const c of COMMANDS) expect(r.out).toMatch(new RegExp(`^  ${c.name} `, 'm'));
    }
  });

  // One process per command: a minute, since a Node start takes seconds on a loaded 2-core box.
  it(
    'fanout <command> --help prints that command and its options; help <command> too',
    { timeout: 60_000 },
    async () => {
      const own = COMMANDS.filter((c) => !c.passThrough);
      const helps = await each(own.map((c) => [c.name, '--help']));
      own.forEach((c, i) => {
        const r = helps[i]!;
        expect(r.code, r.err).toBe(0);
        expect(r.out.split('\n')[0]).toMatch(new RegExp(`^usage: fanout ${c.name}\\b`));
        for (const o of Object.keys(optionsOf(c))) expect(r.out).toContain(`--${o}`);
      });
      const [alias, short] = await each([
        ['help', 'timeline'],
        ['timeline', '-h'],
      ]);
      expect(alias).toEqual(helps[own.findIndex((c) => c.name === 'timeline')]);
      expect(short).toEqual(alias);
      const bench = await fanout('bench', '--help');
      expect(bench.code).toBe(0);
      expect(bench.out).toMatch(/^usage: fanout bench /);
      expect(bench.out).toContain('usage: fanout bench --stream'); // bench/stream.ts's options too
    },
  );

  it('an option the command does not take is one sentence naming its options, exit 2', async () => {
    expect(await fanout('status', '--author', '5')).toEqual({
      code: 2,
      out: '',
      err: 'fanout status: unknown option --author (options: --json, --watch, --config, --set)\n',
    });
    expect(await fanout('worker', '--json')).toEqual({
      code: 2,
      out: '',
      err: 'fanout worker: unknown option --json (options: --worker-id, --config, --set)\n',
    });
  });

  it('a negative number where a user id goes is refused as such, exit 2', async () => {
    expect(await fanout('timeline', '-5')).toEqual({
      code: 2,
      out: '',
      err: 'fanout timeline: <user> must be a user id (a whole number from 0 to 2^63-1), got "-5"\n',
    });
  });

  it('bad values are refused before connecting', { timeout: 60_000 }, async () => {
    const cases: Array<[string[], string]> = [
      [['timeline', '1', '--limit', '0'], 'fanout timeline: --limit must be a whole number'],
      [['tweet', 'hello'], 'fanout tweet: missing --author <id>'],
      [['tweet', '--author', 'x', 'hi'], 'fanout tweet: --author must be a user id'],
      [['worker', '--worker-id', 'a b'], 'fanout worker: --worker-id must be'],
      [['seed', '--concurrency', '0'], 'fanout seed: --concurrency must be a whole number'],
      [['services', 'up', '--purge'], 'fanout services: option --purge goes with down only'],
      [['services', 'status', '--secure'], 'fanout services: option --secure goes with up or down'],
      [['schema', 'drop'], 'fanout schema: unknown action "drop" (actions: apply)'],
      [['nope'], 'fanout: unknown command "nope" (commands: demo, '],
      [['--json', 'status'], 'fanout: unknown option --json before the command'],
      [['--config', 'x.json'], 'fanout: missing command after --config x.json (commands: demo, '],
      [['--set', 'pipeline.batchSize=7'], 'fanout: missing command after --set pipeline.'],
    ];
    const results = await each(cases.map(([args]) => args));
    results.forEach((r, i) => {
      const [args, says] = cases[i]!;
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err.startsWith(says), r.err).toBe(true);
      expect(r.err.trim().split('\n')).toHaveLength(1);
    });
  });

  it('a bad FANOUT_PORT_OFFSET is one sentence naming it, exit 2, for services too', async () => {
    const says =
      'fanout: invalid configuration: env FANOUT_PORT_OFFSET must be a whole number from 0 to 50000 (added to every local service port), got "abc"\n';
    const env = { FANOUT_PORT_OFFSET: 'abc', FANOUT_HOME: '/nonexistent/fanout-home' };
    const [services, config] = await Promise.all([
      fanoutWith(env, 'services', 'status'),
      fanoutWith(env, 'config', 'show'),
    ]);
    expect(services).toEqual({ code: 2, out: '', err: says });
    expect(config).toEqual({ code: 2, out: '', err: says });
  });

  it('services refuses a misspelt FANOUT_* variable instead of using the default set', async () => {
    const [home, offset] = await Promise.all([
      // status, and a home of its own: before the fix, this went to the default set.
      fanoutWith({ FANOUT_HOM: '/tmp/scratch', HOME: '/nonexistent/home' }, 'services', 'status'),
      fanoutWith({ FANOUT_PORTOFFSET: '3000', HOME: '/nonexistent/home' }, 'services', 'status'),
    ]);
    expect(home).toEqual({
      code: 2,
      out: '',
      err: 'fanout: invalid configuration: env FANOUT_HOM is not a setting of this product\n',
    });
    expect(offset).toEqual({
      code: 2,
      out: '',
      err: 'fanout: invalid configuration: env FANOUT_PORTOFFSET is not a setting of this product; did you mean FANOUT_PORT_OFFSET?\n',
    });
  });

  it('demo --followers 0 is refused: a tweet to no one writes no row, which it waits for', async () => {
    // Endpoints that are not loopback and a home that cannot be made: whatever the code does, it
    // starts no local services.
    const r = await fanoutWith(
      {
        KAFKA_BROKERS: '192.0.2.1:9092',
        CASSANDRA_CONTACT_POINTS: '192.0.2.1:9042',
        FANOUT_HOME: '/etc/hostname/fanout',
      },
      'demo',
      '--followers',
      '0',
    );
    expect(r).toEqual({
      code: 2,
      out: '',
      err: 'fanout demo: --followers must be a whole number from 1 to 100000000, got "0"\n',
    });
  });

  it("demo starts no local services for endpoints that are not the launcher's ports", async () => {
    // Loopback, but not 9092 / 9042: the user's own (down) services, not the launcher's. A home
    // that cannot be made: starting the launcher's would fail at once (ENOTDIR) instead.
    const r = await fanoutWith(
      { FANOUT_HOME: '/etc/hostname/fanout', FANOUT_CASSANDRA_CONNECT_TIMEOUT_MS: '1000' },
      'demo',
      '--followers',
      '5',
    );
    expect(r.code).toBe(1);
    expect(r.err).not.toContain('ENOTDIR');
    expect(r.err).toMatch(/^fanout: (Kafka|Cassandra) at 127\.0\.0\.1:1 is unreachable/);
  });

  it('global options before the command still work', async () => {
    const r = await fanout('--set', 'pipeline.batchSize=7', 'config', 'show');
    expect(r.code, r.err).toBe(0);
    expect((JSON.parse(r.out) as { pipeline: { batchSize: number } }).pipeline.batchSize).toBe(7);
  });
});
