import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const PROGRESS = resolve(import.meta.dirname, '../../cli/progress.ts');

/**
 * A process drawing a bar on a terminal (stdout made to look like one); `fail`: then it fails
 * (exits 1) with the bar drawn, else it waits to be signalled.
 */
const SCRIPT = `
const { progress } = await import(${JSON.stringify(PROGRESS)});
Object.assign(process.stdout, { isTTY: true, columns: 80 });
const bar = progress('seed followers', 100, process.stdout);
bar.update(42);
if (process.argv[1] === 'fail') process.exit(1);
process.stderr.write('drawn\\n');
setInterval(() => {}, 1000);
`;

const HIDE = '\x1b[?25l';
const SHOW = '\x1b[?25h';

function draw(...args: string[]) {
  const child = spawn(process.execPath, ['--input-type=module', '-e', SCRIPT, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = { out: '' };
  child.stdout.setEncoding('utf8').on('data', (s: string) => (output.out += s));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const drawn = new Promise<void>((done) =>
    child.stderr.setEncoding('utf8').on('data', (s: string) => s.includes('drawn') && done()),
  );
  return { child, output, exited, drawn };
}

describe('progress bar on a terminal', () => {
  it(
    'gives the cursor back when SIGINT ends the process, which still ends by the signal',
    {
      timeout: 20_000,
    },
    async () => {
      const { child, output, exited, drawn } = draw();
      await drawn;
      expect(output.out).toContain(HIDE);
      child.kill('SIGINT');
      const [code, signal] = await exited;
      expect({ code, signal }).toEqual({ code: null, signal: 'SIGINT' });
      expect(output.out.lastIndexOf(SHOW)).toBeGreaterThan(output.out.lastIndexOf(HIDE));
    },
  );

  it(
    'gives the cursor back when the command fails with the bar drawn',
    { timeout: 20_000 },
    async () => {
      const { output, exited } = draw('fail');
      const [code] = await exited;
      expect(code).toBe(1);
      expect(output.out).toContain(HIDE);
      expect(output.out.lastIndexOf(SHOW)).toBeGreaterThan(output.out.lastIndexOf(HIDE));
    },
  );
});
