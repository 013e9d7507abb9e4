/**
 * A `fanout worker` child process, as the tests that crash or stop one need it: the real CLI
 * entry point under the current Node, with only PATH and HOME from this environment (its
 * configuration comes from `args`), its log on stderr.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { withTimeout } from '../../lib/errors.ts';

const MAIN = resolve(import.meta.dirname, '../../cli/main.ts');

export interface WorkerProcess {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Resolves with the exit code (null when killed by a signal) once the process is gone. */
  readonly exited: Promise<number | null>;
  /** Everything it wrote to stderr (its log), for failure messages and its final status line. */
  readonly stderr: () => string;
  /** SIGKILL, then waits for the exit. */
  readonly kill: () => Promise<void>;
  /** SIGTERM (graceful stop: drain, commit, disconnect), then waits for the exit. */
  readonly stop: (timeoutMs?: number) => Promise<number | null>;
}

/** Starts `fanout worker --worker-id <id> <args…>` (args: `--set k=v`, `--config file`, …). */
export function spawnWorkerProcess(id: string, args: readonly string[]): WorkerProcess {
  const child = spawn(process.execPath, [MAIN, 'worker', '--worker-id', id, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  if (child.pid === undefined) throw new Error('could not spawn a fanout worker');
  let err = '';
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  return {
    pid: child.pid,
    child,
    exited,
    stderr: () => err,
    kill: async () => {
      child.kill('SIGKILL');
      await withTimeout(
        exited,
        10_000,
        `worker ${id} (pid ${child.pid}) did not exit 10 s after SIGKILL`,
      );
    },
    stop: async (timeoutMs = 40_000) => {
      child.kill('SIGTERM');
      return withTimeout(
        exited,
        timeoutMs,
        `worker ${id} (pid ${child.pid}) did not stop within ${timeoutMs} ms of SIGTERM; it said: ${err.slice(-2_000)}`,
      );
    },
  };
}
