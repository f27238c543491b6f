import {
  AckMessageRequestHeader,
  ChangeInvisibleTimeRequestHeader,
  ChangeInvisibleTimeResponseHeader,
  ConsumerSendMsgBackRequestHeader,
  EndTransactionRequestHeader,
  GetConsumerListByGroupRequestHeader,
  GetEarliestMsgStoretimeRequestHeader,
  GetEarliestMsgStoretimeResponseHeader,
  GetMaxOffsetRequestHeader,
  GetMinOffsetRequestHeader,
  GetRouteInfoRequestHeader,
  MQError,
  OffsetResponseHeader,
  PopMessageRequestHeader,
  PopMessageResponseHeader,
  PullMessageRequestHeader,
  PullMessageResponseHeader,
  PullSysFlag,
  QueryConsumerOffsetRequestHeader,
  QueryConsumerOffsetResponseHeader,
  RemotingCommand,
  RequestCode,
  ResponseCode,
  SearchOffsetRequestHeader,
  SendMessageRequestHeader,
  SendMessageResponseHeader,
  RecallMessageRequestHeader,
  RecallMessageResponseHeader,
  SerializeType,
  UnregisterClientRequestHeader,
  UpdateConsumerOffsetRequestHeader,
  ViewMessageRequestHeader,
  QueryMessageRequestHeader,
  decodeTopicRouteData,
  jsonEntries,
  parseLenientJson,
  sendHeaderToV2,
  SendMessageRequestHeaderV2,
  type JsonValue,
  type SendMessageRequest,
  type RecallMessageRequest,
  type TopicRouteData,
} from '@rocketmq-ts/protocol';
import type { RemotingClient, RemotingConnection } from '@rocketmq-ts/remoting';
import { MQBrokerError, MQClientError } from './errors.js';
import type { Log } from './logger.js';
import type { MessageQueue } from './message-queue.js';
import { decodeReceivedMessages, type ReceivedMessage } from './received-message.js';

/** POP_MESSAGE's header (remoting.md §3.13). */
export type PopMessageRequest = Parameters<typeof PopMessageRequestHeader.encode>[0];
/** ACK_MESSAGE's header (pop-timer-tx-ha.md §A.2). */
export type AckMessageRequest = Parameters<typeof AckMessageRequestHeader.encode>[0];
/** CHANGE_MESSAGE_INVISIBLETIME's header. */
export type ChangeInvisibleTimeRequest = Parameters<typeof ChangeInvisibleTimeRequestHeader.encode>[0];

/**
 * What one POP_MESSAGE answered, messages still as raw records. FOUND carries the reply header the
 * receipt handles are built from; NO_NEW_MSG is POLLING_TIMEOUT (nothing within the poll time).
 */
export type RawPopResult = { status: 'FOUND'; header: ReturnType<typeof PopMessageResponseHeader.decode>; body: Buffer | null } | { status: 'NO_NEW_MSG' };

/** END_TRANSACTION's header (remoting.md §3.7). */
export type EndTransactionRequest = Parameters<typeof EndTransactionRequestHeader.encode>[0];

export type PullStatus = 'FOUND' | 'NO_NEW_MSG' | 'NO_MATCHED_MSG' | 'OFFSET_ILLEGAL';

/** What one PULL_MESSAGE answered, messages still as raw records. */
export interface RawPullResult {
  status: PullStatus;
  nextBeginOffset: number;
  minOffset: number;
  maxOffset: number;
  suggestWhichBrokerId: number;
  body: Buffer | null;
}

export interface PullRequestArgs {
  consumerGroup: string;
  mq: MessageQueue;
  queueOffset: number;
  maxMsgNums: number;
  sysFlag: number;
  commitOffset: number;
  suspendTimeoutMillis: number;
  subscription?: string | undefined;
  subVersion: number;
  expressionType?: string | undefined;
  maxMsgBytes?: number | undefined;
}

export type SendStatus = 'SEND_OK' | 'FLUSH_DISK_TIMEOUT' | 'FLUSH_SLAVE_TIMEOUT' | 'SLAVE_NOT_AVAILABLE';

export interface SendResult {
  sendStatus: SendStatus;
  /** Client message id(s) (UNIQ_KEY); comma-separated for a batch. */
  msgId: string;
  /** Broker offset message id(s); comma-separated for a batch. */
  offsetMsgId: string;
  messageQueue: MessageQueue;
  /** Consume-queue offset of the (first) message. */
  queueOffset: number;
  transactionId?: string | undefined;
  /** For a timer (delay) message: the handle Producer.recallMessage cancels it with before it is due. */
  recallHandle?: string | undefined;
  regionId?: string | undefined;
  traceOn: boolean;
}

/** fastjson writes MessageQueue-keyed maps with the object as the key; read either form. */
export function readMessageQueueMap(v: JsonValue | undefined): Array<[MessageQueue, JsonValue]> {
  const out: Array<[MessageQueue, JsonValue]> = [];
  for (const [k, x] of jsonEntries(v ?? null)) {
    let ko: JsonValue = k;
    if (typeof k === 'string' && k.startsWith('{')) ko = parseLenientJson(k);
    const o = Object.fromEntries(jsonEntries(ko)) as Record<string, JsonValue>;
    out.push([{ topic: String(o['topic'] ?? ''), brokerName: String(o['brokerName'] ?? ''), queueId: Number(o['queueId'] ?? 0) }, x]);
  }
  return out;
}

function pullStatusOf(code: number): PullStatus {
  switch (code) {
    case ResponseCode.SUCCESS:
      return 'FOUND';
    case ResponseCode.PULL_NOT_FOUND:
      return 'NO_NEW_MSG';
    case ResponseCode.PULL_RETRY_IMMEDIATELY:
      return 'NO_MATCHED_MSG';
    case ResponseCode.PULL_OFFSET_MOVED:
      return 'OFFSET_ILLEGAL';
    default:
      throw new Error(`not a pull status: ${code}`);
  }
}

/**
 * Typed remote calls a client makes (RocketMQ's MQClientAPIImpl): one method per request code,
 * each returning parsed results or throwing MQBrokerError with the answer's code. Name-server
 * calls fail over to the next address when one does not answer.
 */
export class MQClientAPI {
  private namesrvIndex = 0;
  private namesrvAddrs: string[];

  constructor(
    readonly remoting: RemotingClient,
    namesrvAddrs: readonly string[],
    private readonly opts: { timeoutMs: number; language: string; serializeType: 'JSON' | 'ROCKETMQ'; log: Log },
  ) {
    this.namesrvAddrs = [...namesrvAddrs];
    this.namesrvIndex = namesrvAddrs.length > 0 ? Math.floor(Math.random() * namesrvAddrs.length) : 0;
  }

  get timeoutMs(): number {
    return this.opts.timeoutMs;
  }

  getNamesrvAddrs(): readonly string[] {
    return this.namesrvAddrs;
  }

  updateNamesrvAddrs(addrs: readonly string[]): void {
    this.namesrvAddrs = [...addrs];
    this.namesrvIndex = 0;
  }

  /** A request with our language, version and serialisation. */
  request(code: number, ext: Record<string, string> | null = null, body: Buffer | null = null): RemotingCommand {
    const cmd = RemotingCommand.request(code, ext, body);
    cmd.language = this.opts.language;
    if (this.opts.serializeType === 'ROCKETMQ' && code <= 32767) cmd.serializeType = SerializeType.ROCKETMQ;
    return cmd;
  }

  /** Sends to a name server; on a transport failure tries the others in turn. */
  async invokeNamesrv(cmd: RemotingCommand, timeoutMs = this.opts.timeoutMs): Promise<RemotingCommand> {
    const n = this.namesrvAddrs.length;
    if (n === 0) throw new MQClientError(ResponseCode.RPC_ADDR_IS_NULL, 'no name server address: set namesrvAddr (or NAMESRV_ADDR)', { retriable: false });
    let last: unknown;
    for (let i = 0; i < n; i++) {
      const idx = (this.namesrvIndex + i) % n;
      const addr = this.namesrvAddrs[idx]!;
      try {
        // Every attempt needs a fresh opaque: a late answer to the previous one must not match.
        const attempt = i === 0 ? cmd : cloneRequest(cmd);
        const res = await this.remoting.invoke(addr, attempt, timeoutMs);
        if (idx !== this.namesrvIndex) {
          this.opts.log.info('namesrv.switch', `using name server ${addr}`, { previous: this.namesrvAddrs[this.namesrvIndex] });
          this.namesrvIndex = idx;
        }
        return res;
      } catch (e) {
        last = e;
        this.opts.log.warn('namesrv.unreachable', `name server ${addr} did not answer`, { code: cmd.code }, e);
      }
    }
    throw last instanceof Error ? last : new Error(String(last));
  }

  invoke(addr: string, cmd: RemotingCommand, timeoutMs = this.opts.timeoutMs): Promise<RemotingCommand> {
    return this.remoting.invoke(addr, cmd, timeoutMs);
  }

  /** invoke + throw MQBrokerError unless the answer is one of `ok` (default SUCCESS). */
  async call(addr: string, cmd: RemotingCommand, timeoutMs = this.opts.timeoutMs, ok: readonly number[] = [ResponseCode.SUCCESS]): Promise<RemotingCommand> {
    const res = await this.invoke(addr, cmd, timeoutMs);
    if (!ok.includes(res.code)) throw new MQBrokerError(res.code, res.remark, addr);
    return res;
  }

  async callNamesrv(cmd: RemotingCommand, timeoutMs = this.opts.timeoutMs, ok: readonly number[] = [ResponseCode.SUCCESS]): Promise<RemotingCommand> {
    const res = await this.invokeNamesrv(cmd, timeoutMs);
    if (!ok.includes(res.code)) throw new MQBrokerError(res.code, res.remark, 'namesrv');
    return res;
  }

  // ------------------------------------------------------------------ name server

  /** The topic's route, or undefined when the name server does not know the topic. */
  async getTopicRouteInfo(topic: string, timeoutMs = this.opts.timeoutMs): Promise<TopicRouteData | undefined> {
    const cmd = this.request(RequestCode.GET_ROUTEINFO_BY_TOPIC, GetRouteInfoRequestHeader.encode({ topic, acceptStandardJsonOnly: true }));
    const res = await this.invokeNamesrv(cmd, timeoutMs);
    if (res.code === ResponseCode.TOPIC_NOT_EXIST) return undefined;
    if (res.code !== ResponseCode.SUCCESS) throw new MQBrokerError(res.code, res.remark, 'namesrv');
    if (res.body === null) return undefined;
    return decodeTopicRouteData(res.body);
  }

  // ------------------------------------------------------------------ send

  async sendMessage(
    addr: string,
    brokerName: string,
    header: SendMessageRequest,
    body: Buffer,
    mode: { batch: boolean; v1Header?: boolean; oneway?: boolean; timeoutMs: number },
  ): Promise<SendResult | undefined> {
    const code = mode.batch ? RequestCode.SEND_BATCH_MESSAGE : mode.v1Header ? RequestCode.SEND_MESSAGE : RequestCode.SEND_MESSAGE_V2;
    const ext = code === RequestCode.SEND_MESSAGE ? SendMessageRequestHeader.encode(header) : SendMessageRequestHeaderV2.encode(sendHeaderToV2(header));
    const cmd = this.request(code, ext, body);
    if (mode.oneway) {
      await this.remoting.invokeOneway(addr, cmd, mode.timeoutMs);
      return undefined;
    }
    const res = await this.remoting.invoke(addr, cmd, mode.timeoutMs);
    let sendStatus: SendStatus;
    switch (res.code) {
      case ResponseCode.SUCCESS:
        sendStatus = 'SEND_OK';
        break;
      case ResponseCode.FLUSH_DISK_TIMEOUT:
        sendStatus = 'FLUSH_DISK_TIMEOUT';
        break;
      case ResponseCode.FLUSH_SLAVE_TIMEOUT:
        sendStatus = 'FLUSH_SLAVE_TIMEOUT';
        break;
      case ResponseCode.SLAVE_NOT_AVAILABLE:
        sendStatus = 'SLAVE_NOT_AVAILABLE';
        break;
      default:
        throw new MQBrokerError(res.code, res.remark, addr);
    }
    const h = SendMessageResponseHeader.decode(res.extFields);
    return {
      sendStatus,
      msgId: '',
      offsetMsgId: h.msgId,
      messageQueue: { topic: header.topic, brokerName, queueId: h.queueId },
      queueOffset: h.queueOffset,
      transactionId: h.transactionId,
      ...(h.recallHandle !== undefined && h.recallHandle !== '' ? { recallHandle: h.recallHandle } : {}),
      regionId: res.ext('MSG_REGION'),
      traceOn: res.ext('TRACE_ON') !== 'false',
    };
  }

  /** RECALL_MESSAGE: cancels a timer message by its recall handle; the recalled message's id. */
  async recallMessage(addr: string, header: RecallMessageRequest, timeoutMs = this.opts.timeoutMs): Promise<string> {
    const res = await this.call(addr, this.request(RequestCode.RECALL_MESSAGE, RecallMessageRequestHeader.encode(header)), timeoutMs);
    return RecallMessageResponseHeader.decode(res.extFields).msgId;
  }

  // ------------------------------------------------------------------ transactions

  /**
   * END_TRANSACTION, oneway as RocketMQ producers send it: to a broker address, or on the
   * connection a check-back came from (falling back to a fresh connection to the same address
   * when that one closed meanwhile). `remark` carries the text of a failed local transaction.
   */
  async endTransactionOneway(target: string | RemotingConnection, header: EndTransactionRequest, remark?: string, timeoutMs = 3_000): Promise<void> {
    const cmd = this.request(RequestCode.END_TRANSACTION, EndTransactionRequestHeader.encode(header));
    if (remark !== undefined) cmd.remark = remark;
    if (typeof target === 'string') return this.remoting.invokeOneway(target, cmd, timeoutMs);
    this.remoting.prepare(cmd);
    if (target.invokeOneway(cmd)) return;
    const addr = target.attachment;
    if (typeof addr !== 'string') {
      throw new MQClientError(ResponseCode.RPC_SEND_TO_CHANNEL_FAILED, `connection to ${target.remoteAddress} is closed`);
    }
    await this.remoting.invokeOneway(addr, cmd, timeoutMs);
  }

  // ------------------------------------------------------------------ pull

  async pullMessage(addr: string, a: PullRequestArgs, timeoutMs: number): Promise<RawPullResult> {
    const code = (a.sysFlag & PullSysFlag.LITE_PULL) !== 0 ? RequestCode.LITE_PULL_MESSAGE : RequestCode.PULL_MESSAGE;
    const header = PullMessageRequestHeader.encode({
      consumerGroup: a.consumerGroup,
      topic: a.mq.topic,
      queueId: a.mq.queueId,
      queueOffset: a.queueOffset,
      maxMsgNums: a.maxMsgNums,
      sysFlag: a.sysFlag,
      commitOffset: a.commitOffset,
      suspendTimeoutMillis: a.suspendTimeoutMillis,
      subscription: a.subscription,
      subVersion: a.subVersion,
      expressionType: a.expressionType,
      maxMsgBytes: a.maxMsgBytes,
      bname: a.mq.brokerName,
    });
    const res = await this.remoting.invoke(addr, this.request(code, header), timeoutMs);
    if (
      res.code !== ResponseCode.SUCCESS &&
      res.code !== ResponseCode.PULL_NOT_FOUND &&
      res.code !== ResponseCode.PULL_RETRY_IMMEDIATELY &&
      res.code !== ResponseCode.PULL_OFFSET_MOVED
    ) {
      throw new MQBrokerError(res.code, res.remark, addr);
    }
    const h = PullMessageResponseHeader.decode(res.extFields);
    return {
      status: pullStatusOf(res.code),
      nextBeginOffset: h.nextBeginOffset,
      minOffset: h.minOffset,
      maxOffset: h.maxOffset,
      suggestWhichBrokerId: h.suggestWhichBrokerId,
      body: res.body,
    };
  }

  // ------------------------------------------------------------------ pop (RocketMQ 5)

  /**
   * POP_MESSAGE. POLLING_TIMEOUT (and the not-found codes older brokers answer) is NO_NEW_MSG;
   * POLLING_FULL and every other code throw MQBrokerError (POLLING_FULL is retriable).
   */
  async popMessage(addr: string, header: PopMessageRequest, timeoutMs: number): Promise<RawPopResult> {
    const res = await this.remoting.invoke(addr, this.request(RequestCode.POP_MESSAGE, PopMessageRequestHeader.encode(header)), timeoutMs);
    switch (res.code) {
      case ResponseCode.SUCCESS:
        return { status: 'FOUND', header: PopMessageResponseHeader.decode(res.extFields), body: res.body };
      case ResponseCode.POLLING_TIMEOUT:
      case ResponseCode.PULL_NOT_FOUND:
      case ResponseCode.NO_MESSAGE:
        return { status: 'NO_NEW_MSG' };
      default:
        throw new MQBrokerError(res.code, res.remark, addr);
    }
  }

  async ackMessage(addr: string, header: AckMessageRequest, timeoutMs = this.opts.timeoutMs): Promise<void> {
    await this.call(addr, this.request(RequestCode.ACK_MESSAGE, AckMessageRequestHeader.encode(header)), timeoutMs);
  }

  /** CHANGE_MESSAGE_INVISIBLETIME: the new checkpoint's popTime, invisibleTime and reviveQid. */
  async changeInvisibleTime(
    addr: string,
    header: ChangeInvisibleTimeRequest,
    timeoutMs = this.opts.timeoutMs,
  ): Promise<ReturnType<typeof ChangeInvisibleTimeResponseHeader.decode>> {
    const res = await this.call(addr, this.request(RequestCode.CHANGE_MESSAGE_INVISIBLETIME, ChangeInvisibleTimeRequestHeader.encode(header)), timeoutMs);
    return ChangeInvisibleTimeResponseHeader.decode(res.extFields);
  }

  // ------------------------------------------------------------------ offsets

  /** The committed offset, or -1 when the broker has none for the group. */
  async queryConsumerOffset(addr: string, group: string, mq: MessageQueue, setZeroIfNotFound?: boolean): Promise<number> {
    const cmd = this.request(
      RequestCode.QUERY_CONSUMER_OFFSET,
      QueryConsumerOffsetRequestHeader.encode({ consumerGroup: group, topic: mq.topic, queueId: mq.queueId, bname: mq.brokerName, setZeroIfNotFound }),
    );
    const res = await this.call(addr, cmd, undefined, [ResponseCode.SUCCESS, ResponseCode.QUERY_NOT_FOUND]);
    if (res.code === ResponseCode.QUERY_NOT_FOUND) return -1;
    return QueryConsumerOffsetResponseHeader.decode(res.extFields).offset;
  }

  async updateConsumerOffset(addr: string, group: string, mq: MessageQueue, offset: number, oneway = false): Promise<void> {
    const cmd = this.request(
      RequestCode.UPDATE_CONSUMER_OFFSET,
      UpdateConsumerOffsetRequestHeader.encode({ consumerGroup: group, topic: mq.topic, queueId: mq.queueId, commitOffset: offset, bname: mq.brokerName }),
    );
    if (oneway) await this.remoting.invokeOneway(addr, cmd, this.opts.timeoutMs);
    else await this.call(addr, cmd);
  }

  async getMaxOffset(addr: string, mq: MessageQueue): Promise<number> {
    const cmd = this.request(RequestCode.GET_MAX_OFFSET, GetMaxOffsetRequestHeader.encode({ topic: mq.topic, queueId: mq.queueId, bname: mq.brokerName }));
    return OffsetResponseHeader.decode((await this.call(addr, cmd)).extFields).offset;
  }

  async getMinOffset(addr: string, mq: MessageQueue): Promise<number> {
    const cmd = this.request(RequestCode.GET_MIN_OFFSET, GetMinOffsetRequestHeader.encode({ topic: mq.topic, queueId: mq.queueId, bname: mq.brokerName }));
    return OffsetResponseHeader.decode((await this.call(addr, cmd)).extFields).offset;
  }

  async searchOffset(addr: string, mq: MessageQueue, timestamp: number, boundaryType: 'lower' | 'upper' = 'lower'): Promise<number> {
    const cmd = this.request(
      RequestCode.SEARCH_OFFSET_BY_TIMESTAMP,
      SearchOffsetRequestHeader.encode({ topic: mq.topic, queueId: mq.queueId, timestamp, boundaryType, bname: mq.brokerName }),
    );
    return OffsetResponseHeader.decode((await this.call(addr, cmd)).extFields).offset;
  }

  async getEarliestMsgStoretime(addr: string, mq: MessageQueue): Promise<number> {
    const cmd = this.request(
      RequestCode.GET_EARLIEST_MSG_STORETIME,
      GetEarliestMsgStoretimeRequestHeader.encode({ topic: mq.topic, queueId: mq.queueId, bname: mq.brokerName }),
    );
    return GetEarliestMsgStoretimeResponseHeader.decode((await this.call(addr, cmd)).extFields).timestamp;
  }

  // ------------------------------------------------------------------ client management

  async heartbeat(addr: string, body: string): Promise<RemotingCommand> {
    return this.call(addr, this.request(RequestCode.HEART_BEAT, null, Buffer.from(body, 'utf8')));
  }

  async unregisterClient(addr: string, clientID: string, producerGroup?: string, consumerGroup?: string): Promise<void> {
    const cmd = this.request(RequestCode.UNREGISTER_CLIENT, UnregisterClientRequestHeader.encode({ clientID, producerGroup, consumerGroup }));
    await this.call(addr, cmd);
  }

  async getConsumerIdList(addr: string, group: string): Promise<string[]> {
    const res = await this.call(
      addr,
      this.request(RequestCode.GET_CONSUMER_LIST_BY_GROUP, GetConsumerListByGroupRequestHeader.encode({ consumerGroup: group })),
    );
    if (!res.body) return [];
    const o = Object.fromEntries(jsonEntries(parseLenientJson(res.body.toString('utf8')))) as Record<string, JsonValue>;
    const list = o['consumerIdList'];
    return Array.isArray(list) ? list.map(String) : [];
  }

  async consumerSendMessageBack(
    addr: string,
    brokerName: string,
    msg: ReceivedMessage,
    group: string,
    delayLevel: number,
    maxReconsumeTimes: number,
    timeoutMs = this.opts.timeoutMs,
  ): Promise<void> {
    const cmd = this.request(
      RequestCode.CONSUMER_SEND_MSG_BACK,
      ConsumerSendMsgBackRequestHeader.encode({
        offset: msg.commitLogOffset,
        group,
        delayLevel,
        originMsgId: msg.msgId,
        originTopic: msg.topic,
        unitMode: false,
        maxReconsumeTimes,
        bname: brokerName,
      }),
    );
    await this.call(addr, cmd, timeoutMs);
  }

  /** LOCK_BATCH_MQ: returns the queues the broker locked for us. */
  async lockBatchMQ(addr: string, group: string, clientId: string, mqs: readonly MessageQueue[], timeoutMs = 1_000): Promise<MessageQueue[]> {
    const body = JSON.stringify({
      consumerGroup: group,
      clientId,
      onlyThisBroker: false,
      mqSet: mqs.map((q) => ({ brokerName: q.brokerName, queueId: q.queueId, topic: q.topic })),
    });
    const res = await this.call(addr, this.request(RequestCode.LOCK_BATCH_MQ, null, Buffer.from(body, 'utf8')), timeoutMs);
    if (!res.body) return [];
    const o = Object.fromEntries(jsonEntries(parseLenientJson(res.body.toString('utf8')))) as Record<string, JsonValue>;
    const set = o['lockOKMQSet'];
    if (!Array.isArray(set)) return [];
    return set.map((v) => {
      const q = Object.fromEntries(jsonEntries(v)) as Record<string, JsonValue>;
      return { topic: String(q['topic'] ?? ''), brokerName: String(q['brokerName'] ?? ''), queueId: Number(q['queueId'] ?? 0) };
    });
  }

  async unlockBatchMQ(addr: string, group: string, clientId: string, mqs: readonly MessageQueue[], oneway = false): Promise<void> {
    const body = JSON.stringify({
      consumerGroup: group,
      clientId,
      onlyThisBroker: false,
      mqSet: mqs.map((q) => ({ brokerName: q.brokerName, queueId: q.queueId, topic: q.topic })),
    });
    const cmd = this.request(RequestCode.UNLOCK_BATCH_MQ, null, Buffer.from(body, 'utf8'));
    if (oneway) await this.remoting.invokeOneway(addr, cmd, 1_000);
    else await this.call(addr, cmd, 1_000);
  }

  // ------------------------------------------------------------------ query

  async viewMessage(addr: string, commitLogOffset: number, brokerName: string, topic?: string): Promise<ReceivedMessage | undefined> {
    const cmd = this.request(RequestCode.VIEW_MESSAGE_BY_ID, ViewMessageRequestHeader.encode({ topic, offset: commitLogOffset }));
    const res = await this.call(addr, cmd);
    return decodeReceivedMessages(res.body, { brokerName })[0];
  }

  /** QUERY_MESSAGE by key (or by UNIQ_KEY when `unique`); [] when nothing matches. */
  async queryMessage(
    addr: string,
    brokerName: string,
    q: { topic: string; key: string; maxNum: number; begin: number; end: number; unique?: boolean },
    timeoutMs = this.opts.timeoutMs * 5,
  ): Promise<ReceivedMessage[]> {
    const ext = QueryMessageRequestHeader.encode({ topic: q.topic, key: q.key, maxNum: q.maxNum, beginTimestamp: q.begin, endTimestamp: q.end });
    if (q.unique) ext['_UNIQUE_KEY_QUERY'] = 'true';
    const res = await this.call(addr, this.request(RequestCode.QUERY_MESSAGE, ext), timeoutMs, [ResponseCode.SUCCESS, ResponseCode.QUERY_NOT_FOUND]);
    if (res.code === ResponseCode.QUERY_NOT_FOUND) return [];
    return decodeReceivedMessages(res.body, { brokerName });
  }
}

function cloneRequest(cmd: RemotingCommand): RemotingCommand {
  const c = RemotingCommand.request(cmd.code, cmd.extFields, cmd.body);
  c.language = cmd.language;
  c.version = cmd.version;
  c.serializeType = cmd.serializeType;
  c.flag = cmd.flag;
  return c;
}

/** True for transport failures (no answer), as opposed to a server's error code. */
export function isTransportError(e: unknown): boolean {
  return e instanceof MQError && e.code <= ResponseCode.RPC_UNKNOWN;
}
