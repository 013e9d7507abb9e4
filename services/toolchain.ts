/**
 * The launcher's outside tools: a Java 17 runtime, and Maven to copy the service jars from Maven
 * Central into the fanout home (never into the repository).
 */
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ServiceError } from './errors.ts';
import { exists, run } from './process.ts';
import type { ServiceName } from './paths.ts';

/** A `java` executable and its feature version (17 for "17.0.15"). */
export interface Java {
  readonly command: string;
  readonly major: number;
}

let javaFound: Promise<Java> | undefined;

/** Finds `$JAVA_HOME/bin/java`, else `java` on PATH, and reads its version (once per process). */
export function findJava(env: NodeJS.ProcessEnv = process.env): Promise<Java> {
  javaFound ??= probeJava(env).catch((error: unknown) => {
    javaFound = undefined;
    throw error;
  });
  return javaFound;
}

async function probeJava(env: NodeJS.ProcessEnv): Promise<Java> {
  const home = env['JAVA_HOME'];
  const command = home !== undefined && home !== '' ? join(home, 'bin', 'java') : 'java';
  let result: { code: number | null; output: string };
  try {
    result = await run(command, ['-version'], { env });
  } catch (error) {
    const where = command === 'java' ? 'on PATH' : `at ${command} (from JAVA_HOME)`;
    throw new ServiceError(
      'JAVA_NOT_FOUND',
      `java not found ${where}: install Java 17 (Debian: apt-get install openjdk-17-jre-headless)`,
      { cause: error },
    );
  }
  // `openjdk version "17.0.15" 2025-04-15`, `java version "1.8.0_392"`
  const version = /version "(?:1\.)?(\d+)/.exec(result.output)?.[1];
  if (result.code !== 0 || version === undefined) {
    throw new ServiceError(
      'JAVA_NOT_FOUND',
      `${command} -version failed: ${result.output.trim().slice(0, 300)}`,
    );
  }
  return { command, major: Number(version) };
}

/** Checks that `java` can run `service`: Kafka 4.x needs 17+, Cassandra 5.0 runs on 11 or 17 only. */
export function checkJavaFor(service: ServiceName, java: Java): void {
  const ok = service === 'kafka' ? java.major >= 17 : java.major === 17 || java.major === 11;
  if (ok) return;
  const need = service === 'kafka' ? 'Java 17 or newer' : 'Java 17 (or 11)';
  throw new ServiceError(
    'JAVA_VERSION',
    `${service} needs ${need} but ${java.command} is Java ${java.major}: install Java 17 and point JAVA_HOME at it`,
  );
}

/** Marker written last into a jar dir: its presence means the copy finished. */
const COMPLETE_MARKER = '.complete';

/** The pom listing the jars of `service` (services/maven/<service>/pom.xml in this package). */
export function pomPath(service: ServiceName): string {
  return fileURLToPath(new URL(`./maven/${service}/pom.xml`, import.meta.url));
}

/** Fetches under way in this process, by jar dir: the nodes of a local cluster start at once. */
const fetching = new Map<string, Promise<void>>();

/**
 * Copies the jars of `service` at `version` into `jarDir` with Maven, unless a finished copy is
 * there. Maven's own cache (~/.m2) makes a second fetch offline. The copy goes to a temporary
 * sibling directory renamed at the end, so an interrupted fetch never looks finished. Callers in
 * one process share one fetch (their temporary directory would be the same).
 */
export function ensureJars(
  service: ServiceName,
  version: string,
  jarDir: string,
  log: (line: string) => void,
): Promise<void> {
  let once = fetching.get(jarDir);
  if (once === undefined) {
    once = fetchJars(service, version, jarDir, log).finally(() => fetching.delete(jarDir));
    fetching.set(jarDir, once);
  }
  return once;
}

async function fetchJars(
  service: ServiceName,
  version: string,
  jarDir: string,
  log: (line: string) => void,
): Promise<void> {
  if (await exists(join(jarDir, COMPLETE_MARKER))) return;
  const partial = join(dirname(jarDir), `.${basename(jarDir)}.partial-${process.pid}`);
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial, { recursive: true });
  const args = [
    '-B',
    '-q',
    '-f',
    pomPath(service),
    'org.apache.maven.plugins:maven-dependency-plugin:3.11.0:copy-dependencies',
    `-DoutputDirectory=${partial}`,
    `-D${service}.version=${version}`,
  ];
  log(
    `${service}: fetching ${service} ${version} jars from Maven Central into ${jarDir} (first time only)`,
  );
  const started = Date.now();
  let result: { code: number | null; output: string };
  try {
    result = await run('mvn', args);
  } catch (error) {
    await rm(partial, { recursive: true, force: true });
    throw new ServiceError(
      'MAVEN_NOT_FOUND',
      'mvn not found on PATH: install Maven 3.8+ (Debian: apt-get install maven) to fetch the service jars',
      { cause: error },
    );
  }
  if (result.code !== 0) {
    await rm(partial, { recursive: true, force: true });
    const tail = result.output.trim().split('\n').slice(-15).join('\n');
    throw new ServiceError(
      'JAR_FETCH_FAILED',
      `mvn could not fetch the ${service} ${version} jars (exit ${result.code}):\n${tail}`,
      { retriable: true },
    );
  }
  await writeFile(join(partial, COMPLETE_MARKER), `${new Date().toISOString()}\n`);
  // A jar dir without its marker was not made by this function (an old layout, a hand copy).
  if (!(await exists(join(jarDir, COMPLETE_MARKER))))
    await rm(jarDir, { recursive: true, force: true });
  try {
    await rename(partial, jarDir);
  } catch (error) {
    // Another `up` finished the same copy first: theirs is as good as ours.
    await rm(partial, { recursive: true, force: true });
    if (!(await exists(join(jarDir, COMPLETE_MARKER)))) throw error;
  }
  log(`${service}: jars fetched in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
