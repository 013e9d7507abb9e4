/**
 * The local cluster's generated configuration (services/cluster-layout.ts, cluster-drivers.ts),
 * checked without starting it: addresses and ports apart from the single-node services, one
 * ring of evenly spaced tokens, every node a seed with its own data and cdc_raw, brokers of one
 * KRaft quorum at RF 3 / min.insync.replicas 2, and product settings that are a valid config.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/index.ts';
import {
  CLUSTER_HEAP,
  CLUSTER_RING_DELAY_MS,
  clusterCassandraDriver,
  clusterConf,
  clusterKafkaVars,
} from '../../services/cluster-drivers.ts';
import {
  CLUSTER_NAME,
  clusterClientSettings,
  clusterLayout,
  evenTokens,
} from '../../services/cluster-layout.ts';
import { servicePaths, servicePorts } from '../../services/paths.ts';
import { render } from '../../services/templates.ts';

const home = await mkdtemp(join(tmpdir(), 'fanout-cluster-'));
afterAll(() => rm(home, { recursive: true, force: true }));
const layout = clusterLayout(3, { home, portOffset: 0 });

const properties = (text: string): Map<string, string> =>
  new Map(
    text
      .split('\n')
      .filter((l) => l.includes('=') && !l.startsWith('#'))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );

describe('the local cluster layout', () => {
  it('puts node i on 127.0.0.(1+i), never on the single-node services’ address or ports', () => {
    const single = servicePorts(0);
    expect(layout.nodes.map((n) => n.host)).toEqual(['127.0.0.2', '127.0.0.3', '127.0.0.4']);
    const jmx = layout.nodes.map((n) => n.ports.cassandra.jmx);
    expect(new Set(jmx).size).toBe(3); // JMX binds 127.0.0.1 whatever the node's address
    expect(jmx).not.toContain(single.cassandra.jmx);
    expect(jmx).not.toContain(single.cassandra.jmx + 100); // the secure set's
    expect(layout.contactPoints).toBe('127.0.0.2:9042,127.0.0.3:9042,127.0.0.4:9042');
    expect(layout.kafkaBrokers).toBe('127.0.0.2:9092,127.0.0.3:9092,127.0.0.4:9092');
    expect(layout.voters).toBe('1@127.0.0.2:9093,2@127.0.0.3:9093,3@127.0.0.4:9093');
  });

  it('gives each node its own run dirs under <home>/cluster, and shares the jars', () => {
    const dirs = layout.nodes.flatMap((n) => [
      n.cassandra.cdcRawDir,
      n.cassandra.dataDir,
      n.kafka.dataDir,
    ]);
    expect(new Set(dirs).size).toBe(9);
    for (const d of dirs) expect(d.startsWith(join(home, 'cluster', 'node'))).toBe(true);
    const plain = servicePaths(home);
    expect(layout.nodes.every((n) => n.cassandra.jarDir === plain.cassandra.jarDir)).toBe(true);
    // The single node's run dir is no prefix of a cluster node's: stopping one never finds the other.
    for (const n of layout.nodes)
      expect(n.cassandra.runDir.startsWith(`${plain.cassandra.runDir}/`)).toBe(false);
  });

  it('spaces the tokens evenly over the Murmur3 ring', () => {
    expect(evenTokens(3)).toEqual([
      '-9223372036854775808',
      '-3074457345618258603',
      '3074457345618258602',
    ]);
    const t = evenTokens(4).map(BigInt);
    expect(t[1]! - t[0]!).toBe(2n ** 62n);
  });

  it('refuses fewer than three nodes with a sentence', () => {
    expect(() => clusterLayout(2)).toThrow(/--nodes must be an integer from 3 to 9.*not 2/);
  });

  it("renders each node's cassandra.yaml: one cluster, every node a seed, CDC on in its own cdc_raw", async () => {
    for (const node of layout.nodes) {
      await clusterCassandraDriver(layout, node).prepare({} as never, () => {});
      const yaml = parse(await readFile(node.cassandra.cassandraYaml, 'utf8')) as Record<
        string,
        unknown
      >;
      expect(yaml['cluster_name']).toBe(CLUSTER_NAME);
      expect(yaml['listen_address']).toBe(node.host);
      expect(yaml['rpc_address']).toBe(node.host);
      expect(yaml['native_transport_port']).toBe(9042);
      expect(String(yaml['initial_token'])).toBe(node.initialToken);
      expect(yaml['num_tokens']).toBe(1);
      expect(yaml['cdc_enabled']).toBe(true);
      expect(yaml['cdc_raw_directory']).toBe(node.cassandra.cdcRawDir);
      expect(yaml['commitlog_directory']).toBe(node.cassandra.commitlogDir);
      const seeds = (yaml['seed_provider'] as Array<{ parameters: Array<{ seeds: string }> }>)[0]!
        .parameters[0]!.seeds;
      expect(seeds).toBe(layout.seeds);
    }
  });

  it('starts each Cassandra node with its small heap and a short ring delay, before the classpath', async () => {
    const node = layout.nodes[0]!;
    await mkdir(node.cassandra.jarDir, { recursive: true });
    await writeFile(join(node.cassandra.jarDir, 'jamm-0.4.0.jar'), '');
    const args = await clusterCassandraDriver(layout, node).javaArgs();
    expect(args).toContain(`-Xmx${CLUSTER_HEAP.cassandra}`);
    const delay = args.indexOf(`-Dcassandra.ring_delay_ms=${CLUSTER_RING_DELAY_MS}`);
    expect(delay).toBeGreaterThan(0);
    expect(delay).toBeLessThan(args.indexOf('-cp'));
  });

  it("renders each broker's properties: one quorum, RF 3, min.insync.replicas 2", async () => {
    const template = await readFile(clusterConf('kafka.properties'), 'utf8');
    const ids = new Set<string>();
    for (const node of layout.nodes) {
      const p = properties(render(template, clusterKafkaVars(layout, node)));
      ids.add(p.get('node.id')!);
      expect(p.get('controller.quorum.voters')).toBe(layout.voters);
      expect(p.get('process.roles')).toBe('broker,controller');
      expect(p.get('advertised.listeners')).toBe(`PLAINTEXT://${node.host}:9092`);
      expect(p.get('log.dirs')).toBe(node.kafka.dataDir);
      for (const key of [
        'default.replication.factor',
        'offsets.topic.replication.factor',
        'transaction.state.log.replication.factor',
      ])
        expect(p.get(key), key).toBe('3');
      expect(p.get('min.insync.replicas')).toBe('2');
      expect(p.get('transaction.state.log.min.isr')).toBe('2');
    }
    expect([...ids].sort()).toEqual(['1', '2', '3']);
  });

  it('hands the product valid settings: RF 3 everywhere, a connector bound to its node', () => {
    const worker = loadConfig({ env: {}, sets: clusterClientSettings(layout) });
    expect(worker.cassandra.contactPoints).toHaveLength(3);
    expect(worker.kafka.replicationFactor).toBe(3);
    expect(worker.cassandra.replication).toMatch(/3/);
    for (const node of layout.nodes) {
      const c = loadConfig({ env: {}, sets: clusterClientSettings(layout, node.index) });
      expect(c.cassandra.contactPoints).toEqual([`${node.host}:9042`]);
      expect(c.cdc.rawDir).toBe(node.cassandra.cdcRawDir);
    }
    expect(() => clusterClientSettings(layout, 4)).toThrow(/nodes 1 to 3, not 4/);
  });
});
