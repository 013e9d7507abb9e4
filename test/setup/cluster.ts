/**
 * Global setup of the `cluster` project (*.cluster.int.test.ts): the local 3-node cluster
 * (`./fanout services up --nodes 3`, or scripts/cluster-tests.sh, which also stops it). It never
 * starts the cluster itself: when not every node runs, `cluster` is false and the files skip.
 */
import { randomUUID } from 'node:crypto';
import type { TestProject } from 'vitest/node';
import { clusterStatus } from '../../services/cluster.ts';
import { clusterLayout } from '../../services/cluster-layout.ts';
import { removeRunLeftovers } from './leftovers.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** True when every node of the local cluster runs. */
    cluster: boolean;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const layout = clusterLayout(3);
  const runTag = randomUUID().slice(0, 6);
  const services = {
    kafkaBrokers: layout.kafkaBrokers,
    cassandraContactPoints: layout.contactPoints,
    cdcRawDir: layout.nodes[0]!.cassandra.cdcRawDir,
    source: 'local' as const,
  };
  const down = (await clusterStatus()).filter((s) => s.state !== 'running');
  project.provide('runTag', runTag);
  project.provide('services', services);
  project.provide('cluster', down.length === 0);
  if (down.length > 0) {
    process.stderr.write(
      `[cluster] skipped: ${down.map((s) => `${s.role} ${s.node} ${s.state}`).join(', ')} (./fanout services up --nodes 3)\n`,
    );
    return async () => {};
  }
  return async () => {
    process.stderr.write(`[cluster] ${await removeRunLeftovers(services, runTag)}\n`);
  };
}
