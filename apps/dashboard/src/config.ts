import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type ConfigOf, type LoadedConfig } from '@rocketmq-ts/common';

/**
 * DashboardConfig, defaults named once, with units. The names follow our other apps (listenPort,
 * bindAddress, namesrvAddr) so the launcher and the conf files read alike. Sources, later wins:
 * defaults, the `-c` properties file, `ROCKETMQ_<NAME>` environment variables (and NAMESRV_ADDR),
 * then `-n` / `--name=value` on the command line.
 */
export const DashboardConfigSchema = {
  namesrvAddr: { type: 'string', default: '127.0.0.1:9876', description: 'name servers, host:port;host:port' },
  listenPort: { type: 'int', default: 8082, min: 0, max: 65535, description: 'HTTP port of the console, /api, /metrics, /health, /ready' },
  bindAddress: { type: 'string', default: '0.0.0.0', description: 'address the HTTP listener binds to' },
  adminTimeoutMillis: { type: 'long', default: 5000, min: 100, description: 'ms one admin call to a name server or broker may take' },
  messageQueryMaxNum: { type: 'int', default: 64, min: 1, max: 1000, description: 'most messages one search returns' },
  bodyPreviewMaxBytes: { type: 'int', default: 64 * 1024, min: 16, description: 'bytes of a message body sent to the browser for preview' },
  sendMessageEnable: { type: 'bool', default: true, description: 'allow "send a test message" from the topic page' },
  topicWriteEnable: { type: 'bool', default: true, description: 'allow creating, updating and deleting topics' },
  dataPath: {
    type: 'string',
    default: join(tmpdir(), 'rocketmq-dashboard'),
    description: "folder of the console's own files (offset-resets.json: the offsets before each reset, for undo)",
  },
  offsetResetEnable: { type: 'bool', default: true, description: 'allow resetting (and undoing resets of) consumer offsets from the group page' },
  resendMessageEnable: { type: 'bool', default: true, description: "allow resending dead letters to their group's retry topic" },
  chartSampleIntervalMs: { type: 'long', default: 10_000, min: 100, description: 'ms between two samples of the cluster for the charts' },
  chartHistoryMs: { type: 'long', default: 3_600_000, min: 1000, description: 'ms of samples the charts keep in memory (a ring buffer)' },
  aclEnable: { type: 'bool', default: false, description: 'the cluster checks ACL: the pages ask for an access key and secret key and sign with them' },
  accessKey: { type: 'string', default: '', description: "the console's own ACL account, used by the chart sampler (optional)" },
  secretKey: { type: 'string', default: '', description: 'secret key of accessKey; never printed, logged or sent to a browser' },
  sessionIdleTimeoutMs: { type: 'long', default: 1_800_000, min: 1000, description: 'ms a signed-in browser session lives without a request' },
} as const;

export type DashboardConfig = ConfigOf<typeof DashboardConfigSchema>;

export function loadDashboardConfig(opts: {
  file?: string | undefined;
  env?: Record<string, string | undefined>;
  overrides?: Record<string, string>;
  warn?: (m: string) => void;
}): LoadedConfig<typeof DashboardConfigSchema> {
  return loadConfig(DashboardConfigSchema, {
    file: opts.file,
    env: opts.env ?? process.env,
    overrides: opts.overrides ?? {},
    ...(opts.warn ? { warn: opts.warn } : {}),
  });
}

export const DASHBOARD_CONFIG = Symbol('DashboardConfig');
