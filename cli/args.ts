import { resolve } from 'node:path';
/** Argument checks shared by the commands: each failure is one sentence and exit code 2. */
export class UsageError extends Error {
  readonly code = 'USAGE';
  readonly retriable = false;
  /** The command whose arguments were refused (the message is then prefixed `fanout <command>:`). */
  readonly command: string | undefined;
  constructor(message: string, command?: string) {
    super(message);
    this.name = 'UsageError';
    this.command = command;
  }
}

/** A 64-bit user id from a command-line string. */
export function userId(raw: string | undefined, name: string): bigint {
  if (raw === undefined || !/^\d{1,19}$/.test(raw) || BigInt(raw) > 2n ** 63n - 1n) {
    throw new UsageError(
      `${name} must be a user id (a whole number from 0 to 2^63-1), got ${JSON.stringify(raw ?? '')}`,
    );
  }
  return BigInt(raw);
}

/** A whole number in [min, max] from a command-line string. */
export function count(
  raw: string | undefined,
  name: string,
  min: number,
  max: number,
  fallback?: number,
): number {
  if (raw === undefined && fallback !== undefined) return fallback;
  const n = Number(raw);
  if (raw === undefined || !/^\d+$/.test(raw) || n < min || n > max) {
    throw new UsageError(
      `${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(raw ?? '')}`,
    );
  }
  return n;
}

/**
 * A bench's arguments with `--config <file>` (or `--config=<file>`) taken out, the file resolved
 * from the caller's directory: the benches parse their own options and read the configuration
 * file from FANOUT_CONFIG, as every command does when no --config is given.
 */
export function configOption(args: readonly string[]): { args: string[]; file?: string } {
  const rest: string[] = [];
  let file: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--config') {
      file = args[++i];
      if (file === undefined || file.startsWith('--'))
        throw new UsageError('--config needs a file', 'bench');
    } else if (a.startsWith('--config=')) file = a.slice('--config='.length);
    else rest.push(a);
  }
  return file === undefined ? { args: rest } : { args: rest, file: resolve(file) };
}
