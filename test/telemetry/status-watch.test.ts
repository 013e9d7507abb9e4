/** `fanout status --watch`'s screen as pure functions: rate, ETA, checkpoint age, finished tweets. */
import { describe, expect, it } from 'vitest';
import {
  bar,
  nextWatchState,
  renderWatch,
  type StatusSnapshot,
  type WatchState,
} from '../../cli/commands/status-watch.ts';
import type { CommittedProgress } from '../../pipeline/progress.ts';

const TWEET = '011bd349-8eb5-41e4-b553-36e4b5e55946';
const tweet = (delivered: number, total = 500_000): CommittedProgress => ({
  tweet: TWEET,
  op: 'insert',
  retracting: false,
  author: '1',
  delivered,
  total,
  remaining: total - delivered,
  cursor: null,
  ageSeconds: 3,
  source: '2@41',
  split: { tasks: 10, done: 4, inProgress: 2, waiting: 4 },
});
const snap = (at: number, tweets: CommittedProgress[], deadLetters = 0): StatusSnapshot => ({
  at,
  group: 'fanout-workers',
  topic: 'cdc.fanout.tweets',
  tweets,
  lag: [
    { partition: 0, committed: 5, end: 5, lag: 0 },
    { partition: 3, committed: 5, end: 7, lag: 2 },
  ],
  tasks: { group: 'fanout-workers.tasks', topic: 'fanout.tasks', lag: [] },
  graph: { group: 'fanout-workers.graph', topic: 'cdc.fanout.followers', lag: [] },
  deadLetters,
  pendingWork: 0,
});
const T0 = Date.UTC(2026, 11, 3, 13, 45, 0);

function run(snaps: StatusSnapshot[]): { state: WatchState; screen: string } {
  let state: WatchState | undefined;
  let screen = '';
  for (const s of snaps) {
    state = nextWatchState(state, s);
    screen = renderWatch(s, state, { intervalMs: 1_000, width: 120 });
  }
  return { state: state!, screen };
}
const rowOf = (screen: string): string => screen.split('\n').find((l) => l.startsWith('011bd349'))!;

describe('status --watch', () => {
  it("shows the graph lanes' lag under the others' when the followers CDC topic exists", () => {
    const s: StatusSnapshot = {
      ...snap(T0, []),
      graph: {
        group: 'fanout-workers.graph',
        topic: 'cdc.fanout.followers',
        lag: [
          { partition: 0, committed: 4, end: 4, lag: 0 },
          { partition: 1, committed: 2, end: 9, lag: 7 },
        ],
      },
    };
    const lines = renderWatch(s, nextWatchState(undefined, s), { intervalMs: 1_000 }).split('\n');
    expect(lines[2]).toBe('         fanout-workers.tasks on fanout.tasks: 0');
    expect(lines[3]).toBe(
      '         fanout-workers.graph on cdc.fanout.followers: 7 (partition:lag 1:7)',
    );
    expect(lines[4]).toMatch(/^dead letters /);
  });

  it('first screen: progress bar, lag per partition, rate and ETA not known yet', () => {
    const { screen } = run([snap(T0, [tweet(100_000)], 4)]);
    const lines = screen.split('\n');
    expect(lines[0]).toBe('fanout status --watch  13:45:00 UTC  every 1 s  (Ctrl-C to stop)');
    expect(lines[1]).toBe('lag      fanout-workers on cdc.fanout.tweets: 2 (partition:lag 3:2)');
    expect(lines[3]).toMatch(
      /^dead letters 4 offsets \(\+0 since the watch began\) {3}checkpoint age \? \(not moved yet\)$/,
    );
    expect(rowOf(screen)).toMatch(
      /^011bd349 ins +\[█{6}░{24}\] {2}20% +100k\/500k +\? +\? +\? {2}400000 {2}10 tasks: 4 done, 2 running, 4 waiting$/,
    );
  });

  it('then the rate of committed progress, the ETA from it, and the checkpoint age', () => {
    const { screen } = run([
      snap(T0, [tweet(100_000)]),
      snap(T0 + 2_000, [tweet(200_000)], 1),
      snap(T0 + 3_000, [tweet(200_000)], 3),
    ]);
    // 50k/s from move to move; a frame between two checkpoints keeps it: 300k left = 6 s.
    expect(rowOf(screen)).toMatch(/ 40% +200k\/500k +50k\/s +6 s +1 s {2}300000/);
    expect(screen).toContain(
      'dead letters 3 offsets (+3 since the watch began)   checkpoint age 1 s',
    );
  });

  it('rates span checkpoint to checkpoint; progress still for 10 s shows 0/s and no ETA', () => {
    const moving = run([
      snap(T0, [tweet(100_000)]),
      snap(T0 + 1_000, [tweet(100_000)]),
      snap(T0 + 2_000, [tweet(200_000)]), // 100k in the 2 s since it was first seen: 50k/s
      snap(T0 + 3_000, [tweet(200_000)]),
      snap(T0 + 4_000, [tweet(300_000)]), // 50k/s again
    ]);
    expect(rowOf(moving.screen)).toMatch(/ 60% +300k\/500k +50k\/s +4 s /);
    const stalled = run([
      snap(T0, [tweet(100_000)]),
      snap(T0 + 1_000, [tweet(200_000)]),
      snap(T0 + 11_000, [tweet(200_000)]),
    ]);
    expect(rowOf(stalled.screen)).toMatch(/ 40% +200k\/500k +0\/s +\? /);
  });

  it('shows a tweet that finished as done with 0 remaining, for 30 s', () => {
    const { state, screen } = run([
      snap(T0, [tweet(400_000)]),
      snap(T0 + 1_000, [tweet(490_000)]),
      snap(T0 + 2_000, []),
    ]);
    expect(rowOf(screen)).toMatch(/\[█{30}\] 100% +500k\/500k +done +0 s ago +0$/);
    const later = nextWatchState(state, snap(T0 + 40_000, []));
    expect(renderWatch(snap(T0 + 40_000, []), later, { intervalMs: 1_000 })).toContain(
      'no fan-out in progress',
    );
  });

  it('keeps an insert and its delete, both in flight, apart: a row and a rate each', () => {
    const both = (inserted: number, deleted: number): CommittedProgress[] => [
      tweet(inserted),
      { ...tweet(deleted), op: 'delete', source: '2@42' },
    ];
    const { screen } = run([
      snap(T0, both(100_000, 0)),
      snap(T0 + 1_000, both(200_000, 50_000)),
      snap(T0 + 2_000, both(300_000, 100_000)),
    ]);
    const rows = screen.split('\n').filter((l) => l.startsWith('011bd349'));
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatch(/ ins .* 60% +300k\/500k +100k\/s +2 s /);
    expect(rows[1]).toMatch(/ del .* 20% +100k\/500k +50k\/s +8 s /);
  });

  it('draws bars of any fill', () => {
    expect([0, 0.5, 1, 2].map((f) => bar(f, 4))).toEqual(['[░░░░]', '[██░░]', '[████]', '[████]']);
  });
});
