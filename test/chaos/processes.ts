/**
 * The product's processes as the chaos suite runs them: `fanout cdc` and `fanout worker` children
 * of the real CLI under the current Node, supervised like a service manager would (a process that
 * exits by itself is started again after a short pause, and the exit is recorded). Kills are
 * SIGKILL, by pid. `hostname`: run the child in a UTS namespace of its own with that host name
 * (root only; `unshare`), as a container restarted under a new name. `env`: the child's endpoint
 * variables, instead of those of the services the global setup found (outside vitest: benches).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { inject } from 'vitest';

const MAIN = resolve(import.meta.dirname, '../../cli/main.ts');

export type Role = 'cdc' | 'worker';

/** One exit the supervisor did not cause. */
export interface UnexpectedExit {
  readonly name: string;
  readonly code: number | null;
  readonly afterReady: boolean;
  readonly at: number;
  readonly tail: string;
}

/** The line a process logs once it is serving. */
const READY: Record<Role, RegExp> = {
  cdc: /resuming after segment/,
  worker: /partitions assigned/,
};

function servicesEnv(): Record<string, string> {
  const s = inject('services');
  return { KAFKA_BROKERS: s.kafkaBrokers, CASSANDRA_CONTACT_POINTS: s.cassandraContactPoints };
}

export class Supervised {
  readonly name: string;
  readonly #role: Role;
  readonly #args: string[];
  readonly #hostname: string | undefined;
  readonly #env: Readonly<Record<string, string>> | undefined;
  readonly #exits: UnexpectedExit[];
  #child: ChildProcess | undefined;
  #log = '';
  /** Every run's log, for the post-mortem (capped). */
  #history = '';
  #ready = false;
  #readyAt = 0;
  /** When each run became ready. */
  readonly readyTimes: number[] = [];
  #stopped = false;
  #killing = false;
  #exited: Promise<void> = Promise.resolve();
  starts = 0;

  constructor(
    name: string,
    role: Role,
    args: string[],
    exits: UnexpectedExit[],
    options: { hostname?: string; env?: Readonly<Record<string, string>> } = {},
  ) {
    this.name = name;
    this.#role = role;
    this.#args = args;
    this.#exits = exits;
    this.#hostname = options.hostname;
    this.#env = options.env;
  }

  get ready(): boolean {
    return this.#ready;
  }

  get readyAt(): number {
    return this.#readyAt;
  }

  /** The logs of every run so far, each after a `=== start N` line. */
  get history(): string {
    return this.#history;
  }

  /** The log of the current (or last) run. */
  get log(): string {
    return this.#log;
  }

  start(): void {
    const node = [process.execPath, MAIN, this.#role, ...this.#args];
    const [cmd, ...argv] = this.#hostname
      ? ['unshare', '--uts', 'sh', '-c', `hostname ${this.#hostname} && exec "$@"`, 'sh', ...node]
      : node;
    const child = spawn(cmd!, argv, {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        ...(this.#env ?? servicesEnv()),
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.#child = child;
    this.#log = '';
    this.#ready = false;
    this.starts++;
    this.#history += `=== start ${this.starts} at ${new Date().toISOString()}\n`;
    child.stderr.on('data', (d: Buffer) => {
      this.#log += d.toString();
      if (this.#history.length < 20_000_000) this.#history += d.toString();
      if (this.#log.length > 200_000) this.#log = this.#log.slice(-100_000);
      if (!this.#ready && READY[this.#role].test(this.#log)) {
        this.#ready = true;
        this.#readyAt = Date.now();
        this.readyTimes.push(this.#readyAt);
      }
    });
    this.#exited = new Promise((res) =>
      child.on('exit', (code) => {
        if (!this.#killing && !this.#stopped) {
          this.#exits.push({
            name: this.name,
            code,
            afterReady: this.#ready,
            at: Date.now(),
            tail: this.#log.slice(-1_500),
          });
          // As a service manager would: start it again after a pause.
          setTimeout(() => {
            if (!this.#stopped && this.#child === child) this.start();
          }, 1_000);
        }
        res();
      }),
    );
  }

  /** SIGKILL, wait for the exit, start again; resolves once the new process is ready (or `ms`). */
  async kill(restartAfterMs = 0): Promise<void> {
    this.#killing = true;
    this.#child?.kill('SIGKILL');
    await this.#exited;
    this.#killing = false;
    if (restartAfterMs > 0) await new Promise((r) => setTimeout(r, restartAfterMs));
    if (!this.#stopped) this.start();
  }

  /** Resolves once the current process logged its ready line, or rejects after `ms`. */
  async untilReady(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.#ready) {
      if (Date.now() > deadline)
        throw new Error(`${this.name} not ready within ${ms} ms: ${this.#log.slice(-2_000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** SIGTERM (graceful), then SIGKILL after `graceMs`; no restart. */
  async stop(graceMs = 30_000): Promise<void> {
    this.#stopped = true;
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await this.#exited;
    clearTimeout(timer);
  }
}
