/**
 * The task handler: the lane of the work topic of split fan-outs (records/task.ts). A TASK is
 * delivered like a whole tweet, over its range only (deliver range ─ end check), and completes
 * with a task-done record for the split's home partition. A TASK-DONE is counted in the split's
 * tally by the owner of that home partition; the last one completes the split (./tallies.ts).
 */
import type { Config } from '../../config/index.ts';
import type { OutRecord, SourceRecord, StateRecord } from '../../ports/streams.ts';
import type { Checkpoint } from '../../records/checkpoint.ts';
import { decodeWorkRecord, taskDoneRecord, type WorkTopic } from '../../records/task.ts';
import { deliverRange } from '../fanout/deliver.ts';
import { rowsOf } from '../fanout/page.ts';
import { type Job, type TaskJob, taskJob } from '../job.ts';
import type { Admission, Handler, LaneContext } from '../lane/handler.ts';
import type { SplitProgress } from '../status.ts';
import { CompletionAggregator } from './tallies.ts';

export class TaskHandler implements Handler {
  readonly span = 'fanout.task';
  readonly #ctx: LaneContext;
  readonly #work: WorkTopic;
  readonly #tallies: CompletionAggregator;

  constructor(ctx: LaneContext, config: Config) {
    this.#ctx = ctx;
    this.#work = { name: config.topics.tasks, partitions: config.topics.tasksPartitions };
    this.#tallies = new CompletionAggregator(config, ctx.workerId, Date.now, (c) =>
      ctx.splitCompleted?.(c),
    );
  }

  admit(record: SourceRecord, restored: Checkpoint | null): Admission {
    const decoded = decodeWorkRecord(record);
    switch (decoded.kind) {
      case 'task': {
        const t = decoded.task;
        const cp = restored?.tweetId === t.tweetId && restored.op === t.op ? restored : null;
        return { kind: 'job', job: taskJob(record, t, cp) };
      }
      case 'done':
        return { kind: 'done', outputs: this.#tallies.add(record.partition, decoded.done) };
      case 'dead':
        return decoded;
    }
  }

  rows(job: Job) {
    const task = job as TaskJob;
    return rowsOf(task, (emit, closed) =>
      deliverRange(task, task.authorId, this.#ctx, emit, closed),
    );
  }

  outputs(job: Job): OutRecord[] {
    const task = job as TaskJob;
    return [
      taskDoneRecord(this.#work, task.task, {
        delivered: task.delivery.delivered,
        finishedAt: task.delivery.finishedAt ?? Date.now(),
        resumed: task.resumed,
        retracted: task.delivery.retracting,
        workerId: this.#ctx.workerId,
        traceparent: task.traceparent,
      }),
    ];
  }

  restore(partitions: readonly number[], state: readonly StateRecord[]): void {
    const count = this.#tallies.restore(partitions, state);
    this.#ctx.log.info('tallies restored', { partitions, talliesRestored: count });
  }

  drop(partitions: readonly number[]): void {
    this.#tallies.drop(partitions);
  }

  /** The splits whose task-done records this lane counts (it owns their home partitions). */
  splits(): SplitProgress[] {
    return this.#tallies.tallies().map((t) => ({
      tweetId: t.tweetId,
      splitId: t.splitId,
      tasks: t.count,
      tasksDone: t.done.length,
      delivered: t.delivered,
    }));
  }
}
