import { homedir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type ConfigOf, type LoadedConfig } from '@rocketmq-ts/common';
import { TLS_CONFIG_SCHEMA } from '@rocketmq-ts/remoting';

/**
 * NamesrvConfig: RocketMQ's property names, defaults named once, with units. Sources, later
 * wins: these defaults, the `-c` properties file, `ROCKETMQ_<NAME>` environment variables, then
 * `--name=value` on the command line.
 */
export const NamesrvConfigSchema = {
  rocketmqHome: { type: 'string', default: process.env['ROCKETMQ_HOME'] ?? '', description: 'install directory (env ROCKETMQ_HOME)' },
  kvConfigPath: { type: 'string', default: '~/namesrv/kvConfig.json', description: 'where the KV config is persisted' },
  configStorePath: { type: 'string', default: '~/namesrv/namesrv.properties', description: 'where UPDATE_NAMESRV_CONFIG would persist' },
  listenPort: { type: 'int', default: 9876, min: 0, max: 65535, description: 'remoting TCP port' },
  bindAddress: { type: 'string', default: '0.0.0.0', description: 'address both listeners bind to' },
  metricsPromExporterPort: { type: 'int', default: 9880, min: 0, max: 65535, description: 'HTTP port of /metrics, /health, /ready' },
  scanNotActiveBrokerInterval: { type: 'long', default: 5000, min: 10, description: 'ms between broker-expiry scans' },
  brokerChannelExpiredTime: {
    type: 'long',
    default: 120_000,
    min: 1,
    description: 'ms a broker stays registered without heartbeat, unless it sends heartbeatTimeoutMillis',
  },
  serverChannelMaxIdleTimeSeconds: { type: 'int', default: 120, min: 0, description: 's before an idle connection is closed (0 = never)' },
  orderMessageEnable: { type: 'bool', default: false, description: 'add orderTopicConf (KV namespace ORDER_TOPIC_CONFIG) to routes' },
  returnOrderTopicConfigToBroker: { type: 'bool', default: true, description: 'REGISTER_BROKER replies carry the ORDER_TOPIC_CONFIG KV table' },
  deleteTopicWithBrokerRegistration: { type: 'bool', default: false, description: 'topics missing from a full registration are removed' },
  needWaitForService: { type: 'bool', default: false, description: 'refuse route queries for waitSecondsForService after start' },
  waitSecondsForService: { type: 'int', default: 45, min: 0, description: 's of start-up grace when needWaitForService' },
  enableAllTopicList: { type: 'bool', default: true, description: 'serve GET_ALL_TOPIC_LIST_FROM_NAMESERVER' },
  enableTopicList: { type: 'bool', default: true, description: 'serve GET_TOPICS_BY_CLUSTER' },
  aclEnable: { type: 'bool', default: false, description: 'ACL 1.0: authenticate every request; admin codes need an admin account (README, ACL)' },
  aclFilePath: { type: 'string', default: '', description: 'ACL file; relative = under rocketmqHome; default <rocketmqHome>/conf/plain_acl.yml' },
  configBlackList: { type: 'string', default: 'configBlackList;configStorePath;kvConfigPath', description: 'properties UPDATE_NAMESRV_CONFIG may not change' },
  /** TLS of the remoting port: tls.server.mode, tls.server.certPath, ... (see TLS_CONFIG_SCHEMA). */
  ...TLS_CONFIG_SCHEMA,
} as const;

export type NamesrvConfig = ConfigOf<typeof NamesrvConfigSchema>;

export function loadNamesrvConfig(opts: {
  file?: string | undefined;
  env?: Record<string, string | undefined>;
  overrides?: Record<string, string>;
  warn?: (m: string) => void;
}): LoadedConfig<typeof NamesrvConfigSchema> {
  return loadConfig(NamesrvConfigSchema, {
    file: opts.file,
    env: opts.env ?? process.env,
    overrides: opts.overrides ?? {},
    ...(opts.warn ? { warn: opts.warn } : {}),
  });
}

/** `~/x` → `$HOME/x`. */
export function expandHome(path: string): string {
  return path === '~' ? homedir() : path.startsWith('~/') ? join(homedir(), path.slice(2)) : path;
}

export const NAMESRV_CONFIG = Symbol('NamesrvConfig');
