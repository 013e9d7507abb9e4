/**
 * The graph lane's own instruments (meter `fanout`), besides the lane's (pipeline/metrics.ts):
 * follows and unfollows handled and the timeline rows they wrote, by op.
 */
import { metrics, type Attributes } from '@opentelemetry/api';
import { LATENCY_BUCKETS_MS } from '../../lib/metrics.ts';

export class GraphMetrics {
  readonly #attrs: Attributes;
  readonly #meter = metrics.getMeter('fanout');
  readonly #changes = this.#meter.createCounter('fanout_graph_changes', {
    description:
      'Follows and unfollows handled, counted when their last row is written (one redone after a crash counts again)',
  });
  readonly #rows = this.#meter.createCounter('fanout_graph_rows', {
    description: 'Timeline rows written by follows (backfilled tweets) and unfollows (deletes)',
  });
  readonly #duration = this.#meter.createHistogram('fanout_graph_duration_ms', {
    description: 'Admission to last row of one follow or unfollow',
    unit: 'ms',
    advice: { explicitBucketBoundaries: LATENCY_BUCKETS_MS },
  });

  constructor(worker: string) {
    this.#attrs = { 'fanout.worker': worker };
    for (const op of ['follow', 'unfollow']) {
      this.#changes.add(0, { ...this.#attrs, 'fanout.op': op });
      this.#rows.add(0, { ...this.#attrs, 'fanout.op': op });
    }
  }

  handled(op: 'follow' | 'unfollow', rows: number, durationMs: number): void {
    const attrs = { ...this.#attrs, 'fanout.op': op };
    this.#changes.add(1, attrs);
    if (rows > 0) this.#rows.add(rows, attrs);
    this.#duration.record(durationMs, attrs);
  }
}
