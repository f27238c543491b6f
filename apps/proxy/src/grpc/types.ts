// The apache.rocketmq.v2 messages the proxy reads and writes, as plain objects from
// @grpc/proto-loader (PROTO_LOADER_OPTIONS): camelCase, numbers for int64 and enums, Buffers for
// bytes, unset fields absent. Only the fields we use are typed.

export const MessageType = { UNSPECIFIED: 0, NORMAL: 1, FIFO: 2, DELAY: 3, TRANSACTION: 4, LITE: 5, PRIORITY: 6 } as const;
export const Permission = { UNSPECIFIED: 0, NONE: 1, READ: 2, WRITE: 3, READ_WRITE: 4 } as const;
export const ClientType = {
  UNSPECIFIED: 0,
  PRODUCER: 1,
  PUSH_CONSUMER: 2,
  SIMPLE_CONSUMER: 3,
  PULL_CONSUMER: 4,
  LITE_PUSH_CONSUMER: 5,
  LITE_SIMPLE_CONSUMER: 6,
} as const;
export const FilterType = { UNSPECIFIED: 0, TAG: 1, SQL: 2 } as const;
export const DigestType = { UNSPECIFIED: 0, CRC32: 1, MD5: 2, SHA1: 3 } as const;
export const Encoding = { UNSPECIFIED: 0, IDENTITY: 1, GZIP: 2 } as const;
export const TransactionResolution = { UNSPECIFIED: 0, COMMIT: 1, ROLLBACK: 2 } as const;
export const TransactionSource = { UNSPECIFIED: 0, CLIENT: 1, SERVER_CHECK: 2 } as const;
export const QueryOffsetPolicy = { BEGINNING: 0, END: 1, TIMESTAMP: 2 } as const;
export const AddressScheme = { UNSPECIFIED: 0, IPv4: 1, IPv6: 2, DOMAIN_NAME: 3 } as const;

export interface Resource {
  resourceNamespace?: string;
  name?: string;
}
export interface Address {
  host?: string;
  port?: number;
}
export interface Endpoints {
  scheme?: number;
  addresses?: Address[];
}
export interface Broker {
  name?: string;
  id?: number;
  endpoints?: Endpoints;
}
export interface MessageQueue {
  topic?: Resource;
  id?: number;
  permission?: number;
  broker?: Broker;
  acceptMessageTypes?: number[];
}
/** google.protobuf.Duration and Timestamp (int64 seconds as a number). */
export interface Duration {
  seconds?: number;
  nanos?: number;
}
export type Timestamp = Duration;

export interface Digest {
  type?: number;
  checksum?: string;
}
export interface SystemProperties {
  tag?: string;
  keys?: string[];
  messageId?: string;
  bodyDigest?: Digest;
  bodyEncoding?: number;
  messageType?: number;
  bornTimestamp?: Timestamp;
  bornHost?: string;
  storeTimestamp?: Timestamp;
  storeHost?: string;
  deliveryTimestamp?: Timestamp;
  receiptHandle?: string;
  queueId?: number;
  queueOffset?: number;
  invisibleDuration?: Duration;
  deliveryAttempt?: number;
  messageGroup?: string;
  traceContext?: string;
  orphanedTransactionRecoveryDuration?: Duration;
  deadLetterQueue?: { topic?: string; messageId?: string };
  liteTopic?: string;
  priority?: number;
}
export interface Message {
  topic?: Resource;
  userProperties?: Record<string, string>;
  systemProperties?: SystemProperties;
  body?: Buffer;
}
export interface FilterExpression {
  type?: number;
  expression?: string;
}
export interface Status {
  code?: number;
  message?: string;
}
export interface RetryPolicy {
  maxAttempts?: number;
  exponentialBackoff?: { initial?: Duration; max?: Duration; multiplier?: number };
  customizedBackoff?: { next?: Duration[] };
  strategy?: 'exponentialBackoff' | 'customizedBackoff';
}
export interface Publishing {
  topics?: Resource[];
  maxBodySize?: number;
  validateMessageType?: boolean;
}
export interface Subscription {
  group?: Resource;
  subscriptions?: Array<{ topic?: Resource; expression?: FilterExpression }>;
  fifo?: boolean;
  receiveBatchSize?: number;
  longPollingTimeout?: Duration;
}
export interface Settings {
  clientType?: number;
  accessPoint?: Endpoints;
  backoffPolicy?: RetryPolicy;
  requestTimeout?: Duration;
  publishing?: Publishing;
  subscription?: Subscription;
  pubSub?: 'publishing' | 'subscription';
  userAgent?: { language?: number; version?: string; platform?: string; hostname?: string };
  metric?: { on?: boolean; endpoints?: Endpoints };
}
export interface TelemetryCommand {
  status?: Status;
  settings?: Settings;
  threadStackTrace?: { nonce?: string; threadStackTrace?: string };
  verifyMessageResult?: { nonce?: string };
  recoverOrphanedTransactionCommand?: { message?: Message; transactionId?: string };
  printThreadStackTraceCommand?: { nonce?: string };
  verifyMessageCommand?: { nonce?: string; message?: Message };
  reconnectEndpointsCommand?: { nonce?: string };
  command?: string;
}

export function durationMs(d: Duration | undefined): number | undefined {
  if (d === undefined) return undefined;
  return (d.seconds ?? 0) * 1000 + Math.floor((d.nanos ?? 0) / 1e6);
}

export function msDuration(ms: number): Duration {
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: (ms - seconds * 1000) * 1e6 };
}

export const timestampMs = durationMs;
export const msTimestamp = msDuration;
