import { createLogger, type Logger } from '../../lib/log.ts';

/**
 * A debug-level logger whose lines a test can wait for (an event, not a sleep); with
 * TEST_LOG=debug they also go to stderr.
 */
export function capturingLog(): {
  log: Logger;
  /** The lines logged so far. */
  lines: string[];
  /** Settles with the matching lines once `times` lines matched `pattern`. */
  logged: (pattern: RegExp, times?: number) => Promise<string[]>;
} {
  const lines: string[] = [];
  const waiters = new Set<() => boolean>();
  const log = createLogger('debug', 'fanout', (line) => {
    if (process.env.TEST_LOG === 'debug') process.stderr.write(`${line}\n`);
    lines.push(line);
    for (const check of waiters) if (check()) waiters.delete(check);
  });
  const logged = (pattern: RegExp, times = 1): Promise<string[]> =>
    new Promise((resolve) => {
      const check = (): boolean => {
        const matching = lines.filter((l) => pattern.test(l));
        if (matching.length < times) return false;
        resolve(matching);
        return true;
      };
      if (!check()) waiters.add(check);
    });
  return { log, lines, logged };
}
