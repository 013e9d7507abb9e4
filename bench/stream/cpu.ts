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
 * Milliseconds of CPU per tweet, every process of the reading added up. Undefined when one was
 * not readable, or when the run was too short to measure (readings are in tenths of a second: a
 * CI-sized raw run of 8 tweets reads 0). On a CPU-bound box two runs' rates stand in the inverse
 * ratio of these.
 */
export function cpuMsPerTweet(c: CpuReading, tweets: number): number | undefined {
  let sum = 0;
  for (const x of [c.cassandra, c.kafka, c.pipeline, c.bench]) {
    if (x === undefined) return undefined;
    sum += x;
  }
  return tweets <= 0 || sum <= 0 ? undefined : +((1000 * sum) / tweets).toFixed(2);
}
