import { setTimeout as sleep } from 'node:timers/promises';
import { MixAll, PullSysFlag, ResponseCode, parseTagExpression, validateGroupName } from '@rocketmq-ts/protocol';
import { getOrCreateClientInstance, type MQClientInstance } from '../client-instance.js';
import { MQClientError, illegalArgument, noRouteError, notRunningError } from '../errors.js';
import { mqKey, topicRouteToSubscribeInfo, type MessageQueue } from '../message-queue.js';
import { decodeReceivedMessages, type ReceivedMessage } from '../received-message.js';
import type { ConsumeDirectlyResult, ConsumeFromWhere, ConsumerInner, MessageModel, SubscriptionData } from '../types.js';
import type { OffsetStore } from './offset-store.js';
import { ProcessQueue } from './process-queue.js';
import { ConsumerConfig, type ConsumerBaseOptions } from './consumer-options.js';
import { allocateQueues, buildSubscription } from './rebalance.js';

export interface LitePullConsumerOptions extends ConsumerBaseOptions {
  /** Commit what poll() returned automatically (in memory at once, to the broker every autoCommitIntervalMs). */
  autoCommit?: boolean;
  autoCommitIntervalMs?: number;
  /** Messages per pull request. */
  pullBatchSize?: number;
  /** Stop pulling a queue while this many of its messages wait to be polled. */
  pullThresholdForQueue?: number;
  /** Default timeout of poll() (ms). */
  pollTimeoutMs?: number;
  /** How long the broker holds a pull when there is nothing new (ms). */
  brokerSuspendMaxTimeMillis?: number;
  /** Timeout of a held pull (ms). */
  consumerTimeoutMillisWhenSuspend?: number;
  pullTimeDelayMillsWhenException?: number;
}

export const LITE_PULL_DEFAULTS = {
  messageModel: 'CLUSTERING' as MessageModel,
  consumeFromWhere: 'CONSUME_FROM_LAST_OFFSET' as ConsumeFromWhere,
  autoCommit: true,
  autoCommitIntervalMs: 5_000,
  pullBatchSize: 10,
  pullThresholdForQueue: 1_000,
  pollTimeoutMs: 5_000,
  brokerSuspendMaxTimeMillis: 20_000,
  consumerTimeoutMillisWhenSuspend: 30_000,
  pullTimeDelayMillsWhenException: 1_000,
} as const;

interface Assigned {
  mq: MessageQueue;
  pq: ProcessQueue;
  /** Bumped by seek: pulls of an older generation are discarded. */
  generation: number;
  /** Next offset poll() has not returned yet (what a commit stores). */
  consumedOffset: number;
  paused: boolean;
}

interface Batch {
  entry: Assigned;
  generation: number;
  msgs: ReceivedMessage[];
}

type State = 'CREATED' | 'RUNNING' | 'SHUTDOWN';

/**
 * A pull consumer in the style of RocketMQ's DefaultLitePullConsumer: either `subscribe` (the
 * group shares the queues by rebalancing) or `assign` (you pick the queues); messages are
 * prefetched in the background and handed out by `poll`; `seek` moves a queue; `commitSync`
 * stores progress (or autoCommit does it).
 */
export class LitePullConsumer extends ConsumerConfig<typeof LITE_PULL_DEFAULTS> implements ConsumerInner {
  readonly consumeType = 'CONSUME_ACTIVELY' as const;
  private readonly subs = new Map<string, SubscriptionData>();
  private readonly subscribeInfo = new Map<string, MessageQueue[]>();
  private readonly table = new Map<string, Assigned>();
  private readonly cache: Batch[] = [];
  private readonly pollers: Array<() => void> = [];
  private mode: 'NONE' | 'SUBSCRIBE' | 'ASSIGN' = 'NONE';
  private instance: MQClientInstance | undefined;
  private offsetStore: OffsetStore | undefined;
  private state: State = 'CREATED';
  private lastCommit = Date.now();

  constructor(options: LitePullConsumerOptions) {
    super(options, LITE_PULL_DEFAULTS, 'lite-pull-consumer');
  }

  get clientId(): string | undefined {
    return this.instance?.clientId;
  }

  get clientInstance(): MQClientInstance {
    if (!this.instance) throw notRunningError('consumer', this.state);
    return this.instance;
  }

  // ------------------------------------------------------------------ lifecycle

  async start(): Promise<void> {
    if (this.state === 'RUNNING') return;
    if (this.state === 'SHUTDOWN') {
      throw new MQClientError(ResponseCode.SERVICE_NOT_AVAILABLE, 'the consumer was shut down; create a new one', { retriable: false });
    }
    const bad = validateGroupName(this.group);
    if (bad) throw illegalArgument(`consumer group: ${bad}`);
    const inst = getOrCreateClientInstance(this.clientOptions);
    inst.registerConsumer(this);
    this.instance = inst;
    this.offsetStore = this.newOffsetStore(inst);
    await this.offsetStore.load();
    inst.start();
    this.state = 'RUNNING';
    for (const topic of this.subs.keys()) await inst.updateTopicRouteFromNameServer(topic).catch(() => false);
    await inst.sendHeartbeatToAllBrokers();
    if (this.mode === 'SUBSCRIBE') inst.rebalanceImmediately();
    const pending = [...this.table.values()];
    this.table.clear();
    for (const e of pending) await this.addQueue(e.mq);
    this.log.info('consumer.start', 'lite pull consumer started', { group: this.group, clientId: inst.clientId, mode: this.mode });
  }

  async shutdown(): Promise<void> {
    if (this.state !== 'RUNNING') {
      this.state = 'SHUTDOWN';
      return;
    }
    if (this.o.autoCommit) {
      await this.commitSync().catch((e: unknown) => this.log.warn('offset.persist.failed', 'commit at shutdown failed', { group: this.group }, e));
    }
    this.state = 'SHUTDOWN';
    for (const e of this.table.values()) e.pq.dropped = true;
    this.table.clear();
    this.cache.length = 0;
    for (const w of this.pollers.splice(0)) w();
    await this.instance?.unregisterConsumer(this.group);
    this.log.info('consumer.shutdown', 'lite pull consumer shut down', { group: this.group });
  }

  // ------------------------------------------------------------------ subscribe / assign

  subscribe(topic: string, expression: string | { type: 'TAG' | 'SQL92'; expression: string } = '*'): this {
    if (this.mode === 'ASSIGN') throw illegalArgument('subscribe and assign cannot be mixed on one consumer');
    this.mode = 'SUBSCRIBE';
    this.subs.set(topic, buildSubscription(topic, expression));
    if (this.state === 'RUNNING') {
      const inst = this.clientInstance;
      void inst
        .updateTopicRouteFromNameServer(topic)
        .catch(() => false)
        .then(() => inst.sendHeartbeatToAllBrokers())
        .then(() => inst.rebalanceImmediately());
    }
    return this;
  }

  unsubscribe(topic: string): this {
    this.subs.delete(topic);
    for (const [k, e] of [...this.table]) if (e.mq.topic === topic) void this.removeQueue(k, e);
    return this;
  }

  /** Takes exactly these queues (replacing the previous assignment); no rebalancing. */
  async assign(mqs: readonly MessageQueue[]): Promise<void> {
    if (this.mode === 'SUBSCRIBE') throw illegalArgument('subscribe and assign cannot be mixed on one consumer');
    this.mode = 'ASSIGN';
    for (const q of mqs) if (!this.subs.has(q.topic)) this.subs.set(q.topic, buildSubscription(q.topic, '*'));
    const want = new Map(mqs.map((q) => [mqKey(q), { topic: q.topic, brokerName: q.brokerName, queueId: q.queueId }]));
    for (const [k, e] of [...this.table]) if (!want.has(k)) await this.removeQueue(k, e);
    for (const [k, q] of want) {
      if (this.table.has(k)) continue;
      if (this.state === 'RUNNING') await this.addQueue(q);
      else this.table.set(k, { mq: q, pq: new ProcessQueue(), generation: 0, consumedOffset: -1, paused: false });
    }
  }

  assignment(): MessageQueue[] {
    return [...this.table.values()].map((e) => e.mq);
  }

  /** Every readable queue of a topic. */
  async fetchMessageQueues(topic: string): Promise<MessageQueue[]> {
    const inst = this.clientInstance;
    const route = await inst.api.getTopicRouteInfo(topic);
    if (!route) throw noRouteError(topic, inst.api.getNamesrvAddrs());
    await inst.updateTopicRouteFromNameServer(topic);
    return topicRouteToSubscribeInfo(topic, route);
  }

  pause(mqs: readonly MessageQueue[]): void {
    for (const q of mqs) {
      const e = this.table.get(mqKey(q));
      if (e) e.paused = true;
    }
  }

  resume(mqs: readonly MessageQueue[]): void {
    for (const q of mqs) {
      const e = this.table.get(mqKey(q));
      if (e) e.paused = false;
    }
  }

  // ------------------------------------------------------------------ poll, seek, commit

  /** Up to pullBatchSize messages of one queue, or [] after `timeoutMs` with nothing to hand out. */
  async poll(timeoutMs = this.o.pollTimeoutMs): Promise<ReceivedMessage[]> {
    if (this.state !== 'RUNNING') throw notRunningError('consumer', this.state);
    if (this.o.autoCommit && Date.now() - this.lastCommit >= this.o.autoCommitIntervalMs) {
      this.lastCommit = Date.now();
      void this.commitSync().catch((e: unknown) => this.log.warn('offset.persist.failed', 'auto commit failed', { group: this.group }, e));
    }
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.cache.length > 0) {
        const b = this.cache.shift()!;
        const e = b.entry;
        if (b.generation !== e.generation || this.table.get(mqKey(e.mq)) !== e || e.pq.dropped) continue;
        const next = e.pq.removeMessages(b.msgs);
        if (next >= 0) {
          e.consumedOffset = next;
          if (this.o.autoCommit) this.offsetStore!.updateOffset(e.mq, next, false);
        }
        return b.msgs;
      }
      const left = deadline - Date.now();
      if (left <= 0 || this.state !== 'RUNNING') return [];
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          const i = this.pollers.indexOf(wake);
          if (i >= 0) this.pollers.splice(i, 1);
          resolve();
        }, left);
        const wake = (): void => {
          clearTimeout(t);
          resolve();
        };
        this.pollers.push(wake);
      });
    }
  }

  /** Moves a queue: the next poll returns messages from `offset` (which must be within [min, max]). */
  async seek(mq: MessageQueue, offset: number): Promise<void> {
    const e = this.table.get(mqKey(mq));
    if (!e) throw illegalArgument(`the message queue is not assigned to this consumer: ${mqKey(mq)}`);
    const addr = await this.brokerAddr(mq);
    const [min, max] = await Promise.all([this.clientInstance.api.getMinOffset(addr, mq), this.clientInstance.api.getMaxOffset(addr, mq)]);
    if (offset < min || offset > max) throw illegalArgument(`seek offset ${offset} is outside the queue's range [${min}, ${max}]`);
    this.restartAt(e, offset);
  }

  async seekToBegin(mq: MessageQueue): Promise<void> {
    const e = this.table.get(mqKey(mq));
    if (!e) throw illegalArgument(`the message queue is not assigned to this consumer: ${mqKey(mq)}`);
    this.restartAt(e, await this.clientInstance.api.getMinOffset(await this.brokerAddr(mq), mq));
  }

  async seekToEnd(mq: MessageQueue): Promise<void> {
    const e = this.table.get(mqKey(mq));
    if (!e) throw illegalArgument(`the message queue is not assigned to this consumer: ${mqKey(mq)}`);
    this.restartAt(e, await this.clientInstance.api.getMaxOffset(await this.brokerAddr(mq), mq));
  }

  /** The offset of the first message stored at or after `timestamp` (ms). */
  async offsetForTimestamp(mq: MessageQueue, timestamp: number): Promise<number> {
    return this.clientInstance.api.searchOffset(await this.brokerAddr(mq), mq, timestamp);
  }

  /** Stores the offsets of what poll() returned so far, for every assigned queue. */
  async commitSync(): Promise<void> {
    const store = this.offsetStore;
    if (!store) return;
    for (const e of this.table.values()) if (e.consumedOffset >= 0) store.updateOffset(e.mq, e.consumedOffset, false);
    this.lastCommit = Date.now();
    await store.persistAll(this.assignment());
  }

  /** Stores explicit offsets (next offset to consume) for some queues. */
  async commit(offsets: ReadonlyArray<[MessageQueue, number]>, persist = true): Promise<void> {
    const store = this.offsetStore!;
    for (const [mq, off] of offsets) store.updateOffset(mq, off, false);
    if (persist) await store.persistAll(offsets.map(([mq]) => mq));
  }

  /** The committed offset of a queue as the store (broker or local file) has it; -1 if none. */
  async committed(mq: MessageQueue): Promise<number> {
    return this.offsetStore!.readOffset(mq, 'READ_FROM_STORE');
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
    if (this.state !== 'RUNNING' || this.mode !== 'SUBSCRIBE') return;
    for (const topic of this.subs.keys()) {
      const all = this.subscribeInfo.get(topic);
      if (!all) continue;
      const mine = await allocateQueues(this.clientInstance, this.group, this.messageModel, this.strategy, topic, all);
      if (mine === undefined) continue;
      const want = new Map(mine.map((q) => [mqKey(q), q]));
      for (const [k, e] of [...this.table]) if (e.mq.topic === topic && !want.has(k)) await this.removeQueue(k, e);
      for (const [k, q] of want) if (!this.table.has(k)) await this.addQueue(q);
    }
  }

  async resetOffset(topic: string, offsets: ReadonlyArray<[MessageQueue, number]>): Promise<void> {
    for (const [mq, off] of offsets) {
      const e = this.table.get(mqKey(mq));
      if (e && e.mq.topic === topic) this.restartAt(e, off);
      else this.offsetStore?.updateOffset(mq, off, false);
    }
    await this.offsetStore?.persistAll(offsets.map(([mq]) => mq)).catch(() => undefined);
  }

  runningInfo(): Record<string, unknown> {
    const mqTable = new Map<object, object>();
    for (const e of this.table.values()) mqTable.set({ brokerName: e.mq.brokerName, queueId: e.mq.queueId, topic: e.mq.topic }, e.pq.info());
    return {
      jstack: '',
      mqTable,
      properties: { PROP_CONSUME_TYPE: this.consumeType, consumerGroup: this.group, messageModel: this.messageModel },
      statusTable: {},
      subscriptionSet: this.subscriptions(),
    };
  }

  async consumeMessageDirectly(_msg: ReceivedMessage): Promise<ConsumeDirectlyResult> {
    return { order: false, autoCommit: true, consumeResult: 'CR_LATER', remark: 'a lite pull consumer has no listener', spentTimeMills: 0 };
  }

  // ------------------------------------------------------------------ internals

  private async brokerAddr(mq: MessageQueue): Promise<string> {
    const inst = this.clientInstance;
    let a = inst.findBrokerAddressInPublish(mq.brokerName) ?? inst.findBrokerAddressInSubscribe(mq.brokerName)?.addr;
    if (a === undefined) {
      await inst.updateTopicRouteFromNameServer(mq.topic);
      a = inst.findBrokerAddressInPublish(mq.brokerName) ?? inst.findBrokerAddressInSubscribe(mq.brokerName)?.addr;
    }
    if (a === undefined) throw noRouteError(mq.topic, inst.api.getNamesrvAddrs());
    return a;
  }

  private restartAt(e: Assigned, offset: number): void {
    e.generation++;
    e.pq.clear();
    e.consumedOffset = offset;
    this.offsetStore!.updateOffset(e.mq, offset, false);
    for (let i = this.cache.length - 1; i >= 0; i--) if (this.cache[i]!.entry === e) this.cache.splice(i, 1);
    if (this.state === 'RUNNING') void this.pullLoop(e, e.generation, offset);
  }

  private async addQueue(mq: MessageQueue): Promise<void> {
    const k = mqKey(mq);
    const e: Assigned = { mq, pq: new ProcessQueue(), generation: 0, consumedOffset: -1, paused: false };
    this.table.set(k, e);
    let start = await this.computePullFromWhere(mq);
    if (start < 0) {
      // Typically a topic whose route is not published yet: keep the queue and try again.
      this.log.warn('rebalance.offset.unknown', 'could not compute where to pull from; retrying every second', { topic: mq.topic, queueId: mq.queueId });
      void (async () => {
        while (start < 0 && this.state === 'RUNNING' && this.table.get(k) === e) {
          await sleep(this.o.pullTimeDelayMillsWhenException);
          if (this.table.get(k) === e) start = await this.computePullFromWhere(mq);
        }
        if (start >= 0 && this.table.get(k) === e && e.generation === 0) this.restartAt(e, start);
      })();
      return;
    }
    if (this.table.get(k) !== e) return;
    this.restartAt(e, start);
  }

  private async removeQueue(k: string, e: Assigned): Promise<void> {
    e.pq.dropped = true;
    e.generation++;
    this.table.delete(k);
    if (e.consumedOffset >= 0 && this.o.autoCommit) this.offsetStore!.updateOffset(e.mq, e.consumedOffset, false);
    await this.offsetStore!.persist(e.mq).catch(() => undefined);
    this.offsetStore!.removeOffset(e.mq);
  }

  private async computePullFromWhere(mq: MessageQueue): Promise<number> {
    const committed = await this.offsetStore!.readOffset(mq, 'READ_FROM_STORE');
    if (committed >= 0) return committed;
    if (committed === -2) return -1;
    try {
      switch (this.consumeFromWhere) {
        case 'CONSUME_FROM_FIRST_OFFSET':
          return 0;
        case 'CONSUME_FROM_TIMESTAMP':
          return await this.clientInstance.api.searchOffset(await this.brokerAddr(mq), mq, this.o.consumeTimestamp);
        default:
          if (mq.topic.startsWith(MixAll.RETRY_GROUP_TOPIC_PREFIX)) return 0;
          return await this.clientInstance.api.getMaxOffset(await this.brokerAddr(mq), mq);
      }
    } catch (err) {
      this.log.warn('offset.compute.failed', 'could not read the queue offsets', { topic: mq.topic, queueId: mq.queueId }, err);
      return -1;
    }
  }

  private async pullLoop(e: Assigned, generation: number, offset: number): Promise<void> {
    const inst = this.clientInstance;
    let next = offset;
    const live = (): boolean => this.state === 'RUNNING' && e.generation === generation && !e.pq.dropped;
    this.log.debug('pull.start', 'pulling a queue', { topic: e.mq.topic, queueId: e.mq.queueId, offset, generation });
    while (live()) {
      if (e.paused || e.pq.msgCount >= this.o.pullThresholdForQueue) {
        await sleep(50);
        continue;
      }
      const sub = this.subs.get(e.mq.topic) ?? buildSubscription(e.mq.topic, '*');
      const target = inst.findBrokerAddressInSubscribe(e.mq.brokerName);
      if (!target) {
        await inst.updateTopicRouteFromNameServer(e.mq.topic).catch(() => false);
        await sleep(this.o.pullTimeDelayMillsWhenException);
        continue;
      }
      try {
        const r = await inst.api.pullMessage(
          target.addr,
          {
            consumerGroup: this.group,
            mq: e.mq,
            queueOffset: next,
            maxMsgNums: this.o.pullBatchSize,
            sysFlag: PullSysFlag.SUSPEND | PullSysFlag.SUBSCRIPTION | PullSysFlag.LITE_PULL,
            commitOffset: 0,
            suspendTimeoutMillis: this.o.brokerSuspendMaxTimeMillis,
            subscription: sub.subString,
            subVersion: sub.subVersion,
            expressionType: sub.expressionType,
          },
          this.o.consumerTimeoutMillisWhenSuspend,
        );
        if (!live()) return;
        this.log.debug('pull.result', r.status, { topic: e.mq.topic, queueId: e.mq.queueId, offset: next, next: r.nextBeginOffset, max: r.maxOffset });
        e.pq.lastPullTimestamp = Date.now();
        next = r.nextBeginOffset;
        if (r.status === 'FOUND') {
          const msgs = decodeReceivedMessages(r.body, {
            brokerName: e.mq.brokerName,
            tagFilter: sub.expressionType === 'TAG' ? parseTagExpression(sub.subString) : undefined,
            minOffset: r.minOffset,
            maxOffset: r.maxOffset,
          });
          const added = e.pq.putMessages(msgs);
          if (added.length > 0) {
            this.cache.push({ entry: e, generation, msgs: added });
            this.pollers.shift()?.();
          } else if (e.pq.msgCount === 0) {
            e.consumedOffset = next;
          }
        } else if (r.status === 'OFFSET_ILLEGAL') {
          this.log.warn('pull.offset.illegal', 'the pull offset is out of range; moving on', { topic: e.mq.topic, queueId: e.mq.queueId, next });
        } else if (e.pq.msgCount === 0 && next > e.consumedOffset && this.cache.every((b) => b.entry !== e)) {
          // Nothing waiting to be polled: filtered-out or absent messages count as consumed.
          e.consumedOffset = next;
          if (this.o.autoCommit) this.offsetStore!.updateOffset(e.mq, next, true);
        }
      } catch (err) {
        if (!live()) return;
        this.log.warn('pull.failed', 'pull failed; retrying later', { topic: e.mq.topic, queueId: e.mq.queueId, broker: target.addr }, err);
        await sleep(this.o.pullTimeDelayMillsWhenException);
      }
    }
  }
}
