/**
 * The launcher's observability stack against the real programs: Jaeger (built from the Go module
 * proxy, cached under <home>/tools) and Debian's Prometheus start on the offset ports with their
 * logs under the run dir, answer their APIs, Prometheus scrapes the product's metrics ports and
 * Jaeger, a second up is a no-op, down leaves no process.
 *
 * Its own fanout home and ports shifted by 21000, so the shared stack other tests use stays up;
 * the Jaeger build is shared through a symlink (built there first if needed).
 */
import { mkdir, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  JAEGER_VERSION,
  OBSERVABILITY_SERVICE_NAMES,
  servicePaths,
  servicePorts,
  servicesDown,
  servicesStatus,
  servicesUp,
  type ServicesUpOptions,
} from '../../services/launcher.ts';
import { findProcesses } from '../../services/process.ts';
import { eventually, getJson, STACK_TIMEOUT_MS } from '../telemetry/stack.ts';

const PORT_OFFSET = 21_000;
const ports = servicePorts(PORT_OFFSET);
const names = [...OBSERVABILITY_SERVICE_NAMES];
let home = '';
const options = (): ServicesUpOptions => ({
  home,
  portOffset: PORT_OFFSET,
  log: (line) => process.stderr.write(`[observability test] ${line}\n`),
});

describe('local observability stack', () => {
  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'fanout-observability-test-'));
    const tools = join(servicePaths().home, 'tools');
    await mkdir(tools, { recursive: true });
    await symlink(tools, join(home, 'tools'));
    await servicesUp(names, options());
  }, STACK_TIMEOUT_MS);

  afterAll(async () => {
    if (home === '') return;
    await servicesDown(names, options());
    await rm(home, { recursive: true, force: true }); // the symlink, not the build
  }, 60_000);

  it('runs both on the offset ports, logs under the run dir', async () => {
    const [jaeger, prometheus] = await servicesStatus(names, options());
    expect(jaeger).toMatchObject({
      state: 'running',
      port: ports.jaeger.query,
      version: JAEGER_VERSION,
    });
    expect(prometheus).toMatchObject({ state: 'running', port: ports.prometheus.http });
    const paths = servicePaths(home);
    expect(jaeger?.logFile).toBe(paths.jaeger.logFile);
    expect(await readFile(paths.jaeger.logFile, 'utf8')).toContain('Everything is ready');
    expect(await readFile(paths.prometheus.logFile, 'utf8')).toContain(
      'Server is ready to receive web requests',
    );
  });

  it("answers on Jaeger's query API and health port, and takes OTLP over HTTP", async () => {
    const base = `http://${ports.host}`;
    expect(await getJson(`${base}:${ports.jaeger.query}/api/services`)).toHaveProperty('data');
    expect(await getJson(`${base}:${ports.jaeger.health}/status`)).toMatchObject({ healthy: true });
    const otlp = await fetch(`${base}:${ports.jaeger.otlpHttp}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ resourceSpans: [] }),
    });
    expect(otlp.status).toBe(200);
  });

  it("scrapes the product's metrics ports, Jaeger and itself", async () => {
    interface Targets {
      data: { activeTargets: { scrapePool: string; scrapeUrl: string; health: string }[] };
    }
    const url = `http://${ports.host}:${ports.prometheus.http}/api/v1/targets`;
    const targets = await eventually('targets discovered and scraped once', async () => {
      const t = (await getJson<Targets>(url)).data.activeTargets;
      return t.length >= 10 && t.every((x) => x.health !== 'unknown') ? t : undefined;
    });
    const of = (pool: string): string[] =>
      targets
        .filter((t) => t.scrapePool === pool)
        .map((t) => t.scrapeUrl)
        .sort();
    expect(of('fanout')).toEqual(
      ports.productMetrics.map((p) => `http://${ports.host}:${p}/metrics`).sort(),
    );
    expect(targets.find((t) => t.scrapePool === 'jaeger')).toMatchObject({
      scrapeUrl: `http://${ports.host}:${ports.jaeger.metrics}/metrics`,
      health: 'up',
    });
    expect(targets.find((t) => t.scrapePool === 'prometheus')?.health).toBe('up');
  });

  it('does nothing on a second up: same pids', async () => {
    const before = await servicesStatus(names, options());
    await servicesUp(names, options());
    expect((await servicesStatus(names, options())).map((s) => s.pid)).toEqual(
      before.map((s) => s.pid),
    );
  });

  it('leaves no process behind after down', async () => {
    await servicesDown(names, options());
    expect((await servicesStatus(names, options())).map((s) => s.state)).toEqual([
      'stopped',
      'stopped',
    ]);
    const left = await findProcesses((argv) => argv.some((arg) => arg.includes(home)));
    expect(left.map((p) => p.pid)).toEqual([]);
  }, 60_000);
});
