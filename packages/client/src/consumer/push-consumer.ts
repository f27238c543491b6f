import { setTimeout as sleep } from 'node:timers/promises';
import { MQVersion, MixAll, ResponseCode, mqVersionName, validateGroupName } from '@rocketmq-ts/protocol';
import { getOrCreateClientInstance, type MQClientInstance } from '../client-instance.js';
import { MQClientError, illegalArgument, notRunningError } from '../errors.js';
import { retryTopic, type MessageQueue } from '../message-queue.js';
import type { ReceivedMessage } from '../received-message.js';
import type { ConsumeDirectlyResult, ConsumerInner, SubscriptionData } from '../types.js';
import { ConsumeMessageConcurrentlyService } from './consume-concurrently.js';
import { ConsumeMessageOrderlyService } from './consume-orderly.js';
import type { ConsumeService } from './consume-service.js';
import { ConsumerConfig } from './consumer-options.js';
import type { OffsetStore } from './offset-store.js';
import { PullMessageService } from './pull-message-service.js';
import { Timers, type PushContext } from './push-context.js';
import { PUSH_CONSUMER_DEFAULTS, type MessageListenerConcurrently, type MessageListenerOrderly, type PushConsumerOptions } from './push-options.js';
import { buildSubscription } from './rebalance.js';
import { QueueLocks, RebalancePushService } from './rebalance-push.js';

export * from './push-options.js';

type State = 'CREATED' | 'RUNNING' | 'STOPPING' | 'SHUTDOWN';

/**
 * A push consumer: pulls (long polling) the queues it owns and calls the listener. Clustering
 * groups share the queues (rebalanced on membership changes and every 20 s), broadcasting
 * consumers each get everything. Concurrent listeners retry failures through the broker's retry
 * topic; orderly listeners hold a broker lock per queue and retry in place, keeping order.
 *
 * This class is the public face; start() wires the services that do the work: RebalancePushService
 * (which queues, and their locks), PullMessageService (pulling them) and a ConsumeService
 * (concurrent or orderly, calling the listener).
 */
export class PushConsumer extends ConsumerConfig<typeof PUSH_CONSUMER_DEFAULTS> implements ConsumerInner {
  readonly consumeType = 'CONSUME_PASSIVELY' as const;
  private readonly subs = new Map<string, SubscriptionData>();
  private readonly subscribeInfo = new Map<string, MessageQueue[]>();
  private readonly timers = new Timers();
  private instance: MQClientInstance | undefined;
  private offsetStore: OffsetStore | undefined;
  /** Created by start(). */
  private services: { consume: ConsumeService; rebalance: RebalancePushService } | undefined;
  private listener: MessageListenerConcurrently | undefined;
  private orderlyListener: MessageListenerOrderly | undefined;
  private state: State = 'CREATED';
  private paused = false;
  private startTimestamp = 0;

  constructor(options: PushConsumerOptions) {
    super(options, PUSH_CONSUMER_DEFAULTS, 'consumer');
  }

  get clientId(): string | undefined {
    return this.instance?.clientId;
  }

  get clientInstance(): MQClientInstance {
    if (!this.instance) throw notRunningError('consumer', this.state);
    return this.instance;
  }

  private get orderly(): boolean {
    return this.orderlyListener !== undefined;
  }

  // ------------------------------------------------------------------ configuration

  /** Subscribes to a topic: `*`, tags `a || b`, or `{ type: 'SQL92', expression }`. May be called while running. */
  subscribe(topic: string, expression: string | { type: 'TAG' | 'SQL92'; expression: string } = '*'): this {
    this.subs.set(topic, buildSubscription(topic, expression));
    if (this.state === 'RUNNING') void this.afterSubscriptionChange(topic);
    return this;
  }

  unsubscribe(topic: string): this {
    this.subs.delete(topic);
    if (this.state === 'RUNNING') void this.afterSubscriptionChange(topic);
    return this;
  }

  private async afterSubscriptionChange(topic: string): Promise<void> {
    const inst = this.clientInstance;
    await inst.updateTopicRouteFromNameServer(topic).catch(() => false);
    await inst.sendHeartbeatToAllBrokers();
    inst.rebalanceImmediately();
  }

  registerMessageListener(listener: MessageListenerConcurrently): this {
    this.listener = listener;
    this.orderlyListener = undefined;
    return this;
  }

  registerMessageListenerOrderly(listener: MessageListenerOrderly): this {
    this.orderlyListener = listener;
    this.listener = undefined;
    return this;
  }

  /** Stops pulling (already cached messages are still delivered). */
  suspend(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  /** The queues this consumer owns right now. */
  assignment(): MessageQueue[] {
    return this.services?.rebalance.assignment() ?? [];
  }

  // ------------------------------------------------------------------ lifecycle

  async start(): Promise<void> {
    if (this.state === 'RUNNING') return;
    if (this.state !== 'CREATED') {
      throw new MQClientError(ResponseCode.SERVICE_NOT_AVAILABLE, 'the consumer was shut down; create a new one', { retriable: false });
    }
    const bad = validateGroupName(this.group);
    if (bad) throw illegalArgument(`consumer group: ${bad}`);
    if (this.group === MixAll.DEFAULT_CONSUMER_GROUP) {
      throw illegalArgument(`consumer group can not equal ${MixAll.DEFAULT_CONSUMER_GROUP}, please specify another one`);
    }
    if (!this.listener && !this.orderlyListener) {
      throw illegalArgument('no message listener: call registerMessageListener or registerMessageListenerOrderly before start');
    }
    if (this.subs.size === 0) throw illegalArgument('no subscription: call subscribe(topic, expression) before start');
    if (this.messageModel === 'CLUSTERING') this.subs.set(retryTopic(this.group), buildSubscription(retryTopic(this.group), '*'));

    const inst = getOrCreateClientInstance(this.clientOptions);
    inst.registerConsumer(this);
    this.instance = inst;
    this.offsetStore = this.newOffsetStore(inst);
    await this.offsetStore.load();
    this.services = this.createServices(inst, this.offsetStore);
    inst.start();
    this.state = 'RUNNING';
    this.startTimestamp = Date.now();
    for (const topic of this.subs.keys()) {
      try {
        await inst.updateTopicRouteFromNameServer(topic);
      } catch (e) {
        this.log.warn('route.update.failed', 'could not fetch the route at start', { topic }, e);
      }
    }
    if (!this.subscribeInfo.has([...this.subs.keys()][0]!)) {
      const first = [...this.subs.keys()][0]!;
      this.log.warn('route.missing', `no route for ${first} yet; the consumer will wait for it`, { topic: first, group: this.group });
    }
    await inst.sendHeartbeatToAllBrokers();
    this.services.rebalance.start();
    inst.rebalanceImmediately();
    this.log.info('consumer.start', 'push consumer started', { group: this.group, clientId: inst.clientId, model: this.messageModel, orderly: this.orderly });
  }

  /** The services, sharing this consumer's settings and state; the listener kind picks the consume service. */
  private createServices(instance: MQClientInstance, offsetStore: OffsetStore): { consume: ConsumeService; rebalance: RebalancePushService } {
    const ctx: PushContext = {
      group: this.group,
      messageModel: this.messageModel,
      consumeFromWhere: this.consumeFromWhere,
      o: this.o,
      log: this.log,
      instance,
      offsetStore,
      subs: this.subs,
      timers: this.timers,
      isRunning: () => this.state === 'RUNNING',
      isSuspended: () => this.paused,
    };
    const locks = new QueueLocks(ctx);
    const consume = this.orderly
      ? new ConsumeMessageOrderlyService(ctx, () => this.orderlyListener, locks)
      : new ConsumeMessageConcurrentlyService(ctx, () => this.listener);
    const rebalance = new RebalancePushService(ctx, this.strategy, this.subscribeInfo, new PullMessageService(ctx, consume), consume, locks);
    return { consume, rebalance };
  }

  /**
   * Stops pulling, waits (up to awaitTerminationMillisWhenShutdown) for listener calls in
   * progress, commits offsets, releases orderly locks and leaves the group.
   */
  async shutdown(): Promise<void> {
    if (this.state !== 'RUNNING') {
      this.state = 'SHUTDOWN';
      return;
    }
    this.state = 'STOPPING';
    this.timers.clear();
    const { consume, rebalance } = this.services!;
    const deadline = Date.now() + this.o.awaitTerminationMillisWhenShutdown;
    while ((consume.busy || rebalance.consuming) && Date.now() < deadline) await sleep(20);
    const mqs = rebalance.assignment();
    try {
      await this.offsetStore?.persistAll(mqs);
    } catch (e) {
      this.log.warn('offset.persist.failed', 'could not commit offsets at shutdown', { group: this.group }, e);
    }
    await rebalance.releaseAll(mqs);
    this.state = 'SHUTDOWN';
    await this.instance?.unregisterConsumer(this.group);
    this.log.info('consumer.shutdown', 'push consumer shut down', { group: this.group });
  }

  /** Hands a failed message back to the broker (retry or DLQ); false when that failed. See ConsumeServiceBase.sendMessageBack. */
  async sendMessageBack(m: ReceivedMessage, delayLevel: number): Promise<boolean> {
    if (!this.services) throw notRunningError('consumer', this.state);
    return this.services.consume.sendMessageBack(m, delayLevel);
  }

  // ------------------------------------------------------------------ ConsumerInner

  subscriptions(): SubscriptionData[] {
    return [...this.subs.values()];
  }

  updateSubscribeInfo(topic: string, mqs: MessageQueue[]): void {
    this.subscribeInfo.set(topic, mqs);
  }

  async persistConsumerOffset(): Promise<void> {
    if (this.state !== 'RUNNING' || !this.offsetStore) return;
    await this.offsetStore.persistAll(this.assignment());
  }

  consumerOffsets(topic: string): Array<[MessageQueue, number]> {
    return this.offsetStore?.cloneOffsetTable(topic) ?? [];
  }

  async doRebalance(): Promise<void> {
    await this.services?.rebalance.doRebalance();
  }

  async resetOffset(topic: string, offsets: ReadonlyArray<[MessageQueue, number]>): Promise<void> {
    if (!this.services) throw notRunningError('consumer', this.state);
    await this.services.rebalance.resetOffset(topic, offsets);
  }

  runningInfo(): Record<string, unknown> {
    const mqTable = new Map<object, object>();
    for (const e of this.services?.rebalance.entries() ?? []) {
      mqTable.set({ brokerName: e.mq.brokerName, queueId: e.mq.queueId, topic: e.mq.topic }, { ...e.pq.info(), commitOffset: 0 });
    }
    return {
      jstack: '',
      mqTable,
      properties: {
        PROP_CLIENT_VERSION: mqVersionName(MQVersion.CURRENT),
        PROP_CONSUME_TYPE: this.consumeType,
        PROP_CONSUMEORDERLY: String(this.orderly),
        PROP_CONSUMER_START_TIMESTAMP: String(this.startTimestamp),
        PROP_NAMESERVER_ADDR: this.instance?.api.getNamesrvAddrs().join(';') ?? '',
        PROP_THREADPOOL_CORE_SIZE: String(this.o.consumeThreadMax),
        consumerGroup: this.group,
        messageModel: this.messageModel,
        consumeFromWhere: this.consumeFromWhere,
        language: 'NODE_JS',
      },
      statusTable: {},
      subscriptionSet: this.subscriptions(),
    };
  }

  async consumeMessageDirectly(msg: ReceivedMessage): Promise<ConsumeDirectlyResult> {
    if (this.orderlyListener) return ConsumeMessageOrderlyService.consumeDirectly(this.orderlyListener, msg);
    return ConsumeMessageConcurrentlyService.consumeDirectly(this.listener, msg);
  }
}
