import type { TlsClientOptions } from '@rocketmq-ts/remoting';
import { MQClientInstance, resolveClientOptions, type ClientLogger, type ProducerInner, type TransactionCheckRequest } from '@rocketmq-ts/client';
import { MixAll, RequestCode, ResponseCode, jsonEntries, parseLenientJson, type JsonValue, type TopicRouteData } from '@rocketmq-ts/protocol';
import { Code, ProxyError } from '../grpc/status.js';

/** A consumer group's settings the proxy needs (from the broker's subscription group config). */
export interface GroupInfo {
  retryMaxTimes: number;
  consumeMessageOrderly: boolean;
}

const DEFAULT_GROUP: GroupInfo = { retryMaxTimes: 16, consumeMessageOrderly: false };

export interface ClusterOptions {
  namesrvAddr: string;
  clusterName: string;
  instanceName: string;
  remotingTimeoutMs: number;
  routeCacheExpireMs: number;
  transactionHeartbeatMs: number;
  logger: ClientLogger;
  /** TLS of the connections to brokers and name servers (tls.enable); undefined = plaintext. */
  tls?: TlsClientOptions | undefined;
  /** The proxy's own account towards ACL-enabled brokers and name servers. */
  credentials?: { accessKey: string; secretKey: string } | undefined;
  /** Header encoding of requests to brokers (remotingSerializeType); default ROCKETMQ (binary). */
  serializeType?: 'JSON' | 'ROCKETMQ' | undefined;
}

/**
 * The proxy's side of the cluster (RocketMQ's cluster-mode proxy): one remoting client core for
 * every broker and name server, a topic route cache refreshed in the background, subscription
 * group settings, and one producer group per transactional topic registered with the brokers so
 * that their check-backs reach a proxy.
 */
export class Cluster {
  readonly instance: MQClientInstance;
  private readonly routeTimes = new Map<string, number>();
  private readonly routeLoads = new Map<string, Promise<TopicRouteData | undefined>>();
  private readonly groups = new Map<string, { info: GroupInfo; at: number }>();
  private readonly txGroups = new Map<string, ProducerInner>();
  private readonly topicTypes = new Map<string, { type: string; at: number }>();
  private get typeTtlMs(): number {
    return this.opts.routeCacheExpireMs;
  }
  private checkHandler: ((req: TransactionCheckRequest) => void) | undefined;

  constructor(readonly opts: ClusterOptions) {
    this.instance = new MQClientInstance(
      resolveClientOptions({
        namesrvAddr: opts.namesrvAddr,
        instanceName: opts.instanceName,
        mqClientApiTimeoutMs: opts.remotingTimeoutMs,
        heartbeatBrokerIntervalMs: opts.transactionHeartbeatMs,
        logger: opts.logger,
        serializeType: opts.serializeType ?? 'ROCKETMQ',
        useTLS: opts.tls !== undefined,
        ...(opts.tls !== undefined ? { tls: opts.tls } : {}),
        ...(opts.credentials !== undefined ? { accessKey: opts.credentials.accessKey, secretKey: opts.credentials.secretKey } : {}),
      }),
    );
  }

  get api(): MQClientInstance['api'] {
    return this.instance.api;
  }

  start(): void {
    this.instance.start();
  }

  async shutdown(): Promise<void> {
    await this.instance.shutdown();
  }

  /** Where broker check-backs go (the proxy routes them to a client's telemetry stream). */
  onTransactionCheck(handler: (req: TransactionCheckRequest) => void): void {
    this.checkHandler = handler;
  }

  /**
   * The topic's route: from the cache while fresh, else from the name servers (a stale route is
   * served while the refresh fails). TOPIC_NOT_FOUND when no name server knows the topic.
   */
  async route(topic: string): Promise<TopicRouteData> {
    const cached = this.instance.topicRouteTable.get(topic);
    const at = this.routeTimes.get(topic) ?? 0;
    if (cached !== undefined && Date.now() - at < this.opts.routeCacheExpireMs) return cached;
    let load = this.routeLoads.get(topic);
    if (load === undefined) {
      load = this.instance
        .updateTopicRouteFromNameServer(topic)
        .then((known) => {
          if (known) this.routeTimes.set(topic, Date.now());
          return this.instance.topicRouteTable.get(topic);
        })
        .finally(() => this.routeLoads.delete(topic));
      this.routeLoads.set(topic, load);
    }
    if (cached !== undefined) {
      // Serve the stale route now; the refresh lands for the next call.
      load.catch(() => undefined);
      return cached;
    }
    let route: TopicRouteData | undefined;
    try {
      route = await load;
    } catch (e) {
      throw new ProxyError(Code.INTERNAL_SERVER_ERROR, `could not read the route of ${topic} from the name servers: ${(e as Error).message}`);
    }
    if (route === undefined) throw new ProxyError(Code.TOPIC_NOT_FOUND, `topic ${topic} not found`);
    return route;
  }

  /** The master of a broker group, if the route cache knows it. */
  masterAddr(brokerName: string): string | undefined {
    return this.instance.findBrokerAddressInPublish(brokerName);
  }

  /** The master of `brokerName` (looked up through `topic`'s route when not cached yet). */
  async requireMaster(topic: string, brokerName: string): Promise<string> {
    let addr = this.masterAddr(brokerName);
    if (addr === undefined) {
      await this.route(topic).catch(() => undefined);
      addr = this.masterAddr(brokerName);
    }
    if (addr === undefined) throw new ProxyError(Code.NOT_FOUND, `broker ${brokerName} has no master in the route of ${topic}`);
    return addr;
  }

  /** The master, or any live member of the group for reads. */
  readAddr(brokerName: string): string | undefined {
    return this.instance.findBrokerAddressInSubscribe(brokerName, MixAll.MASTER_ID)?.addr;
  }

  /**
   * The topic's `message.type` attribute (NORMAL when the topic has none, as RocketMQ's TopicConfig
   * reads it), from a master holding the topic; cached for routeCacheExpireMillis. Undefined when no
   * broker could be asked.
   */
  async topicMessageType(topic: string, brokerName: string): Promise<string | undefined> {
    const hit = this.topicTypes.get(topic);
    if (hit !== undefined && Date.now() - hit.at < this.typeTtlMs) return hit.type;
    let type: string | undefined;
    try {
      const addr = await this.requireMaster(topic, brokerName);
      const res = await this.api.invoke(addr, this.api.request(RequestCode.GET_TOPIC_CONFIG, { topic }));
      if (res.code === ResponseCode.SUCCESS && res.body !== null) {
        const o = Object.fromEntries(jsonEntries(parseLenientJson(res.body.toString('utf8')))) as Record<string, JsonValue>;
        const tc = Object.fromEntries(jsonEntries(o['topicConfig'] ?? null)) as Record<string, JsonValue>;
        const attrs = Object.fromEntries(jsonEntries(tc['attributes'] ?? null)) as Record<string, JsonValue>;
        const t = attrs['message.type'];
        type = typeof t === 'string' && t !== '' ? t.toUpperCase() : 'NORMAL';
      } else if (res.code === ResponseCode.TOPIC_NOT_EXIST) {
        type = 'UNSPECIFIED';
      }
    } catch {
      type = hit?.type;
    }
    if (type !== undefined) this.topicTypes.set(topic, { type, at: Date.now() });
    return type;
  }

  /** retryMaxTimes and orderliness of a consumer group (cached for a minute; defaults when unknown). */
  async group(group: string, topic: string): Promise<GroupInfo> {
    const hit = this.groups.get(group);
    if (hit !== undefined && Date.now() - hit.at < 60_000) return hit.info;
    let info = hit?.info ?? DEFAULT_GROUP;
    try {
      const route = await this.route(topic);
      const bd = route.brokerDatas[0];
      const addr = bd === undefined ? undefined : this.masterAddr(bd.brokerName);
      if (addr !== undefined) {
        const res = await this.api.invoke(addr, this.api.request(RequestCode.GET_SUBSCRIPTIONGROUP_CONFIG, { group }));
        if (res.code === ResponseCode.SUCCESS && res.body !== null) {
          const o = Object.fromEntries(jsonEntries(parseLenientJson(res.body.toString('utf8')))) as Record<string, JsonValue>;
          info = {
            retryMaxTimes: typeof o['retryMaxTimes'] === 'number' ? o['retryMaxTimes'] : DEFAULT_GROUP.retryMaxTimes,
            consumeMessageOrderly: o['consumeMessageOrderly'] === true,
          };
        }
      }
    } catch {
      // keep the last known (or default) settings
    }
    this.groups.set(group, { info, at: Date.now() });
    return info;
  }

  /**
   * Registers `topic` as a transaction producer group (RocketMQ's proxy uses the topic name as
   * the group) so brokers send this proxy the check-backs of its half messages.
   */
  registerTransactionTopic(topic: string): void {
    if (this.txGroups.has(topic)) return;
    const p: ProducerInner = {
      group: topic,
      publishTopics: () => [topic],
      updateTopicPublishInfo: () => undefined,
      checkTransactionState: (req) => this.checkHandler?.(req),
    };
    this.txGroups.set(topic, p);
    this.instance.registerProducer(p);
    void this.instance.updateTopicRouteFromNameServer(topic).then(
      () => this.instance.sendHeartbeatToAllBrokers(),
      () => undefined,
    );
  }
}
