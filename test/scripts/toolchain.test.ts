import { execFile } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SCRIPT = resolve(import.meta.dirname, '../../scripts/toolchain.sh');

describe('scripts/toolchain.sh', () => {
  it('with neither a new enough node nor npm, and no apt-get to install npm, says what to install, exit 1', async () => {
    // A checkout without .tools/, on a machine with the Debian packages but no node and no npm.
    const root = mkdtempSync(join(tmpdir(), 'fanout-toolchain-'));
    try {
      mkdirSync(join(root, 'scripts'));
      copyFileSync(SCRIPT, join(root, 'scripts/toolchain.sh'));
      const bin = join(root, 'bin');
      mkdirSync(bin);
      writeFileSync(join(bin, 'dpkg'), '#!/bin/sh\nexit 0\n');
      chmodSync(join(bin, 'dpkg'), 0o755);
      symlinkSync('/usr/bin/dirname', join(bin, 'dirname'));
      const r = await new Promise<{ code: number | null; out: string; err: string }>((done) => {
        execFile(
          '/bin/bash',
          [join(root, 'scripts/toolchain.sh')],
          { env: { PATH: bin, HOME: root }, timeout: 30_000 },
          (error, out, err) => done({ code: error ? (error.code as number) : 0, out, err }),
        );
      });
      expect(r.code).toBe(1);
      expect(r.out).toBe('');
      expect(r.err.trim().split('\n').at(-1)).toBe(
        '[toolchain] npm not found: install Node 22.18+ (or npm, to let this script fetch Node 24 into .tools/), then run again',
      );
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
