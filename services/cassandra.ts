/**
 * The local Cassandra: one node on 127.0.0.1 (CQL 9042, storage 7000, JMX 7199 local only), CDC on.
 */
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { CASSANDRA_VERSION } from './paths.ts';
import type { CassandraPaths, ServicePorts } from './paths.ts';
import type { ServiceDriver } from './driver.ts';
import { cqlOptions } from './probes.ts';
import { jvmOptions, renderTemplate } from './templates.ts';

export function cassandraDriver(paths: CassandraPaths, ports: ServicePorts): ServiceDriver {
  const { host } = ports;
  const { native, storage, jmx } = ports.cassandra;
  const vars = {
    host,
    nativePort: String(native),
    storagePort: String(storage),
    jmxPort: String(jmx),
    runDir: paths.runDir,
    confDir: paths.confDir,
    dataDir: paths.dataDir,
    commitlogDir: paths.commitlogDir,
    cdcRawDir: paths.cdcRawDir,
    savedCachesDir: paths.savedCachesDir,
    hintsDir: paths.hintsDir,
    logDir: paths.logDir,
    cassandraYaml: paths.cassandraYaml,
    logbackXml: paths.logbackXml,
  };

  return {
    name: 'cassandra',
    title: 'Cassandra',
    version: CASSANDRA_VERSION,
    paths,
    host,
    clientPort: native,
    ports: [native, storage, jmx],
    mainClass: 'org.apache.cassandra.service.CassandraDaemon',
    readyLine: 'Starting listening for CQL clients',
    defaultStartTimeoutMs: 180_000,

    async prepare(): Promise<void> {
      const dirs = [
        paths.confDir,
        paths.dataDir,
        paths.commitlogDir,
        paths.cdcRawDir,
        paths.savedCachesDir,
        paths.hintsDir,
        paths.logDir,
      ];
      await Promise.all(dirs.map((dir) => mkdir(dir, { recursive: true })));
      await renderTemplate('cassandra', 'cassandra.yaml', paths.cassandraYaml, vars);
      await renderTemplate('cassandra', 'logback.xml', paths.logbackXml, vars);
    },

    async javaArgs(): Promise<string[]> {
      // jamm measures object sizes for memtable accounting; bin/cassandra loads it as an agent too.
      const jamm = (await readdir(paths.jarDir)).find((file) => /^jamm-[\d.]+\.jar$/.test(file));
      if (jamm === undefined)
        throw new Error(
          `no jamm-*.jar in ${paths.jarDir}: delete that directory to fetch the jars again`,
        );
      const options = await jvmOptions('cassandra', 'jvm.options', {
        ...vars,
        jammJar: join(paths.jarDir, jamm),
      });
      return [
        ...options,
        '-cp',
        join(paths.jarDir, '*'),
        'org.apache.cassandra.service.CassandraDaemon',
      ];
    },

    async probe(): Promise<void> {
      await cqlOptions(host, native);
    },
  };
}
