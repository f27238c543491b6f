import { MessageConst } from '@rocketmq-ts/common';
import {
  CheckTransactionStateRequestHeader,
  MixAll,
  RemotingCommand,
  RequestCode,
  ResponseCode,
  SerializeType,
  decodeMessageRecord,
  signRequest,
  jsonEntries,
  parseLenientJson,
  stringifyFastjson,
  type JsonValue,
  type TopicRouteData,
} from '@rocketmq-ts/protocol';
import { RemotingClient, type RemotingConnection } from '@rocketmq-ts/remoting';
import { MQClientAPI, readMessageQueueMap } from './api.js';
import { buildClientId, resolveClientOptions, type ClientOptions, type ResolvedClientOptions } from './config.js';
import { Log, defaultClientLogger } from './logger.js';
import { routeFingerprint, topicRouteToPublishInfo, topicRouteToSubscribeInfo, type MessageQueue } from './message-queue.js';
import { decodeReceivedMessages, toReceivedMessage } from './received-message.js';
import type { ConsumerInner, ProducerInner, TransactionCheckRequest } from './types.js';

/** ms between rebalances when nothing triggers one earlier (rocketmq.client.rebalance.waitInterval). */
export const REBALANCE_INTERVAL_MS = 20_000;
/** While a subscribed topic has no route yet, look again this often (ms) instead of waiting for the 30 s poll. */
const MISSING_ROUTE_RETRY_MS = 1_000;

/**
 * The connection core shared by every producer and consumer with the same clientId (RocketMQ's
 * MQClientInstance): one RemotingClient, the route cache and broker address table, heartbeats to
 * every broker, route polling, periodic offset commits and rebalancing, and the handlers of the
 * requests brokers send to clients.
 */
export class MQClientInstance {
  readonly clientId: string;
  readonly remoting: RemotingClient;
  readonly api: MQClientAPI;
  readonly log: Log;
  readonly topicRouteTable = new Map<string, TopicRouteData>();
  /** brokerName → brokerId → "host:port". */
  readonly brokerAddrTable = new Map<string, Map<number, string>>();
  /** Broker address → the version its heartbeat answers carried. */
  readonly brokerVersionTable = new Map<string, number>();
  private readonly producers = new Map<string, ProducerInner>();
  private readonly consumers = new Map<string, ConsumerInner>();
  private readonly routeFingerprints = new Map<string, string>();
  private readonly timers: NodeJS.Timeout[] = [];
  private state: 'CREATED' | 'RUNNING' | 'SHUTDOWN' = 'CREATED';
  private rebalanceScheduled: NodeJS.Timeout | undefined;
  private rebalanceRunning: Promise<void> | undefined;
  private rebalanceAgain = false;
  private heartbeatInFlight: Promise<void> | undefined;
  private heartbeatQueued: Promise<void> | undefined;
  private routePollRunning = false;
  private lastMissingRouteTry = 0;

  constructor(readonly options: ResolvedClientOptions) {
    this.clientId = buildClientId(options);
    this.log = new Log(options.logger ?? defaultClientLogger('client'));
    const creds = options.credentials;
    this.remoting = new RemotingClient({
      name: 'client-remoting',
      tls: options.tls,
      ...(options.serializeType === 'ROCKETMQ' ? { serializeType: SerializeType.ROCKETMQ } : {}),
      // Signing runs last, over the final header and body; without keys there is no hook at all.
      ...(creds !== undefined ? { beforeRequest: (cmd: RemotingCommand) => signRequest(cmd, creds) } : {}),
    });
    this.api = new MQClientAPI(this.remoting, options.namesrvAddrs, {
      timeoutMs: options.mqClientApiTimeoutMs,
      language: options.language,
      serializeType: options.serializeType,
      log: this.log,
    });
    this.remoting.registerHandler(RequestCode.NOTIFY_CONSUMER_IDS_CHANGED, (cmd) => {
      this.log.info('rebalance.notified', 'broker says the consumer ids of a group changed', { group: cmd.ext('consumerGroup') });
      this.rebalanceImmediately();
      return null;
    });
    this.remoting.registerHandler(RequestCode.RESET_CONSUMER_CLIENT_OFFSET, (cmd) => this.onResetOffset(cmd));
    this.remoting.registerHandler(RequestCode.GET_CONSUMER_STATUS_FROM_CLIENT, (cmd) => this.onGetConsumerStatus(cmd));
    this.remoting.registerHandler(RequestCode.GET_CONSUMER_RUNNING_INFO, (cmd) => this.onGetRunningInfo(cmd));
    this.remoting.registerHandler(RequestCode.CONSUME_MESSAGE_DIRECTLY, (cmd, conn) => this.onConsumeDirectly(cmd, conn));
    this.remoting.registerHandler(RequestCode.CHECK_TRANSACTION_STATE, (cmd, conn) => this.onCheckTransactionState(cmd, conn));
  }

  get isRunning(): boolean {
    return this.state === 'RUNNING';
  }

  // ------------------------------------------------------------------ membership

  registerProducer(p: ProducerInner): void {
    if (this.producers.has(p.group)) {
      throw new Error(`producer group ${p.group} is already registered in client ${this.clientId}; use another group or instanceName`);
    }
    this.producers.set(p.group, p);
  }

  registerConsumer(c: ConsumerInner): void {
    if (this.consumers.has(c.group)) {
      throw new Error(`consumer group ${c.group} is already registered in client ${this.clientId}; use another group or instanceName`);
    }
    this.consumers.set(c.group, c);
  }

  /** Removes a producer and tells the brokers; shuts the core down when nothing is left. */
  async unregisterProducer(group: string): Promise<void> {
    if (!this.producers.delete(group)) return;
    await this.unregisterFromBrokers(group, undefined);
    await this.releaseIfIdle();
  }

  async unregisterConsumer(group: string): Promise<void> {
    if (!this.consumers.delete(group)) return;
    await this.unregisterFromBrokers(undefined, group);
    await this.releaseIfIdle();
  }

  consumer(group: string): ConsumerInner | undefined {
    return this.consumers.get(group);
  }

  // ------------------------------------------------------------------ lifecycle

  start(): void {
    if (this.state === 'RUNNING') return;
    if (this.state === 'SHUTDOWN') throw new Error(`client ${this.clientId} was shut down`);
    this.state = 'RUNNING';
    const every = (ms: number, fn: () => unknown): void => {
      const t = setInterval(() => void fn(), ms);
      t.unref();
      this.timers.push(t);
    };
    every(this.options.pollNameServerIntervalMs, () => this.updateAllTopicRoutes());
    every(this.options.heartbeatBrokerIntervalMs, () => this.sendHeartbeatToAllBrokers());
    every(this.options.persistConsumerOffsetIntervalMs, () => this.persistAllConsumerOffsets());
    every(REBALANCE_INTERVAL_MS, () => this.rebalanceImmediately());
    every(MISSING_ROUTE_RETRY_MS, () => this.retryMissingRoutes());
    this.log.info('client.start', `client ${this.clientId} started`, { namesrv: this.api.getNamesrvAddrs().join(';') });
  }

  private async releaseIfIdle(): Promise<void> {
    if (this.producers.size > 0 || this.consumers.size > 0 || this.state !== 'RUNNING') return;
    await this.shutdown();
  }

  async shutdown(): Promise<void> {
    if (this.state === 'SHUTDOWN') return;
    this.state = 'SHUTDOWN';
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
    if (this.rebalanceScheduled) clearTimeout(this.rebalanceScheduled);
    await this.rebalanceRunning?.catch(() => undefined);
    this.remoting.close();
    clientInstances.delete(instanceKey(this.options, this.clientId));
    this.log.info('client.shutdown', `client ${this.clientId} shut down`);
  }

  // ------------------------------------------------------------------ routes

  /** Topics in use: every producer's published topics and every consumer's subscriptions. */
  private topicsInUse(): Set<string> {
    const topics = new Set<string>();
    for (const p of this.producers.values()) for (const t of p.publishTopics()) topics.add(t);
    for (const c of this.consumers.values()) for (const s of c.subscriptions()) topics.add(s.topic);
    return topics;
  }

  async updateAllTopicRoutes(): Promise<void> {
    if (this.routePollRunning || this.state !== 'RUNNING') return;
    this.routePollRunning = true;
    try {
      for (const t of this.topicsInUse()) {
        try {
          await this.updateTopicRouteFromNameServer(t);
        } catch (e) {
          this.log.warn('route.update.failed', 'could not refresh the route', { topic: t }, e);
        }
      }
    } finally {
      this.routePollRunning = false;
    }
  }

  private async retryMissingRoutes(): Promise<void> {
    if (this.state !== 'RUNNING') return;
    const missing = [...this.topicsInUse()].filter((t) => !this.topicRouteTable.has(t));
    if (missing.length === 0 || Date.now() - this.lastMissingRouteTry < MISSING_ROUTE_RETRY_MS) return;
    this.lastMissingRouteTry = Date.now();
    let found = false;
    for (const t of missing) {
      try {
        if (await this.updateTopicRouteFromNameServer(t)) found = true;
      } catch {
        // logged by the regular poll
      }
    }
    if (found && this.consumers.size > 0) this.rebalanceImmediately();
  }

  /**
   * Fetches a topic's route and, when it changed, updates broker addresses and every producer's
   * and consumer's queue lists. With `defaultTopicQueueNums`, a topic the name server does not
   * know borrows the TBW102 template's route (the broker creates the topic on first send).
   * Returns whether a route is known now.
   */
  async updateTopicRouteFromNameServer(
    topic: string,
    defaultTopicQueueNums?: number,
    templateTopic: string = MixAll.AUTO_CREATE_TOPIC_KEY_TOPIC,
  ): Promise<boolean> {
    let route = await this.api.getTopicRouteInfo(topic);
    if (route === undefined && defaultTopicQueueNums !== undefined) {
      const template = await this.api.getTopicRouteInfo(templateTopic);
      if (template !== undefined) {
        for (const qd of template.queueDatas) {
          const n = Math.min(defaultTopicQueueNums, qd.readQueueNums);
          qd.readQueueNums = n;
          qd.writeQueueNums = n;
        }
        route = template;
      }
    }
    if (route === undefined) return this.topicRouteTable.has(topic);
    const fp = routeFingerprint(route);
    if (this.routeFingerprints.get(topic) === fp) return true;
    this.routeFingerprints.set(topic, fp);
    this.topicRouteTable.set(topic, route);
    let newBroker = false;
    for (const bd of route.brokerDatas) {
      const known = this.brokerAddrTable.get(bd.brokerName);
      for (const [id, addr] of bd.brokerAddrs) if (known?.get(id) !== addr) newBroker = true;
      this.brokerAddrTable.set(bd.brokerName, new Map(bd.brokerAddrs));
    }
    // A broker we never talked to learns who we are now rather than at the next 30 s heartbeat.
    if (newBroker) void this.sendHeartbeatToAllBrokers();
    const pub = topicRouteToPublishInfo(topic, route);
    for (const p of this.producers.values()) if (p.publishTopics().includes(topic)) p.updateTopicPublishInfo(topic, pub);
    const sub = topicRouteToSubscribeInfo(topic, route);
    for (const c of this.consumers.values()) if (c.subscriptions().some((s) => s.topic === topic)) c.updateSubscribeInfo(topic, sub);
    this.log.info('route.changed', 'topic route changed', { topic, route: fp });
    return true;
  }

  findBrokerAddressInPublish(brokerName: string): string | undefined {
    return this.brokerAddrTable.get(brokerName)?.get(MixAll.MASTER_ID);
  }

  /**
   * The address to read from: the suggested broker id if known, else the master, else any (a
   * slave). A broker that could not be reached lately is passed over while another one of the
   * group is there, so consumers move to the slave as soon as the master is gone, before the
   * name servers' route says so.
   */
  findBrokerAddressInSubscribe(brokerName: string, brokerId: number = MixAll.MASTER_ID, onlyThisBroker = false): { addr: string; slave: boolean } | undefined {
    const m = this.brokerAddrTable.get(brokerName);
    if (!m || m.size === 0) return undefined;
    const usable = (a: string | undefined): a is string => a !== undefined && !this.isUnreachable(a);
    let addr = m.get(brokerId);
    let id: number = brokerId;
    if (!usable(addr) && !onlyThisBroker) {
      const ordered = [...m.entries()].sort((a, b) => (a[0] === brokerId ? -1 : b[0] === brokerId ? 1 : a[0] - b[0]));
      const pick = ordered.find(([, a]) => usable(a)) ?? (addr === undefined ? ordered[0] : undefined);
      if (pick) [id, addr] = pick;
    }
    return addr === undefined ? undefined : { addr, slave: id !== MixAll.MASTER_ID };
  }

  /** Brokers that refused a connection: address → until when (ms) they are passed over. */
  private readonly unreachable = new Map<string, number>();

  /** A connection to `addr` failed: prefer the other brokers of its group for a while. */
  markUnreachable(addr: string, forMs = 30_000): void {
    this.unreachable.set(addr, Date.now() + forMs);
  }

  /** Someone who knows (a slave that replicates from it) says `addr` is up again. */
  markReachable(addr: string): void {
    this.unreachable.delete(addr);
  }

  private isUnreachable(addr: string): boolean {
    const until = this.unreachable.get(addr);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.unreachable.delete(addr);
    return false;
  }

  /** Some broker that serves the topic (for group-wide questions like the consumer id list). */
  findBrokerAddrByTopic(topic: string): string | undefined {
    const route = this.topicRouteTable.get(topic);
    if (!route || route.brokerDatas.length === 0) return undefined;
    const bd = route.brokerDatas[Math.floor(Math.random() * route.brokerDatas.length)]!;
    return bd.brokerAddrs.get(MixAll.MASTER_ID) ?? [...bd.brokerAddrs.values()][0];
  }

  async findConsumerIdList(topic: string, group: string): Promise<string[]> {
    let addr = this.findBrokerAddrByTopic(topic);
    if (addr === undefined) {
      await this.updateTopicRouteFromNameServer(topic).catch(() => false);
      addr = this.findBrokerAddrByTopic(topic);
    }
    if (addr === undefined) return [];
    try {
      return await this.api.getConsumerIdList(addr, group);
    } catch (e) {
      this.log.warn('rebalance.cids.failed', 'could not get the consumer id list', { topic, group, broker: addr }, e);
      return [];
    }
  }

  // ------------------------------------------------------------------ heartbeats

  private heartbeatBody(): string | undefined {
    if (this.producers.size === 0 && this.consumers.size === 0) return undefined;
    return stringifyFastjson({
      clientID: this.clientId,
      consumerDataSet: [...this.consumers.values()].map((c) => ({
        consumeFromWhere: c.consumeFromWhere,
        consumeType: c.consumeType,
        groupName: c.group,
        messageModel: c.messageModel,
        subscriptionDataSet: c.subscriptions().map((s) => ({
          classFilterMode: s.classFilterMode,
          codeSet: s.codeSet,
          expressionType: s.expressionType,
          subString: s.subString,
          subVersion: s.subVersion,
          tagsSet: s.tagsSet,
          topic: s.topic,
        })),
        unitMode: false,
      })),
      heartbeatFingerprint: 0,
      producerDataSet: [...this.producers.values()].map((p) => ({ groupName: p.group })),
      withoutSub: false,
    });
  }

  /**
   * HEART_BEAT to every broker we know (masters only when there are no consumers). Resolves once a
   * round that started after the call is done: a call during a round queues one more (shared by
   * every caller meanwhile), so a client that just registered is known to the brokers when it
   * resolves.
   */
  sendHeartbeatToAllBrokers(): Promise<void> {
    if (this.state !== 'RUNNING') return Promise.resolve();
    if (this.heartbeatInFlight === undefined) {
      this.heartbeatInFlight = this.heartbeatRound().finally(() => {
        this.heartbeatInFlight = undefined;
      });
      return this.heartbeatInFlight;
    }
    this.heartbeatQueued ??= this.heartbeatInFlight
      .catch(() => undefined)
      .then(() => {
        this.heartbeatQueued = undefined;
        return this.sendHeartbeatToAllBrokers();
      });
    return this.heartbeatQueued;
  }

  private async heartbeatRound(): Promise<void> {
    const body = this.heartbeatBody();
    if (body === undefined) return;
    const onlyMasters = this.consumers.size === 0;
    const calls: Promise<void>[] = [];
    for (const [brokerName, addrs] of this.brokerAddrTable) {
      for (const [id, addr] of addrs) {
        if (onlyMasters && id !== MixAll.MASTER_ID) continue;
        calls.push(
          this.api.heartbeat(addr, body).then(
            (res) => void this.brokerVersionTable.set(addr, res.version),
            (e: unknown) => this.log.warn('heartbeat.failed', 'heartbeat to a broker failed', { brokerName, brokerId: id, broker: addr }, e),
          ),
        );
      }
    }
    await Promise.all(calls);
  }

  private async unregisterFromBrokers(producerGroup: string | undefined, consumerGroup: string | undefined): Promise<void> {
    const calls: Promise<void>[] = [];
    for (const addrs of this.brokerAddrTable.values()) {
      for (const addr of addrs.values()) {
        calls.push(
          this.api.unregisterClient(addr, this.clientId, producerGroup, consumerGroup).catch((e: unknown) => {
            this.log.debug('unregister.failed', `unregister from ${addr} failed: ${(e as Error).message}`);
          }),
        );
      }
    }
    await Promise.all(calls);
  }

  // ------------------------------------------------------------------ consumers

  async persistAllConsumerOffsets(): Promise<void> {
    for (const c of this.consumers.values()) {
      try {
        await c.persistConsumerOffset();
      } catch (e) {
        this.log.warn('offset.persist.failed', 'could not persist consumer offsets', { group: c.group }, e);
      }
    }
  }

  /** Rebalances every consumer soon; calls during a rebalance queue exactly one more. */
  rebalanceImmediately(): void {
    if (this.state !== 'RUNNING') return;
    if (this.rebalanceRunning) {
      this.rebalanceAgain = true;
      return;
    }
    if (this.rebalanceScheduled) return;
    this.rebalanceScheduled = setTimeout(() => {
      this.rebalanceScheduled = undefined;
      this.rebalanceRunning = this.doRebalance().finally(() => {
        this.rebalanceRunning = undefined;
        if (this.rebalanceAgain) {
          this.rebalanceAgain = false;
          this.rebalanceImmediately();
        }
      });
    }, 0);
  }

  /** Rebalances all consumers now and resolves when done (tests and start-up use it). */
  async rebalanceNow(): Promise<void> {
    while (this.rebalanceRunning) await this.rebalanceRunning;
    this.rebalanceRunning = this.doRebalance();
    try {
      await this.rebalanceRunning;
    } finally {
      this.rebalanceRunning = undefined;
    }
  }

  private async doRebalance(): Promise<void> {
    for (const c of [...this.consumers.values()]) {
      if (this.state !== 'RUNNING') return;
      try {
        await c.doRebalance();
      } catch (e) {
        this.log.warn('rebalance.failed', 'rebalance failed', { group: c.group }, e);
      }
    }
  }

  // ------------------------------------------------------------------ server → client requests

  private ok(cmd: RemotingCommand, body?: string): RemotingCommand {
    return RemotingCommand.responseTo(cmd, ResponseCode.SUCCESS, null, null, body === undefined ? null : Buffer.from(body, 'utf8'));
  }

  private async onResetOffset(cmd: RemotingCommand): Promise<RemotingCommand> {
    const group = cmd.ext('group') ?? '';
    const topic = cmd.ext('topic') ?? '';
    const c = this.consumers.get(group);
    if (c && cmd.body) {
      const o = Object.fromEntries(jsonEntries(parseLenientJson(cmd.body.toString('utf8')))) as Record<string, JsonValue>;
      const table = readMessageQueueMap(o['offsetTable']).map(([mq, v]) => [mq, Number(v)] as [MessageQueue, number]);
      this.log.info('offset.reset', 'broker asked to reset consumer offsets', { group, topic, queues: table.length });
      await c.resetOffset(topic, table);
    }
    return this.ok(cmd);
  }

  private onGetConsumerStatus(cmd: RemotingCommand): RemotingCommand {
    const c = this.consumers.get(cmd.ext('group') ?? '');
    const table = new Map<object, number>();
    for (const [mq, off] of c?.consumerOffsets(cmd.ext('topic') ?? '') ?? []) {
      table.set({ brokerName: mq.brokerName, queueId: mq.queueId, topic: mq.topic }, off);
    }
    return this.ok(cmd, stringifyFastjson({ consumerTable: {}, messageQueueTable: table }));
  }

  private onGetRunningInfo(cmd: RemotingCommand): RemotingCommand {
    const c = this.consumers.get(cmd.ext('consumerGroup') ?? '');
    if (!c) {
      return RemotingCommand.responseTo(cmd, ResponseCode.SYSTEM_ERROR, `The Consumer Group <${cmd.ext('consumerGroup') ?? ''}> not exist in this consumer`);
    }
    return this.ok(cmd, stringifyFastjson(c.runningInfo()));
  }

  /**
   * A broker asks what became of a half message (oneway; we never reply to the check itself). The
   * producer is found by the message's PGROUP; it runs its checker later, off this handler, and
   * answers with END_TRANSACTION on this connection.
   */
  private onCheckTransactionState(cmd: RemotingCommand, conn: RemotingConnection): null {
    let req: TransactionCheckRequest;
    try {
      const header = CheckTransactionStateRequestHeader.decode(cmd.extFields);
      if (cmd.body === null || cmd.body.length === 0) throw new Error('no message in the body');
      // The broker encodes the half with a TOTALSIZE of 0 (or a stale one): read it field by field.
      const record = decodeMessageRecord(cmd.body, 0, { untrustedStoreSize: true });
      const brokerName = header.bname ?? this.brokerNameOf(conn.attachment) ?? '';
      const m = toReceivedMessage(record, { brokerName });
      const uniq = m.properties.get(MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX);
      req = { header, message: { ...m, transactionId: uniq !== undefined && uniq !== '' ? uniq : undefined }, conn };
    } catch (e) {
      this.log.warn('transaction.check.undecodable', 'could not decode a transaction check-back', { broker: conn.remoteAddress }, e);
      return null;
    }
    const group = req.message.properties.get(MessageConst.PROPERTY_PRODUCER_GROUP);
    const p = group === undefined ? undefined : this.producers.get(group);
    if (p?.checkTransactionState === undefined) {
      this.log.warn('transaction.check.noProducer', 'transaction check-back for a group that has no transaction producer here; ignored', {
        group,
        broker: conn.remoteAddress,
        topic: req.message.topic,
        transactionId: req.header.transactionId,
      });
      return null;
    }
    p.checkTransactionState(req);
    return null;
  }

  private brokerNameOf(addr: unknown): string | undefined {
    for (const [name, addrs] of this.brokerAddrTable) for (const a of addrs.values()) if (a === addr) return name;
    return undefined;
  }

  private async onConsumeDirectly(cmd: RemotingCommand, _conn: RemotingConnection): Promise<RemotingCommand> {
    const c = this.consumers.get(cmd.ext('consumerGroup') ?? '');
    if (!c) {
      return RemotingCommand.responseTo(cmd, ResponseCode.SYSTEM_ERROR, `The Consumer Group <${cmd.ext('consumerGroup') ?? ''}> not exist in this consumer`);
    }
    const msg = decodeReceivedMessages(cmd.body, { brokerName: cmd.ext('brokerName') ?? '' })[0];
    if (!msg) return RemotingCommand.responseTo(cmd, ResponseCode.SYSTEM_ERROR, 'no message in the request body');
    const r = await c.consumeMessageDirectly(msg);
    return this.ok(cmd, stringifyFastjson(r));
  }
}

const clientInstances = new Map<string, MQClientInstance>();

function instanceKey(o: ResolvedClientOptions, clientId: string): string {
  return o.credentials === undefined ? clientId : `${clientId}\u0000${o.credentials.accessKey}`;
}

/** The shared core for these options' clientId, created on first use (RocketMQ's MQClientManager). */
export function getOrCreateClientInstance(options: ClientOptions): MQClientInstance {
  const resolved = resolveClientOptions(options);
  // Clients with other keys never share a core (its connections sign with one account).
  const id = instanceKey(resolved, buildClientId(resolved));
  let inst = clientInstances.get(id);
  if (!inst) {
    inst = new MQClientInstance(resolved);
    clientInstances.set(id, inst);
  }
  return inst;
}
