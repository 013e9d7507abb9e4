import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

/**
 * Where the project keeps what is not source: downloaded jars, local service data, cdc_raw.
 * `FANOUT_HOME` (resolved against the working directory), else `$XDG_CACHE_HOME/fanout`, else
 * `~/.cache/fanout`; a relative XDG_CACHE_HOME is ignored, as the XDG spec asks. Never the repo.
 */
export function fanoutHome(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env.FANOUT_HOME;
  if (explicit !== undefined && explicit !== '') return resolve(explicit);
  const xdg = env.XDG_CACHE_HOME;
  return join(xdg !== undefined && isAbsolute(xdg) ? xdg : join(homedir(), '.cache'), 'fanout');
}

/** The cdc_raw directory of the project's local Cassandra (the launcher creates it). */
export function localCdcRawDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(fanoutHome(env), 'run', 'cassandra', 'cdc_raw');
}
