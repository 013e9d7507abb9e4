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
