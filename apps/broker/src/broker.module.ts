import { join } from 'node:path';
import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import { MetricsModule } from '@rocketmq-ts/metrics';
import { createLogger } from '@rocketmq-ts/remoting';
import { RemotingModule } from '@rocketmq-ts/remoting/nest';
import { DefaultMessageStore, type MessageStore } from '@rocketmq-ts/store';
import { brokerClientOptions } from './acl/broker-acl.js';
import { BrokerController } from './broker-controller.js';
import { BrokerState } from './broker-state.js';
import { ClientHousekeeping } from './client/client-housekeeping.service.js';
import { ConsumerManager } from './client/consumer-manager.js';
import { ProducerManager } from './client/producer-manager.js';
import { RebalanceLockManager } from './client/rebalance-lock-manager.js';
import type { BrokerConfig } from './config.js';
import { LongPollingService } from './longpolling/long-polling.service.js';
import { RePutService } from './message/reput.service.js';
import { BrokerMetrics } from './metrics/broker-metrics.js';
import { BrokerStatsSampler } from './metrics/broker-stats.js';
import { ConsumerLagService } from './metrics/consumer-lag.service.js';
import { BrokerOuterAPI, splitAddrs } from './namesrv/broker-outer-api.js';
import { ConsumerOffsetManager } from './offset/consumer-offset-manager.js';
import { AdminBrokerProcessor } from './processor/admin.processor.js';
import { ConsumerRelayProcessor } from './processor/consumer-relay.processor.js';
import { ClientManageProcessor } from './processor/client-manage.processor.js';
import { ConsumerManageProcessor } from './processor/consumer-manage.processor.js';
import { PullMessageProcessor } from './processor/pull.processor.js';
import { QueryMessageProcessor } from './processor/query.processor.js';
import { EndTransactionProcessor } from './processor/end-transaction.processor.js';
import { TransactionalMessageService } from './transaction/transactional-message.service.js';
import { TransactionCheckService } from './transaction/transaction-check.service.js';
import { PopRecordsService } from './pop/pop-records.service.js';
import { ConsumerOrderInfoManager } from './pop/consumer-order-info.js';
import { PopMessageProcessor } from './pop/pop-message.processor.js';
import { AckMessageProcessor } from './pop/ack-message.processor.js';
import { PopBufferService } from './pop/pop-buffer.service.js';
import { PopReviveService } from './pop/pop-revive.service.js';
import { SendMessageProcessor } from './processor/send.processor.js';
import { TimerProcessor } from './processor/timer.processor.js';
import { ScheduleMessageService } from './schedule/schedule-message.service.js';
import { SlaveSynchronize } from './slave/slave-synchronize.js';
import { SubscriptionGroupManager } from './subscription/subscription-group-manager.js';
import { BROKER_CONFIG, MESSAGE_STORE } from './tokens.js';
import { TopicConfigManager } from './topic/topic-config-manager.js';

export interface BrokerContext {
  config: BrokerConfig;
  /** Built before the app: the store and the remoting server take its probes. */
  metrics: BrokerMetrics;
  /** Built before the app: /health reads it. */
  state: BrokerState;
  /** `/ready` answers 200 once this returns true. */
  ready: () => boolean;
}

function fields(m: string, f?: Record<string, unknown>): string {
  if (!f) return m;
  return `${m} ${Object.entries(f)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ')}`;
}

/** The broker's parts as providers; each processor and service gets exactly the parts it uses. */
function providers(ctx: BrokerContext): Provider[] {
  const c = ctx.config;
  const cfgDir = join(c.store.storePathRootDir, 'config');
  return [
    { provide: BROKER_CONFIG, useValue: c },
    { provide: BrokerMetrics, useValue: ctx.metrics },
    { provide: BrokerState, useValue: ctx.state },
    {
      provide: MESSAGE_STORE,
      useFactory: (): MessageStore => {
        const log = createLogger('store');
        return new DefaultMessageStore({
          config: c.store,
          logger: { info: (m, f) => log.info(fields(m, f)), warn: (m, f) => log.warn(fields(m, f)), error: (m, f) => log.error(fields(m, f)) },
          probe: ctx.metrics.storeProbe,
          haBindAddress: c.bindAddress,
        });
      },
    },
    {
      provide: TopicConfigManager,
      useFactory: (state: BrokerState) =>
        new TopicConfigManager({
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
          delayLevels: state.delayLevels.length,
          reviveQueueNum: c.reviveQueueNum,
        }),
      inject: [BrokerState],
    },
    {
      provide: SubscriptionGroupManager,
      useFactory: () => new SubscriptionGroupManager(join(cfgDir, 'subscriptionGroup.json'), () => c.autoCreateSubscriptionGroup),
    },
    { provide: ConsumerOffsetManager, useFactory: () => new ConsumerOffsetManager(join(cfgDir, 'consumerOffset.json')) },
    { provide: ConsumerOrderInfoManager, useFactory: () => new ConsumerOrderInfoManager(join(cfgDir, 'consumerOrderInfo.json')) },
    { provide: ConsumerManager, useFactory: () => new ConsumerManager(c.channelExpiredTimeout) },
    { provide: ProducerManager, useFactory: () => new ProducerManager(c.channelExpiredTimeout) },
    { provide: RebalanceLockManager, useFactory: () => new RebalanceLockManager() },
    { provide: LongPollingService, useFactory: () => new LongPollingService(200, c.maxSuspendedPullsPerConnection, c.maxSuspendedPulls) },
    {
      provide: BrokerOuterAPI,
      useFactory: (state: BrokerState, topics: TopicConfigManager, store: MessageStore) =>
        new BrokerOuterAPI(
          {
            clusterName: c.brokerClusterName,
            brokerName: c.brokerName,
            brokerId: c.brokerId,
            brokerAddr: state.brokerAddr,
            haServerAddr: `${c.brokerIP2}:${c.haListenPort}`,
          },
          splitAddrs(c.namesrvAddr),
          topics,
          c.registerNameServerPeriod,
          c.registerBrokerTimeoutMills,
          (ok) => (state.registered = ok),
          // A slave replicates from the master the name servers name, unless haMasterAddress says otherwise.
          (_master, ha) => {
            if (c.brokerRole === 'SLAVE' && c.store.haMasterAddress === '') store.updateHaMasterAddress(ha);
          },
          brokerClientOptions(c, 'broker.register'),
        ),
      inject: [BrokerState, TopicConfigManager, MESSAGE_STORE],
    },
    {
      provide: BrokerStatsSampler,
      useFactory: (store: MessageStore, topics: TopicConfigManager) =>
        new BrokerStatsSampler(
          () => {
            const st = store.getStats();
            return { put: st.putCount, get: st.getFoundMessages };
          },
          Date.now,
          {
            // Stored per topic = the sum of its queues' max offsets: sampled, nothing counted per send.
            topicPuts: () => {
              const m = new Map<string, number>();
              for (const [name, tc] of topics.table) {
                let sum = 0;
                const n = Math.max(tc.readQueueNums, tc.writeQueueNums);
                for (let q = 0; q < n; q++) sum += store.getMaxOffsetInQueue(name, q);
                if (sum > 0) m.set(name, sum);
              }
              return m;
            },
          },
        ),
      inject: [MESSAGE_STORE, TopicConfigManager],
    },
    RePutService,
    TransactionalMessageService,
    TransactionCheckService,
    EndTransactionProcessor,
    ScheduleMessageService,
    ClientHousekeeping,
    SlaveSynchronize,
    ConsumerLagService,
    BrokerController,
    SendMessageProcessor,
    PullMessageProcessor,
    ClientManageProcessor,
    ConsumerManageProcessor,
    AdminBrokerProcessor,
    ConsumerRelayProcessor,
    QueryMessageProcessor,
    PopRecordsService,
    PopBufferService,
    PopMessageProcessor,
    AckMessageProcessor,
    PopReviveService,
    TimerProcessor,
  ];
}

@Module({})
export class BrokerModule {
  static register(ctx: BrokerContext): DynamicModule {
    return {
      module: BrokerModule,
      imports: [
        RemotingModule,
        MetricsModule.forRoot({
          registry: ctx.metrics.registry,
          ready: ctx.ready,
          health: () => ctx.state.health(),
        }),
      ],
      providers: providers(ctx),
    };
  }
}
