import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/index.ts';
import { checkpointRows, readAheadRows } from '../../pipeline/bounds.ts';
import { checkpointDue, checkpointOf, tweetJob, writeOp } from '../../pipeline/job.ts';
import { checkpointRecord, restoreCheckpoints } from '../../records/checkpoint.ts';
import { checkpointTopic } from '../support/topics.ts';

const change = {
  op: 'insert' as const,
  tweetId: '9b2f5a40-8c4e-11ef-9f0b-0242ac120002',
  authorId: 1n,
  writeTime: 10n,
  expiresAt: null,
};

describe('Delivery of a tweet job', () => {
  it('moves its cursor only along written segments, whatever order batches finish in', () => {
    const job = tweetJob({ partition: 0, offset: 0n }, change, null);
    job.delivery.emitted = 30;
    const a = job.delivery.addSegment(10, 110n);
    const b = job.delivery.addSegment(10, 120n);
    const c = job.delivery.addSegment(10, 130n);
    job.delivery.ack(c);
    job.delivery.ack(b);
    expect([job.delivery.delivered, job.delivery.cursor]).toEqual([0, null]);
    job.delivery.ack(a);
    expect([job.delivery.delivered, job.delivery.cursor]).toEqual([30, 130n]);
    expect(job.delivery.quiescent).toBe(true);
    expect(job.delivery.finished).toBe(false); // paging has not reached the end
    job.delivery.endPaging();
    expect(job.delivery.finished).toBe(true);
  });

  it('resumes from a checkpoint: cursor, rows delivered, start time', () => {
    const job = tweetJob({ partition: 1, offset: 7n }, change, {
      tweetId: change.tweetId,
      op: 'insert',
      authorId: 1n,
      writeTime: 10n,
      cursor: 500n,
      delivered: 400,
      total: 1000,
      startedAt: 123,
      done: false,
      finishedAt: null,
    });
    expect(job).toMatchObject({ resumed: true, startedAt: 123 });
    expect(job.delivery).toMatchObject({
      cursor: 500n,
      readCursor: 500n,
      delivered: 400,
      emitted: 400,
      total: 1000,
      remaining: 600,
    });
    expect(job.delivery.hasCheckpoint).toBe(true);
    expect(job.delivery.unprotected).toBe(0);
  });

  it('is due for a checkpoint every `every` rows while running, at once when stopped or waiting, once when done', () => {
    const job = tweetJob({ partition: 0, offset: 0n }, change, null);
    job.delivery.emitted = 25;
    job.delivery.ack(job.delivery.addSegment(15, 15n));
    expect(checkpointDue(job, 20)).toBe(false);
    job.delivery.ack(job.delivery.addSegment(10, 25n));
    expect(checkpointDue(job, 20)).toBe(true);
    job.delivery.checkpointed(job.delivery.progress());
    expect(checkpointDue(job, 20)).toBe(false);
    job.delivery.endPaging();
    expect(checkpointDue(job, 20)).toBe(true); // finished: a "done" checkpoint, once
    const done = job.delivery.progress();
    expect(done.done).toBe(true);
    job.delivery.checkpointed(done);
    expect(checkpointDue(job, 20)).toBe(false);

    const stopped = tweetJob({ partition: 0, offset: 1n }, change, null);
    stopped.delivery.emitted = 3;
    stopped.delivery.ack(stopped.delivery.addSegment(3, 3n));
    stopped.delivery.stop();
    expect(checkpointDue(stopped, 1_000)).toBe(true);
  });

  it('lets paging read ahead of its last committed checkpoint only so far (the rework bound)', async () => {
    const job = tweetJob({ partition: 0, offset: 0n }, change, null);
    let blocked = 0;
    job.delivery.emitted = 40;
    let through = false;
    const room = job.delivery
      .checkpointRoom(40, () => blocked++)
      .then(() => {
        through = true;
      });
    await Promise.resolve();
    expect([through, blocked]).toEqual([false, 1]);
    job.delivery.ack(job.delivery.addSegment(40, 40n));
    expect(checkpointDue(job, 1_000)).toBe(true); // waiting: any progress is worth a checkpoint
    job.delivery.checkpointed(job.delivery.progress());
    await room;
    expect(through).toBe(true);
    expect(job.delivery.unprotected).toBe(0);
  });

  it('settles (for a revoke) once nothing it read is still unwritten', async () => {
    const job = tweetJob({ partition: 0, offset: 0n }, change, null);
    job.delivery.emitted = 5;
    const seg = job.delivery.addSegment(5, 5n);
    let settled = false;
    const p = job.delivery.settled().then(() => {
      settled = true;
    });
    job.delivery.stop();
    await Promise.resolve();
    expect(settled).toBe(false);
    job.delivery.ack(seg);
    await p;
    expect(settled).toBe(true);
  });

  it('a retraction starts over from the first follower as deletes, with counts and checkpoints of its own; a restore resumes it', () => {
    const job = tweetJob({ partition: 0, offset: 3n }, change, null);
    job.delivery.emitted = 40;
    job.delivery.ack(job.delivery.addSegment(40, 140n));
    job.delivery.checkpointed(job.delivery.progress());
    expect(() => {
      job.delivery.emitted = 41;
      job.delivery.beginRetraction();
    }).toThrow(/not paged to its end and fully written/); // a row still unwritten
    job.delivery.emitted = 40;
    job.delivery.beginRetraction();
    expect([writeOp(job), job.op]).toEqual(['delete', 'insert']);
    expect(job.delivery).toMatchObject({
      retracting: true,
      cursor: null,
      readCursor: null,
      delivered: 0,
      emitted: 0,
      unprotected: 0,
    });
    job.delivery.emitted = 10;
    job.delivery.ack(job.delivery.addSegment(10, 110n));
    expect(checkpointDue(job, 10)).toBe(true); // measured from the retraction's start, not the insert's 40
    const snap = checkpointOf(job);
    expect(snap).toMatchObject({
      op: 'insert',
      retracting: true,
      cursor: 110n,
      delivered: 10,
    });
    // Through the checkpoint topic and back: the next owner goes on deleting from the cursor.
    const config = loadConfig({ env: {}, sets: [] });
    const rec = checkpointRecord(
      checkpointTopic(config),
      { topic: 'cdc', partition: 0, offset: 3n },
      snap,
    );
    const restored = restoreCheckpoints(
      [{ partition: 0, offset: 0, key: rec.key, value: Buffer.from(rec.value!) }],
      'cdc',
    )
      .get(0)!
      .get(3n)!;
    const next = tweetJob({ partition: 0, offset: 3n }, change, restored);
    expect(writeOp(next)).toBe('delete');
    expect(next.delivery).toMatchObject({
      retracting: true,
      cursor: 110n,
      delivered: 10,
    });
    expect(() => next.delivery.beginRetraction()).toThrow(); // at most once
    // A checkpoint of an insert not retracting says nothing of it (the format stays as it was).
    expect(
      JSON.parse(
        checkpointRecord(
          checkpointTopic(config),
          { topic: 'cdc', partition: 0, offset: 4n },
          checkpointOf(tweetJob({ partition: 0, offset: 4n }, change, null)),
        ).value!,
      ),
    ).not.toHaveProperty('retracting');
  });

  it("a checkpoint of the insert pass committing after the retraction began counts for nothing in it; the retraction's start is due at once", () => {
    const job = tweetJob({ partition: 0, offset: 3n }, change, null);
    job.delivery.emitted = 40;
    job.delivery.ack(job.delivery.addSegment(40, 140n));
    const insertPass = job.delivery.progress(); // planned into a transaction still in flight ...
    job.delivery.beginRetraction();
    expect(checkpointDue(job, 1_000)).toBe(true); // the retraction's start, before any row of it
    job.delivery.checkpointed(insertPass); // ... which commits now
    expect(checkpointDue(job, 1_000)).toBe(true);
    job.delivery.emitted = 30;
    expect(job.delivery.unprotected).toBe(30); // not 30 - 40: the read-ahead bound holds in the retraction
    job.delivery.ack(job.delivery.addSegment(30, 130n));
    job.delivery.checkpointed(job.delivery.progress());
    expect(checkpointDue(job, 20)).toBe(false);
    expect(job.delivery.unprotected).toBe(0);
  });

  it('derives read-ahead and checkpoint spacing from checkpointEvery × batchSize', () => {
    expect(readAheadRows({ checkpointEvery: 50, batchSize: 64 })).toBe(3_200);
    expect(checkpointRows({ checkpointEvery: 50, batchSize: 64 })).toBe(1_600);
    expect(checkpointRows({ checkpointEvery: 1, batchSize: 1 })).toBe(1);
  });
});
