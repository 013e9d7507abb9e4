/** Raised for any invalid configuration; `problems` holds one sentence per bad setting. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  /** Retrying with the same settings cannot help. */
  readonly retriable = false;
  readonly problems: readonly string[];
  constructor(problems: string[]) {
    super(
      problems.length === 1
        ? `invalid configuration: ${problems[0]}`
        : `invalid configuration:\n  - ${problems.join('\n  - ')}`,
    );
    this.name = 'ConfigError';
    this.problems = problems;
  }
}
