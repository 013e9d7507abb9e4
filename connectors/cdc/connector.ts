/**
 * The CDC source connector: Cassandra commit-log segments in cdc_raw → change events in Kafka,
 * exactly once.
 *
 * Loop: resume from the source offset committed in Kafka; read each segment up to the durable
 * offset its `_cdc.idx` announces; decode the entries into change events; produce them in Kafka
 * transactions that also move the source offset; delete a segment's files only after the
 * transaction covering its last entry committed and Cassandra marked it COMPLETED. Wakes on fs
 * events in cdc_raw, with a poll as fallback. On a retriable failure (Kafka or Cassandra down, at
 * start too) it drops the producer, waits (retry.outageBudgetMs, then it fails loudly), re-reads
 * the committed offset (the only truth) and goes on from there. Its identity is the node's host_id
 * (./node.ts) unless cdc.nodeId pins one.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { setImmediate as nextTurn, setTimeout as delay } from 'node:timers/promises';
import type { Config } from '../../config/index.ts';
import type { CassandraClient } from '../cassandra/client.ts';
import { classifyCassandraError, FanoutError } from '../../lib/errors.ts';
import type { KafkaAdmin } from '../kafka/admin.ts';
import { ensureTopics } from '../kafka/topics.ts';
import { Lifecycle, type LifecycleState } from '../../lib/lifecycle.ts';
import type { Logger } from '../../lib/log.ts';
import { Outage } from '../../lib/retry.ts';
import {
  corruptSection,
  quarantine,
  segmentProblem,
  type SegmentFile,
  type SegmentProblem,
} from './corrupt.ts';
import {
  cdcSpaceSettings,
  CdcSpace,
  nodeIdentity,
  ownNode,
  type CdcSpaceSettings,
  type OwnNode,
} from './node.ts';
import { decodeMutationEvents, type ChangeEvent } from './events.ts';
import { skippedTable } from './mutation.ts';
import { CdcTracing } from './tracing.ts';
import { CdcSink, compareOffsets, type SourceOffset } from './producer.ts';
import { loadSchema, type CdcSchema } from './schema.ts';
import {
  cdcIndexFileName,
  iterateSegment,
  loadSegmentFile,
  mergeCdcIndex,
  parseSegmentFileName,
  parseSegmentHeader,
  readCdcIndex,
  segmentFileName,
  type CdcIndex,
  type FileVersion,
  type SegmentResume,
} from './segment.ts';
import { cdcTopic } from '../../config/index.ts';

export interface ConnectorDeps {
  config: Config;
  /** Unused (the connector opens its own producer); accepted until its callers stop passing it. */
  kafka?: unknown;
  admin: KafkaAdmin;
  cassandra: CassandraClient;
  log: Logger;
  /** Called after each committed transaction (tests, progress). */
  onCommit?: (offset: SourceOffset, events: number) => void;
}

/** What reading a segment came to (see CdcConnector.#readSegment). */
interface SegmentOutcome {
  done: boolean;
  committed: boolean;
  gone?: boolean;
}

/** How long an idx may stay unchanged, with a newer segment present, before it is retired. */
const RETIRE_AFTER_MS = 5_000;
/** Longest synchronous stretch of a segment read before it lets the event loop run. */
const YIELD_EVERY_MS = 5;
/** Least time between two schema reads: a burst of unknown-table entries is not a burst of reads. */
const SCHEMA_READ_EVERY_MS = 1_000;

export class CdcConnector {
  readonly #lifecycle = new Lifecycle('CDC connector');
  readonly #deps: ConnectorDeps;
  #sink: CdcSink | undefined;
  #trace: CdcTracing | undefined;
  /** The node's identity: its host_id, or cdc.nodeId (known once resumed). */
  #nodeId: string | undefined;
  readonly #space: CdcSpace;
  readonly #log: Logger;
  #schema: CdcSchema | undefined;
  /** When the read of the schema in use started (performance.now()). */
  #schemaReadAt = -Infinity;
  /** The node whose cdc_raw is read: schema, identity and settings are asked of it (./node.ts). */
  #own: OwnNode = {};
  #offset: SourceOffset = { segmentId: -1n, position: 0 };
  readonly #indexes = new Map<bigint, { idx: CdcIndex | null; changedAt: number }>();
  /**
   * Segments with a corrupt stretch or an unreadable header dead-lettered in a committed
   * transaction (reported once per run; moved to cdc.errorDir when deleted).
   */
  readonly #corrupt = new Set<bigint>();
  /**
   * Per segment: where reading stopped for good at a corrupt stretch whose dead letter committed.
   * Each pass reads up to it again; it is dead-lettered and logged once, not once per poll.
   */
  readonly #stoppedAt = new Map<bigint, number>();
  /** Per uncompressed segment: where its next read can start (see SegmentResume). */
  readonly #resumeAt = new Map<bigint, SegmentResume>();
  #wake: (() => void) | undefined;
  #watcher: FSWatcher | undefined;
  #closing: Promise<void> | undefined;
  #run: Promise<void> | undefined;
  readonly #stop = new AbortController();
  #markReady: () => void = () => undefined;
  /** Settles once the connector has resumed from its committed offset and is reading. */
  readonly ready: Promise<void> = new Promise((resolve) => {
    this.#markReady = resolve;
  });

  constructor(deps: ConnectorDeps) {
    this.#deps = deps;
    this.#log = deps.log.child('cdc');
    this.#space = new CdcSpace(this.#log, deps.config.cdc.warnUsageRatio);
  }

  /** The node's cdc_total_space and cdc_block_writes as last read (undefined before the start). */
  get space(): CdcSpaceSettings | undefined {
    return this.#space.settings;
  }

  /** The node identity in use (undefined until the connector has resumed once). */
  get nodeId(): string | undefined {
    return this.#nodeId;
  }

  get state(): LifecycleState {
    return this.#lifecycle.state;
  }

  /** The source offset committed last (in memory). */
  get offset(): SourceOffset {
    return this.#offset;
  }

  /** Starts the loop; the promise settles when the connector stops (rejects if it failed). */
  start(): Promise<void> {
    if (this.#closing && !this.#run) return this.#closing; // closed before it started
    this.#run ??= this.#main();
    return this.#run;
  }

  /** Stops after the transaction in progress; safe to call twice (same promise). */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#lifecycle.is('starting', 'running')) this.#lifecycle.drain();
      this.#stop.abort();
      this.#wake?.();
      await this.#run?.catch(() => undefined);
      this.#watcher?.close();
      await this.#sink?.close();
      this.#trace?.close();
      if (!this.#lifecycle.is('failed')) this.#lifecycle.stopped();
    })();
    return this.#closing;
  }

  async #main(): Promise<void> {
    const { config } = this.#deps;
    // One outage clock for the whole loop: the start (Kafka or Cassandra down), a schema re-read,
    // a pass; any success ends the outage, a budget spent ends the connector (loudly).
    const outage = new Outage(config.retry, { what: 'CDC connector', log: this.#log });
    let resumed = false;
    try {
      while (!this.#stop.signal.aborted) {
        let progressed = false;
        try {
          if (!resumed) {
            await this.#resume();
            resumed = true;
            if (!this.#watcher) this.#watch();
            if (this.#lifecycle.is('starting')) this.#lifecycle.started(); // else closed meanwhile
            this.#markReady();
          }
          progressed = await this.#pass();
          outage.succeeded();
        } catch (err) {
          if (!(err instanceof FanoutError) || !err.retriable) throw err;
          const delay = outage.failed(err);
          await this.#sink?.reset();
          await this.#sleep(delay);
          resumed = false; // the committed offset is the truth after any failure
          continue;
        }
        if (!progressed) await this.#sleep(config.cdc.pollIntervalMs);
      }
    } catch (err) {
      this.#lifecycle.fail();
      this.#log.error(`CDC connector failed: ${(err as Error).message}`);
      throw err;
    }
  }

  /** Reads the committed offset (the truth after any failure) and the schema. */
  async #resume(): Promise<void> {
    const { config, cassandra } = this.#deps;
    const own = await ownNode(cassandra, config.cassandra.contactPoints[0]);
    this.#own = own;
    if (this.#nodeId === undefined) {
      const nodeId = await nodeIdentity(cassandra, config.cdc.nodeId, own);
      this.#nodeId = nodeId;
      this.#sink = new CdcSink(config, this.#log, nodeId);
      this.#trace = new CdcTracing(nodeId);
      this.#log.info(
        `node identity ${nodeId} (${config.cdc.nodeId === '' ? 'host_id from system.local' : 'cdc.nodeId'})`,
      );
    }
    const sink = this.#sink!;
    this.#space.settings = await cdcSpaceSettings(cassandra, config.cdc.totalSpaceMiB, own);
    await this.#refreshSchema(true); // also creates the offsets topic on a first run
    await sink.open();
    let committed = await sink.committedOffset();
    if (committed === null && config.cdc.nodeId === '') {
      // Before identities came from host_id the default was the host name: take its offset over.
      committed = await sink.committedOffset(hostname());
      if (committed !== null)
        this.#log.warn(
          `resuming from the offset committed under the host name ${hostname()} (the identity before host_id)`,
        );
    }
    if (committed === null && this.#deps.config.cdc.startFrom === 'latest') {
      // Persist where "latest" was at once: a crash before the first event transaction must
      // resume here, not at a new "latest" that would skip what was written in between.
      const start = await this.#latest();
      await sink.commit([], start);
      this.#offset = start;
    } else {
      this.#offset = committed ?? { segmentId: -1n, position: 0 };
    }
    this.#log.info(
      `resuming after segment ${this.#offset.segmentId} position ${this.#offset.position}`,
    );
  }

  /** The current end of cdc_raw: where a `startFrom: latest` connector begins on its first run. */
  async #latest(): Promise<SourceOffset> {
    const segments = await this.#listSegments();
    for (const seg of segments.reverse()) {
      const idx = await readCdcIndex(seg.idx);
      if (idx) return { segmentId: seg.id, position: idx.offset };
    }
    return { segmentId: -1n, position: 0 };
  }

  /**
   * Reads the schema from the connector's own node; unless `force`, no sooner than
   * SCHEMA_READ_EVERY_MS after the previous read started (it waits, it does not skip: a skipped
   * read left a write to a column added just after a read on the dead-letter topic).
   */
  async #refreshSchema(force: boolean): Promise<void> {
    const wait = this.#schemaReadAt + SCHEMA_READ_EVERY_MS - performance.now();
    if (!force && wait > 0)
      await delay(wait, undefined, { signal: this.#stop.signal }).catch(() => undefined);
    const startedAt = performance.now();
    this.#schema = await loadSchema(this.#deps.cassandra, this.#own).catch((err: unknown) => {
      throw classifyCassandraError(err, 'read the schema');
    });
    this.#schemaReadAt = startedAt;
    const { config } = this.#deps;
    const topics = [...this.#schema.tables.values()]
      .filter((t) => t.cdc && config.cdc.keyspaces.includes(t.keyspace))
      .map((t) => ({
        topic: cdcTopic(config.topics.cdcPrefix, t.keyspace, t.table),
        partitions: config.topics.cdcPartitions,
        compacted: false,
      }));
    topics.push(
      { topic: config.topics.cdcOffsets, partitions: 1, compacted: true },
      { topic: config.topics.deadLetter, partitions: 1, compacted: false },
    );
    await ensureTopics(this.#deps.admin, config, topics);
  }

  #watch(): void {
    try {
      this.#watcher = watch(this.#deps.config.cdc.rawDir, () => this.#wake?.());
      this.#watcher.on('error', () => undefined);
    } catch (err) {
      this.#log.warn(
        `cannot watch ${this.#deps.config.cdc.rawDir} (${(err as Error).message}); polling only`,
      );
    }
  }

  /** Waits for an fs event, the poll period, or close. */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
      if (this.#stop.signal.aborted) done();
    });
  }

  async #listSegments(): Promise<SegmentFile[]> {
    const dir = this.#deps.config.cdc.rawDir;
    const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT')
        throw new FanoutError(
          'CDC_RAW_MISSING',
          `cdc_raw directory ${dir} does not exist (is cdc.rawDir right?)`,
          { retriable: true },
        );
      throw err;
    });
    const segments: SegmentFile[] = [];
    const logs = new Set(names.filter((n) => n.endsWith('.log')));
    let bytes = 0;
    for (const name of names) {
      const parsed = parseSegmentFileName(name);
      if (!parsed) continue;
      if (parsed.kind === 'idx' && !logs.has(segmentFileName(parsed.version, parsed.id))) {
        // Cassandra can write a last COMPLETED idx after we removed a retired segment: an orphan
        // idx of a segment behind the committed offset is ours to clean up.
        if (parsed.id < this.#offset.segmentId)
          await unlink(join(dir, name)).catch(() => undefined);
        continue;
      }
      bytes += (await stat(join(dir, name)).catch(() => ({ size: 0 }))).size;
      if (parsed.kind !== 'log') continue;
      segments.push({
        id: parsed.id,
        version: parsed.version,
        log: join(dir, name),
        idx: join(dir, cdcIndexFileName(parsed.version, parsed.id)),
      });
    }
    this.#space.observe(bytes);
    return segments.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** One pass over cdc_raw; true when it committed or retired anything. */
  async #pass(): Promise<boolean> {
    const segments = await this.#listSegments();
    const indexes = await Promise.all(segments.map((seg) => this.#index(seg)));
    let progressed = false;
    for (let i = 0; i < segments.length && !this.#stop.signal.aborted; i++) {
      const seg = segments[i]!;
      const idx = indexes[i] ?? null;
      // Cassandra pre-allocates the next segment (and links it here) before it is used, so only a
      // newer segment that already HAS synced CDC data proves that this one will get no more.
      const superseded = indexes.slice(i + 1).some((x) => x !== null);
      if (seg.id < this.#offset.segmentId) {
        // Everything in it was committed earlier; it only waits to be COMPLETED (or retired).
        if (idx?.completed || this.#retirable(seg, superseded))
          progressed = (await this.#delete(seg)) || progressed;
        continue;
      }
      if (idx === null) {
        // No CDC data synced in it (yet): the active or a pre-allocated segment, one Cassandra
        // will discard, or one whose idx is being written. Cassandra syncs its segments in order
        // and writes a segment's idx at the sync that first finds CDC data in it, so once a newer
        // segment has an idx, this one has none only if it holds no CDC data: it is stepped over
        // (and deleted once retired). But only if its idx is still absent when looked at again
        // now, after the newer one was seen (the reads above ran at once). An idx file that is
        // there but does not parse is being written: reading past it would commit an offset
        // beyond its entries, and the next pass would take it for read and delete it unread. So
        // the pass stops there until it parses, or the segment is retired.
        const empty = superseded && (await noIndexFile(seg));
        if (this.#retirable(seg, superseded)) progressed = (await this.#delete(seg)) || progressed;
        else if (!empty) break;
        continue;
      }
      const from = seg.id === this.#offset.segmentId ? this.#offset.position : 0;
      const finished = await this.#readSegment(seg, idx, from, superseded);
      progressed = finished.committed || progressed;
      if (finished.gone) break; // the next pass lists what is there now
      if (!finished.done) {
        if (!this.#retirable(seg, superseded)) break;
        // Read to its idx offset already: an idx that never becomes COMPLETED (a crash, or replay
        // without CDC data) must not hold back every newer segment.
        this.#log.warn(`retiring segment ${seg.id}: its idx never became COMPLETED`);
      }
      await this.#delete(seg);
      progressed = true;
    }
    return progressed;
  }

  /** The segment's idx (monotonic across half-written reads); remembers when it last changed. */
  async #index(seg: SegmentFile): Promise<CdcIndex | null> {
    const prev = this.#indexes.get(seg.id);
    const next = mergeCdcIndex(prev?.idx ?? null, await readCdcIndex(seg.idx));
    const changed =
      !prev ||
      (next !== null &&
        (prev.idx === null ||
          prev.idx.offset !== next.offset ||
          prev.idx.completed !== next.completed));
    if (changed) this.#indexes.set(seg.id, { idx: next, changedAt: Date.now() });
    return next;
  }

  /** A segment that will never be COMPLETED: newer data exists and its idx has not moved for a while. */
  #retirable(seg: SegmentFile, superseded: boolean): boolean {
    if (!superseded) return false;
    const seen = this.#indexes.get(seg.id);
    return seen !== undefined && Date.now() - seen.changedAt > RETIRE_AFTER_MS;
  }

  /** Produces `events` and moves the source offset to `offset`, in one transaction. */
  async #commit(events: ChangeEvent[], offset: SourceOffset): Promise<void> {
    await this.#trace!.commit(events, (traceOf) => this.#sink!.commit(events, offset, traceOf));
    this.#offset = offset;
    this.#deps.onCommit?.(offset, events.length);
  }

  /**
   * Reads a segment from `from` up to its idx offset, committing every maxEventsPerTransaction
   * events and at the end. `done`: nothing more will ever be readable (COMPLETED and read to end);
   * `gone`: the file vanished before it was opened. `superseded`: a newer segment has an idx.
   */
  async #readSegment(
    seg: SegmentFile,
    idx: CdcIndex,
    from: number,
    superseded: boolean,
  ): Promise<SegmentOutcome> {
    if (from >= idx.offset && !idx.completed) return { done: false, committed: false };
    const { config } = this.#deps;
    // A segment being filled is read at every sync: from where the last read stopped, not from its start.
    const known = this.#resumeAt.get(seg.id);
    const resume = known !== undefined && from >= known.marker ? known : undefined;
    let bytes: Buffer;
    try {
      ({ bytes } = await loadSegmentFile(seg.log, idx.offset, resume));
      // Header problems are told apart here; problems in the body end the iteration instead.
      if (!resume) parseSegmentHeader(bytes, { id: seg.id, version: seg.version });
    } catch (err) {
      return this.#headerProblem(seg, idx, from, superseded, segmentProblem(err, seg));
    }
    // Every entry in `bytes` was in the commit log by now: a schema read started later knows
    // its tables and columns.
    const loadedAt = performance.now();
    const it = iterateSegment(bytes, {
      fromPosition: from,
      limit: idx.offset,
      expected: { id: seg.id, version: seg.version },
      ...(resume ? { resume } : {}),
    });
    let batch: ChangeEvent[] = [];
    let last = from;
    let committed = false;
    /** Corrupt stretches dead-lettered in `batch`: reported once it committed, not before. */
    let lettered: string[] = [];
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      await this.#commit(batch, { segmentId: seg.id, position: last });
      batch = [];
      committed = true;
      for (const reason of lettered)
        this.#log.error(`segment ${seg.log}: ${reason}; dead-lettered, the segment is kept`);
      if (lettered.length > 0) this.#corrupt.add(seg.id);
      lettered = [];
    };
    let turnStarted = performance.now();
    for (;;) {
      // Framing thousands of entries (most of them other tables' writes that share the segment)
      // is synchronous: give the event loop a turn every few ms, or a worker in the same process
      // (`fanout run`) stops sending writes for the whole pass (stalls of 60-190 ms measured).
      if (performance.now() - turnStarted > YIELD_EVERY_MS) {
        await nextTurn();
        turnStarted = performance.now();
      }
      const step = it.next();
      if (step.done) {
        const end = step.value;
        if (end.resume) this.#resumeAt.set(seg.id, end.resume);
        const corrupt = end.end === 'corrupt';
        const stop = corrupt && this.#stoppedAt.get(seg.id) !== end.position;
        if (stop) {
          // Durable bytes that cannot be what Cassandra wrote, after which nothing in this segment
          // can be framed (a sync marker or a compressed section). Record it on the dead-letter
          // topic (with where and why), in the same transaction as the events before it, and go
          // on: one bad section must not stop every newer write.
          const reason = end.reason ?? 'corrupt section';
          batch.push(corruptSection(seg, end.position, reason, config.cdc.errorDir));
          lettered.push(`${reason}; reading stops after position ${end.position}`);
          last = Math.max(last, end.position);
        }
        await flush();
        if (stop) this.#stoppedAt.set(seg.id, end.position);
        else if (corrupt)
          this.#log.debug(
            `segment ${seg.log}: reading stops after position ${end.position} as before (${end.reason ?? 'corrupt section'}), dead-lettered already`,
          );
        if (corrupt) return { done: idx.completed, committed };
        // Entries that gave no events were still read: remember that in memory, nothing to commit.
        if (compareOffsets({ segmentId: seg.id, position: last }, this.#offset) > 0)
          this.#offset = { segmentId: seg.id, position: last };
        const done = idx.completed && (end.end === 'end-of-segment' || end.end === 'limit');
        this.#log.debug(
          `segment ${seg.id} read from ${from} to ${last} (idx ${idx.offset}${idx.completed ? ' COMPLETED' : ''}): ${end.end}${end.reason ? ` (${end.reason})` : ''}`,
        );
        return { done, committed };
      }
      const entry = step.value;
      if (entry.kind === 'skipped') {
        // One entry, or the rest of one section, that cannot be what Cassandra wrote: a dead
        // letter naming where and why, and the entries after it go on (as Cassandra's own reader
        // skips a mutation whose checksum fails).
        batch.push(corruptSection(seg, entry.position, entry.reason, config.cdc.errorDir, 'skip'));
        lettered.push(entry.reason);
        last = entry.position;
        if (batch.length >= config.cdc.maxEventsPerTransaction) await flush();
        continue;
      }
      if (skippedTable(entry.payload, this.#schema!) !== undefined) {
        // Another table's write (most entries while a fan-out runs): no events, and no decode.
        last = entry.position;
        continue;
      }
      batch.push(
        ...(await this.#decode(
          entry.payload,
          { segmentId: seg.id, position: entry.position, fileVersion: seg.version as FileVersion },
          loadedAt,
        )),
      );
      last = entry.position;
      if (batch.length >= config.cdc.maxEventsPerTransaction) await flush();
    }
  }

  /**
   * A segment that could not be opened, or whose header does not read. One just created (header
   * still zeros) or one that vanished is read again at the next pass: neither is the connector's
   * fault, neither is fatal. A header that will never read (nor one still zeros long after newer
   * segments got data) is a corrupt segment: a dead letter naming it, in a transaction with the
   * offset at the segment's start, then the segment is moved to cdc.errorDir once COMPLETED or
   * retired, as for a corrupt stretch, and newer segments go on.
   */
  async #headerProblem(
    seg: SegmentFile,
    idx: CdcIndex,
    from: number,
    superseded: boolean,
    problem: SegmentProblem,
  ): Promise<SegmentOutcome> {
    if (problem.kind === 'gone') {
      this.#log.warn(
        `${problem.reason} past position ${from} (Cassandra deletes unread segments when cdc_block_writes is false); going on with the newer ones`,
      );
      this.#forget(seg.id);
      return { done: false, committed: false, gone: true };
    }
    const retirable = this.#retirable(seg, superseded);
    if (problem.kind === 'not-ready' && !retirable) {
      this.#log.debug(`${problem.reason}; reading it again at the next pass`);
      return { done: false, committed: false };
    }
    if (this.#corrupt.has(seg.id)) return { done: idx.completed, committed: false };
    const reason =
      problem.kind === 'not-ready'
        ? `${problem.reason}, ${RETIRE_AFTER_MS} ms after its idx last changed while newer segments have data`
        : problem.reason;
    const { errorDir } = this.#deps.config.cdc;
    await this.#commit([corruptSection(seg, from, reason, errorDir, 'header')], {
      segmentId: seg.id,
      position: from,
    });
    this.#corrupt.add(seg.id);
    this.#log.error(`${reason}; dead-lettered, the segment goes to ${errorDir}`);
    return { done: idx.completed, committed: true };
  }

  /** `loadedAt`: when the entry was known to be in the commit log (performance.now()). */
  async #decode(
    payload: Buffer,
    src: { segmentId: bigint; position: number; fileVersion: FileVersion },
    loadedAt: number,
  ): Promise<ChangeEvent[]> {
    const decodedAt = Date.now();
    let events = decodeMutationEvents(payload, this.#schema!, src);
    const unknown = events.some((e) => e.op === 'undecodable' && e.reason.retriable);
    if (unknown && this.#schemaReadAt < loadedAt) {
      // An unknown table or column, and the schema in use was read before the entry was loaded:
      // read it again (from the node that took the write, so it has the change) and decode once
      // more. A schema read after the entry was loaded is final: what it does not know was
      // dropped, and goes to the dead-letter topic, so a dropped table costs one read per load
      // of a segment, not one per entry. Copy the payload first, it is a view into a buffer that
      // stays valid only until the next section.
      const copy = Buffer.from(payload);
      await this.#refreshSchema(false);
      events = decodeMutationEvents(copy, this.#schema!, src);
    }
    // Keyspaces not captured are skipped by configuration; what cannot be attributed goes on to
    // the dead-letter topic.
    const keyspaces = this.#deps.config.cdc.keyspaces;
    const captured = events.filter((e) => e.keyspace === null || keyspaces.includes(e.keyspace));
    this.#trace!.decoded(captured, decodedAt);
    return captured;
  }

  async #delete(seg: SegmentFile): Promise<boolean> {
    let removed = false;
    if (this.#corrupt.has(seg.id)) {
      removed = await quarantine(seg, this.#deps.config.cdc.errorDir);
      this.#log.warn(`segment ${seg.log} moved to ${this.#deps.config.cdc.errorDir} (corrupt)`);
    }
    for (const path of removed ? [] : [seg.log, seg.idx]) {
      await unlink(path).then(
        () => {
          removed = true;
        },
        (err: NodeJS.ErrnoException) => {
          if (err.code !== 'ENOENT') throw err;
        },
      );
    }
    this.#forget(seg.id);
    if (seg.id > this.#offset.segmentId)
      this.#offset = { segmentId: seg.id, position: Number.MAX_SAFE_INTEGER };
    return removed;
  }

  /** Drops what is remembered of a segment no longer in cdc_raw. */
  #forget(id: bigint): void {
    this.#indexes.delete(id);
    this.#corrupt.delete(id);
    this.#stoppedAt.delete(id);
    this.#resumeAt.delete(id);
  }
}

/** Whether the segment's idx file does not exist (as opposed to existing but not parsing yet). */
async function noIndexFile(seg: SegmentFile): Promise<boolean> {
  try {
    await stat(seg.idx);
    return false;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw err;
  }
}
