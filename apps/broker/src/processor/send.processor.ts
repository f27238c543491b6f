import { Inject, Injectable } from '@nestjs/common';
import { MessageConst, MessageSysFlag, encodeRecallHandle, type SocketAddress } from '@rocketmq-ts/common';
import {
  ConsumerSendMsgBackRequestHeader,
  HeaderError,
  MixAll,
  PermName,
  RemotingCommand,
  RequestCode,
  ResponseCode,
  SendMessageRequestHeader,
  TopicValidator,
  createUniqId,
  decodeSendHeaderV2,
  decodeBatchBodyRaw,
  findProperty,
  validateTopicName,
  type SendMessageRequest,
} from '@rocketmq-ts/protocol';
import { type RemotingConnection } from '@rocketmq-ts/remoting';
import { RemotingHandler } from '@rocketmq-ts/remoting/nest';
import { PutMessageStatus, type MessageStoreConfig, type PutMessageRequest, type PutMessageResult } from '@rocketmq-ts/store';
import type { BrokerConfig } from '../config.js';
import type { MessageStore } from '@rocketmq-ts/store';
import { TopicConfigManager } from '../topic/topic-config-manager.js';
import { SubscriptionGroupManager } from '../subscription/subscription-group-manager.js';
import { BrokerMetrics, type MessageType } from '../metrics/broker-metrics.js';
import { BrokerState } from '../broker-state.js';
import { RePutService } from '../message/reput.service.js';
import { TransactionalMessageService, isStored } from '../transaction/transactional-message.service.js';
import { BROKER_CONFIG, MESSAGE_STORE } from '../tokens.js';

const SEP1 = '\u0001';
const SEP2 = '\u0002';
/** Topics producers may not write to directly. */
const NOT_ALLOWED = new Set<string>([
  TopicValidator.RMQ_SYS_SCHEDULE_TOPIC,
  TopicValidator.RMQ_SYS_TRANS_HALF_TOPIC,
  TopicValidator.RMQ_SYS_TRANS_OP_HALF_TOPIC,
  TopicValidator.RMQ_SYS_TRANS_CHECK_MAX_TIME_TOPIC,
  TopicValidator.RMQ_SYS_SELF_TEST_TOPIC,
  TopicValidator.RMQ_SYS_OFFSET_MOVED_EVENT,
  // Its messages need the broker's TIMER_OUT_MS / REAL_TOPIC: only the put-time transform writes there.
  TopicValidator.RMQ_SYS_WHEEL_TIMER_TOPIC,
]);

const bornHosts = new WeakMap<object, SocketAddress>();
/** The client's address as a SocketAddress, parsed once per connection. */
export function bornHostOf(conn: RemotingConnection): SocketAddress {
  let h = bornHosts.get(conn);
  if (!h) {
    const a = conn.remoteAddress;
    const i = a.lastIndexOf(':');
    let address = a.slice(0, i);
    if (address.startsWith('::ffff:')) address = address.slice(7);
    h = { address: address === '' || address === '?' ? '127.0.0.1' : address, port: Number(a.slice(i + 1)) || 0 };
    bornHosts.set(conn, h);
  }
  return h;
}

/** What the timer statuses' remarks name (RocketMQ prints them). */
type TimerLimits = Pick<MessageStoreConfig, 'timerMaxDelaySec' | 'timerCongestNumEachSlot' | 'timerWheelEnable'>;

/** Store status → response code and remark (remoting.md §3.2). */
export function putStatusReply(status: PutMessageStatus, timer?: TimerLimits): [number, string | null] {
  switch (status) {
    case PutMessageStatus.PUT_OK:
      return [ResponseCode.SUCCESS, null];
    case PutMessageStatus.FLUSH_DISK_TIMEOUT:
      return [ResponseCode.FLUSH_DISK_TIMEOUT, 'flush disk timeout'];
    case PutMessageStatus.FLUSH_SLAVE_TIMEOUT:
      return [ResponseCode.FLUSH_SLAVE_TIMEOUT, 'flush slave timeout'];
    case PutMessageStatus.SLAVE_NOT_AVAILABLE:
      return [ResponseCode.SLAVE_NOT_AVAILABLE, 'slave not available'];
    case PutMessageStatus.MESSAGE_ILLEGAL:
    case PutMessageStatus.PROPERTIES_SIZE_EXCEEDED:
      return [ResponseCode.MESSAGE_ILLEGAL, 'the message is illegal, maybe msg body or properties length not matched'];
    case PutMessageStatus.SERVICE_NOT_AVAILABLE:
      return [ResponseCode.SERVICE_NOT_AVAILABLE, 'service not available now, maybe the broker is shutting down or is a slave'];
    case PutMessageStatus.OS_PAGE_CACHE_BUSY:
      return [ResponseCode.SYSTEM_BUSY, '[PC_SYNCHRONIZED]broker busy, start flow control for a while'];
    case PutMessageStatus.DISK_FULL:
      return [ResponseCode.DISK_FULL, 'the disk is nearly full; writes are refused until space is freed'];
    case PutMessageStatus.WHEEL_TIMER_MSG_ILLEGAL:
      return [
        ResponseCode.MESSAGE_ILLEGAL,
        `timer message illegal, the delay time should not be bigger than the max delay ${(timer?.timerMaxDelaySec ?? 259_200) * 1000}ms; or if set del msg, the delay time should be bigger than the current time`,
      ];
    case PutMessageStatus.WHEEL_TIMER_FLOW_CONTROL: {
      const n = timer?.timerCongestNumEachSlot ?? 2_147_483_647;
      return [
        ResponseCode.SYSTEM_ERROR,
        `timer message is under flow control, max num limit is ${n * 2} or the current value is greater than ${n} and less than ${n * 2}, trigger random flow control`,
      ];
    }
    case PutMessageStatus.WHEEL_TIMER_NOT_ENABLE:
      return [ResponseCode.SYSTEM_ERROR, `accurate timer message is not enabled, timerWheelEnable is ${String(timer?.timerWheelEnable ?? false)}`];
    default:
      return [ResponseCode.SYSTEM_ERROR, `store error: ${status}`];
  }
}

/**
 * SEND_MESSAGE, SEND_MESSAGE_V2, SEND_BATCH_MESSAGE and CONSUMER_SEND_MSG_BACK. The properties
 * string from the wire is stored as is, with the broker's additions appended; no JSON and no
 * property map on the normal path.
 */
@Injectable()
export class SendMessageProcessor {
  private readonly clusterProp: string;

  constructor(
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
    @Inject(MESSAGE_STORE) private readonly store: MessageStore,
    private readonly topics: TopicConfigManager,
    private readonly groups: SubscriptionGroupManager,
    private readonly metrics: BrokerMetrics,
    private readonly state: BrokerState,
    private readonly reput: RePutService,
    private readonly tx: TransactionalMessageService,
  ) {
    this.clusterProp = MessageConst.PROPERTY_CLUSTER + SEP1 + this.config.brokerClusterName + SEP2;
  }

  private get regionId(): string {
    return this.config.regionId;
  }

  private get traceOn(): string {
    return this.config.traceOn ? 'true' : 'false';
  }

  /**
   * Not async: with ASYNC_FLUSH the store answers at once and the reply is returned as a value,
   * so a send costs no promise chain; a promise comes back only when the store has to wait.
   */
  @RemotingHandler(RequestCode.SEND_MESSAGE, RequestCode.SEND_MESSAGE_V2, RequestCode.SEND_BATCH_MESSAGE)
  send(req: RemotingCommand, conn: RemotingConnection): RemotingCommand | Promise<RemotingCommand> {
    const busy = this.flowControl(conn);
    if (busy !== null) return this.fail(req, ResponseCode.SYSTEM_BUSY, busy);
    let res = this.sendMessage(req, conn);
    // A topic created by this send or a concurrent one (auto-create, retry, DLQ) is in topics.json
    // before the reply: a message acknowledged on a topic the broker forgets in a crash is lost.
    const topics = this.topics;
    if (topics.persistPending) res = Promise.all([res, topics.whenPersisted()]).then(([r]) => r);
    if (res instanceof Promise) {
      this.waitingSends++;
      res = res.finally(this.sendSettled);
    }
    return res;
  }

  /** Sends waiting on the store (roll, fdatasync, slaves) or on topics.json: the send queue. */
  private waitingSends = 0;
  private readonly sendSettled = (): void => {
    this.waitingSends--;
  };

  /** Sends waiting now (tests, metrics). */
  get sendQueueSize(): number {
    return this.waitingSends;
  }

  /**
   * RocketMQ's flow control, without its thread pool: the SYSTEM_BUSY remark when this send is
   * refused, else null. The "queue" is what a send waits in here: the time since its bytes were
   * read off the socket (frames of one read are processed in turn), and the sends still waiting
   * on the store. Nothing is stored for a refused send.
   */
  private flowControl(conn: RemotingConnection): string | null {
    const c = this.config;
    if (this.waitingSends >= c.sendThreadPoolQueueCapacity) {
      return `[OVERLOAD]system busy, start flow control for a while, size of queue: ${this.waitingSends}`;
    }
    if (!c.brokerFastFailureEnable) return null;
    const store = this.store;
    const stall = store.writeStallMillis();
    const readAt = conn.lastReadAt;
    const waited = readAt > 0 ? performance.now() - readAt : 0;
    if (stall > c.store.osPageCacheBusyTimeOutMills) {
      return `[PCBUSY_CLEAN_QUEUE]broker busy, start flow control for a while, period in queue: ${Math.round(waited)}ms, size of queue: ${store.waitingAppends()}`;
    }
    if (waited > c.waitTimeMillsInSendQueue) {
      return `[TIMEOUT_CLEAN_QUEUE]broker busy, start flow control for a while, period in queue: ${Math.round(waited)}ms, size of queue: ${this.waitingSends}`;
    }
    return null;
  }

  private sendMessage(req: RemotingCommand, conn: RemotingConnection): RemotingCommand | Promise<RemotingCommand> {
    let h: SendMessageRequest;
    try {
      h = req.code === RequestCode.SEND_MESSAGE ? SendMessageRequestHeader.decode(req.extFields) : decodeSendHeaderV2(req.extFields);
    } catch (e) {
      // Java answers a header that does not decode with SYSTEM_ERROR; keep the send-reply extFields anyway.
      if (e instanceof HeaderError) return this.fail(req, ResponseCode.SYSTEM_ERROR, e.message);
      throw e;
    }
    const batch = req.code === RequestCode.SEND_BATCH_MESSAGE || h.batch === true;
    const fail = (code: number, remark: string): RemotingCommand => this.fail(req, code, remark);

    const rejected = this.checkBroker();
    if (rejected) return fail(rejected[0], rejected[1]);
    if (NOT_ALLOWED.has(h.topic)) return fail(ResponseCode.NO_PERMISSION, `Sending message to topic[${h.topic}] is forbidden.`);

    let topic = h.topic;
    let tc = this.topics.get(topic);
    if (!tc) {
      // Known topics were validated when created; only a new name is checked (hot path).
      const topicProblem = validateTopicName(topic);
      if (topicProblem) return fail(ResponseCode.INVALID_PARAMETER, topicProblem);
      if (topic.startsWith(MixAll.RETRY_GROUP_TOPIC_PREFIX)) {
        const g = this.groups.find(topic.slice(MixAll.RETRY_GROUP_TOPIC_PREFIX.length));
        if (g) tc = this.topics.createIfMissing(topic, g.retryQueueNums, PermName.PERM_READ | PermName.PERM_WRITE);
      } else {
        tc = this.topics.createOnSend(topic, h.defaultTopic, h.defaultTopicQueueNums, 0) ?? undefined;
      }
      if (!tc) return fail(ResponseCode.TOPIC_NOT_EXIST, `topic[${topic}] not exist, apply first please!`);
    }
    if ((tc.perm & PermName.PERM_WRITE) === 0) return fail(ResponseCode.NO_PERMISSION, `the topic[${topic}] sending message is forbidden`);
    let queueId = h.queueId;
    const queueNums = Math.max(tc.readQueueNums, tc.writeQueueNums);
    if (queueId < 0) queueId = Math.floor(Math.random() * tc.writeQueueNums);
    if (queueId >= queueNums) return fail(ResponseCode.INVALID_PARAMETER, `request queueId[${h.queueId}] is illegal, ${topic} has ${queueNums} queues`);

    const body = req.body ?? Buffer.alloc(0);
    if (!batch && body.length > this.config.store.maxMessageSize) {
      return fail(ResponseCode.MESSAGE_ILLEGAL, `the message body size over max value, MAX: ${this.config.store.maxMessageSize}`);
    }
    let props = h.properties ?? '';
    let sysFlag = h.sysFlag;
    const reconsumeTimes = h.reconsumeTimes ?? 0;

    // Retry topic: past the group's limit the message goes to the dead-letter queue instead.
    if (topic.startsWith(MixAll.RETRY_GROUP_TOPIC_PREFIX) && !batch) {
      const group = topic.slice(MixAll.RETRY_GROUP_TOPIC_PREFIX.length);
      const g = this.groups.find(group);
      const max = h.maxReconsumeTimes ?? g?.retryMaxTimes ?? 16;
      if (reconsumeTimes > max || findProperty(props, MessageConst.PROPERTY_DELAY_TIME_LEVEL) === '-1') {
        topic = MixAll.DLQ_GROUP_TOPIC_PREFIX + group;
        this.topics.createIfMissing(topic, 1, PermName.PERM_READ | PermName.PERM_WRITE);
        queueId = 0;
        props = removeProperty(props, MessageConst.PROPERTY_DELAY_TIME_LEVEL);
      }
    }

    if (batch) {
      if (topic.startsWith(MixAll.RETRY_GROUP_TOPIC_PREFIX)) return fail(ResponseCode.MESSAGE_ILLEGAL, 'batch request does not support retry group ' + topic);
      return this.putBatch(req, h, topic, queueId, body, conn);
    }

    if (findProperty(props, MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX) === undefined) {
      props = appendProperty(props, MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX, createUniqId());
    }
    props = ensureTrailingSeparator(props) + this.clusterProp;

    // Delayed delivery: park the message in SCHEDULE_TOPIC_XXXX, queue level-1. The reply names
    // the queue the producer chose, as RocketMQ's does.
    const replyQueueId = queueId;
    const tx = sysFlag & MessageSysFlag.TRANSACTION_TYPE_MASK;
    // A transaction's half message waits, invisible, in RMQ_SYS_TRANS_HALF_TOPIC queue 0 until
    // END_TRANSACTION: the real topic and queue ride along, the transaction bits are cleared so the
    // half gets a consume-queue unit of its own, and its transaction id is its UNIQ_KEY.
    const half = findProperty(props, MessageConst.PROPERTY_TRANSACTION_PREPARED) === 'true';
    if (half) {
      if (this.config.rejectTransactionMessage) {
        return fail(ResponseCode.NO_PERMISSION, `the broker[${this.config.brokerName}] sending transaction message is forbidden`);
      }
      const uniq = findProperty(props, MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX) ?? '';
      props +=
        MessageConst.PROPERTY_TRANSACTION_ID +
        SEP1 +
        uniq +
        SEP2 +
        MessageConst.PROPERTY_REAL_TOPIC +
        SEP1 +
        topic +
        SEP2 +
        MessageConst.PROPERTY_REAL_QUEUE_ID +
        SEP1 +
        queueId +
        SEP2;
      topic = TopicValidator.RMQ_SYS_TRANS_HALF_TOPIC;
      queueId = 0;
      sysFlag &= ~MessageSysFlag.TRANSACTION_TYPE_MASK;
    } else if (tx === MessageSysFlag.TRANSACTION_NOT_TYPE || tx === MessageSysFlag.TRANSACTION_COMMIT_TYPE) {
      const delay = findProperty(props, MessageConst.PROPERTY_DELAY_TIME_LEVEL);
      if (delay !== undefined) {
        const level = Math.min(Number.parseInt(delay, 10) || 0, this.state.delayLevels.length);
        if (level > 0) {
          props = replaceProperty(props, MessageConst.PROPERTY_DELAY_TIME_LEVEL, String(level));
          props += MessageConst.PROPERTY_REAL_TOPIC + SEP1 + topic + SEP2 + MessageConst.PROPERTY_REAL_QUEUE_ID + SEP1 + queueId + SEP2;
          topic = TopicValidator.RMQ_SYS_SCHEDULE_TOPIC;
          queueId = level - 1;
        }
      }
    }
    if (tx === MessageSysFlag.TRANSACTION_PREPARED_TYPE && this.config.rejectTransactionMessage) {
      return fail(ResponseCode.NO_PERMISSION, `the broker[${this.config.brokerName}] sending transaction message is forbidden`);
    }

    const put: PutMessageRequest = {
      topic,
      queueId,
      body,
      flag: h.flag,
      propertiesString: props,
      sysFlag,
      bornTimestamp: h.bornTimestamp,
      bornHost: bornHostOf(conn),
      reconsumeTimes,
    };
    // A timer message comes back stored in rmq_sys_wheel_timer (the store's put-time transform): the
    // reply names the requested queue and the offset in the timer queue, as RocketMQ's does.
    const r = this.store.putMessageNow(put);
    const replyTopic = h.topic;
    const txId = transactionIdOf(props, sysFlag);
    const type = messageTypeOf(h.properties ?? '');
    if (half) {
      const born = h.bornTimestamp;
      const noted = (res: PutMessageResult): RemotingCommand => {
        if (res.appendResult !== undefined && isStored(res.status)) this.tx.noteHalf(props, res.appendResult, born);
        return this.reply(req, res, replyTopic, replyQueueId, body.length, 1, txId, type);
      };
      return r instanceof Promise ? r.then(noted) : noted(r);
    }
    if (r instanceof Promise) {
      return r.then((res) => this.reply(req, res, replyTopic, replyQueueId, body.length, 1, txId, type, this.recallHandleOf(res, replyTopic, props)));
    }
    return this.reply(req, r, replyTopic, replyQueueId, body.length, 1, txId, type, this.recallHandleOf(r, replyTopic, props));
  }

  /** A timer message's recall handle (RECALL_MESSAGE cancels it by this); none for other messages and retries. */
  private recallHandleOf(r: PutMessageResult, topic: string, props: string): string | undefined {
    if (r.timerOutMs === undefined || topic.startsWith(MixAll.RETRY_GROUP_TOPIC_PREFIX)) return undefined;
    const uniq = findProperty(props, MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX);
    return uniq === undefined ? undefined : encodeRecallHandle(topic, this.config.brokerName, r.timerOutMs + 1, uniq);
  }

  private putBatch(
    req: RemotingCommand,
    h: SendMessageRequest,
    topic: string,
    queueId: number,
    body: Buffer,
    conn: RemotingConnection,
  ): RemotingCommand | Promise<RemotingCommand> {
    let entries;
    try {
      entries = decodeBatchBodyRaw(body);
    } catch (e) {
      return RemotingCommand.responseTo(req, ResponseCode.MESSAGE_ILLEGAL, `bad batch body: ${(e as Error).message}`, {
        MSG_REGION: this.regionId,
        TRACE_ON: this.traceOn,
      });
    }
    if (entries.length === 0) {
      return RemotingCommand.responseTo(req, ResponseCode.MESSAGE_ILLEGAL, 'empty batch', { MSG_REGION: this.regionId, TRACE_ON: this.traceOn });
    }
    const bornHost = bornHostOf(conn);
    const max = this.config.store.maxMessageSize;
    const msgs: PutMessageRequest[] = [];
    let bytes = 0;
    for (const e of entries) {
      if (e.body.length > max) {
        return RemotingCommand.responseTo(req, ResponseCode.MESSAGE_ILLEGAL, `the message body size over max value, MAX: ${max}`, {
          MSG_REGION: this.regionId,
          TRACE_ON: this.traceOn,
        });
      }
      let props = e.propertiesString;
      if (findProperty(props, MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX) === undefined) {
        props = appendProperty(props, MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX, createUniqId());
      }
      msgs.push({
        topic,
        queueId,
        body: e.body,
        flag: e.flag,
        propertiesString: ensureTrailingSeparator(props) + this.clusterProp,
        sysFlag: h.sysFlag,
        bornTimestamp: h.bornTimestamp,
        bornHost,
      });
      bytes += e.body.length;
    }
    const r = this.store.putMessagesNow(msgs);
    if (r instanceof Promise) return r.then((res) => this.reply(req, res, topic, queueId, bytes, msgs.length));
    return this.reply(req, r, topic, queueId, bytes, msgs.length);
  }

  /** An error reply; send replies always carry MSG_REGION and TRACE_ON (Java reads them unchecked). */
  private fail(req: RemotingCommand, code: number, remark: string): RemotingCommand {
    return RemotingCommand.responseTo(req, code, remark, { MSG_REGION: this.regionId, TRACE_ON: this.traceOn });
  }

  private reply(
    req: RemotingCommand,
    r: PutMessageResult,
    topic: string,
    queueId: number,
    bytes: number,
    n: number,
    transactionId?: string,
    type: MessageType = 'normal',
    recallHandle?: string,
  ): RemotingCommand {
    const [code, remark] = putStatusReply(r.status, this.config.store);
    const a = r.appendResult;
    if (
      a === undefined ||
      (code !== ResponseCode.SUCCESS &&
        code !== ResponseCode.FLUSH_DISK_TIMEOUT &&
        code !== ResponseCode.FLUSH_SLAVE_TIMEOUT &&
        code !== ResponseCode.SLAVE_NOT_AVAILABLE)
    ) {
      return this.fail(req, code, remark ?? r.status);
    }
    // Stored (maybe with a flush/replica warning): msgId, queueId and queueOffset are required by clients.
    const ext: Record<string, string> = {
      MSG_REGION: this.regionId,
      TRACE_ON: this.traceOn,
      msgId: a.msgId,
      queueId: String(queueId),
      queueOffset: String(a.logicsOffset),
    };
    if (transactionId !== undefined) ext['transactionId'] = transactionId;
    if (recallHandle !== undefined) ext['recallHandle'] = recallHandle;
    this.metrics.messagesIn(topic, n, bytes, type);
    return RemotingCommand.responseTo(req, code, remark, ext);
  }

  /** [code, remark] when this broker takes no writes, else null. */
  private checkBroker(): [number, string] | null {
    if (!this.state.isMaster) return [ResponseCode.SYSTEM_BUSY, '[REJECTREQUEST]system busy, start flow control for a while: this broker is a slave'];
    if ((this.config.brokerPermission & PermName.PERM_WRITE) === 0) {
      return [ResponseCode.NO_PERMISSION, `the broker[${this.config.brokerName}] sending message is forbidden`];
    }
    if (this.state.state !== 'running') return [ResponseCode.SERVICE_NOT_AVAILABLE, 'the broker is not running'];
    return null;
  }

  /**
   * CONSUMER_SEND_MSG_BACK: a consumer failed a message. It goes back to the group's retry
   * topic through the delay levels (3 + reconsumeTimes), or to the dead-letter queue once it has
   * been retried maxReconsumeTimes times.
   */
  @RemotingHandler(RequestCode.CONSUMER_SEND_MSG_BACK)
  async sendBack(req: RemotingCommand): Promise<RemotingCommand> {
    const h = ConsumerSendMsgBackRequestHeader.decode(req.extFields);
    const rejected = this.checkBroker();
    if (rejected) return RemotingCommand.responseTo(req, rejected[0], rejected[1]);
    const g = this.groups.find(h.group);
    if (!g) return RemotingCommand.responseTo(req, ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST, `subscription group not exist, ${h.group}`);
    if (g.retryQueueNums <= 0) return RemotingCommand.responseTo(req, ResponseCode.SUCCESS); // the group keeps no retries
    const retryTopic = MixAll.RETRY_GROUP_TOPIC_PREFIX + h.group;
    const retryConfig = this.topics.createIfMissing(retryTopic, g.retryQueueNums, PermName.PERM_READ | PermName.PERM_WRITE);
    if ((retryConfig.perm & PermName.PERM_WRITE) === 0) {
      return RemotingCommand.responseTo(req, ResponseCode.NO_PERMISSION, `the topic[${retryTopic}] sending message is forbidden`);
    }
    const m = await this.store.lookMessageByOffset(h.offset);
    if (!m) return RemotingCommand.responseTo(req, ResponseCode.SYSTEM_ERROR, `look message by offset failed, ${h.offset}`);
    const props = new Map(m.properties);
    if (!props.has(MessageConst.PROPERTY_RETRY_TOPIC)) props.set(MessageConst.PROPERTY_RETRY_TOPIC, m.topic);
    props.set(MessageConst.PROPERTY_WAIT_STORE_MSG_OK, 'false');
    const max = h.maxReconsumeTimes ?? g.retryMaxTimes;
    let topic = retryTopic;
    let queueId = Math.floor(Math.random() * Math.max(1, retryConfig.writeQueueNums));
    let delayLevel = h.delayLevel;
    props.delete(MessageConst.PROPERTY_REAL_TOPIC);
    props.delete(MessageConst.PROPERTY_REAL_QUEUE_ID);
    if (m.reconsumeTimes >= max || delayLevel < 0) {
      topic = MixAll.DLQ_GROUP_TOPIC_PREFIX + h.group;
      queueId = 0;
      const dlq = this.topics.createIfMissing(topic, 1, PermName.PERM_READ | PermName.PERM_WRITE);
      if ((dlq.perm & PermName.PERM_WRITE) === 0) {
        return RemotingCommand.responseTo(req, ResponseCode.NO_PERMISSION, `the topic[${topic}] sending message is forbidden`);
      }
      props.delete(MessageConst.PROPERTY_DELAY_TIME_LEVEL);
      // Where the dead letter came from, for tools that resend it.
      props.set(MessageConst.PROPERTY_DLQ_ORIGIN_TOPIC, props.get(MessageConst.PROPERTY_RETRY_TOPIC) ?? m.topic);
      props.set(MessageConst.PROPERTY_DLQ_ORIGIN_MESSAGE_ID, props.get(MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX) ?? m.msgId);
    } else {
      if (delayLevel === 0) delayLevel = 3 + m.reconsumeTimes;
      delayLevel = Math.min(delayLevel, this.state.delayLevels.length);
      props.set(MessageConst.PROPERTY_DELAY_TIME_LEVEL, String(delayLevel));
      props.set(MessageConst.PROPERTY_REAL_TOPIC, topic);
      props.set(MessageConst.PROPERTY_REAL_QUEUE_ID, String(queueId));
      topic = TopicValidator.RMQ_SYS_SCHEDULE_TOPIC;
      queueId = delayLevel - 1;
    }
    // The first failure names the stored message (its offset msgId); later ones keep that name.
    if (!props.has(MessageConst.PROPERTY_ORIGIN_MESSAGE_ID)) props.set(MessageConst.PROPERTY_ORIGIN_MESSAGE_ID, m.msgId);
    const r = await this.reput.rePut(m, topic, queueId, props, m.reconsumeTimes + 1);
    await this.topics.whenPersisted(); // the retry or DLQ topic this may have created
    const [code, remark] = putStatusReply(r.status, this.config.store);
    return RemotingCommand.responseTo(req, code, remark);
  }
}

/**
 * The reply's transactionId: the message's `__transactionId__`, or for a transaction half
 * message its UNIQ_KEY (what Java clients then use as the transaction id).
 */
function transactionIdOf(props: string, sysFlag: number): string | undefined {
  const id = findProperty(props, MessageConst.PROPERTY_TRANSACTION_ID);
  if (id !== undefined) return id;
  if ((sysFlag & MessageSysFlag.TRANSACTION_TYPE_MASK) === MessageSysFlag.TRANSACTION_PREPARED_TYPE) {
    return findProperty(props, MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX);
  }
  return undefined;
}

/** The message_type label of rocketmq_messages_in_total (RocketMQ's BrokerMetricsManager.getMessageType). */
export function messageTypeOf(props: string): MessageType {
  if (props.includes(MessageConst.PROPERTY_TRANSACTION_PREPARED) && findProperty(props, MessageConst.PROPERTY_TRANSACTION_PREPARED)?.toLowerCase() === 'true') {
    return 'transaction';
  }
  if (props.includes(MessageConst.PROPERTY_SHARDING_KEY) && findProperty(props, MessageConst.PROPERTY_SHARDING_KEY) !== undefined) return 'fifo';
  // __STARTDELIVERTIME (4.x) is a delivery time too (the store schedules it as TIMER_DELIVER_MS).
  if (props.includes('TIMER_') || props.includes(MessageConst.PROPERTY_DELAY_TIME_LEVEL) || props.includes(MessageConst.PROPERTY_START_DELIVER_TIME)) {
    for (const k of DELAY_KEYS) if (findProperty(props, k) !== undefined) return 'delay';
  }
  return 'normal';
}

const DELAY_KEYS = [
  MessageConst.PROPERTY_START_DELIVER_TIME,
  MessageConst.PROPERTY_DELAY_TIME_LEVEL,
  MessageConst.PROPERTY_TIMER_DELIVER_MS,
  MessageConst.PROPERTY_TIMER_DELAY_SEC,
  MessageConst.PROPERTY_TIMER_DELAY_MS,
];

function ensureTrailingSeparator(props: string): string {
  return props === '' || props.endsWith(SEP2) ? props : props + SEP2;
}

function appendProperty(props: string, key: string, value: string): string {
  return ensureTrailingSeparator(props) + key + SEP1 + value + SEP2;
}

/** Replaces (or adds) one property in an encoded properties string. */
export function replaceProperty(props: string, key: string, value: string): string {
  return appendProperty(removeProperty(props, key), key, value);
}

export function removeProperty(props: string, key: string): string {
  const parts = props.split(SEP2);
  const kept = parts.filter((p) => p !== '' && !p.startsWith(key + SEP1));
  return kept.length === 0 ? '' : kept.join(SEP2) + SEP2;
}
