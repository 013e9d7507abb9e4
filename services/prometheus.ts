/**
 * The local Prometheus (Debian's package, run as a plain process on 127.0.0.1) with a generated
 * scrape configuration: the product's metrics ports (config/ports.ts), Jaeger, itself.
 */
import { constants } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import type { ProgramDriver } from './driver.ts';
import { ServiceError } from './errors.ts';
import { PROMETHEUS_VERSION } from './paths.ts';
import type { PrometheusPaths, ServicePorts } from './paths.ts';
import { httpGet } from './probes.ts';
import { renderTemplate } from './templates.ts';

/** The `prometheus` executable on PATH (Debian puts it in /usr/bin). */
export async function findPrometheus(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const dirs = [...(env['PATH'] ?? '').split(delimiter).filter((d) => d !== ''), '/usr/bin'];
  for (const dir of dirs) {
    const candidate = join(dir, 'prometheus');
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  throw new ServiceError(
    'PROMETHEUS_NOT_FOUND',
    'prometheus not found on PATH: run scripts/toolchain.sh --observability (Debian: apt-get install prometheus)',
  );
}

export function prometheusDriver(paths: PrometheusPaths, ports: ServicePorts): ProgramDriver {
  const { host } = ports;
  const port = ports.prometheus.http;
  const vars = {
    host,
    port: String(port),
    jaegerMetricsPort: String(ports.jaeger.metrics),
    productTargets: JSON.stringify(ports.productMetrics.map((p) => `${host}:${p}`)),
  };
  const configFlag = `--config.file=${paths.configYaml}`;
  return {
    kind: 'program',
    name: 'prometheus',
    title: 'Prometheus',
    version: PROMETHEUS_VERSION,
    paths,
    host,
    clientPort: port,
    ports: [port],
    mainClass: configFlag,
    readyLine: 'Server is ready to receive web requests',
    defaultStartTimeoutMs: 60_000,

    install: () => findPrometheus(),

    async prepare(): Promise<void> {
      const dirs = [paths.confDir, paths.dataDir, paths.logDir];
      await Promise.all(dirs.map((d) => mkdir(d, { recursive: true })));
      await renderTemplate('prometheus', 'prometheus.yml', paths.configYaml, vars);
    },

    args: () => [
      configFlag,
      `--storage.tsdb.path=${paths.dataDir}`,
      `--web.listen-address=${host}:${port}`,
      '--storage.tsdb.retention.time=7d',
    ],

    async probe(): Promise<void> {
      await httpGet(`http://${host}:${port}/-/ready`);
    },
  };
}
