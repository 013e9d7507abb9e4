import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startTicks, withLockFile } from '../../services/process.ts';

describe('withLockFile (two `services up` at once)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fanout-lock-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it(
    'takes over a lock whose pid now names an unrelated process',
    { timeout: 20_000 },
    async () => {
      // The holder died and its pid went to another process: same pid, another start time.
      const other = spawn('sleep', ['30'], { stdio: 'ignore' });
      await once(other, 'spawn');
      try {
        const ticks = Number(await startTicks(other.pid!));
        const file = join(dir, 'kafka.lock');
        writeFileSync(file, `${other.pid} ${ticks - 100}\n`);
        await expect(withLockFile(file, 2_000, () => Promise.resolve('ran'))).resolves.toBe('ran');
      } finally {
        other.kill('SIGKILL');
      }
    },
  );

  it(
    'waits for a live holder, and says who holds it after the timeout',
    { timeout: 20_000 },
    async () => {
      const holder = spawn('sleep', ['30'], { stdio: 'ignore' });
      await once(holder, 'spawn');
      try {
        const file = join(dir, 'cassandra.lock');
        writeFileSync(file, `${holder.pid} ${await startTicks(holder.pid!)}\n`);
        await expect(withLockFile(file, 600, () => Promise.resolve('ran'))).rejects.toThrow(
          `${file} is held by pid ${holder.pid} for more than 1 s`,
        );
      } finally {
        holder.kill('SIGKILL');
      }
    },
  );
});
