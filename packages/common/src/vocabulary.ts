/**
 * RocketMQ's domain vocabulary, named once: permission bits (PermName), well-known names (MixAll),
 * system topics and name rules (TopicValidator). Numbers and names are RocketMQ's.
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
  /** Timer messages wait here (queue 0) until the timer wheel delivers them (TimerMessageStore.TIMER_TOPIC). */
  RMQ_SYS_WHEEL_TIMER_TOPIC: 'rmq_sys_wheel_timer',
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
  TopicValidator.RMQ_SYS_WHEEL_TIMER_TOPIC,
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
