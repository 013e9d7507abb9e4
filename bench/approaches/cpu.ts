/**
 * CPU time, from /proc: this process's own, and the local Cassandra's and Kafka's JVMs' (when the
 * services are this project's launcher's), so each approach can report what every process burned
 * during its timed part: on 2 shared cores, the figure that says which process limits a run.
 */
import { readFileSync } from 'node:fs';
import { servicePaths } from '../../services/paths.ts';

export type Service = 'cassandra' | 'kafka';

/** CPU seconds (user + system) this process has used since `start` (a `process.cpuUsage()`). */
export function cpuSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return Math.round((used.user + used.system) / 1e4) / 100;
}

/** The pid of a local service started by this project's launcher, if it is alive. */
export function servicePid(name: Service): number | undefined {
  try {
    const pid = Number(readFileSync(servicePaths()[name].pidFile, 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    readFileSync(`/proc/${pid}/stat`);
    return pid;
  } catch {
    return undefined;
  }
}

/** CPU seconds (user + system, all threads) a local service has used so far, if it runs here. */
export function serviceCpuSeconds(name: Service): number | undefined {
  const pid = servicePid(name);
  if (pid === undefined) return undefined;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, clock ticks (USER_HZ 100)
  } catch {
    return undefined;
  }
}

export type ServicesCpu = Partial<Record<Service, number>>;

/** Both services' CPU seconds so far (a service that does not run here is left out). */
export function servicesCpu(): ServicesCpu {
  const out: ServicesCpu = {};
  for (const name of ['cassandra', 'kafka'] as const) {
    const s = serviceCpuSeconds(name);
    if (s !== undefined) out[name] = s;
  }
  return out;
}

/** The CPU seconds each service used since `start` (a {@link servicesCpu}). */
export function servicesCpuSince(start: ServicesCpu): ServicesCpu {
  const now = servicesCpu();
  const out: ServicesCpu = {};
  for (const name of ['cassandra', 'kafka'] as const) {
    const [a, b] = [start[name], now[name]];
    if (a !== undefined && b !== undefined) out[name] = +(b - a).toFixed(2);
  }
  return out;
}
