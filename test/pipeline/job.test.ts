import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/index.ts';
import { checkpointRows, readAheadRows, TweetJob } from '../../pipeline/job.ts';
import { checkpointRecord, restoreCheckpoints } from '../../pipeline/records.ts';

const change = {
  op: 'insert' as const,
  tweetId: '9b2f5a40-8c4e-11ef-9f0b-0242ac120002',
  authorId: 1n,
  writeTime: 10n,
  expiresAt: null,
};

describe('TweetJob', () => {
  it('moves its cursor only along written segments, whatever order batches finish in', () => {
    const job = new TweetJob({ partition: 0, offset: 0n }, change, null);
    job.emitted = 30;
    const a = job.addSegment(10, 110n);
    const b = job.addSegment(10, 120n);
    const c = job.addSegment(10, 130n);
    job.ack(c);
    job.ack(b);
    expect([job.delivered, job.cursor]).toEqual([0, null]);
    job.ack(a);
    expect([job.delivered, job.cursor]).toEqual([30, 130n]);
    expect(job.quiescent).toBe(true);
    expect(job.finished).toBe(false); // paging has not reached the end
    job.endPaging();
    expect(job.finished).toBe(true);
  });

  it('resumes from a checkpoint: cursor, rows delivered, start time', () => {
    const job = new TweetJob({ partition: 1, offset: 7n }, change, {
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
    expect(job).toMatchObject({
      resumed: true,
      cursor: 500n,
      readCursor: 500n,
      delivered: 400,
      emitted: 400,
      total: 1000,
      startedAt: 123,
      remaining: 600,
    });
    expect(job.hasCheckpoint).toBe(true);
    expect(job.unprotected).toBe(0);
  });

  it('is due for a checkpoint every `every` rows while running, at once when stopped or waiting, once when done', () => {
    const job = new TweetJob({ partition: 0, offset: 0n }, change, null);
    job.emitted = 25;
    job.ack(job.addSegment(15, 15n));
    expect(job.checkpointDue(20)).toBe(false);
    job.ack(job.addSegment(10, 25n));
    expect(job.checkpointDue(20)).toBe(true);
    job.checkpointed(job.snapshot());
    expect(job.checkpointDue(20)).toBe(false);
    job.endPaging();
    expect(job.checkpointDue(20)).toBe(true); // finished: a "done" checkpoint, once
    const done = job.snapshot();
    expect(done.checkpoint.done).toBe(true);
    job.checkpointed(done);
    expect(job.checkpointDue(20)).toBe(false);

    const stopped = new TweetJob({ partition: 0, offset: 1n }, change, null);
    stopped.emitted = 3;
    stopped.ack(stopped.addSegment(3, 3n));
    stopped.stop();
    expect(stopped.checkpointDue(1_000)).toBe(true);
  });

  it('lets paging read ahead of its last committed checkpoint only so far (the rework bound)', async () => {
    const job = new TweetJob({ partition: 0, offset: 0n }, change, null);
    let blocked = 0;
    job.emitted = 40;
    let through = false;
    const room = job
      .checkpointRoom(40, () => blocked++)
      .then(() => {
        through = true;
      });
    await Promise.resolve();
    expect([through, blocked]).toEqual([false, 1]);
    job.ack(job.addSegment(40, 40n));
    expect(job.checkpointDue(1_000)).toBe(true); // waiting: any progress is worth a checkpoint
    job.checkpointed(job.snapshot());
    await room;
    expect(through).toBe(true);
    expect(job.unprotected).toBe(0);
  });

  it('settles (for a revoke) once nothing it read is still unwritten', async () => {
    const job = new TweetJob({ partition: 0, offset: 0n }, change, null);
    job.emitted = 5;
    const seg = job.addSegment(5, 5n);
    let settled = false;
    const p = job.settled().then(() => {
      settled = true;
    });
    job.stop();
    await Promise.resolve();
    expect(settled).toBe(false);
    job.ack(seg);
    await p;
    expect(settled).toBe(true);
  });

  it('a retraction starts over from the first follower as deletes, with counts and checkpoints of its own; a restore resumes it', () => {
    const job = new TweetJob({ partition: 0, offset: 3n }, change, null);
    job.emitted = 40;
    job.ack(job.addSegment(40, 140n));
    job.checkpointed(job.snapshot());
    expect(() => {
      job.emitted = 41;
      job.beginRetraction();
    }).toThrow(/not an insert paged to its end and fully written/); // a row still unwritten
    job.emitted = 40;
    job.beginRetraction();
    expect(job).toMatchObject({
      retracting: true,
      writeOp: 'delete',
      op: 'insert',
      cursor: null,
      readCursor: null,
      delivered: 0,
      emitted: 0,
      unprotected: 0,
    });
    job.emitted = 10;
    job.ack(job.addSegment(10, 110n));
    expect(job.checkpointDue(10)).toBe(true); // measured from the retraction's start, not the insert's 40
    const snap = job.snapshot();
    expect(snap.checkpoint).toMatchObject({
      op: 'insert',
      retracting: true,
      cursor: 110n,
      delivered: 10,
    });
    // Through the checkpoint topic and back: the next owner goes on deleting from the cursor.
    const config = loadConfig({ env: {}, sets: [] });
    const rec = checkpointRecord(config, 'cdc', 0, 3n, snap.checkpoint);
    const restored = restoreCheckpoints(
      [{ partition: 0, offset: 0, key: rec.key, value: Buffer.from(rec.value!) }],
      'cdc',
    )
      .get(0)!
      .get(3n)!;
    const next = new TweetJob({ partition: 0, offset: 3n }, change, restored);
    expect(next).toMatchObject({
      retracting: true,
      writeOp: 'delete',
      cursor: 110n,
      delivered: 10,
    });
    expect(() => next.beginRetraction()).toThrow(); // at most once
    // A checkpoint of an insert not retracting says nothing of it (the format stays as it was).
    expect(
      JSON.parse(
        checkpointRecord(
          config,
          'cdc',
          0,
          4n,
          new TweetJob({ partition: 0, offset: 4n }, change, null).snapshot().checkpoint,
        ).value!,
      ),
    ).not.toHaveProperty('retracting');
  });

  it("a checkpoint of the insert pass committing after the retraction began counts for nothing in it; the retraction's start is due at once", () => {
    const job = new TweetJob({ partition: 0, offset: 3n }, change, null);
    job.emitted = 40;
    job.ack(job.addSegment(40, 140n));
    const insertPass = job.snapshot(); // planned into a transaction still in flight ...
    job.beginRetraction();
    expect(job.checkpointDue(1_000)).toBe(true); // the retraction's start, before any row of it
    job.checkpointed(insertPass); // ... which commits now
    expect(job.checkpointDue(1_000)).toBe(true);
    job.emitted = 30;
    expect(job.unprotected).toBe(30); // not 30 - 40: the read-ahead bound holds in the retraction
    job.ack(job.addSegment(30, 130n));
    job.checkpointed(job.snapshot());
    expect(job.checkpointDue(20)).toBe(false);
    expect(job.unprotected).toBe(0);
  });

  it('derives read-ahead and checkpoint spacing from checkpointEvery × batchSize', () => {
    expect(readAheadRows({ checkpointEvery: 50, batchSize: 64 })).toBe(3_200);
    expect(checkpointRows({ checkpointEvery: 50, batchSize: 64 })).toBe(1_600);
    expect(checkpointRows({ checkpointEvery: 1, batchSize: 1 })).toBe(1);
  });
});
