/**
 * Runs one approach of the fan-out bench in a process of its own (its peak RSS is its own), on an
 * emptied timelines table, optionally pinned to some cores, and reads back its one JSON line.
 * A child still running when the bench exits is killed with it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { serviceCpuSeconds, type ServicesCpu } from './approaches/cpu.ts';
import { NODE_FLAGS } from './node-flags.ts';

export interface Row {
  approach: string;
  rows: number;
  seconds: number;
  errors: number;
  maxRssMiB: number;
  rowsPerSecond: number;
  note: string;
  /** CPU seconds of the local Cassandra / Kafka JVM during the whole child process (setup too). */
  cassandraCpuSeconds?: number;
  kafkaCpuSeconds?: number;
  /** CPU seconds of the approach's own process during its timed part. */
  clientCpuSeconds?: number;
  /** CPU seconds of the local Cassandra / Kafka during the approach's timed part only. */
  timedServiceCpuSeconds?: ServicesCpu;
  /** (d) only: insert → worker holds the tweet, → first timeline row, → last row. */
  phases?: { cdcSeconds: number; startSeconds: number; writeSeconds: number };
}

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/** Runs `node <script> …args` (after `prefix`, e.g. a taskset) and returns its row. */
export async function runApproach(options: {
  script: string;
  args: readonly string[];
  note: string;
  approach: string;
  env: NodeJS.ProcessEnv;
  prefix?: readonly string[];
  before?: () => Promise<void>;
}): Promise<Row> {
  await options.before?.();
  const cpu = { cassandra: serviceCpuSeconds('cassandra'), kafka: serviceCpuSeconds('kafka') };
  const command = [
    ...(options.prefix ?? []),
    process.execPath,
    ...NODE_FLAGS,
    resolve(import.meta.dirname, options.script),
    ...options.args,
  ];
  const { code, stdout, stderr } = await new Promise<{
    code: number | null;
    stdout: string;
    stderr: string;
  }>((done, fail) => {
    const child = spawn(command[0]!, command.slice(1), { env: options.env });
    children.add(child);
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (err = (err + s).slice(-8_000)));
    child.on('error', fail);
    child.on('close', (c) => {
      children.delete(child);
      done({ code: c, stdout: out, stderr: err });
    });
  });
  if (code !== 0)
    throw new Error(`${options.approach} failed (exit ${code}): ${stderr.slice(-2000)}`);
  const used = (name: 'cassandra' | 'kafka'): number | undefined => {
    const after = serviceCpuSeconds(name);
    const before = cpu[name];
    return after === undefined || before === undefined ? undefined : +(after - before).toFixed(1);
  };
  const out = JSON.parse(stdout.trim().split('\n').at(-1)!) as Omit<
    Row,
    'approach' | 'note' | 'rowsPerSecond'
  >;
  const row: Row = {
    approach: options.approach,
    ...out,
    rowsPerSecond: Math.round((out.rows - out.errors) / out.seconds),
    note: options.note,
    cassandraCpuSeconds: used('cassandra'),
    kafkaCpuSeconds: used('kafka'),
  };
  process.stderr.write(`${options.approach}: ${JSON.stringify(row)}\n`);
  return row;
}

/** The run with the median rows/s (the lower middle one for an even count). */
export function median(runs: readonly Row[]): Row {
  return [...runs].sort((x, y) => x.rowsPerSecond - y.rowsPerSecond)[
    Math.floor((runs.length - 1) / 2)
  ]!;
}

/** The median of numbers (the lower middle one for an even count); undefined for none. */
export function medianOf(values: readonly number[]): number | undefined {
  return values.length === 0
    ? undefined
    : [...values].sort((x, y) => x - y)[Math.floor((values.length - 1) / 2)];
}
