/**
 * Where the local cluster (`fanout services up --nodes 3`) lives: node i (1-based) is Cassandra
 * and a combined KRaft broker + controller on loopback address 127.0.0.(1+i), its run dirs under
 * `<home>/cluster/node<i>`. Pure: nothing here touches the disk or the network.
 *
 * Invariants: no address is 127.0.0.1, so the single-node services keep their ports. Every
 * Cassandra node serves CQL on 9042 because cassandra-driver (Node.js) reaches the peers it
 * discovers at its one `protocolOptions.port`; the loopback address alone separates the nodes.
 */
import { join } from 'node:path';
import { servicePorts, type ServicePorts } from '../config/ports.ts';
import { fanoutHome, servicePaths, type CassandraPaths, type KafkaPaths } from './paths.ts';

export const CLUSTER_MIN_NODES = 3;
export const CLUSTER_MAX_NODES = 9;
/** Cassandra's cluster_name of the local cluster (nodes of another cluster name refuse to gossip). */
export const CLUSTER_NAME = 'fanout-cluster';
/** The CQL port of every node (see the module header). */
export const CLUSTER_NATIVE_PORT = 9042;

export interface ClusterNode {
  /** 1-based: also the Kafka node.id. */
  readonly index: number;
  readonly host: string;
  /** Ports as the single-node drivers expect them, with this node's address. */
  readonly ports: ServicePorts;
  /** Murmur3 token spaced evenly over the ring: balanced ownership, no token allocation at start. */
  readonly initialToken: string;
  readonly cassandra: CassandraPaths;
  readonly kafka: KafkaPaths;
}

export interface ClusterLayout {
  /** `<home>/cluster`: everything of the cluster; `down --nodes N --purge` deletes it. */
  readonly root: string;
  /** Holds the KRaft cluster id every broker is formatted with (made at the first start). */
  readonly kafkaClusterIdFile: string;
  readonly nodes: readonly ClusterNode[];
  /** Cassandra `seeds`: every node, so any one of them can start first after a full stop. */
  readonly seeds: string;
  /** KRaft `controller.quorum.voters`: `1@127.0.0.2:9093,2@…`. */
  readonly voters: string;
  /** `kafka.brokers` of the product. */
  readonly kafkaBrokers: string;
  /** `cassandra.contactPoints` of the workers (a connector names its own node only). */
  readonly contactPoints: string;
}

/** Evenly spaced Murmur3Partitioner tokens for `n` nodes, as decimal strings. */
export function evenTokens(n: number): string[] {
  const span = 2n ** 64n;
  const min = -(2n ** 63n);
  return Array.from({ length: n }, (_, i) => String(min + (span * BigInt(i)) / BigInt(n)));
}

/**
 * The layout of an `nodes`-node cluster. `portOffset` (default `$FANOUT_PORT_OFFSET`) shifts the
 * storage, JMX and Kafka ports like {@link servicePorts}; the CQL port stays 9042.
 */
export function clusterLayout(
  nodes: number,
  opts: { home?: string; portOffset?: number } = {},
): ClusterLayout {
  if (!Number.isInteger(nodes) || nodes < CLUSTER_MIN_NODES || nodes > CLUSTER_MAX_NODES)
    throw new TypeError(
      `--nodes must be an integer from ${CLUSTER_MIN_NODES} to ${CLUSTER_MAX_NODES} (RF 3 and min.insync.replicas 2 need three), not ${nodes}`,
    );
  const base = servicePorts(opts.portOffset);
  const plain = servicePaths(opts.home ?? fanoutHome());
  const root = join(plain.home, 'cluster');
  const tokens = evenTokens(nodes);
  const list = Array.from({ length: nodes }, (_, i): ClusterNode => {
    const index = i + 1;
    const host = `127.0.0.${1 + index}`;
    const own = servicePaths(join(root, `node${index}`));
    const ports: ServicePorts = Object.freeze({
      ...base,
      host,
      cassandra: Object.freeze({
        native: CLUSTER_NATIVE_PORT,
        storage: base.cassandra.storage,
        // JMX listens on 127.0.0.1 whatever listen_address says: one port per node, away from
        // the single node's 7199 and the secure set's 7299.
        jmx: base.cassandra.jmx + 200 + index,
      }),
    });
    return Object.freeze({
      index,
      host,
      ports,
      initialToken: tokens[i]!,
      cassandra: Object.freeze({ ...own.cassandra, jarDir: plain.cassandra.jarDir }),
      kafka: Object.freeze({ ...own.kafka, jarDir: plain.kafka.jarDir }),
    });
  });
  return Object.freeze({
    root,
    kafkaClusterIdFile: join(root, 'kafka-cluster-id'),
    nodes: Object.freeze(list),
    seeds: list.map((n) => `${n.host}:${n.ports.cassandra.storage}`).join(','),
    voters: list.map((n) => `${n.index}@${n.host}:${n.ports.kafka.controller}`).join(','),
    kafkaBrokers: list.map((n) => `${n.host}:${n.ports.kafka.broker}`).join(','),
    contactPoints: list.map((n) => `${n.host}:${n.ports.cassandra.native}`).join(','),
  });
}

/**
 * `--set` pairs of a product process against the cluster: RF 3 keyspace and topics. With `node`,
 * a CDC connector of that node: its own CQL endpoint only (its identity is that node's host_id)
 * and its own cdc_raw.
 */
export function clusterClientSettings(layout: ClusterLayout, node?: number): string[] {
  const common = [
    `kafka.brokers=${layout.kafkaBrokers}`,
    'kafka.replicationFactor=3',
    'cassandra.replication=SimpleStrategy:3',
  ];
  if (node === undefined) return [...common, `cassandra.contactPoints=${layout.contactPoints}`];
  const n = layout.nodes[node - 1];
  if (n === undefined)
    throw new TypeError(`the cluster has nodes 1 to ${layout.nodes.length}, not ${node}`);
  return [
    ...common,
    `cassandra.contactPoints=${n.host}:${n.ports.cassandra.native}`,
    `cdc.rawDir=${n.cassandra.cdcRawDir}`,
  ];
}
