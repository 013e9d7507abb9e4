/** The Grafana dashboards of grafana/ and every query in them, for the unit and the PromQL tests. */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

export const root = resolve(import.meta.dirname, '../..');

export interface Target {
  readonly refId: string;
  readonly datasource?: { type: string; uid: string };
  readonly expr?: string;
  readonly queryType?: string;
  readonly service?: string;
  readonly operation?: string;
  readonly tags?: string;
}
export interface Panel {
  readonly id: number;
  readonly type: string;
  readonly title: string;
  readonly datasource?: { type: string; uid: string };
  readonly gridPos: { h: number; w: number; x: number; y: number };
  readonly targets?: readonly Target[];
  readonly fieldConfig?: { defaults: { links?: { url: string }[] } };
}
export interface Dashboard {
  readonly uid: string;
  readonly title: string;
  readonly panels: readonly Panel[];
  readonly templating: { list: { name: string }[] };
}

/** Every dashboard JSON under grafana/, by path relative to the repository. */
export function dashboards(): Map<string, Dashboard> {
  const out = new Map<string, Dashboard>();
  const dir = join(root, 'grafana');
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile() || !e.name.endsWith('.json')) continue;
    const path = join(e.parentPath, e.name);
    out.set(relative(root, path), JSON.parse(readFileSync(path, 'utf8')) as Dashboard);
  }
  return out;
}

/** One PromQL expression of a panel. */
export interface Expression {
  readonly file: string;
  readonly panel: string;
  readonly refId: string;
  readonly expr: string;
}

/** Every PromQL expression in grafana/**\/*.json (targets of Prometheus panels). */
export function promqlExpressions(): Expression[] {
  const out: Expression[] = [];
  for (const [file, d] of dashboards())
    for (const p of d.panels)
      for (const t of p.targets ?? [])
        if ((t.datasource ?? p.datasource)?.type === 'prometheus' && t.expr !== undefined)
          out.push({ file, panel: p.title, refId: t.refId, expr: t.expr });
  return out;
}

/**
 * `expr` with `matcher` (e.g. `instance="127.0.0.1:9464"`) added to every fanout_* selector, so
 * only one process's series can answer it. Label lists of `by (…)` / `without (…)` are skipped:
 * their label names look like metric names.
 */
export function scoped(expr: string, matcher: string): string {
  return expr.replace(
    /\b(?:by|without)\s*\([^)]*\)|\b(fanout_[a-z0-9_]+)(?:\{([^}]*)\})?/g,
    (whole, name: string | undefined, labels: string | undefined) =>
      name === undefined
        ? whole
        : `${name}{${[matcher, labels?.trim()].filter((l) => l !== undefined && l !== '').join(',')}}`,
  );
}
