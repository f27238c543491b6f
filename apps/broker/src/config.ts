import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, type ConfigField, type ConfigSchema, type LoadConfigOptions } from '@rocketmq-ts/common';
import { TLS_CONFIG_SCHEMA } from '@rocketmq-ts/remoting';
import { DEFAULT_STORE_CONFIG, StoreConfigError, resolveStoreConfig, type MessageStoreConfig } from '@rocketmq-ts/store';

/**
 * Broker configuration: RocketMQ's BrokerConfig names and defaults, plus every
 * MessageStoreConfig property, read from one broker.conf as RocketMQ does.
 */
export const BROKER_SCHEMA = {
  rocketmqHome: { type: 'string', default: '' },
  brokerClusterName: { type: 'string', default: 'DefaultCluster' },
  brokerName: { type: 'string', default: hostname() },
  /** 0 = master, > 0 = slave. */
  brokerId: { type: 'long', default: 0, min: 0 },
  brokerRole: { type: 'enum', default: 'ASYNC_MASTER', values: ['ASYNC_MASTER', 'SYNC_MASTER', 'SLAVE'] },
  /** Address clients use to reach this broker (written into routes and msgIds); default: first non-internal IPv4. */
  brokerIP1: { type: 'string', default: '' },
  /** Address slaves use for HA; default brokerIP1. */
  brokerIP2: { type: 'string', default: '' },
  /** Interface to listen on. */
  bindAddress: { type: 'string', default: '0.0.0.0' },
  listenPort: { type: 'int', default: 10911, min: 1, max: 65535 },
  /** HA port; 0 = listenPort + 1. */
  haListenPort: { type: 'int', default: 0, min: 0, max: 65535 },
  /** HTTP port for /metrics, /health, /ready. */
  metricsPromExporterPort: { type: 'int', default: 5557, min: 0, max: 65535 },
  /** Name servers, `host:port;host:port`. */
  namesrvAddr: { type: 'string', default: '' },
  brokerPermission: { type: 'int', default: 6 },
  autoCreateTopicEnable: { type: 'bool', default: true },
  autoCreateSubscriptionGroup: { type: 'bool', default: true },
  /** Queues of the TBW102 template and so the most an auto-created topic gets. */
  defaultTopicQueueNums: { type: 'int', default: 8, min: 1 },
  clusterTopicEnable: { type: 'bool', default: true },
  brokerTopicEnable: { type: 'bool', default: true },
  traceTopicEnable: { type: 'bool', default: false },
  msgTraceTopicName: { type: 'string', default: 'RMQ_SYS_TRACE_TOPIC' },
  /** ms between registrations with the name servers (clamped to 10 s – 60 s). */
  registerNameServerPeriod: { type: 'long', default: 30_000 },
  registerBrokerTimeoutMills: { type: 'long', default: 24_000 },
  forceRegister: { type: 'bool', default: true },
  longPollingEnable: { type: 'bool', default: true },
  /** Hold time of a pull with the suspend flag when long polling is off (ms). */
  shortPollingTimeMills: { type: 'long', default: 1_000 },
  /** Most messages one pull returns. */
  pullBatchMaxMessageCount: { type: 'int', default: 160, min: 1 },
  enablePropertyFilter: { type: 'bool', default: false },
  filterSupportRetry: { type: 'bool', default: false },
  slaveReadEnable: { type: 'bool', default: false },
  /** Percent of RAM a consumer may lag (commit-log bytes) before it is sent to a slave. */
  /** ms of client silence before its connection is dropped from groups. */
  channelExpiredTimeout: { type: 'long', default: 120_000 },
  /** Seconds without traffic (or without finishing a frame that has started) before a connection is closed. */
  serverChannelMaxIdleTimeSeconds: { type: 'int', default: 120, min: 1 },
  /**
   * Bytes of replies queued for one connection above which the broker stops reading that
   * connection's requests until the peer catches up (a consumer that does not read its replies
   * cannot grow the broker's memory). RocketMQ's NettyServerConfig name; our default 4 MiB.
   */
  writeBufferHighWaterMark: { type: 'long', default: 4 * 1024 * 1024, min: 64 * 1024 },
  /** Flow control: answer SYSTEM_BUSY to sends that waited too long or while the store is stalled. */
  brokerFastFailureEnable: { type: 'bool', default: true },
  /**
   * ms a send may wait between being read off its socket and being processed before it is
   * answered SYSTEM_BUSY [TIMEOUT_CLEAN_QUEUE] instead (brokerFastFailureEnable).
   */
  waitTimeMillsInSendQueue: { type: 'long', default: 200, min: 0 },
  /**
   * Most sends waiting on the store at once (a segment roll, SYNC_FLUSH's fdatasync, SYNC_MASTER's
   * slaves); beyond it sends are answered SYSTEM_BUSY [OVERLOAD] instead of queued.
   */
  sendThreadPoolQueueCapacity: { type: 'int', default: 10_000, min: 1 },
  /** Long polling: most pulls one connection may have suspended; beyond it SYSTEM_BUSY. */
  maxSuspendedPullsPerConnection: { type: 'int', default: 1_024, min: 1 },
  /** Long polling: most pulls suspended in all; beyond it SYSTEM_BUSY. */
  maxSuspendedPulls: { type: 'int', default: 100_000, min: 1 },
  /** ms between consumerOffset.json writes. */
  flushConsumerOffsetInterval: { type: 'long', default: 5_000 },
  /** ms between delayOffset.json writes. */
  flushDelayOffsetInterval: { type: 'long', default: 10_000 },
  notifyConsumerIdsChangedEnable: { type: 'bool', default: true },
  rejectTransactionMessage: { type: 'bool', default: false },
  transactionTimeOut: { type: 'long', default: 6_000 },
  transactionCheckMax: { type: 'int', default: 15 },
  transactionCheckInterval: { type: 'long', default: 30_000 },
  /** POP: queues of the revive topic rmq_sys_REVIVE_LOG_<cluster> (checkpoints and acks). */
  reviveQueueNum: { type: 'int', default: 8, min: 1 },
  /** POP: ms between revive passes over each revive queue. */
  reviveInterval: { type: 'long', default: 1_000 },
  /** POP: longest one revive pass reads before it acts (ms). */
  reviveScanTime: { type: 'long', default: 10_000 },
  /** POP: percent of pops that read the pop retry topic first. */
  popFromRetryProbability: { type: 'int', default: 20, min: 0, max: 100 },
  /** POP: retry topics named %RETRY%group+topic instead of %RETRY%group_topic. */
  enableRetryTopicV2: { type: 'bool', default: false },
  /**
   * POP: checkpoints stay in memory for popCkStayBufferTime and acks set bits on them there: a
   * checkpoint whose messages are all acked meanwhile is never written to the revive topic (nor
   * its acks); one still partly un-acked is written then, with the acked bits in it. The pop
   * offset is committed only past checkpoints fully acked or written, so after a crash the
   * messages of lost ones are popped again (at least once). RocketMQ's default is false; ours is
   * true (README, POP consumption).
   */
  enablePopBufferMerge: { type: 'bool', default: true },
  /** POP: ms a checkpoint stays in memory before it is written (if not all acked by then). */
  popCkStayBufferTime: { type: 'long', default: 10_000, min: 0 },
  /**
   * POP: a checkpoint is written at the latest this many ms before its revive time (pop time +
   * invisible time); one whose revive time is closer than this + 1.5 s at the pop is written at once.
   */
  popCkStayBufferTimeOut: { type: 'long', default: 3_000, min: 0 },
  /** POP: most checkpoints held in memory; beyond it they are written at once. */
  popCkMaxBufferSize: { type: 'long', default: 200_000, min: 0 },
  /** POP: most pops parked for one topic@group@queue, and in all. */
  popPollingSize: { type: 'int', default: 1024 },
  maxPopPollingSize: { type: 'int', default: 100_000 },
  /** Region written into send replies (MSG_REGION). */
  regionId: { type: 'string', default: 'DefaultRegion' },
  traceOn: { type: 'bool', default: true },
  /**
   * TLS under RocketMQ's names: tls.server.* for the remoting port, tls.enable and tls.client.*
   * for the broker's own connections to name servers and, on a slave, to its master.
   */
  ...TLS_CONFIG_SCHEMA,
  /** ACL 1.0: check every request against plain_acl.yml (README, ACL). */
  aclEnable: { type: 'bool', default: false },
  /** The ACL file; relative paths are under rocketmqHome. Default: <rocketmqHome>/conf/plain_acl.yml. */
  aclFilePath: { type: 'string', default: '' },
  /**
   * The broker's own account, for its calls to ACL-enabled name servers and (as a slave) to its
   * master: {"accessKey":"…","secretKey":"…"} (RocketMQ 5's property name).
   */
  innerClientAuthenticationCredentials: { type: 'string', default: '' },
} as const satisfies ConfigSchema;

const STORE_ENUMS: Record<string, readonly string[]> = {
  flushDiskType: ['ASYNC_FLUSH', 'SYNC_FLUSH'],
  preallocateMode: ['zeros', 'truncate'],
};

/** MessageStoreConfig as config-schema fields, derived from the store's own defaults. */
export function storeSchema(): ConfigSchema {
  const out: ConfigSchema = {};
  for (const [k, v] of Object.entries(DEFAULT_STORE_CONFIG)) {
    let f: ConfigField | null = null;
    if (STORE_ENUMS[k]) f = { type: 'enum', default: String(v), values: STORE_ENUMS[k]! };
    else if (typeof v === 'number') f = { type: 'long', default: v };
    else if (typeof v === 'boolean') f = { type: 'bool', default: v };
    else if (typeof v === 'string') f = { type: 'string', default: v };
    if (f) out[k] = f; // storeHost is derived from brokerIP1 and listenPort
  }
  return out;
}

export type BrokerOnlyConfig = {
  -readonly [K in keyof typeof BROKER_SCHEMA]: (typeof BROKER_SCHEMA)[K]['default'] extends boolean
    ? boolean
    : (typeof BROKER_SCHEMA)[K]['default'] extends number
      ? number
      : string;
};

export interface BrokerConfig extends BrokerOnlyConfig {
  store: MessageStoreConfig;
  /** Everything as flat properties, what `-p` and GET_BROKER_CONFIG print. */
  flat: Record<string, string | number | boolean>;
}

export function firstLocalIPv4(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

/** Every property a broker.conf may set: BrokerConfig's and MessageStoreConfig's. */
export function brokerConfigSchema(): ConfigSchema {
  return { ...storeSchema(), ...BROKER_SCHEMA };
}

export function loadBrokerConfig(opts: LoadConfigOptions): { config: BrokerConfig; unknown: Map<string, string> } {
  const schema = brokerConfigSchema();
  const { config: flat, unknown } = loadConfig(schema, opts);
  const b = flat as unknown as BrokerOnlyConfig & Record<string, string | number | boolean>;
  if (b.brokerIP1 === '') b.brokerIP1 = firstLocalIPv4();
  if (b.brokerIP2 === '') b.brokerIP2 = b.brokerIP1;
  if (b.haListenPort === 0) b.haListenPort = b.listenPort + 1;
  // Masters are id 0 and slaves > 0, whatever the file says (as RocketMQ without a controller).
  if (b.brokerRole === 'SLAVE' && b.brokerId === 0) throw new ConfigError('brokerRole=SLAVE needs brokerId > 0');
  if (b.brokerRole !== 'SLAVE') b.brokerId = 0;
  const storePart: Record<string, unknown> = {};
  for (const k of Object.keys(DEFAULT_STORE_CONFIG)) if (k in flat) storePart[k] = flat[k];
  if (storePart['storePathCommitLog'] === '') storePart['storePathCommitLog'] = join(String(storePart['storePathRootDir']), 'commitlog');
  let store: MessageStoreConfig;
  try {
    store = resolveStoreConfig({ ...(storePart as Partial<MessageStoreConfig>), storeHost: { address: b.brokerIP1, port: b.listenPort } });
  } catch (e) {
    if (e instanceof StoreConfigError) throw new ConfigError(e.message);
    throw e;
  }
  const config = { ...b, store, flat: { ...flat } } as BrokerConfig;
  return { config, unknown };
}

/**
 * RocketMQ broker/store properties a user's broker.conf may carry that this broker accepts
 * without acting on them (thread pools, JVM-specific tuning, features not built yet). They are
 * listed once at start-up instead of one warning each; truly unknown names are still warned about.
 */
const IGNORED_JAVA_PROPERTIES = new Set([
  'sendMessageThreadPoolNums',
  'pullMessageThreadPoolNums',
  'litePullMessageThreadPoolNums',
  'ackMessageThreadPoolNums',
  'processReplyMessageThreadPoolNums',
  'queryMessageThreadPoolNums',
  'adminBrokerThreadPoolNums',
  'clientManageThreadPoolNums',
  'heartbeatThreadPoolNums',
  'consumerManageThreadPoolNums',
  'endTransactionThreadPoolNums',
  // Op records are written as each transaction ends, not batched.
  'transactionOpMsgMaxSize',
  'transactionOpBatchInterval',
  'transactionMetricFlushInterval',
  'loadBalanceProcessorThreadPoolNums',
  'pullThreadPoolQueueCapacity',
  'queryThreadPoolQueueCapacity',
  'clientManagerThreadPoolQueueCapacity',
  'consumerManagerThreadPoolQueueCapacity',
  'heartbeatThreadPoolQueueCapacity',
  'endTransactionPoolQueueCapacity',
  'waitTimeMillsInPullQueue',
  'waitTimeMillsInHeartbeatQueue',
  'waitTimeMillsInTransactionQueue',
  'useReentrantLockWhenPutMessage',
  'transientStorePoolEnable',
  'transientStorePoolSize',
  'warmMapedFileEnable',
  'enableDLegerCommitLog',
  'dLegerGroup',
  'dLegerPeers',
  'dLegerSelfId',
  'enableControllerMode',
  'controllerAddr',
  'fetchNamesrvAddrByAddressServer',
  'enableScheduleMessageStats',
  'enableSlaveActingMaster',
  'enableCalcFilterBitMap',
  'enableConsumeQueueExt',
  'isEnableBatchPush',
  'compressedRegister',
  'commercialEnable',
  'maxTransferBytesOnMessageInMemory',
  'maxTransferCountOnMessageInMemory',
  'maxTransferBytesOnMessageInDisk',
  'maxTransferCountOnMessageInDisk',
  'cleanFileForciblyEnable',
  'redeleteHangedFileInterval',
  'destroyMapedFileIntervalForcibly',
  'flushLeastPagesWhenWarmMapedFile',
  'serverWorkerThreads',
  'serverSelectorThreads',
  'serverCallbackExecutorThreads',
  'serverSocketSndBufSize',
  'serverSocketRcvBufSize',
  'serverPooledByteBufAllocatorEnable',
  'useEpollNativeSelector',
  'clientWorkerThreads',
  'clientCallbackExecutorThreads',
  'enableNetWorkFlowControl',
  // The timer runs on the event loop (no thread pools, queues or warm-up); these tune RocketMQ's threads.
  'timerGetMessageThreadNum',
  'timerPutMessageThreadNum',
  'timerEnableDisruptor',
  'timerEnableCheckMetrics',
  'timerCheckMetricsWhen',
  'timerMetricSmallThreshold',
  'timerProgressLogIntervalMs',
  'timerWarmEnable',
  'timerSkipUnknownError',
  'timerInterceptDelayLevel',
  'timerEnableRetryUntilSuccess',
]);

/** True for a RocketMQ property this broker accepts without acting on it (never one of its own). */
export function isIgnoredJavaProperty(name: string): boolean {
  return IGNORED_JAVA_PROPERTIES.has(name) && !(name in brokerConfigSchema());
}

/** The ignored names that the schema also knows (must be empty: the list would hide working properties). */
export function ignoredButKnown(): string[] {
  const schema = brokerConfigSchema();
  return [...IGNORED_JAVA_PROPERTIES].filter((n) => n in schema);
}

/**
 * Writes `updates` into a Java properties file in place: existing `key=value` lines are
 * replaced, comments and order are kept, new keys are appended. Written to a temp file and
 * renamed, so a crash leaves the old or the new file, never half of one.
 */
export function updatePropertiesFile(path: string, updates: ReadonlyMap<string, string>): void {
  const text = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const left = new Map(updates);
  const lines = text.split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  for (let i = 0; i < lines.length; i++) {
    const m = /^\s*([^#!\s=:][^\s=:]*)\s*[=:\s]/.exec(lines[i]!) ?? /^\s*([^#!\s=:][^\s=:]*)\s*$/.exec(lines[i]!);
    const key = m?.[1];
    if (key !== undefined && left.has(key)) {
      lines[i] = `${key}=${escapePropertyValue(left.get(key)!)}`;
      left.delete(key);
    }
  }
  for (const [k, v] of left) lines.push(`${k}=${escapePropertyValue(v)}`);
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, lines.join('\n') + '\n');
  renameSync(tmp, path);
}

function escapePropertyValue(v: string): string {
  return v
    .replace(/\\/g, '\\\\')
    .replace(/\n/g, '\\n')
    .replace(/^\s/, (s) => '\\' + s);
}
