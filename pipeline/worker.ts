/**
 * A fan-out worker: the TWEETS lane (the CDC topic of `tweets`, ./tweets/handler.ts), given the
 * work topic's ports the TASKS lane (page-range tasks of split celebrity fan-outs,
 * ./tasks/handler.ts), and given the graph's ports the GRAPH lane (follows and unfollows, the CDC
 * topic of `followers`, ./graph/handler.ts), each a lane runtime (./lane/lane.ts) with its own
 * consumer group and transactional producer. Tweets and tasks share one row credit (memory: rows
 * read and not written), one admission gate (`pipeline.maxInFlightTweets` jobs in flight), both
 * strict per process, and one bound on timeline writes in flight; small tweets go ahead of tasks
 * in the credit and the writes (`pipeline.smallFirst`). The graph lane has its own gate
 * (`graph.maxInFlight`), so a burst of follows never holds a tweet back. A lane that fails fails
 * the worker.
 */
import type { Config } from '../config/index.ts';
import type { Logger } from '../lib/log.ts';
import { reportCurrent, TIMELINE_TRIMS_QUEUED } from '../lib/metrics.ts';
import type { AuthorTweetStore, ClaimStore } from '../ports/stores.ts';
import { creditShares, rowCredit } from './bounds.ts';
import { priorityOf } from './job.ts';
import { AdmissionGate, Credit } from './lane/credit.ts';
import type { LanePorts } from './lane/handler.ts';
import { Lane } from './lane/lane.ts';
import { WriteSlots } from './lane/write-slots.ts';
import type { Totals } from './metrics.ts';
import { sumTotals, type WorkerState, type WorkerStatus } from './status.ts';
import { GraphHandler } from './graph/handler.ts';
import { TaskHandler } from './tasks/handler.ts';
import { TweetHandler } from './tweets/handler.ts';

export type { SplitProgress, TweetProgress, WorkerState, WorkerStatus } from './status.ts';

/** Everything a worker talks to (Kafka and Cassandra implementations: see ./connect.ts). */
export interface WorkerPorts extends LanePorts {
  /** Claims on change events, to fan out one replica copy of each write; absent: every copy is. */
  readonly claims?: ClaimStore;
  /** The work topic of split fan-outs; absent: this worker never splits and takes no tasks. */
  readonly work?: WorkPorts;
  /** The CDC topic of `followers` and the author index; absent: follows change no timeline. */
  readonly graph?: GraphPorts;
}

/** The work topic's source, transactional sink and checkpoint reader (the tasks lane). */
export type WorkPorts = Pick<LanePorts, 'source' | 'sink' | 'readCheckpoints'>;

/** The graph lane's source, sink and checkpoint reader, and the author index it reads. */
export type GraphPorts = WorkPorts & { readonly authorTweets: AuthorTweetStore };

export interface WorkerOptions {
  readonly config: Config;
  readonly workerId: string;
  readonly log: Logger;
  readonly ports: WorkerPorts;
}

export class Worker {
  readonly workerId: string;
  readonly #credit: Credit;
  readonly #tweets: Lane;
  readonly #tasks: { lane: Lane; handler: TaskHandler } | undefined;
  readonly #graph: Lane | undefined;
  readonly #timelines: WorkerPorts['timelines'];
  /** Stops reporting fanout_timeline_trims_queued (on close). */
  readonly #unreportTrims: () => void;
  #run: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: WorkerOptions) {
    const { config, workerId, log, ports } = options;
    const p = config.pipeline;
    this.workerId = workerId;
    this.#timelines = ports.timelines;
    const pending = ports.timelines.pending?.bind(ports.timelines);
    this.#unreportTrims = pending
      ? reportCurrent(TIMELINE_TRIMS_QUEUED, () => [
          { attributes: { 'fanout.worker': workerId }, value: pending() },
        ])
      : () => undefined;
    this.#credit = new Credit(rowCredit(p), creditShares(p));
    const gate = new AdmissionGate(p.maxInFlightTweets, () => {
      this.#tweets.wake();
      this.#tasks?.lane.wake();
    });
    const stores = {
      followers: ports.followers,
      timelines: ports.timelines,
      authors: ports.authors,
    };
    // Small first: one bound on writes for both lanes, tweets' batches ahead of tasks'. Off: as
    // before issue #19, each lane its own bound and one class (first come, first served).
    const slots = p.smallFirst ? new WriteSlots(p.maxInFlightBatches) : undefined;
    const shared = {
      config,
      workerId,
      log,
      credit: this.#credit,
      gate,
      priority: p.smallFirst ? priorityOf : () => 'small' as const,
      slots: () => slots ?? new WriteSlots(p.maxInFlightBatches),
    };
    const work = ports.work
      ? { name: config.topics.tasks, partitions: config.topics.tasksPartitions }
      : undefined;
    this.#tweets = new Lane({
      ...shared,
      name: workerId,
      group: p.groupId,
      ports: {
        ...stores,
        source: ports.source,
        sink: ports.sink,
        readCheckpoints: ports.readCheckpoints,
      },
      handler: (ctx) => new TweetHandler(ctx, { config, claims: ports.claims, work }),
    });
    if (ports.work) {
      let handler: TaskHandler | undefined;
      const lane = new Lane({
        ...shared,
        name: `${workerId}-tasks`,
        group: `${p.groupId}.tasks`,
        ports: { ...stores, ...ports.work },
        handler: (ctx) => (handler = new TaskHandler(ctx, config)),
      });
      this.#tasks = { lane, handler: handler! };
    }
    if (ports.graph) {
      const graph = ports.graph;
      const graphGate = new AdmissionGate(config.graph.maxInFlight, () => this.#graph?.wake());
      this.#graph = new Lane({
        ...shared,
        gate: graphGate,
        name: `${workerId}-graph`,
        group: `${p.groupId}.graph`,
        ports: { ...stores, ...graph },
        handler: (ctx) =>
          new GraphHandler(ctx, {
            config,
            timelines: ports.timelines,
            authorTweets: graph.authorTweets,
          }),
      });
    }
  }

  get state(): WorkerState {
    return this.#tweets.state;
  }

  /** Runs the worker; settles when it stops (rejects with the reason if a lane failed). */
  start(): Promise<void> {
    if (this.#closing && !this.#run) return this.#closing;
    this.#run ??= this.#main();
    return this.#run;
  }

  /**
   * Graceful stop, safe to call twice (same promise): each lane stops taking records, stops
   * paging, lets in-flight batches land, commits offsets and checkpoints, disconnects.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.all([this.#tweets.close(), this.#tasks?.lane.close(), this.#graph?.close()]);
      await this.#run?.catch(() => undefined);
      // Trims queued by the last batches, before the caller shuts the Cassandra client down.
      await this.#timelines.idle?.();
      this.#unreportTrims();
    })();
    return this.#closing;
  }

  status(): WorkerStatus {
    const tweets = this.#tweets.status();
    const tasks = this.#tasks?.lane.status();
    const graph = this.#graph?.status();
    return {
      workerId: this.workerId,
      state: tweets.state,
      partitions: tweets.partitions,
      paused: tweets.paused && (tasks?.paused ?? true),
      inFlight: [...tweets.inFlight, ...(tasks?.inFlight ?? [])],
      uncommitted: tweets.uncommitted + (tasks?.uncommitted ?? 0),
      rowsOutstanding: this.#credit.outstanding,
      consumerLag: tweets.consumerLag,
      taskPartitions: tasks?.partitions ?? [],
      restoring: { partitions: tweets.restoring, taskPartitions: tasks?.restoring ?? [] },
      splits: this.#tasks?.handler.splits() ?? [],
      ...(graph
        ? {
            graph: {
              partitions: graph.partitions,
              inFlight: graph.inFlight.length,
              uncommitted: graph.uncommitted,
              consumerLag: graph.consumerLag,
            },
          }
        : {}),
      totals: this.counters().totals,
    };
  }

  /** `status().totals` and the jobs in flight, without the rest: cheap enough to poll every few ms. */
  counters(): { totals: Totals; inFlight: number } {
    const tasks = this.#tasks?.lane;
    return {
      totals: sumTotals({ ...this.#tweets.totals }, tasks?.totals),
      inFlight: this.#tweets.inFlight + (tasks?.inFlight ?? 0),
    };
  }

  async #main(): Promise<void> {
    // A failed tasks or graph lane stops the tweets lane at once, and so the worker.
    const tasks = this.#tasks?.lane.start().catch((err: unknown) => this.#tweets.fail(err));
    const graph = this.#graph?.start().catch((err: unknown) => this.#tweets.fail(err));
    let failure: unknown;
    try {
      await this.#tweets.start();
    } catch (err) {
      failure = err;
    }
    await Promise.all([this.#tasks?.lane.close(), this.#graph?.close()]);
    await Promise.all([tasks, graph]);
    if (failure !== undefined) throw failure as Error;
  }
}
