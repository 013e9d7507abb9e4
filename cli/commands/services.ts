import { readFile } from 'node:fs/promises';
import type { ServiceName } from '../../services/paths.ts';
import { SERVICE_NAMES } from '../../services/paths.ts';
import {
  serviceLogPath,
  servicesDown,
  servicesReset,
  servicesStatus,
  servicesUp,
} from '../../services/launcher.ts';
import { secureServicesDown, secureServicesUp } from '../../services/secure.ts';
import { UsageError } from '../args.ts';

function names(args: string[]): ServiceName[] {
  for (const a of args) {
    if (!(SERVICE_NAMES as readonly string[]).includes(a))
      throw new UsageError(
        `unknown service ${JSON.stringify(a)}: one of ${SERVICE_NAMES.join(', ')}`,
      );
  }
  return args.length === 0 ? [...SERVICE_NAMES] : (args as ServiceName[]);
}

/**
 * `fanout services up|down|status|logs [kafka|cassandra] [--purge]`: the local real services;
 * `up|down --secure [--purge]`: the secure set beside them (services/secure.ts).
 */
export async function services(
  action: string | undefined,
  args: string[],
  purge: boolean,
  secure = false,
): Promise<void> {
  const log = (line: string): void => {
    process.stderr.write(`[services] ${line}\n`);
  };
  // `--secure`: the second, secured set (TLS, SASL, ACLs, Cassandra auth) on its own ports.
  if (secure && (action === 'up' || action === 'down')) {
    if (args.length > 0) throw new UsageError('services up|down --secure takes no service names');
    if (action === 'up') await secureServicesUp({ log });
    else await secureServicesDown({ log, purge });
    return;
  }
  switch (action) {
    case 'up':
      await servicesUp(names(args), { log });
      return;
    case 'down':
      await servicesDown(names(args), { log });
      if (purge) await servicesReset(names(args), { log });
      return;
    case 'status':
      console.log(JSON.stringify(await servicesStatus(), null, 2));
      return;
    case 'logs': {
      const [name] = names(args.slice(0, 1));
      process.stdout.write(
        await readFile(serviceLogPath(name ?? 'kafka'), 'utf8').catch(
          () => `(no log yet for ${name})\n`,
        ),
      );
      return;
    }
    default:
      throw new UsageError(
        'services needs an action: up | down [--purge] | status | logs <kafka|cassandra>',
      );
  }
}
