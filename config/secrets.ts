/**
 * Secrets: loading them from `*_FILE` variables (the Docker-secrets convention) and keeping them
 * out of every text the product prints. Loading registers each secret value; `redactSecrets`
 * replaces them in any text (log lines, error messages, span attributes) before it leaves the
 * process. The registry only grows: a value that was a secret once stays hidden.
 */
import { readFileSync } from 'node:fs';

/** What a secret is replaced with. */
export const REDACTED = '[redacted]';

const secrets = new Set<string>();

/**
 * Marks `value` as secret for {@link redactSecrets}. Values shorter than 4 characters are not
 * registered: replacing every "a" or "12" in every log line would make logs unreadable, and a
 * 3-character password is not a secret anyway.
 */
export function registerSecret(value: string): void {
  if (value.length < 4) return;
  secrets.add(value);
  // As JSON escapes it too: a JSON log line or a log line's extras show its `"` and `\` escaped.
  secrets.add(JSON.stringify(value).slice(1, -1));
}

/** `text` with every registered secret replaced by {@link REDACTED}. */
export function redactSecrets(text: string): string {
  let out = text;
  for (const s of secrets) if (out.includes(s)) out = out.replaceAll(s, REDACTED);
  return out;
}

/** Forgets every registered secret (tests only). */
export function clearSecretsForTests(): void {
  secrets.clear();
}

/**
 * The value of secret `name` from `env`: `env[name]`, else the content of the file that
 * `env[name_FILE]` names (one trailing newline dropped, as `echo` and editors leave one), else
 * undefined. Errors name the variables and the file, never the content.
 */
export function secretFromEnv(
  env: NodeJS.ProcessEnv,
  name: string,
): { value?: string; problem?: string } {
  const fileVar = `${name}_FILE`;
  const direct = env[name];
  const file = env[fileVar];
  if (direct !== undefined && file !== undefined)
    return { problem: `env ${name} and ${fileVar} are both set: set one of them` };
  if (file === undefined) return direct === undefined ? {} : { value: direct };
  if (file === '') return { problem: `env ${fileVar} is empty: it must name a file` };
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    return { problem: `env ${fileVar} names ${file}, which cannot be read (${code})` };
  }
  return { value: text.replace(/\r?\n$/, '') };
}
