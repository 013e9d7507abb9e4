/**
 * The jar fetch of the launcher with a stand-in `mvn` on PATH (the real one is exercised by every
 * `services up`): the three nodes of a local cluster fetch the same jars at once in one process,
 * and all three must find one finished copy (they once shared a temporary directory and removed
 * each other's: "ENOENT .kafka-4.2.2.partial-<pid>/.complete").
 */
import { chmod, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { ensureJars } from '../../services/toolchain.ts';

const path = process.env['PATH'];
afterEach(() => {
  process.env['PATH'] = path;
});

/** A `mvn` that writes one jar into its -DoutputDirectory and counts its calls in `calls`. */
async function fakeMaven(dir: string): Promise<string> {
  const calls = join(dir, 'calls');
  await writeFile(calls, '');
  const script = `#!/bin/sh
echo call >> '${calls}'
for a in "$@"; do case "$a" in -DoutputDirectory=*) out="\${a#-DoutputDirectory=}";; esac; done
echo jar > "$out/kafka-clients.jar"
`;
  await writeFile(join(dir, 'mvn'), script);
  await chmod(join(dir, 'mvn'), 0o755);
  process.env['PATH'] = `${dir}:${path}`;
  return calls;
}

it('fetches in one process share one copy: every caller sees it finished, Maven runs once', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'fanout-jars-'));
  const calls = await fakeMaven(dir);
  const jarDir = join(dir, 'jars', 'kafka-4.2.2');
  const log = (): void => {};
  await Promise.all([1, 2, 3].map(() => ensureJars('kafka', '4.2.2', jarDir, log)));
  expect((await readdir(jarDir)).sort()).toEqual(['.complete', 'kafka-clients.jar']);
  expect((await readFile(calls, 'utf8')).trim().split('\n')).toEqual(['call']);
  expect((await readdir(join(dir, 'jars'))).filter((n) => n.includes('partial'))).toEqual([]);
  // A finished copy is not fetched again.
  await ensureJars('kafka', '4.2.2', jarDir, log);
  expect((await readFile(calls, 'utf8')).trim().split('\n')).toEqual(['call']);
});
