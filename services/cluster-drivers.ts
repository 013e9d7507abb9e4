/**
 * The JVMs of the local cluster as drivers for the generic lifecycle (lifecycle.ts): the plain
 * drivers' start-up with one node's address, ports, run dir and cluster configuration. Cassandra:
 * every node a seed, an even initial token, CDC on. Kafka: combined broker + controller, RF 3,
 * min.insync.replicas 2, every broker formatted with the one cluster id in the cluster root.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cassandraDriver } from './cassandra.ts';
import { CLUSTER_NAME, type ClusterLayout, type ClusterNode } from './cluster-layout.ts';
import { withHeap, type ServiceDriver } from './driver.ts';
import { ServiceError } from './errors.ts';
import { kafkaDriver, randomClusterId } from './kafka.ts';
import { exists, run } from './process.ts';
import { render, renderTemplate } from './templates.ts';
import type { Java } from './toolchain.ts';

/** Heaps per JVM: six of them share this box with the single-node services. */
export const CLUSTER_HEAP = { cassandra: '768M', kafka: '384m' } as const;

/**
 * Cassandra's RING_DELAY for the cluster's nodes (30 s by default). The first node of a start
 * waits that long in its shadow gossip round for the other seeds, which start after it, before it
 * goes on alone as a seed: half a minute of every `services up --nodes 3` spent idle. On loopback
 * a live peer answers within a second; the other uses of the delay (bootstrap, decommission,
 * move) never happen here (every node is a seed with its own initial token).
 */
export const CLUSTER_RING_DELAY_MS = 5_000;

/** `args` with `props` (`-D…`) before the classpath, where the JVM still reads them. */
function withProperties(args: readonly string[], ...props: string[]): string[] {
  const at = args.indexOf('-cp');
  if (at < 0) throw new Error('JVM arguments without -cp: nowhere to put system properties');
  return [...args.slice(0, at), ...props, ...args.slice(at)];
}

/** A file of services/conf/cluster/. */
export const clusterConf = (file: string): string =>
  fileURLToPath(new URL(`./conf/cluster/${file}`, import.meta.url));

/**
 * The node's cassandra.yaml from the single node's: cluster name, seeds, initial token. Throws
 * when the single node's yaml no longer has the lines this rewrites (a silent no-op would start
 * three one-node clusters).
 */
export function clusterCassandraYaml(
  plain: string,
  layout: ClusterLayout,
  node: ClusterNode,
): string {
  const out = plain
    .replace(/^cluster_name: .*$/m, `cluster_name: ${CLUSTER_NAME}`)
    .replace(/^(\s+- seeds: ).*$/m, `$1"${layout.seeds}"`)
    .replace(/^num_tokens: .*$/m, `num_tokens: 1\ninitial_token: "${node.initialToken}"`);
  for (const needed of [`cluster_name: ${CLUSTER_NAME}`, layout.seeds, 'initial_token:'])
    if (!out.includes(needed))
      throw new ServiceError(
        'START_FAILED',
        `cannot make node ${node.index}'s cassandra.yaml: the template has no line for "${needed}"`,
      );
  return out;
}

export function clusterCassandraDriver(layout: ClusterLayout, node: ClusterNode): ServiceDriver {
  const base = cassandraDriver(node.cassandra, node.ports);
  return {
    ...base,
    title: `Cassandra node ${node.index} (${node.host})`,
    async prepare(java: Java, log: (line: string) => void): Promise<void> {
      await base.prepare(java, log);
      const plain = await readFile(node.cassandra.cassandraYaml, 'utf8');
      await writeFile(node.cassandra.cassandraYaml, clusterCassandraYaml(plain, layout, node));
    },
    async javaArgs(): Promise<string[]> {
      return withProperties(
        withHeap(await base.javaArgs(), CLUSTER_HEAP.cassandra),
        `-Dcassandra.ring_delay_ms=${CLUSTER_RING_DELAY_MS}`,
      );
    },
  };
}

/** The placeholders of services/conf/cluster/kafka.properties for `node`. */
export function clusterKafkaVars(layout: ClusterLayout, node: ClusterNode): Record<string, string> {
  return {
    nodeId: String(node.index),
    voters: layout.voters,
    host: node.host,
    brokerPort: String(node.ports.kafka.broker),
    controllerPort: String(node.ports.kafka.controller),
    dataDir: node.kafka.dataDir,
    logDir: node.kafka.logDir,
    log4jConfig: node.kafka.log4jConfig,
  };
}

/** The cluster's KRaft id: made once, shared by every broker's storage format. */
async function kafkaClusterId(layout: ClusterLayout): Promise<string> {
  if (await exists(layout.kafkaClusterIdFile))
    return (await readFile(layout.kafkaClusterIdFile, 'utf8')).trim();
  const id = randomClusterId();
  await mkdir(dirname(layout.kafkaClusterIdFile), { recursive: true });
  await writeFile(layout.kafkaClusterIdFile, `${id}\n`, { flag: 'wx' }).catch(async (err) => {
    // Another broker's prepare wrote it first: use theirs.
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  });
  return (await readFile(layout.kafkaClusterIdFile, 'utf8')).trim();
}

export function clusterKafkaDriver(layout: ClusterLayout, node: ClusterNode): ServiceDriver {
  const base = kafkaDriver(node.kafka, node.ports);
  const paths = node.kafka;
  const vars = clusterKafkaVars(layout, node);
  return {
    ...base,
    title: `Kafka broker ${node.index} (${node.host})`,
    async prepare(java: Java, log: (line: string) => void): Promise<void> {
      await Promise.all(
        [paths.confDir, paths.dataDir, paths.logDir].map((d) => mkdir(d, { recursive: true })),
      );
      const template = clusterConf('kafka.properties');
      await writeFile(
        paths.serverProperties,
        render(await readFile(template, 'utf8'), vars, template),
      );
      await renderTemplate('kafka', 'log4j2.yaml', paths.log4jConfig, vars);
      if (await exists(join(paths.dataDir, 'meta.properties'))) return;
      const clusterId = await kafkaClusterId(layout);
      const result = await run(java.command, [
        `-Dlog4j2.configurationFile=${paths.log4jConfig}`,
        '-cp',
        join(paths.jarDir, '*'),
        'kafka.tools.StorageTool',
        'format',
        '--ignore-formatted',
        '-t',
        clusterId,
        '-c',
        paths.serverProperties,
      ]);
      if (result.code !== 0)
        throw new ServiceError(
          'FORMAT_FAILED',
          `Kafka broker ${node.index} storage format failed (exit ${result.code}): ${result.output.trim().split('\n').slice(-3).join(' ')}`,
        );
      log(`kafka ${node.index}: formatted KRaft storage (cluster id ${clusterId})`);
    },
    async javaArgs(): Promise<string[]> {
      return withHeap(await base.javaArgs(), CLUSTER_HEAP.kafka);
    },
  };
}
