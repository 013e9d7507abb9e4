/**
 * Start, stop and inspect ONE service (a JVM, or a native program such as Jaeger); launcher.ts
 * runs these for several services at once.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AnyDriver, ProgramDriver, ServiceDriver } from './driver.ts';
import { ServiceError } from './errors.ts';
import {
  exists,
  fileContains,
  findProcesses,
  groupMembers,
  poll,
  portAnswers,
  portFree,
  portHolder,
  procInfo,
  processDying,
  readPidFile,
  removeFile,
  signalGroup,
  spawnDetached,
  tailLines,
  withLockFile,
  writePidFile,
} from './process.ts';
import type { DetachedChild, ProcInfo } from './process.ts';
import { checkJavaFor, ensureJars } from './toolchain.ts';
import type { Java } from './toolchain.ts';

const LOG_TAIL_LINES = 20;
const LOG_LINE_CHARS = 300;

/** True when `argv` is this service's JVM started from this fanout home. */
function isOurs(driver: AnyDriver, argv: readonly string[]): boolean {
  return (
    argv.includes(driver.mainClass) && argv.some((arg) => arg.includes(`${driver.paths.runDir}/`))
  );
}

/**
 * The service's running JVM: the one the pid file names, else (pid file lost) any JVM of this
 * service and home found in /proc. Undefined when none runs.
 */
export async function findRunning(driver: AnyDriver): Promise<ProcInfo | undefined> {
  const pid = await readPidFile(driver.paths.pidFile);
  if (pid !== undefined) {
    const info = await procInfo(pid);
    if (info !== undefined && isOurs(driver, info.argv)) return info;
  }
  return (await findProcesses((argv) => isOurs(driver, argv)))[0];
}

/** The version in a running JVM's classpath (`…/jars/kafka-4.2.2/*`), else the configured one. */
export function runningVersion(driver: AnyDriver, argv: readonly string[]): string {
  const marker = `/jars/${driver.name}-`;
  for (const arg of argv) {
    const at = arg.indexOf(marker);
    if (at >= 0) return arg.slice(at + marker.length).split('/')[0] ?? driver.version;
  }
  return driver.version;
}

async function lastLogLines(driver: AnyDriver): Promise<string> {
  const tail = await tailLines(driver.paths.logFile, LOG_TAIL_LINES);
  if (tail === '') return `(${driver.paths.logFile} is empty)`;
  // Cassandra logs its whole configuration on one line of ~10 kB.
  const clip = (line: string): string =>
    line.length > LOG_LINE_CHARS ? `${line.slice(0, LOG_LINE_CHARS)}…` : line;
  return `${tail.split('\n').map(clip).join('\n')}\n(full log: ${driver.paths.logFile})`;
}

/**
 * Waits until the log has the ready line, the client port accepts and the protocol probe answers.
 * Throws when the JVM exits first, or (after stopping it) when `timeoutMs` passes.
 */
async function waitReady(
  driver: AnyDriver,
  pid: number,
  child: DetachedChild | undefined,
  timeoutMs: number,
): Promise<void> {
  let sawReadyLine = false;
  let exited: string | undefined;
  const ready = await poll(
    async () => {
      const exit = child?.exit();
      if (exit !== undefined) {
        exited = exit.signal === null ? `exit code ${exit.code}` : `signal ${exit.signal}`;
        return false;
      }
      if ((await procInfo(pid)) === undefined) {
        exited = 'exit status unknown';
        return false;
      }
      sawReadyLine ||= await fileContains(driver.paths.logFile, driver.readyLine);
      if (!sawReadyLine || !(await portAnswers(driver.host, driver.clientPort))) return undefined;
      return driver.probe().then(
        () => true,
        () => undefined,
      );
    },
    { timeoutMs, intervalMs: 250 },
  );
  if (ready === true) return;
  if (exited !== undefined) {
    throw new ServiceError(
      'EXITED',
      `${driver.title} exited during start-up (${exited}); last log lines:\n${await lastLogLines(driver)}`,
    );
  }
  const lines = await lastLogLines(driver);
  await stopService(driver, 10_000);
  const waitedFor = sawReadyLine
    ? `a reply on ${driver.host}:${driver.clientPort}`
    : `"${driver.readyLine}" in ${driver.paths.logFile}`;
  throw new ServiceError(
    'START_TIMEOUT',
    `${driver.title} did not become ready within ${Math.round(timeoutMs / 1000)} s (waited for ${waitedFor}; it was stopped again); last log lines:\n${lines}`,
    { retriable: true },
  );
}

/**
 * Fails with a sentence when another process holds one of the service's ports. `graceMs`: how
 * long a port may stay busy first (after a SIGKILL the kernel can hold a dead JVM's sockets for a
 * moment, longer on a loaded machine).
 */
async function checkPortsFree(driver: AnyDriver, graceMs = 0): Promise<void> {
  for (const port of driver.ports) {
    const deadline = Date.now() + graceMs;
    while (!(await portFree(driver.host, port)) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    if (await portFree(driver.host, port)) continue;
    const holder = await portHolder(port);
    throw new ServiceError(
      'PORT_IN_USE',
      `port ${port} is in use by another process${holder === undefined ? '' : ` (${holder})`}: ${driver.title} needs ${driver.ports.join(', ')} on ${driver.host}; stop that process or free the port`,
    );
  }
}

/** Keeps the previous run's log as `<log>.1`, so the ready line found is this run's. */
async function rotateLog(logFile: string): Promise<void> {
  if (await exists(logFile)) await rename(logFile, `${logFile}.1`);
}

/** The command that starts a service, and the file in its conf dir that records it. */
interface Launch {
  readonly command: string;
  readonly args: string[];
  readonly commandFile: string;
}

async function prepareJvm(
  driver: ServiceDriver,
  java: Java | undefined,
  log: (line: string) => void,
): Promise<Launch> {
  if (java === undefined)
    throw new Error(`${driver.title} is a JVM service: startService needs java`);
  checkJavaFor(driver.name, java);
  await ensureJars(driver.name, driver.version, driver.paths.jarDir, log);
  await driver.prepare(java, log);
  return { command: java.command, args: await driver.javaArgs(), commandFile: 'java-command.txt' };
}

async function prepareProgram(driver: ProgramDriver, log: (line: string) => void): Promise<Launch> {
  const command = await driver.install(log);
  await driver.prepare(log);
  return { command, args: driver.args(), commandFile: 'command.txt' };
}

/** What `startService` did. */
export interface StartResult {
  readonly pid: number;
  /** False when the service was already running (nothing was started). */
  readonly started: boolean;
  readonly elapsedMs: number;
}

/**
 * Starts the service unless it already runs: fetches jars, renders config, starts the JVM detached
 * and waits until it is ready. A service that is starting (another `up`) is waited for.
 */
export async function startService(
  driver: AnyDriver,
  java: Java | undefined,
  log: (line: string) => void,
  timeoutMs: number,
): Promise<StartResult> {
  const began = Date.now();
  const { paths } = driver;
  await mkdir(paths.runDir, { recursive: true });
  // Two `up`s at once (two terminals, parallel test files) must not start two JVMs.
  return withLockFile(join(paths.runDir, `${driver.name}.lock`), timeoutMs + 600_000, async () => {
    const running = await findRunning(driver);
    if (running !== undefined) {
      await writePidFile(paths.pidFile, running.pid);
      if (!(await portAnswers(driver.host, driver.clientPort))) {
        log(`${driver.name}: pid ${running.pid} is still starting; waiting for it`);
        await waitReady(driver, running.pid, undefined, timeoutMs);
      }
      log(`${driver.name}: already running (pid ${running.pid})`);
      return { pid: running.pid, started: false, elapsedMs: Date.now() - began };
    }
    const stale = await readPidFile(paths.pidFile);
    if (stale !== undefined) {
      log(
        `${driver.name}: pid file names ${stale}, which is not running: starting again (data kept)`,
      );
      // A killed JVM can take a moment to release its ports after its main thread is gone.
      await poll(async () => ((await processDying(stale)) ? undefined : true), {
        timeoutMs: 30_000,
        intervalMs: 100,
      });
      await removeFile(paths.pidFile);
    }
    await checkPortsFree(driver, stale === undefined ? 0 : 20_000);
    const { command, args, commandFile } =
      driver.kind === 'program'
        ? await prepareProgram(driver, log)
        : await prepareJvm(driver, java, log);
    await rotateLog(paths.logFile);
    // The effective command, for a person to reproduce a start by hand.
    await writeFile(join(paths.confDir, commandFile), [command, ...args].join(' \\\n  ') + '\n');
    const spawned = Date.now();
    let child: DetachedChild;
    try {
      child = await spawnDetached(command, args, {
        logFile: paths.logFile,
        cwd: paths.runDir,
      });
    } catch (error) {
      throw new ServiceError(
        driver.kind === 'program' ? 'EXITED' : 'JAVA_NOT_FOUND',
        `could not run ${command}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    await writePidFile(paths.pidFile, child.pid);
    log(
      `${driver.name}: started ${driver.title} ${driver.version} (pid ${child.pid}), waiting until it is ready`,
    );
    await waitReady(driver, child.pid, child, timeoutMs);
    const seconds = ((Date.now() - spawned) / 1000).toFixed(1);
    log(
      `${driver.name}: ready on ${driver.host}:${driver.clientPort} after ${seconds} s (pid ${child.pid}, log ${paths.logFile})`,
    );
    return { pid: child.pid, started: true, elapsedMs: Date.now() - began };
  });
}

/**
 * Stops the service: SIGTERM to its process group, SIGKILL after `graceMs`, then checks that no
 * process of the group is left. Returns false when it was not running.
 */
export async function stopService(
  driver: AnyDriver,
  graceMs: number,
  log: (line: string) => void = () => {},
): Promise<boolean> {
  const pids = new Set<number>();
  const recorded = await findRunning(driver);
  if (recorded !== undefined) pids.add(recorded.pid);
  for (const info of await findProcesses((argv) => isOurs(driver, argv))) pids.add(info.pid);
  if (pids.size === 0) {
    await removeFile(driver.paths.pidFile);
    return false;
  }
  // Each JVM leads its own group (spawned detached), so the group takes any children with it.
  const groups = [...pids];
  const remaining = async (): Promise<number[]> =>
    (await Promise.all(groups.map(groupMembers))).flat();
  for (const pgid of groups) signalGroup(pgid, 'SIGTERM');
  log(`${driver.name}: sent SIGTERM to ${groups.join(', ')}`);
  const allGone = async (): Promise<true | undefined> =>
    (await remaining()).length === 0 ? true : undefined;
  if ((await poll(allGone, { timeoutMs: graceMs, intervalMs: 200 })) !== true) {
    log(`${driver.name}: still running after ${Math.round(graceMs / 1000)} s: SIGKILL`);
    for (const pgid of groups) signalGroup(pgid, 'SIGKILL');
    await poll(allGone, { timeoutMs: 10_000, intervalMs: 100 });
  }
  const left = await remaining();
  if (left.length > 0) {
    throw new ServiceError(
      'STOP_FAILED',
      `${driver.title} processes ${left.join(', ')} survived SIGKILL`,
    );
  }
  await removeFile(driver.paths.pidFile);
  log(`${driver.name}: stopped`);
  return true;
}
