import { deflateSync } from 'node:zlib';
import { Message, MessageConst, MessageSysFlag, decodeRecallHandle, type MessageProperties } from '@rocketmq-ts/common';
import {
  MixAll,
  ResponseCode,
  TopicValidator,
  UniqKeyGenerator,
  encodeBatchBody,
  encodeProperties,
  validateGroupName,
  validateTopicName,
  type SendMessageRequest,
} from '@rocketmq-ts/protocol';
import type { SendResult } from '../api.js';
import { getOrCreateClientInstance, type MQClientInstance } from '../client-instance.js';
import { withDefaults, type ClientOptions, type Widen } from '../config.js';
import { MQClientError, illegalArgument, isRetriable, noRouteError, notRunningError } from '../errors.js';
import { Log, defaultClientLogger } from '../logger.js';
import type { MessageQueue, TopicPublishInfo } from '../message-queue.js';
import type { ProducerInner } from '../types.js';
import { LatencyFaultTolerance } from './fault.js';
import { selectMessageQueueByHash, type MessageQueueSelector } from './selectors.js';

export interface ProducerOptions extends ClientOptions {
  /** Producer group (required). */
  group: string;
  /** Total time a send may take, retries included (ms). */
  sendMsgTimeoutMs?: number;
  /** Bodies larger than this many bytes are zlib-compressed (batches never are). */
  compressMsgBodyOverHowmuch?: number;
  /** zlib level for compressed bodies. */
  compressLevel?: number;
  /** Extra attempts of `send` on another broker after a retriable failure. */
  retryTimesWhenSendFailed?: number;
  /** Extra attempts of `sendAsync`. */
  retryTimesWhenSendAsyncFailed?: number;
  /** Also retry when the broker stored the message but answered FLUSH_*_TIMEOUT / SLAVE_NOT_AVAILABLE. */
  retryAnotherBrokerWhenNotStoreOK?: boolean;
  /** Largest body (or batch) in bytes. */
  maxMessageSize?: number;
  /** Queues a topic gets when the broker auto-creates it on first send. */
  defaultTopicQueueNums?: number;
  /** Template topic for auto-creation. */
  createTopicKey?: string;
  /** Avoid brokers that failed or answered slowly. */
  sendLatencyFaultEnable?: boolean;
  /** SEND_MESSAGE (V1, long header names) instead of SEND_MESSAGE_V2. */
  useV1Header?: boolean;
}

export const PRODUCER_DEFAULTS = {
  sendMsgTimeoutMs: 3_000,
  compressMsgBodyOverHowmuch: 4_096,
  compressLevel: 5,
  retryTimesWhenSendFailed: 2,
  retryTimesWhenSendAsyncFailed: 2,
  retryAnotherBrokerWhenNotStoreOK: false,
  maxMessageSize: 4 * 1024 * 1024,
  defaultTopicQueueNums: 4,
  createTopicKey: MixAll.AUTO_CREATE_TOPIC_KEY_TOPIC as string,
  sendLatencyFaultEnable: true,
  useV1Header: false,
} as const;

export interface SendOptions<A = unknown> {
  /** Send to exactly this queue (no retry on another queue). */
  queue?: MessageQueue;
  /** Pick the queue with this function and `arg` (ordered messages: same arg → same queue). */
  selector?: MessageQueueSelector<A>;
  arg?: A;
  /** Shortcut for ordered messages: selector = hash of the key. */
  shardingKey?: string;
  /** Overrides sendMsgTimeoutMs for this call. */
  timeoutMs?: number;
}

export interface SendCallback {
  onSuccess(result: SendResult): void;
  onException(error: Error): void;
}

type Mode = 'SYNC' | 'ASYNC' | 'ONEWAY';
type State = 'CREATED' | 'RUNNING' | 'SHUTDOWN';

/** Sends with one UNIQ_KEY generator per process (client IP in the ids). */
let uniqGenerator: UniqKeyGenerator | undefined;

/**
 * A producer: sends messages to a topic's queues, spread round-robin over brokers, with retries
 * on another broker after retriable failures and latency-based broker avoidance. Routes come from
 * the name servers and are refreshed every 30 s by the shared client core.
 */
export class Producer implements ProducerInner {
  readonly group: string;
  private readonly o: Widen<typeof PRODUCER_DEFAULTS>;
  private readonly clientOptions: ClientOptions;
  private instance: MQClientInstance | undefined;
  private state: State = 'CREATED';
  private readonly publishInfo = new Map<string, TopicPublishInfo>();
  private readonly topics = new Set<string>();
  private readonly fault = new LatencyFaultTolerance();
  private sendWhichQueue = Math.floor(Math.random() * 1024);
  readonly log: Log;

  constructor(options: ProducerOptions) {
    const { group, ...rest } = options;
    this.group = group;
    this.clientOptions = rest;
    this.o = withDefaults(PRODUCER_DEFAULTS, options);
    this.log = new Log(options.logger ?? defaultClientLogger('producer'));
  }

  get clientId(): string | undefined {
    return this.instance?.clientId;
  }

  /** The shared client core (after start). */
  get clientInstance(): MQClientInstance {
    if (!this.instance) throw notRunningError('producer', this.state);
    return this.instance;
  }

  async start(): Promise<void> {
    if (this.state === 'RUNNING') return;
    if (this.state === 'SHUTDOWN') {
      throw new MQClientError(ResponseCode.SERVICE_NOT_AVAILABLE, 'the producer was shut down; create a new one', { retriable: false });
    }
    const bad = validateGroupName(this.group);
    if (bad) throw illegalArgument(`producer group: ${bad}`);
    if (this.group === MixAll.DEFAULT_PRODUCER_GROUP) {
      throw illegalArgument(`producer group can not equal ${MixAll.DEFAULT_PRODUCER_GROUP}, please specify another one`);
    }
    const inst = getOrCreateClientInstance(this.clientOptions);
    inst.registerProducer(this);
    this.instance = inst;
    inst.start();
    uniqGenerator ??= new UniqKeyGenerator(inst.options.clientIP);
    this.state = 'RUNNING';
    this.log.info('producer.start', 'producer started', { group: this.group, clientId: inst.clientId });
  }

  async shutdown(): Promise<void> {
    if (this.state !== 'RUNNING') {
      this.state = 'SHUTDOWN';
      return;
    }
    this.state = 'SHUTDOWN';
    await this.instance?.unregisterProducer(this.group);
    this.log.info('producer.shutdown', 'producer shut down', { group: this.group });
  }

  // ------------------------------------------------------------------ ProducerInner

  publishTopics(): string[] {
    return [...this.topics];
  }

  updateTopicPublishInfo(topic: string, info: TopicPublishInfo): void {
    this.publishInfo.set(topic, info);
  }

  // ------------------------------------------------------------------ API

  /** Sends and waits for the broker's answer; retries on another broker after retriable failures. */
  send(msg: Message | readonly Message[], opts: SendOptions = {}): Promise<SendResult> {
    return this.sendImpl(msg, 'SYNC', opts) as Promise<SendResult>;
  }

  /** Sends in the background and reports through the callback (never throws). */
  sendAsync(msg: Message | readonly Message[], callback: SendCallback, opts: SendOptions = {}): void {
    (this.sendImpl(msg, 'ASYNC', opts) as Promise<SendResult>).then(
      (r) => callback.onSuccess(r),
      (e: unknown) => callback.onException(e instanceof Error ? e : new Error(String(e))),
    );
  }

  /** Sends without waiting for the broker's answer (no result, no retry). */
  async sendOneway(msg: Message | readonly Message[], opts: SendOptions = {}): Promise<void> {
    await this.sendImpl(msg, 'ONEWAY', opts);
  }

  /**
   * Cancels a timer (delay) message before it is due, by the recallHandle of its SendResult. Resolves
   * with the recalled message's id; a handle that is malformed, of another topic, or whose time has
   * passed is refused by the broker (ILLEGAL_OPERATION).
   */
  async recallMessage(topic: string, recallHandle: string): Promise<string> {
    this.ensureRunning();
    const bad = validateTopicName(topic);
    if (bad) throw illegalArgument(`the topic is invalid: ${bad}`);
    const h = decodeRecallHandle(recallHandle);
    if (h instanceof Error) throw illegalArgument(h.message);
    const inst = this.clientInstance;
    let addr = inst.findBrokerAddressInPublish(h.brokerName);
    if (addr === undefined) {
      await inst.updateTopicRouteFromNameServer(topic);
      addr = inst.findBrokerAddressInPublish(h.brokerName);
    }
    if (addr === undefined) {
      throw new MQClientError(ResponseCode.RPC_ADDR_IS_NULL, `The broker[${h.brokerName}] not exist (no master address in the route)`, { retriable: true });
    }
    return inst.api.recallMessage(addr, { producerGroup: this.group, topic, recallHandle, bname: h.brokerName }, this.o.sendMsgTimeoutMs);
  }

  /** The queues a topic can be written to (fetches the route when needed). */
  async fetchPublishMessageQueues(topic: string): Promise<MessageQueue[]> {
    this.ensureRunning();
    const info = await this.findPublishInfo(topic);
    if (!info) throw noRouteError(topic, this.clientInstance.api.getNamesrvAddrs());
    return [...info.messageQueues];
  }

  // ------------------------------------------------------------------ internals

  protected get isRunning(): boolean {
    return this.state === 'RUNNING';
  }

  protected ensureRunning(): void {
    if (this.state !== 'RUNNING') throw notRunningError('producer', this.state);
  }

  private validate(msg: Message): void {
    const bad = validateTopicName(msg.topic);
    if (bad) throw illegalArgument(`the topic is invalid: ${bad}`);
    if (
      msg.topic === TopicValidator.RMQ_SYS_SCHEDULE_TOPIC ||
      msg.topic === TopicValidator.RMQ_SYS_TRANS_HALF_TOPIC ||
      msg.topic === TopicValidator.RMQ_SYS_SELF_TEST_TOPIC ||
      msg.topic === TopicValidator.RMQ_SYS_OFFSET_MOVED_EVENT
    ) {
      throw illegalArgument(`the topic[${msg.topic}] is a system topic; sending to it is not allowed`);
    }
    if (!Buffer.isBuffer(msg.body) || msg.body.length === 0) throw illegalArgument('the message body is empty');
    if (msg.body.length > this.o.maxMessageSize) throw illegalArgument(`the message body size ${msg.body.length} is over the limit ${this.o.maxMessageSize}`);
  }

  private async sendImpl(input: Message | readonly Message[], mode: Mode, opts: SendOptions): Promise<SendResult | undefined> {
    this.ensureRunning();
    const started = Date.now();
    const timeoutMs = opts.timeoutMs ?? this.o.sendMsgTimeoutMs;
    const batch = Array.isArray(input) ? this.prepareBatch(input as readonly Message[]) : undefined;
    const msg = batch ? batch.template : (input as Message);
    if (!batch) {
      this.validate(msg);
      if (msg.getUniqKey() === undefined) msg.setUniqKey(uniqGenerator!.next());
    }
    const info = await this.findPublishInfo(msg.topic);
    if (!info || info.messageQueues.length === 0) throw noRouteError(msg.topic, this.clientInstance.api.getNamesrvAddrs());

    const selector = opts.selector ?? (opts.shardingKey !== undefined ? selectMessageQueueByHash : undefined);
    const fixed = opts.queue !== undefined || selector !== undefined;
    const times = fixed || mode === 'ONEWAY' ? 1 : 1 + (mode === 'SYNC' ? this.o.retryTimesWhenSendFailed : this.o.retryTimesWhenSendAsyncFailed);
    let lastBroker: string | undefined;
    let lastError: unknown;
    for (let attempt = 0; attempt < times; attempt++) {
      const left = timeoutMs - (Date.now() - started);
      if (left <= 0) break;
      const mq = opts.queue ?? (selector ? selector(info.messageQueues, msg, opts.shardingKey ?? opts.arg) : this.selectOneMessageQueue(info, lastBroker));
      const t0 = Date.now();
      try {
        const r = await this.sendKernel(msg, batch?.body, batch?.uniqKeys, mq, mode, left);
        if (this.o.sendLatencyFaultEnable) this.fault.update(mq.brokerName, Date.now() - t0, false);
        if (r && r.sendStatus !== 'SEND_OK' && mode === 'SYNC' && this.o.retryAnotherBrokerWhenNotStoreOK && attempt + 1 < times) {
          lastBroker = mq.brokerName;
          continue;
        }
        return r;
      } catch (e) {
        if (this.o.sendLatencyFaultEnable) this.fault.update(mq.brokerName, Date.now() - t0, true);
        lastError = e;
        lastBroker = mq.brokerName;
        if (!isRetriable(e) || attempt + 1 >= times) throw e;
        this.log.warn(
          'send.retry',
          'send failed, retrying on another queue',
          { topic: msg.topic, brokerName: mq.brokerName, queueId: mq.queueId, attempt: attempt + 1 },
          e,
        );
      }
    }
    if (lastError !== undefined) throw lastError;
    throw new MQClientError(ResponseCode.RPC_TIME_OUT, `sending to ${msg.topic} timed out after ${timeoutMs} ms`);
  }

  /** The topic auto-creation template (TBW102 unless configured): every broker that allows auto-creation serves it. */
  protected get createTopicKey(): string {
    return this.o.createTopicKey;
  }

  private async findPublishInfo(topic: string): Promise<TopicPublishInfo | undefined> {
    let info = this.publishInfo.get(topic);
    if (info && info.messageQueues.length > 0) return info;
    this.topics.add(topic);
    const inst = this.clientInstance;
    await inst.updateTopicRouteFromNameServer(topic);
    info = this.publishInfo.get(topic);
    if (info && info.messageQueues.length > 0) return info;
    await inst.updateTopicRouteFromNameServer(topic, this.o.defaultTopicQueueNums, this.o.createTopicKey);
    return this.publishInfo.get(topic);
  }

  /** Round robin over queues, skipping avoided brokers and the broker that just failed. */
  private selectOneMessageQueue(info: TopicPublishInfo, lastBroker: string | undefined): MessageQueue {
    const qs = info.messageQueues;
    const n = qs.length;
    const next = (): MessageQueue => qs[(this.sendWhichQueue++ & 0x7fffffff) % n]!;
    if (this.o.sendLatencyFaultEnable) {
      for (let i = 0; i < n; i++) {
        const mq = next();
        if (this.fault.isAvailable(mq.brokerName) && mq.brokerName !== lastBroker) return mq;
      }
      for (let i = 0; i < n; i++) {
        const mq = next();
        if (this.fault.isAvailable(mq.brokerName)) return mq;
      }
      for (let i = 0; i < n; i++) {
        const mq = next();
        if (mq.brokerName !== lastBroker) return mq;
      }
      return next();
    }
    if (lastBroker === undefined) return next();
    for (let i = 0; i < n; i++) {
      const mq = next();
      if (mq.brokerName !== lastBroker) return mq;
    }
    return next();
  }

  private prepareBatch(msgs: readonly Message[]): { template: Message; body: Buffer; uniqKeys: string[] } {
    if (msgs.length === 0) throw illegalArgument('the batch is empty');
    const first = msgs[0]!;
    for (const m of msgs) {
      this.validate(m);
      if (m.topic !== first.topic) throw illegalArgument('all messages of a batch must have the same topic');
      if (m.getDelayTimeLevel() > 0) throw illegalArgument('delay messages can not be sent in a batch');
      if (m.topic.startsWith(MixAll.RETRY_GROUP_TOPIC_PREFIX)) throw illegalArgument('retry topic messages can not be sent in a batch');
      if (m.isWaitStoreMsgOK() !== first.isWaitStoreMsgOK()) throw illegalArgument('all messages of a batch must have the same waitStoreMsgOK');
      if (m.getUniqKey() === undefined) m.setUniqKey(uniqGenerator!.next());
    }
    const body = encodeBatchBody(msgs.map((m) => ({ flag: m.flag, body: m.body, properties: m.properties })));
    if (body.length > this.o.maxMessageSize) throw illegalArgument(`the batch size ${body.length} is over the limit ${this.o.maxMessageSize}; split it`);
    const template = new Message(first.topic, body);
    if (!first.isWaitStoreMsgOK()) template.setWaitStoreMsgOK(false);
    return { template, body, uniqKeys: msgs.map((m) => m.getUniqKey()!) };
  }

  private async sendKernel(
    msg: Message,
    batchBody: Buffer | undefined,
    batchKeys: string[] | undefined,
    mq: MessageQueue,
    mode: Mode,
    timeoutMs: number,
  ): Promise<SendResult | undefined> {
    const inst = this.clientInstance;
    let addr = inst.findBrokerAddressInPublish(mq.brokerName);
    if (addr === undefined) {
      await inst.updateTopicRouteFromNameServer(mq.topic);
      addr = inst.findBrokerAddressInPublish(mq.brokerName);
    }
    if (addr === undefined) {
      throw new MQClientError(ResponseCode.RPC_ADDR_IS_NULL, `The broker[${mq.brokerName}] not exist (no master address in the route)`, { retriable: true });
    }

    let sysFlag = 0;
    let body = batchBody ?? msg.body;
    if (!batchBody && body.length > this.o.compressMsgBodyOverHowmuch) {
      const z = deflateSync(body, { level: this.o.compressLevel });
      if (z.length < body.length) {
        body = z;
        sysFlag |= MessageSysFlag.COMPRESSED_FLAG | MessageSysFlag.COMPRESSION_ZLIB_TYPE;
      }
    }
    // A transaction's half message (TRAN_MSG, set by TransactionProducer) travels as PREPARED.
    if (msg.properties.get(MessageConst.PROPERTY_TRANSACTION_PREPARED)?.toLowerCase() === 'true') sysFlag |= MessageSysFlag.TRANSACTION_PREPARED_TYPE;
    const props: MessageProperties = new Map(msg.properties);
    const header: SendMessageRequest = {
      producerGroup: this.group,
      topic: msg.topic,
      defaultTopic: this.o.createTopicKey,
      defaultTopicQueueNums: this.o.defaultTopicQueueNums,
      queueId: mq.queueId,
      sysFlag,
      bornTimestamp: Date.now(),
      flag: msg.flag,
      reconsumeTimes: 0,
      unitMode: false,
      batch: batchBody !== undefined,
      bname: mq.brokerName,
    };
    if (msg.topic.startsWith(MixAll.RETRY_GROUP_TOPIC_PREFIX)) {
      const rt = props.get(MessageConst.PROPERTY_RECONSUME_TIME);
      if (rt !== undefined) {
        header.reconsumeTimes = Number(rt) || 0;
        props.delete(MessageConst.PROPERTY_RECONSUME_TIME);
      }
      const max = props.get(MessageConst.PROPERTY_MAX_RECONSUME_TIMES);
      if (max !== undefined) {
        header.maxReconsumeTimes = Number(max) || 0;
        props.delete(MessageConst.PROPERTY_MAX_RECONSUME_TIMES);
      }
    }
    header.properties = encodeProperties(props);
    const r = await inst.api.sendMessage(addr, mq.brokerName, header, body, {
      batch: batchBody !== undefined,
      v1Header: this.o.useV1Header,
      oneway: mode === 'ONEWAY',
      timeoutMs,
    });
    if (r) r.msgId = batchKeys ? batchKeys.join(',') : (msg.getUniqKey() ?? r.offsetMsgId);
    return r;
  }
}
