/**
 * The fan-out workers' Kafka source: one consumer-group member per worker, read_committed, no
 * auto commit (offsets move only inside the worker's transactions), small fetch and prefetch
 * queues so memory stays bounded.
 *
 * Backpressure is demand-driven, on librdkafka's own consumer (the same low-level API as
 * read-to-end.ts): each poll asks the owner how much room it has and consumes at most that
 * many records. At no room the source first takes what librdkafka has prefetched (at most one
 * poll's worth, held here until there is room), then pauses every assigned partition: librdkafka
 * drops anything else it had and, on resume, fetches again from the last record taken, so
 * nothing is lost and at most one poll is buffered. The KafkaJS-style layer is not used here: its `pause()` discards its
 * own message cache without rewinding partitions it has not delivered from yet, which skips
 * records (seen on 1.10.1; confluent-kafka-javascript#517 is the eachBatch variant).
 *
 * Polling continues while paused, so a fan-out that keeps the worker busy for minutes neither
 * trips `max.poll.interval.ms` nor delays rebalances. Newly assigned partitions stay paused while
 * their owner restores them (which can wait out a dead worker's open transaction, up to
 * `kafka.transactionTimeoutMs`: see read-to-end.ts); the partitions already owned keep flowing.
 * A record librdkafka still delivers for a partition being restored is held, not dropped
 * (./held.ts): dropping it skipped it for good.
 *
 * A committed offset out of range (its records fell out of retention) stops the worker with
 * OFFSET_OUT_OF_RANGE and a count on `fanout_offset_out_of_range` (pipeline.offsetReset=error, the
 * default: librdkafka's auto.offset.reset=error reports it on consume); `earliest` or `latest`
 * go on from there, skipping what was lost, after a loud warning at start.
 *
 * Membership is static (`group.instance.id` from the worker id): a worker restarted with the same
 * id takes its partitions back at once, without a rebalance, and fences the old process.
 */
import kafkaJs from '@confluentinc/kafka-javascript';
import { metrics } from '@opentelemetry/api';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../../config/index.ts';
import { FanoutError, withTimeout } from '../../lib/errors.ts';
import type { Logger } from '../../lib/log.ts';
import type { RecordSource, SourceListener, SourceRecord } from '../../ports/streams.ts';
import { retry } from '../../lib/retry.ts';
import { asError, classifyKafkaError } from './errors.ts';
import { HeldRecords } from './held.ts';
import { baseProps } from './props.ts';
import { watchSecurity } from './security.ts';

const { CODES } = kafkaJs;
export type RawConsumer = InstanceType<typeof kafkaJs.KafkaConsumer>;
type Assignment = Array<{ topic: string; partition: number; offset?: string | number }>;
/** Cooperative-rebalance methods the consumer has but its typings lack. */
type Cooperative = {
  rebalanceProtocol(): 'NONE' | 'COOPERATIVE' | 'EAGER';
  incrementalAssign(assignment: Assignment): void;
  incrementalUnassign(assignment: Assignment): void;
  assignmentLost(): boolean;
};
type WatermarkQuery = {
  queryWatermarkOffsets(topic: string, partition: number, timeout: number, cb: () => void): void;
};
type RawMessage = {
  topic: string;
  partition: number;
  offset: number;
  key?: Buffer | string | null;
  value: Buffer | null;
  headers?: Array<Record<string, unknown>>;
};

/** Most records taken in one poll. */
const MAX_POLL_RECORDS = 64;
/** How long a poll waits for a first record when there is room. */
const POLL_WAIT_MS = 100;
/** How often a paused source still polls (rebalances, liveness), unless woken earlier. */
const PAUSED_POLL_MS = 200;
/** How often the consumer refreshes the metadata of its topics (one small request). */
export const METADATA_REFRESH_MS = 5_000;

/** The consumer-group member id of a worker (static membership); `groupSuffix`: see {@link KafkaRecordSource}. */
export const workerInstanceId = (config: Config, workerId: string, groupSuffix = ''): string =>
  `${config.pipeline.groupId}${groupSuffix}-worker-${workerId}`;

/** The Kafka implementation of {@link RecordSource} for one topic. */
export class KafkaRecordSource implements RecordSource {
  readonly topic: string;
  readonly #config: Config;
  readonly #log: Logger;
  readonly #instanceId: string;
  readonly #groupId: string;
  #consumer: RawConsumer | undefined;
  #listener: SourceListener | undefined;
  /** Partitions whose records may be handed over: assigned, restored, not being revoked. */
  readonly #owned = new Set<number>();
  /** Partitions assigned and being restored by the owner (paused until then), by their restore. */
  readonly #restoring = new Map<number, Promise<void>>();
  /** Records taken from librdkafka and not handed over yet (./held.ts). */
  readonly #held = new HeldRecords<RawMessage>();
  #paused = false;
  /** Per partition: where librdkafka last reported its end (partition.eof). */
  readonly #ends = new Map<number, bigint>();
  /** Per partition: the offset of the last record handed to the listener. */
  readonly #handed = new Map<number, bigint>();
  /** Rebalance handlers run one after the other; the poll loop waits for them. */
  #rebalancing: Promise<void> = Promise.resolve();
  #stopping = false;
  /** Aborted on close: a rebalance step's retries end then (close awaits the step). */
  readonly #stop = new AbortController();
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #closing: Promise<void> | undefined;

  /**
   * `topic`: default the tweets CDC topic. `groupSuffix`: the group is `pipeline.groupId` plus it
   * (the work-topic lane uses `.tasks`, so its rebalances never disturb the CDC consumers).
   */
  constructor(
    config: Config,
    options: { workerId: string; log: Logger; topic?: string; groupSuffix?: string },
  ) {
    this.#config = config;
    this.#log = options.log.child(options.groupSuffix ? `source${options.groupSuffix}` : 'source');
    this.topic = options.topic ?? config.topics.tweetsCdc;
    this.#groupId = `${config.pipeline.groupId}${options.groupSuffix ?? ''}`;
    this.#instanceId = workerInstanceId(config, options.workerId, options.groupSuffix);
  }

  /** The consumer, for `sendOffsetsToTransaction` (its group metadata fences zombies, KIP-447). */
  get consumer(): RawConsumer {
    if (!this.#consumer)
      throw new FanoutError('SOURCE_NOT_STARTED', 'the Kafka source is not started', {
        retriable: false,
      });
    return this.#consumer;
  }

  get paused(): boolean {
    return this.#paused;
  }

  async start(listener: SourceListener): Promise<void> {
    if (this.#consumer)
      throw new FanoutError('SOURCE_STARTED', 'the Kafka source is already started', {
        retriable: false,
      });
    this.#listener = listener;
    const consumer = new kafkaJs.KafkaConsumer(
      {
        ...baseProps(this.#config),
        'group.id': this.#groupId,
        'group.instance.id': this.#instanceId,
        'isolation.level': 'read_committed',
        'enable.auto.commit': false,
        'enable.auto.offset.store': false,
        'partition.assignment.strategy': 'cooperative-sticky',
        'session.timeout.ms': this.#config.pipeline.sessionTimeoutMs,
        // A revocation lets the partitions' batches in flight land (up to pipeline.shutdownTimeoutMs)
        // and commits before the poll loop goes on.
        'max.poll.interval.ms': Math.max(300_000, this.#config.pipeline.shutdownTimeoutMs + 60_000),
        // Where a partition ends, past the transaction markers the lag would count (endReached).
        'enable.partition.eof': true,
        // Bounded memory: a small prefetch queue and small fetches (CDC records are ~0.5 KiB).
        'queued.min.messages': 100,
        'queued.max.messages.kbytes': 1_024,
        'fetch.max.bytes': 1_048_576,
        'max.partition.fetch.bytes': 262_144,
        'fetch.queue.backoff.ms': 20,
        'fetch.error.backoff.ms': 50,
        // A subscribed topic the broker did not serve yet is picked up at the next refresh: seconds,
        // not librdkafka's default 5 minutes (see ensureTopics).
        'topic.metadata.refresh.interval.ms': METADATA_REFRESH_MS,
        rebalance_cb: (err: { code: number }, assignment: Assignment) =>
          this.#onRebalance(err.code, assignment),
      } as never,
      { 'auto.offset.reset': this.#config.pipeline.offsetReset },
    );
    if (this.#config.pipeline.offsetReset !== 'error')
      this.#log.warn(
        `pipeline.offsetReset=${this.#config.pipeline.offsetReset}: a committed offset of ${this.topic} that fell out of retention is reset to the ${this.#config.pipeline.offsetReset} offset, and the events in between are SKIPPED (not fanned out)`,
      );
    this.#consumer = consumer;
    consumer.on('partition.eof', (eof: { topic: string; partition: number; offset: number }) => {
      if (eof.topic === this.topic) this.#ends.set(eof.partition, BigInt(eof.offset));
    });
    consumer.on('event.error', (err: { message: string; isFatal?: boolean }) => {
      if (err.isFatal === true)
        listener.failed(classifyKafkaError(err, `consumer of ${this.topic}`));
      else this.#log.debug('consumer error', { err: err.message });
    });
    const security = watchSecurity(consumer, this.#config, this.#log.child('librdkafka'));
    const timeout = this.#config.kafka.connectTimeoutMs;
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        consumer.connect({ timeout }, (err) => (err ? reject(asError(err)) : resolve()));
      }),
      timeout + 1_000,
      `the consumer of ${this.topic} did not connect within ${timeout} ms`,
      'KAFKA_UNREACHABLE',
    ).catch((err: unknown) => {
      throw security.failure(err, `connect the consumer of ${this.topic}`);
    });
    (
      consumer as unknown as { setDefaultIsTimeoutOnlyForFirstMessage(v: boolean): void }
    ).setDefaultIsTimeoutOnlyForFirstMessage(true);
    consumer.subscribe([this.topic]);
    this.#loop = this.#poll().catch((err: unknown) =>
      listener.failed(classifyKafkaError(err, `consume ${this.topic}`)),
    );
  }

  wake(): void {
    this.#wake?.();
  }

  endReached(partition: number): bigint | undefined {
    const end = this.#ends.get(partition);
    if (end === undefined || !this.#owned.has(partition) || this.#held.holds(partition))
      return undefined;
    const handed = this.#handed.get(partition);
    return handed !== undefined && handed >= end ? undefined : end;
  }

  highWatermark(partition: number): bigint | undefined {
    try {
      const high = this.#consumer?.getWatermarkOffsets(this.topic, partition).highOffset;
      return high === undefined || high < 0 ? undefined : BigInt(high);
    } catch {
      return undefined; // nothing fetched from it yet
    }
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#stopping = true;
      this.#stop.abort();
      this.#wake?.();
      await this.#loop;
      await this.#rebalancing;
      await Promise.allSettled(this.#restoring.values());
      const consumer = this.#consumer;
      if (!consumer?.isConnected()) return;
      await new Promise<void>((resolve) => {
        consumer.disconnect((err) => {
          if (err) this.#log.warn('consumer disconnect failed', { err: String(err) });
          resolve();
        });
      });
    })();
    return this.#closing;
  }

  #onRebalance(code: number, assignment: Assignment): void {
    const consumer = this.#consumer!;
    const coop = consumer as unknown as Cooperative;
    const listener = this.#listener!;
    const cooperative = coop.rebalanceProtocol() === 'COOPERATIVE';
    const partitions = assignment.filter((a) => a.topic === this.topic).map((a) => a.partition);
    let step: () => Promise<void>;
    if (code === CODES.ERRORS.ERR__ASSIGN_PARTITIONS) {
      step = async () => {
        this.#log.info('partitions assigned', { partitions });
        // A partition this group never committed starts at the beginning; one with a committed
        // offset starts there, and pipeline.offsetReset decides only when that is out of range.
        const fresh = await this.#uncommitted(assignment);
        const starts = assignment.map((a) =>
          fresh.has(`${a.topic}:${a.partition}`) ? { ...a, offset: 'beginning' } : a,
        );
        if (cooperative) coop.incrementalAssign(starts);
        else consumer.assign(starts);
        if (assignment.length === 0) return;
        // Paused (in the same turn: nothing is fetched for them) until the owner has restored them.
        consumer.pause(assignment);
        if (this.#stopping) return;
        // Not awaited: the poll loop goes on serving the partitions already owned.
        const restore: Promise<void> = listener
          .assigned(partitions)
          .then(() => {
            const ready = partitions.filter((p) => this.#restoring.get(p) === restore); // not revoked meanwhile
            for (const p of ready) {
              this.#restoring.delete(p);
              this.#owned.add(p);
            }
            if (!this.#paused && !this.#stopping) this.#resume(ready);
            this.#wake?.();
          })
          .catch((err: unknown) => listener.failed(asError(err)));
        for (const p of partitions) this.#restoring.set(p, restore);
      };
    } else {
      const lost = coop.assignmentLost();
      // From now on records of these partitions are dropped: the next owner reads them again. One
      // still being restored is not taken up when its restore ends (the owner is told below).
      for (const p of partitions) {
        this.#owned.delete(p);
        this.#restoring.delete(p);
        this.#ends.delete(p);
        this.#handed.delete(p);
      }
      this.#held.drop(partitions);
      step = async () => {
        this.#log.info(lost ? 'partitions lost' : 'partitions revoked', { partitions });
        try {
          await listener.revoked(partitions, lost);
        } finally {
          if (cooperative) coop.incrementalUnassign(assignment);
          else consumer.unassign();
        }
      };
    }
    this.#rebalancing = this.#rebalancing.then(step).catch((err: unknown) => {
      listener.failed(err instanceof Error ? err : new Error(String(err)));
    });
    this.#wake?.();
  }

  /** The partitions of `assignment` with no committed offset in this group. */
  async #uncommitted(assignment: Assignment): Promise<Set<string>> {
    if (assignment.length === 0) return new Set();
    const consumer = this.#consumer!;
    const timeout = this.#config.kafka.connectTimeoutMs;
    const committed = await retry(
      this.#config.retry,
      () =>
        new Promise<Array<{ topic: string; partition: number; offset?: number }>>(
          (resolve, reject) => {
            consumer.committed(assignment, timeout, (err, tps) =>
              err
                ? reject(
                    classifyKafkaError(err, `read the committed offsets of ${this.topic}`, {
                      inTransaction: true,
                    }),
                  )
                : resolve(tps),
            );
          },
        ),
      // Ended by close: it awaits this step, which must not outlast it by the outage budget (a
      // stop while this read failed waited 300 s, the read failing on the closing consumer).
      {
        what: `read the committed offsets of ${this.topic}`,
        log: this.#log,
        signal: this.#stop.signal,
      },
    );
    return new Set(
      committed
        .filter((tp) => tp.offset === undefined || tp.offset < 0)
        .map((tp) => `${tp.topic}:${tp.partition}`),
    );
  }

  async #poll(): Promise<void> {
    const listener = this.#listener!;
    const owned = (p: number): boolean => this.#owned.has(p);
    const held = this.#held;
    while (!this.#stopping) {
      await this.#rebalancing; // never hand over records while partitions change hands
      held.retain(this.#kept);
      let room = listener.room();
      for (let m = room > 0 ? held.next(owned) : undefined; m; m = held.next(owned)) {
        this.#handed.set(m.partition, BigInt(m.offset));
        listener.record(sourceRecord(m));
        room = listener.room();
        if (room <= 0 || this.#stopping) break;
      }
      // Out of room: what librdkafka prefetched is taken before pausing (a pause drops it, and
      // fetching it again after resuming took librdkafka up to 4 s here), so the next tweet or
      // task starts the moment there is room. At most one poll's worth.
      if (room <= 0 && !this.#paused && !held.hasReady(owned))
        held.add(await this.#consume(MAX_POLL_RECORDS, 0));
      this.#setPaused(room <= 0);
      if (this.#paused) {
        // Sleep until woken (room again) or the next liveness poll; that poll serves rebalances.
        const woken = new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
        await Promise.race([woken, sleep(PAUSED_POLL_MS)]);
        this.#wake = undefined;
        if (listener.room() > 0 || this.#stopping) continue;
      }
      held.add(
        await this.#consume(
          this.#paused ? 1 : Math.min(room, MAX_POLL_RECORDS),
          this.#paused ? 0 : POLL_WAIT_MS,
        ),
      );
    }
  }

  /**
   * Takes up to `max` records from librdkafka, waiting up to `waitMs` for the first: those of
   * partitions owned or being restored (see ./held.ts); those of partitions given up are dropped.
   */
  async #consume(max: number, waitMs: number): Promise<RawMessage[]> {
    const consumer = this.#consumer!;
    consumer.setDefaultConsumeTimeout(waitMs);
    const messages = await new Promise<RawMessage[]>((resolve, reject) => {
      consumer.consume(max, (err, ms) => (err ? reject(asError(err)) : resolve(ms)));
    }).catch(async (err: unknown) => {
      if ((err as { isFatal?: boolean }).isFatal === true) throw err;
      if ((err as { code?: unknown }).code === CODES.ERRORS.ERR__AUTO_OFFSET_RESET)
        throw outOfRange(this.topic, this.#groupId, err);
      this.#log.debug('consume failed; polling again', { err: String(err) });
      await sleep(POLL_WAIT_MS);
      return [];
    });
    const kept = messages.filter((m) => this.#kept(m.partition));
    const early = kept.filter((m) => !this.#owned.has(m.partition));
    if (early.length > 0)
      this.#log.debug('records of partitions being restored arrived; held until restored', {
        records: early.map((m) => `${m.partition}@${m.offset}`),
      });
    return kept;
  }

  /** Whether records of `partition` are kept: it is owned, or being restored (./held.ts). */
  readonly #kept = (partition: number): boolean =>
    this.#owned.has(partition) || this.#restoring.has(partition);

  #setPaused(paused: boolean): void {
    if (paused === this.#paused) return;
    this.#paused = paused;
    // The owned partitions alone: those being restored are paused until their restore ends, and
    // librdkafka's own list (`assignments()`, built anew each call) cost 1.5% of a small-tweet
    // load's CPU when asked on every toggle (issue #19).
    const owned = [...this.#owned];
    if (owned.length === 0) return;
    if (paused) this.#consumer!.pause(owned.map((partition) => ({ topic: this.topic, partition })));
    else this.#resume(owned); // partitions still being restored stay paused
  }

  /** Resumes fetching these partitions (owned, restored). */
  #resume(partitions: readonly number[]): void {
    if (partitions.length === 0) return;
    const consumer = this.#consumer!;
    consumer.resume(partitions.map((partition) => ({ topic: this.topic, partition })));
    // librdkafka's broker thread notices a resumed partition only at its next idle wake-up (up
    // to ~1 s, confluentinc/librdkafka#1753 and confluent-kafka-go#630 show the same gap); any
    // request to the leader wakes it at once, and a watermark query is the cheapest one. One, not
    // one per partition: each holds a thread of libuv's pool (./threadpool.ts) until answered.
    (consumer as unknown as WatermarkQuery).queryWatermarkOffsets(
      this.topic,
      partitions[0]!,
      1_000,
      () => undefined,
    );
  }
}

let outOfRangeCounter: ReturnType<ReturnType<typeof metrics.getMeter>['createCounter']> | undefined;

/** The error (and count) of a committed offset that is no longer in the log. */
function outOfRange(topic: string, group: string, err: unknown): FanoutError {
  outOfRangeCounter ??= metrics.getMeter('fanout').createCounter('fanout_offset_out_of_range', {
    description:
      'Committed offsets found out of range (records lost to retention): the worker stops',
  });
  outOfRangeCounter.add(1, { 'messaging.destination.name': topic });
  return new FanoutError(
    'OFFSET_OUT_OF_RANGE',
    `the committed offset of group ${group} in ${topic} is out of range: the records after it were deleted (retention) before they were fanned out, so they cannot be delivered. Stopping rather than skipping them; to go on from the oldest (or newest) record still there, run with pipeline.offsetReset=earliest (or latest). (${(err as Error).message})`,
    { retriable: false, cause: err },
  );
}

function sourceRecord(m: RawMessage): SourceRecord {
  const headers: Record<string, string> = {};
  for (const h of m.headers ?? []) {
    for (const [k, v] of Object.entries(h))
      headers[k] = Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
  }
  const key =
    m.key === undefined || m.key === null
      ? null
      : Buffer.isBuffer(m.key)
        ? m.key
        : Buffer.from(m.key);
  return {
    topic: m.topic,
    partition: m.partition,
    offset: BigInt(m.offset),
    key,
    value: m.value,
    headers,
  };
}
