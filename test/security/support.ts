/**
 * The secure set as the security tests use it: started through the launcher, a test's own names,
 * the admin step (schema, GRANTs, ACLs), and `fanout` child processes whose every output is kept
 * so that a test can look for secrets in it.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { KafkaAcl } from '../../config/access.ts';
import { loadConfig, type Config } from '../../config/index.ts';
import { withTimeout } from '../../lib/errors.ts';
import {
  secureClientSettings,
  secureCredentials,
  securePaths,
  type SecureIdentity,
} from '../../services/secure.ts';
import { uniq } from '../support/config.ts';

const MAIN = resolve(import.meta.dirname, '../../cli/main.ts');

/** A test's own keyspace, topics, group and CDC node id on the secure set. */
export function secureNames(): string[] {
  const id = uniq().slice(0, 10);
  return [
    `cassandra.keyspace=s_${id}`,
    `topics.cdcPrefix=s-${id}.cdc`,
    `topics.cdcOffsets=s-${id}.cdc-offsets`,
    `topics.checkpoints=s-${id}.checkpoints`,
    `topics.completed=s-${id}.completed`,
    `topics.tasks=s-${id}.tasks`,
    `topics.deadLetter=s-${id}.dead-letter`,
    `pipeline.groupId=s-${id}.workers`,
    `cdc.nodeId=s-${id}`,
    'topics.cdcPartitions=3',
    'topics.tasksPartitions=3',
    'telemetry.prometheusPort=0',
    'log.level=info',
  ];
}

/** The in-process config of `who` for `names` (secrets read from the *_FILE files). */
export function secureConfig(who: SecureIdentity, names: readonly string[]): Config {
  const { sets, env } = secureClientSettings(who);
  return loadConfig({ env, sets: [...sets, ...names] });
}

/** A finished or running `fanout` child process and everything it printed. */
export interface FanoutRun {
  readonly exited: Promise<number | null>;
  readonly output: () => { stdout: string; stderr: string };
  /** SIGTERM, then the exit code. */
  readonly stop: () => Promise<number | null>;
}

/** Every output of every run, for the secret grep. */
export const outputs: Array<{ name: string; stdout: string; stderr: string }> = [];

/** Starts `fanout <args>` with only PATH, HOME and `env` in its environment. */
export function fanout(
  name: string,
  args: readonly string[],
  env: Record<string, string>,
): FanoutRun {
  const child = spawn(process.execPath, [MAIN, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const record = { name, stdout: '', stderr: '' };
  outputs.push(record);
  child.stdout.on('data', (d: Buffer) => (record.stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (record.stderr += d.toString()));
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  return {
    exited,
    output: () => ({ stdout: record.stdout, stderr: record.stderr }),
    stop: async () => {
      child.kill('SIGTERM');
      return withTimeout(exited, 60_000, `${name} did not stop within 60 s of SIGTERM`);
    },
  };
}

/** `fanout <args>` as `who` against the secure set, with `extra` settings and env. */
export function fanoutAs(
  name: string,
  who: SecureIdentity,
  args: readonly string[],
  names: readonly string[],
  extra: {
    sets?: string[];
    /** Added to the environment; `undefined` removes a variable. */
    env?: Record<string, string | undefined>;
    mtls?: { cert: string; key: string };
  } = {},
): FanoutRun {
  const { sets, env } = secureClientSettings(who, extra.mtls ? { mtls: extra.mtls } : {});
  const all = [...sets, ...names, ...(extra.sets ?? [])];
  const merged: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...env, ...extra.env })) if (v !== undefined) merged[k] = v;
  return fanout(name, [...args, ...all.flatMap((s) => ['--set', s])], merged);
}

/** Waits for a run to end by itself; its exit code. */
export function exitOf(run: FanoutRun, timeoutMs = 90_000): Promise<number | null> {
  return withTimeout(run.exited, timeoutMs, `the process did not exit within ${timeoutMs} ms`);
}

/** Every password of the secure set, plus `extra` ones a test used. */
export async function secretsUsed(extra: readonly string[] = []): Promise<string[]> {
  const c = await secureCredentials();
  return [c.storePassword, ...Object.values(c.kafka), ...Object.values(c.cassandra), ...extra];
}

/** The secure services' own logs. */
export async function serviceLogs(): Promise<Array<{ name: string; text: string }>> {
  const p = securePaths();
  return Promise.all(
    [p.kafka.logFile, p.cassandra.logFile].map(async (f) => ({
      name: f,
      text: await readFile(f, 'utf8').catch(() => ''),
    })),
  );
}

/** The ACLs without the ones `drop` selects (a missing-ACL test). */
export const without = (acls: KafkaAcl[], drop: (a: KafkaAcl) => boolean): KafkaAcl[] =>
  acls.filter((a) => !drop(a));

/** An OTLP/HTTP endpoint on loopback that keeps every request body (exported spans) as text. */
export async function startOtlpSink(): Promise<{
  url: string;
  bodies: string[];
  close: () => Promise<void>;
}> {
  const { createServer } = await import('node:http');
  const bodies: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString('utf8')));
    req.on('end', () => {
      bodies.push(body);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    bodies,
    close: () => new Promise((res) => server.close(() => res())),
  };
}
