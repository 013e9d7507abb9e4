import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../config/index.ts';
import { coalesceLatest, Committer } from '../../../pipeline/lane/committer.ts';
import { InOrderFrontier } from '../../../pipeline/lane/frontier.ts';
import { CommitLedger } from '../../../pipeline/lane/ledger.ts';
import { FakeSink, permanent, retriable } from '../fakes.ts';
import { checkpointRows } from '../../../pipeline/bounds.ts';
import { tweetJob } from '../../../pipeline/job.ts';
import { checkpointTopic } from '../../support/topics.ts';

const config = loadConfig({
  env: {},
  sets: [
    'pipeline.checkpointEvery=2',
    'pipeline.batchSize=10',
    'retry.baseDelayMs=1',
    'retry.maxDelayMs=2',
    'retry.maxAttempts=3',
  ],
});
const TOPIC = 'cdc.ks.tweets';
const out = (key: string) => ({ topic: 'out', key, value: key });
const job = (partition: number, offset: bigint) =>
  tweetJob(
    { partition, offset },
    {
      op: 'insert',
      tweetId: `00000000-0000-1000-8000-00000000000${offset}`,
      authorId: 1n,
      writeTime: 1n,
      expiresAt: null,
    },
    null,
  );

describe('InOrderFrontier', () => {
  it('gives out only the done prefix, whatever order items finish in', () => {
    const f = new InOrderFrontier<number>();
    const slots = [1, 2, 3, 4].map((n) => f.add(n));
    f.done(slots[2]!);
    f.done(slots[1]!);
    expect(f.takeDone()).toEqual([]);
    f.done(slots[0]!);
    expect(f.takeDone()).toEqual([1, 2, 3]);
    expect([...f.values()]).toEqual([4]);
    f.done(slots[3]!);
    expect(f.donePrefix()).toEqual([4]);
    expect(f.size).toBe(1);
    expect(() => f.shift(2)).toThrow(/not done/);
  });

  it('keeps order and size across the compactions of a long life', () => {
    const f = new InOrderFrontier<number>();
    const open: Array<ReturnType<typeof f.add>> = [];
    let next = 0;
    let taken = 0;
    for (let round = 0; round < 200; round++) {
      for (let i = 0; i < 7; i++) open.push(f.add(next++));
      // finish all but the newest two, newest first, and take what is done
      for (const slot of open.splice(0, open.length - 2).reverse()) f.done(slot);
      const prefix = f.takeDone();
      expect(prefix).toEqual(Array.from({ length: prefix.length }, (_, i) => taken + i));
      taken += prefix.length;
      expect(f.size).toBe(next - taken);
      expect([...f.values()]).toEqual([next - 2, next - 1]);
    }
  });
});

describe('CommitLedger: the commit tracker', () => {
  it('commits per partition only past records that are all done, in order, with their outputs', () => {
    const ledger = new CommitLedger({
      topic: TOPIC,
      checkpoints: checkpointTopic(config),
      checkpointRows: checkpointRows(config.pipeline),
    });
    ledger.open(0);
    ledger.open(1);
    const a = ledger.track(0, 10n, null);
    const b = ledger.track(0, 11n, null);
    const c = ledger.track(0, 12n, null);
    const d = ledger.track(1, 5n, null);
    ledger.finish(c, [out('c')]);
    ledger.finish(b, [out('b')]);
    expect(ledger.plan().empty).toBe(true); // 10 is still in flight: nothing past it may be committed
    ledger.finish(d, [out('d')]);
    let plan = ledger.plan();
    expect(plan.tx.offsets).toEqual([{ partition: 1, offset: 6n }]);
    expect(plan.tx.records.map((r) => r.key)).toEqual(['d']);
    plan.apply();
    ledger.finish(a, [out('a')]);
    plan = ledger.plan();
    expect(plan.tx.offsets).toEqual([{ partition: 0, offset: 13n }]);
    expect(plan.tx.records.map((r) => r.key)).toEqual(['a', 'b', 'c']); // in offset order
    expect(ledger.size).toBe(3);
    plan.apply();
    expect(ledger.size).toBe(0);
    expect(ledger.plan().empty).toBe(true);
    expect(ledger.position(0)).toBe(13n);
  });

  it('changes nothing until apply: a failed transaction is simply planned again', () => {
    const ledger = new CommitLedger({
      topic: TOPIC,
      checkpoints: checkpointTopic(config),
      checkpointRows: checkpointRows(config.pipeline),
    });
    ledger.open(0);
    ledger.finish(ledger.track(0, 0n, null), [out('x')]);
    const first = ledger.plan();
    const again = ledger.plan();
    expect(again.tx).toEqual(first.tx);
    again.apply();
    expect(ledger.plan().empty).toBe(true);
  });

  it('checkpoints tweets in flight when due, then tombstones the checkpoint with the commit that passes them', () => {
    const ledger = new CommitLedger({
      topic: TOPIC,
      checkpoints: checkpointTopic(config),
      checkpointRows: checkpointRows(config.pipeline),
    });
    ledger.open(0);
    const j = job(0, 0n);
    const slot = ledger.track(0, 0n, j);
    j.delivery.emitted = 20;
    j.delivery.ack(j.delivery.addSegment(10, 110n)); // 10 rows written = checkpointRows (2 × 10 / 2)
    let plan = ledger.plan();
    expect(plan.tx.offsets).toEqual([]);
    expect(plan.tx.records).toHaveLength(1);
    const cp = plan.tx.records[0]!;
    expect(cp).toMatchObject({
      topic: config.topics.checkpoints,
      partition: 0,
      key: `${TOPIC}/0/0`,
    });
    expect(JSON.parse(cp.value!)).toMatchObject({ cursor: '110', delivered: 10, done: false });
    plan.apply();
    expect(ledger.plan().empty).toBe(true); // not due again until 10 more rows
    j.delivery.ack(j.delivery.addSegment(10, 120n));
    j.delivery.endPaging();
    ledger.finish(slot, [out('done')]);
    plan = ledger.plan();
    expect(plan.tx.offsets).toEqual([{ partition: 0, offset: 1n }]);
    expect(plan.tx.records.map((r) => [r.key, r.value])).toEqual([
      ['done', 'done'],
      [`${TOPIC}/0/0`, null],
    ]);
  });

  it('lets tweets a quarter of the way to their next checkpoint ride along in a transaction made anyway, and only then', () => {
    // A checkpoint every 20 rows (half of 4 batches of 10): riders from 5.
    const ledger = new CommitLedger({
      topic: TOPIC,
      checkpoints: checkpointTopic(
        loadConfig({ env: {}, sets: ['pipeline.checkpointEvery=4', 'pipeline.batchSize=10'] }),
      ),
      checkpointRows: checkpointRows(
        loadConfig({ env: {}, sets: ['pipeline.checkpointEvery=4', 'pipeline.batchSize=10'] })
          .pipeline,
      ),
    });
    const keys = (p: ReturnType<CommitLedger['plan']>): Array<string | undefined> =>
      p.tx.records.map((r) => r.key);
    ledger.open(0);
    ledger.open(1);
    const [a, b, c] = [job(0, 0n), job(1, 1n), job(1, 2n)];
    ledger.track(0, 0n, a);
    ledger.track(1, 1n, b);
    ledger.track(1, 2n, c);
    for (const j of [a, b, c]) j.delivery.emitted = 60;
    b.delivery.ack(b.delivery.addSegment(5, 105n)); // a quarter of the interval
    c.delivery.ack(c.delivery.addSegment(4, 204n)); // one row short of it
    expect(ledger.plan().empty).toBe(true); // nobody is due: no transaction just for riders
    a.delivery.ack(a.delivery.addSegment(20, 20n)); // due
    let plan = ledger.plan();
    expect(keys(plan)).toEqual([`${TOPIC}/0/0`, `${TOPIC}/1/1`]);
    expect(JSON.parse(plan.tx.records[1]!.value!)).toMatchObject({ cursor: '105', delivered: 5 });
    plan.apply();
    expect(ledger.plan().empty).toBe(true);
    // b's interval restarts at the checkpoint it rode along with: due after 20 more rows, not 15.
    b.delivery.ack(b.delivery.addSegment(15, 120n));
    expect(ledger.plan().empty).toBe(true);
    b.delivery.ack(b.delivery.addSegment(5, 125n));
    expect(keys(ledger.plan())).toEqual([`${TOPIC}/1/1`]); // c is still one row short
    c.delivery.ack(c.delivery.addSegment(1, 205n));
    plan = ledger.plan();
    expect(keys(plan)).toEqual([`${TOPIC}/1/1`, `${TOPIC}/1/2`]);
    plan.apply();
    // A transaction that only commits an offset carries riders too.
    ledger.open(2);
    ledger.finish(ledger.track(2, 7n, null), []);
    a.delivery.ack(a.delivery.addSegment(5, 25n));
    plan = ledger.plan();
    expect(plan.tx.offsets).toEqual([{ partition: 2, offset: 8n }]);
    expect(keys(plan)).toEqual([`${TOPIC}/0/0`]);
  });

  it('writes a "done" checkpoint for a finished tweet stuck behind an unfinished one', () => {
    const ledger = new CommitLedger({
      topic: TOPIC,
      checkpoints: checkpointTopic(config),
      checkpointRows: checkpointRows(config.pipeline),
    });
    ledger.open(0);
    ledger.track(0, 0n, job(0, 0n)); // still in flight
    const j = job(0, 1n);
    const slot = ledger.track(0, 1n, j);
    j.delivery.endPaging();
    ledger.finish(slot, [out('completed')]);
    const plan = ledger.plan();
    expect(plan.tx.offsets).toEqual([]);
    expect(plan.tx.records.map((r) => r.key)).toEqual([`${TOPIC}/0/1`]);
    expect(JSON.parse(plan.tx.records[0]!.value!)).toMatchObject({ done: true });
    plan.apply();
    expect(ledger.plan().empty).toBe(true);
  });

  it('forgets dropped partitions, even if a planned transaction commits afterwards', () => {
    const ledger = new CommitLedger({
      topic: TOPIC,
      checkpoints: checkpointTopic(config),
      checkpointRows: checkpointRows(config.pipeline),
    });
    ledger.open(0);
    ledger.finish(ledger.track(0, 0n, null), []);
    const plan = ledger.plan();
    expect(ledger.drop([0])).toHaveLength(1);
    plan.apply();
    expect(ledger.partitions()).toEqual([]);
    expect(ledger.plan().empty).toBe(true);
  });
});

describe('coalesceLatest', () => {
  it('never runs two at once; requests made while busy collapse into one follow-up run of the latest', () => {
    new TestScheduler((a, e) => expect(a).toEqual(e)).run(({ cold, hot, expectObservable }) => {
      const requests = hot('a-b-c-------d------|');
      const run = (v: string) => cold('-----(x|)', { x: v.toUpperCase() });
      // b and c arrive while A runs: one follow-up run, of c; d arrives when idle and runs at once.
      expectObservable(requests.pipe(coalesceLatest(run))).toBe('-----A----C------D-|');
    });
  });

  it('completes only after the last run, and errors when a run errors', () => {
    new TestScheduler((a, e) => expect(a).toEqual(e)).run(({ cold, hot, expectObservable }) => {
      expectObservable(hot('a|').pipe(coalesceLatest(() => cold('--(x|)')))).toBe('--(x|)');
      expectObservable(
        hot('a-b').pipe(coalesceLatest((v: string) => (v === 'a' ? cold('-#') : cold('-x')))),
      ).toBe('-#');
    });
  });
});

describe('Committer', () => {
  const setup = (lingerMs = 0) => {
    const ledger = new CommitLedger({
      topic: TOPIC,
      checkpoints: checkpointTopic(config),
      checkpointRows: checkpointRows(config.pipeline),
    });
    ledger.open(0);
    const sink = new FakeSink();
    const committer = new Committer({ ledger, sink, retry: config.retry, lingerMs });
    return { ledger, sink, committer };
  };

  it('with a linger, what finishes while the transaction waits rides along in it', async () => {
    const { ledger, sink, committer } = setup(30);
    ledger.finish(ledger.track(0, 0n, null), [out('a')]);
    committer.request(); // without a linger it plans at once, without b
    ledger.finish(ledger.track(0, 1n, null), [out('b')]);
    await committer.flush();
    expect(sink.committed).toHaveLength(1);
    expect(sink.records('out').map((r) => r.key)).toEqual(['a', 'b']);
    expect(sink.offset(0)).toBe(2n);
    committer.close();
  });

  it('flush resolves once a transaction covering the state at the call committed', async () => {
    const { ledger, sink, committer } = setup();
    ledger.finish(ledger.track(0, 0n, null), [out('a')]);
    committer.request();
    ledger.finish(ledger.track(0, 1n, null), [out('b')]);
    await committer.flush();
    expect(sink.offset(0)).toBe(2n);
    expect(sink.records('out').map((r) => r.key)).toEqual(['a', 'b']);
    expect(sink.committed.length).toBeLessThanOrEqual(2);
    committer.close();
  });

  it('retries a retriable failure with the same content, re-planned', async () => {
    const { ledger, sink, committer } = setup();
    sink.failures.push(retriable('coordinator moved'));
    ledger.finish(ledger.track(0, 0n, null), [out('a')]);
    await committer.flush();
    expect(sink.committed).toHaveLength(1);
    expect(sink.offset(0)).toBe(1n);
    committer.close();
  });

  it('fails for good on a non-retriable error (fenced), and says so to every waiter', async () => {
    const { ledger, sink, committer } = setup();
    sink.failures.push(permanent('fenced by a newer instance'));
    ledger.finish(ledger.track(0, 0n, null), [out('a')]);
    const failures = new Promise((_, reject) => committer.failures().subscribe({ error: reject }));
    await expect(committer.flush()).rejects.toThrow(/fenced/);
    await expect(failures).rejects.toThrow(/fenced/);
    await expect(committer.flush()).rejects.toThrow(/fenced/);
    expect(sink.committed).toHaveLength(0);
    committer.close();
  });

  it('does not commit an empty transaction', async () => {
    const { sink, committer } = setup();
    await committer.flush();
    expect(sink.committed).toHaveLength(0);
    committer.close();
  });
});
