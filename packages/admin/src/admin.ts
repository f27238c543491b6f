import {
  GetConsumeStatsRequestHeader,
  GetConsumerConnectionListRequestHeader,
  GetProducerConnectionListRequestHeader,
  GetTopicStatsInfoRequestHeader,
  CreateTopicRequestHeader,
  DeleteTopicRequestHeader,
  DeleteTopicFromNamesrvRequestHeader,
  DeleteSubscriptionGroupRequestHeader,
  ResetOffsetRequestHeader,
  MixAll,
  RequestCode,
  ResponseCode,
  decodeClusterInfo,
  decodeKVTable,
  decodeOffsetMsgId,
  decodeTopicList,
  jsonEntries,
  parseLenientJson,
  readInt64BE,
  stringifyFastjson,
  type ClusterInfo,
  type JsonValue,
  type TopicRouteData,
} from '@rocketmq-ts/protocol';
import { parseProperties, stringifyProperties } from '@rocketmq-ts/common';
import {
  MQBrokerError,
  MQClientError,
  getOrCreateClientInstance,
  noRouteError,
  readMessageQueueMap,
  type ClientOptions,
  type MQClientAPI,
  type MQClientInstance,
  type MessageQueue,
  type ReceivedMessage,
} from '@rocketmq-ts/client';
import { readOpenHalfMessages, type HalfMessageScan, type HalfScanOptions } from './half-messages.js';
import { whereIsMessage, type WhereIsMessageResult } from './where-is-message.js';
import { decodeConsumeDirectlyResult, decodeConsumerRunningInfo, type ConsumeDirectlyResult, type ConsumerRunningInfo } from './consumer-running-info.js';

export interface TopicOffset {
  mq: MessageQueue;
  minOffset: number;
  maxOffset: number;
  lastUpdateTimestamp: number;
}

export interface QueueConsumeProgress {
  mq: MessageQueue;
  brokerOffset: number;
  consumerOffset: number;
  pullOffset: number;
  lastTimestamp: number;
  /** brokerOffset - consumerOffset. */
  lag: number;
  /** Client owning the queue, when asked for and known. */
  clientId?: string;
}

/** One queue of MQAdmin.previewResetOffsetByTime. */
export interface ResetOffsetPreview {
  mq: MessageQueue;
  /** -1: the group has no committed offset there. */
  consumerOffset: number;
  targetOffset: number;
  /** targetOffset - consumerOffset (0 without a committed offset). */
  delta: number;
}

export interface Connection {
  clientId: string;
  clientAddr: string;
  language: string;
  version: number;
}

export interface ConsumerConnection {
  connections: Connection[];
  subscriptions: Array<{ topic: string; subString: string; expressionType: string }>;
  consumeType: string;
  messageModel: string;
  consumeFromWhere: string;
}

export interface TopicConfigInput {
  topic: string;
  readQueueNums?: number;
  writeQueueNums?: number;
  perm?: number;
  order?: boolean;
  topicFilterType?: string;
  topicSysFlag?: number;
  attributes?: string;
}

/** SubscriptionGroupConfig fields mqadmin can set; the rest keep RocketMQ's defaults. */
export interface SubscriptionGroupInput {
  groupName: string;
  consumeEnable?: boolean;
  consumeFromMinEnable?: boolean;
  consumeBroadcastEnable?: boolean;
  consumeMessageOrderly?: boolean;
  retryQueueNums?: number;
  retryMaxTimes?: number;
  brokerId?: number;
  whichBrokerWhenConsumeSlowly?: number;
  notifyConsumerIdsChangedEnable?: boolean;
}

/** The broker gives the client 10 s to run the message; we wait a little longer for its relay. */
const CONSUME_DIRECTLY_TIMEOUT_MS = 12_000;

const obj = (v: JsonValue | undefined): Record<string, JsonValue> => Object.fromEntries(jsonEntries(v ?? null)) as Record<string, JsonValue>;
const num = (v: JsonValue | undefined): number => (typeof v === 'number' ? v : Number(v ?? 0) || 0);

/** A broker's timer (MQAdmin.timerStatus). */
export interface TimerStatusInfo {
  /** Timers waiting in the wheel (timerCongestNum). */
  pending: number;
  /** Seconds the wheel's read time is behind the clock (timerReadBehind). */
  readBehindSec: number;
  /** Timer messages not yet taken into the wheel (timerOffsetBehind). */
  offsetBehind: number;
  enqueueTps: number;
  dequeueTps: number;
  /** The checkpoint: the read time and timer-queue progress as last flushed (a slave: its master's). */
  lastReadTimeMs: number;
  lastTimerQueueOffset: number;
  masterTimerQueueOffset: number;
  /** Pending timers per real topic. */
  topics: Map<string, number>;
}

/**
 * Operator calls against name servers and brokers (RocketMQ's MQAdminExt): each method is one
 * mqadmin command's remote work, returning data; the CLI only formats it.
 */
export class MQAdmin {
  private instance: MQClientInstance | undefined;

  constructor(private readonly options: ClientOptions = {}) {}

  get api(): MQClientAPI {
    return this.core.api;
  }

  private get core(): MQClientInstance {
    this.instance ??= getOrCreateClientInstance({ instanceName: `admin-${process.pid}-${Date.now()}`, ...this.options });
    return this.instance;
  }

  async shutdown(): Promise<void> {
    await this.instance?.shutdown();
    this.instance = undefined;
  }

  private async body(
    addr: string | 'namesrv',
    code: number,
    ext: Record<string, string> | null = null,
    reqBody: string | null = null,
    timeoutMs?: number,
  ): Promise<Buffer | null> {
    const cmd = this.api.request(code, ext, reqBody === null ? null : Buffer.from(reqBody, 'utf8'));
    const res = addr === 'namesrv' ? await this.api.callNamesrv(cmd, timeoutMs) : await this.api.call(addr, cmd, timeoutMs);
    return res.body;
  }

  // ------------------------------------------------------------------ name server

  async clusterInfo(): Promise<ClusterInfo> {
    const b = await this.body('namesrv', RequestCode.GET_BROKER_CLUSTER_INFO);
    return b ? decodeClusterInfo(b) : { brokerAddrTable: new Map(), clusterAddrTable: new Map() };
  }

  async topicList(): Promise<string[]> {
    const b = await this.body('namesrv', RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER);
    return b ? decodeTopicList(b).topicList : [];
  }

  async topicRoute(topic: string): Promise<TopicRouteData> {
    const r = await this.api.getTopicRouteInfo(topic);
    if (!r) throw noRouteError(topic, this.api.getNamesrvAddrs());
    return r;
  }

  /** Master addresses: of one cluster, of every cluster, or one given broker address. */
  async masterAddrs(
    o: { cluster?: string | undefined; brokerAddr?: string | undefined } = {},
  ): Promise<Array<{ brokerName: string; addr: string; cluster: string }>> {
    if (o.brokerAddr) return [{ brokerName: '', addr: o.brokerAddr, cluster: '' }];
    const ci = await this.clusterInfo();
    const out: Array<{ brokerName: string; addr: string; cluster: string }> = [];
    for (const [cluster, names] of ci.clusterAddrTable) {
      if (o.cluster && cluster !== o.cluster) continue;
      for (const n of names) {
        const addr = ci.brokerAddrTable.get(n)?.brokerAddrs.get(MixAll.MASTER_ID);
        if (addr) out.push({ brokerName: n, addr, cluster });
      }
    }
    if (o.cluster && out.length === 0) {
      throw new MQClientError(
        ResponseCode.SYSTEM_ERROR,
        `cluster ${o.cluster} has no master broker (clusters: ${[...ci.clusterAddrTable.keys()].join(', ') || 'none'})`,
        { retriable: false },
      );
    }
    return out;
  }

  /** Namesrv config of every name server, as properties. */
  async namesrvConfig(): Promise<Map<string, Map<string, string>>> {
    const out = new Map<string, Map<string, string>>();
    for (const addr of this.api.getNamesrvAddrs()) {
      const res = await this.api.call(addr, this.api.request(RequestCode.GET_NAMESRV_CONFIG));
      out.set(addr, parseProperties(res.body?.toString('utf8') ?? ''));
    }
    return out;
  }

  // ------------------------------------------------------------------ topics

  async createOrUpdateTopic(addr: string, t: TopicConfigInput): Promise<void> {
    const ext = CreateTopicRequestHeader.encode({
      topic: t.topic,
      defaultTopic: MixAll.AUTO_CREATE_TOPIC_KEY_TOPIC,
      readQueueNums: t.readQueueNums ?? 8,
      writeQueueNums: t.writeQueueNums ?? 8,
      perm: t.perm ?? 6,
      topicFilterType: t.topicFilterType ?? 'SINGLE_TAG',
      topicSysFlag: t.topicSysFlag ?? 0,
      order: t.order ?? false,
      attributes: t.attributes,
    });
    await this.body(addr, RequestCode.UPDATE_AND_CREATE_TOPIC, ext);
  }

  async deleteTopic(topic: string, cluster?: string): Promise<string[]> {
    const masters = await this.masterAddrs({ cluster });
    for (const m of masters) await this.body(m.addr, RequestCode.DELETE_TOPIC_IN_BROKER, DeleteTopicRequestHeader.encode({ topic }));
    for (const ns of this.api.getNamesrvAddrs()) {
      await this.api.call(
        ns,
        this.api.request(RequestCode.DELETE_TOPIC_IN_NAMESRV, DeleteTopicFromNamesrvRequestHeader.encode({ topic, clusterName: cluster })),
      );
    }
    return masters.map((m) => m.addr);
  }

  async topicStats(topic: string): Promise<TopicOffset[]> {
    const route = await this.topicRoute(topic);
    const out: TopicOffset[] = [];
    for (const bd of route.brokerDatas) {
      const addr = bd.brokerAddrs.get(MixAll.MASTER_ID);
      if (!addr) continue;
      const b = await this.body(addr, RequestCode.GET_TOPIC_STATS_INFO, GetTopicStatsInfoRequestHeader.encode({ topic }));
      const o = obj(b ? parseLenientJson(b.toString('utf8')) : null);
      for (const [mq, v] of readMessageQueueMap(o['offsetTable'])) {
        const x = obj(v);
        out.push({ mq, minOffset: num(x['minOffset']), maxOffset: num(x['maxOffset']), lastUpdateTimestamp: num(x['lastUpdateTimestamp']) });
      }
    }
    return out.sort((a, b) => (a.mq.brokerName < b.mq.brokerName ? -1 : a.mq.brokerName > b.mq.brokerName ? 1 : a.mq.queueId - b.mq.queueId));
  }

  // ------------------------------------------------------------------ brokers

  async brokerRuntimeInfo(addr: string): Promise<Map<string, string>> {
    const b = await this.body(addr, RequestCode.GET_BROKER_RUNTIME_INFO);
    return b ? decodeKVTable(b) : new Map();
  }

  /**
   * The broker's timer messages: RocketMQ's runtime-info keys (timerCongestNum, timerReadBehind, ...),
   * the timer checkpoint (GET_TIMER_CHECK_POINT) and pending timers per topic (GET_TIMER_METRICS);
   * undefined when the broker runs without a timer (timerWheelEnable=false).
   */
  async timerStatus(addr: string): Promise<TimerStatusInfo | undefined> {
    const info = await this.brokerRuntimeInfo(addr);
    if (!info.has('timerCongestNum')) return undefined;
    const cp = await this.body(addr, RequestCode.GET_TIMER_CHECK_POINT);
    const metrics = await this.body(addr, RequestCode.GET_TIMER_METRICS);
    const topics = new Map<string, number>();
    const parsed = metrics ? (parseLenientJson(metrics.toString('utf8')) as { timingCount?: Record<string, { count?: number }> }) : {};
    for (const [t, v] of Object.entries(parsed.timingCount ?? {})) if (Number(v.count ?? 0) !== 0) topics.set(t, Number(v.count));
    const long = (at: number): number => (cp !== null && cp.length >= at + 8 ? readInt64BE(cp, at) : 0);
    return {
      pending: Number(info.get('timerCongestNum') ?? 0),
      readBehindSec: Number(info.get('timerReadBehind') ?? 0),
      offsetBehind: Number(info.get('timerOffsetBehind') ?? 0),
      enqueueTps: Number(info.get('timerEnqueueTps') ?? 0),
      dequeueTps: Number(info.get('timerDequeueTps') ?? 0),
      lastReadTimeMs: long(0),
      lastTimerQueueOffset: long(16),
      masterTimerQueueOffset: long(24),
      topics,
    };
  }

  async getBrokerConfig(addr: string): Promise<Map<string, string>> {
    const b = await this.body(addr, RequestCode.GET_BROKER_CONFIG);
    return parseProperties(b?.toString('utf8') ?? '');
  }

  async updateBrokerConfig(addr: string, props: Record<string, string>): Promise<void> {
    await this.body(addr, RequestCode.UPDATE_BROKER_CONFIG, null, stringifyProperties(props));
  }

  // ------------------------------------------------------------------ groups

  async createOrUpdateSubGroup(addr: string, g: SubscriptionGroupInput): Promise<void> {
    const config = {
      brokerId: g.brokerId ?? 0,
      consumeBroadcastEnable: g.consumeBroadcastEnable ?? true,
      consumeEnable: g.consumeEnable ?? true,
      consumeFromMinEnable: g.consumeFromMinEnable ?? true,
      consumeMessageOrderly: g.consumeMessageOrderly ?? false,
      consumeTimeoutMinute: 15,
      groupName: g.groupName,
      groupSysFlag: 0,
      notifyConsumerIdsChangedEnable: g.notifyConsumerIdsChangedEnable ?? true,
      retryMaxTimes: g.retryMaxTimes ?? 16,
      retryQueueNums: g.retryQueueNums ?? 1,
      whichBrokerWhenConsumeSlowly: g.whichBrokerWhenConsumeSlowly ?? 1,
    };
    await this.body(addr, RequestCode.UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, null, stringifyFastjson(config));
  }

  async deleteSubGroup(addr: string, group: string, cleanOffset = false): Promise<void> {
    await this.body(addr, RequestCode.DELETE_SUBSCRIPTIONGROUP, DeleteSubscriptionGroupRequestHeader.encode({ groupName: group, cleanOffset }));
  }

  async subscriptionGroups(addr: string): Promise<Map<string, Record<string, JsonValue>>> {
    const b = await this.body(addr, RequestCode.GET_ALL_SUBSCRIPTIONGROUP_CONFIG);
    const o = obj(b ? parseLenientJson(b.toString('utf8')) : null);
    const out = new Map<string, Record<string, JsonValue>>();
    for (const [k, v] of jsonEntries(o['subscriptionGroupTable'] ?? null)) out.set(String(k), obj(v));
    return out;
  }

  /** Consume progress of a group on every master: broker offset, committed offset and lag per queue. */
  async consumeStats(group: string, topic?: string, cluster?: string): Promise<QueueConsumeProgress[]> {
    return (await this.consumeStatsWithTps(group, topic, cluster)).queues;
  }

  /** consumeStats plus the group's consume rate (messages/s over the brokers' last 10 s, summed). */
  async consumeStatsWithTps(group: string, topic?: string, cluster?: string): Promise<{ queues: QueueConsumeProgress[]; consumeTps: number }> {
    const out: QueueConsumeProgress[] = [];
    let consumeTps = 0;
    for (const m of await this.masterAddrs({ cluster })) {
      let b: Buffer | null;
      try {
        b = await this.body(m.addr, RequestCode.GET_CONSUME_STATS, GetConsumeStatsRequestHeader.encode({ consumerGroup: group, topic }));
      } catch (e) {
        if (e instanceof MQBrokerError && (e.code === ResponseCode.CONSUMER_NOT_ONLINE || e.code === ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST)) continue;
        throw e;
      }
      const o = obj(b ? parseLenientJson(b.toString('utf8')) : null);
      consumeTps += num(o['consumeTps']);
      for (const [mq, v] of readMessageQueueMap(o['offsetTable'])) {
        const x = obj(v);
        const brokerOffset = num(x['brokerOffset']);
        const consumerOffset = num(x['consumerOffset']);
        out.push({
          mq,
          brokerOffset,
          consumerOffset,
          pullOffset: num(x['pullOffset']),
          lastTimestamp: num(x['lastTimestamp']),
          lag: Math.max(0, brokerOffset - consumerOffset),
        });
      }
    }
    out.sort((a, b) =>
      a.mq.topic < b.mq.topic
        ? -1
        : a.mq.topic > b.mq.topic
          ? 1
          : a.mq.brokerName < b.mq.brokerName
            ? -1
            : a.mq.brokerName > b.mq.brokerName
              ? 1
              : a.mq.queueId - b.mq.queueId,
    );
    return { queues: out, consumeTps: Math.round(consumeTps * 100) / 100 };
  }

  async consumerConnection(group: string, brokerAddr?: string): Promise<ConsumerConnection> {
    const addrs = brokerAddr ? [brokerAddr] : (await this.masterAddrs()).map((m) => m.addr);
    let last: unknown;
    for (const addr of addrs) {
      try {
        const b = await this.body(addr, RequestCode.GET_CONSUMER_CONNECTION_LIST, GetConsumerConnectionListRequestHeader.encode({ consumerGroup: group }));
        const o = obj(b ? parseLenientJson(b.toString('utf8')) : null);
        const subs: ConsumerConnection['subscriptions'] = [];
        for (const [topic, v] of jsonEntries(o['subscriptionTable'] ?? null)) {
          const s = obj(v);
          subs.push({ topic: String(topic), subString: String(s['subString'] ?? '*'), expressionType: String(s['expressionType'] ?? 'TAG') });
        }
        return {
          connections: readConnections(o['connectionSet']),
          subscriptions: subs,
          consumeType: String(o['consumeType'] ?? ''),
          messageModel: String(o['messageModel'] ?? ''),
          consumeFromWhere: String(o['consumeFromWhere'] ?? ''),
        };
      } catch (e) {
        last = e;
      }
    }
    throw last ?? new MQClientError(ResponseCode.CONSUMER_NOT_ONLINE, `the consumer group[${group}] is not online`, { retriable: false });
  }

  /**
   * What one consumer client reports of itself (subscriptions, queues, properties): asked of a
   * broker the client is connected to, which relays GET_CONSUMER_RUNNING_INFO over the client's
   * connection. Tries the masters holding the group's connections in turn.
   */
  async consumerRunningInfo(group: string, clientId: string, opts: { jstack?: boolean; brokerAddr?: string } = {}): Promise<ConsumerRunningInfo> {
    const b = await this.toConsumer(group, clientId, opts.brokerAddr, RequestCode.GET_CONSUMER_RUNNING_INFO, {
      consumerGroup: group,
      clientId,
      jstackEnable: String(opts.jstack ?? false),
    });
    return decodeConsumerRunningInfo(b);
  }

  /** Has one consumer client run a stored message (by its offset msgId) through its listener, without committing anything. */
  async consumeMessageDirectly(
    group: string,
    clientId: string,
    offsetMsgId: string,
    opts: { topic?: string; brokerAddr?: string } = {},
  ): Promise<ConsumeDirectlyResult> {
    const id = decodeOffsetMsgId(offsetMsgId);
    if (!id) throw new MQClientError(ResponseCode.SYSTEM_ERROR, `${offsetMsgId} is not an offset message id`, { retriable: false });
    const brokerAddr = opts.brokerAddr ?? `${id.address}:${id.port}`;
    const brokerName = (await this.brokerNameOf(brokerAddr).catch(() => undefined)) ?? '';
    const b = await this.toConsumer(
      group,
      clientId,
      brokerAddr,
      RequestCode.CONSUME_MESSAGE_DIRECTLY,
      {
        consumerGroup: group,
        clientId,
        msgId: offsetMsgId,
        brokerName,
        ...(opts.topic ? { topic: opts.topic } : {}),
      },
      CONSUME_DIRECTLY_TIMEOUT_MS,
    );
    return decodeConsumeDirectlyResult(b);
  }

  private async toConsumer(
    group: string,
    clientId: string,
    brokerAddr: string | undefined,
    code: number,
    ext: Record<string, string>,
    timeoutMs?: number,
  ): Promise<Buffer | null> {
    const addrs = brokerAddr ? [brokerAddr] : (await this.masterAddrs()).map((m) => m.addr);
    let last: unknown;
    for (const addr of addrs) {
      try {
        return await this.body(addr, code, ext, null, timeoutMs);
      } catch (e) {
        last = e;
      }
    }
    throw last ?? new MQClientError(ResponseCode.CONSUMER_NOT_ONLINE, `the consumer ${clientId} of group ${group} is not online`, { retriable: false });
  }

  async producerConnection(group: string, topic: string): Promise<Connection[]> {
    const route = await this.topicRoute(topic);
    const seen = new Map<string, Connection>();
    let last: unknown;
    for (const bd of route.brokerDatas) {
      const addr = bd.brokerAddrs.get(MixAll.MASTER_ID);
      if (!addr) continue;
      try {
        const b = await this.body(addr, RequestCode.GET_PRODUCER_CONNECTION_LIST, GetProducerConnectionListRequestHeader.encode({ producerGroup: group }));
        for (const c of readConnections(obj(b ? parseLenientJson(b.toString('utf8')) : null)['connectionSet'])) seen.set(c.clientId + c.clientAddr, c);
      } catch (e) {
        last = e;
      }
    }
    if (seen.size === 0 && last) throw last;
    return [...seen.values()];
  }

  /** Moves a group's committed offsets of a topic to the first message stored at or after `timestamp` (-1: the end). */
  async resetOffsetByTime(group: string, topic: string, timestamp: number, force = true): Promise<Array<[MessageQueue, number]>> {
    const route = await this.topicRoute(topic);
    const out: Array<[MessageQueue, number]> = [];
    for (const bd of route.brokerDatas) {
      const addr = bd.brokerAddrs.get(MixAll.MASTER_ID);
      if (!addr) continue;
      const b = await this.body(
        addr,
        RequestCode.INVOKE_BROKER_TO_RESET_OFFSET,
        ResetOffsetRequestHeader.encode({ topic, group, timestamp, isForce: force }),
        null,
        15_000,
      );
      const o = obj(b ? parseLenientJson(b.toString('utf8')) : null);
      for (const [mq, v] of readMessageQueueMap(o['offsetTable'])) out.push([mq, num(v)]);
    }
    return out.sort((a, b) => a[0].queueId - b[0].queueId);
  }

  /**
   * What resetOffsetByTime would do, changing nothing: per queue the committed offset, the offset
   * the broker would set (its own search by time; -1: the end; not past the committed one unless
   * forced) and target - committed (> 0 skips messages, < 0 consumes them again).
   */
  async previewResetOffsetByTime(group: string, topic: string, timestamp: number, force = true): Promise<ResetOffsetPreview[]> {
    const [stats, progress, masters] = await Promise.all([this.topicStats(topic), this.consumeStats(group, topic).catch(() => []), this.masterAddrs()]);
    const addrOf = new Map(masters.map((m) => [m.brokerName, m.addr]));
    const committed = new Map(progress.map((p) => [`${p.mq.brokerName}/${p.mq.queueId}`, p.consumerOffset]));
    const out: ResetOffsetPreview[] = [];
    for (const s of stats) {
      const addr = addrOf.get(s.mq.brokerName);
      if (!addr) continue;
      const consumerOffset = committed.get(`${s.mq.brokerName}/${s.mq.queueId}`) ?? -1;
      let targetOffset = timestamp < 0 ? s.maxOffset : await this.api.searchOffset(addr, s.mq, timestamp);
      if (!force && consumerOffset >= 0 && targetOffset > consumerOffset) targetOffset = consumerOffset;
      out.push({ mq: s.mq, consumerOffset, targetOffset, delta: consumerOffset < 0 ? 0 : targetOffset - consumerOffset });
    }
    return out;
  }

  /**
   * Moves a group's committed offset of one queue to `offset` on the queue's master
   * (INVOKE_BROKER_TO_RESET_OFFSET with queueId and offset, as RocketMQ 5 sends it); the broker
   * tells the group's online clients with RESET_CONSUMER_CLIENT_OFFSET. Answers the offset set.
   */
  async resetQueueOffset(addr: string, group: string, mq: MessageQueue, offset: number): Promise<number> {
    const b = await this.body(
      addr,
      RequestCode.INVOKE_BROKER_TO_RESET_OFFSET,
      ResetOffsetRequestHeader.encode({ topic: mq.topic, group, timestamp: -1, isForce: true, queueId: mq.queueId, offset }),
      null,
      15_000,
    );
    const o = obj(b ? parseLenientJson(b.toString('utf8')) : null);
    const set = readMessageQueueMap(o['offsetTable']).find(([q]) => q.queueId === mq.queueId);
    return set ? num(set[1]) : offset;
  }

  // ------------------------------------------------------------------ transactions

  /** Transactions still open on one broker: the newest half message of each, with its check count. */
  async openHalfMessages(addr: string, brokerName: string, o: HalfScanOptions = {}): Promise<HalfMessageScan> {
    return readOpenHalfMessages(this.api, addr, brokerName, o);
  }

  // ------------------------------------------------------------------ messages

  /** By offset msgId (decoded to store host + commit-log offset); falls back to a UNIQ_KEY lookup when `topic` is given. */
  async viewMessage(msgId: string, topic?: string): Promise<ReceivedMessage[]> {
    const off = decodeOffsetMsgId(msgId);
    if (off) {
      try {
        const m = await this.api.viewMessage(`${off.address}:${off.port}`, off.commitLogOffset, await this.brokerNameOf(`${off.address}:${off.port}`), topic);
        if (m) return [m];
      } catch (e) {
        if (!topic) throw e;
      }
    }
    if (!topic) {
      throw new MQClientError(ResponseCode.QUERY_NOT_FOUND, `${msgId} is not an offset message id; give the topic (-t) to look it up as a unique key`, {
        retriable: false,
      });
    }
    return this.queryMessageByUniqueKey(topic, msgId);
  }

  /**
   * Where a message is (broker, queue, offsets, times), which groups consumed past it, its retry and
   * DLQ copies and its transaction or timer state. `msgId`: an offset msgId, or a UNIQ_KEY with `topic`.
   */
  async whereIsMessage(topic: string | undefined, msgId: string): Promise<WhereIsMessageResult> {
    return whereIsMessage(
      {
        api: this.api,
        brokerNameOf: (addr) => this.brokerNameOf(addr),
        topicMasters: async (t) => {
          const route = await this.topicRoute(t);
          const out: Array<{ brokerName: string; addr: string }> = [];
          for (const bd of route.brokerDatas) {
            const addr = bd.brokerAddrs.get(MixAll.MASTER_ID) ?? [...bd.brokerAddrs.values()][0];
            if (addr) out.push({ brokerName: bd.brokerName, addr });
          }
          return out;
        },
      },
      topic,
      msgId,
    );
  }

  /** The broker name of an address: from the name server's cluster info, else the broker's own config ('' if neither answers). */
  async brokerNameOf(addr: string, askBroker = false): Promise<string> {
    try {
      const ci = await this.clusterInfo();
      for (const [name, bd] of ci.brokerAddrTable) for (const a of bd.brokerAddrs.values()) if (a === addr) return name;
    } catch {
      // the broker may still know
    }
    if (askBroker) {
      try {
        return (await this.getBrokerConfig(addr)).get('brokerName') ?? '';
      } catch {
        // name only used for display
      }
    }
    return '';
  }

  async queryMessageByKey(topic: string, key: string, begin = 0, end = Number.MAX_SAFE_INTEGER, maxNum = 64): Promise<ReceivedMessage[]> {
    return this.queryIndex(topic, key, begin, end, maxNum, false);
  }

  async queryMessageByUniqueKey(topic: string, uniqKey: string): Promise<ReceivedMessage[]> {
    const found = await this.queryIndex(topic, uniqKey, 0, Number.MAX_SAFE_INTEGER, 32, true);
    return found.filter((m) => m.msgId === uniqKey);
  }

  private async queryIndex(topic: string, key: string, begin: number, end: number, maxNum: number, unique: boolean): Promise<ReceivedMessage[]> {
    const route = await this.topicRoute(topic);
    const out: ReceivedMessage[] = [];
    for (const bd of route.brokerDatas) {
      const addr = bd.brokerAddrs.get(MixAll.MASTER_ID) ?? [...bd.brokerAddrs.values()][0];
      if (!addr) continue;
      const found = await this.api.queryMessage(addr, bd.brokerName, { topic, key, maxNum, begin, end, unique });
      out.push(...found.filter((m) => m.topic === topic && (unique || m.keys.includes(key))));
    }
    return out;
  }
}

function readConnections(v: JsonValue | undefined): Connection[] {
  const list = Array.isArray(v) ? v : [];
  return list.map((c) => {
    const o = obj(c);
    return {
      clientId: String(o['clientId'] ?? ''),
      clientAddr: String(o['clientAddr'] ?? ''),
      language: String(o['language'] ?? ''),
      version: num(o['version']),
    };
  });
}
