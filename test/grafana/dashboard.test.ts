/**
 * grafana/ without Grafana (AGPL, not available here): the provisioning files and dashboards are
 * valid and consistent, and every metric queried is one the code defines under that Prometheus
 * name. test/grafana/promql.cdc.int.test.ts evaluates the expressions against a real Prometheus
 * after a real run.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { dashboards, promqlExpressions, root, scoped, type Dashboard } from './dashboards.ts';

const [[, dashboard]] = [...dashboards()].filter(([f]) => f.endsWith('fanout-dashboard.json')) as [
  [string, Dashboard],
];

/** Metric names the code registers, as Prometheus exports them (counters get _total). */
function definedMetrics(): Set<string> {
  const names = new Set<string>();
  for (const file of [
    'pipeline/metrics.ts',
    'connectors/cdc/connector.ts',
    'connectors/cdc/node.ts',
    'lib/metrics.ts',
  ]) {
    const text = readFileSync(resolve(root, file), 'utf8');
    for (const m of text.matchAll(
      /create(Counter|ObservableCounter|Histogram|ObservableGauge|UpDownCounter|Gauge)\(\s*'([a-z_]+)'/g,
    )) {
      const [, kind, name] = m as unknown as [string, string, string];
      if (kind === 'Counter' || kind === 'ObservableCounter') names.add(`${name}_total`);
      else if (kind === 'Histogram')
        for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
      else names.add(name);
    }
    // Series exported outside the SDK's instruments (lib/metrics.ts): gauges.
    for (const m of text.matchAll(/^\s+name: '(fanout_[a-z_]+)',$/gm)) names.add(m[1]!);
  }
  return names;
}

const provisioned = parse(
  readFileSync(resolve(root, 'grafana/provisioning/datasources/datasources.yaml'), 'utf8'),
) as { apiVersion: number; datasources: { uid: string; type: string }[] };

describe('grafana dashboard', () => {
  it('is one valid dashboard with unique panel ids and no overlapping panels', () => {
    expect(dashboards().size).toBe(1);
    expect(dashboard.uid).toBe('fanout-pipeline');
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const cells = new Set<string>();
    for (const p of dashboard.panels) {
      const { x, y, w, h } = p.gridPos;
      expect(x + w, p.title).toBeLessThanOrEqual(24);
      for (let i = x; i < x + w; i++)
        for (let j = y; j < y + h; j++) {
          expect(cells.has(`${i},${j}`), `${p.title} overlaps at ${i},${j}`).toBe(false);
          cells.add(`${i},${j}`);
        }
    }
  });

  it('queries only metrics the code defines, on the provisioned data sources', () => {
    const defined = definedMetrics();
    const uids = new Map(provisioned.datasources.map((d) => [d.uid, d.type]));
    for (const panel of dashboard.panels) {
      if (panel.type === 'row') continue;
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      for (const t of panel.targets ?? []) {
        const ds = t.datasource ?? panel.datasource;
        expect(uids.get(ds?.uid ?? ''), `${panel.title}: data source ${ds?.uid}`).toBe(ds?.type);
        // Label names (by (...), {...}) look like metric names: leave them out.
        const names = t.expr?.replace(/\b(by|without)\s*\([^)]*\)|\{[^}]*\}/g, '');
        for (const metric of names?.match(/fanout_[a-z_]+/g) ?? [])
          expect(defined, `${panel.title}: ${metric}`).toContain(metric);
      }
    }
    expect(promqlExpressions().length).toBeGreaterThan(20);
  });

  it('has a panel for each metric the operator asks about (issue #16)', () => {
    const exprs = promqlExpressions()
      .map((e) => e.expr)
      .join('\n');
    for (const metric of [
      'fanout_partition_lag',
      'fanout_rows_written_total',
      'fanout_batch_write_duration_ms_bucket',
      'fanout_cdc_latency_ms_bucket',
      'fanout_tweet_latency_ms_bucket',
      'fanout_retries_total',
      'fanout_dead_letters_total',
      'fanout_transactions_total',
      'fanout_transactions_aborted_total',
      'fanout_cdc_transactions_total',
      'fanout_checkpoint_age_seconds',
      'fanout_cdc_raw_usage_ratio',
      'fanout_tweet_followers_remaining',
    ])
      expect(exprs, metric).toContain(metric);
  });

  it("leads from a tweet's latency to its trace: Jaeger searches and a data link to them", () => {
    const jaeger = dashboard.panels.filter((p) => p.datasource?.type === 'jaeger');
    expect(jaeger.map((p) => p.targets?.[0]?.queryType)).toEqual(['search', 'search']);
    expect(jaeger.some((p) => p.targets?.[0]?.tags === 'fanout.tweet_id=${tweet_id}')).toBe(true);
    const latency = dashboard.panels.find((p) => p.title.startsWith('Write time'));
    const url = decodeURIComponent(latency?.fieldConfig?.defaults.links?.[0]?.url ?? '');
    expect(url).toContain('"queryType":"search"');
    expect(url).toContain('"minDuration":"${__value.raw}ms"');
    // Every variable used is defined.
    const vars = new Set(dashboard.templating.list.map((v) => v.name));
    const text = JSON.stringify(dashboard);
    for (const m of text.matchAll(/\$\{([a-z_]+)[}:.]/g))
      if (!m[1]!.startsWith('__')) expect(vars, m[1]).toContain(m[1]);
  });

  it('scopes every metric selector of an expression to one instance, label lists untouched', () => {
    const at = 'instance="h:1"';
    expect(scoped('max by (fanout_component) (fanout_checkpoint_age_seconds)', at)).toBe(
      'max by (fanout_component) (fanout_checkpoint_age_seconds{instance="h:1"})',
    );
    expect(scoped('sum without (le) (rate(fanout_cdc_latency_ms_bucket[5m]))', at)).toBe(
      'sum without (le) (rate(fanout_cdc_latency_ms_bucket{instance="h:1"}[5m]))',
    );
    expect(scoped('sum(fanout_retries_total{ fanout_retry="store" }) / sum(fanout_x{})', at)).toBe(
      'sum(fanout_retries_total{instance="h:1",fanout_retry="store"}) / sum(fanout_x{instance="h:1"})',
    );
    for (const { expr } of promqlExpressions()) {
      const metrics = expr.replace(/\b(by|without)\s*\([^)]*\)|\{[^}]*\}/g, '').match(/fanout_/g);
      expect(scoped(expr, at).split(at).length - 1, expr).toBe(metrics?.length);
    }
  });

  it('provisioning: both data sources with fixed uids, a file provider', () => {
    expect(provisioned.apiVersion).toBe(1);
    expect(provisioned.datasources.map((d) => [d.uid, d.type])).toEqual([
      ['prometheus', 'prometheus'],
      ['jaeger', 'jaeger'],
    ]);
    const providers = parse(
      readFileSync(resolve(root, 'grafana/provisioning/dashboards/dashboards.yaml'), 'utf8'),
    ) as { apiVersion: number; providers: { type: string }[] };
    expect(providers.apiVersion).toBe(1);
    expect(providers.providers.map((p) => p.type)).toEqual(['file']);
  });
});
