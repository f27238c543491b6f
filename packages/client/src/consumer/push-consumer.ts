import { setTimeout as sleep } from 'node:timers/promises';
import { MessageConst } from '@rocketmq-ts/common';
import { MQVersion, MixAll, PullSysFlag, ResponseCode, encodeProperties, mqVersionName, parseTagExpression, validateGroupName, type SendMessageRequest } from '@rocketmq-ts/protocol';
import { getOrCreateClientInstance, type MQClientInstance } from '../client-instance.js';
import { MQClientError, illegalArgument, notRunningError } from '../errors.js';
import { mqKey, retryTopic, type MessageQueue } from '../message-queue.js';
import { decodeReceivedMessages, type ReceivedMessage } from '../received-message.js';
import type { ConsumeDirectlyResult, ConsumeFromWhere, ConsumerInner, MessageModel, SubscriptionData } from '../types.js';
import type { OffsetStore } from './offset-store.js';
import { ProcessQueue } from './process-queue.js';
import { ConsumerConfig, type ConsumerBaseOptions } from './consumer-options.js';
import { allocateQueues, buildSubscription } from './rebalance.js';

export type ConsumeConcurrentlyStatus = 'CONSUME_SUCCESS' | 'RECONSUME_LATER';
export interface ConsumeConcurrentlyContext {
  readonly messageQueue: MessageQueue;
  /** 0: the broker picks (3 + reconsumeTimes); > 0: this delay level; -1: straight to the DLQ. */
  delayLevelWhenNextConsume: number;
  /** With CONSUME_SUCCESS, messages after this index are retried (default: all succeeded). */
  ackIndex: number;
}
export type MessageListenerConcurrently = (msgs: ReceivedMessage[], ctx: ConsumeConcurrentlyContext) => ConsumeConcurrentlyStatus | Promise<ConsumeConcurrentlyStatus>;

export type ConsumeOrderlyStatus = 'SUCCESS' | 'SUSPEND_CURRENT_QUEUE_A_MOMENT';
export interface ConsumeOrderlyContext {
  readonly messageQueue: MessageQueue;
  /** ms to wait before the same messages are delivered again after SUSPEND (-1: the consumer's default). */
  suspendCurrentQueueTimeMillis: number;
}
export type MessageListenerOrderly = (msgs: ReceivedMessage[], ctx: ConsumeOrderlyContext) => ConsumeOrderlyStatus | Promise<ConsumeOrderlyStatus>;

export interface PushConsumerOptions extends ConsumerBaseOptions {
  /** Most listener calls running at once (RocketMQ's consume thread pool size). */
  consumeThreadMax?: number;
  /** Messages per listener call. */
  consumeMessageBatchMaxSize?: number;
  /** Messages per pull request. */
  pullBatchSize?: number;
  /** Stop pulling a queue while this many of its messages are cached. */
  pullThresholdForQueue?: number;
  /** Stop pulling a queue while this many MiB of its message bodies are cached. */
  pullThresholdSizeForQueueMiB?: number;
  /** Stop pulling (concurrent mode) while cached offsets span more than this. */
  consumeConcurrentlyMaxSpan?: number;
  /** Pause between pulls of one queue (ms). */
  pullIntervalMs?: number;
  /** Attempts before a message goes to the DLQ: -1 = 16 (concurrent) / unlimited (orderly). */
  maxReconsumeTimes?: number;
  /** Orderly: ms before redelivering after SUSPEND_CURRENT_QUEUE_A_MOMENT. */
  suspendCurrentQueueTimeMillis?: number;
  /** How long the broker holds a pull when there is nothing new (ms). */
  brokerSuspendMaxTimeMillis?: number;
  /** Timeout of a held pull (ms); must exceed brokerSuspendMaxTimeMillis. */
  consumerTimeoutMillisWhenSuspend?: number;
  /** Delay before pulling again after an error (ms). */
  pullTimeDelayMillsWhenException?: number;
  /** Put the subscription in each pull (for brokers that lost the heartbeat's). */
  postSubscriptionWhenPull?: boolean;
  /** shutdown() waits this long (ms) for running listener calls before committing offsets. */
  awaitTerminationMillisWhenShutdown?: number;
  /** ms before messages whose send-back failed are consumed again locally. */
  localRetryDelayMs?: number;
}

export const PUSH_CONSUMER_DEFAULTS = {
  messageModel: 'CLUSTERING' as MessageModel,
  consumeFromWhere: 'CONSUME_FROM_LAST_OFFSET' as ConsumeFromWhere,
  consumeThreadMax: 20,
  consumeMessageBatchMaxSize: 1,
  pullBatchSize: 32,
  pullThresholdForQueue: 1_000,
  pullThresholdSizeForQueueMiB: 100,
  consumeConcurrentlyMaxSpan: 2_000,
  pullIntervalMs: 0,
  maxReconsumeTimes: -1,
  suspendCurrentQueueTimeMillis: 1_000,
  brokerSuspendMaxTimeMillis: 15_000,
  consumerTimeoutMillisWhenSuspend: 30_000,
  pullTimeDelayMillsWhenException: 1_000,
  postSubscriptionWhenPull: false,
  awaitTerminationMillisWhenShutdown: 10_000,
  localRetryDelayMs: 5_000,
  /** ms between renewals of orderly queue locks (the broker's lease is 60 s). */
  lockIntervalMs: 20_000,
  /** ms to back off pulling when flow control kicks in. */
  flowControlDelayMs: 50,
} as const;

type State = 'CREATED' | 'RUNNING' | 'STOPPING' | 'SHUTDOWN';

interface QueueEntry {
  mq: MessageQueue;
  pq: ProcessQueue;
}

/**
 * A push consumer: pulls (long polling) the queues it owns and calls the listener. Clustering
 * groups share the queues (rebalanced on membership changes and every 20 s), broadcasting
 * consumers each get everything. Concurrent listeners retry failures through the broker's retry
 * topic; orderly listeners hold a broker lock per queue and retry in place, keeping order.
 */
export class PushConsumer extends ConsumerConfig<typeof PUSH_CONSUMER_DEFAULTS> implements ConsumerInner {
  readonly consumeType = 'CONSUME_PASSIVELY' as const;
  private readonly subs = new Map<string, SubscriptionData>();
  private readonly subscribeInfo = new Map<string, MessageQueue[]>();
  private readonly table = new Map<string, QueueEntry>();
  private instance: MQClientInstance | undefined;
  private offsetStore: OffsetStore | undefined;
  private listener: MessageListenerConcurrently | undefined;
  private orderlyListener: MessageListenerOrderly | undefined;
  private state: State = 'CREATED';
  private paused = false;
  private inflight = 0;
  private readonly waiters: Array<() => void> = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly pendingRetries = new Set<NodeJS.Timeout>();
  private flowControlTimes = 0;
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
    return [...this.table.values()].map((e) => e.mq);
  }

  // ------------------------------------------------------------------ lifecycle

  async start(): Promise<void> {
    if (this.state === 'RUNNING') return;
    if (this.state !== 'CREATED') throw new MQClientError(ResponseCode.SERVICE_NOT_AVAILABLE, 'the consumer was shut down; create a new one', { retriable: false });
    const bad = validateGroupName(this.group);
    if (bad) throw illegalArgument(`consumer group: ${bad}`);
    if (this.group === MixAll.DEFAULT_CONSUMER_GROUP) throw illegalArgument(`consumer group can not equal ${MixAll.DEFAULT_CONSUMER_GROUP}, please specify another one`);
    if (!this.listener && !this.orderlyListener) throw illegalArgument('no message listener: call registerMessageListener or registerMessageListenerOrderly before start');
    if (this.subs.size === 0) throw illegalArgument('no subscription: call subscribe(topic, expression) before start');
    if (this.messageModel === 'CLUSTERING') this.subs.set(retryTopic(this.group), buildSubscription(retryTopic(this.group), '*'));

    const inst = getOrCreateClientInstance(this.clientOptions);
    inst.registerConsumer(this);
    this.instance = inst;
    this.offsetStore = this.newOffsetStore(inst);
    await this.offsetStore.load();
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
    if (this.orderly && this.messageModel === 'CLUSTERING') {
      const t = setInterval(() => void this.lockAll(), PUSH_CONSUMER_DEFAULTS.lockIntervalMs);
      t.unref();
      this.timers.push(t);
    }
    inst.rebalanceImmediately();
    this.log.info('consumer.start', 'push consumer started', { group: this.group, clientId: inst.clientId, model: this.messageModel, orderly: this.orderly });
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
    for (const t of this.timers) clearInterval(t);
    for (const t of this.pendingRetries) clearTimeout(t);
    this.pendingRetries.clear();
    const deadline = Date.now() + this.o.awaitTerminationMillisWhenShutdown;
    while ((this.inflight > 0 || [...this.table.values()].some((e) => e.pq.consumeRunning)) && Date.now() < deadline) await sleep(20);
    const mqs = this.assignment();
    try {
      await this.offsetStore?.persistAll(mqs);
    } catch (e) {
      this.log.warn('offset.persist.failed', 'could not commit offsets at shutdown', { group: this.group }, e);
    }
    if (this.orderly && this.messageModel === 'CLUSTERING') await this.unlockAll(mqs);
    for (const e of this.table.values()) e.pq.dropped = true;
    this.table.clear();
    this.state = 'SHUTDOWN';
    await this.instance?.unregisterConsumer(this.group);
    this.log.info('consumer.shutdown', 'push consumer shut down', { group: this.group });
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
    if (this.state !== 'RUNNING') return;
    const inst = this.clientInstance;
    for (const [topic] of this.subs) {
      const all = this.subscribeInfo.get(topic);
      if (!all) {
        this.log.debug('rebalance.noroute', 'no route for a subscribed topic yet', { topic, group: this.group });
        continue;
      }
      const mine = await allocateQueues(inst, this.group, this.messageModel, this.strategy, topic, all);
      if (mine === undefined) continue;
      await this.updateProcessQueueTable(topic, mine);
    }
    // Queues of topics no longer subscribed.
    for (const [k, e] of [...this.table]) {
      if (!this.subs.has(e.mq.topic)) {
        e.pq.dropped = true;
        this.table.delete(k);
        await this.removeUnnecessaryQueue(e.mq, e.pq);
      }
    }
  }

  private async updateProcessQueueTable(topic: string, mine: readonly MessageQueue[]): Promise<void> {
    const want = new Map(mine.map((q) => [mqKey(q), q]));
    let changed = false;
    for (const [k, e] of [...this.table]) {
      if (e.mq.topic !== topic || want.has(k)) continue;
      e.pq.dropped = true;
      this.table.delete(k);
      changed = true;
      await this.removeUnnecessaryQueue(e.mq, e.pq);
    }
    for (const [k, mq] of want) {
      if (this.table.has(k) || this.state !== 'RUNNING') continue;
      const pq = new ProcessQueue();
      if (this.orderly && this.messageModel === 'CLUSTERING') {
        if (!(await this.lockOne(mq))) {
          this.log.info('rebalance.lock.failed', 'queue is locked by another consumer; will try later', { topic, brokerName: mq.brokerName, queueId: mq.queueId });
          continue;
        }
        pq.locked = true;
        pq.lastLockTimestamp = Date.now();
      }
      this.offsetStore!.removeOffset(mq);
      const next = await this.computePullFromWhere(mq);
      if (next < 0) {
        this.log.warn('rebalance.offset.unknown', 'could not compute where to pull from; will retry at the next rebalance', { topic, brokerName: mq.brokerName, queueId: mq.queueId });
        if (pq.locked) void this.unlockAll([mq]);
        continue;
      }
      if (this.table.has(k) || this.state !== 'RUNNING') continue;
      this.offsetStore!.updateOffset(mq, next, false);
      this.table.set(k, { mq, pq });
      changed = true;
      void this.pullLoop(mq, pq, next);
    }
    if (changed) {
      this.log.info('rebalance.changed', 'queue assignment changed', { topic, group: this.group, clientId: this.instance?.clientId, queues: [...this.table.values()].filter((e) => e.mq.topic === topic).map((e) => `${e.mq.brokerName}:${e.mq.queueId}`).join(',') });
    }
  }

  private async removeUnnecessaryQueue(mq: MessageQueue, pq: ProcessQueue): Promise<void> {
    const store = this.offsetStore!;
    if (this.orderly && this.messageModel === 'CLUSTERING') {
      const deadline = Date.now() + 1_000;
      while (pq.consumeRunning && Date.now() < deadline) await sleep(10);
    }
    try {
      await store.persist(mq);
    } catch (e) {
      this.log.warn('offset.persist.failed', 'could not commit the offset of a released queue', { topic: mq.topic, brokerName: mq.brokerName, queueId: mq.queueId }, e);
    }
    store.removeOffset(mq);
    if (this.orderly && this.messageModel === 'CLUSTERING') await this.unlockAll([mq]);
  }

  /** Where a newly owned queue starts: its committed offset, else per consumeFromWhere; -1 when unknown. */
  private async computePullFromWhere(mq: MessageQueue): Promise<number> {
    const store = this.offsetStore!;
    const last = await store.readOffset(mq, 'READ_FROM_STORE');
    if (last >= 0) return last;
    if (last === -2) return -1;
    const inst = this.clientInstance;
    const addr = inst.findBrokerAddressInPublish(mq.brokerName) ?? inst.findBrokerAddressInSubscribe(mq.brokerName)?.addr;
    const isRetry = mq.topic.startsWith(MixAll.RETRY_GROUP_TOPIC_PREFIX);
    try {
      switch (this.consumeFromWhere) {
        case 'CONSUME_FROM_FIRST_OFFSET':
          return 0;
        case 'CONSUME_FROM_TIMESTAMP':
          if (addr === undefined) return -1;
          return isRetry ? await inst.api.getMaxOffset(addr, mq) : await inst.api.searchOffset(addr, mq, this.o.consumeTimestamp);
        default:
          if (isRetry) return 0;
          if (addr === undefined) return -1;
          return await inst.api.getMaxOffset(addr, mq);
      }
    } catch (e) {
      this.log.warn('offset.compute.failed', 'could not read the queue offsets', { topic: mq.topic, brokerName: mq.brokerName, queueId: mq.queueId }, e);
      return -1;
    }
  }

  async resetOffset(topic: string, offsets: ReadonlyArray<[MessageQueue, number]>): Promise<void> {
    for (const [k, e] of [...this.table]) {
      if (e.mq.topic !== topic) continue;
      e.pq.dropped = true;
      e.pq.clear();
      this.table.delete(k);
    }
    const store = this.offsetStore!;
    for (const [mq, off] of offsets) store.updateOffset(mq, off, false);
    await store.persistAll(offsets.map(([mq]) => mq)).catch(() => undefined);
    for (const [mq] of offsets) store.removeOffset(mq);
    this.instance?.rebalanceImmediately();
  }

  runningInfo(): Record<string, unknown> {
    const mqTable = new Map<object, object>();
    for (const e of this.table.values()) mqTable.set({ brokerName: e.mq.brokerName, queueId: e.mq.queueId, topic: e.mq.topic }, { ...e.pq.info(), commitOffset: 0 });
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
    const t0 = Date.now();
    const mq = { topic: msg.topic, brokerName: msg.brokerName, queueId: msg.queueId };
    try {
      if (this.orderlyListener) {
        const s = await this.orderlyListener([msg], { messageQueue: mq, suspendCurrentQueueTimeMillis: -1 });
        return { order: true, autoCommit: true, consumeResult: s === 'SUCCESS' ? 'CR_SUCCESS' : 'CR_LATER', remark: '', spentTimeMills: Date.now() - t0 };
      }
      const s = await this.listener!([msg], { messageQueue: mq, delayLevelWhenNextConsume: 0, ackIndex: 0 });
      return { order: false, autoCommit: true, consumeResult: s === 'CONSUME_SUCCESS' ? 'CR_SUCCESS' : s ? 'CR_LATER' : 'CR_RETURN_NULL', remark: '', spentTimeMills: Date.now() - t0 };
    } catch (e) {
      return { order: this.orderly, autoCommit: true, consumeResult: 'CR_THROW_EXCEPTION', remark: (e as Error).message, spentTimeMills: Date.now() - t0 };
    }
  }

  // ------------------------------------------------------------------ pulling

  private running(pq: ProcessQueue): boolean {
    return this.state === 'RUNNING' && !pq.dropped;
  }

  private async pullLoop(mq: MessageQueue, pq: ProcessQueue, startOffset: number): Promise<void> {
    const inst = this.clientInstance;
    let nextOffset = startOffset;
    let brokerId = 0;
    const maxBytes = this.o.pullThresholdSizeForQueueMiB * 1024 * 1024;
    const delay = (ms: number): Promise<void> => sleep(ms);
    while (this.running(pq)) {
      if (this.paused) {
        await delay(this.o.pullTimeDelayMillsWhenException);
        continue;
      }
      if (pq.msgCount > this.o.pullThresholdForQueue || pq.msgSizeBytes > maxBytes) {
        if (this.flowControlTimes++ % 1000 === 0) {
          this.log.warn('flow.control', 'too many cached messages in a queue; pulling later', { topic: mq.topic, brokerName: mq.brokerName, queueId: mq.queueId, count: pq.msgCount, bytes: pq.msgSizeBytes, flowControlTimes: this.flowControlTimes });
        }
        await delay(PUSH_CONSUMER_DEFAULTS.flowControlDelayMs);
        continue;
      }
      if (!this.orderly && pq.maxSpan() > this.o.consumeConcurrentlyMaxSpan) {
        if (this.flowControlTimes++ % 1000 === 0) this.log.warn('flow.control.span', 'cached offsets span too wide; pulling later', { topic: mq.topic, queueId: mq.queueId, span: pq.maxSpan() });
        await delay(PUSH_CONSUMER_DEFAULTS.flowControlDelayMs);
        continue;
      }
      if (this.orderly && this.messageModel === 'CLUSTERING' && !pq.locked) {
        await delay(this.o.pullTimeDelayMillsWhenException);
        continue;
      }
      const sub = this.subs.get(mq.topic);
      if (!sub) {
        await delay(this.o.pullTimeDelayMillsWhenException);
        continue;
      }
      let commitOffset = 0;
      if (this.messageModel === 'CLUSTERING') commitOffset = await this.offsetStore!.readOffset(mq, 'READ_FROM_MEMORY');
      let sysFlag: number = PullSysFlag.SUSPEND;
      if (commitOffset > 0) sysFlag |= PullSysFlag.COMMIT_OFFSET;
      if (this.o.postSubscriptionWhenPull) sysFlag |= PullSysFlag.SUBSCRIPTION;
      const target = inst.findBrokerAddressInSubscribe(mq.brokerName, brokerId);
      if (!target) {
        await inst.updateTopicRouteFromNameServer(mq.topic).catch(() => false);
        await delay(this.o.pullTimeDelayMillsWhenException);
        continue;
      }
      if (target.slave) sysFlag &= ~PullSysFlag.COMMIT_OFFSET;
      this.log.debug('pull.request', 'pulling', { topic: mq.topic, queueId: mq.queueId, offset: nextOffset, commitOffset, sysFlag });
      try {
        const r = await inst.api.pullMessage(
          target.addr,
          {
            consumerGroup: this.group,
            mq,
            queueOffset: nextOffset,
            maxMsgNums: this.o.pullBatchSize,
            sysFlag,
            commitOffset: Math.max(0, commitOffset),
            suspendTimeoutMillis: this.o.brokerSuspendMaxTimeMillis,
            subscription: (sysFlag & PullSysFlag.SUBSCRIPTION) !== 0 ? sub.subString : undefined,
            subVersion: sub.subVersion,
            expressionType: sub.expressionType,
          },
          this.o.consumerTimeoutMillisWhenSuspend,
        );
        pq.lastPullTimestamp = Date.now();
        brokerId = r.suggestWhichBrokerId;
        if (!this.running(pq)) break;
        switch (r.status) {
          case 'FOUND': {
            const msgs = decodeReceivedMessages(r.body, {
              brokerName: mq.brokerName,
              tagFilter: sub.expressionType === 'TAG' ? parseTagExpression(sub.subString) : undefined,
              retryTopic: retryTopic(this.group),
              minOffset: r.minOffset,
              maxOffset: r.maxOffset,
              onUndecodable: (m, why) => this.log.warn('message.undecodable', why, { msgId: m.msgId, topic: m.topic }),
            });
            nextOffset = r.nextBeginOffset;
            pq.maxOffsetInBroker = r.maxOffset;
            if (msgs.length === 0) {
              if (pq.msgCount === 0) this.offsetStore!.updateOffset(mq, nextOffset, true);
              continue;
            }
            const added = pq.putMessages(msgs);
            this.submit(added, pq, mq);
            if (this.o.pullIntervalMs > 0) await delay(this.o.pullIntervalMs);
            break;
          }
          case 'NO_NEW_MSG':
          case 'NO_MATCHED_MSG':
            nextOffset = r.nextBeginOffset;
            // Nothing cached: everything before nextOffset is done (e.g. filtered out).
            if (pq.msgCount === 0) this.offsetStore!.updateOffset(mq, nextOffset, true);
            break;
          case 'OFFSET_ILLEGAL': {
            this.log.warn('pull.offset.illegal', 'the pull offset is out of range; resetting it', { topic: mq.topic, brokerName: mq.brokerName, queueId: mq.queueId, offset: nextOffset, next: r.nextBeginOffset });
            pq.dropped = true;
            const k = mqKey(mq);
            if (this.table.get(k)?.pq === pq) this.table.delete(k);
            this.offsetStore!.updateOffset(mq, r.nextBeginOffset, false);
            await this.offsetStore!.persist(mq).catch(() => undefined);
            this.offsetStore!.removeOffset(mq);
            inst.rebalanceImmediately();
            return;
          }
        }
      } catch (e) {
        if (!this.running(pq)) break;
        this.log.warn('pull.failed', 'pull failed; retrying later', { topic: mq.topic, brokerName: mq.brokerName, queueId: mq.queueId, broker: target.addr }, e);
        await delay(this.o.pullTimeDelayMillsWhenException);
      }
    }
  }

  // ------------------------------------------------------------------ consuming

  private async acquire(): Promise<void> {
    while (this.inflight >= this.o.consumeThreadMax) await new Promise<void>((r) => this.waiters.push(r));
    this.inflight++;
  }

  private release(): void {
    this.inflight--;
    this.waiters.shift()?.();
  }

  private submit(msgs: ReceivedMessage[], pq: ProcessQueue, mq: MessageQueue): void {
    if (this.orderly) {
      if (!pq.consumeRunning) void this.consumeOrderly(pq, mq);
      return;
    }
    const n = this.o.consumeMessageBatchMaxSize;
    for (let i = 0; i < msgs.length; i += n) void this.consumeConcurrently(msgs.slice(i, i + n), pq, mq);
  }

  private maxReconsumeTimes(): number {
    if (this.o.maxReconsumeTimes >= 0) return this.o.maxReconsumeTimes;
    return this.orderly ? 2147483647 : 16;
  }

  private async consumeConcurrently(msgs: ReceivedMessage[], pq: ProcessQueue, mq: MessageQueue): Promise<void> {
    await this.acquire();
    try {
      // While stopping, only listener calls already running finish; nothing new starts.
      if (pq.dropped || this.state !== 'RUNNING') return;
      const now = String(Date.now());
      for (const m of msgs) m.properties.set(MessageConst.PROPERTY_CONSUME_START_TIMESTAMP, now);
      const ctx: ConsumeConcurrentlyContext = { messageQueue: mq, delayLevelWhenNextConsume: 0, ackIndex: 2147483647 };
      let status: ConsumeConcurrentlyStatus;
      try {
        status = (await this.listener!(msgs, ctx)) ?? 'RECONSUME_LATER';
      } catch (e) {
        this.log.warn('consume.exception', 'the listener threw; the messages will be retried', { group: this.group, topic: mq.topic, queueId: mq.queueId, msgIds: msgs.map((m) => m.msgId).join(',') }, e);
        status = 'RECONSUME_LATER';
      }
      if (pq.dropped) return;
      await this.processConsumeResult(status, ctx, msgs, pq, mq);
    } finally {
      this.release();
    }
  }

  private async processConsumeResult(status: ConsumeConcurrentlyStatus, ctx: ConsumeConcurrentlyContext, msgs: ReceivedMessage[], pq: ProcessQueue, mq: MessageQueue): Promise<void> {
    const ackIndex = status === 'CONSUME_SUCCESS' ? Math.min(ctx.ackIndex, msgs.length - 1) : -1;
    const failedLocally: ReceivedMessage[] = [];
    if (this.messageModel === 'BROADCASTING') {
      for (let i = ackIndex + 1; i < msgs.length; i++) {
        this.log.warn('consume.broadcast.dropped', 'broadcast consumption failed; broadcast messages are not retried', { msgId: msgs[i]!.msgId, topic: mq.topic });
      }
    } else {
      for (let i = ackIndex + 1; i < msgs.length; i++) {
        const m = msgs[i]!;
        if (!(await this.sendMessageBack(m, ctx.delayLevelWhenNextConsume))) {
          m.reconsumeTimes++;
          failedLocally.push(m);
        }
      }
    }
    const done = failedLocally.length === 0 ? msgs : msgs.filter((m) => !failedLocally.includes(m));
    const offset = pq.removeMessages(done);
    if (offset >= 0 && !pq.dropped) this.offsetStore!.updateOffset(mq, offset, true);
    if (failedLocally.length > 0) {
      // Send-back failed: keep them cached (the offset does not pass them) and consume again here.
      const t = setTimeout(() => {
        this.pendingRetries.delete(t);
        if (!pq.dropped && this.state === 'RUNNING') this.submit(failedLocally, pq, mq);
      }, this.o.localRetryDelayMs);
      this.pendingRetries.add(t);
    }
  }

  /**
   * Hands a failed message back to the broker (retry topic with a delay, or the DLQ after
   * maxReconsumeTimes). If the broker refuses, sends a copy to the retry topic directly.
   * Returns false when neither worked.
   */
  async sendMessageBack(m: ReceivedMessage, delayLevel: number): Promise<boolean> {
    const inst = this.clientInstance;
    const addr = inst.findBrokerAddressInPublish(m.brokerName);
    const max = this.maxReconsumeTimes();
    try {
      if (addr === undefined) throw new Error(`no master address for ${m.brokerName}`);
      await inst.api.consumerSendMessageBack(addr, m.brokerName, m, this.group, delayLevel, max);
      return true;
    } catch (e) {
      this.log.warn('consume.sendback.failed', 'send-back failed; sending a copy to the retry topic', { msgId: m.msgId, topic: m.topic, group: this.group }, e);
    }
    try {
      if (addr === undefined) return false;
      const props = new Map(m.properties);
      if (!props.has(MessageConst.PROPERTY_RETRY_TOPIC)) props.set(MessageConst.PROPERTY_RETRY_TOPIC, m.topic);
      if (!props.has(MessageConst.PROPERTY_ORIGIN_MESSAGE_ID)) props.set(MessageConst.PROPERTY_ORIGIN_MESSAGE_ID, m.msgId);
      props.set(MessageConst.PROPERTY_DELAY_TIME_LEVEL, String(delayLevel < 0 ? -1 : delayLevel > 0 ? delayLevel : 3 + m.reconsumeTimes));
      props.delete(MessageConst.PROPERTY_MIN_OFFSET);
      props.delete(MessageConst.PROPERTY_MAX_OFFSET);
      const header: SendMessageRequest = {
        producerGroup: MixAll.CLIENT_INNER_PRODUCER_GROUP,
        topic: retryTopic(this.group),
        defaultTopic: MixAll.AUTO_CREATE_TOPIC_KEY_TOPIC,
        defaultTopicQueueNums: 1,
        queueId: -1,
        sysFlag: 0,
        bornTimestamp: Date.now(),
        flag: m.flag,
        properties: encodeProperties(props),
        reconsumeTimes: m.reconsumeTimes + 1,
        maxReconsumeTimes: max,
        bname: m.brokerName,
      };
      await inst.api.sendMessage(addr, m.brokerName, header, m.body, { batch: false, timeoutMs: inst.api.timeoutMs });
      return true;
    } catch (e) {
      this.log.warn('consume.retry.local', 'could not hand the message back to the broker; it will be consumed again locally', { msgId: m.msgId, topic: m.topic, group: this.group }, e);
      return false;
    }
  }

  private async consumeOrderly(pq: ProcessQueue, mq: MessageQueue): Promise<void> {
    if (pq.consumeRunning) return;
    pq.consumeRunning = true;
    try {
      while (!pq.dropped && this.state !== 'SHUTDOWN') {
        if (this.state === 'STOPPING') break;
        if (this.messageModel === 'CLUSTERING' && (!pq.locked || pq.isLockExpired())) {
          this.tryLockLaterAndReconsume(mq, pq, 100);
          break;
        }
        await this.acquire();
        let msgs: ReceivedMessage[] = [];
        let status: ConsumeOrderlyStatus;
        const ctx: ConsumeOrderlyContext = { messageQueue: mq, suspendCurrentQueueTimeMillis: -1 };
        try {
          msgs = pq.takeMessages(this.o.consumeMessageBatchMaxSize);
          if (msgs.length === 0) break;
          const now = String(Date.now());
          for (const m of msgs) m.properties.set(MessageConst.PROPERTY_CONSUME_START_TIMESTAMP, now);
          try {
            status = (await this.orderlyListener!(msgs, ctx)) ?? 'SUSPEND_CURRENT_QUEUE_A_MOMENT';
          } catch (e) {
            this.log.warn('consume.exception', 'the orderly listener threw; the queue is suspended a moment', { group: this.group, topic: mq.topic, queueId: mq.queueId }, e);
            status = 'SUSPEND_CURRENT_QUEUE_A_MOMENT';
          }
        } finally {
          this.release();
        }
        if (pq.dropped) break;
        if (status === 'SUCCESS') {
          const off = pq.commit();
          if (off >= 0) this.offsetStore!.updateOffset(mq, off, false);
          continue;
        }
        if (await this.checkReconsumeTimes(msgs)) {
          pq.makeMessagesToConsumeAgain(msgs);
          const wait = ctx.suspendCurrentQueueTimeMillis > 0 ? ctx.suspendCurrentQueueTimeMillis : this.o.suspendCurrentQueueTimeMillis;
          await sleep(wait);
        } else {
          // Every message of the batch went to the DLQ: move on.
          const off = pq.commit();
          if (off >= 0) this.offsetStore!.updateOffset(mq, off, false);
        }
      }
    } finally {
      pq.consumeRunning = false;
    }
    // Messages that arrived while we were finishing.
    if (!pq.dropped && this.state === 'RUNNING' && pq.msgCount > 0 && (this.messageModel === 'BROADCASTING' || (pq.locked && !pq.isLockExpired()))) {
      void this.consumeOrderly(pq, mq);
    }
  }

  /** True when at least one message must be consumed again here; false when all went to the DLQ. */
  private async checkReconsumeTimes(msgs: ReceivedMessage[]): Promise<boolean> {
    const max = this.maxReconsumeTimes();
    let suspend = false;
    for (const m of msgs) {
      if (m.reconsumeTimes >= max) {
        m.properties.set(MessageConst.PROPERTY_RECONSUME_TIME, String(m.reconsumeTimes));
        if (!(await this.sendMessageBack(m, -1))) {
          suspend = true;
          m.reconsumeTimes++;
        }
      } else {
        suspend = true;
        m.reconsumeTimes++;
      }
    }
    return suspend;
  }

  private tryLockLaterAndReconsume(mq: MessageQueue, pq: ProcessQueue, delayMs: number): void {
    const t = setTimeout(async () => {
      this.pendingRetries.delete(t);
      if (pq.dropped || this.state !== 'RUNNING') return;
      if (await this.lockOne(mq)) {
        pq.locked = true;
        pq.lastLockTimestamp = Date.now();
        void this.consumeOrderly(pq, mq);
      } else {
        this.tryLockLaterAndReconsume(mq, pq, 3_000);
      }
    }, delayMs);
    this.pendingRetries.add(t);
  }

  // ------------------------------------------------------------------ orderly locks

  private async lockOne(mq: MessageQueue): Promise<boolean> {
    const inst = this.clientInstance;
    const addr = inst.findBrokerAddressInPublish(mq.brokerName);
    if (addr === undefined) return false;
    try {
      const locked = await inst.api.lockBatchMQ(addr, this.group, inst.clientId, [mq]);
      return locked.some((q) => q.queueId === mq.queueId && q.topic === mq.topic && q.brokerName === mq.brokerName);
    } catch (e) {
      this.log.warn('lock.failed', 'LOCK_BATCH_MQ failed', { topic: mq.topic, brokerName: mq.brokerName, queueId: mq.queueId }, e);
      return false;
    }
  }

  /** Renews the locks of every owned queue, broker by broker. */
  private async lockAll(): Promise<void> {
    if (this.state !== 'RUNNING') return;
    const inst = this.clientInstance;
    const byBroker = new Map<string, QueueEntry[]>();
    for (const e of this.table.values()) {
      const l = byBroker.get(e.mq.brokerName) ?? [];
      l.push(e);
      byBroker.set(e.mq.brokerName, l);
    }
    for (const [brokerName, entries] of byBroker) {
      const addr = inst.findBrokerAddressInPublish(brokerName);
      if (addr === undefined) continue;
      try {
        const ok = new Set((await inst.api.lockBatchMQ(addr, this.group, inst.clientId, entries.map((e) => e.mq))).map(mqKey));
        const now = Date.now();
        for (const e of entries) {
          if (ok.has(mqKey(e.mq))) {
            e.pq.locked = true;
            e.pq.lastLockTimestamp = now;
            if (!e.pq.consumeRunning && e.pq.msgCount > 0) void this.consumeOrderly(e.pq, e.mq);
          } else {
            e.pq.locked = false;
          }
        }
      } catch (e) {
        this.log.warn('lock.failed', 'renewing queue locks failed', { brokerName }, e);
      }
    }
  }

  private async unlockAll(mqs: readonly MessageQueue[]): Promise<void> {
    const inst = this.instance;
    if (!inst) return;
    const byBroker = new Map<string, MessageQueue[]>();
    for (const q of mqs) byBroker.set(q.brokerName, [...(byBroker.get(q.brokerName) ?? []), q]);
    for (const [brokerName, list] of byBroker) {
      const addr = inst.findBrokerAddressInPublish(brokerName);
      if (addr === undefined) continue;
      await inst.api.unlockBatchMQ(addr, this.group, inst.clientId, list).catch((e: unknown) => this.log.debug('unlock.failed', `unlock on ${brokerName} failed: ${(e as Error).message}`));
    }
  }
}
