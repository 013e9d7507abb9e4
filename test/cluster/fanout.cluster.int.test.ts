/**
 * Issue #20 on the local 3-node cluster (scripts/cluster-tests.sh): tweets written with CQL at
 * LOCAL_QUORUM while a connector per Cassandra node and two workers run; every change fans out
 * exactly once (one completion per tweet) and every follower's timeline is exact, also when a
 * Cassandra node or a Kafka broker is SIGKILLed mid fan-out. The claims (pipeline.dedupeCopies)
 * are what makes it exactly once: the last test shows the same check failing without them, and
 * FANOUT_CLUSTER_DEDUPE=off runs every test without them (each then fails).
 * Size: FANOUT_CLUSTER_TWEETS (150) tweets by 4 authors each followed by the same
 * FANOUT_CLUSTER_FOLLOWERS (400) users: 60k timeline rows (180k replica writes) per test, which
 * fits CI on a 2-core box running all six JVMs; bench/cluster.ts runs the larger sizes.
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import { killClusterNode, startClusterNode } from '../../services/cluster.ts';
import { ClusterWorld, type Verdict, type Written } from './world.ts';

const TWEETS = Number(process.env['FANOUT_CLUSTER_TWEETS'] ?? 150);
const FOLLOWERS = Number(process.env['FANOUT_CLUSTER_FOLLOWERS'] ?? 400);
const DEDUPE = process.env['FANOUT_CLUSTER_DEDUPE'] === 'off' ? 'off' : 'auto';
const say = (line: string): void => void process.stderr.write(`[cluster] ${line}\n`);

let world: ClusterWorld | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
  // A test that failed between a kill and its restart leaves no node down for the next one.
  await startClusterNode('cassandra', 3, { timeoutMs: 300_000 });
  await startClusterNode('kafka', 2, { timeoutMs: 300_000 });
});

const open = async (dedupe: 'auto' | 'off' = DEDUPE, tweets = TWEETS): Promise<ClusterWorld> => {
  world = await ClusterWorld.open({ tweets, followers: FOLLOWERS, dedupe, tag: inject('runTag') });
  return world;
};

const exactlyOnce = (v: Verdict): void => {
  expect(v.missing, 'tweets without a completion').toEqual([]);
  expect(v.duplicated, 'tweets fanned out more than once').toEqual([]);
  expect(v.splitChanges, 'one write logged as several changes').toEqual([]);
  expect(v.wrongTimelines, 'timelines not exactly the tweets written').toEqual([]);
};

/** Seconds between `from` and the first completion of a tweet written after `from`. */
const stall = (w: ClusterWorld, written: readonly Written[], from: number): number => {
  const after = written.filter((t) => t.at >= from).map((t) => w.arrivals.get(t.id) ?? Infinity);
  return (Math.min(...after) - from) / 1000;
};

describe.skipIf(!inject('cluster'))('fan-out on 3 Cassandra nodes (RF 3) and 3 brokers', () => {
  it('every change fans out exactly once: one completion per change, exact timelines', async () => {
    const w = await open();
    const began = Date.now();
    const written = await w.write(TWEETS);
    const copies = await w.settle(
      written.map((t) => t.id),
      3,
      300_000,
    );
    const secs = (Date.now() - began) / 1000;
    say(
      `${TWEETS} tweets × ${FOLLOWERS} followers, ${copies} copies, settled in ${secs.toFixed(1)} s`,
    );
    exactlyOnce(await w.verify(written, copies));
    expect(copies).toBe(3 * TWEETS); // every replica's connector sent its copy
    expect(w.exits).toEqual([]);
  });

  it('SIGKILL of a Cassandra node mid fan-out: writes go on, its connector resumes, its late copies are skipped', async () => {
    const w = await open();
    const before = await w.write(Math.floor(TWEETS / 3));
    await killClusterNode('cassandra', 3);
    const killedAt = Date.now();
    say('SIGKILL Cassandra node 3 (its connector runs on)');
    const during = await w.write(TWEETS - before.length); // LOCAL_QUORUM: two replicas of three
    const written = [...before, ...during];
    const restartAt = Date.now();
    const { elapsedMs } = await startClusterNode('cassandra', 3, { timeoutMs: 300_000 });
    const down = (restartAt - killedAt) / 1000;
    say(
      `node 3 down ${down.toFixed(1)} s (${during.length} tweets written meanwhile), back after ${(elapsedMs / 1000).toFixed(1)} s`,
    );
    // Hinted handoff replays the writes it missed into its commit log: its connector sends those
    // copies late, and the claims skip them.
    const copies = await w.settle(
      written.map((t) => t.id),
      3,
      480_000,
    );
    const caughtUp = (Date.now() - restartAt - elapsedMs) / 1000;
    say(`every copy of node 3 handled ${caughtUp.toFixed(1)} s after it was back`);
    exactlyOnce(await w.verify(written, copies));
  });

  it('SIGKILL of a Kafka broker mid fan-out: transactions go on', async () => {
    const w = await open();
    w.watchCompletions(TWEETS, 600_000);
    const before = await w.write(Math.floor(TWEETS / 3));
    await killClusterNode('kafka', 2);
    const killedAt = Date.now();
    say('SIGKILL Kafka broker 2');
    const during = await w.write(TWEETS - before.length);
    const written = [...before, ...during];
    // Everything fans out on two brokers (min.insync.replicas 2) before the third comes back.
    const copies = await w.settle(
      written.map((t) => t.id),
      3,
      300_000,
    );
    say(
      `first completion of a tweet written after the kill: ${stall(w, during, killedAt).toFixed(1)} s after it; all done ${((Date.now() - killedAt) / 1000).toFixed(1)} s after it`,
    );
    exactlyOnce(await w.verify(written, copies));
    const { elapsedMs } = await startClusterNode('kafka', 2, { timeoutMs: 300_000 });
    say(`broker 2 back after ${(elapsedMs / 1000).toFixed(1)} s`);
  });

  it('the same check fails without the claims (pipeline.dedupeCopies=off): duplicate completions', async () => {
    const w = await open('off', 30);
    const written = await w.write(30);
    const copies = await w.settle(
      written.map((t) => t.id),
      3,
      180_000,
    );
    const verdict = await w.verify(written, copies);
    expect(verdict.duplicated.length).toBeGreaterThan(0);
    expect(() => exactlyOnce(verdict)).toThrow(/more than once/);
    expect(verdict.wrongTimelines).toEqual([]); // the rows are idempotent: only the completions tell
  });
});
