import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

/** The shell entry point of a checkout, as a user runs it from a directory of their own. */
const FANOUT = resolve(import.meta.dirname, '../../fanout');
const run = promisify(execFile);

describe('./fanout, run from another directory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fanout-entry-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a relative --config, FANOUT_CONFIG and *_FILE against the caller’s directory', async () => {
    writeFileSync(join(dir, 'mine.json'), '{ "pipeline": { "batchSize": 7 } }\n');
    writeFileSync(join(dir, 'password.txt'), 'secret-from-file\n');
    const env = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      FANOUT_TELEMETRY_ENABLED: 'false',
      FANOUT_CASSANDRA_USERNAME: 'app',
      FANOUT_CASSANDRA_PASSWORD_FILE: 'password.txt',
    };
    const show = async (args: string[], extra: Record<string, string> = {}) => {
      const r = await run(FANOUT, args, { cwd: dir, env: { ...env, ...extra }, timeout: 60_000 });
      return JSON.parse(r.stdout) as {
        pipeline: { batchSize: number };
        cassandra: { password: string };
      };
    };
    const shown = await show(['config', 'show', '--config', 'mine.json']);
    expect(shown.pipeline.batchSize).toBe(7);
    expect(shown.cassandra.password).toBe('[redacted]'); // read from ./password.txt
    expect(
      (await show(['config', 'show'], { FANOUT_CONFIG: './mine.json' })).pipeline.batchSize,
    ).toBe(7);
  });
});
