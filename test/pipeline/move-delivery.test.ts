import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/index.ts';
import {
  checkpointDue,
  checkpointOf,
  rowWriteTime,
  tweetJob,
  writeOp,
} from '../../pipeline/job.ts';
import {
  type Checkpoint,
  checkpointRecord,
  decodeCheckpoint,
  restoreCheckpoints,
} from '../../records/checkpoint.ts';
import { checkpointTopic } from '../support/topics.ts';

const config = loadConfig({ env: {}, sets: [] });
const change = {
  op: 'insert' as const,
  tweetId: '9b2f5a40-8c4e-11ef-9f0b-0242ac120002',
  authorId: 3n,
  writeTime: 200n,
  expiresAt: null,
};
const at = { topic: 'cdc', partition: 0, offset: 5n };

/** A checkpoint through the checkpoint topic and back. */
function roundTrip(cp: Checkpoint): Checkpoint {
  const rec = checkpointRecord(checkpointTopic(config), at, cp);
  return restoreCheckpoints(
    [{ partition: 0, offset: 0, key: rec.key, value: Buffer.from(rec.value!) }],
    'cdc',
  )
    .get(0)!
    .get(5n)!;
}

describe('the passes of a move', () => {
  it("a move's first pass deletes one µs before the change, has counts and checkpoints of its own, and resumes from them", () => {
    const job = tweetJob(at, change, null);
    job.movedFrom = 1n;
    job.delivery.beginMove();
    expect([writeOp(job), rowWriteTime(job), job.delivery.pass]).toEqual(['delete', 199n, 'move']);
    expect(checkpointDue(job, 1_000)).toBe(true); // its first checkpoint, before any row
    job.delivery.emitted = 10;
    job.delivery.ack(job.delivery.addSegment(10, 1_009n));
    const cp = checkpointOf(job);
    expect(cp).toMatchObject({ movedFrom: 1n, moving: true, cursor: 1_009n, delivered: 10 });
    expect(JSON.parse(checkpointRecord(checkpointTopic(config), at, cp).value!)).toMatchObject({
      v: 2,
      movedFrom: '1',
      moving: true,
    });
    const next = tweetJob(at, change, roundTrip(cp));
    expect(next).toMatchObject({ movedFrom: 1n, resumed: true });
    expect(next.delivery).toMatchObject({ moving: true, cursor: 1_009n, delivered: 10 });
    expect([writeOp(next), rowWriteTime(next)]).toEqual(['delete', 199n]);
  });

  it('the delivery starts over once every row of the move is written, with the new count; a checkpoint of the move committing late counts for nothing in it', () => {
    const job = tweetJob(at, change, null);
    job.movedFrom = 1n;
    job.delivery.beginMove();
    job.delivery.checkpointed(job.delivery.progress());
    job.delivery.total = 500;
    job.delivery.emitted = 40;
    const slot = job.delivery.addSegment(40, 1_039n);
    expect(() => job.delivery.endMove()).toThrow(/fully written/);
    job.delivery.ack(slot);
    const movePass = job.delivery.progress(); // planned into a transaction still in flight ...
    job.delivery.endMove();
    expect(job.delivery).toMatchObject({
      pass: 'deliver',
      cursor: null,
      delivered: 0,
      emitted: 0,
      total: null,
    });
    expect([writeOp(job), rowWriteTime(job)]).toEqual(['insert', 200n]);
    expect(checkpointDue(job, 1_000)).toBe(true); // the delivery's start
    job.delivery.checkpointed(movePass); // ... which commits now
    expect(checkpointDue(job, 1_000)).toBe(true);
    job.delivery.emitted = 30;
    expect(job.delivery.unprotected).toBe(30);
    const cp = checkpointOf(job);
    expect(cp).toMatchObject({ movedFrom: 1n, delivered: 0 });
    expect(cp).not.toHaveProperty('moving');
    expect(tweetJob(at, change, roundTrip(cp))).toMatchObject({ movedFrom: 1n });
    expect(() => job.delivery.beginMove()).toThrow(); // only before anything is read
  });

  it('a move waits for a checkpoint of its own pass, or a stop', async () => {
    const job = tweetJob(at, change, null);
    job.delivery.checkpointed(job.delivery.progress()); // the delivery pass's: not the move's
    job.delivery.beginMove();
    let done = false;
    const waiting = job.delivery.passCheckpointed().then(() => (done = true));
    job.delivery.checkpointed({ ...job.delivery.progress(), moving: undefined });
    await Promise.resolve();
    expect(done).toBe(false);
    job.delivery.checkpointed(job.delivery.progress());
    await waiting;
    const other = tweetJob(at, change, null);
    other.delivery.beginMove();
    const stopped = other.delivery.passCheckpointed();
    other.delivery.stop();
    await stopped;
  });

  it('checkpoints of anything but a move keep format version 1; version-1 records still read; a move without a readable old author does not', () => {
    const plain = checkpointOf(tweetJob(at, change, null));
    const v1 = JSON.parse(checkpointRecord(checkpointTopic(config), at, plain).value!);
    expect(v1.v).toBe(1);
    expect(v1).not.toHaveProperty('movedFrom');
    // As an earlier version wrote it.
    const old = {
      v: 1,
      tweetId: change.tweetId,
      op: 'insert',
      authorId: '3',
      writeTime: '200',
      cursor: '1010',
      delivered: 11,
      total: 20,
      startedAt: 1,
      done: false,
      finishedAt: null,
      retracting: true,
    };
    expect(decodeCheckpoint(Buffer.from(JSON.stringify(old)))).toMatchObject({
      cursor: 1_010n,
      retracting: true,
    });
    expect(decodeCheckpoint(Buffer.from(JSON.stringify(old)))).not.toHaveProperty('movedFrom');
    expect(decodeCheckpoint(Buffer.from(JSON.stringify({ ...old, v: 2, movedFrom: 'x' })))).toBe(
      null,
    );
    expect(decodeCheckpoint(Buffer.from(JSON.stringify({ ...old, v: 3 })))).toBe(null);
  });
});
