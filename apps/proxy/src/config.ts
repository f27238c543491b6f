import { loadConfig, type ConfigOf, type LoadedConfig } from '@rocketmq-ts/common';
import { TLS_CONFIG_SCHEMA } from '@rocketmq-ts/remoting';

/**
 * ProxyConfig: RocketMQ's proxy property names where it has them, defaults named once, with
 * units. Sources, later wins: defaults, the `-c` properties file, `ROCKETMQ_<NAME>` environment
 * variables (and NAMESRV_ADDR), then `--name=value` on the command line.
 */
export const ProxyConfigSchema = {
  rocketMQClusterName: { type: 'string', default: 'DefaultCluster', description: 'cluster whose brokers this proxy fronts' },
  namesrvAddr: { type: 'string', default: process.env['NAMESRV_ADDR'] ?? '127.0.0.1:9876', description: 'name servers, host:port;host:port' },
  proxyMode: { type: 'enum', default: 'cluster', values: ['cluster'], description: 'cluster: brokers are reached over remoting' },
  bindAddress: { type: 'string', default: '0.0.0.0', description: 'address the gRPC and HTTP listeners bind to' },
  grpcServerPort: { type: 'int', default: 8081, min: 0, max: 65535, description: 'gRPC port (apache.rocketmq.v2.MessagingService)' },
  metricsPromExporterPort: { type: 'int', default: 5561, min: 0, max: 65535, description: 'HTTP port of /metrics, /health, /ready (0 = off)' },
  proxyName: { type: 'string', default: '', description: 'name in logs and metrics (default host:grpcServerPort)' },
  redisAddr: { type: 'string', default: '', description: 'host:port of Redis for state shared by several proxies; empty = in memory (one proxy)' },
  redisKeyPrefix: { type: 'string', default: 'rmqts:proxy:', description: 'prefix of every Redis key this proxy writes' },
  grpcMaxInboundMessageSize: { type: 'int', default: 130 * 1024 * 1024, min: 1024, description: 'largest gRPC request in bytes' },
  maxMessageSize: { type: 'int', default: 4 * 1024 * 1024, min: 1, description: 'largest message body in bytes (MESSAGE_BODY_TOO_LARGE above)' },
  maxUserPropertySize: { type: 'int', default: 16 * 1024, min: 1, description: 'largest total size of user properties in bytes' },
  maxDelayTimeMills: { type: 'long', default: 24 * 3600 * 1000, min: 1000, description: 'ms a delivery timestamp may lie ahead (ILLEGAL_DELIVERY_TIME above)' },
  grpcClientConsumerMinLongPollingTimeoutMillis: { type: 'long', default: 5000, min: 0, description: 'shortest long poll of ReceiveMessage (ms)' },
  grpcClientConsumerMaxLongPollingTimeoutMillis: { type: 'long', default: 20000, min: 0, description: 'longest long poll of ReceiveMessage (ms)' },
  minInvisibleTimeMillsForRecv: { type: 'long', default: 10_000, min: 0, description: 'shortest invisible duration of ReceiveMessage (ms)' },
  maxInvisibleTimeMills: { type: 'long', default: 12 * 3600 * 1000, min: 1000, description: 'longest invisible duration (ms)' },
  defaultInvisibleTimeMills: { type: 'long', default: 60_000, min: 1000, description: 'invisible duration of auto-renewed receives (ms)' },
  enableProxyAutoRenew: { type: 'bool', default: true, description: 'renew the invisibility of messages push consumers are still processing' },
  renewAheadTimeMillis: { type: 'long', default: 10_000, min: 0, description: 'renew handles this close to expiry (ms)' },
  renewSchedulePeriodMillis: { type: 'long', default: 5_000, min: 100, description: 'ms between auto-renew scans' },
  renewMaxTimeMillis: { type: 'long', default: 3 * 3600 * 1000, min: 1000, description: 'a handle is renewed for at most this long (ms)' },
  transactionDataExpireMillis: { type: 'long', default: 30_000, min: 1000, description: 'ms the proxy remembers where a transactional send went' },
  transactionHeartbeatPeriodSecond: {
    type: 'int',
    default: 20,
    min: 1,
    description: 's between heartbeats registering transaction producer groups with brokers',
  },
  clientSessionTtlMillis: { type: 'long', default: 60_000, min: 1000, description: 'a client session expires this long after its last heartbeat (ms)' },
  routeCacheExpireMillis: { type: 'long', default: 20_000, min: 0, description: 'ms a topic route is served from cache before it is refreshed' },
  remotingTimeoutMillis: { type: 'long', default: 3_000, min: 100, description: 'timeout of a remoting call to a broker or name server (ms)' },
  remotingSerializeType: {
    type: 'enum',
    default: 'ROCKETMQ',
    values: ['ROCKETMQ', 'JSON'],
    description: 'header encoding of remoting requests to brokers: ROCKETMQ (binary, cheaper; brokers answer in kind) or JSON',
  },
  enableBatchAck: {
    type: 'bool',
    default: true,
    description: 'acks of one broker, group and topic arriving in the same event-loop turn go as one BATCH_ACK_MESSAGE',
  },
  maxMessageNumPerReceive: { type: 'int', default: 32, min: 1, max: 1024, description: 'at most this many messages per ReceiveMessage (maxMsgNums of POP)' },
  aclEnable: { type: 'bool', default: false, description: 'ACL 1.0: check the authorization header and topic/group permissions of every call (README, ACL)' },
  aclFilePath: { type: 'string', default: '', description: 'plain_acl.yml; relative = under ROCKETMQ_HOME; default $ROCKETMQ_HOME/conf/plain_acl.yml' },
  innerClientAuthenticationCredentials: {
    type: 'string',
    default: '',
    description: 'the proxy\'s own account towards ACL-enabled brokers and name servers: {"accessKey":"…","secretKey":"…"}',
  },
  enableTopicMessageTypeCheck: {
    type: 'bool',
    default: true,
    description: "refuse a message whose type (NORMAL/FIFO/DELAY/TRANSACTION) is not the topic's message.type attribute (MIXED takes any)",
  },
  sendRateLimitPerSecond: { type: 'int', default: 0, min: 0, description: 'messages per second per topic for all proxies together (0 = unlimited)' },
  tlsCertPath: { type: 'string', default: '', description: 'PEM certificate of the gRPC port (else tls.server.certPath); see tls.server.mode' },
  tlsKeyPath: { type: 'string', default: '', description: 'PEM private key of the gRPC port (else tls.server.keyPath)' },
  /** tls.server.mode for the gRPC port; tls.enable and tls.client.* for the connections to brokers and name servers. */
  ...TLS_CONFIG_SCHEMA,
} as const;

export type ProxyConfig = ConfigOf<typeof ProxyConfigSchema>;

export function loadProxyConfig(opts: {
  file?: string | undefined;
  env?: Record<string, string | undefined>;
  overrides?: Record<string, string>;
  warn?: (m: string) => void;
}): LoadedConfig<typeof ProxyConfigSchema> {
  return loadConfig(ProxyConfigSchema, {
    file: opts.file,
    env: opts.env ?? process.env,
    overrides: opts.overrides ?? {},
    ...(opts.warn ? { warn: opts.warn } : {}),
  });
}

export const PROXY_CONFIG = Symbol('ProxyConfig');
