/**
 * What `fanout status --watch` draws, as pure functions: each snapshot of the committed state is
 * folded into a WatchState (per tweet: the rate its committed progress moves at, when it last
 * moved; tweets that finished since the last snapshot), which renders as one screen. A tweet's
 * "checkpoint age" is the time since its committed progress was last seen to move: the
 * checkpoints carry no write time, so it is observed, to the watch interval.
 */
import type { CommittedProgress } from '../../pipeline/progress.ts';

/** Where a consumer group stands on one partition of a topic. */
export interface PartitionLag {
  readonly partition: number;
  readonly committed: number;
  readonly end: number;
  readonly lag: number;
}

/** One read of the committed state (status.ts reads it). */
export interface StatusSnapshot {
  readonly at: number;
  readonly group: string;
  readonly topic: string;
  readonly tweets: readonly CommittedProgress[];
  readonly lag: readonly PartitionLag[];
  readonly tasks: {
    readonly group: string;
    readonly topic: string;
    readonly lag: readonly PartitionLag[];
  };
  /** The graph lanes' group on the followers CDC topic (no partitions: that topic does not exist). */
  readonly graph: {
    readonly group: string;
    readonly topic: string;
    readonly lag: readonly PartitionLag[];
  };
  /** Offsets in the dead-letter topic (records plus transaction markers). */
  readonly deadLetters: number;
  /** Task and task-done records on the work topic not yet committed by the task lanes. */
  readonly pendingWork: number;
}

interface Seen {
  readonly delivered: number;
  /** Followers per second, smoothed; undefined until the progress was seen to move. */
  readonly rate: number | undefined;
  /** When `delivered` last changed; undefined until it does. */
  readonly movedAt: number | undefined;
  /** When `delivered` last changed, or was first seen: where the next rate sample starts. */
  readonly since: number;
  readonly last: CommittedProgress;
}

export interface WatchState {
  readonly startedAt: number;
  /** When the snapshot folded in last was read. */
  readonly at: number;
  readonly deadLettersAtStart: number;
  /**
   * By the fan-out's source (`partition@offset`), not its tweet: an insert and its delete can be
   * in flight at once, each with its own progress.
   */
  readonly tweets: ReadonlyMap<string, Seen>;
  /** Tweets gone from the committed progress (delivered), kept on screen for a while. */
  readonly finished: ReadonlyMap<string, { readonly at: number; readonly last: CommittedProgress }>;
}

/** How long a finished tweet stays on screen. */
const KEEP_FINISHED_MS = 30_000;
/** Weight of the newest rate sample. */
const SMOOTHING = 0.5;
/** Progress that has not moved for this long shows a rate of 0 (and no ETA). */
const STALLED_MS = 10_000;

export function nextWatchState(prev: WatchState | undefined, snap: StatusSnapshot): WatchState {
  const tweets = new Map<string, Seen>();
  for (const t of snap.tweets) {
    const before = prev?.tweets.get(t.source);
    let rate = before?.rate;
    let movedAt = before?.movedAt;
    let since = before?.since ?? snap.at;
    // Committed progress moves in steps (a checkpoint every second or two, not every frame): a
    // sample spans move to move, so a frame between two checkpoints does not halve the rate.
    if (before !== undefined && t.delivered !== before.delivered && snap.at > before.since) {
      const sample = Math.max(
        0,
        (t.delivered - before.delivered) / ((snap.at - before.since) / 1000),
      );
      rate = rate === undefined ? sample : SMOOTHING * sample + (1 - SMOOTHING) * rate;
      movedAt = since = snap.at;
    } else if (before !== undefined && snap.at - before.since >= STALLED_MS) rate = 0;
    tweets.set(t.source, { delivered: t.delivered, rate, movedAt, since, last: t });
  }
  const finished = new Map(
    [...(prev?.finished ?? [])].filter(([, f]) => snap.at - f.at < KEEP_FINISHED_MS),
  );
  for (const [id, seen] of prev?.tweets ?? [])
    if (!tweets.has(id)) finished.set(id, { at: snap.at, last: seen.last });
  return {
    startedAt: prev?.startedAt ?? snap.at,
    at: snap.at,
    deadLettersAtStart: prev?.deadLettersAtStart ?? snap.deadLetters,
    tweets,
    finished,
  };
}

/** `12.3k`, `1.2M`. */
export function compact(n: number): string {
  if (n >= 1_000_000) return `${(n / 1_000_000).toFixed(1)}M`;
  if (n >= 10_000) return `${Math.round(n / 1_000)}k`;
  if (n >= 1_000) return `${(n / 1_000).toFixed(1)}k`;
  return String(Math.round(n));
}

/** `45 s`, `3 min 20 s`, `?`. */
export function duration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

export function bar(fraction: number, width: number): string {
  const filled = Math.round(Math.min(Math.max(fraction, 0), 1) * width);
  return `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}]`;
}

function lagText(groupId: string, topic: string, lag: readonly PartitionLag[]): string {
  const total = lag.reduce((s, l) => s + l.lag, 0);
  const behind = lag.filter((l) => l.lag > 0).map((l) => `${l.partition}:${l.lag}`);
  return `${groupId} on ${topic}: ${total}${behind.length > 0 ? ` (partition:lag ${behind.join(' ')})` : ''}`;
}

/** One screen of `status --watch`. */
export function renderWatch(
  snap: StatusSnapshot,
  state: WatchState,
  options: { intervalMs: number; width?: number },
): string {
  const width = Math.max(options.width ?? 100, 60);
  const clock = new Date(snap.at).toISOString().slice(11, 19);
  const ages = [...state.tweets.values()]
    .map((t) => (t.movedAt === undefined ? undefined : (snap.at - t.movedAt) / 1000))
    .filter((a) => a !== undefined);
  const lines = [
    `fanout status --watch  ${clock} UTC  every ${options.intervalMs / 1000} s  (Ctrl-C to stop)`,
    `lag      ${lagText(snap.group, snap.topic, snap.lag)}`,
    `         ${lagText(snap.tasks.group, snap.tasks.topic, snap.tasks.lag)}`,
    ...(snap.graph.lag.length > 0
      ? [`         ${lagText(snap.graph.group, snap.graph.topic, snap.graph.lag)}`]
      : []),
    `dead letters ${snap.deadLetters} offsets (+${snap.deadLetters - state.deadLettersAtStart} since the watch began)   checkpoint age ${ages.length > 0 ? duration(Math.min(...ages)) : state.tweets.size > 0 ? '? (not moved yet)' : '-'}`,
    '',
  ];
  if (state.tweets.size === 0 && state.finished.size === 0) {
    lines.push('no fan-out in progress (as of the last checkpoints)');
    return lines.join('\n');
  }
  const barWidth = Math.max(10, Math.min(30, width - 80));
  const row = (
    t: CommittedProgress,
    delivered: number,
    total: number | null,
    tail: string,
  ): string => {
    const fraction = total ? delivered / total : 0;
    const pct = total ? `${Math.floor(fraction * 100)}%`.padStart(4) : '   ?';
    const op = t.retracting ? 'undo' : t.op === 'insert' ? 'ins' : 'del';
    return `${t.tweet.slice(0, 8)} ${op.padEnd(4)} ${bar(fraction, barWidth)} ${pct} ${`${compact(delivered)}/${total === null ? '?' : compact(total)}`.padStart(13)}  ${tail}`;
  };
  lines.push(
    `${'tweet'.padEnd(8)} ${'op'.padEnd(4)} ${'progress'.padEnd(barWidth + 7)} ${'delivered'.padStart(13)}  ${'rate'.padStart(8)} ${'ETA'.padStart(12)} ${'ckpt'.padStart(6)}  remaining`,
  );
  for (const seen of state.tweets.values()) {
    const t = seen.last;
    const eta =
      t.remaining !== null && seen.rate !== undefined && seen.rate > 0
        ? t.remaining / seen.rate
        : undefined;
    const ckpt = seen.movedAt === undefined ? undefined : (snap.at - seen.movedAt) / 1000;
    const split = t.split
      ? `  ${t.split.tasks} tasks: ${t.split.done} done, ${t.split.inProgress} running, ${t.split.waiting} waiting`
      : '';
    lines.push(
      row(
        t,
        t.delivered,
        t.total,
        `${(seen.rate === undefined ? '?' : `${compact(seen.rate)}/s`).padStart(8)} ${duration(eta).padStart(12)} ${duration(ckpt).padStart(6)}  ${t.remaining ?? '?'}${split}`,
      ),
    );
  }
  for (const f of state.finished.values())
    lines.push(
      row(
        f.last,
        f.last.total ?? f.last.delivered,
        f.last.total ?? f.last.delivered,
        `${'done'.padStart(8)} ${`${duration((snap.at - f.at) / 1000)} ago`.padStart(12)} ${''.padStart(6)}  0`,
      ),
    );
  return lines.join('\n');
}
