/**
 * What the connector learns from the Cassandra node it reads: its identity (`system.local`
 * host_id, stable across restarts and host renames, unless `cdc.nodeId` pins one) and its CDC
 * space settings (`cdc_total_space`, `cdc_block_writes` from `system_views.settings`), which the
 * usage gauge and warning measure cdc_raw against. Both are per node, so they are asked of the
 * connector's own node, its first contact point, never of whichever node the driver would pick.
 * Errors come back classified (retriable while the node is down).
 */
import { lookup } from 'node:dns/promises';
import { metrics } from '@opentelemetry/api';
import type { Host } from 'cassandra-driver';
import type { CassandraClient } from '../cassandra/client.ts';
import { classifyCassandraError, FanoutError } from '../../lib/errors.ts';
import type { Logger } from '../../lib/log.ts';

/** The node's CDC space settings, as it reports them. */
export interface CdcSpaceSettings {
  readonly totalSpaceBytes: number;
  /** true: writes to CDC tables fail when cdc_raw is full; false: Cassandra drops old segments. */
  readonly blockWrites: boolean;
  /** commitlog_segment_size: Cassandra rejects once usage + one segment would pass the total. */
  readonly segmentBytes: number;
  /** Where the value came from, for the log. */
  readonly source: string;
}

const UNITS: Record<string, number> = {
  B: 1,
  KIB: 2 ** 10,
  MIB: 2 ** 20,
  GIB: 2 ** 30,
  TIB: 2 ** 40,
};

/** Bytes of a Cassandra data-storage setting ("2048MiB", "4GiB", "512KiB", "100B"); null if not one. */
export function parseDataStorage(text: string): number | null {
  const m = /^\s*(\d+)\s*([KMGT]?i?B)\s*$/i.exec(text);
  if (!m) return null;
  const unit = UNITS[m[2]!.toUpperCase().replace(/^([KMGT])B$/, '$1IB')];
  return unit === undefined ? null : Number(m[1]) * unit;
}

/** Query options that send a query to one node (empty: whichever node the driver picks). */
export type OwnNode = { readonly host?: Host };

/**
 * Options sending a query to the connector's own node: the host of `contactPoint` (its first).
 * With several nodes known, system.local read through the driver's load balancing would return
 * another node's host_id, and the connector would take that node's identity.
 */
export async function ownNode(
  client: Pick<CassandraClient, 'hosts'>,
  contactPoint: string | undefined,
): Promise<OwnNode> {
  const hosts = client.hosts as CassandraClient['hosts'] | undefined;
  if (hosts === undefined || hosts.length <= 1) return {};
  const m = contactPoint === undefined ? null : /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(contactPoint);
  const known = hosts.keys().join(', ');
  if (m === null)
    throw new FanoutError(
      'CDC_NODE_UNKNOWN',
      `cassandra.contactPoints has no first entry to name the connector's node (the driver knows ${known})`,
      { retriable: false },
    );
  const port = m[2] ?? '9042';
  const addresses = await lookup(m[1]!, { all: true }).catch(() => [{ address: m[1]! }]);
  for (const { address } of addresses) {
    const host = hosts.get(`${address}:${port}`) as Host | undefined;
    if (host !== undefined) return { host };
  }
  throw new FanoutError(
    'CDC_NODE_UNKNOWN',
    `the connector's node, its first contact point ${contactPoint}, is none of the nodes the driver knows (${known}): a connector must name the node whose cdc_raw it reads first in cassandra.contactPoints`,
    { retriable: false },
  );
}

/** The node's host_id, or `override` when set: the key of the source offset and transactional.id. */
export async function nodeIdentity(
  cassandra: CassandraClient,
  override: string,
  own: OwnNode = {},
): Promise<string> {
  if (override !== '') return override;
  const rs = await cassandra
    .execute('SELECT host_id FROM system.local', [], own)
    .catch((err: unknown) => {
      throw classifyCassandraError(err, "read the node's host_id");
    });
  const id = rs.rows[0]?.['host_id'] as { toString(): string } | null | undefined;
  if (id === undefined || id === null)
    throw new FanoutError('CDC_NO_NODE_ID', 'system.local has no host_id: set cdc.nodeId', {
      retriable: false,
    });
  return id.toString();
}

/**
 * cdc_total_space and cdc_block_writes of the node (`system_views.settings`, Cassandra 4.0+), or
 * `overrideMiB` (cdc.totalSpaceMiB) when not 0.
 */
export async function cdcSpaceSettings(
  cassandra: CassandraClient,
  overrideMiB: number,
  own: OwnNode = {},
): Promise<CdcSpaceSettings> {
  const rs = await cassandra
    .execute(
      "SELECT name, value FROM system_views.settings WHERE name IN ('cdc_total_space', 'cdc_total_space_in_mb', 'cdc_block_writes', 'commitlog_segment_size')",
      [],
      own,
    )
    .catch((err: unknown) => {
      throw classifyCassandraError(err, "read the node's CDC settings");
    });
  const settings = new Map(rs.rows.map((r) => [String(r['name']), String(r['value'])]));
  const blockWrites = settings.get('cdc_block_writes') !== 'false';
  const segmentBytes =
    parseDataStorage(settings.get('commitlog_segment_size') ?? '') ?? 32 * 2 ** 20;
  if (overrideMiB > 0)
    return {
      totalSpaceBytes: overrideMiB * 2 ** 20,
      blockWrites,
      segmentBytes,
      source: 'cdc.totalSpaceMiB',
    };
  const total =
    parseDataStorage(settings.get('cdc_total_space') ?? '') ??
    (settings.has('cdc_total_space_in_mb')
      ? Number(settings.get('cdc_total_space_in_mb')) * 2 ** 20
      : null);
  if (total === null || !Number.isFinite(total) || total <= 0)
    throw new FanoutError(
      'CDC_SETTINGS_UNREADABLE',
      `the node does not report cdc_total_space in system_views.settings (got ${JSON.stringify([...settings])}): set cdc.totalSpaceMiB`,
      { retriable: false },
    );
  return { totalSpaceBytes: total, blockWrites, segmentBytes, source: 'system_views.settings' };
}

/** The cdc_raw usage gauge and the warning past `cdc.warnUsageRatio`. */
export class CdcSpace {
  readonly #log: Logger;
  readonly #warnRatio: number;
  #settings: CdcSpaceSettings | undefined;
  #bytes = 0;
  #warned = false;

  constructor(log: Logger, warnRatio: number) {
    this.#log = log;
    this.#warnRatio = warnRatio;
    metrics
      .getMeter('fanout')
      .createObservableGauge('fanout_cdc_raw_usage_ratio', {
        description: "cdc_raw bytes / the node's cdc_total_space",
      })
      .addCallback((r) => {
        if (this.#settings) r.observe(this.#bytes / this.#settings.totalSpaceBytes);
      });
  }

  get settings(): CdcSpaceSettings | undefined {
    return this.#settings;
  }

  set settings(s: CdcSpaceSettings) {
    if (this.#settings?.totalSpaceBytes !== s.totalSpaceBytes)
      this.#log.info(
        `cdc_total_space ${mib(s.totalSpaceBytes)} MiB (${s.source}), cdc_block_writes ${s.blockWrites}`,
      );
    this.#settings = s;
  }

  /** cdc_raw holds `bytes` now. */
  observe(bytes: number): void {
    this.#bytes = bytes;
    const s = this.#settings;
    if (!s) return;
    // Cassandra refuses a new CDC segment once usage + one segment would pass the total: that,
    // not the total itself, is where writes stop.
    const ratio = bytes / Math.max(1, s.totalSpaceBytes - s.segmentBytes);
    if (ratio >= this.#warnRatio && !this.#warned) {
      this.#log.warn(
        `cdc_raw holds ${mib(bytes)} MiB, ${(ratio * 100).toFixed(0)}% of what cdc_total_space (${mib(s.totalSpaceBytes)} MiB, less one ${mib(s.segmentBytes)} MiB segment) holds: ${
          s.blockWrites
            ? 'Cassandra rejects writes to CDC tables when it is full'
            : 'cdc_block_writes is false: Cassandra DELETES unread segments when it is full (lost changes)'
        }`,
      );
    }
    this.#warned = ratio >= this.#warnRatio;
  }
}

const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(0);
