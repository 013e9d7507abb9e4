import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const dashboard = JSON.parse(
  readFileSync(resolve(root, 'grafana/fanout-dashboard.json'), 'utf8'),
) as {
  uid: string;
  panels: Array<{ id: number; title: string; targets: Array<{ expr: string }> }>;
};

/** Metric names the code registers (counters are exported by Prometheus with a _total suffix). */
function definedMetrics(): Set<string> {
  const names = new Set<string>();
  for (const file of [
    'pipeline/metrics.ts',
    'connectors/cdc/connector.ts',
    'connectors/cdc/node.ts',
  ]) {
    const text = readFileSync(resolve(root, file), 'utf8');
    for (const m of text.matchAll(
      /create(Counter|Histogram|ObservableGauge|UpDownCounter|Gauge)\('([a-z_]+)'/g,
    )) {
      const [, kind, name] = m as unknown as [string, string, string];
      if (kind === 'Counter') names.add(`${name}_total`);
      else if (kind === 'Histogram') names.add(`${name}_bucket`);
      else names.add(name);
    }
  }
  return names;
}

describe('grafana dashboard', () => {
  it('is valid JSON with unique panel ids, each panel querying metrics the code defines', () => {
    expect(dashboard.uid).toBe('fanout-pipeline');
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const defined = definedMetrics();
    for (const panel of dashboard.panels) {
      expect(panel.targets.length, panel.title).toBeGreaterThan(0);
      for (const t of panel.targets) {
        for (const metric of t.expr.match(/fanout_[a-z_]+/g) ?? []) {
          expect(defined, `${panel.title}: ${metric}`).toContain(metric);
        }
      }
    }
  });
});
