/**
 * Builds Jaeger from the Go module proxy into the fanout home, once (like the jars): a throwaway
 * module `go get -tool`s the pinned version, `go build` writes the binary. The build runs in a
 * temporary sibling directory renamed at the end, so an interrupted build never looks finished.
 */
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ServiceError } from './errors.ts';
import { exists, run, withLockFile } from './process.ts';

/**
 * The Jaeger module version built (Jaeger v2, the OTel-collector based all-in-one). Pinned: the
 * proxy serves v1.76.0 too, which is not an approved release.
 */
export const JAEGER_VERSION = '1.75.0';
export const JAEGER_MODULE = 'github.com/jaegertracing/jaeger';
const JAEGER_PACKAGE = `${JAEGER_MODULE}/cmd/jaeger`;
const COMPLETE_MARKER = '.complete';

/** The directory of the built Jaeger (`<home>/tools/jaeger-<version>`), holding `jaeger`. */
export const jaegerToolDir = (home: string): string =>
  join(home, 'tools', `jaeger-${JAEGER_VERSION}`);

/** The Jaeger binary under `home` (it exists once {@link ensureJaeger} has run). */
export const jaegerBinary = (home: string): string => join(jaegerToolDir(home), 'jaeger');

/** True when a finished Jaeger build is in the fanout home. */
export async function jaegerBuilt(home: string): Promise<boolean> {
  return exists(join(jaegerToolDir(home), COMPLETE_MARKER));
}

async function go(args: string[], cwd: string, what: string): Promise<void> {
  let result: { code: number | null; output: string };
  try {
    result = await run('go', args, { cwd });
  } catch (error) {
    throw new ServiceError(
      'GO_NOT_FOUND',
      'go not found on PATH: install Go 1.24+ (https://go.dev/dl) to build Jaeger, the local trace store',
      { cause: error },
    );
  }
  if (result.code !== 0) {
    const tail = result.output.trim().split('\n').slice(-15).join('\n');
    throw new ServiceError(
      'TOOL_BUILD_FAILED',
      `${what} failed (exit ${result.code}) in ${cwd}:\n${tail}`,
      { retriable: true },
    );
  }
}

/**
 * Builds Jaeger into {@link jaegerToolDir} unless a finished build is there. A first build
 * downloads the module graph through the Go proxy and compiles for minutes; Go's own module and
 * build caches make a rebuild (a purged home) much faster.
 */
export async function ensureJaeger(home: string, log: (line: string) => void): Promise<string> {
  const dir = jaegerToolDir(home);
  if (await jaegerBuilt(home)) return jaegerBinary(home);
  await mkdir(dirname(dir), { recursive: true });
  // Two `up`s at once (parallel test files) must not build twice.
  return withLockFile(join(dirname(dir), `jaeger-${JAEGER_VERSION}.lock`), 1_800_000, async () => {
    if (await jaegerBuilt(home)) return jaegerBinary(home);
    const partial = join(dirname(dir), `.${basename(dir)}.partial-${process.pid}`);
    await rm(partial, { recursive: true, force: true });
    await mkdir(partial, { recursive: true });
    log(
      `jaeger: building ${JAEGER_PACKAGE}@v${JAEGER_VERSION} with go into ${dir} (first time only; minutes)`,
    );
    const started = Date.now();
    try {
      await go(['mod', 'init', 'fanout-jaeger-tool'], partial, 'go mod init');
      await go(
        ['get', '-tool', `${JAEGER_PACKAGE}@v${JAEGER_VERSION}`],
        partial,
        `go get -tool ${JAEGER_PACKAGE}@v${JAEGER_VERSION}`,
      );
      await go(['build', '-o', 'jaeger', JAEGER_PACKAGE], partial, `go build ${JAEGER_PACKAGE}`);
    } catch (error) {
      await rm(partial, { recursive: true, force: true });
      throw error;
    }
    await writeFile(join(partial, COMPLETE_MARKER), `${new Date().toISOString()}\n`);
    await rm(dir, { recursive: true, force: true });
    await rename(partial, dir);
    log(`jaeger: built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return jaegerBinary(home);
  });
}
