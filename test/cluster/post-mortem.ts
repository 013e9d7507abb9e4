/**
 * What a failed cluster test leaves to read: every product process's whole log (each of its runs)
 * in a directory of its own, and the exits nobody caused, with the last lines before each. A
 * settle that times out names both, so a failure in CI can be read without running it again.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Supervised, UnexpectedExit } from '../chaos/processes.ts';

export async function postMortem(
  name: string,
  processes: readonly Supervised[],
  exits: readonly UnexpectedExit[],
): Promise<string> {
  const dir = join(tmpdir(), `fanout-cluster-${name}`);
  await mkdir(dir, { recursive: true });
  await Promise.all(processes.map((p) => writeFile(join(dir, `${p.name}.log`), p.history)));
  const said = exits.map(
    (e) =>
      `${e.name} exited (code ${e.code}) at ${new Date(e.at).toISOString()}${e.afterReady ? '' : ' before it was ready'}:\n${e.tail}`,
  );
  return `${exits.length} unexpected exit(s) of the product processes${said.length > 0 ? `:\n${said.join('\n')}` : ''}\nevery process's log: ${dir}`;
}
