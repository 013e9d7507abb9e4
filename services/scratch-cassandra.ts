/**
 * A Cassandra node of a test's own, beside the shared one: its own home (run dir, data, commit log,
 * cdc_raw), ports shifted by an offset, a small heap and cassandra.yaml settings of its choosing
 * (e.g. a tiny cdc_total_space). Built from the launcher's own Cassandra driver and lifecycle;
 * the jars are the shared home's, so nothing is fetched again. The shared node is never touched.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { cassandraDriver } from './cassandra.ts';
import type { ServiceDriver } from './driver.ts';
import { startService, stopService } from './lifecycle.ts';
import { fanoutHome, servicePaths, servicePorts } from './paths.ts';
import { findJava } from './toolchain.ts';

export interface ScratchCassandraOptions {
  /** The node's own fanout home (its run dir goes under it). */
  readonly home: string;
  /** Added to every Cassandra port (native 9042 + offset, …). */
  readonly portOffset: number;
  /** Heap in MiB (default 512). */
  readonly heapMiB?: number;
  /** cassandra.yaml settings replaced (top-level keys, values as YAML text). */
  readonly yaml?: Readonly<Record<string, string>>;
  readonly log?: (line: string) => void;
}

export interface ScratchCassandra {
  readonly contactPoint: string;
  readonly cdcRawDir: string;
  readonly runDir: string;
  readonly pid: number;
  /** Stops the JVM (SIGTERM, then SIGKILL) and deletes its home. */
  readonly stop: () => Promise<void>;
}

/** Replaces top-level `key: value` lines of a YAML text; a key that is not there is appended. */
export function setYaml(text: string, settings: Readonly<Record<string, string>>): string {
  let out = text;
  for (const [key, value] of Object.entries(settings)) {
    const line = new RegExp(`^${key}:.*$`, 'm');
    out = line.test(out) ? out.replace(line, `${key}: ${value}`) : `${out}\n${key}: ${value}\n`;
  }
  return out;
}

/** Starts the node and waits until it serves CQL (a minute or so on two cores). */
export async function startScratchCassandra(o: ScratchCassandraOptions): Promise<ScratchCassandra> {
  const log = o.log ?? ((): void => {});
  const heap = `${o.heapMiB ?? 512}M`;
  const paths = {
    ...servicePaths(o.home).cassandra,
    jarDir: servicePaths(fanoutHome()).cassandra.jarDir,
  };
  const ports = servicePorts(o.portOffset);
  const base = cassandraDriver(paths, ports);
  const driver: ServiceDriver = {
    ...base,
    async prepare(java, l) {
      await base.prepare(java, l);
      const yaml = await readFile(paths.cassandraYaml, 'utf8');
      await writeFile(
        paths.cassandraYaml,
        setYaml(yaml, {
          cluster_name: 'fanout-scratch',
          memtable_heap_space: '32MiB',
          memtable_offheap_space: '32MiB',
          ...o.yaml,
        }),
      );
    },
    async javaArgs() {
      return (await base.javaArgs()).map((a) =>
        a.startsWith('-Xms') ? `-Xms${heap}` : a.startsWith('-Xmx') ? `-Xmx${heap}` : a,
      );
    },
  };
  const started = await startService(driver, await findJava(), log, driver.defaultStartTimeoutMs);
  return {
    contactPoint: `${ports.host}:${ports.cassandra.native}`,
    cdcRawDir: paths.cdcRawDir,
    runDir: paths.runDir,
    pid: started.pid,
    stop: async () => {
      await stopService(driver, 30_000, log);
      await rm(o.home, { recursive: true, force: true });
    },
  };
}
