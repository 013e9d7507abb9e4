/**
 * The local Jaeger (v2 all-in-one, traces in memory): OTLP gRPC/HTTP in, the query API out, all
 * on 127.0.0.1. Built once from the Go module proxy (gotool.ts). A module build has no UI assets:
 * port 16686 serves a placeholder page, while `/api/services` and `/api/traces` work.
 */
import { mkdir } from 'node:fs/promises';
import type { ProgramDriver } from './driver.ts';
import { ensureJaeger, JAEGER_VERSION } from './gotool.ts';
import type { JaegerPaths, ServicePorts } from './paths.ts';
import { httpGet } from './probes.ts';
import { renderTemplate } from './templates.ts';

export function jaegerDriver(paths: JaegerPaths, home: string, ports: ServicePorts): ProgramDriver {
  const { host } = ports;
  const { otlpGrpc, otlpHttp, query, queryGrpc, health, metrics } = ports.jaeger;
  const vars = {
    host,
    otlpGrpcPort: String(otlpGrpc),
    otlpHttpPort: String(otlpHttp),
    queryPort: String(query),
    queryGrpcPort: String(queryGrpc),
    healthPort: String(health),
    metricsPort: String(metrics),
  };
  const configFlag = `--config=${paths.configYaml}`;
  return {
    kind: 'program',
    name: 'jaeger',
    title: 'Jaeger',
    version: JAEGER_VERSION,
    paths,
    host,
    clientPort: query,
    ports: [otlpGrpc, otlpHttp, query, queryGrpc, health, metrics],
    mainClass: configFlag,
    // The OTel collector's line once every pipeline and extension has started.
    readyLine: 'Everything is ready',
    defaultStartTimeoutMs: 60_000,

    install: (log) => ensureJaeger(home, log),

    async prepare(): Promise<void> {
      await Promise.all([paths.confDir, paths.logDir].map((d) => mkdir(d, { recursive: true })));
      await renderTemplate('jaeger', 'jaeger.yaml', paths.configYaml, vars);
    },

    args: () => [configFlag],

    async probe(): Promise<void> {
      await httpGet(`http://${host}:${query}/api/services`);
    },
  };
}
