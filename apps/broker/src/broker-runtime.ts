import { join } from 'node:path';
import type { SocketAddress } from '@rocketmq-ts/common';
import { MixAll, PermName, encodeProperties, type DecodedMessage } from '@rocketmq-ts/protocol';
import { createLogger } from '@rocketmq-ts/remoting';
import { DefaultMessageStore, parseDelayLevels, type PutMessageResult, type RecoveryReport } from '@rocketmq-ts/store';
import { ConsumerManager } from './client/consumer-manager.js';
import { ProducerManager } from './client/producer-manager.js';
import type { BrokerConfig } from './config.js';
import { ConsumerOffsetManager } from './offset/consumer-offset-manager.js';
import { BrokerOuterAPI, splitAddrs } from './out/broker-outer-api.js';
import { LongPollingService } from './processor/long-polling.service.js';
import { SubscriptionGroupManager } from './subscription/subscription-group-manager.js';
import { TopicConfigManager } from './topic/topic-config-manager.js';
import { ScheduleMessageService } from './schedule/schedule-message.service.js';
import { BrokerMetrics } from './metrics/broker-metrics.js';
import { BrokerStatsSampler } from './metrics/broker-stats.js';

/**
 * The broker's parts, built once from the config and shared by the request processors (the
 * composition root; it holds no request logic). Lifecycle: load (metadata files, store
 * recovery) → start (store services, timers) → register with name servers → shutdown.
 */
export class BrokerRuntime {
  readonly log = createLogger('broker');
  readonly store: DefaultMessageStore;
  readonly topics: TopicConfigManager;
  readonly groups: SubscriptionGroupManager;
  readonly offsets: ConsumerOffsetManager;
  readonly consumers: ConsumerManager;
  readonly producers: ProducerManager;
  readonly longPolling: LongPollingService;
  readonly schedule: ScheduleMessageService;
  readonly outer: BrokerOuterAPI;
  readonly metrics: BrokerMetrics;
  readonly stats: BrokerStatsSampler;
  readonly storeHost: SocketAddress;
  readonly brokerAddr: string;
  readonly delayLevels: number[];
  readonly startTime = Date.now();
  recovery: RecoveryReport | undefined;
  /** The `-c` file, where UPDATE_BROKER_CONFIG persists changes. */
  configFile: string | undefined;
  private timers: NodeJS.Timeout[] = [];
  state: 'new' | 'loaded' | 'running' | 'stopping' | 'stopped' = 'new';

  constructor(readonly config: BrokerConfig) {
    const c = config;
    const cfgDir = join(c.store.storePathRootDir, 'config');
    this.storeHost = { address: c.brokerIP1, port: c.listenPort };
    this.brokerAddr = `${c.brokerIP1}:${c.listenPort}`;
    this.delayLevels = parseDelayLevels(c.store.messageDelayLevel);
    this.metrics = new BrokerMetrics(this);
    this.store = new DefaultMessageStore({
      config: c.store,
      logger: {
        info: (m, f) => this.log.info(fields(m, f)),
        warn: (m, f) => this.log.warn(fields(m, f)),
        error: (m, f) => this.log.error(fields(m, f)),
      },
      probe: this.metrics.storeProbe,
    });
    this.topics = new TopicConfigManager({
      file: join(cfgDir, 'topics.json'),
      clusterName: c.brokerClusterName,
      brokerName: c.brokerName,
      // Read through the config so UPDATE_BROKER_CONFIG takes effect at once.
      get autoCreateTopicEnable() {
        return c.autoCreateTopicEnable;
      },
      defaultTopicQueueNums: c.defaultTopicQueueNums,
      clusterTopicEnable: c.clusterTopicEnable,
      brokerTopicEnable: c.brokerTopicEnable,
      traceTopicEnable: c.traceTopicEnable,
      traceTopicName: c.msgTraceTopicName,
      delayLevels: this.delayLevels.length,
    });
    this.groups = new SubscriptionGroupManager(join(cfgDir, 'subscriptionGroup.json'), () => c.autoCreateSubscriptionGroup);
    this.offsets = new ConsumerOffsetManager(join(cfgDir, 'consumerOffset.json'));
    this.consumers = new ConsumerManager(c.channelExpiredTimeout);
    this.producers = new ProducerManager(c.channelExpiredTimeout);
    this.longPolling = new LongPollingService();
    this.schedule = new ScheduleMessageService(this, join(cfgDir, 'delayOffset.json'));
    this.outer = new BrokerOuterAPI(
      { clusterName: c.brokerClusterName, brokerName: c.brokerName, brokerId: c.brokerId, brokerAddr: this.brokerAddr, haServerAddr: `${c.brokerIP2}:${c.haListenPort}` },
      splitAddrs(c.namesrvAddr),
      this.topics,
      c.registerNameServerPeriod,
      c.registerBrokerTimeoutMills,
    );
    this.stats = new BrokerStatsSampler(
      () => {
        const st = this.store.getStats();
        return { put: st.putCount, get: st.getFoundMessages };
      },
      Date.now,
      {
        // Stored per topic = the sum of its queues' max offsets: sampled, nothing counted per send.
        topicPuts: () => {
          const m = new Map<string, number>();
          for (const [name, tc] of this.topics.table) {
            let sum = 0;
            const n = Math.max(tc.readQueueNums, tc.writeQueueNums);
            for (let q = 0; q < n; q++) sum += this.store.getMaxOffsetInQueue(name, q);
            if (sum > 0) m.set(name, sum);
          }
          return m;
        },
      },
    );
    this.topics.onChange((topic, kind) => {
      if (kind === 'delete') {
        this.metrics.removeTopic(topic);
        this.stats.forget((k) => k.startsWith(topic + '@'));
      }
      this.outer.registerSoon();
    });
    // Offsets of a deleted group go only when the request says so (cleanOffset), as in RocketMQ.
    this.groups.onDelete = (g) => {
      this.metrics.removeGroup(g);
      this.stats.forget((k) => k.endsWith('@' + g));
    };
    this.store.onDispatch((e) => this.longPolling.notifyMessageArriving(e.topic, e.queueId, e.queueOffset, e.tagsCode, e.propertiesString));
  }

  get isMaster(): boolean {
    return this.config.brokerRole !== 'SLAVE';
  }

  get writable(): boolean {
    return this.isMaster && (this.config.brokerPermission & PermName.PERM_WRITE) !== 0;
  }

  get readable(): boolean {
    return (this.config.brokerPermission & PermName.PERM_READ) !== 0;
  }

  async load(): Promise<void> {
    const t0 = performance.now();
    const topics = await this.topics.load();
    const groups = await this.groups.load();
    const offsets = await this.offsets.load();
    const delays = await this.schedule.load();
    this.log.info(`metadata loaded: ${topics} topics, ${groups} subscription groups, ${offsets} offset tables, ${delays} delay offsets`);
    this.recovery = await this.store.load();
    const r = this.recovery;
    this.log.info(
      `store recovered (${r.mode}): ${r.recordsChecked} records checked, ${r.recordsDispatched} dispatched, ${r.bytesTruncated} bytes truncated, max offset ${r.maxPhyOffset}, ${r.durationMs.toFixed(0)} ms` +
        (r.stopReason ? ` (stopped: ${r.stopReason})` : ''),
    );
    // Not fatal: a broker on a full disk still starts, serves reads and frees space.
    await this.topics.persist().catch((e: unknown) => this.log.warn(`cannot persist topics.json: ${String(e)}`));
    this.state = 'loaded';
    this.log.info(`broker loaded in ${(performance.now() - t0).toFixed(0)} ms`);
  }

  async start(): Promise<void> {
    await this.store.start();
    this.longPolling.start();
    this.stats.start();
    if (this.isMaster) this.schedule.start();
    this.every(this.config.flushConsumerOffsetInterval, () => void this.offsets.persist().catch((e: unknown) => this.log.warn(`cannot persist consumer offsets: ${String(e)}`)));
    // RocketMQ scans every 10 s; a short channelExpiredTimeout (tests) is honoured more closely.
    this.every(Math.max(100, Math.min(10_000, Math.floor(this.config.channelExpiredTimeout / 2))), () => this.scanNotActiveClients());
    this.state = 'running';
    this.log.info(`store started (${this.config.store.flushDiskType}), role ${this.config.brokerRole}`);
  }

  /** First registration after the remoting port is open, then the periodic one. */
  async registerWithNameServers(): Promise<void> {
    const n = this.outer.namesrvList.length;
    if (n === 0) {
      this.log.warn('no name server address (namesrvAddr / NAMESRV_ADDR / -n): not registering');
      return;
    }
    const ok = await this.outer.registerAll();
    this.log.info(`registered with ${ok} of ${n} name servers (${this.outer.namesrvList.join(';')}) as ${this.config.brokerName}[${this.config.brokerId}] ${this.brokerAddr}`);
    this.outer.start();
  }

  private every(ms: number, f: () => void): void {
    const t = setInterval(f, ms);
    t.unref();
    this.timers.push(t);
  }

  scanNotActiveClients(): void {
    const expired = new Set([...this.consumers.scanNotActive(), ...this.producers.scanNotActive()]);
    for (const ch of expired) this.clientGone(ch);
  }

  /** A client connection closed or expired: forget it everywhere. */
  clientGone(ch: Parameters<ConsumerManager['channelClosed']>[0]): void {
    this.consumers.channelClosed(ch, (g) => this.notifyEnabled(g));
    this.producers.channelClosed(ch);
  }

  notifyEnabled(group: string): boolean {
    return this.config.notifyConsumerIdsChangedEnable && (this.groups.table.get(group)?.notifyConsumerIdsChangedEnable ?? true);
  }

  /** Unregister and stop taking work; the store is flushed and closed last. */
  async beforeShutdown(): Promise<void> {
    if (this.state === 'stopping' || this.state === 'stopped') return;
    this.state = 'stopping';
    this.log.info('shutting down: unregistering from name servers');
    await this.outer.unregisterAll();
    this.schedule.stop();
    this.stats.stop();
    this.longPolling.stop();
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }

  async shutdown(): Promise<void> {
    await this.beforeShutdown();
    await this.schedule.persist().catch((e: unknown) => this.log.error(`cannot persist delay offsets: ${String(e)}`));
    await this.offsets.persist(true).catch((e: unknown) => this.log.error(`cannot persist consumer offsets: ${String(e)}`));
    await this.store.shutdown();
    this.state = 'stopped';
    this.log.info('store flushed and closed');
  }

  /**
   * Stores a copy of a stored message under another topic/queue with new properties (retry,
   * dead-letter and delayed delivery); the copy never waits for a flush.
   */
  rePut(m: DecodedMessage, topic: string, queueId: number, props: Map<string, string>, reconsumeTimes: number): Promise<PutMessageResult> {
    return this.store.putMessage({
      topic,
      queueId,
      body: m.body,
      flag: m.flag,
      propertiesString: encodeProperties(props),
      sysFlag: m.sysFlag,
      bornTimestamp: m.bornTimestamp,
      bornHost: m.bornHost,
      reconsumeTimes,
      waitStoreMsgOK: false,
    });
  }

  /** Bytes of message data held (commit-log span). */
  async storeSizeBytes(): Promise<number> {
    return Math.max(0, this.store.getMaxPhyOffset() - this.store.getMinPhyOffset());
  }

  /** Lag of every group with committed offsets, per queue: messages behind and age of the oldest unconsumed one. */
  async consumerLag(): Promise<{ topic: string; group: string; queueId: number; lagMessages: number; lagMs: number }[]> {
    const out: { topic: string; group: string; queueId: number; lagMessages: number; lagMs: number }[] = [];
    const now = Date.now();
    for (const [key, queues] of this.offsets.offsetTable) {
      const at = key.indexOf('@');
      const topic = key.slice(0, at);
      const group = key.slice(at + 1);
      // Only live topics and known groups: series of deleted ones must not come back.
      if (!this.topics.get(topic) || !this.groups.table.has(group)) continue;
      for (const [queueId, committed] of queues) {
        const max = this.store.getMaxOffsetInQueue(topic, queueId);
        const lag = Math.max(0, max - committed);
        let lagMs = 0;
        if (lag > 0) {
          const ts = await this.store.getMessageStoreTimeStamp(topic, queueId, Math.max(committed, this.store.getMinOffsetInQueue(topic, queueId)));
          if (ts > 0) lagMs = Math.max(0, now - ts);
        }
        out.push({ topic, group, queueId, lagMessages: lag, lagMs });
      }
    }
    return out;
  }

  retryTopicOf(group: string): string {
    return MixAll.RETRY_GROUP_TOPIC_PREFIX + group;
  }
}

function fields(m: string, f?: Record<string, unknown>): string {
  if (!f) return m;
  return `${m} ${Object.entries(f)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ')}`;
}
