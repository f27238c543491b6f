import { MQAdmin, type QueueConsumeProgress } from '@rocketmq-ts/admin';
import { Message, Producer, decodeReceivedMessages, type MessageQueue, type ReceivedMessage } from '@rocketmq-ts/client';
import { MixAll, isSystemTopic, validateTopicName } from '@rocketmq-ts/common';
import { PullSysFlag, mqVersionName } from '@rocketmq-ts/protocol';
import { currentSession } from './auth/context.js';
import type { DashboardConfig } from './config.js';
import type {
  BrokerView,
  ClusterView,
  GroupDetailView,
  GroupSummaryView,
  MessageView,
  QueueLagView,
  SendResultView,
  TopicDetailView,
  TopicSummaryView,
  WhereIsMessageView,
} from './web/views.js';

/** A request the console refuses as given (HTTP 400), as opposed to a cluster failure (502). */
export class BadRequest extends Error {
  override readonly name = 'BadRequest';
}

const num = (v: string | undefined): number => {
  const n = Number(v ?? '');
  return Number.isFinite(n) ? n : 0;
};

/** Topic kind as the topic list filters it. */
export function topicKind(topic: string): TopicSummaryView['kind'] {
  if (topic.startsWith(MixAll.RETRY_GROUP_TOPIC_PREFIX)) return 'retry';
  if (topic.startsWith(MixAll.DLQ_GROUP_TOPIC_PREFIX)) return 'dlq';
  if (isSystemTopic(topic)) return 'system';
  return 'normal';
}

/** Groups every broker creates for itself and its tools; hidden unless asked for. */
const SYSTEM_GROUPS = new Set([
  MixAll.TOOLS_CONSUMER_GROUP,
  MixAll.DEFAULT_CONSUMER_GROUP,
  MixAll.SELF_TEST_CONSUMER_GROUP,
  'FILTERSRV_CONSUMER',
  'CID_ONSAPI_OWNER',
  'CID_ONSAPI_PERMISSION',
  'CID_ONSAPI_PULL',
  'CID_ONS-HTTP-PROXY',
  'CID_RMQ_SYS_TRANS',
]);
export function isSystemGroup(group: string): boolean {
  return SYSTEM_GROUPS.has(group) || group.startsWith('CID_RMQ_SYS_');
}

/** The body shown in the browser: at most `max` bytes, base64 so any bytes survive JSON. */
export function messageView(m: ReceivedMessage, max: number): MessageView {
  return {
    msgId: m.msgId,
    offsetMsgId: m.offsetMsgId,
    topic: m.topic,
    brokerName: m.brokerName,
    queueId: m.queueId,
    queueOffset: m.queueOffset,
    commitLogOffset: m.commitLogOffset,
    tags: m.tags ?? '',
    keys: m.keys,
    bornTimestamp: m.bornTimestamp,
    storeTimestamp: m.storeTimestamp,
    bornHost: `${m.bornHost.address}:${m.bornHost.port}`,
    storeHost: `${m.storeHost.address}:${m.storeHost.port}`,
    reconsumeTimes: m.reconsumeTimes,
    sysFlag: m.sysFlag,
    flag: m.flag,
    storeSize: m.storeSize,
    bodyCRC: m.bodyCRC,
    properties: Object.fromEntries([...m.properties].sort((a, b) => a[0].localeCompare(b[0]))),
    bodySize: m.body.length,
    bodyBase64: m.body.subarray(0, max).toString('base64'),
    bodyTruncated: m.body.length > max,
  };
}

/**
 * What the console shows, read through MQAdmin (and a producer for test messages): the only way
 * this app talks to the cluster is the remoting protocol.
 */
export class ConsoleService {
  /** The console's own admin client: unsigned, or signed with the configured service identity. */
  readonly baseAdmin: MQAdmin;
  private producer: Producer | undefined;
  private producerStarting: Promise<Producer> | undefined;

  constructor(private readonly config: DashboardConfig) {
    this.baseAdmin = new MQAdmin({
      namesrvAddr: config.namesrvAddr,
      instanceName: `dashboard-${process.pid}`,
      mqClientApiTimeoutMs: config.adminTimeoutMillis,
    });
  }

  /** The admin client of this request: its signed-in session's (ACL) when there is one, else the console's own. */
  get admin(): MQAdmin {
    return currentSession()?.admin ?? this.baseAdmin;
  }

  async shutdown(): Promise<void> {
    const p = this.producer;
    this.producer = undefined;
    this.producerStarting = undefined;
    await p?.shutdown().catch(() => undefined);
    await this.baseAdmin.shutdown();
  }

  // ------------------------------------------------------------------ cluster

  async cluster(): Promise<ClusterView> {
    const ci = await this.admin.clusterInfo();
    const clusters: ClusterView['clusters'] = [];
    for (const [cluster, names] of [...ci.clusterAddrTable].sort((a, b) => a[0].localeCompare(b[0]))) {
      const groups: ClusterView['clusters'][number]['brokerGroups'] = [];
      for (const brokerName of [...names].sort()) {
        const bd = ci.brokerAddrTable.get(brokerName);
        const entries = [...(bd?.brokerAddrs ?? new Map<number, string>())].sort((a, b) => a[0] - b[0]);
        const brokers = await Promise.all(entries.map(([id, addr]) => this.broker(brokerName, id, addr)));
        const master = brokers.find((b) => b.brokerId === MixAll.MASTER_ID);
        // A slave's replication lag: the master's commit-log end minus the slave's (bytes).
        for (const b of brokers) {
          if (b.brokerId !== MixAll.MASTER_ID && master && master.commitLogMaxOffset >= 0 && b.commitLogMaxOffset >= 0) {
            b.replicationLagBytes = Math.max(0, master.commitLogMaxOffset - b.commitLogMaxOffset);
          }
        }
        groups.push({ brokerName, brokers });
      }
      clusters.push({ name: cluster, brokerGroups: groups });
    }
    return { namesrvAddr: this.config.namesrvAddr, clusters };
  }

  private async broker(brokerName: string, brokerId: number, addr: string): Promise<BrokerView> {
    const view: BrokerView = {
      brokerName,
      brokerId,
      addr,
      role: brokerId === MixAll.MASTER_ID ? 'MASTER' : 'SLAVE',
      version: '',
      putTps: 0,
      getTps: 0,
      msgPutTotalToday: 0,
      msgGetTotalToday: 0,
      diskUsedRatio: null,
      commitLogMaxOffset: -1,
      replicationLagBytes: null,
      haConnected: null,
      bootTimestamp: 0,
      error: null,
    };
    try {
      const info = await this.admin.brokerRuntimeInfo(addr);
      view.role = info.get('brokerRole') ?? view.role;
      view.version = info.get('brokerVersionDesc') ?? '';
      view.putTps = num(info.get('putTps')?.split(' ')[0]);
      view.getTps = num(info.get('getTransferredTps')?.split(' ')[0]);
      view.msgPutTotalToday = num(info.get('msgPutTotalTodayNow'));
      view.msgGetTotalToday = num(info.get('msgGetTotalTodayNow'));
      const disk = info.get('diskUsedRatio') ?? info.get('commitLogDiskRatio');
      view.diskUsedRatio = disk === undefined ? null : num(disk);
      view.commitLogMaxOffset = num(info.get('commitLogMaxOffset'));
      view.bootTimestamp = num(info.get('bootTimestamp'));
      if (info.has('haBehindBytes')) view.replicationLagBytes = num(info.get('haBehindBytes'));
      if (info.has('haConnected')) view.haConnected = info.get('haConnected') === 'true';
    } catch (e) {
      view.error = (e as Error).message;
    }
    return view;
  }

  // ------------------------------------------------------------------ topics

  async topics(): Promise<TopicSummaryView[]> {
    const list = await this.admin.topicList();
    return [...new Set(list)].sort((a, b) => a.localeCompare(b)).map((topic) => ({ topic, kind: topicKind(topic) }));
  }

  async topic(topic: string): Promise<TopicDetailView> {
    const route = await this.admin.topicRoute(topic);
    const stats = await this.admin.topicStats(topic);
    return {
      topic,
      kind: topicKind(topic),
      route: {
        brokers: route.brokerDatas.map((bd) => ({
          cluster: bd.cluster,
          brokerName: bd.brokerName,
          addrs: Object.fromEntries([...bd.brokerAddrs].map(([id, a]) => [String(id), a])),
        })),
        queues: route.queueDatas.map((q) => ({
          brokerName: q.brokerName,
          readQueueNums: q.readQueueNums,
          writeQueueNums: q.writeQueueNums,
          perm: q.perm,
        })),
      },
      queues: stats.map((s) => ({
        brokerName: s.mq.brokerName,
        queueId: s.mq.queueId,
        minOffset: s.minOffset,
        maxOffset: s.maxOffset,
        lastStoreTime: s.lastUpdateTimestamp,
      })),
      totalMessages: stats.reduce((n, s) => n + Math.max(0, s.maxOffset - s.minOffset), 0),
    };
  }

  /** Creates or updates the topic on every master of the cluster (or of every cluster). */
  async saveTopic(input: {
    topic: string;
    readQueueNums: number;
    writeQueueNums: number;
    perm: number;
    order: boolean;
    cluster?: string | undefined;
  }): Promise<string[]> {
    this.writable('topicWriteEnable');
    const why = validateTopicName(input.topic);
    if (why) throw new BadRequest(why);
    if (isSystemTopic(input.topic)) throw new BadRequest(`${input.topic} is a system topic`);
    for (const k of ['readQueueNums', 'writeQueueNums'] as const) {
      if (!Number.isInteger(input[k]) || input[k] < 1 || input[k] > 1024) throw new BadRequest(`${k} must be an integer from 1 to 1024`);
    }
    if (![2, 4, 6].includes(input.perm)) throw new BadRequest('perm must be 2 (write), 4 (read) or 6 (read and write)');
    const masters = await this.admin.masterAddrs({ cluster: input.cluster || undefined });
    if (masters.length === 0) throw new BadRequest('no master broker is registered');
    for (const m of masters) {
      await this.admin.createOrUpdateTopic(m.addr, {
        topic: input.topic,
        readQueueNums: input.readQueueNums,
        writeQueueNums: input.writeQueueNums,
        perm: input.perm,
        order: input.order,
      });
    }
    // Answer once the name servers route the topic to every master: the page opened next finds it.
    const deadline = Date.now() + this.config.adminTimeoutMillis;
    for (;;) {
      const route = await this.admin.topicRoute(input.topic).catch(() => undefined);
      const routed = new Set(route?.queueDatas.map((q) => q.brokerName) ?? []);
      if (masters.every((m) => routed.has(m.brokerName)) || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    return masters.map((m) => m.addr);
  }

  async deleteTopic(topic: string): Promise<string[]> {
    this.writable('topicWriteEnable');
    if (isSystemTopic(topic)) throw new BadRequest(`${topic} is a system topic`);
    return this.admin.deleteTopic(topic);
  }

  async sendTestMessage(topic: string, input: { body: string; keys?: string | undefined; tags?: string | undefined }): Promise<SendResultView> {
    this.writable('sendMessageEnable');
    const p = await this.startedProducer();
    const msg = new Message(topic, Buffer.from(input.body, 'utf8'), {
      ...(input.tags ? { tags: input.tags } : {}),
      ...(input.keys ? { keys: input.keys.split(/\s+/).filter((k) => k.length > 0) } : {}),
    });
    const r = await p.send(msg);
    return {
      sendStatus: r.sendStatus,
      msgId: r.msgId,
      offsetMsgId: r.offsetMsgId,
      brokerName: r.messageQueue.brokerName,
      queueId: r.messageQueue.queueId,
      queueOffset: r.queueOffset,
    };
  }

  private writable(flag: 'topicWriteEnable' | 'sendMessageEnable'): void {
    if (!this.config[flag]) throw new BadRequest(`this console is read-only (${flag}=false)`);
  }

  private async startedProducer(): Promise<Producer> {
    const session = currentSession();
    if (session) return session.producer();
    if (this.producer) return this.producer;
    this.producerStarting ??= (async () => {
      const p = new Producer({ namesrvAddr: this.config.namesrvAddr, group: 'DASHBOARD_TEST_PRODUCER', instanceName: `dashboard-producer-${process.pid}` });
      await p.start();
      this.producer = p;
      return p;
    })();
    try {
      return await this.producerStarting;
    } catch (e) {
      this.producerStarting = undefined;
      throw e;
    }
  }

  // ------------------------------------------------------------------ consumer groups

  /** Every subscription group of every master, with its lag when the brokers know its offsets. */
  async groups(includeSystem: boolean): Promise<GroupSummaryView[]> {
    const names = new Set<string>();
    for (const m of await this.admin.masterAddrs()) {
      for (const g of (await this.admin.subscriptionGroups(m.addr)).keys()) names.add(g);
    }
    const list = [...names].filter((g) => includeSystem || !isSystemGroup(g)).sort((a, b) => a.localeCompare(b));
    return Promise.all(
      list.map(async (group): Promise<GroupSummaryView> => {
        const [stats, conn] = await Promise.all([
          this.admin.consumeStatsWithTps(group).catch(() => ({ queues: [] as QueueConsumeProgress[], consumeTps: 0 })),
          this.admin.consumerConnection(group).catch(() => undefined),
        ]);
        return {
          group,
          online: conn !== undefined && conn.connections.length > 0,
          clients: conn?.connections.length ?? 0,
          messageModel: conn?.messageModel ?? '',
          consumeType: conn?.consumeType ?? '',
          topics: [...new Set(stats.queues.map((q) => q.mq.topic))].sort(),
          lag: stats.queues.reduce((n, q) => n + q.lag, 0),
          consumeTps: stats.consumeTps,
        };
      }),
    );
  }

  async group(group: string): Promise<GroupDetailView> {
    const stats = await this.admin.consumeStatsWithTps(group);
    const masters = await this.admin.masterAddrs();
    const brokerAddr = new Map(masters.map((m) => [m.brokerName, m.addr]));
    const now = Date.now();
    const queues: QueueLagView[] = await Promise.all(
      stats.queues.map(async (q) => {
        // Lag in time: how long the oldest message not yet consumed has waited.
        let oldestUnconsumedStoreTime = 0;
        const addr = brokerAddr.get(q.mq.brokerName);
        if (q.lag > 0 && addr) oldestUnconsumedStoreTime = (await this.messageAt(addr, q.mq, q.consumerOffset))?.storeTimestamp ?? 0;
        return {
          topic: q.mq.topic,
          brokerName: q.mq.brokerName,
          queueId: q.mq.queueId,
          brokerOffset: q.brokerOffset,
          consumerOffset: q.consumerOffset,
          lag: q.lag,
          lagMillis: oldestUnconsumedStoreTime > 0 ? Math.max(0, now - oldestUnconsumedStoreTime) : 0,
          lastConsumedStoreTime: q.lastTimestamp,
        };
      }),
    );
    // Each broker keeps the group's connections and subscriptions from the heartbeats it gets; a
    // group whose clients subscribe differently shows different tables on different brokers (the
    // last heartbeat wins on each), or clients that each report only part of the topics.
    const perBroker: GroupDetailView['subscriptionsByBroker'] = [];
    const connections = new Map<string, GroupDetailView['connections'][number]>();
    let messageModel = '';
    let consumeType = '';
    let consumeFromWhere = '';
    for (const m of masters) {
      try {
        const c = await this.admin.consumerConnection(group, m.addr);
        messageModel ||= c.messageModel;
        consumeType ||= c.consumeType;
        consumeFromWhere ||= c.consumeFromWhere;
        for (const x of c.connections) connections.set(x.clientId, { ...x, versionDesc: versionDesc(x.version) });
        perBroker.push({ brokerName: m.brokerName, subscriptions: c.subscriptions.sort((a, b) => a.topic.localeCompare(b.topic)) });
      } catch {
        // not online on that broker
      }
    }
    const keyOf = (s: GroupDetailView['subscriptionsByBroker'][number]): string => JSON.stringify(s.subscriptions);
    const distinct = new Set(perBroker.map(keyOf));
    const versions = new Set([...connections.values()].map((c) => c.version));
    return {
      group,
      online: connections.size > 0,
      messageModel,
      consumeType,
      consumeFromWhere,
      consumeTps: stats.consumeTps,
      lag: queues.reduce((n, q) => n + q.lag, 0),
      maxLagMillis: queues.reduce((n, q) => Math.max(n, q.lagMillis), 0),
      queues,
      connections: [...connections.values()].sort((a, b) => a.clientId.localeCompare(b.clientId)),
      subscriptions: perBroker[0]?.subscriptions ?? [],
      subscriptionsByBroker: perBroker,
      subscriptionConsistent: distinct.size <= 1,
      clientVersionsDiffer: versions.size > 1,
    };
  }

  // ------------------------------------------------------------------ producers

  async producers(topic: string, group: string): Promise<GroupDetailView['connections']> {
    if (!topic || !group) throw new BadRequest('give both the topic and the producer group');
    const list = await this.admin.producerConnection(group, topic);
    return list.map((c) => ({ ...c, versionDesc: versionDesc(c.version) })).sort((a, b) => a.clientId.localeCompare(b.clientId));
  }

  // ------------------------------------------------------------------ messages

  async messagesByKey(topic: string, key: string): Promise<MessageView[]> {
    if (!topic || !key) throw new BadRequest('give the topic and the key');
    const found = await this.admin.queryMessageByKey(topic, key, 0, Number.MAX_SAFE_INTEGER, this.config.messageQueryMaxNum);
    return found.slice(0, this.config.messageQueryMaxNum).map((m) => messageView(m, this.config.bodyPreviewMaxBytes));
  }

  /** By offset message id, else (with a topic) by the client's message id (UNIQ_KEY). */
  async messagesById(msgId: string, topic?: string): Promise<MessageView[]> {
    if (!msgId) throw new BadRequest('give the message id');
    const found = await this.admin.viewMessage(msgId, topic || undefined);
    return found.map((m) => messageView(m, this.config.bodyPreviewMaxBytes));
  }

  /** Where a message is stored, which groups consumed it, its retry/DLQ copies, transaction and timer state. */
  async whereIsMessage(msgId: string, topic?: string): Promise<WhereIsMessageView> {
    if (!msgId) throw new BadRequest('give the message id');
    return this.admin.whereIsMessage(topic || undefined, msgId);
  }

  /** Messages stored between begin and end (ms), newest queues first cut at messageQueryMaxNum. */
  async messagesByTime(topic: string, begin: number, end: number): Promise<{ messages: MessageView[]; truncated: boolean }> {
    if (!topic) throw new BadRequest('give the topic');
    if (!(begin <= end)) throw new BadRequest('the begin time must not be after the end time');
    const route = await this.admin.topicRoute(topic);
    const max = this.config.messageQueryMaxNum;
    const out: ReceivedMessage[] = [];
    let truncated = false;
    for (const bd of route.brokerDatas) {
      const addr = bd.brokerAddrs.get(MixAll.MASTER_ID) ?? [...bd.brokerAddrs.values()][0];
      const qd = route.queueDatas.find((q) => q.brokerName === bd.brokerName);
      if (!addr || !qd) continue;
      for (let queueId = 0; queueId < qd.readQueueNums; queueId++) {
        const mq: MessageQueue = { topic, brokerName: bd.brokerName, queueId };
        const maxOffset = await this.admin.api.getMaxOffset(addr, mq);
        let offset = Math.max(await this.admin.api.getMinOffset(addr, mq), await this.admin.api.searchOffset(addr, mq, begin));
        while (offset < maxOffset) {
          const batch = await this.pull(addr, mq, offset, 32);
          if (batch.length === 0) break;
          let past = false;
          for (const m of batch) {
            if (m.storeTimestamp > end) {
              past = true;
              break;
            }
            if (m.storeTimestamp >= begin) out.push(m);
          }
          if (past) break;
          offset = batch[batch.length - 1]!.queueOffset + 1;
          if (out.length > max * 4) break;
        }
      }
    }
    // Newest first; within one millisecond, by queue and offset (a stable order between searches).
    out.sort(
      (a, b) => b.storeTimestamp - a.storeTimestamp || a.brokerName.localeCompare(b.brokerName) || a.queueId - b.queueId || b.queueOffset - a.queueOffset,
    );
    if (out.length > max) truncated = true;
    return { messages: out.slice(0, max).map((m) => messageView(m, this.config.bodyPreviewMaxBytes)), truncated };
  }

  private async messageAt(addr: string, mq: MessageQueue, offset: number): Promise<ReceivedMessage | undefined> {
    return (await this.pull(addr, mq, offset, 1).catch(() => []))[0];
  }

  /** Up to maxMsgNums messages of a queue from queueOffset, read as the tools group (commits nothing). */
  async pull(addr: string, mq: MessageQueue, queueOffset: number, maxMsgNums: number): Promise<ReceivedMessage[]> {
    const r = await this.admin.api.pullMessage(
      addr,
      {
        consumerGroup: MixAll.TOOLS_CONSUMER_GROUP,
        mq,
        queueOffset,
        maxMsgNums,
        sysFlag: PullSysFlag.SUBSCRIPTION,
        commitOffset: 0,
        suspendTimeoutMillis: 0,
        subscription: '*',
        subVersion: 0,
        expressionType: 'TAG',
      },
      this.config.adminTimeoutMillis,
    );
    if (r.status !== 'FOUND') return [];
    return decodeReceivedMessages(r.body, { brokerName: mq.brokerName }).filter((m) => m.queueOffset >= queueOffset);
  }
}

/**
 * RocketMQ's version ordinal as its release name, for the client-version column. From
 * V4_0_0_SNAPSHOT (212) on, MQVersion lists every x.y.z as a SNAPSHOT and a release, ten patches
 * a minor, ten minors a major, up to V5_9_9; older (3.x) ordinals are irregular and named by the
 * protocol's own table.
 */
export function versionDesc(version: number): string {
  if (version <= 0) return '';
  if (version < 212) return mqVersionName(version);
  const k = version - 212;
  const pair = Math.floor(k / 2);
  if (pair >= 200) return 'HIGHER_VERSION';
  const name = `V${4 + Math.floor(pair / 100)}_${Math.floor(pair / 10) % 10}_${pair % 10}`;
  return k % 2 === 0 ? `${name}_SNAPSHOT` : name;
}
