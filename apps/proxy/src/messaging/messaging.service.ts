import { changedReceiptHandle, popMessageViews, type Log, type MessageQueue as RemotingQueue, type MessageView } from '@rocketmq-ts/client';
import {
  ConsumerSendMsgBackRequestHeader,
  EndTransactionRequestHeader,
  MixAll,
  PermName,
  PullSysFlag,
  RequestCode,
  ResponseCode,
  decodeOffsetMsgId,
  realTopicOf,
  javaStringHashCode,
  type TopicRouteData,
} from '@rocketmq-ts/protocol';
import { decodeRecallHandle } from '@rocketmq-ts/common';
import type { ProxyConfig } from '../config.js';
import type { Cluster } from '../cluster/cluster.js';
import { Code, OK_STATUS, ProxyError, codeFromRemoting, statusOf, type Status } from '../grpc/status.js';
import {
  AddressScheme,
  FilterType,
  MessageType,
  Permission,
  QueryOffsetPolicy,
  TransactionResolution,
  TransactionSource,
  durationMs,
  msTimestamp,
  timestampMs,
  type Endpoints,
  type FilterExpression,
  type Message,
  type MessageQueue,
  type Resource,
} from '../grpc/types.js';
import type { ProxyMetrics } from '../metrics.js';
import type { SharedState } from '../state/shared-state.js';
import { clientKindOf, prepareSend, requireGroup, requireTopic, resourceName, toGrpcMessage, toResource, type PreparedSend } from './convert.js';
import { AckBatcher } from './ack-batcher.js';
import { encodeReceiptHandle, requireReceiptHandle } from './receipt-handle.js';
import { ReceiptHandleRenewer } from './renewal.js';
import type { TelemetryHub } from './telemetry.js';

/** What the transport knows about a call. */
export interface CallContext {
  clientId: string | undefined;
  /** ms since the epoch when the client gives up (Infinity without a deadline). */
  deadline: number;
  /** The client's address, for BORN_HOST when it sends none. */
  peer: string;
}

const ALL_TYPES = [MessageType.NORMAL, MessageType.FIFO, MessageType.DELAY, MessageType.TRANSACTION];

function permissionOf(perm: number): number {
  const r = (perm & PermName.PERM_READ) !== 0;
  const w = (perm & PermName.PERM_WRITE) !== 0;
  return r && w ? Permission.READ_WRITE : r ? Permission.READ : w ? Permission.WRITE : Permission.NONE;
}

/** Write queues of a route (masters only), flattened for round-robin and FIFO hashing. */
interface WriteQueues {
  route: TopicRouteData;
  queues: Array<{ brokerName: string; queueId: number }>;
}

type Writer<T> = (msg: T) => void;

/**
 * The MessagingService RPCs in front of the cluster (RocketMQ's cluster-mode proxy): each maps a
 * v2 request to remoting calls on the brokers and name servers and answers with v2 statuses.
 */
export class MessagingService {
  private readonly writeQueues = new Map<string, WriteQueues>();
  private rr = 0;
  readonly renewer: ReceiptHandleRenewer;
  /** Coalesces the acks of one event-loop turn into BATCH_ACK_MESSAGE (enableBatchAck). */
  readonly acks: AckBatcher;
  private renewTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly cfg: ProxyConfig,
    private readonly cluster: Cluster,
    private readonly state: SharedState,
    private readonly telemetry: TelemetryHub,
    private readonly metrics: ProxyMetrics,
    private readonly log: Log,
  ) {
    this.acks = new AckBatcher(
      () => this.cluster.api,
      cfg.remotingTimeoutMillis,
      cfg.enableBatchAck,
      (n) => this.metrics.ackBatch(n),
    );
    this.renewer = new ReceiptHandleRenewer({
      renewAheadMs: cfg.renewAheadTimeMillis,
      renewMaxTimeMs: cfg.renewMaxTimeMillis,
      change: async (t, ms) => (await this.changeInvisible(t.group, t.topic, t.handle, ms)).handle,
      onError: (what, e) => this.log.warn('renew.failed', `receipt handle ${what} failed`, {}, e),
    });
  }

  start(): void {
    if (!this.cfg.enableProxyAutoRenew) return;
    this.renewTimer = setInterval(() => void this.renewer.scan(), this.cfg.renewSchedulePeriodMillis);
    this.renewTimer.unref();
  }

  stop(): void {
    clearInterval(this.renewTimer);
  }

  // ------------------------------------------------------------------ route

  async queryRoute(req: { topic?: Resource; endpoints?: Endpoints }): Promise<{ status: Status; messageQueues: MessageQueue[] }> {
    const topic = requireTopic(req.topic);
    const endpoints = requireEndpoints(req.endpoints);
    const route = await this.cluster.route(topic);
    const out: MessageQueue[] = [];
    for (const qd of route.queueDatas) {
      const bd = route.brokerDatas.find((b) => b.brokerName === qd.brokerName);
      if (bd === undefined || !bd.brokerAddrs.has(MixAll.MASTER_ID)) continue;
      // RocketMQ's layout: queues readable and writable first, then the read-only or write-only rest.
      const rw = Math.min(qd.readQueueNums, qd.writeQueueNums);
      const perm = permissionOf(qd.perm);
      const broker = { name: qd.brokerName, id: MixAll.MASTER_ID, endpoints };
      const mk = (id: number, p: number): MessageQueue => ({ topic: toResource(topic), id, permission: p, broker, acceptMessageTypes: ALL_TYPES });
      for (let i = 0; i < rw; i++) out.push(mk(i, perm));
      const readOnly = perm === Permission.READ_WRITE ? Permission.READ : perm === Permission.WRITE ? Permission.NONE : perm;
      const writeOnly = perm === Permission.READ_WRITE ? Permission.WRITE : perm === Permission.READ ? Permission.NONE : perm;
      for (let i = rw; i < qd.readQueueNums; i++) out.push(mk(i, readOnly));
      for (let i = rw; i < qd.writeQueueNums; i++) out.push(mk(i, writeOnly));
    }
    return { status: OK_STATUS, messageQueues: out };
  }

  async queryAssignment(req: {
    topic?: Resource;
    group?: Resource;
    endpoints?: Endpoints;
  }): Promise<{ status: Status; assignments: Array<{ messageQueue: MessageQueue }> }> {
    const topic = requireTopic(req.topic);
    requireGroup(req.group);
    const endpoints = requireEndpoints(req.endpoints);
    const route = await this.cluster.route(topic);
    const assignments: Array<{ messageQueue: MessageQueue }> = [];
    // POP needs no queue assignment: every client gets one pseudo queue (id -1) per readable broker.
    for (const qd of route.queueDatas) {
      if ((qd.perm & PermName.PERM_READ) === 0 || qd.readQueueNums <= 0) continue;
      const bd = route.brokerDatas.find((b) => b.brokerName === qd.brokerName);
      if (bd === undefined || bd.brokerAddrs.size === 0) continue;
      assignments.push({
        messageQueue: {
          topic: toResource(topic),
          id: -1,
          permission: permissionOf(qd.perm),
          broker: { name: qd.brokerName, id: MixAll.MASTER_ID, endpoints },
          acceptMessageTypes: ALL_TYPES,
        },
      });
    }
    return { status: OK_STATUS, assignments };
  }

  // ------------------------------------------------------------------ clients

  async heartbeat(ctx: CallContext, req: { group?: Resource; clientType?: number }): Promise<{ status: Status }> {
    const clientId = requireClientId(ctx);
    const kind = clientKindOf(req.clientType);
    if (kind === undefined) throw new ProxyError(Code.UNRECOGNIZED_CLIENT_TYPE, `client type ${req.clientType ?? 'unset'} is not recognised`);
    const group = req.group?.name ? resourceName(req.group) : undefined;
    await this.telemetry.heartbeat(clientId, kind, group);
    return { status: OK_STATUS };
  }

  async notifyClientTermination(ctx: CallContext, req: { group?: Resource }): Promise<{ status: Status }> {
    const clientId = requireClientId(ctx);
    void req;
    await this.telemetry.terminate(clientId);
    await this.renewer.releaseClient(clientId);
    return { status: OK_STATUS };
  }

  // ------------------------------------------------------------------ send

  private async writeQueuesOf(topic: string): Promise<WriteQueues> {
    const route = await this.cluster.route(topic);
    const hit = this.writeQueues.get(topic);
    if (hit !== undefined && hit.route === route) return hit;
    const queues: WriteQueues['queues'] = [];
    for (const qd of route.queueDatas) {
      if ((qd.perm & PermName.PERM_WRITE) === 0) continue;
      const bd = route.brokerDatas.find((b) => b.brokerName === qd.brokerName);
      if (bd === undefined || !bd.brokerAddrs.has(MixAll.MASTER_ID)) continue;
      for (let i = 0; i < qd.writeQueueNums; i++) queues.push({ brokerName: qd.brokerName, queueId: i });
    }
    const wq = { route, queues };
    this.writeQueues.set(topic, wq);
    return wq;
  }

  async sendMessage(ctx: CallContext, req: { messages?: Message[] }): Promise<{ status: Status; entries: unknown[] }> {
    const messages = req.messages ?? [];
    if (messages.length === 0) throw new ProxyError(Code.BAD_REQUEST, 'no message to send');
    const now = Date.now();
    const bornHost = hostOf(ctx.peer);
    const prepared: PreparedSend[] = messages.map((m) => prepareSend(m, this.cfg, now, bornHost));
    const topic = prepared[0]!.topic;
    if (prepared.some((p) => p.topic !== topic)) throw new ProxyError(Code.BAD_REQUEST, 'all messages of one request must have the same topic');
    if (this.cfg.sendRateLimitPerSecond > 0) {
      const ok = await this.state
        .tryAcquire(`send:${topic}`, prepared.length, this.cfg.sendRateLimitPerSecond, this.cfg.sendRateLimitPerSecond)
        .catch(() => true);
      if (!ok) throw new ProxyError(Code.TOO_MANY_REQUESTS, `sending to ${topic} is over the limit of ${this.cfg.sendRateLimitPerSecond} messages/s`);
    }
    if (this.cfg.enableTopicMessageTypeCheck) await this.checkMessageType(topic, prepared);
    const entries = await Promise.all(prepared.map((p) => this.sendOne(p).catch((e: unknown) => ({ status: statusOf(e) }))));
    const failed = entries.filter((e) => (e.status as Status).code !== Code.OK);
    let status: Status = OK_STATUS;
    if (failed.length === entries.length) status = failed[0]!.status as Status;
    else if (failed.length > 0) status = { code: Code.MULTIPLE_RESULTS, message: 'some messages were not sent' };
    return { status, entries };
  }

  /**
   * enableTopicMessageTypeCheck: every message must be of the topic's `message.type` (MIXED takes
   * any; a topic without the attribute is NORMAL). Retry and dead-letter topics are not checked.
   */
  private async checkMessageType(topic: string, prepared: readonly PreparedSend[]): Promise<void> {
    if (topic.startsWith(MixAll.RETRY_GROUP_TOPIC_PREFIX) || topic.startsWith(MixAll.DLQ_GROUP_TOPIC_PREFIX)) return;
    const wq = await this.writeQueuesOf(topic);
    const brokerName = wq.queues[0]?.brokerName;
    if (brokerName === undefined) return;
    const topicType = await this.cluster.topicMessageType(topic, brokerName);
    // Could not ask any broker: the send itself will tell.
    if (topicType === undefined || topicType === 'MIXED') return;
    for (const p of prepared) {
      const type = MESSAGE_TYPE_NAMES[p.type] ?? 'UNSPECIFIED';
      if (type === 'UNSPECIFIED' || type !== topicType) {
        throw new ProxyError(
          Code.MESSAGE_PROPERTY_CONFLICT_WITH_TYPE,
          `the message type ${type} does not match topic ${topic}'s message.type ${topicType} (create the topic with -a +message.type=${type}, or MIXED)`,
        );
      }
    }
  }

  private async sendOne(p: PreparedSend): Promise<{ status: Status; messageId: string; transactionId: string; offset: number; recallHandle?: string }> {
    const wq = await this.writeQueuesOf(p.topic);
    if (wq.queues.length === 0) throw new ProxyError(Code.FORBIDDEN, `topic ${p.topic} has no writable queue`);
    const idx = p.messageGroup !== undefined ? Math.abs(javaStringHashCode(p.messageGroup)) % wq.queues.length : this.rr++ % wq.queues.length;
    const q = wq.queues[idx]!;
    const addr = await this.cluster.requireMaster(p.topic, q.brokerName);
    p.header.queueId = q.queueId;
    p.header.bname = q.brokerName;
    const r = await this.cluster.api.sendMessage(addr, q.brokerName, p.header, p.body, { batch: false, timeoutMs: this.cfg.remotingTimeoutMillis });
    if (r === undefined) throw new ProxyError(Code.INTERNAL_SERVER_ERROR, 'no send result');
    let status: Status = OK_STATUS;
    if (r.sendStatus !== 'SEND_OK') {
      const code =
        r.sendStatus === 'FLUSH_DISK_TIMEOUT'
          ? ResponseCode.FLUSH_DISK_TIMEOUT
          : r.sendStatus === 'FLUSH_SLAVE_TIMEOUT'
            ? ResponseCode.FLUSH_SLAVE_TIMEOUT
            : ResponseCode.SLAVE_NOT_AVAILABLE;
      status = { code: codeFromRemoting(code), message: r.sendStatus };
    }
    const transactionId = p.type === MessageType.TRANSACTION ? (r.transactionId ?? p.messageId) : '';
    if (p.type === MessageType.TRANSACTION) {
      this.cluster.registerTransactionTopic(p.topic);
      await this.state
        .putTransaction({
          brokerName: q.brokerName,
          topic: p.topic,
          producerGroup: p.topic,
          tranStateTableOffset: r.queueOffset,
          commitLogOffset: decodeOffsetMsgId(r.offsetMsgId)?.commitLogOffset ?? -1,
          transactionId,
          messageId: p.messageId,
          expireAt: Date.now() + this.cfg.transactionDataExpireMillis,
        })
        .catch((e: unknown) => this.log.warn('tx.data.failed', 'could not record transaction data', { topic: p.topic }, e));
    }
    this.metrics.messagesIn(p.topic, p.type, p.body.length);
    return { status, messageId: p.messageId, transactionId, offset: r.queueOffset, ...(r.recallHandle !== undefined ? { recallHandle: r.recallHandle } : {}) };
  }

  // ------------------------------------------------------------------ transactions

  async endTransaction(req: {
    topic?: Resource;
    messageId?: string;
    transactionId?: string;
    resolution?: number;
    source?: number;
  }): Promise<{ status: Status }> {
    const topic = requireTopic(req.topic);
    const txId = req.transactionId ?? '';
    if (txId === '') throw new ProxyError(Code.INVALID_TRANSACTION_ID, 'transaction id is empty');
    const commitOrRollback = req.resolution === TransactionResolution.COMMIT ? 8 : req.resolution === TransactionResolution.ROLLBACK ? 12 : 0;
    const data = await this.state.takeTransaction(topic, txId);
    if (data === undefined) throw new ProxyError(Code.INTERNAL_SERVER_ERROR, `no transaction data for ${txId} on ${topic} (expired or unknown)`);
    const addr = await this.cluster.requireMaster(topic, data.brokerName);
    const cmd = this.cluster.api.request(
      RequestCode.END_TRANSACTION,
      EndTransactionRequestHeader.encode({
        topic,
        producerGroup: data.producerGroup,
        tranStateTableOffset: data.tranStateTableOffset,
        commitLogOffset: data.commitLogOffset,
        commitOrRollback,
        fromTransactionCheck: req.source === TransactionSource.SERVER_CHECK,
        msgId: req.messageId ?? data.messageId,
        transactionId: txId,
        bname: data.brokerName,
      }),
    );
    await this.cluster.api.remoting.invokeOneway(addr, cmd, this.cfg.remotingTimeoutMillis);
    return { status: OK_STATUS };
  }

  // ------------------------------------------------------------------ receive (POP)

  async receiveMessage(
    ctx: CallContext,
    req: {
      group?: Resource;
      messageQueue?: MessageQueue;
      filterExpression?: FilterExpression;
      batchSize?: number;
      invisibleDuration?: { seconds?: number; nanos?: number };
      autoRenew?: boolean;
      longPollingTimeout?: { seconds?: number; nanos?: number };
      attemptId?: string;
    },
    write: Writer<Record<string, unknown>>,
    cancelled: () => boolean = () => false,
  ): Promise<void> {
    const clientId = requireClientId(ctx);
    const group = requireGroup(req.group);
    const topic = requireTopic(req.messageQueue?.topic);
    const now = Date.now();
    const batch = req.batchSize ?? 0;
    if (batch <= 0) throw new ProxyError(Code.BAD_REQUEST, `batch size ${batch} is illegal`);
    const autoRenew = req.autoRenew === true && this.cfg.enableProxyAutoRenew;
    let invisible: number;
    if (autoRenew) {
      invisible = this.cfg.defaultInvisibleTimeMills;
    } else {
      const v = durationMs(req.invisibleDuration);
      if (v === undefined || v < this.cfg.minInvisibleTimeMillsForRecv || v > this.cfg.maxInvisibleTimeMills) {
        throw new ProxyError(
          Code.ILLEGAL_INVISIBLE_TIME,
          `invisible duration ${v ?? 'unset'} ms is outside [${this.cfg.minInvisibleTimeMillsForRecv}, ${this.cfg.maxInvisibleTimeMills}]`,
        );
      }
      invisible = v;
    }
    const remaining = ctx.deadline - now;
    let poll = durationMs(req.longPollingTimeout) ?? remaining - this.cfg.remotingTimeoutMillis / 2;
    poll = Math.min(Math.max(poll, this.cfg.grpcClientConsumerMinLongPollingTimeoutMillis), this.cfg.grpcClientConsumerMaxLongPollingTimeoutMillis);
    // Leave the answer time to travel back before the client's deadline.
    const room = remaining - 200;
    if (poll > room) {
      if (room < this.cfg.grpcClientConsumerMinLongPollingTimeoutMillis) {
        throw new ProxyError(Code.ILLEGAL_POLLING_TIME, `the call's deadline leaves ${Math.max(0, remaining)} ms, less than a long poll`);
      }
      poll = room;
    }
    const filter = req.filterExpression;
    const expType = filter?.type === FilterType.SQL ? 'SQL92' : 'TAG';
    const exp = filter?.expression && filter.expression !== '' ? filter.expression : '*';
    const brokerName = req.messageQueue?.broker?.name ?? '';
    const route = await this.cluster.route(topic);
    const readable = route.queueDatas.filter((q) => (q.perm & PermName.PERM_READ) !== 0 && q.readQueueNums > 0).map((q) => q.brokerName);
    const target = readable.includes(brokerName) ? brokerName : readable[this.rr++ % Math.max(1, readable.length)];
    if (target === undefined) throw new ProxyError(Code.FORBIDDEN, `topic ${topic} has no readable queue`);
    const addr = this.cluster.readAddr(target) ?? (await this.cluster.requireMaster(topic, target));
    const settings = this.telemetry.localSettings(clientId);
    const fifo = settings?.subscription?.fifo === true;
    const info = await this.cluster.group(group, topic);
    let res;
    try {
      res = await this.cluster.api.popMessage(
        addr,
        {
          consumerGroup: group,
          topic,
          queueId: -1,
          maxMsgNums: Math.min(batch, this.cfg.maxMessageNumPerReceive),
          invisibleTime: invisible,
          pollTime: poll,
          bornTime: now,
          initMode: 1,
          expType,
          exp,
          order: fifo,
          ...(req.attemptId !== undefined ? { attemptId: req.attemptId } : {}),
          bname: target,
        },
        poll + this.cfg.remotingTimeoutMillis,
      );
    } catch (e) {
      const st = statusOf(e);
      write({ status: st });
      return;
    }
    if (res.status !== 'FOUND') {
      write({ status: { code: Code.MESSAGE_NOT_FOUND, message: 'no new message' } });
      return;
    }
    const views = popMessageViews(res.body, res.header, { brokerName: target, topic });
    const deliver: Array<{ v: MessageView; handle: string }> = [];
    const maxAttempts = info.retryMaxTimes + 1;
    for (const v of views) {
      const handle = encodeReceiptHandle(v.receiptHandle, v.commitLogOffset);
      if (!fifo && v.reconsumeTimes >= maxAttempts) {
        // Tried often enough: to the group's DLQ (RocketMQ 5 does it here, not in the broker).
        void this.toDeadLetter(group, topic, handle, v.msgId).catch((e: unknown) =>
          this.log.warn('dlq.failed', 'could not move a message to the DLQ', { group, topic, msgId: v.msgId }, e),
        );
        continue;
      }
      deliver.push({ v, handle });
    }
    if (deliver.length === 0) {
      write({ status: { code: Code.MESSAGE_NOT_FOUND, message: 'no new message' } });
      return;
    }
    if (cancelled()) {
      // The client left while we waited: the messages are visible again in a second, not after their invisible time.
      await Promise.all(deliver.map(({ handle }) => this.changeInvisible(group, topic, handle, 1000).catch(() => undefined)));
      return;
    }
    write({ status: OK_STATUS });
    let bytes = 0;
    for (const { v, handle } of deliver) {
      if (autoRenew) this.renewer.track(clientId, group, topic, v.msgId, handle);
      bytes += v.body.length;
      write({ message: toGrpcMessage(v, handle, v.deliveryAttempt) });
    }
    write({ deliveryTimestamp: msTimestamp(res.header.popTime) });
    this.metrics.messagesOut(topic, group, deliver.length, bytes);
  }

  // ------------------------------------------------------------------ ack, invisibility, DLQ

  async ackMessage(
    ctx: CallContext,
    req: { group?: Resource; topic?: Resource; entries?: Array<{ messageId?: string; receiptHandle?: string }> },
  ): Promise<{ status: Status; entries: Array<{ messageId: string; receiptHandle: string; status: Status }> }> {
    void ctx;
    const group = requireGroup(req.group);
    const topic = requireTopic(req.topic);
    const now = Date.now();
    const entries = await Promise.all(
      (req.entries ?? []).map(async (e) => {
        const given = e.receiptHandle ?? '';
        const out = { messageId: e.messageId ?? '', receiptHandle: given, status: OK_STATUS };
        try {
          const current = this.renewer.current(group, given);
          const h = requireReceiptHandle(current, now);
          const addr = await this.cluster.requireMaster(topic, h.brokerName);
          await this.acks.ack(addr, group, topic, realTopicOf(h.flag, topic, group), h);
          this.renewer.remove(group, given);
        } catch (err) {
          out.status = statusOf(err);
        }
        return out;
      }),
    );
    if (entries.length === 0) throw new ProxyError(Code.BAD_REQUEST, 'no entry to ack');
    const failed = entries.filter((e) => e.status.code !== Code.OK);
    let status: Status = OK_STATUS;
    if (failed.length === entries.length) status = failed[0]!.status;
    else if (failed.length > 0) status = { code: Code.MULTIPLE_RESULTS, message: 'some acks failed' };
    return { status, entries };
  }

  async changeInvisibleDuration(req: {
    group?: Resource;
    topic?: Resource;
    receiptHandle?: string;
    invisibleDuration?: { seconds?: number; nanos?: number };
    messageId?: string;
  }): Promise<{ status: Status; receiptHandle: string }> {
    const group = requireGroup(req.group);
    const topic = requireTopic(req.topic);
    const ms = durationMs(req.invisibleDuration);
    if (ms === undefined || ms < 0 || ms > this.cfg.maxInvisibleTimeMills) {
      throw new ProxyError(Code.ILLEGAL_INVISIBLE_TIME, `invisible duration ${ms ?? 'unset'} ms is outside [0, ${this.cfg.maxInvisibleTimeMills}]`);
    }
    const given = req.receiptHandle ?? '';
    const current = this.renewer.current(group, given);
    const r = await this.changeInvisible(group, topic, current, ms);
    this.renewer.remove(group, given);
    return { status: OK_STATUS, receiptHandle: r.handle };
  }

  private async changeInvisible(group: string, topic: string, handle: string, ms: number): Promise<{ handle: string }> {
    const h = requireReceiptHandle(handle, Date.now());
    const addr = await this.cluster.requireMaster(topic, h.brokerName);
    const r = await this.cluster.api.changeInvisibleTime(
      addr,
      {
        consumerGroup: group,
        topic: realTopicOf(h.flag, topic, group),
        queueId: h.queueId,
        extraInfo: h.extraInfo,
        offset: h.offset,
        invisibleTime: ms,
        bname: h.brokerName,
      },
      this.cfg.remotingTimeoutMillis,
    );
    return { handle: encodeReceiptHandle(changedReceiptHandle(h, r), h.commitLogOffset) };
  }

  async forwardMessageToDeadLetterQueue(req: { group?: Resource; topic?: Resource; receiptHandle?: string; messageId?: string }): Promise<{ status: Status }> {
    const group = requireGroup(req.group);
    const topic = requireTopic(req.topic);
    const given = req.receiptHandle ?? '';
    await this.toDeadLetter(group, topic, this.renewer.current(group, given), req.messageId ?? '');
    this.renewer.remove(group, given);
    return { status: OK_STATUS };
  }

  /** CONSUMER_SEND_MSG_BACK with delay level -1 (straight to %DLQ%group), then the ack. */
  private async toDeadLetter(group: string, topic: string, handle: string, messageId: string): Promise<void> {
    const h = requireReceiptHandle(handle, Date.now());
    if (h.commitLogOffset < 0) throw new ProxyError(Code.INVALID_RECEIPT_HANDLE, 'receipt handle has no commit-log offset');
    const addr = await this.cluster.requireMaster(topic, h.brokerName);
    const cmd = this.cluster.api.request(
      RequestCode.CONSUMER_SEND_MSG_BACK,
      ConsumerSendMsgBackRequestHeader.encode({
        offset: h.commitLogOffset,
        group,
        delayLevel: -1,
        originMsgId: messageId,
        originTopic: topic,
        unitMode: false,
        maxReconsumeTimes: 0,
        bname: h.brokerName,
      }),
    );
    await this.cluster.api.call(addr, cmd, this.cfg.remotingTimeoutMillis);
    await this.cluster.api.ackMessage(
      addr,
      { consumerGroup: group, topic: realTopicOf(h.flag, topic, group), queueId: h.queueId, extraInfo: h.extraInfo, offset: h.offset, bname: h.brokerName },
      this.cfg.remotingTimeoutMillis,
    );
  }

  // ------------------------------------------------------------------ offsets and pull

  private async queueOf(mq: MessageQueue | undefined): Promise<{ q: RemotingQueue; addr: string }> {
    const topic = requireTopic(mq?.topic);
    const brokerName = mq?.broker?.name ?? '';
    const queueId = mq?.id ?? -1;
    if (brokerName === '' || queueId < 0) throw new ProxyError(Code.BAD_REQUEST, 'message queue needs a broker name and a queue id');
    const addr = await this.cluster.requireMaster(topic, brokerName);
    return { q: { topic, brokerName, queueId }, addr };
  }

  async updateOffset(req: { group?: Resource; messageQueue?: MessageQueue; offset?: number }): Promise<{ status: Status }> {
    const group = requireGroup(req.group);
    const { q, addr } = await this.queueOf(req.messageQueue);
    const offset = req.offset ?? -1;
    if (offset < 0) throw new ProxyError(Code.ILLEGAL_OFFSET, `offset ${offset} is illegal`);
    await this.cluster.api.updateConsumerOffset(addr, group, q, offset);
    return { status: OK_STATUS };
  }

  async getOffset(req: { group?: Resource; messageQueue?: MessageQueue }): Promise<{ status: Status; offset: number }> {
    const group = requireGroup(req.group);
    const { q, addr } = await this.queueOf(req.messageQueue);
    const offset = await this.cluster.api.queryConsumerOffset(addr, group, q);
    if (offset < 0) throw new ProxyError(Code.OFFSET_NOT_FOUND, `group ${group} has no offset on ${q.topic}/${q.brokerName}/${q.queueId}`);
    return { status: OK_STATUS, offset };
  }

  async queryOffset(req: {
    messageQueue?: MessageQueue;
    queryOffsetPolicy?: number;
    timestamp?: { seconds?: number; nanos?: number };
  }): Promise<{ status: Status; offset: number }> {
    const { q, addr } = await this.queueOf(req.messageQueue);
    const policy = req.queryOffsetPolicy ?? QueryOffsetPolicy.BEGINNING;
    let offset: number;
    if (policy === QueryOffsetPolicy.BEGINNING) {
      offset = await this.cluster.api.getMinOffset(addr, q);
    } else if (policy === QueryOffsetPolicy.END) {
      offset = await this.cluster.api.getMaxOffset(addr, q);
    } else {
      const ts = timestampMs(req.timestamp);
      if (ts === undefined) throw new ProxyError(Code.BAD_REQUEST, 'TIMESTAMP policy needs a timestamp');
      offset = await this.cluster.api.searchOffset(addr, q, ts);
    }
    return { status: OK_STATUS, offset };
  }

  async pullMessage(
    ctx: CallContext,
    req: {
      group?: Resource;
      messageQueue?: MessageQueue;
      offset?: number;
      batchSize?: number;
      filterExpression?: FilterExpression;
      longPollingTimeout?: { seconds?: number; nanos?: number };
    },
    write: Writer<Record<string, unknown>>,
  ): Promise<void> {
    const group = requireGroup(req.group);
    const { q, addr } = await this.queueOf(req.messageQueue);
    const offset = req.offset ?? 0;
    if (offset < 0) throw new ProxyError(Code.ILLEGAL_OFFSET, `offset ${offset} is illegal`);
    const poll = Math.max(0, Math.min(durationMs(req.longPollingTimeout) ?? 0, ctx.deadline - Date.now() - 200));
    const f = req.filterExpression;
    const r = await this.cluster.api.pullMessage(
      addr,
      {
        consumerGroup: group,
        mq: q,
        queueOffset: offset,
        maxMsgNums: Math.max(1, Math.min(req.batchSize ?? 32, this.cfg.maxMessageNumPerReceive)),
        sysFlag: PullSysFlag.SUBSCRIPTION | (poll > 0 ? PullSysFlag.SUSPEND : 0),
        commitOffset: 0,
        suspendTimeoutMillis: poll,
        subscription: f?.expression && f.expression !== '' ? f.expression : '*',
        subVersion: Date.now(),
        expressionType: f?.type === FilterType.SQL ? 'SQL92' : 'TAG',
      },
      poll + this.cfg.remotingTimeoutMillis,
    );
    if (r.status === 'OFFSET_ILLEGAL') {
      write({ status: { code: Code.ILLEGAL_OFFSET, message: `offset ${offset} is outside [${r.minOffset}, ${r.maxOffset}]` } });
      write({ nextOffset: r.nextBeginOffset });
      return;
    }
    const views =
      r.status === 'FOUND' ? popMessageViews(r.body, { popTime: 0, invisibleTime: 0, reviveQid: 0 }, { brokerName: q.brokerName, topic: q.topic }) : [];
    write({ status: views.length > 0 ? OK_STATUS : { code: Code.MESSAGE_NOT_FOUND, message: 'no new message' } });
    for (const v of views) write({ message: toGrpcMessage(v, undefined, v.reconsumeTimes + 1) });
    write({ nextOffset: r.nextBeginOffset });
    if (views.length > 0) {
      this.metrics.messagesOut(
        q.topic,
        group,
        views.length,
        views.reduce((n, v) => n + v.body.length, 0),
      );
    }
  }

  /** RecallMessage: a delay message cancelled before it is due (RECALL_MESSAGE on the broker the handle names). */
  async recallMessage(req: { topic?: Resource; recallHandle?: string }): Promise<{ status: Status; messageId: string }> {
    const topic = requireTopic(req.topic);
    const handle = decodeRecallHandle(req.recallHandle ?? '');
    if (handle instanceof Error) throw new ProxyError(Code.BAD_REQUEST, handle.message);
    if (handle.topic !== topic) throw new ProxyError(Code.BAD_REQUEST, 'recall failed, topic not match');
    const addr = await this.cluster.requireMaster(topic, handle.brokerName);
    const messageId = await this.cluster.api.recallMessage(
      addr,
      { producerGroup: topic, topic, recallHandle: req.recallHandle ?? '', bname: handle.brokerName },
      this.cfg.remotingTimeoutMillis,
    );
    return { status: OK_STATUS, messageId };
  }

  syncLiteSubscription(): never {
    throw new ProxyError(Code.NOT_IMPLEMENTED, 'lite topics are not supported');
  }
}

function requireClientId(ctx: CallContext): string {
  if (ctx.clientId === undefined || ctx.clientId === '') throw new ProxyError(Code.CLIENT_ID_REQUIRED, 'x-mq-client-id header is required');
  return ctx.clientId;
}

/** The access point the client used; routes point clients back at it (cluster mode). */
function requireEndpoints(e: Endpoints | undefined): Endpoints {
  const a = e?.addresses ?? [];
  if (a.length === 0 || a.some((x) => !x.host || !x.port)) throw new ProxyError(Code.ILLEGAL_ACCESS_POINT, 'endpoints are missing or incomplete');
  return { scheme: e?.scheme ?? AddressScheme.IPv4, addresses: a.map((x) => ({ host: x.host ?? '', port: x.port ?? 0 })) };
}

function hostOf(peer: string): string {
  // grpc-js peers look like "ipv4:127.0.0.1:5555" or "ipv6:[::1]:5555".
  const s = peer.replace(/^ipv[46]:/, '');
  return s.startsWith('[') ? s.slice(1, s.indexOf(']')) : (s.split(':')[0] ?? s);
}

/** v2 MessageType → the names of the topic attribute message.type. */
const MESSAGE_TYPE_NAMES: Readonly<Record<number, string>> = {
  [MessageType.NORMAL]: 'NORMAL',
  [MessageType.FIFO]: 'FIFO',
  [MessageType.DELAY]: 'DELAY',
  [MessageType.TRANSACTION]: 'TRANSACTION',
};
