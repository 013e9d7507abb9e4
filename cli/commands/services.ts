import { readFile } from 'node:fs/promises';
import type { ServiceName } from '../../services/paths.ts';
import {
  ALL_SERVICE_NAMES,
  OBSERVABILITY_SERVICE_NAMES,
  SERVICE_NAMES,
} from '../../services/paths.ts';
import {
  serviceLogPath,
  servicesDown,
  servicesReset,
  servicesStatus,
  servicesUp,
} from '../../services/launcher.ts';
import { clusterDown, clusterStatus, clusterUp } from '../../services/cluster.ts';
import { secureServicesDown, secureServicesUp } from '../../services/secure.ts';
import { UsageError } from '../args.ts';

/**
 * The services named on the command line; none named: Kafka and Cassandra, plus Jaeger and
 * Prometheus with `--observability`.
 */
function names(args: string[], observability: boolean): ServiceName[] {
  for (const a of args) {
    if (!(ALL_SERVICE_NAMES as readonly string[]).includes(a))
      throw new UsageError(
        `unknown service ${JSON.stringify(a)}: one of ${ALL_SERVICE_NAMES.join(', ')}`,
      );
  }
  if (args.length > 0) return args as ServiceName[];
  return observability ? [...ALL_SERVICE_NAMES] : [...SERVICE_NAMES];
}

/**
 * `fanout services up|down|status|logs [kafka|cassandra|jaeger|prometheus] [--observability]
 * [--purge]`: the local real services. `down` with no name stops all four (a stopped one is left
 * alone), so the observability stack never outlives the data services by accident.
 * `up|down --secure [--purge]`: the secure set beside them (services/secure.ts).
 * `up|down|status --nodes N [--purge]`: the local cluster beside them (services/cluster.ts).
 */
export async function services(
  action: string | undefined,
  args: string[],
  purge: boolean,
  observability = false,
  secure = false,
  nodes?: number,
): Promise<void> {
  const log = (line: string): void => {
    process.stderr.write(`[services] ${line}\n`);
  };
  // `--nodes N`: the local cluster (services/cluster.ts) beside the single-node set.
  if (nodes !== undefined) {
    if (args.length > 0 || secure || observability)
      throw new UsageError('services --nodes takes no service names, --secure or --observability');
    if (action === 'up') await clusterUp({ nodes, log });
    else if (action === 'down') await clusterDown({ nodes, log, purge });
    else if (action === 'status')
      console.log(JSON.stringify(await clusterStatus({ nodes }), null, 2));
    else throw new UsageError('services --nodes goes with up, down or status');
    return;
  }
  // `--secure`: the second, secured set (TLS, SASL, ACLs, Cassandra auth) on its own ports.
  if (secure && (action === 'up' || action === 'down')) {
    if (args.length > 0) throw new UsageError('services up|down --secure takes no service names');
    if (action === 'up') await secureServicesUp({ log });
    else await secureServicesDown({ log, purge });
    return;
  }
  switch (action) {
    case 'up':
      await servicesUp(names(args, observability), { log });
      return;
    case 'down': {
      const stop = args.length === 0 ? [...ALL_SERVICE_NAMES] : names(args, observability);
      await servicesDown(stop, { log });
      if (purge) await servicesReset(stop, { log });
      return;
    }
    case 'status':
      console.log(JSON.stringify(await servicesStatus(names(args, true)), null, 2));
      return;
    case 'logs': {
      const [name] = names(args.slice(0, 1), false);
      process.stdout.write(
        await readFile(serviceLogPath(name ?? 'kafka'), 'utf8').catch(
          () => `(no log yet for ${name})\n`,
        ),
      );
      return;
    }
    default:
      throw new UsageError(
        `services needs an action: up [--observability] | down [--purge] | status | logs <${[...SERVICE_NAMES, ...OBSERVABILITY_SERVICE_NAMES].join('|')}>`,
      );
  }
}
