/**
 * `fanout security acls|grants`: the least privilege the product needs for the configured names
 * (config/access.ts), as a person applies it: kafka-acls.sh command lines and CQL GRANTs.
 * `--json` prints the ACLs as data instead.
 */
import { cassandraGrants, kafkaAclCommands, kafkaAcls } from '../../config/access.ts';
import type { Config } from '../../config/index.ts';
import { UsageError } from '../args.ts';

export interface SecurityOptions {
  /** Kafka principal of the CDC connector; default `User:fanout-cdc`. */
  readonly connectorPrincipal?: string | undefined;
  /** Kafka principal of the workers; default `User:fanout-worker`. */
  readonly workerPrincipal?: string | undefined;
  /** Cassandra role of the application; default `fanout_app`. */
  readonly role?: string | undefined;
  readonly json?: boolean | undefined;
}

const principal = (value: string | undefined, fallback: string, flag: string): string => {
  const p = value ?? fallback;
  if (!/^User:[^\s']+$/.test(p))
    throw new UsageError(`${flag} must look like User:<name>, got ${JSON.stringify(p)}`);
  return p;
};

/** Prints the Kafka ACLs (`acls`) or the Cassandra role and GRANTs (`grants`) to stdout. */
export function security(
  config: Config,
  action: string | undefined,
  options: SecurityOptions = {},
): void {
  if (action === 'acls') {
    const acls = kafkaAcls(config, {
      connector: principal(options.connectorPrincipal, 'User:fanout-cdc', '--connector-principal'),
      worker: principal(options.workerPrincipal, 'User:fanout-worker', '--worker-principal'),
    });
    if (options.json) {
      console.log(JSON.stringify(acls, null, 2));
      return;
    }
    const bootstrap = config.kafka.brokers.join(',');
    for (const role of ['connector', 'worker'] as const) {
      console.log(`# ${role === 'connector' ? 'CDC connector' : 'fan-out workers'}`);
      for (const line of kafkaAclCommands(
        acls.filter((a) => a.role === role),
        bootstrap,
      ))
        console.log(line);
    }
    return;
  }
  if (action === 'grants') {
    const role = options.role ?? 'fanout_app';
    if (!/^[a-z][a-z0-9_]{0,47}$/.test(role))
      throw new UsageError(
        `--role must be a lower-case CQL identifier, got ${JSON.stringify(role)}`,
      );
    console.log(
      [
        `-- run as an admin, after \`fanout schema apply\` (also an admin step); the password is yours to choose`,
        `CREATE ROLE IF NOT EXISTS ${role} WITH LOGIN = true AND PASSWORD = '<password>';`,
        ...cassandraGrants(config, role).map((g) => `${g};`),
      ].join('\n'),
    );
    return;
  }
  throw new UsageError('security needs an action: acls [--json] | grants');
}
