/**
 * Cassandra's own durability window in the chaos suite's verdict. A node SIGKILLed under
 * `commitlog_sync: periodic` (RF 1) replays only synced commit-log sections, so ANY write it
 * acknowledged in the last moments before the kill may be gone: the application's, and the
 * pipeline's timeline rows, author records and tombstones alike. Such a loss is accepted only for
 * the changes whose fan-out ran during that window, and only in the direction it can take (an
 * insert's rows missing, a delete's tombstones missing, so rows extra); every other difference
 * still fails.
 *
 * When a change's rows were written is known from its committed completion: every row of it was
 * acknowledged between its `startedAt` (restored from its checkpoint on a resume, so it is the
 * first attempt's; a redo from no checkpoint writes every row again) and its `completedAt` (set
 * once its last write was acknowledged).
 */

/** A committed completion as the suite reads it. */
export interface Seen {
  tweetId: string;
  op: string;
  /** When its fan-out started (the worker's clock: the same host). */
  startedAt: number;
  /** When its last row was acknowledged. */
  at: number;
  /** An insert that took its rows back (deletes at its own write time): tombstones too. */
  retracted: boolean;
}

/** The span of time Cassandra's SIGKILL may have taken acknowledged writes from. */
export interface LossWindow {
  readonly from: number;
  readonly to: number;
}

/**
 * The window of a SIGKILL at `killedAt`: `windowMs` before it (the sync period plus the sync's own
 * time and scheduling on a loaded host), and a little after (an acknowledgement already sent can
 * still be read once the process is gone).
 */
export const lossWindow = (killedAt: number, windowMs: number): LossWindow => ({
  from: killedAt - windowMs,
  to: killedAt + 1_000,
});

/** The tweets whose fan-outs wrote during the window, by what their loss can look like. */
export interface AtRisk {
  /** An insert's fan-out: its rows, and the author record a later delete reads, may be gone. */
  readonly inserts: ReadonlySet<string>;
  /** A delete's fan-out or an insert's retraction: tombstones may be gone (rows left). */
  readonly tombstones: ReadonlySet<string>;
}

export function atRisk(seen: readonly Seen[], w: LossWindow): AtRisk {
  const inserts = new Set<string>();
  const tombstones = new Set<string>();
  for (const s of seen) {
    if (s.startedAt > w.to || s.at < w.from) continue;
    if (s.op === 'insert') inserts.add(s.tweetId);
    if (s.op === 'delete' || s.retracted) tombstones.add(s.tweetId);
  }
  return { inserts, tombstones };
}

/** One user's timeline against what it must be. */
export interface TimelineDiff {
  readonly user: bigint;
  readonly missing: readonly string[];
  readonly extra: readonly string[];
}

export interface Verdict {
  /** Rows accepted as lost by the node, per tweet. */
  readonly accepted: Map<string, { missing: number; extra: number }>;
  /** Every other difference (at most `max`). */
  readonly problems: string[];
}

/**
 * Splits timeline differences into what the window explains and what it does not. `orphaned`:
 * deletes dead-lettered `unknown-author` because the author record their insert wrote in the
 * window was lost; their rows stay.
 */
export function judge(
  diffs: readonly TimelineDiff[],
  risk: AtRisk,
  orphaned: ReadonlySet<string>,
  max = 20,
): Verdict {
  const accepted = new Map<string, { missing: number; extra: number }>();
  const problems: string[] = [];
  const count = (t: string, k: 'missing' | 'extra'): void => {
    const a = accepted.get(t) ?? { missing: 0, extra: 0 };
    a[k]++;
    accepted.set(t, a);
  };
  for (const d of diffs) {
    const missing = d.missing.filter((t) => !risk.inserts.has(t));
    const extra = d.extra.filter((t) => !risk.tombstones.has(t) && !orphaned.has(t));
    for (const t of d.missing) if (!missing.includes(t)) count(t, 'missing');
    for (const t of d.extra) if (!extra.includes(t)) count(t, 'extra');
    if (missing.length + extra.length > 0 && problems.length < max)
      problems.push(
        `user ${d.user}: missing ${missing.join(',') || '-'}; extra ${extra.join(',') || '-'}`,
      );
  }
  return { accepted, problems };
}

/** One line for the run's summary. */
export function describeLoss(v: Verdict, risk: AtRisk): string {
  const rows = [...v.accepted.values()];
  const missing = rows.reduce((n, a) => n + a.missing, 0);
  const extra = rows.reduce((n, a) => n + a.extra, 0);
  const window = new Set([...risk.inserts, ...risk.tombstones]).size;
  const which = [...v.accepted]
    .map(([t, a]) => `${t} (${a.missing} missing, ${a.extra} extra)`)
    .join('; ');
  return `timeline rows accepted as lost by Cassandra's SIGKILL: ${missing} missing, ${extra} extra, of ${v.accepted.size} tweets (${window} changes fanned out in its window)${which ? `: ${which}` : ''}`;
}
