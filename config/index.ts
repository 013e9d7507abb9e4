/** Configuration: one convict schema, validated once, compiled into a frozen object. */
export { loadConfig, redacted, leaves, unknownEnv, type LoadOptions } from './load.ts';
export { ConfigError } from './errors.ts';
export { cdcTopic, configWarnings, type Config, type Settings } from './compile.ts';
export { fanoutHome, localCdcRawDir } from './home.ts';
export { schema } from './schema.ts';
export { REDACTED, redactSecrets, registerSecret, secretFromEnv } from './secrets.ts';
export { jsonErrorPosition } from './json-error.ts';
