import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { PermName, TopicValidator } from '@rocketmq-ts/protocol';
import { createLogger } from '@rocketmq-ts/remoting';
import type { MessageStore, RecoveryReport } from '@rocketmq-ts/store';
import { BrokerState } from './broker-state.js';
import { ClientHousekeeping } from './client/client-housekeeping.service.js';
import type { BrokerConfig } from './config.js';
import { LongPollingService } from './longpolling/long-polling.service.js';
import { BrokerMetrics } from './metrics/broker-metrics.js';
import { BrokerStatsSampler } from './metrics/broker-stats.js';
import { ConsumerLagService } from './metrics/consumer-lag.service.js';
import { BrokerOuterAPI } from './namesrv/broker-outer-api.js';
import { ConsumerOffsetManager } from './offset/consumer-offset-manager.js';
import { ScheduleMessageService } from './schedule/schedule-message.service.js';
import { SlaveSynchronize } from './slave/slave-synchronize.js';
import { SubscriptionGroupManager } from './subscription/subscription-group-manager.js';
import { BROKER_CONFIG, MESSAGE_STORE } from './tokens.js';
import { TopicConfigManager } from './topic/topic-config-manager.js';
import { TransactionalMessageService } from './transaction/transactional-message.service.js';
import { TransactionCheckService } from './transaction/transaction-check.service.js';
import { PopBufferService } from './pop/pop-buffer.service.js';
import { PopReviveService } from './pop/pop-revive.service.js';
import { ConsumerOrderInfoManager } from './pop/consumer-order-info.js';

/**
 * The broker's lifecycle on Nest's hooks; it holds no request logic. Order: load (metadata files,
 * store recovery) → start (store services, timers) → [main.ts opens the port] → register with the
 * name servers → shutdown (unregister, stop timers; Nest drains the connections; flush and close).
 */
@Injectable()
export class BrokerController implements OnModuleInit, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly log = createLogger('broker');
  recovery: RecoveryReport | undefined;
  private timers: NodeJS.Timeout[] = [];

  constructor(
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
    @Inject(MESSAGE_STORE) private readonly store: MessageStore,
    private readonly state: BrokerState,
    private readonly topics: TopicConfigManager,
    private readonly groups: SubscriptionGroupManager,
    private readonly offsets: ConsumerOffsetManager,
    private readonly schedule: ScheduleMessageService,
    private readonly longPolling: LongPollingService,
    private readonly stats: BrokerStatsSampler,
    private readonly outer: BrokerOuterAPI,
    private readonly clients: ClientHousekeeping,
    private readonly slaveSync: SlaveSynchronize,
    private readonly transactions: TransactionalMessageService,
    private readonly transactionCheck: TransactionCheckService,
    private readonly popRevive: PopReviveService,
    private readonly popBuffer: PopBufferService,
    private readonly orderInfo: ConsumerOrderInfoManager,
    metrics: BrokerMetrics,
    lag: ConsumerLagService,
  ) {
    metrics.bindSources({
      storeSizeBytes: () => lag.storeSizeBytes(),
      flushBehindBytes: () => store.getMaxPhyOffset() - store.getFlushedWhere(),
      replication: () => {
        const ha = store.getHaStatus();
        if (ha.role === 'SLAVE') return { role: ha.role, behindBytes: ha.master?.behindBytes ?? 0 };
        return { role: ha.role, behindBytes: ha.slaves.reduce((m, s) => Math.max(m, s.behindBytes), 0) };
      },
      consumerLag: () => lag.consumerLag(),
    });
    const timer = store.timerMessageStore;
    if (timer !== undefined) {
      metrics.bindTimer({
        status: () => timer.status(),
        timingCounts: () => timer.timingCounts(),
        enqueueTotal: timer.enqueueTotal,
        dequeueTotal: timer.dequeueTotal,
        enqueueBehindMs: async () => {
          const s = timer.status();
          if (s.enqueueBehindMessages <= 0) return 0;
          const ts = await store.getMessageStoreTimeStamp(TopicValidator.RMQ_SYS_WHEEL_TIMER_TOPIC, 0, s.currQueueOffset);
          return ts > 0 ? Math.max(0, Date.now() - ts) : 0;
        },
      });
    }
    this.topics.onChange((topic, kind) => {
      if (kind === 'delete') {
        metrics.removeTopic(topic);
        stats.forget((k) => k.startsWith(topic + '@'));
      }
      this.outer.registerSoon();
    });
    // Offsets of a deleted group go only when the request says so (cleanOffset), as in RocketMQ.
    this.groups.onDelete = (g) => {
      metrics.removeGroup(g);
      stats.forget((k) => k.endsWith('@' + g));
    };
    this.store.onDispatch((e) => this.longPolling.notifyMessageArriving(e.topic, e.queueId, e.queueOffset, e.tagsCode, e.propertiesString));
    if (!state.isMaster) {
      // A slave learns topics from the replicated records too, not only from the 3 s metadata copy:
      // messages of a topic created just before the master died stay readable here.
      this.store.onDispatch((e) => {
        if (this.topics.get(e.topic) === undefined) {
          const n = Math.max(e.queueId + 1, this.config.defaultTopicQueueNums);
          this.topics.createIfMissing(e.topic, n, PermName.PERM_READ | PermName.PERM_WRITE);
        }
      });
    }
  }

  async onModuleInit(): Promise<void> {
    await this.load();
    await this.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.beforeShutdown();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.shutdown();
  }

  async load(): Promise<void> {
    const t0 = performance.now();
    const topics = await this.topics.load();
    const groups = await this.groups.load();
    const offsets = await this.offsets.load();
    const delays = await this.schedule.load();
    await this.orderInfo.load();
    this.log.info(`metadata loaded: ${topics} topics, ${groups} subscription groups, ${offsets} offset tables, ${delays} delay offsets`);
    this.recovery = await this.store.load();
    const r = this.recovery;
    this.log.info(
      `store recovered (${r.mode}): ${r.recordsChecked} records checked, ${r.recordsDispatched} dispatched, ${r.bytesTruncated} bytes truncated, max offset ${r.maxPhyOffset}, ${r.durationMs.toFixed(0)} ms` +
        (r.stopReason ? ` (stopped: ${r.stopReason})` : '') +
        (r.recordsSkipped ? `, ${r.recordsSkipped} damaged records skipped (${(r.skippedRecords ?? []).join('; ')})` : ''),
    );
    await this.transactions.load();
    await this.popRevive.load();
    // Not fatal: a broker on a full disk still starts, serves reads and frees space.
    await this.topics.persist().catch((e: unknown) => this.log.warn(`cannot persist topics.json: ${String(e)}`));
    this.state.state = 'loaded';
    this.log.info(`broker loaded in ${(performance.now() - t0).toFixed(0)} ms`);
  }

  async start(): Promise<void> {
    await this.store.start();
    this.longPolling.start();
    this.stats.start();
    if (this.state.isMaster) {
      this.schedule.start();
      this.transactionCheck.start();
      this.popRevive.start();
      this.popBuffer.start();
      // Timers are delivered by the master only; a slave files them and follows the master's read time.
      this.store.timerMessageStore?.startDequeue();
    }
    this.every(this.config.flushConsumerOffsetInterval, () => {
      void this.offsets.persist().catch((e: unknown) => this.log.warn(`cannot persist consumer offsets: ${String(e)}`));
      void this.orderInfo.persist().catch((e: unknown) => this.log.warn(`cannot persist consumerOrderInfo.json: ${String(e)}`));
    });
    this.clients.start();
    this.state.state = 'running';
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
    this.log.info(
      `registered with ${ok} of ${n} name servers (${this.outer.namesrvList.join(';')}) as ${this.config.brokerName}[${this.config.brokerId}] ${this.state.brokerAddr}`,
    );
    this.outer.start();
    // A slave learns its master's address from that answer; copy the master's metadata from now on.
    if (!this.state.isMaster) {
      this.slaveSync.start();
      void this.slaveSync.syncAll();
    }
  }

  private every(ms: number, f: () => void): void {
    const t = setInterval(f, ms);
    t.unref();
    this.timers.push(t);
  }

  /** Unregister and stop taking work; the store is flushed and closed last. */
  async beforeShutdown(): Promise<void> {
    const s = this.state;
    if (s.state === 'stopping' || s.state === 'stopped') return;
    s.state = 'stopping';
    this.log.info('shutting down: unregistering from name servers');
    await this.outer.unregisterAll();
    this.schedule.stop();
    await this.store.timerMessageStore?.stopDequeue();
    await this.transactionCheck.stop();
    await this.popRevive.stop();
    this.stats.stop();
    this.longPolling.stop();
    this.clients.stop();
    this.slaveSync.stop();
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }

  async shutdown(): Promise<void> {
    await this.beforeShutdown();
    await this.schedule.persist().catch((e: unknown) => this.log.error(`cannot persist delay offsets: ${String(e)}`));
    // Buffered POP checkpoints still partly un-acked are written, so the pop offsets move past them.
    await this.popBuffer.stop().catch((e: unknown) => this.log.error(`cannot write buffered pop checkpoints: ${String(e)}`));
    await this.offsets.persist(true).catch((e: unknown) => this.log.error(`cannot persist consumer offsets: ${String(e)}`));
    await this.orderInfo.persist().catch((e: unknown) => this.log.error(`cannot persist consumerOrderInfo.json: ${String(e)}`));
    await this.store.shutdown();
    this.state.state = 'stopped';
    this.log.info('store flushed and closed');
  }
}
