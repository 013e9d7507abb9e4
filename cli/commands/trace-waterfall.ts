/**
 * A Jaeger trace (the JSON of its query API) as a terminal waterfall: the span tree, each span's
 * service and worker, duration, a bar placed on the trace's time axis, its events (retries,
 * exceptions, fanout.completed) and failures. Pure: text in, text out. Long runs of siblings of
 * one operation (a 500k fan-out's sampled batches) are cut to their first and last few.
 */

/** A key/value of a span's tags, a process's tags or an event's fields. */
export interface JaegerKeyValue {
  readonly key: string;
  readonly type?: string;
  readonly value: string | number | boolean;
}

export interface JaegerSpan {
  readonly traceID: string;
  readonly spanID: string;
  readonly operationName: string;
  readonly references: readonly { refType: string; traceID: string; spanID: string }[];
  /** Microseconds since the epoch. */
  readonly startTime: number;
  /** Microseconds. */
  readonly duration: number;
  readonly tags: readonly JaegerKeyValue[];
  readonly logs: readonly { timestamp: number; fields: readonly JaegerKeyValue[] }[];
  readonly processID: string;
}

export interface JaegerTrace {
  readonly traceID: string;
  readonly spans: readonly JaegerSpan[];
  readonly processes: Readonly<
    Record<string, { serviceName: string; tags?: readonly JaegerKeyValue[] }>
  >;
}

export interface WaterfallOptions {
  /** Characters per line (default 120). */
  readonly width?: number;
  /** Siblings of one operation under one parent shown before the rest are summed up (default 8). */
  readonly maxSiblings?: number;
}

interface Node {
  readonly span: JaegerSpan;
  readonly children: Node[];
}

const tag = (
  kvs: readonly JaegerKeyValue[] | undefined,
  key: string,
): JaegerKeyValue['value'] | undefined => kvs?.find((t) => t.key === key)?.value;

/** `1.23 s`, `45.6 ms`, `789 µs`. */
export function formatMicros(us: number): string {
  if (us >= 60_000_000) return `${(us / 60_000_000).toFixed(1)} min`;
  if (us >= 1_000_000) return `${(us / 1_000_000).toFixed(2)} s`;
  if (us >= 1_000) return `${(us / 1_000).toFixed(us >= 100_000 ? 0 : 1)} ms`;
  return `${Math.round(us)} µs`;
}

function failed(span: JaegerSpan): boolean {
  return tag(span.tags, 'error') === true || tag(span.tags, 'otel.status_code') === 'ERROR';
}

/** Event names with counts: `retry×2 exception`. */
function events(span: JaegerSpan): string {
  const counts = new Map<string, number>();
  for (const log of span.logs) {
    const name = String(tag(log.fields, 'event') ?? 'event');
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return [...counts].map(([name, n]) => (n > 1 ? `${name}×${n}` : name)).join(' ');
}

function tree(trace: JaegerTrace): Node[] {
  const nodes = new Map(trace.spans.map((s) => [s.spanID, { span: s, children: [] as Node[] }]));
  const roots: Node[] = [];
  for (const node of nodes.values()) {
    const ref = node.span.references.find((r) => r.refType === 'CHILD_OF');
    const parent = ref === undefined ? undefined : nodes.get(ref.spanID);
    (parent?.children ?? roots).push(node);
  }
  const byStart = (a: Node, b: Node): number =>
    a.span.startTime - b.span.startTime || a.span.spanID.localeCompare(b.span.spanID);
  for (const node of nodes.values()) node.children.sort(byStart);
  return roots.sort(byStart);
}

/** The waterfall of `trace`, one line per span (no trailing newline). */
export function renderWaterfall(trace: JaegerTrace, options: WaterfallOptions = {}): string {
  const width = Math.max(options.width ?? 120, 60);
  const maxSiblings = Math.max(options.maxSiblings ?? 8, 2);
  if (trace.spans.length === 0) return `trace ${trace.traceID}: no spans`;
  const t0 = Math.min(...trace.spans.map((s) => s.startTime));
  const t1 = Math.max(...trace.spans.map((s) => s.startTime + s.duration));
  const total = Math.max(t1 - t0, 1);
  const service = (s: JaegerSpan): string => trace.processes[s.processID]?.serviceName ?? '?';
  /** The worker a span ran on: its own fanout.worker tag, else its nearest ancestor's in its process. */
  const workerOf = (s: JaegerSpan, inherited: string | undefined): string | undefined => {
    const own = tag(s.tags, 'fanout.worker');
    return own === undefined ? inherited : String(own);
  };

  type Row = { label: string; who: string; duration: string; notes: string; span?: JaegerSpan };
  const rows: Row[] = [];
  const bar = (s: JaegerSpan, cols: number): string => {
    const from = Math.min(Math.floor(((s.startTime - t0) / total) * cols), cols - 1);
    const to = Math.max(Math.ceil(((s.startTime + s.duration - t0) / total) * cols), from + 1);
    return (
      ' '.repeat(from) +
      '█'.repeat(Math.min(to, cols) - from) +
      ' '.repeat(cols - Math.min(to, cols))
    );
  };
  const push = (n: Node, label: string, worker: string | undefined): void => {
    const reason = tag(n.span.tags, 'fanout.span.sampled');
    const notes = [events(n.span), reason === 'slow' || reason === 'failed' ? `(${reason})` : '']
      .filter((x) => x !== '')
      .join(' ');
    rows.push({
      label: `${label}${failed(n.span) ? '✗ ' : ''}${n.span.operationName}`,
      who: worker === undefined ? service(n.span) : `${service(n.span)} w${worker}`,
      duration: formatMicros(n.span.duration),
      notes,
      span: n.span,
    });
  };
  const walk = (
    nodes: readonly Node[],
    prefix: string,
    parent: JaegerSpan,
    worker?: string,
  ): void => {
    const perOperation = new Map<string, number>();
    for (const n of nodes)
      perOperation.set(n.span.operationName, (perOperation.get(n.span.operationName) ?? 0) + 1);
    const seen = new Map<string, number>();
    const head = Math.max(maxSiblings - 2, 1);
    nodes.forEach((n, i) => {
      const op = n.span.operationName;
      const count = perOperation.get(op) ?? 0;
      const index = seen.get(op) ?? 0;
      seen.set(op, index + 1);
      const last = i === nodes.length - 1;
      const branch = last ? '└─ ' : '├─ ';
      if (count > maxSiblings && index >= head && index < count - 2) {
        if (index === head) {
          const hidden = nodes.filter((m) => m.span.operationName === op).slice(head, count - 2);
          const sum = hidden.reduce((acc, m) => acc + m.span.duration, 0);
          const slowest = Math.max(...hidden.map((m) => m.span.duration));
          rows.push({
            label: `${prefix}${branch}… ${hidden.length} more ${op}`,
            who: '',
            duration: '',
            notes: `${formatMicros(sum)} in all, slowest ${formatMicros(slowest)}`,
          });
        }
        return;
      }
      const inherited = n.span.processID === parent.processID ? worker : undefined;
      const own = workerOf(n.span, inherited);
      push(n, prefix + branch, own);
      walk(n.children, prefix + (last ? '   ' : '│  '), n.span, own);
    });
  };
  for (const root of tree(trace)) {
    const worker = workerOf(root.span, undefined);
    push(root, '', worker);
    walk(root.children, '', root.span, worker);
  }

  const labelWidth = Math.min(Math.max(...rows.map((r) => r.label.length), 4), 56);
  const whoWidth = Math.min(Math.max(...rows.map((r) => r.who.length), 7), 28);
  const durWidth = Math.max(...rows.map((r) => r.duration.length), 8);
  const barCols = Math.max(width - labelWidth - whoWidth - durWidth - 8, 10);
  const fit = (text: string, w: number): string =>
    text.length > w ? `${text.slice(0, w - 1)}…` : text.padEnd(w);
  const tweet = trace.spans.map((s) => tag(s.tags, 'fanout.tweet_id')).find((v) => v !== undefined);
  const services = [
    ...new Set(trace.spans.map((s) => trace.processes[s.processID]?.serviceName ?? '?')),
  ];
  const lines = [
    `trace ${trace.traceID}${tweet === undefined ? '' : ` of tweet ${String(tweet)}`}: ${formatMicros(total)}, ${trace.spans.length} spans, ${services.sort().join(', ')}`,
    `${' '.repeat(labelWidth + whoWidth + durWidth + 5)}|${'0'.padEnd(barCols - formatMicros(total).length)}${formatMicros(total)}|`,
  ];
  for (const r of rows) {
    const cells = `${fit(r.label, labelWidth)}  ${fit(r.who, whoWidth)} ${r.duration.padStart(durWidth)}  `;
    lines.push(
      `${cells}|${r.span ? bar(r.span, barCols) : ' '.repeat(barCols)}|${r.notes ? ` ${r.notes}` : ''}`.trimEnd(),
    );
  }
  // Spans that sampled their children carry the totals (SpanSampler.attributes).
  for (const s of trace.spans)
    for (const t of s.tags) {
      const kind = /^fanout\.(\w+)\.units$/.exec(t.key)?.[1];
      if (kind === undefined) continue;
      const n = (k: string): number => Number(tag(s.tags, `fanout.${kind}.${k}`) ?? 0);
      lines.push(
        `${s.operationName}: ${n('units')} ${kind}, ${n('spans')} with a span (${n('slow')} slow, ${n('failed')} failed)`,
      );
    }
  return lines.join('\n');
}
