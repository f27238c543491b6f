import { ResponseCode, parseExtraInfo, parseTagExpression, realTopicOf, validateGroupName, type ExtraInfo } from '@rocketmq-ts/protocol';
import { getOrCreateClientInstance, type MQClientInstance } from '../client-instance.js';
import { withDefaults, type ClientOptions, type Widen } from '../config.js';
import { MQClientError, illegalArgument, noRouteError, notRunningError } from '../errors.js';
import { Log, defaultClientLogger } from '../logger.js';
import { topicRouteToSubscribeInfo, type MessageQueue } from '../message-queue.js';
import type { ReceivedMessage } from '../received-message.js';
import type { ConsumeDirectlyResult, ConsumerInner, SubscriptionData } from '../types.js';
import { changedReceiptHandle, popMessageViews, type MessageView } from './pop-messages.js';
import { buildSubscription } from './rebalance.js';

export type { MessageView } from './pop-messages.js';

/** A subscription expression: tags (`*`, `a || b`) or `{ type: 'SQL92', expression }`. */
export type FilterExpression = string | { type: 'TAG' | 'SQL92'; expression: string };

export interface SimpleConsumerOptions extends ClientOptions {
  /** Consumer group (required). */
  group: string;
  /** Topic → filter expression. More can be added with subscribe(). */
  subscriptions?: ReadonlyMap<string, FilterExpression> | Readonly<Record<string, FilterExpression>>;
  /** Long polling: how long (ms) the broker holds a receive that finds nothing. */
  awaitDuration?: number;
  /** Default invisible duration (ms) of receive(): how long a received message stays hidden unless acked. */
  invisibleDuration?: number;
  /** Default maxMessageNum of receive() (the broker hands out at most 32 per receive). */
  maxMessageNum?: number;
  /**
   * Where a group that never popped a queue starts: MAX (RocketMQ 5's proxy) at the newest message
   * (at the first one when the whole queue is still in the broker's memory), MIN at the oldest.
   */
  initMode?: 'MIN' | 'MAX';
  /**
   * FIFO (POP_MESSAGE's `order`): the broker hands out one batch of a queue at a time, the next only
   * after the batch is acked or visible again, and retries a failed message in place.
   */
  order?: boolean;
}

export const SIMPLE_CONSUMER_DEFAULTS = {
  awaitDuration: 30_000,
  invisibleDuration: 15_000,
  maxMessageNum: 10,
  initMode: 'MAX' as 'MIN' | 'MAX',
  order: false,
} as const;

/** The broker's limit on messages per POP (more is INVALID_PARAMETER). */
export const MAX_POP_MESSAGE_NUM = 32;

type State = 'CREATED' | 'RUNNING' | 'SHUTDOWN';

/** What ack and changeInvisibleDuration need of a message: its topic and receipt handle. */
export type ReceiptOf = Pick<MessageView, 'topic' | 'receiptHandle'>;

/**
 * RocketMQ 5's SimpleConsumer over remoting POP: `receive` pops messages from a broker, which hides
 * each one for an invisible duration; `ack` ends a message; one that is not acked in time comes
 * back (through the group's pop retry topic, `deliveryAttempt` one higher); `changeInvisibleDuration`
 * moves that deadline. The broker keeps the group's progress: no queues are assigned, any number
 * of consumers of a group share the messages.
 *
 * receive() takes the subscribed topics in turn and, for each topic, the brokers (masters) that
 * serve it in turn, and pops any of that broker's queues of the topic.
 */
export class SimpleConsumer implements ConsumerInner {
  readonly group: string;
  readonly messageModel = 'CLUSTERING' as const;
  readonly consumeType = 'CONSUME_ACTIVELY' as const;
  readonly consumeFromWhere = 'CONSUME_FROM_LAST_OFFSET' as const;
  readonly log: Log;
  private readonly o: Widen<typeof SIMPLE_CONSUMER_DEFAULTS>;
  private readonly clientOptions: ClientOptions;
  private readonly subs = new Map<string, SubscriptionData>();
  private instance: MQClientInstance | undefined;
  private state: State = 'CREATED';
  private topicIndex = 0;
  private readonly brokerIndex = new Map<string, number>();

  constructor(options: SimpleConsumerOptions) {
    const { group, subscriptions, awaitDuration, invisibleDuration, maxMessageNum, initMode, order, ...clientOptions } = options;
    this.group = group;
    this.clientOptions = clientOptions;
    this.o = withDefaults(SIMPLE_CONSUMER_DEFAULTS, { awaitDuration, invisibleDuration, maxMessageNum, initMode, order });
    this.log = new Log(options.logger ?? defaultClientLogger('simple-consumer'));
    if (!Number.isFinite(this.o.awaitDuration) || this.o.awaitDuration < 0) throw illegalArgument(`awaitDuration must be ≥ 0 ms, got ${this.o.awaitDuration}`);
    checkInvisible(this.o.invisibleDuration);
    const entries = subscriptions instanceof Map ? [...subscriptions.entries()] : Object.entries(subscriptions ?? {});
    for (const [topic, expr] of entries) this.subs.set(topic, buildSubscription(topic, expr));
  }

  get clientId(): string | undefined {
    return this.instance?.clientId;
  }

  get clientInstance(): MQClientInstance {
    if (!this.instance) throw notRunningError('simple consumer', this.state);
    return this.instance;
  }

  /** Topic → the expression it is subscribed with. */
  subscriptionExpressions(): Map<string, FilterExpression> {
    const out = new Map<string, FilterExpression>();
    for (const s of this.subs.values()) out.set(s.topic, s.expressionType === 'TAG' ? s.subString : { type: s.expressionType, expression: s.subString });
    return out;
  }

  // ------------------------------------------------------------------ lifecycle

  /** Fetches the subscribed topics' routes and heartbeats to their brokers, so they know the group. */
  async start(): Promise<void> {
    if (this.state === 'RUNNING') return;
    if (this.state === 'SHUTDOWN') {
      throw new MQClientError(ResponseCode.SERVICE_NOT_AVAILABLE, 'the simple consumer was shut down; create a new one', { retriable: false });
    }
    const bad = validateGroupName(this.group);
    if (bad) throw illegalArgument(`consumer group: ${bad}`);
    const inst = getOrCreateClientInstance(this.clientOptions);
    inst.registerConsumer(this);
    this.instance = inst;
    inst.start();
    this.state = 'RUNNING';
    for (const topic of this.subs.keys()) await inst.updateTopicRouteFromNameServer(topic).catch(() => false);
    await inst.sendHeartbeatToAllBrokers();
    this.log.info('consumer.start', 'simple consumer started', { group: this.group, clientId: inst.clientId, topics: [...this.subs.keys()].join(',') });
  }

  /**
   * Unregisters from the brokers. Messages received and not acked come back after their invisible
   * duration, to this group's other consumers.
   */
  async shutdown(): Promise<void> {
    if (this.state !== 'RUNNING') {
      this.state = 'SHUTDOWN';
      return;
    }
    this.state = 'SHUTDOWN';
    await this.instance?.unregisterConsumer(this.group);
    this.log.info('consumer.shutdown', 'simple consumer shut down', { group: this.group });
  }

  /** Subscribes to a topic (or changes its expression); while running, fetches its route first. */
  async subscribe(topic: string, expression: FilterExpression = '*'): Promise<void> {
    const sub = buildSubscription(topic, expression);
    if (this.state === 'RUNNING') {
      const inst = this.clientInstance;
      if (!(await inst.updateTopicRouteFromNameServer(topic))) throw noRouteError(topic, inst.api.getNamesrvAddrs());
      this.subs.set(topic, sub);
      await inst.sendHeartbeatToAllBrokers();
    } else {
      this.subs.set(topic, sub);
    }
  }

  unsubscribe(topic: string): void {
    this.subs.delete(topic);
    this.brokerIndex.delete(topic);
    if (this.state === 'RUNNING') void this.clientInstance.sendHeartbeatToAllBrokers();
  }

  // ------------------------------------------------------------------ receive, ack, change invisibility

  /**
   * Pops up to `maxMessageNum` (at most 32) messages of the next subscribed topic from the next
   * broker that serves it, hiding them for `invisibleDuration` ms. Waits up to awaitDuration for
   * messages; [] when none came, or when the consumer was shut down meanwhile. Broker refusals are
   * MQBrokerErrors (POLLING_FULL is retriable).
   */
  async receive(maxMessageNum = this.o.maxMessageNum, invisibleDuration = this.o.invisibleDuration): Promise<MessageView[]> {
    if (this.state !== 'RUNNING') throw notRunningError('simple consumer', this.state);
    if (!Number.isInteger(maxMessageNum) || maxMessageNum <= 0) throw illegalArgument(`maxMessageNum must be a positive integer, got ${maxMessageNum}`);
    checkInvisible(invisibleDuration);
    const topics = [...this.subs.keys()];
    if (topics.length === 0) throw illegalArgument('the simple consumer subscribes to no topic; call subscribe() first');
    const topic = topics[this.topicIndex++ % topics.length]!;
    const sub = this.subs.get(topic)!;
    const { brokerName, addr } = await this.nextBroker(topic);
    const inst = this.clientInstance;
    const r = await inst.api
      .popMessage(
        addr,
        {
          consumerGroup: this.group,
          topic,
          queueId: -1,
          maxMsgNums: Math.min(maxMessageNum, MAX_POP_MESSAGE_NUM),
          invisibleTime: invisibleDuration,
          pollTime: this.o.awaitDuration,
          bornTime: Date.now(),
          initMode: this.o.initMode === 'MIN' ? 0 : 1,
          expType: sub.expressionType,
          exp: sub.subString,
          order: this.o.order,
          bname: brokerName,
        },
        this.o.awaitDuration + inst.api.timeoutMs,
      )
      .catch((e: unknown) => {
        // shutdown() closed the connection under a waiting receive.
        if (this.state === 'SHUTDOWN') return undefined;
        throw e;
      });
    // Shut down meanwhile: what was popped can no longer be acked; it comes back after the invisible duration.
    if (r === undefined || r.status !== 'FOUND' || this.state !== 'RUNNING') return [];
    const msgs = popMessageViews(r.body, r.header, { brokerName, topic });
    if (sub.expressionType !== 'TAG') return msgs;
    // The broker matches tags by hash code; a message whose tag only collides is acked and dropped.
    const tags = parseTagExpression(sub.subString);
    if (tags.all) return msgs;
    const keep: MessageView[] = [];
    for (const m of msgs) {
      if (m.tags !== undefined && tags.tags.includes(m.tags)) {
        keep.push(m);
      } else {
        this.ack(m).catch((e: unknown) => this.log.warn('ack.failed', 'could not ack a message the subscription filters out', { topic, msgId: m.msgId }, e));
      }
    }
    return keep;
  }

  /** Ends a message: it will not be delivered again. MQBrokerError with the broker's code when refused. */
  async ack(message: ReceiptOf): Promise<void> {
    const { e, offset, addr, realTopic } = await this.target(message);
    await this.clientInstance.api.ackMessage(addr, {
      consumerGroup: this.group,
      topic: realTopic,
      queueId: e.queueId,
      extraInfo: message.receiptHandle,
      offset,
      bname: e.brokerName,
    });
  }

  /**
   * Hides the message for `invisibleDuration` ms from now instead (0: visible again at once). The
   * old receipt handle stops working: the message's receiptHandle (and nextVisibleTime) are replaced
   * by the new ones, and it is returned.
   */
  async changeInvisibleDuration<M extends ReceiptOf>(message: M, invisibleDuration: number): Promise<M> {
    if (!Number.isFinite(invisibleDuration) || invisibleDuration < 0) throw illegalArgument(`invisibleDuration must be ≥ 0 ms, got ${invisibleDuration}`);
    const { e, offset, addr, realTopic } = await this.target(message);
    const r = await this.clientInstance.api.changeInvisibleTime(addr, {
      consumerGroup: this.group,
      topic: realTopic,
      queueId: e.queueId,
      extraInfo: message.receiptHandle,
      offset,
      invisibleTime: invisibleDuration,
      bname: e.brokerName,
    });
    message.receiptHandle = changedReceiptHandle({ ...e, offset }, r);
    if ('nextVisibleTime' in message) (message as unknown as MessageView).nextVisibleTime = r.popTime + r.invisibleTime;
    return message;
  }

  // ------------------------------------------------------------------ ConsumerInner (heartbeats, admin queries)

  subscriptions(): SubscriptionData[] {
    return [...this.subs.values()];
  }

  updateSubscribeInfo(_topic: string, _mqs: MessageQueue[]): void {
    // Brokers are picked from the client core's route table at each receive.
  }

  async doRebalance(): Promise<void> {
    // Nothing to assign: the broker shares the messages among the group's consumers.
  }

  async persistConsumerOffset(): Promise<void> {
    // The broker keeps a pop group's progress.
  }

  async resetOffset(_topic: string, _offsets: ReadonlyArray<[MessageQueue, number]>): Promise<void> {
    // The broker resets a pop group's offsets itself.
  }

  consumerOffsets(_topic: string): Array<[MessageQueue, number]> {
    return [];
  }

  runningInfo(): Record<string, unknown> {
    return {
      jstack: '',
      mqTable: new Map(),
      properties: { PROP_CONSUME_TYPE: this.consumeType, consumerGroup: this.group, messageModel: this.messageModel },
      statusTable: {},
      subscriptionSet: this.subscriptions(),
    };
  }

  async consumeMessageDirectly(_msg: ReceivedMessage): Promise<ConsumeDirectlyResult> {
    return { order: false, autoCommit: true, consumeResult: 'CR_LATER', remark: 'a simple consumer has no listener', spentTimeMills: 0 };
  }

  // ------------------------------------------------------------------ internals

  /** The next master serving `topic` (round robin over the brokers with readable queues). */
  private async nextBroker(topic: string): Promise<{ brokerName: string; addr: string }> {
    const inst = this.clientInstance;
    let route = inst.topicRouteTable.get(topic);
    if (route === undefined) {
      await inst.updateTopicRouteFromNameServer(topic);
      route = inst.topicRouteTable.get(topic);
    }
    if (route === undefined) throw noRouteError(topic, inst.api.getNamesrvAddrs());
    const names = [...new Set(topicRouteToSubscribeInfo(topic, route).map((q) => q.brokerName))].sort();
    const masters = names.flatMap((brokerName) => {
      const addr = inst.findBrokerAddressInPublish(brokerName);
      return addr === undefined ? [] : [{ brokerName, addr }];
    });
    if (masters.length === 0) {
      throw new MQClientError(ResponseCode.SERVICE_NOT_AVAILABLE, `no master broker serves topic ${topic} now (receive pops from masters only)`);
    }
    const i = this.brokerIndex.get(topic) ?? Math.floor(Math.random() * masters.length);
    this.brokerIndex.set(topic, i + 1);
    return masters[i % masters.length]!;
  }

  /** The parsed handle, the broker to send to and the topic an ack or change must name. */
  private async target(message: ReceiptOf): Promise<{ e: ExtraInfo; offset: number; addr: string; realTopic: string }> {
    if (this.state !== 'RUNNING') throw notRunningError('simple consumer', this.state);
    const e = parseExtraInfo(message.receiptHandle ?? '');
    if (e === undefined || e.offset === undefined) throw illegalArgument(`not a receipt handle: ${String(message.receiptHandle)}`);
    const inst = this.clientInstance;
    let addr = inst.findBrokerAddressInPublish(e.brokerName);
    if (addr === undefined) {
      await inst.updateTopicRouteFromNameServer(message.topic).catch(() => false);
      addr = inst.findBrokerAddressInPublish(e.brokerName);
    }
    if (addr === undefined) {
      throw new MQClientError(ResponseCode.SERVICE_NOT_AVAILABLE, `the master of broker ${e.brokerName} (where the message was received) is not known now`);
    }
    return { e, offset: e.offset, addr, realTopic: realTopicOf(e.flag, message.topic, this.group) };
  }
}

function checkInvisible(ms: number): void {
  if (!Number.isFinite(ms) || ms <= 0) throw illegalArgument(`invisibleDuration must be > 0 ms, got ${ms}`);
}
