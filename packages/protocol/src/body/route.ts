/**
 * Route domain types and constants shared by the name server, broker and clients
 * (remoting.md §3.10–3.11, §5.6, §7.1). Numbers and names are RocketMQ's.
 */

/** Permission bits of a topic or queue. */
export const PermName = {
  PERM_PRIORITY: 0x8,
  PERM_READ: 0x4,
  PERM_WRITE: 0x2,
  PERM_INHERIT: 0x1,
} as const;

export function isReadable(perm: number): boolean {
  return (perm & PermName.PERM_READ) !== 0;
}
export function isWriteable(perm: number): boolean {
  return (perm & PermName.PERM_WRITE) !== 0;
}
export function isInherited(perm: number): boolean {
  return (perm & PermName.PERM_INHERIT) !== 0;
}
/** "RWX"-style text of a perm, for logs. */
export function perm2String(perm: number): string {
  return (isReadable(perm) ? 'R' : '-') + (isWriteable(perm) ? 'W' : '-') + (isInherited(perm) ? 'X' : '-');
}

/** Well-known names (Java's MixAll and TopicValidator). */
export const MixAll = {
  MASTER_ID: 0,
  DEFAULT_CLUSTER: 'DefaultCluster',
  /** The auto-create template topic. */
  AUTO_CREATE_TOPIC_KEY_TOPIC: 'TBW102',
  /** KV namespace holding `topic → "brokerName:queueNum;..."`. */
  ORDER_TOPIC_CONFIG: 'ORDER_TOPIC_CONFIG',
  RETRY_GROUP_TOPIC_PREFIX: '%RETRY%',
  DLQ_GROUP_TOPIC_PREFIX: '%DLQ%',
  DEFAULT_PRODUCER_GROUP: 'DEFAULT_PRODUCER',
  DEFAULT_CONSUMER_GROUP: 'DEFAULT_CONSUMER',
  TOOLS_CONSUMER_GROUP: 'TOOLS_CONSUMER',
  CLIENT_INNER_PRODUCER_GROUP: 'CLIENT_INNER_PRODUCER',
  SELF_TEST_PRODUCER_GROUP: 'SELF_TEST_P_GROUP',
  SELF_TEST_CONSUMER_GROUP: 'SELF_TEST_C_GROUP',
  /** Broker registration expires this long after the last heartbeat unless the broker says otherwise. */
  DEFAULT_BROKER_CHANNEL_EXPIRED_TIME_MS: 120_000,
} as const;

export const TopicValidator = {
  AUTO_CREATE_TOPIC_KEY_TOPIC: 'TBW102',
  RMQ_SYS_SCHEDULE_TOPIC: 'SCHEDULE_TOPIC_XXXX',
  RMQ_SYS_BENCHMARK_TOPIC: 'BenchmarkTest',
  RMQ_SYS_TRANS_HALF_TOPIC: 'RMQ_SYS_TRANS_HALF_TOPIC',
  RMQ_SYS_TRACE_TOPIC: 'RMQ_SYS_TRACE_TOPIC',
  RMQ_SYS_TRANS_OP_HALF_TOPIC: 'RMQ_SYS_TRANS_OP_HALF_TOPIC',
  RMQ_SYS_TRANS_CHECK_MAX_TIME_TOPIC: 'TRANS_CHECK_MAX_TIME_TOPIC',
  RMQ_SYS_SELF_TEST_TOPIC: 'SELF_TEST_TOPIC',
  RMQ_SYS_OFFSET_MOVED_EVENT: 'OFFSET_MOVED_EVENT',
  RMQ_SYS_ROCKSDB_OFFSET_TOPIC: 'CHECKPOINT_TOPIC',
  SYSTEM_TOPIC_PREFIX: 'rmq_sys_',
  SYNC_BROKER_MEMBER_GROUP_PREFIX: 'rmq_sys_SYNC_BROKER_MEMBER_',
  TOPIC_MAX_LENGTH: 127,
  RETRY_OR_DLQ_TOPIC_MAX_LENGTH: 255,
  GROUP_MAX_LENGTH: 120,
} as const;

const SYSTEM_TOPICS = new Set<string>([
  TopicValidator.AUTO_CREATE_TOPIC_KEY_TOPIC,
  TopicValidator.RMQ_SYS_SCHEDULE_TOPIC,
  TopicValidator.RMQ_SYS_BENCHMARK_TOPIC,
  TopicValidator.RMQ_SYS_TRANS_HALF_TOPIC,
  TopicValidator.RMQ_SYS_TRACE_TOPIC,
  TopicValidator.RMQ_SYS_TRANS_OP_HALF_TOPIC,
  TopicValidator.RMQ_SYS_TRANS_CHECK_MAX_TIME_TOPIC,
  TopicValidator.RMQ_SYS_SELF_TEST_TOPIC,
  TopicValidator.RMQ_SYS_OFFSET_MOVED_EVENT,
  TopicValidator.RMQ_SYS_ROCKSDB_OFFSET_TOPIC,
]);

const NAME_CHARS = /^[%|a-zA-Z0-9_-]+$/;

/** Why a topic name is invalid, or null when it is fine (chars `[%|a-zA-Z0-9_-]`, length limits). */
export function validateTopicName(topic: string): string | null {
  if (topic.length === 0) return 'the topic name is blank';
  const isRetryOrDlq = topic.startsWith(MixAll.RETRY_GROUP_TOPIC_PREFIX) || topic.startsWith(MixAll.DLQ_GROUP_TOPIC_PREFIX);
  const max = isRetryOrDlq ? TopicValidator.RETRY_OR_DLQ_TOPIC_MAX_LENGTH : TopicValidator.TOPIC_MAX_LENGTH;
  if (topic.length > max) return `the topic name is longer than ${max} characters`;
  if (!NAME_CHARS.test(topic)) return `the topic name ${JSON.stringify(topic)} contains characters other than [%|a-zA-Z0-9_-]`;
  return null;
}

/** Why a group name is invalid, or null. */
export function validateGroupName(group: string): string | null {
  if (group.length === 0) return 'the group name is blank';
  if (group.length > TopicValidator.GROUP_MAX_LENGTH) return `the group name is longer than ${TopicValidator.GROUP_MAX_LENGTH} characters`;
  if (!NAME_CHARS.test(group)) return `the group name ${JSON.stringify(group)} contains characters other than [%|a-zA-Z0-9_-]`;
  return null;
}

export function isSystemTopic(topic: string): boolean {
  return SYSTEM_TOPICS.has(topic) || topic.startsWith(TopicValidator.SYSTEM_TOPIC_PREFIX);
}

// ---------------------------------------------------------------------------------------------

/** A topic as a broker configures it (topics.json and REGISTER_BROKER). */
export interface TopicConfig {
  topicName: string;
  readQueueNums: number;
  writeQueueNums: number;
  perm: number;
  topicFilterType: 'SINGLE_TAG' | 'MULTI_TAG' | string;
  topicSysFlag: number;
  order: boolean;
  attributes: Record<string, string>;
}

/** RocketMQ's TopicConfig defaults (16 queues, RW). */
export function topicConfig(topicName: string, init: Partial<TopicConfig> = {}): TopicConfig {
  return {
    topicName,
    readQueueNums: 16,
    writeQueueNums: 16,
    perm: PermName.PERM_READ | PermName.PERM_WRITE,
    topicFilterType: 'SINGLE_TAG',
    topicSysFlag: 0,
    order: false,
    attributes: {},
    ...init,
  };
}

/**
 * Version of a broker's topic table. Two versions are equal when all three numbers are; brokers
 * bump `counter` on every change, `stateVersion` on role changes (5.x; absent in 4.9).
 */
export interface DataVersion {
  stateVersion: number;
  timestamp: number;
  counter: number;
}

export function newDataVersion(): DataVersion {
  return { stateVersion: 0, timestamp: Date.now(), counter: 0 };
}

export function dataVersionEquals(a: DataVersion | null | undefined, b: DataVersion | null | undefined): boolean {
  if (!a || !b) return a === b;
  return a.stateVersion === b.stateVersion && a.timestamp === b.timestamp && a.counter === b.counter;
}

/** One broker group's share of a topic. */
export interface QueueData {
  brokerName: string;
  readQueueNums: number;
  writeQueueNums: number;
  perm: number;
  topicSysFlag: number;
}

/** A broker group: id 0 is the master, >0 slaves. */
export interface BrokerData {
  cluster: string;
  brokerName: string;
  brokerAddrs: Map<number, string>;
  enableActingMaster: boolean;
  zoneName?: string | undefined;
}

export interface TopicRouteData {
  orderTopicConf?: string | undefined;
  queueDatas: QueueData[];
  brokerDatas: BrokerData[];
  filterServerTable: Map<string, string[]>;
}

export interface ClusterInfo {
  brokerAddrTable: Map<string, BrokerData>;
  clusterAddrTable: Map<string, string[]>;
}

export interface TopicList {
  topicList: string[];
  brokerAddr?: string | null | undefined;
}

/** Broker id of the master in a BrokerData, or the address of the lowest id when `anyIfNoMaster`. */
export function selectBrokerAddr(bd: BrokerData, anyIfNoMaster = false): string | undefined {
  const master = bd.brokerAddrs.get(MixAll.MASTER_ID);
  if (master !== undefined || !anyIfNoMaster) return master;
  let best: number | undefined;
  for (const id of bd.brokerAddrs.keys()) if (best === undefined || id < best) best = id;
  return best === undefined ? undefined : bd.brokerAddrs.get(best);
}
