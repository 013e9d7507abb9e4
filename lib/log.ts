/** A minimal leveled logger writing one line per record to stderr (stdout is for command output). */
import { redactSecrets } from '../config/index.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, extra?: object): void;
  info(msg: string, extra?: object): void;
  warn(msg: string, extra?: object): void;
  error(msg: string, extra?: object): void;
  child(name: string): Logger;
}

/** A logger that drops records below `level`; `write` defaults to stderr. */
export function createLogger(
  level: LogLevel,
  name = 'fanout',
  write: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): Logger {
  const at =
    (lvl: LogLevel) =>
    (msg: string, extra?: object): void => {
      if (rank[lvl] < rank[level]) return;
      const tail =
        extra && Object.keys(extra).length > 0
          ? ` ${JSON.stringify(extra, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`
          : '';
      // Secrets never reach a log, whatever a message or a driver error carried (config/secrets.ts).
      write(
        redactSecrets(
          `${new Date().toISOString()} ${lvl.toUpperCase().padEnd(5)} [${name}] ${msg}${tail}`,
        ),
      );
    };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (n) => createLogger(level, `${name}.${n}`, write),
  };
}
