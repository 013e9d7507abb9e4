/**
 * Every PromQL expression of grafana/**\/*.json returns data from the local Prometheus (issue #16:
 * names checked against a real scrape, not grepped): a process exports every instrument the
 * dashboards query on one of the product's metrics ports, the launcher's Prometheus scrapes it,
 * and each expression is evaluated through the HTTP API until it returns a series.
 */
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { portOffsetFromEnv } from '../../config/ports.ts';
import {
  eventually,
  getJson,
  observabilityStack,
  runProgram,
  STACK_TIMEOUT_MS,
  type ObservabilityStack,
} from '../telemetry/stack.ts';
import { promqlExpressions } from './dashboards.ts';

interface QueryResult {
  status: string;
  data: {
    resultType: string;
    result: { metric: Record<string, string>; value: [number, string] }[];
  };
}

let stack: ObservabilityStack;
let program: ReturnType<typeof runProgram> | undefined;
let port: number;

beforeAll(async () => {
  stack = await observabilityStack();
  let announced: (p: number) => void = () => undefined;
  const seen = new Promise<number>((r) => (announced = r));
  program = runProgram(
    resolve(import.meta.dirname, 'programs/metrics.ts'),
    [String(portOffsetFromEnv())],
    (line) => {
      const m = /^port (\d+)$/.exec(line);
      if (m) announced(Number(m[1]));
    },
  );
  port = await Promise.race([
    seen,
    program.done.then(() => {
      throw new Error('the metrics program exited before it served metrics');
    }),
  ]);
}, STACK_TIMEOUT_MS);

afterAll(async () => {
  program?.kill();
  await program?.done;
});

const query = (expr: string): Promise<QueryResult> =>
  getJson<QueryResult>(`${stack.prometheus}/api/v1/query?query=${encodeURIComponent(expr)}`);

describe('the dashboards against a real Prometheus', () => {
  it('scrapes the metrics process through the generated scrape config', async () => {
    const instance = `${stack.ports.host}:${port}`;
    await eventually(`Prometheus scraping ${instance}`, async () => {
      const r = await query(`up{job="fanout",instance="${instance}"}`);
      return r.data.result[0]?.value[1] === '1' ? true : undefined;
    });
  });

  it('gets data for every PromQL expression of grafana/**/*.json', async () => {
    const exprs = promqlExpressions();
    expect(exprs.length).toBeGreaterThan(20);
    const empty = new Map(exprs.map((e) => [e.expr, e]));
    // rate() needs two scrapes in its window; the scrape interval is 5 s.
    await eventually(
      'data for every expression',
      async () => {
        for (const expr of [...empty.keys()]) {
          const r = await query(expr);
          expect(r.status).toBe('success');
          if (r.data.result.length > 0) empty.delete(expr);
        }
        return empty.size === 0 ? true : undefined;
      },
      90_000,
    ).catch((error: unknown) => {
      const list = [...empty.values()].map((e) => `  ${e.file} "${e.panel}" ${e.refId}: ${e.expr}`);
      throw new Error(`${(error as Error).message}; no data for:\n${list.join('\n')}`);
    });
  });
});
