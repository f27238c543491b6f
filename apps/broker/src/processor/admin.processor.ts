import { Inject, Injectable } from '@nestjs/common';
import { ConfigError, parseProperties, stringifyProperties, validateConfigUpdate } from '@rocketmq-ts/common';
import {
  CreateTopicRequestHeader,
  DeleteSubscriptionGroupRequestHeader,
  DeleteTopicRequestHeader,
  GetConsumeStatsRequestHeader,
  GetConsumerConnectionListRequestHeader,
  GetProducerConnectionListRequestHeader,
  GetTopicConfigRequestHeader,
  GetTopicStatsInfoRequestHeader,
  MQVersion,
  QueryTopicConsumeByWhoRequestHeader,
  RemotingCommand,
  RequestCode,
  ResponseCode,
  ResetOffsetRequestHeader,
  TopicValidator,
  dataVersionToJson,
  jsonEntries,
  kvTableToJson,
  mqVersionName,
  parseLenientJson,
  stringifyFastjson,
  topicConfig,
  topicConfigToJson,
  validateTopicName,
  type JsonValue,
} from '@rocketmq-ts/protocol';
import { hideTlsSecrets } from '@rocketmq-ts/remoting';
import { RemotingHandler } from '@rocketmq-ts/remoting/nest';
import { RebalanceLockManager, type MessageQueueKey } from '../client/rebalance-lock-manager.js';
import { readSubscriptionGroupConfig } from '../subscription/subscription-group-manager.js';
import { brokerConfigSchema, updatePropertiesFile } from '../config.js';
import type { BrokerConfig } from '../config.js';
import { StoreConfigError, resolveStoreConfig, type MessageStore, type MessageStoreConfig } from '@rocketmq-ts/store';
import { TopicConfigManager } from '../topic/topic-config-manager.js';
import { SubscriptionGroupManager } from '../subscription/subscription-group-manager.js';
import { ConsumerOffsetManager } from '../offset/consumer-offset-manager.js';
import { ConsumerManager } from '../client/consumer-manager.js';
import { ProducerManager } from '../client/producer-manager.js';
import { LongPollingService } from '../longpolling/long-polling.service.js';
import { ScheduleMessageService } from '../schedule/schedule-message.service.js';
import { BrokerOuterAPI } from '../namesrv/broker-outer-api.js';
import { BrokerMetrics } from '../metrics/broker-metrics.js';
import { BrokerStatsSampler } from '../metrics/broker-stats.js';
import { BrokerState } from '../broker-state.js';
import { BROKER_CONFIG, MESSAGE_STORE } from '../tokens.js';
import { ConsumerOrderInfoManager } from '../pop/consumer-order-info.js';
import { PopBufferService } from '../pop/pop-buffer.service.js';

const ok = (req: RemotingCommand, body?: string | Buffer, ext?: Record<string, string>): RemotingCommand =>
  RemotingCommand.responseTo(
    req,
    ResponseCode.SUCCESS,
    null,
    ext ?? null,
    body === undefined ? null : typeof body === 'string' ? Buffer.from(body, 'utf8') : body,
  );

const mqKey = (topic: string, brokerName: string, queueId: number): { brokerName: string; queueId: number; topic: string } => ({ brokerName, queueId, topic });

/** Broker properties that UPDATE_BROKER_CONFIG may change while running. */
const RUNTIME_UPDATABLE = new Set([
  'namesrvAddr',
  'brokerPermission',
  'autoCreateTopicEnable',
  'autoCreateSubscriptionGroup',
  'longPollingEnable',
  'shortPollingTimeMills',
  'enablePropertyFilter',
  'slaveReadEnable',
  'notifyConsumerIdsChangedEnable',
  'pullBatchMaxMessageCount',
  'filterSupportRetry',
  'rejectTransactionMessage',
  'enablePopBufferMerge',
  'popCkStayBufferTime',
  'popCkStayBufferTimeOut',
  'popCkMaxBufferSize',
  // Flow control (read per send).
  'brokerFastFailureEnable',
  'waitTimeMillsInSendQueue',
  'sendThreadPoolQueueCapacity',
]);

/** Admin and dashboard requests (mqadmin): topics, groups, offsets, stats, config, locks. */
@Injectable()
export class AdminBrokerProcessor {
  readonly locks = new RebalanceLockManager();

  constructor(
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
    @Inject(MESSAGE_STORE) private readonly store: MessageStore,
    private readonly topics: TopicConfigManager,
    private readonly groups: SubscriptionGroupManager,
    private readonly offsets: ConsumerOffsetManager,
    private readonly consumers: ConsumerManager,
    private readonly producers: ProducerManager,
    private readonly longPolling: LongPollingService,
    private readonly schedule: ScheduleMessageService,
    private readonly outer: BrokerOuterAPI,
    private readonly metrics: BrokerMetrics,
    private readonly stats: BrokerStatsSampler,
    private readonly state: BrokerState,
    private readonly orderInfo: ConsumerOrderInfoManager,
    private readonly popBuffer: PopBufferService,
  ) {}

  /** Metadata lives on the master (a slave copies it from there): writes to a slave are refused. */
  private refuseOnSlave(req: RemotingCommand): RemotingCommand | null {
    if (this.state.isMaster) return null;
    return RemotingCommand.responseTo(req, ResponseCode.NO_PERMISSION, `the broker[${this.config.brokerName}] is a slave; send this to its master`);
  }

  // ------------------------------------------------------------------ topics

  @RemotingHandler(RequestCode.UPDATE_AND_CREATE_TOPIC)
  async updateTopic(req: RemotingCommand): Promise<RemotingCommand> {
    const refused = this.refuseOnSlave(req);
    if (refused) return refused;
    const h = CreateTopicRequestHeader.decode(req.extFields);
    const problem = validateTopicName(h.topic);
    if (problem) return RemotingCommand.responseTo(req, ResponseCode.INVALID_PARAMETER, problem);
    if (h.topic === this.config.brokerClusterName || (h.topic === TopicValidator.AUTO_CREATE_TOPIC_KEY_TOPIC && !this.config.autoCreateTopicEnable)) {
      return RemotingCommand.responseTo(req, ResponseCode.INVALID_PARAMETER, `the topic[${h.topic}] is conflict with system topic`);
    }
    const attributes: Record<string, string> = { ...(this.topics.get(h.topic)?.attributes ?? {}) };
    for (const part of (h.attributes ?? '').split(',')) {
      const p = part.trim();
      if (p.startsWith('+') && p.includes('=')) attributes[p.slice(1, p.indexOf('='))] = p.slice(p.indexOf('=') + 1);
      else if (p.startsWith('-')) delete attributes[p.slice(1)];
    }
    this.topics.update(
      topicConfig(h.topic, {
        readQueueNums: h.readQueueNums,
        writeQueueNums: h.writeQueueNums,
        perm: h.perm,
        topicFilterType: h.topicFilterType,
        topicSysFlag: h.topicSysFlag ?? 0,
        order: h.order,
        attributes,
      }),
    );
    await this.topics.whenPersisted();
    return ok(req);
  }

  @RemotingHandler(RequestCode.DELETE_TOPIC_IN_BROKER)
  async deleteTopic(req: RemotingCommand): Promise<RemotingCommand> {
    const refused = this.refuseOnSlave(req);
    if (refused) return refused;
    const h = DeleteTopicRequestHeader.decode(req.extFields);
    // A name no topic can have names no topic here (and must never become a path).
    const problem = this.topics.get(h.topic) === undefined ? validateTopicName(h.topic) : null;
    if (problem) return RemotingCommand.responseTo(req, ResponseCode.INVALID_PARAMETER, problem);
    if (TopicValidator.RMQ_SYS_SCHEDULE_TOPIC === h.topic) {
      return RemotingCommand.responseTo(req, ResponseCode.NO_PERMISSION, `the topic[${h.topic}] is a system topic`);
    }
    this.topics.delete(h.topic);
    this.offsets.removeTopic(h.topic);
    // Its consume queues go too, so a topic created again under the name starts empty.
    await this.store.deleteTopics([h.topic]);
    await this.topics.whenPersisted();
    return ok(req);
  }

  @RemotingHandler(RequestCode.GET_ALL_TOPIC_CONFIG)
  allTopics(req: RemotingCommand): RemotingCommand {
    return ok(req, this.topics.toJson(), { totalTopicNum: String(this.topics.table.size) });
  }

  @RemotingHandler(RequestCode.GET_TOPIC_CONFIG)
  oneTopic(req: RemotingCommand): RemotingCommand {
    const h = GetTopicConfigRequestHeader.decode(req.extFields);
    const t = this.topics.get(h.topic);
    if (!t) return RemotingCommand.responseTo(req, ResponseCode.TOPIC_NOT_EXIST, `No topic in this broker. topic: ${h.topic}`);
    return ok(req, `{"topicConfig":${topicConfigToJson(t)}}`);
  }

  @RemotingHandler(RequestCode.GET_TOPIC_NAME_LIST)
  topicNames(req: RemotingCommand): RemotingCommand {
    return ok(req, JSON.stringify({ topicList: [...this.topics.table.keys()], brokerAddr: this.state.brokerAddr }));
  }

  @RemotingHandler(RequestCode.GET_SYSTEM_TOPIC_LIST_FROM_BROKER)
  systemTopics(req: RemotingCommand): RemotingCommand {
    const c = this.config;
    const list = [...this.topics.table.keys()].filter(
      (t) => t === c.brokerClusterName || t === c.brokerName || t.startsWith('rmq_sys_') || Object.values(TopicValidator).includes(t as never),
    );
    return ok(req, JSON.stringify({ topicList: list }));
  }

  @RemotingHandler(RequestCode.GET_TOPIC_STATS_INFO)
  async topicStats(req: RemotingCommand): Promise<RemotingCommand> {
    const h = GetTopicStatsInfoRequestHeader.decode(req.extFields);
    const t = this.topics.get(h.topic);
    if (!t) return RemotingCommand.responseTo(req, ResponseCode.TOPIC_NOT_EXIST, `topic[${h.topic}] not exist`);
    const table = new Map<object, object>();
    const store = this.store;
    for (let q = 0; q < t.writeQueueNums; q++) {
      const min = store.getMinOffsetInQueue(h.topic, q);
      const max = store.getMaxOffsetInQueue(h.topic, q);
      const last = max > 0 ? await store.getMessageStoreTimeStamp(h.topic, q, max - 1) : 0;
      table.set(mqKey(h.topic, this.config.brokerName, q), { lastUpdateTimestamp: Math.max(0, last), maxOffset: max, minOffset: min });
    }
    return ok(req, stringifyFastjson({ offsetTable: table, topicPutTps: this.stats.topicPutTps(h.topic) }));
  }

  // ------------------------------------------------------------------ groups

  @RemotingHandler(RequestCode.UPDATE_AND_CREATE_SUBSCRIPTIONGROUP)
  async updateGroup(req: RemotingCommand): Promise<RemotingCommand> {
    const refused = this.refuseOnSlave(req);
    if (refused) return refused;
    const v = req.body ? parseLenientJson(req.body.toString('utf8')) : null;
    const g = readSubscriptionGroupConfig(v ?? undefined);
    if (!g.groupName) return RemotingCommand.responseTo(req, ResponseCode.INVALID_PARAMETER, 'the subscription group config has no groupName');
    this.groups.update(g);
    await this.groups.whenPersisted();
    return ok(req);
  }

  @RemotingHandler(RequestCode.DELETE_SUBSCRIPTIONGROUP)
  async deleteGroup(req: RemotingCommand): Promise<RemotingCommand> {
    const refused = this.refuseOnSlave(req);
    if (refused) return refused;
    const h = DeleteSubscriptionGroupRequestHeader.decode(req.extFields);
    if (!this.groups.delete(h.groupName)) this.metrics.removeGroup(h.groupName);
    if (h.cleanOffset) this.offsets.removeGroup(h.groupName);
    await this.groups.whenPersisted();
    return ok(req);
  }

  @RemotingHandler(RequestCode.GET_ALL_SUBSCRIPTIONGROUP_CONFIG)
  allGroups(req: RemotingCommand): RemotingCommand {
    return ok(req, this.groups.toJson());
  }

  @RemotingHandler(RequestCode.GET_SUBSCRIPTIONGROUP_CONFIG)
  oneGroup(req: RemotingCommand): RemotingCommand {
    const group = req.ext('group') ?? '';
    const g = this.groups.table.get(group);
    if (!g) return RemotingCommand.responseTo(req, ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST, `subscription group ${group} not exist`);
    return ok(req, stringifyFastjson(g));
  }

  @RemotingHandler(RequestCode.GET_ALL_CONSUMER_OFFSET)
  allOffsets(req: RemotingCommand): RemotingCommand {
    return ok(req, this.offsets.toJson());
  }

  @RemotingHandler(RequestCode.GET_ALL_DELAY_OFFSET)
  allDelayOffsets(req: RemotingCommand): RemotingCommand {
    return ok(req, this.schedule.toJson());
  }

  @RemotingHandler(RequestCode.GET_CONSUME_STATS)
  async consumeStats(req: RemotingCommand): Promise<RemotingCommand> {
    const h = GetConsumeStatsRequestHeader.decode(req.extFields);
    const topics = new Set<string>();
    if (h.topic) {
      topics.add(h.topic);
    } else if (h.topicList) {
      for (const t of h.topicList.split(';')) if (t) topics.add(t);
    } else {
      // No topic: every topic the group has offsets for or subscribes to.
      for (const t of this.offsets.topicsOfGroup(h.consumerGroup)) topics.add(t);
      for (const t of this.consumers.get(h.consumerGroup)?.subscriptions.keys() ?? []) topics.add(t);
    }
    const table = new Map<object, object>();
    const store = this.store;
    for (const topic of topics) {
      const tc = this.topics.get(topic);
      if (!tc) continue;
      for (let q = 0; q < tc.writeQueueNums; q++) {
        const brokerOffset = store.getMaxOffsetInQueue(topic, q);
        const consumerOffset = Math.max(0, this.offsets.queryOffset(h.consumerGroup, topic, q));
        const pullOffset = Math.max(consumerOffset, this.offsets.queryPullOffset(h.consumerGroup, topic, q));
        const lastTimestamp = consumerOffset > 0 ? Math.max(0, await store.getMessageStoreTimeStamp(topic, q, consumerOffset - 1)) : 0;
        table.set(mqKey(topic, this.config.brokerName, q), { brokerOffset, consumerOffset, lastTimestamp, pullOffset });
      }
    }
    let consumeTps = 0;
    for (const topic of topics) consumeTps += this.stats.groupConsumeTps(topic, h.consumerGroup);
    return ok(req, stringifyFastjson({ consumeTps, offsetTable: table }));
  }

  @RemotingHandler(RequestCode.GET_CONSUMER_CONNECTION_LIST)
  consumerConnections(req: RemotingCommand): RemotingCommand {
    const h = GetConsumerConnectionListRequestHeader.decode(req.extFields);
    const g = this.consumers.get(h.consumerGroup);
    if (!g || g.channels.size === 0) {
      return RemotingCommand.responseTo(req, ResponseCode.CONSUMER_NOT_ONLINE, `the consumer group[${h.consumerGroup}] not online`);
    }
    const connectionSet = [...g.channels.values()].map((c) => ({
      clientAddr: c.channel.remoteAddress,
      clientId: c.clientId,
      language: c.language,
      version: c.version,
    }));
    return ok(
      req,
      stringifyFastjson({
        connectionSet,
        consumeFromWhere: g.consumeFromWhere,
        consumeType: g.consumeType,
        messageModel: g.messageModel,
        subscriptionTable: Object.fromEntries(g.subscriptions),
      }),
    );
  }

  @RemotingHandler(RequestCode.GET_PRODUCER_CONNECTION_LIST)
  producerConnections(req: RemotingCommand): RemotingCommand {
    const h = GetProducerConnectionListRequestHeader.decode(req.extFields);
    const m = this.producers.groups.get(h.producerGroup);
    if (!m || m.size === 0) return RemotingCommand.responseTo(req, ResponseCode.SYSTEM_ERROR, `the producer group[${h.producerGroup}] not exist`);
    const connectionSet = [...m.values()].map((c) => ({ clientAddr: c.channel.remoteAddress, clientId: c.clientId, language: c.language, version: c.version }));
    return ok(req, stringifyFastjson({ connectionSet }));
  }

  @RemotingHandler(RequestCode.QUERY_TOPIC_CONSUME_BY_WHO)
  consumeByWho(req: RemotingCommand): RemotingCommand {
    const h = QueryTopicConsumeByWhoRequestHeader.decode(req.extFields);
    const groups = new Set([...this.consumers.groupsOfTopic(h.topic), ...this.offsets.groupsOfTopic(h.topic)]);
    return ok(req, JSON.stringify({ groupList: [...groups] }));
  }

  // ------------------------------------------------------------------ offsets reset

  @RemotingHandler(RequestCode.INVOKE_BROKER_TO_RESET_OFFSET)
  async resetOffset(req: RemotingCommand): Promise<RemotingCommand> {
    const refused = this.refuseOnSlave(req);
    if (refused) return refused;
    const h = ResetOffsetRequestHeader.decode(req.extFields);
    const tc = this.topics.get(h.topic);
    if (!tc) return RemotingCommand.responseTo(req, ResponseCode.TOPIC_NOT_EXIST, `[reset-offset] request topic not exist, ${h.topic}`);
    const store = this.store;
    const table = new Map<object, number>();
    const queues = h.queueId !== undefined && h.queueId >= 0 ? [h.queueId] : [...Array(tc.readQueueNums).keys()];
    for (const q of queues) {
      let target: number;
      if (h.offset !== undefined && h.offset >= 0 && h.queueId !== undefined && h.queueId >= 0) target = h.offset;
      else if (h.timestamp < 0) target = store.getMaxOffsetInQueue(h.topic, q);
      else target = await store.getOffsetInQueueByTime(h.topic, q, h.timestamp);
      const current = this.offsets.queryOffset(h.group, h.topic, q);
      if (!h.isForce && current >= 0 && target > current) target = current;
      // POP: pops in flight no longer hold the offset back or move it later.
      this.popBuffer.forget(h.group, h.topic, q);
      this.offsets.commitOffset(h.group, h.topic, q, target);
      table.set(mqKey(h.topic, this.config.brokerName, q), target);
    }
    // A FIFO pop group starts over from the new offsets: its batches out are forgotten.
    this.orderInfo.clear(h.topic, h.group);
    const body = Buffer.from(stringifyFastjson({ offsetTable: table }), 'utf8');
    // Tell the group's online clients to move too (RESET_CONSUMER_CLIENT_OFFSET).
    const g = this.consumers.get(h.group);
    for (const info of g?.channels.values() ?? []) {
      // Oneway, as RocketMQ sends it to current clients (they never answer this request).
      const cmd = RemotingCommand.request(
        RequestCode.RESET_CONSUMER_CLIENT_OFFSET,
        { topic: h.topic, group: h.group, timestamp: String(h.timestamp), isForce: String(h.isForce) },
        body,
      );
      // a client that cannot be reached picks the offsets up from the broker on its next start
      info.channel.invokeOneway(cmd.markOneway());
    }
    await this.offsets.persist(true);
    return ok(req, body);
  }

  // ------------------------------------------------------------------ broker

  @RemotingHandler(RequestCode.GET_BROKER_RUNTIME_INFO)
  runtimeInfo(req: RemotingCommand): RemotingCommand {
    const s = this.store.getStats();
    const info: Record<string, string> = {
      brokerVersionDesc: mqVersionName(MQVersion.CURRENT),
      brokerVersion: String(MQVersion.CURRENT),
      brokerRole: this.config.brokerRole,
      brokerActive: String(this.state.state === 'running'),
      bootTimestamp: String(this.state.startTime),
      msgPutTotalTodayNow: String(s.putCount),
      msgGetTotalTodayNow: String(s.getFoundMessages),
      msgPutTotalTodayMorning: String(this.stats.todayMorning.put),
      msgGetTotalTodayMorning: String(this.stats.todayMorning.get),
      msgPutTotalYesterdayMorning: String(this.stats.yesterdayMorning.put),
      msgGetTotalYesterdayMorning: String(this.stats.yesterdayMorning.get),
      putTps: this.stats.tps('put'),
      getTransferredTps: this.stats.tps('get'),
      commitLogMinOffset: String(this.store.getMinPhyOffset()),
      commitLogMaxOffset: String(this.store.getMaxPhyOffset()),
      dispatchBehindBytes: '0',
      pageCacheLockTimeMills: '0',
      sendThreadPoolQueueSize: '0',
      pullThreadPoolQueueSize: '0',
      longPollingHeld: String(this.longPolling.size),
    };
    // Replication: a master's slaves and how far behind they are, a slave's connection to its master.
    const ha = this.store.getHaStatus();
    info['haRole'] = ha.role;
    if (ha.role === 'SLAVE') {
      const m = ha.master;
      info['masterAddr'] = this.outer.masterAddr ?? '';
      info['masterHaAddress'] = m?.masterAddress ?? '';
      info['haConnected'] = String(m?.connected ?? false);
      info['haBehindBytes'] = String(m?.behindBytes ?? 0);
      info['haMasterOffset'] = String(m?.masterOffset ?? -1);
    } else {
      info['haSlaveCount'] = String(ha.slaves.length);
      info['haSlaves'] = ha.slaves.map((x) => `${x.addr}:${x.behindBytes}`).join(';');
      info['haPush2SlaveMaxOffset'] = String(ha.slaves[0]?.ackOffset ?? -1);
    }
    for (const [k, v] of Object.entries(this.store.getRuntimeInfo())) info[k] ??= String(v);
    return ok(req, kvTableToJson(info));
  }

  @RemotingHandler(RequestCode.GET_BROKER_CONFIG)
  brokerConfig(req: RemotingCommand): RemotingCommand {
    // TLS key passwords and the broker's own ACL secret never leave it (any account may read the config).
    const flat = Object.entries(hideTlsSecrets(this.config.flat)).map(
      ([k, v]) => [k, k === 'innerClientAuthenticationCredentials' && v !== '' ? '***' : String(v)] as [string, string],
    );
    return ok(req, stringifyProperties(flat), { version: dataVersionToJson(this.topics.dataVersion) });
  }

  /**
   * Properties in RUNTIME_UPDATABLE change at once; every accepted property is also written to the
   * broker's `-c` file (when it was started with one), so others apply at the next start. Names
   * this broker does not know are refused (RocketMQ ignores them silently).
   */
  @RemotingHandler(RequestCode.UPDATE_BROKER_CONFIG)
  updateBrokerConfig(req: RemotingCommand): RemotingCommand {
    const props = parseProperties(req.body?.toString('utf8') ?? '');
    if (props.size === 0) return RemotingCommand.responseTo(req, ResponseCode.INVALID_PARAMETER, 'no properties in the request body');
    const flat = this.config.flat;
    let update;
    try {
      update = validateConfigUpdate(brokerConfigSchema(), props);
    } catch (e) {
      if (e instanceof ConfigError) return RemotingCommand.responseTo(req, ResponseCode.INVALID_PARAMETER, e.message);
      throw e;
    }
    if (update.unknown.length > 0) {
      return RemotingCommand.responseTo(req, ResponseCode.INVALID_PARAMETER, `unknown broker properties: ${update.unknown.join(', ')}`);
    }
    const values = update.values;
    // Store properties also pass the store's own checks (delay levels, sizes...), as at start-up.
    try {
      const storePart: Record<string, unknown> = { ...this.config.store };
      for (const [k, v] of values) if (k in storePart) storePart[k] = v;
      resolveStoreConfig(storePart as Partial<MessageStoreConfig>);
    } catch (e) {
      if (e instanceof StoreConfigError) return RemotingCommand.responseTo(req, ResponseCode.INVALID_PARAMETER, e.message);
      throw e;
    }
    const c = this.config as unknown as Record<string, string | number | boolean>;
    const later: string[] = [];
    for (const [k, v] of values) {
      if (RUNTIME_UPDATABLE.has(k)) {
        c[k] = v;
        flat[k] = v;
        if (k === 'namesrvAddr') this.outer.setNamesrvAddr(String(v));
      } else {
        later.push(k);
      }
    }
    const file = this.state.configFile;
    if (file !== undefined) {
      try {
        updatePropertiesFile(file, new Map([...values].map(([k, v]) => [k, String(v)])));
      } catch (e) {
        return RemotingCommand.responseTo(req, ResponseCode.SYSTEM_ERROR, `applied in memory, but writing ${file} failed: ${(e as Error).message}`);
      }
    }
    this.outer.registerSoon();
    const remark =
      later.length === 0
        ? null
        : file !== undefined
          ? `written to ${file}; takes effect after a restart: ${later.join(', ')}`
          : `no config file to persist to; ignored until restart: ${later.join(', ')}`;
    return RemotingCommand.responseTo(req, ResponseCode.SUCCESS, remark);
  }

  // ------------------------------------------------------------------ orderly locks

  @RemotingHandler(RequestCode.LOCK_BATCH_MQ)
  lockBatch(req: RemotingCommand): RemotingCommand {
    const { group, clientId, mqs } = readLockBody(req.body);
    const locked = this.locks.tryLockBatch(group, mqs, clientId);
    return ok(req, JSON.stringify({ lockOKMQSet: locked.map((q) => mqKey(q.topic, q.brokerName, q.queueId)) }));
  }

  @RemotingHandler(RequestCode.UNLOCK_BATCH_MQ)
  unlockBatch(req: RemotingCommand): RemotingCommand {
    const { group, clientId, mqs } = readLockBody(req.body);
    this.locks.unlockBatch(group, mqs, clientId);
    return ok(req);
  }
}

function readLockBody(body: Buffer | null): { group: string; clientId: string; mqs: MessageQueueKey[] } {
  const o = (body ? parseLenientJson(body.toString('utf8')) : {}) as Record<string, JsonValue>;
  const mqs: MessageQueueKey[] = [];
  for (const v of Array.isArray(o['mqSet']) ? o['mqSet'] : []) {
    const m = Object.fromEntries(jsonEntries(v)) as Record<string, JsonValue>;
    mqs.push({ topic: String(m['topic'] ?? ''), brokerName: String(m['brokerName'] ?? ''), queueId: Number(m['queueId'] ?? 0) });
  }
  return { group: String(o['consumerGroup'] ?? ''), clientId: String(o['clientId'] ?? ''), mqs };
}
