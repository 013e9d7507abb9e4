/**
 * docker-compose.yml and the Dockerfile cannot run here (no Docker engine): this checks what can
 * be checked without one. Every service is there with a healthcheck; the product's environment is
 * a valid configuration naming the other services at the ports they listen on; cdc_raw is on the
 * volume Cassandra writes it to; Prometheus scrapes every product container on its metrics port;
 * Grafana mounts the provisioning this repository holds; the Dockerfile builds librdkafka with the
 * packages and settings scripts/toolchain.sh uses.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { leaves, loadConfig } from '../../config/index.ts';
import { extraEnv } from '../../config/schema.ts';
import { JAEGER_VERSION } from '../../services/gotool.ts';

const root = resolve(import.meta.dirname, '../..');
const read = (file: string): string => readFileSync(resolve(root, file), 'utf8');

interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  user?: string;
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  profiles?: string[];
}
const compose = parse(read('docker-compose.yml'), { merge: true }) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
};
// The default stack; the `cluster` profile's services are checked on their own below.
const services = Object.fromEntries(
  Object.entries(compose.services).filter(([, s]) => s.profiles === undefined),
);
const cluster = Object.fromEntries(
  Object.entries(compose.services).filter(([, s]) => s.profiles?.includes('cluster')),
);
const product = Object.entries(services).filter(([, s]) => s.build !== undefined);
const running = product.filter(([name]) => name !== 'schema');
const svc = (name: string): Service => {
  const s = services[name];
  if (s === undefined) throw new Error(`docker-compose.yml has no service ${name}`);
  return s;
};
const hostPort = (value: string): { host: string; port: number } => {
  const m = /^(?:[a-z]+:\/\/)?([^:/]+):(\d+)/.exec(value);
  if (!m) throw new Error(`${value} is not host:port`);
  return { host: m[1]!, port: Number(m[2]) };
};
/** Container ports a service publishes (`127.0.0.1:9464:9464` → 9464). */
const published = (s: Service): number[] => (s.ports ?? []).map((p) => Number(p.split(':').pop()));

describe('docker-compose.yml', () => {
  it('has the whole stack, each long-running service with a healthcheck', () => {
    expect(Object.keys(services).sort()).toEqual(
      [
        'cassandra',
        'fanout',
        'fanout-worker',
        'grafana',
        'jaeger',
        'kafka',
        'prometheus',
        'schema',
      ].sort(),
    );
    for (const [name, s] of Object.entries(services))
      if (name !== 'schema') expect(s.healthcheck?.test, name).toBeDefined();
    expect(svc('schema').command).toEqual(['schema', 'apply']);
    for (const [name, s] of running)
      expect(s.depends_on?.schema?.condition, name).toBe('service_completed_successfully');
    expect(running.map(([, s]) => s.command?.[0]).sort()).toEqual(['run', 'worker']);
  });

  it('gives the product an environment that is a valid configuration, every name a schema env var', () => {
    const known = new Set([...[...leaves.values()].map((l) => l.env), ...extraEnv]);
    for (const [name, s] of product) {
      const env = s.environment ?? {};
      for (const key of Object.keys(env)) expect(known, `${name}: ${key}`).toContain(key);
      const config = loadConfig({ env });
      expect(config.telemetry.prometheusHost, name).toBe('0.0.0.0');
      expect(config.log.format).toBe('json');
    }
  });

  it('points the product at the services, on the ports they listen on', () => {
    for (const [name, s] of product) {
      const config = loadConfig({ env: s.environment ?? {} });
      const kafka = hostPort(config.kafka.brokers[0]!);
      expect(kafka.host, name).toBe('kafka');
      expect(svc('kafka').environment?.KAFKA_ADVERTISED_LISTENERS).toContain(
        `://kafka:${kafka.port}`,
      );
      const cassandra = hostPort(config.cassandra.contactPoints[0]!);
      expect(cassandra).toEqual({ host: 'cassandra', port: 9042 });
      expect(read('docker/cassandra.yaml')).toMatch(/^native_transport_port: 9042$/m);
      const otlp = hostPort(config.telemetry.otlpEndpoint);
      expect(otlp).toEqual({ host: 'jaeger', port: 4318 });
    }
  });

  it('mounts the volume holding cdc_raw into the connector, where Cassandra writes it (CDC on)', () => {
    const yaml = parse(read('docker/cassandra.yaml')) as Record<string, unknown>;
    expect(yaml.cdc_enabled).toBe(true);
    const rawDir = String(yaml.cdc_raw_directory);
    const mountOf = (s: Service, path: string): string | undefined =>
      (s.volumes ?? [])
        .map((v) => v.split(':'))
        .find(([, target]) => target !== undefined && path.startsWith(`${target}/`))?.[0];
    const volume = mountOf(svc('cassandra'), rawDir);
    expect(volume, 'cassandra mounts cdc_raw from a named volume').toBeDefined();
    expect(Object.keys(compose.volumes)).toContain(volume);
    const connector = svc('fanout');
    const config = loadConfig({ env: connector.environment ?? {} });
    expect(config.cdc.rawDir).toBe(rawDir);
    expect(mountOf(connector, config.cdc.rawDir)).toBe(volume);
    // The connector deletes committed segments, which belong to the cassandra user.
    expect(connector.user).toBe('999:999');
  });

  it("development.md's Docker section points no host process at a cdc_raw the stack does not mount from the host", () => {
    const docker = /\*\*With Docker\*\*[\s\S]*?\n## /.exec(read('docs/development.md'))?.[0] ?? '';
    expect(docker).not.toBe('');
    // `~/.cache/fanout/docker/cassandra` and the like: where a host process would read cdc_raw.
    const hostDirs = [...docker.matchAll(/(?:~|\$HOME)(\/[\w./-]*cassandra)\b/g)].map((m) => m[1]!);
    const bindMounts = (svc('cassandra').volumes ?? []).map((v) => v.split(':')[0]!);
    for (const dir of hostDirs)
      expect(
        bindMounts.some((m) => m.endsWith(dir.replace(/\/cdc_raw$/, ''))),
        dir,
      ).toBe(true);
  });

  it('lets Prometheus scrape every product container on its metrics port, and Jaeger', () => {
    const prom = parse(read('docker/prometheus.yml')) as {
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
    };
    const targets = (job: string): string[] =>
      prom.scrape_configs
        .find((c) => c.job_name === job)
        ?.static_configs.flatMap((c) => c.targets) ?? [];
    const expected = running.map(([name, s]) => {
      const port = loadConfig({ env: s.environment ?? {} }).telemetry.prometheusPort;
      expect(published(s), name).toContain(port);
      return `${name}:${port}`;
    });
    expect(targets('fanout').sort()).toEqual(expected.sort());
    expect(targets('jaeger')).toEqual(['jaeger:8888']);
    expect(svc('prometheus').volumes).toContain(
      './docker/prometheus.yml:/etc/prometheus/prometheus.yml:ro',
    );
  });

  it('runs the Jaeger release of the module version the launcher builds, with the UI published', () => {
    // Jaeger releases v1.N.0 of the Go module together with v2.(N-63).0 images (v1.74.0 / v2.11.0).
    const minor = Number(JAEGER_VERSION.split('.')[1]);
    expect(svc('jaeger').image).toBe(`jaegertracing/jaeger:2.${minor - 63}.0`);
    expect(published(svc('jaeger'))).toEqual(expect.arrayContaining([16686, 4318]));
  });

  it('provisions Grafana from grafana/: data sources of the services, the dashboards folder, the home dashboard', () => {
    const g = svc('grafana');
    expect(g.volumes).toEqual(
      expect.arrayContaining([
        './grafana/provisioning:/etc/grafana/provisioning:ro',
        './grafana/dashboards:/var/lib/grafana/dashboards:ro',
      ]),
    );
    const providers = parse(read('grafana/provisioning/dashboards/dashboards.yaml')) as {
      providers: { options: { path: string } }[];
    };
    expect(providers.providers.map((p) => p.options.path)).toEqual(['/var/lib/grafana/dashboards']);
    const home = g.environment?.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH ?? '';
    expect(home.startsWith('/var/lib/grafana/dashboards/')).toBe(true);
    expect(() => read(`grafana/dashboards/${home.split('/').pop()}`)).not.toThrow();
    const sources = parse(read('grafana/provisioning/datasources/datasources.yaml')) as {
      datasources: { uid: string; url: string }[];
    };
    for (const ds of sources.datasources) {
      const { host, port } = hostPort(ds.url);
      expect(published(svc(host)), ds.uid).toContain(port);
    }
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  const toolchain = read('scripts/toolchain.sh');
  const buildStage = dockerfile.slice(0, dockerfile.indexOf('AS runtime'));
  /** Packages of every `apt-get install` in `text` (continuation lines joined first). */
  const aptIn = (text: string): string[] =>
    [...text.replace(/\\\n/g, ' ').matchAll(/apt-get install ([^&\n]*)/g)]
      .flatMap((m) => m[1]!.trim().split(/\s+/))
      .filter((w) => !w.startsWith('-'));

  it('builds with exactly the Debian packages scripts/toolchain.sh installs', () => {
    const script = /apt_pkgs=\(([^)]*)\)/.exec(toolchain)?.[1]?.trim().split(/\s+/) ?? [];
    expect(script.length).toBeGreaterThan(5);
    expect(aptIn(buildStage).sort()).toEqual([...script].sort());
  });

  it('builds librdkafka the same way: dynamic linking, npm ci, a Node the package accepts', () => {
    expect(toolchain).toContain('export CKJS_LINKING=dynamic');
    expect(buildStage).toMatch(/ENV CKJS_LINKING=dynamic/);
    expect(toolchain).toMatch(/npm ci /);
    expect(buildStage).toMatch(/RUN npm ci /);
    const node = Number(/ARG NODE_IMAGE=node:(\d+)-/.exec(dockerfile)?.[1]);
    const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines;
    expect(engines.node).toBe('>=22.18');
    expect(node).toBeGreaterThanOrEqual(23);
  });

  it('ships the runtime halves of the -dev packages and every source folder the CLI imports', () => {
    const runtime = aptIn(dockerfile.slice(dockerfile.indexOf('AS runtime')));
    const runtimeOf: Record<string, string> = {
      'libssl-dev': 'libssl3',
      'zlib1g-dev': 'zlib1g',
      'libzstd-dev': 'libzstd1',
      'libcurl4-openssl-dev': 'libcurl4',
      'libsasl2-dev': 'libsasl2-2',
      'liblz4-dev': 'liblz4-1',
    };
    for (const dev of aptIn(buildStage).filter((p) => p.endsWith('-dev')))
      expect(runtime, dev).toContain(runtimeOf[dev]);
    for (const dir of [
      'config',
      'lib',
      'ports',
      'records',
      'connectors',
      'pipeline',
      'services',
      'cli',
    ])
      expect(buildStage).toContain(`COPY ${dir} ./${dir}`);
    expect(dockerfile).toMatch(/ENTRYPOINT \["node", "\/app\/cli\/main.ts"\]/);
  });
});

describe("docker-compose.yml's cluster profile", () => {
  const node = (name: string): Service => {
    const s = cluster[name];
    if (s === undefined) throw new Error(`the cluster profile has no service ${name}`);
    return s;
  };
  const env = (name: string): Record<string, string> => node(name).environment ?? {};

  it('has 3 Cassandra nodes, 3 brokers, the schema, a connector per node and two workers', () => {
    expect(Object.keys(cluster).sort()).toEqual(
      [
        ...['cassandra-1', 'cassandra-2', 'cassandra-3', 'kafka-1', 'kafka-2', 'kafka-3'],
        ...['cdc-1', 'cdc-2', 'cdc-3', 'schema-cluster', 'worker-c1', 'worker-c2'],
      ].sort(),
    );
    // Cassandra joins one node at a time.
    expect(node('cassandra-2').depends_on?.['cassandra-1']?.condition).toBe('service_healthy');
    expect(node('cassandra-3').depends_on?.['cassandra-2']?.condition).toBe('service_healthy');
    for (const n of [1, 2, 3]) {
      expect(env(`cassandra-${n}`)['CASSANDRA_SEEDS']).toBe('cassandra-1,cassandra-2,cassandra-3');
      expect(node(`cassandra-${n}`).healthcheck).toBeDefined();
    }
  });

  it('runs the brokers as one KRaft quorum at RF 3, min.insync.replicas 2', () => {
    const ids = new Set<string>();
    for (const n of [1, 2, 3]) {
      const e = env(`kafka-${n}`);
      ids.add(e['KAFKA_NODE_ID']!);
      expect(e['KAFKA_CONTROLLER_QUORUM_VOTERS']).toBe(
        '1@kafka-1:9093,2@kafka-2:9093,3@kafka-3:9093',
      );
      expect(e['KAFKA_ADVERTISED_LISTENERS']).toBe(`INTERNAL://kafka-${n}:29092`);
      expect(e['KAFKA_DEFAULT_REPLICATION_FACTOR']).toBe('3');
      expect(e['KAFKA_MIN_INSYNC_REPLICAS']).toBe('2');
      expect(e['KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR']).toBe('3');
      expect(e['KAFKA_TRANSACTION_STATE_LOG_MIN_ISR']).toBe('2');
      expect(e['KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR']).toBe('3');
    }
    expect([...ids].sort()).toEqual(['1', '2', '3']);
  });

  it('gives every product container a valid RF 3 configuration; each connector its own node and volume', () => {
    const known = new Set([...[...leaves.values()].map((l) => l.env), ...extraEnv]);
    for (const name of ['schema-cluster', 'cdc-1', 'cdc-2', 'cdc-3', 'worker-c1', 'worker-c2']) {
      for (const key of Object.keys(env(name))) expect(known, `${name}: ${key}`).toContain(key);
      const config = loadConfig({ env: env(name) });
      expect(config.cassandra.replication, name).toMatch(/3/);
      expect(config.kafka.replicationFactor, name).toBe(3);
      expect(config.kafka.brokers, name).toHaveLength(3);
    }
    for (const n of [1, 2, 3]) {
      const c = node(`cdc-${n}`);
      const config = loadConfig({ env: env(`cdc-${n}`) });
      expect(c.command).toEqual(['cdc']);
      expect(config.cassandra.contactPoints).toEqual([`cassandra-${n}:9042`]);
      expect(config.cdc.nodeId, 'identity from the node (host_id)').toBe('');
      const volume = `cassandra-${n}-data`;
      expect(c.volumes).toContain(`${volume}:/var/lib/cassandra`);
      expect(node(`cassandra-${n}`).volumes).toContain(`${volume}:/var/lib/cassandra`);
      expect(config.cdc.rawDir.startsWith('/var/lib/cassandra/')).toBe(true);
      expect(Object.keys(compose.volumes)).toContain(volume);
    }
    expect(loadConfig({ env: env('worker-c1') }).cassandra.contactPoints).toHaveLength(3);
  });
});
