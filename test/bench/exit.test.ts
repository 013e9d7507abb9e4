import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const MAIN = resolve(import.meta.dirname, '../../cli/main.ts');
const run = promisify(execFile);

const baseEnv = {
  PATH: process.env.PATH ?? '',
  HOME: process.env.HOME ?? '/tmp',
  KAFKA_BROKERS: '127.0.0.1:1',
  CASSANDRA_CONTACT_POINTS: '127.0.0.1:1',
  FANOUT_TELEMETRY_ENABLED: 'false',
};

/** True while `pid` is a live process (not gone, not a zombie). */
function alive(pid: number): boolean {
  if (!existsSync(`/proc/${pid}/stat`)) return false;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
}

describe('fanout bench: how it ends', () => {
  it('a bad configuration is one line, exit 2, no stack trace', { timeout: 30_000 }, async () => {
    for (const args of [['bench'], ['bench', '--stream']]) {
      const r = await run(process.execPath, [MAIN, ...args], {
        env: { ...baseEnv, FANOUT_BATCH_SIZE: '0' },
        timeout: 20_000,
      }).then(
        () => ({ code: 0, err: '' }),
        (e: { code: number; stderr: string }) => ({ code: e.code, err: e.stderr }),
      );
      expect(r, args.join(' ')).toEqual({
        code: 2,
        err: 'fanout bench: invalid configuration: pipeline.batchSize from env FANOUT_BATCH_SIZE: must be an integer from 1 to 10000, got 0\n',
      });
    }
  });

  it(
    "--config reaches the bench (its file, read from the caller's directory)",
    { timeout: 30_000 },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'fanout-bench-config-'));
      try {
        writeFileSync(join(dir, 'bad.json'), JSON.stringify({ pipeline: { batchSize: 0 } }));
        for (const args of [['bench'], ['bench', '--stream']]) {
          const r = await run(process.execPath, [MAIN, ...args, '--config', 'bad.json'], {
            env: baseEnv,
            cwd: dir,
            timeout: 20_000,
          }).then(
            () => ({ code: 0, err: '' }),
            (e: { code: number; stderr: string }) => ({ code: e.code, err: e.stderr }),
          );
          expect(r.code, args.join(' ')).toBe(2);
          expect(r.err, args.join(' ')).toMatch(
            /^fanout bench: invalid configuration: pipeline\.batchSize/,
          );
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it('SIGTERM to fanout bench stops the bench process too', { timeout: 30_000 }, async () => {
    // A "Cassandra" that accepts and never answers: the bench waits in its connect.
    const sockets: Socket[] = [];
    const server = createServer((s) => sockets.push(s));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    const connected = once(server, 'connection');
    const parent = spawn(process.execPath, [MAIN, 'bench', '--stream'], {
      env: {
        ...baseEnv,
        CASSANDRA_CONTACT_POINTS: `127.0.0.1:${port}`,
        FANOUT_CASSANDRA_CONNECT_TIMEOUT_MS: '60000',
      },
      stdio: 'ignore',
    });
    const exited = once(parent, 'exit');
    let bench: number[] = [];
    try {
      await connected;
      bench = readFileSync(`/proc/${parent.pid}/task/${parent.pid}/children`, 'utf8')
        .trim()
        .split(/\s+/)
        .map(Number);
      expect(bench).toHaveLength(1);
      parent.kill('SIGTERM');
      await exited;
      expect(bench.filter(alive)).toEqual([]);
    } finally {
      for (const pid of bench) if (alive(pid)) process.kill(pid, 'SIGKILL');
      for (const s of sockets) s.destroy();
      server.close();
    }
  });
});
