import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * Dependencies point one way (docs/architecture.md): config ← lib ← ports ← records ← connectors ←
 * pipeline ← cli, and the local launcher (services/) uses only config and lib. madge checks for cycles; this checks the direction.
 */
const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  config: [],
  lib: ['config'],
  ports: ['config', 'lib'],
  records: ['config', 'lib', 'ports'],
  connectors: ['config', 'lib', 'ports', 'records'],
  services: ['config', 'lib'],
  pipeline: ['config', 'lib', 'ports', 'records', 'connectors'],
  cli: ['config', 'lib', 'ports', 'records', 'connectors', 'pipeline', 'services'],
};
const ROOT = resolve(import.meta.dirname, '..');

/** `file imports target` for every relative import that leaves its folder for one it may not use. */
export function wrongWay(files: ReadonlyMap<string, string>): string[] {
  const out: string[] = [];
  for (const [file, text] of files) {
    const from = file.split('/')[0]!;
    for (const m of text.matchAll(/(?:from|import\(?)\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
      const to = relative(ROOT, resolve(ROOT, dirname(file), m[1]!)).split('/')[0]!;
      if (to !== from && !(ALLOWED[from] ?? []).includes(to)) out.push(`${file} imports ${m[1]}`);
    }
  }
  return out;
}

function sources(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })) {
    if (!e.isFile() || !e.name.endsWith('.ts')) continue;
    const path = relative(ROOT, join(e.parentPath, e.name));
    files.set(path, readFileSync(join(ROOT, path), 'utf8'));
  }
  return files;
}

describe('layout', () => {
  it('imports point one way: config <- lib <- ports <- records <- connectors <- pipeline <- cli; services use config and lib', () => {
    const all = new Map(Object.keys(ALLOWED).flatMap((d) => [...sources(d)]));
    expect(all.size).toBeGreaterThan(50);
    expect(wrongWay(all)).toEqual([]);
  });

  it('the check sees a wrong-way import, static or dynamic', () => {
    expect(
      wrongWay(
        new Map([
          [
            'connectors/kafka/x.ts',
            "import { a } from '../../pipeline/job.ts';\nconst b = await import(\"../../cli/main.ts\");\nimport '../../services/launcher.ts';\nimport { c } from '../cassandra/client.ts';",
          ],
          ['pipeline/y.ts', "import type { Config } from '../config/index.ts';"],
        ]),
      ),
    ).toEqual([
      'connectors/kafka/x.ts imports ../../pipeline/job.ts',
      'connectors/kafka/x.ts imports ../../cli/main.ts',
      'connectors/kafka/x.ts imports ../../services/launcher.ts',
    ]);
  });
});
