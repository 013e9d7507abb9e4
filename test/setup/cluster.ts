/**
 * Global setup of the `cluster` project (*.cluster.int.test.ts), which runs after every other
 * project. It does not start the local 3-node cluster: global setups all run before the first
 * test, and six more JVMs must not share two cores with the single-node suite. Each file starts
 * it in its `beforeAll` (idempotent); this teardown removes the run's keyspaces and topics from it
 * and stops it again when the run started it (FANOUT_CLUSTER_KEEP=1 leaves it running).
 */
import { randomUUID } from 'node:crypto';
import type { TestProject } from 'vitest/node';
import { clusterDown, clusterStatus } from '../../services/cluster.ts';
import { clusterLayout } from '../../services/cluster-layout.ts';
import { removeRunLeftovers } from './leftovers.ts';

const say = (line: string): void => void process.stderr.write(`[cluster] ${line}\n`);
const allRunning = async (): Promise<boolean> =>
  (await clusterStatus()).every((s) => s.state === 'running');

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const layout = clusterLayout(3);
  const runTag = randomUUID().slice(0, 6);
  const services = {
    kafkaBrokers: layout.kafkaBrokers,
    cassandraContactPoints: layout.contactPoints,
    cdcRawDir: layout.nodes[0]!.cassandra.cdcRawDir,
    source: 'local' as const,
  };
  project.provide('runTag', runTag);
  project.provide('services', services);
  const wasRunning = await allRunning();
  return async () => {
    if (await allRunning()) say(await removeRunLeftovers(services, runTag));
    if (wasRunning || process.env.FANOUT_CLUSTER_KEEP === '1') return;
    const began = Date.now();
    await clusterDown({ log: (l) => process.stderr.write(`[services] ${l}\n`) });
    say(`cluster stopped in ${((Date.now() - began) / 1000).toFixed(1)} s`);
  };
}
