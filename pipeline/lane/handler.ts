/**
 * What a lane runs per record of its input topic: a HANDLER decides what a record is, what
 * delivering its job takes (named steps, top to bottom), and what the job produces with its
 * offset commit. The lane runtime (./lane.ts) does the rest, the same for every input topic:
 * lifecycle, assignment and restore, backpressure, batching and writing, checkpoints, commits.
 * Here too: what a lane is built from (its ports and options) and what it reports.
 */
import type { Observable } from 'rxjs';
import type { Config } from '../../config/index.ts';
import type { Logger } from '../../lib/log.ts';
import type { SampledSpan } from '../../lib/span-sampler.ts';
import type { FollowerStore, TimelineStore, TweetAuthorStore } from '../../ports/stores.ts';
import type {
  OutRecord,
  RecordSource,
  SourceRecord,
  StateReader,
  StateRecord,
  TransactionalSink,
} from '../../ports/streams.ts';
import type { Checkpoint } from '../../records/checkpoint.ts';
import type { DeliverDeps } from '../fanout/deliver.ts';
import type { Row } from '../fanout/page.ts';
import type { Job } from '../job.ts';
import type { FanoutMetrics } from '../metrics.ts';
import type { TweetProgress, WorkerState } from '../status.ts';
import type { AdmissionGate, Credit, Priority } from './credit.ts';
import type { CommitPlan } from './ledger.ts';
import type { WriteSlots } from './write-slots.ts';

/** Runs one store call under the retry policy; retries become events on `span`. */
export type Attempt = <T>(what: string, fn: () => Promise<T>, span?: SampledSpan) => Promise<T>;

/** A split whose last task-done was counted: what its latency and duration are measured from. */
export interface SplitCompleted {
  readonly op: 'insert' | 'delete';
  /** µs; null when its task-dones did not carry it (written by an older version). */
  readonly writeTime: bigint | null;
  readonly startedAt: number;
  readonly finishedAt: number;
}

/** What one record is. */
export type Admission =
  /** A job to deliver. */
  | { readonly kind: 'job'; readonly job: Job }
  /** Nothing to deliver: `outputs` go out with its offset commit. */
  | { readonly kind: 'done'; readonly outputs: readonly OutRecord[] }
  /** Bad input: dead-lettered with its reason, its offset committed with the dead letter. */
  | { readonly kind: 'dead'; readonly code: string; readonly message: string };

/** The lane's services a handler uses. */
export interface LaneContext extends DeliverDeps {
  readonly workerId: string;
  /** The lane's input topic. */
  readonly topic: string;
  readonly log: Logger;
  readonly metrics: FanoutMetrics;
  /** A record the lane cannot use: counted, logged, and its dead letter (with `code` and why). */
  readonly deadLetter: (record: SourceRecord, code: string, message: string) => OutRecord;
  /** A split tweet's last task-done was counted here: its latency and duration are recorded. */
  readonly splitCompleted?: (c: SplitCompleted) => void;
}

export interface Handler {
  /** Span name of a job (`fanout.tweet`, `fanout.task`). */
  readonly span: string;
  /** Decides what a record is; `restored`: the checkpoint a previous owner left for it. */
  admit(record: SourceRecord, restored: Checkpoint | null): Admission;
  /** The job's follower rows, page by page: its steps. Completes when paging ended or stopped. */
  rows(job: Job): Observable<Row[]>;
  /** What the finished job produces with its offset commit. */
  outputs(job: Job, record: SourceRecord): OutRecord[];
  /** Partitions taken over, with the checkpoint-topic records read back for them. */
  restore?(partitions: readonly number[], state: readonly StateRecord[]): void;
  /** Partitions given up or lost. */
  drop?(partitions: readonly number[]): void;
  /** A transaction committed. */
  committed?(plan: CommitPlan): void;
  /** Called once the lane stopped: work the handler still has under way settles. */
  settled?(): Promise<void>;
}

/** What a lane reads, writes and commits through. */
export interface LanePorts {
  readonly source: RecordSource;
  readonly sink: TransactionalSink;
  readonly readCheckpoints: StateReader;
  readonly followers: FollowerStore;
  readonly timelines: TimelineStore;
  readonly authors: TweetAuthorStore;
}

export interface LaneOptions {
  readonly config: Config;
  readonly workerId: string;
  /** Names the lane in logs and metrics (`<workerId>` or `<workerId>-tasks`). */
  readonly name: string;
  /** Its consumer group (for metrics; the source joins it). */
  readonly group: string;
  readonly log: Logger;
  readonly ports: LanePorts;
  /** Shared by the lanes of a worker: rows read and not written (memory). */
  readonly credit: Credit;
  /** Shared by the lanes of a worker: jobs in flight. */
  readonly gate: AdmissionGate;
  /** Whose rows go first, to the credit and to the writes. */
  readonly priority: (job: Job) => Priority;
  /** The lane's bound on timeline writes in flight (shared by the lanes, small first). */
  readonly slots: () => WriteSlots;
  readonly handler: (ctx: LaneContext) => Handler;
}

/** A lane's part of the worker's status. */
export interface LaneStatus {
  readonly state: WorkerState;
  readonly partitions: number[];
  readonly restoring: number[];
  readonly paused: boolean;
  readonly inFlight: TweetProgress[];
  readonly uncommitted: number;
  readonly consumerLag: number | undefined;
}
