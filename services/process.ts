/**
 * Process, pid-file and port helpers for the launcher (Linux: identity and uptime come from /proc).
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** Linux reports process start times in clock ticks of USER_HZ, which is 100 on every arch. */
const CLOCK_TICKS_PER_SECOND = 100;

/** Reads a pid file; undefined when it is missing or holds no pid. */
export async function readPidFile(file: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  const pid = Number.parseInt(text.trim(), 10);
  return Number.isSafeInteger(pid) && pid > 1 ? pid : undefined;
}

export async function writePidFile(file: string, pid: number): Promise<void> {
  await writeFile(file, `${pid}\n`);
}

export async function removeFile(file: string): Promise<void> {
  await rm(file, { force: true });
}

/** A live process as /proc sees it. */
export interface ProcInfo {
  readonly pid: number;
  /** argv of the process. */
  readonly argv: readonly string[];
  readonly uptimeMs: number;
  /** When it started, in clock ticks since boot (field 22 of /proc/<pid>/stat). */
  readonly startTicks: number;
}

/**
 * What /proc knows about `pid`, or undefined when it is gone or a zombie (a SIGKILLed JVM stays a
 * zombie until its parent reaps it, and must count as dead).
 */
export async function procInfo(pid: number): Promise<ProcInfo | undefined> {
  try {
    const [statText, cmdline, uptimeText] = await Promise.all([
      readFile(`/proc/${pid}/stat`, 'utf8'),
      readFile(`/proc/${pid}/cmdline`, 'utf8'),
      readFile('/proc/uptime', 'utf8'),
    ]);
    // Fields after "(comm)": state is the 1st, starttime the 20th (field 22 of proc(5)).
    const rest = statText.slice(statText.lastIndexOf(')') + 2).split(' ');
    if (rest[0] === 'Z' || rest[0] === 'X') return undefined;
    const startTicks = Number(rest[19]);
    const bootUptimeS = Number(uptimeText.split(' ')[0]);
    const uptimeMs = Math.max(
      0,
      Math.round((bootUptimeS - startTicks / CLOCK_TICKS_PER_SECOND) * 1000),
    );
    return { pid, argv: cmdline.split('\0').filter((a) => a !== ''), uptimeMs, startTicks };
  } catch {
    return undefined;
  }
}

/** Every live process whose argv satisfies `match` (scans /proc). */
export async function findProcesses(
  match: (argv: readonly string[]) => boolean,
): Promise<ProcInfo[]> {
  const entries = await readdir('/proc');
  const found: ProcInfo[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const info = await procInfo(Number(entry));
    if (info !== undefined && match(info.argv)) found.push(info);
  }
  return found;
}

/** True while any process of process group `pgid` exists (zombies included: they are reaped soon). */
export function groupExists(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Sends `signal` to the whole process group; false when the group no longer exists. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

/** A JVM started by {@link spawnDetached}. */
export interface DetachedChild {
  readonly pid: number;
  /** Exit code or signal once the child has exited while this process still watches it. */
  exit(): { code: number | null; signal: NodeJS.Signals | null } | undefined;
}

/**
 * Starts `command` in its own session and process group (so it survives this process and a
 * Ctrl-C in its terminal), stdout and stderr appended to `logFile`, stdin closed.
 */
export async function spawnDetached(
  command: string,
  args: readonly string[],
  options: { logFile: string; cwd: string; env?: NodeJS.ProcessEnv },
): Promise<DetachedChild> {
  const fd = openSync(options.logFile, 'a');
  try {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      detached: true,
      stdio: ['ignore', fd, fd],
    });
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    child.on('exit', (code, signal) => {
      exit = { code, signal };
    });
    await new Promise<void>((resolvePromise, reject) => {
      child.once('spawn', () => resolvePromise());
      child.once('error', reject);
    });
    child.unref();
    const pid = child.pid;
    if (pid === undefined) throw new Error(`${command} started without a pid`);
    return { pid, exit: () => exit };
  } finally {
    closeSync(fd);
  }
}

/** Runs a command to completion, collecting its output (for mvn, java -version, StorageTool). */
export function run(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; onLine?: (line: string) => void } = {},
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let partial = '';
    const onData = (chunk: Buffer): void => {
      const text = chunk.toString('utf8');
      output += text;
      if (options.onLine === undefined) return;
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) options.onLine(line);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('error', reject);
    child.once('close', (code) => resolvePromise({ code, output }));
  });
}

/** True when nothing is bound to `host:port` (tries to bind it). */
export function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const server = createServer();
    server.once('error', () => resolvePromise(false));
    server.listen({ host, port, exclusive: true }, () => {
      server.close(() => resolvePromise(true));
    });
  });
}

/** True when a TCP connection to `host:port` is accepted within `timeoutMs`. */
export function portAnswers(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const socket = createConnection({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolvePromise(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Best-effort description of who listens on `port` ("pid 123: java -Xmx…"), from /proc/net/tcp
 * and the socket inodes in /proc/<pid>/fd; undefined when it cannot be told (not root, IPv6…).
 */
export async function portHolder(port: number): Promise<string | undefined> {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = await readFile(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      const local = cols[1];
      // state 0A = LISTEN
      if (local === undefined || cols[3] !== '0A') continue;
      if (Number.parseInt(local.split(':')[1] ?? '', 16) === port && cols[9] !== undefined)
        inodes.add(cols[9]);
    }
  }
  if (inodes.size === 0) return undefined;
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = await readdir(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = await readlink(`/proc/${entry}/fd/${fd}`);
      } catch {
        continue;
      }
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode !== undefined && inodes.has(inode)) {
        const info = await procInfo(Number(entry));
        const cmd = info?.argv.join(' ') ?? '';
        return `pid ${entry}: ${cmd.length > 120 ? `${cmd.slice(0, 117)}...` : cmd}`;
      }
    }
  }
  return undefined;
}

/** The last `count` lines of a text file ('' when it does not exist). */
export async function tailLines(file: string, count: number): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return '';
  }
  return text.trimEnd().split('\n').slice(-count).join('\n');
}

/** True when `file` exists and contains `needle`. */
export async function fileContains(file: string, needle: string): Promise<boolean> {
  try {
    return (await readFile(file, 'utf8')).includes(needle);
  } catch {
    return false;
  }
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Polls `check` every `intervalMs` until it returns a value other than undefined, or until
 * `timeoutMs` passes (then returns undefined).
 */
export async function poll<T>(
  check: () => Promise<T | undefined>,
  options: { timeoutMs: number; intervalMs?: number },
): Promise<T | undefined> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) return undefined;
    await sleep(Math.min(options.intervalMs ?? 250, Math.max(1, deadline - Date.now())));
  }
}

/**
 * True when `pid` has fully exited. A SIGKILLed JVM's main thread turns zombie while its other
 * threads still tear down, and until the last one is gone the process keeps its sockets (ports
 * stay bound): so a zombie counts as gone only once it is down to its last task.
 */
export async function processGone(pid: number): Promise<boolean> {
  let statText: string;
  try {
    statText = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return true;
  }
  const state = statText.slice(statText.lastIndexOf(')') + 2).split(' ')[0];
  if (state !== 'Z' && state !== 'X') return false;
  try {
    return (await readdir(`/proc/${pid}/task`)).length <= 1;
  } catch {
    return true;
  }
}

/** True while `pid` is a zombie main thread whose other threads are still exiting (see {@link processGone}). */
export async function processDying(pid: number): Promise<boolean> {
  try {
    const statText = await readFile(`/proc/${pid}/stat`, 'utf8');
    const state = statText.slice(statText.lastIndexOf(')') + 2).split(' ')[0];
    return (state === 'Z' || state === 'X') && (await readdir(`/proc/${pid}/task`)).length > 1;
  } catch {
    return false;
  }
}

/** Members of process group `pgid` that have not fully exited (see {@link processGone}), from /proc. */
export async function groupMembers(pgid: number): Promise<number[]> {
  const members: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let statText: string;
    try {
      statText = await readFile(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // After "(comm)": state, ppid, pgrp, ...
    const rest = statText.slice(statText.lastIndexOf(')') + 2).split(' ');
    if (Number(rest[2]) === pgid && !(await processGone(Number(entry))))
      members.push(Number(entry));
  }
  return members;
}

/** True when `pid` names a live, non-zombie process. */
export async function alive(pid: number): Promise<boolean> {
  return (await procInfo(pid)) !== undefined;
}

/** When `pid` started, in clock ticks since boot; undefined when it is gone. */
export async function startTicks(pid: number): Promise<number | undefined> {
  return (await procInfo(pid))?.startTicks;
}

/**
 * True while `holder`, the process that wrote a lock (`<pid> <start ticks>`), lives: the same pid
 * started at another time is an unrelated process that was given the dead holder's pid.
 */
async function lockHolderAlive(file: string, holder: number): Promise<boolean> {
  const info = await procInfo(holder);
  if (info === undefined) return false;
  const ticks = (await readFile(file, 'utf8').catch(() => '')).trim().split(/\s+/)[1];
  return ticks === undefined || ticks === String(info.startTicks);
}

/**
 * Runs `fn` holding an exclusive lock file (it holds the holder's pid and start time). A lock
 * whose holder is dead, or whose pid now names another process, is taken over; a live holder is
 * waited for, up to `timeoutMs`.
 */
export async function withLockFile<T>(
  file: string,
  timeoutMs: number,
  fn: () => Promise<T>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  const me = `${process.pid} ${(await startTicks(process.pid)) ?? ''}`.trim();
  for (;;) {
    try {
      await writeFile(file, `${me}\n`, { flag: 'wx' });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = await readPidFile(file);
    if (holder === undefined || !(await lockHolderAlive(file, holder))) {
      await removeFile(file);
      continue;
    }
    if (Date.now() >= deadline)
      throw new Error(
        `${file} is held by pid ${holder} for more than ${Math.round(timeoutMs / 1000)} s`,
      );
    await sleep(250);
  }
  try {
    return await fn();
  } finally {
    await removeFile(file);
  }
}
