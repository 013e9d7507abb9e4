/**
 * Core layouts for the fan-out bench (issue #19): `shared` leaves every process on every core, as
 * the services run day to day; `isolated` pins the local Cassandra (all its threads) to the last
 * core and Kafka and the bench's client processes to the others, so the ceiling (c) and the
 * pipeline (d) face the same database capacity whatever their own processes burn.
 *
 * Invariant: the services' affinity is restored to what it was before the first pinning when the
 * bench ends, however it ends (normal exit, failure, SIGINT/SIGTERM/SIGHUP); only SIGKILL can
 * leave them pinned (then `taskset -a -p -c 0-N <pid>` undoes it).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { servicePaths } from '../services/paths.ts';
import { servicePid, type Service } from './approaches/cpu.ts';

export type Layout = 'shared' | 'isolated';

/** The cores a process may run on, as a taskset list ("0-1"), from /proc. */
function allowedCores(pid: number): string {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const line = /^Cpus_allowed_list:\s*(\S+)$/m.exec(status);
  if (!line) throw new Error(`no Cpus_allowed_list in /proc/${pid}/status`);
  return line[1]!;
}

/** Sets the affinity of every thread of `pid`. */
function pin(pid: number, cores: string): void {
  execFileSync('taskset', ['-a', '-p', '-c', cores, String(pid)], { stdio: 'ignore' });
}

/** Moves the services between layouts and says how to start a client process in each. */
export class CoreLayouts {
  readonly #pids: ReadonlyMap<Service, number>;
  readonly #original = new Map<number, string>();
  readonly #databaseCore: string;
  readonly #otherCores: string;
  #restoreOnExit = false;

  /** Checks that isolation is possible here: two cores or more, both services this launcher's. */
  constructor() {
    const cores = availableParallelism();
    if (cores < 2)
      throw new Error(`core isolation needs at least 2 cores, this machine has ${cores}`);
    const pids = new Map<Service, number>();
    for (const name of ['cassandra', 'kafka'] as const) {
      const pid = servicePid(name);
      if (pid === undefined)
        throw new Error(
          `core isolation needs the local ${name} started by ./fanout services up (no live pid in ${servicePaths()[name].pidFile})`,
        );
      pids.set(name, pid);
    }
    this.#pids = pids;
    this.#databaseCore = String(cores - 1);
    this.#otherCores = cores === 2 ? '0' : `0-${cores - 2}`;
  }

  /** What each layout gives whom, for the report. */
  describe(layout: Layout): string {
    return layout === 'shared'
      ? 'every process on every core'
      : `Cassandra on core ${this.#databaseCore}; Kafka and the client on ${this.#otherCores}`;
  }

  /** Puts the services in `layout` (the first call remembers their affinity, for {@link restore}). */
  apply(layout: Layout): void {
    this.#armRestore();
    for (const [name, pid] of this.#pids) {
      if (!this.#original.has(pid)) this.#original.set(pid, allowedCores(pid));
      const cores =
        layout === 'shared'
          ? this.#original.get(pid)!
          : name === 'cassandra'
            ? this.#databaseCore
            : this.#otherCores;
      pin(pid, cores);
    }
  }

  /** The command prefix that starts a client process in `layout` (empty: unpinned). */
  clientPrefix(layout: Layout): string[] {
    return layout === 'shared' ? [] : ['taskset', '-c', this.#otherCores];
  }

  /** Gives every service back the affinity it had before the first {@link apply}; safe to repeat. */
  restore(): void {
    for (const [pid, cores] of this.#original) {
      try {
        pin(pid, cores);
      } catch (err) {
        process.stderr.write(
          `could not restore the affinity of pid ${pid} to ${cores}: ${String(err)}\n`,
        );
      }
    }
    this.#original.clear();
  }

  /** Restores on exit, and turns the usual signals into an exit (their default kills at once). */
  #armRestore(): void {
    if (this.#restoreOnExit) return;
    this.#restoreOnExit = true;
    process.on('exit', () => this.restore());
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
      process.once(signal, () => {
        process.stderr.write(`${signal}: restoring the services' core affinity\n`);
        process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1));
      });
  }
}
