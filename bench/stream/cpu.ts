/** CPU seconds of the processes a stream bench run involves, read from /proc. */
import { readFileSync } from 'node:fs';
import { servicePaths } from '../../services/paths.ts';

/** utime + stime of a process so far, in seconds (undefined: not readable). */
export function processCpuSeconds(pid: number | string): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // clock ticks (USER_HZ = 100)
  } catch {
    return undefined;
  }
}

/** The local Cassandra's or Kafka's pid, when this project's launcher started it. */
function servicePid(name: 'cassandra' | 'kafka'): string | undefined {
  try {
    return readFileSync(servicePaths()[name].pidFile, 'utf8').trim();
  } catch {
    return undefined;
  }
}

export type CpuReading = Record<'cassandra' | 'kafka' | 'pipeline' | 'bench', number | undefined>;

/** A reading now; `since` turns two into the CPU seconds each spent in between. */
export function readCpu(pipelinePid: number | undefined): CpuReading {
  const svc = (name: 'cassandra' | 'kafka'): number | undefined => {
    const pid = servicePid(name);
    return pid === undefined ? undefined : processCpuSeconds(pid);
  };
  const own = process.cpuUsage();
  return {
    cassandra: svc('cassandra'),
    kafka: svc('kafka'),
    pipeline: pipelinePid === undefined ? undefined : processCpuSeconds(pipelinePid),
    bench: (own.user + own.system) / 1e6,
  };
}

export function since(before: CpuReading, after: CpuReading): CpuReading {
  const d = (k: keyof CpuReading): number | undefined => {
    const a = after[k];
    const b = before[k];
    return a === undefined || b === undefined ? undefined : +(a - b).toFixed(1);
  };
  return {
    cassandra: d('cassandra'),
    kafka: d('kafka'),
    pipeline: d('pipeline'),
    bench: d('bench'),
  };
}

/**
 * Milliseconds of CPU per tweet, every process of the reading added up (undefined: one was not
 * readable). On a CPU-bound box two runs' rates stand in the inverse ratio of these.
 */
export function cpuMsPerTweet(c: CpuReading, tweets: number): number | undefined {
  const parts = [c.cassandra, c.kafka, c.pipeline, c.bench];
  if (tweets <= 0 || parts.some((x) => x === undefined)) return undefined;
  return +((1000 * parts.reduce((a, b) => a! + b!, 0)!) / tweets).toFixed(2);
}
