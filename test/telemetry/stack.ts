/**
 * The local observability stack for the tests that need it: Jaeger and Prometheus started through
 * the launcher (default fanout home, FANOUT_PORT_OFFSET honoured), exactly as
 * `./fanout services up --observability` starts them. Unavailable means failed, loudly: these tests
 * never skip. The first start on a machine builds Jaeger with go (minutes; cached after).
 */
import { spawn } from 'node:child_process';
import { servicePorts, servicesUp, type ServicePorts } from '../../services/launcher.ts';

/** How long a first start may take: Jaeger's build took 20 min on a busy 2-core box. */
export const STACK_TIMEOUT_MS = 45 * 60_000;

export interface ObservabilityStack {
  readonly ports: ServicePorts;
  /** Jaeger's query API, e.g. http://127.0.0.1:16686. */
  readonly jaeger: string;
  /** Jaeger's OTLP/HTTP receiver (telemetry.otlpEndpoint). */
  readonly otlp: string;
  /** Prometheus's HTTP API, e.g. http://127.0.0.1:9090. */
  readonly prometheus: string;
}

export async function observabilityStack(): Promise<ObservabilityStack> {
  await servicesUp(['jaeger', 'prometheus'], {
    log: (l) => process.stderr.write(`[services] ${l}\n`),
  });
  const ports = servicePorts();
  const base = `http://${ports.host}`;
  return {
    ports,
    jaeger: `${base}:${ports.jaeger.query}`,
    otlp: `${base}:${ports.jaeger.otlpHttp}`,
    prometheus: `${base}:${ports.prometheus.http}`,
  };
}

/** GET a JSON document; throws with the status and body start when not 2xx. */
export async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const text = await response.text();
  if (!response.ok) throw new Error(`GET ${url}: ${response.status} ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

/** Polls `check` until it returns a value, or throws `what` with the last value seen. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(
        `${what}: not within ${timeoutMs} ms${last ? ` (last error: ${last instanceof Error ? last.message : JSON.stringify(last)})` : ''}`,
      );
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** A TypeScript program of test/ run in a child Node; resolves with its stdout once it exits 0. */
export function runProgram(
  file: string,
  args: readonly string[],
  onLine?: (line: string) => void,
): { done: Promise<string>; kill: () => void } {
  const child = spawn(process.execPath, [file, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => {
    const text = d.toString();
    out += text;
    for (const line of text.split('\n')) if (line !== '') onLine?.(line);
  });
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const done = new Promise<string>((resolve, reject) => {
    child.on('exit', (code, signal) => {
      if (code === 0 || signal === 'SIGTERM') resolve(out);
      else reject(new Error(`${file} exited with ${code ?? signal}: ${err.slice(-3_000)}`));
    });
  });
  return { done, kill: () => child.kill('SIGTERM') };
}
