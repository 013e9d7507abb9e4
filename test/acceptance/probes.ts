/**
 * What the acceptance tests observe from outside a process: its resident memory, its Prometheus
 * counters, and the local Cassandra JVM it may freeze (only the launcher's own, found by pid file).
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { inject } from 'vitest';
import { CASSANDRA_CONTACT_POINT, servicePaths } from '../../services/launcher.ts';

/** VmRSS of a live process in KiB (undefined once it is gone). */
export function rssKiB(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Samples a process's RSS every `everyMs` (sampling, not synchronisation: tests read the samples). */
export class RssSampler {
  readonly samples: Array<{ at: number; kib: number }> = [];
  readonly #timer: NodeJS.Timeout;

  constructor(pid: number, everyMs = 200) {
    const take = (): void => {
      const kib = rssKiB(pid);
      if (kib !== undefined) this.samples.push({ at: Date.now(), kib });
    };
    take();
    this.#timer = setInterval(take, everyMs);
  }

  /** Largest sample taken in [from, to). */
  max(from: number, to: number): number | undefined {
    const inWindow = this.samples.filter((s) => s.at >= from && s.at < to).map((s) => s.kib);
    return inWindow.length === 0 ? undefined : Math.max(...inWindow);
  }

  count(from: number, to: number): number {
    return this.samples.filter((s) => s.at >= from && s.at < to).length;
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

/** A TCP port free right now on loopback (for a child's Prometheus endpoint). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address !== null
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}

/** Sum of every sample of a Prometheus metric family (`name`, `name_total`), per label set. */
export async function scrape(
  port: number,
  name: string,
): Promise<{ total: number; byLabels: Record<string, number> }> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const byLabels: Record<string, number> = {};
  let total = 0;
  for (const line of text.split('\n')) {
    const m = new RegExp(`^${name}(?:_total)?(\\{[^}]*\\})?\\s+([0-9.eE+-]+)`).exec(line);
    if (!m) continue;
    const v = Number(m[2]);
    total += v;
    byLabels[m[1] ?? ''] = (byLabels[m[1] ?? ''] ?? 0) + v;
  }
  return { total, byLabels };
}

/**
 * The pid of the Cassandra JVM the tests run against, when this process may signal it: the
 * services come from the project's launcher, either started by the global setup (`local`) or
 * named by env vars that point at the launcher's own address while its pid file names a live
 * Cassandra JVM (CI and developers export KAFKA_BROKERS / CASSANDRA_CONTACT_POINTS for the
 * launcher's services). Testcontainers or remote services: undefined (the test is skipped).
 */
export function localCassandraPid(): number | undefined {
  const services = inject('services');
  const launcherAddress =
    services.source === 'local' ||
    (services.source === 'env' &&
      services.cassandraContactPoints
        .split(',')
        .every((c) => c.trim() === CASSANDRA_CONTACT_POINT));
  if (!launcherAddress) return undefined;
  try {
    const pid = Number(readFileSync(servicePaths().cassandra.pidFile, 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 1) return undefined;
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return /java/.test(cmdline) && /cassandra/i.test(cmdline) ? pid : undefined;
  } catch {
    return undefined;
  }
}
