/**
 * Renders the configuration templates of services/conf/<service>/ into a run directory.
 *
 * Placeholders are `{{name}}`: `${…}` belongs to logback, log4j and Kafka's config providers.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { ServiceName } from './paths.ts';

/** The template `file` of `service` shipped in services/conf/. */
export function templatePath(service: ServiceName, file: string): string {
  return fileURLToPath(new URL(`./conf/${service}/${file}`, import.meta.url));
}

/** Replaces every `{{name}}` with `vars[name]`; a name without a value is a bug in the launcher. */
export function render(
  text: string,
  vars: Readonly<Record<string, string>>,
  source = 'template',
): string {
  return text.replace(/\{\{(\w+)\}\}/g, (_match, name: string) => {
    const value = vars[name];
    if (value === undefined)
      throw new Error(`${source} uses {{${name}}}, which the launcher does not define`);
    return value;
  });
}

/** Renders template `file` of `service` to `dest`. */
export async function renderTemplate(
  service: ServiceName,
  file: string,
  dest: string,
  vars: Readonly<Record<string, string>>,
): Promise<void> {
  const source = templatePath(service, file);
  await writeFile(dest, render(await readFile(source, 'utf8'), vars, source));
}

/**
 * JVM options from a `jvm.options`-style template: one option per line, `#` comments and blank
 * lines skipped, placeholders rendered.
 */
export async function jvmOptions(
  service: ServiceName,
  file: string,
  vars: Readonly<Record<string, string>>,
): Promise<string[]> {
  const source = templatePath(service, file);
  return render(await readFile(source, 'utf8'), vars, source)
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}
