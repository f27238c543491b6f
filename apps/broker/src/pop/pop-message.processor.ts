import { totalmem } from 'node:os';
import { Inject, Injectable } from '@nestjs/common';
import { MixAll } from '@rocketmq-ts/common';
import {
  FilterSyntaxError,
  POP_ORDER_REVIVE_QUEUE,
  PROPERTY_POP_CK,
  PermName,
  PopMessageRequestHeader,
  RemotingCommand,
  RequestCode,
  ResponseCode,
  buildExtraInfo,
  decodeMessageRecord,
  encodeMessageRecordToBuffer,
  encodeProperties,
  parseTagExpression,
  topicFlag,
  type SubscriptionData,
} from '@rocketmq-ts/protocol';
import type { RemotingConnection } from '@rocketmq-ts/remoting';
import { RemotingHandler } from '@rocketmq-ts/remoting/nest';
import { GetMessageStatus, type MessageFilter, type MessageStore } from '@rocketmq-ts/store';
import { BrokerState } from '../broker-state.js';
import type { BrokerConfig } from '../config.js';
import { LongPollingService } from '../longpolling/long-polling.service.js';
import { BrokerMetrics } from '../metrics/broker-metrics.js';
import { BrokerStatsSampler } from '../metrics/broker-stats.js';
import { ConsumerOffsetManager } from '../offset/consumer-offset-manager.js';
import { arrivalMatcher, compileSql92, filterFor } from '../processor/message-filter.js';
import { SubscriptionGroupManager } from '../subscription/subscription-group-manager.js';
import { BROKER_CONFIG, MESSAGE_STORE } from '../tokens.js';
import { TopicConfigManager } from '../topic/topic-config-manager.js';
import { ConsumerOrderInfoManager } from './consumer-order-info.js';
import { PopBufferService } from './pop-buffer.service.js';
import { PopRecordsService, putOk } from './pop-records.service.js';

type PopHeader = ReturnType<typeof PopMessageRequestHeader.decode>;

/** Most messages one POP may ask for (RocketMQ answers INVALID_PARAMETER above it). */
const MAX_POP_NUMS = 32;
/** A pop whose poll time ended this long ago (client clock) is answered POLLING_TIMEOUT at once. */
const LATE_MS = 500;

/** What one POP collected so far across the queues it read. */
interface PopBatch {
  records: Buffer[];
  bytes: number;
  restNum: number;
  startOffsetInfo: string[];
  msgOffsetInfo: string[];
  orderCountInfo: string[];
}

/**
 * POP_MESSAGE (RocketMQ 5): hands out up to maxMsgNums messages from one queue or any queue of a
 * topic (and, some of the time first, from the group's pop retry topic), hides them for
 * invisibleTime with a checkpoint (kept in the merge buffer for a while, or written into the
 * revive topic), and reads past them from then on: a message comes back only through the revive
 * service, if not acked in time. The group's committed offset moves past a pop once its
 * checkpoint is stored or fully acked (PopBufferService). An empty pop is parked up to pollTime
 * and answered POLLING_TIMEOUT if nothing arrives.
 */
@Injectable()
export class PopMessageProcessor {
  private readonly subs = new Map<string, SubscriptionData>();
  /** topic@group@queueId being read by a pop: another pop skips it instead of reading the same messages. */
  private readonly busy = new Set<string>();
  /** Parked pops per topic@group@queueId, and in all. */
  private readonly parked = new Map<string, number>();
  private parkedTotal = 0;

  constructor(
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
    @Inject(MESSAGE_STORE) private readonly store: MessageStore,
    private readonly topics: TopicConfigManager,
    private readonly groups: SubscriptionGroupManager,
    private readonly offsets: ConsumerOffsetManager,
    private readonly longPolling: LongPollingService,
    private readonly records: PopRecordsService,
    private readonly buffer: PopBufferService,
    private readonly orderInfo: ConsumerOrderInfoManager,
    private readonly metrics: BrokerMetrics,
    private readonly stats: BrokerStatsSampler,
    private readonly state: BrokerState,
  ) {}

  @RemotingHandler(RequestCode.POP_MESSAGE)
  pop(req: RemotingCommand, conn: RemotingConnection): Promise<RemotingCommand | null> {
    const h = PopMessageRequestHeader.decode(req.extFields);
    return this.process(req, conn, h, true, performance.now());
  }

  private subscription(h: PopHeader): SubscriptionData {
    const type = (h.expType ?? 'TAG').toUpperCase();
    const exp = h.exp ?? '*';
    const key = type + '\u0001' + h.topic + '\u0001' + exp;
    let sub = this.subs.get(key);
    if (sub === undefined) {
      const tags = type === 'TAG' ? parseTagExpression(exp) : { tags: [], codes: [] };
      sub = { topic: h.topic, subString: exp, tagsSet: tags.tags, codeSet: tags.codes, subVersion: 0, expressionType: type, classFilterMode: false };
      if (this.subs.size >= 10_000) this.subs.clear();
      this.subs.set(key, sub);
    }
    return sub;
  }

  private async process(req: RemotingCommand, conn: RemotingConnection, h: PopHeader, first: boolean, t0: number): Promise<RemotingCommand | null> {
    const fail = (code: number, remark: string): RemotingCommand => RemotingCommand.responseTo(req, code, remark);
    const now = Date.now();
    const bornTime = h.bornTime > 0 ? h.bornTime : now;
    if (first && now - bornTime - h.pollTime > LATE_MS) return fail(ResponseCode.POLLING_TIMEOUT, 'the pop request is past its poll time');
    if (h.maxMsgNums > MAX_POP_NUMS) return fail(ResponseCode.INVALID_PARAMETER, `the broker pops at most ${MAX_POP_NUMS} messages at a time`);
    if (h.maxMsgNums <= 0 || h.invisibleTime <= 0) return fail(ResponseCode.INVALID_PARAMETER, 'maxMsgNums and invisibleTime must be positive');
    if (!this.state.isMaster) return fail(ResponseCode.NO_PERMISSION, `the broker[${this.config.brokerName}] is a slave; pop from its master`);
    if (!this.state.readable) return fail(ResponseCode.NO_PERMISSION, `the broker[${this.config.brokerName}] pulling message is forbidden`);
    const tc = this.topics.get(h.topic);
    if (!tc) return fail(ResponseCode.TOPIC_NOT_EXIST, `topic[${h.topic}] not exist, apply first please!`);
    if ((tc.perm & PermName.PERM_READ) === 0) return fail(ResponseCode.NO_PERMISSION, `the topic[${h.topic}] peeking message is forbidden`);
    if (h.queueId >= tc.readQueueNums) {
      return fail(ResponseCode.INVALID_PARAMETER, `queueId[${h.queueId}] is illegal, topic:[${h.topic}] topicConfig.readQueueNums:[${tc.readQueueNums}]`);
    }
    const group = this.groups.find(h.consumerGroup);
    if (!group) return fail(ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST, `subscription group [${h.consumerGroup}] does not exist`);
    if (!group.consumeEnable) return fail(ResponseCode.NO_PERMISSION, `subscription group no permission, ${h.consumerGroup}`);
    const sub = this.subscription(h);
    if (sub.expressionType === 'SQL92') {
      if (!this.config.enablePropertyFilter) return fail(ResponseCode.SYSTEM_ERROR, 'The broker does not support consumer to filter message by SQL92');
      try {
        compileSql92(sub.subString);
      } catch (e) {
        if (e instanceof FilterSyntaxError) {
          return fail(ResponseCode.SUBSCRIPTION_PARSE_FAILED, `parse the consumer's subscription[${sub.subString}] failed: ${e.message}`);
        }
        throw e;
      }
    } else if (sub.expressionType !== 'TAG') {
      return fail(ResponseCode.SUBSCRIPTION_PARSE_FAILED, `unsupported expression type ${sub.expressionType}`);
    }
    const filter = filterFor(sub);

    const popTime = Date.now();
    const order = h.order === true;
    const reviveQid = order ? POP_ORDER_REVIVE_QUEUE : this.records.nextReviveQid();
    const retryTopic = this.records.retryTopic(h.consumerGroup, h.topic);
    // FIFO pops never read the retry topic: a failed message is retried in place.
    const hasRetry = !order && this.topics.get(retryTopic) !== undefined;
    const randomQ = Math.floor(Math.random() * 100);
    const retryFirst = hasRetry && randomQ < this.config.popFromRetryProbability;
    const batch: PopBatch = { records: [], bytes: 0, restNum: 0, startOffsetInfo: [], msgOffsetInfo: [], orderCountInfo: [] };
    const ctx = { h, popTime, reviveQid, batch };
    if (retryFirst) await this.popQueue(ctx, retryTopic, 0, undefined);
    if (h.queueId < 0) {
      const n = tc.readQueueNums;
      for (let i = 0; i < n; i++) await this.popQueue(ctx, h.topic, (randomQ + i) % n, filter);
    } else {
      await this.popQueue(ctx, h.topic, h.queueId, filter);
    }
    if (hasRetry && !retryFirst) await this.popQueue(ctx, retryTopic, 0, undefined);

    const header = {
      popTime: String(popTime),
      invisibleTime: String(h.invisibleTime),
      reviveQid: String(reviveQid),
      restNum: String(batch.restNum),
      ...(batch.startOffsetInfo.length > 0 ? { startOffsetInfo: batch.startOffsetInfo.join(';') } : {}),
      ...(batch.msgOffsetInfo.length > 0 ? { msgOffsetInfo: batch.msgOffsetInfo.join(';') } : {}),
      ...(batch.orderCountInfo.length > 0 ? { orderCountInfo: batch.orderCountInfo.join(';') } : {}),
    };
    if (batch.records.length > 0) {
      const res = RemotingCommand.responseTo(req, ResponseCode.SUCCESS, 'FOUND', header);
      this.metrics.messagesOut(h.topic, h.consumerGroup, batch.records.length, batch.bytes);
      this.stats.countGet(h.topic, h.consumerGroup, batch.records.length);
      if (!req.isOneway) conn.send(res, batch.records);
      this.metrics.rpcDone(req.code, req.isOneway ? -1 : res.code, performance.now() - t0);
      return null;
    }
    // Nothing: park until a message arrives or the poll time ends (client clock, as RocketMQ).
    const expiry = bornTime + h.pollTime;
    if (first && h.pollTime > 0 && expiry - Date.now() > 50 && !conn.isClosed) {
      const key = `${h.topic}@${h.consumerGroup}@${h.queueId}`;
      const mine = this.parked.get(key) ?? 0;
      if (mine >= this.config.popPollingSize || this.parkedTotal >= this.config.maxPopPollingSize) {
        return RemotingCommand.responseTo(req, ResponseCode.POLLING_FULL, 'too many pops are waiting', header);
      }
      this.park(req, conn, h, key, expiry, sub, hasRetry ? retryTopic : undefined, tc.readQueueNums, t0);
      return null;
    }
    return RemotingCommand.responseTo(req, ResponseCode.POLLING_TIMEOUT, 'no new message', header);
  }

  private park(
    req: RemotingCommand,
    conn: RemotingConnection,
    h: PopHeader,
    key: string,
    expiry: number,
    sub: SubscriptionData,
    retryTopic: string | undefined,
    queues: number,
    t0: number,
  ): void {
    this.parked.set(key, (this.parked.get(key) ?? 0) + 1);
    this.parkedTotal++;
    let answered = false;
    const wake = (): void => {
      if (answered) return;
      answered = true;
      const left = (this.parked.get(key) ?? 1) - 1;
      if (left > 0) this.parked.set(key, left);
      else this.parked.delete(key);
      this.parkedTotal--;
      if (conn.isClosed) return;
      // Re-run once, without parking again: data, or POLLING_TIMEOUT.
      this.process(req, conn, h, false, t0).then(
        (res) => {
          if (res) conn.reply(req, res, t0);
        },
        (e: unknown) => conn.reply(req, RemotingCommand.responseTo(req, ResponseCode.SYSTEM_ERROR, String(e)), t0),
      );
    };
    const matches = arrivalMatcher(sub);
    const deadline = expiry - 50;
    const qids = h.queueId < 0 ? Array.from({ length: queues }, (_, i) => i) : [h.queueId];
    for (const q of qids) this.longPolling.hold({ topic: h.topic, queueId: q, offset: 0, deadline, ...(matches ? { matches } : {}), wake });
    if (retryTopic !== undefined) this.longPolling.hold({ topic: retryTopic, queueId: 0, offset: 0, deadline, wake });
  }

  /** Pops what one queue has for the batch; writes its checkpoint and moves the group's offset. */
  private async popQueue(
    ctx: { h: PopHeader; popTime: number; reviveQid: number; batch: PopBatch },
    topic: string,
    queueId: number,
    filter: MessageFilter | undefined,
  ): Promise<void> {
    const { h, batch } = ctx;
    const group = h.consumerGroup;
    const lockKey = `${topic}@${group}@${queueId}`;
    const want = h.maxMsgNums - batch.records.length;
    const isRetry = topic.startsWith(MixAll.RETRY_GROUP_TOPIC_PREFIX);
    if (this.busy.has(lockKey)) {
      const off = this.buffer.popOffset(group, topic, queueId, this.offsets.queryOffset(group, topic, queueId));
      batch.restNum += Math.max(0, this.store.getMaxOffsetInQueue(topic, queueId) - Math.max(0, off));
      return;
    }
    const order = h.order === true;
    const now = Date.now();
    if (order && this.orderInfo.isBlocked(topic, group, queueId, h.attemptId, now)) {
      const off = this.buffer.popOffset(group, topic, queueId, this.offsets.queryOffset(group, topic, queueId));
      batch.restNum += Math.max(0, this.store.getMaxOffsetInQueue(topic, queueId) - Math.max(0, off));
      return;
    }
    this.busy.add(lockKey);
    try {
      let offset = await this.popOffset(group, topic, queueId, isRetry ? 0 : h.initMode);
      if (want <= 0) {
        batch.restNum += Math.max(0, this.store.getMaxOffsetInQueue(topic, queueId) - offset);
        return;
      }
      let r = await this.store.getMessage(group, topic, queueId, offset, want, undefined, filter);
      if (
        r.status === GetMessageStatus.OFFSET_TOO_SMALL ||
        r.status === GetMessageStatus.OFFSET_OVERFLOW_BADLY ||
        r.status === GetMessageStatus.OFFSET_FOUND_NULL
      ) {
        offset = r.nextBeginOffset;
        this.buffer.advanceTo(group, topic, queueId, offset);
        r = await this.store.getMessage(group, topic, queueId, offset, want, undefined, filter);
      }
      const flag = topicFlag(topic);
      if (order && r.status === GetMessageStatus.FOUND && r.messageBuffers.length > 0) {
        // FIFO: no checkpoint; the batch is remembered, the offset stays at its head until acked.
        const qOffsets = r.messageQueueOffsets;
        const counts = this.orderInfo.update(topic, group, queueId, ctx.popTime, h.invisibleTime, qOffsets, h.attemptId ?? '');
        batch.startOffsetInfo.push(`${flag} ${queueId} ${offset}`);
        batch.msgOffsetInfo.push(`${flag} ${queueId} ${qOffsets.join(',')}`);
        let minCount = Number.MAX_SAFE_INTEGER;
        for (const o of qOffsets) {
          const n = counts.get(o) ?? 0;
          if (n > 0) batch.orderCountInfo.push(`${flag} qo${queueId}%${o} ${n}`);
          minCount = Math.min(minCount, n);
        }
        batch.orderCountInfo.push(`${flag} ${queueId} ${minCount}`);
        for (const b of r.messageBuffers) {
          batch.records.push(b);
          batch.bytes += b.length;
        }
      } else if (r.status === GetMessageStatus.FOUND && r.messageBuffers.length > 0) {
        const qOffsets = r.messageQueueOffsets;
        const ck = {
          startOffset: offset,
          popTime: ctx.popTime,
          invisibleTime: h.invisibleTime,
          bitMap: 0,
          num: r.messageBuffers.length,
          queueId,
          topic,
          cid: group,
          brokerName: this.records.brokerName,
          queueOffsetDiff: qOffsets.map((o) => o - offset),
          reviveOffset: 0,
        };
        // Kept in memory (the merge buffer: acks in time mean no record at all), or written now.
        if (!this.buffer.add(ck, ctx.reviveQid, r.nextBeginOffset)) {
          const put = this.records.writeCheckPoint(ck, ctx.reviveQid, this.buffer.commitOffsetIfWritten(group, topic, queueId, r.nextBeginOffset));
          const stored = put instanceof Promise ? await put : put;
          if (!putOk(stored)) return; // not hidden, so not handed out; the offset stays
          this.buffer.advanceTo(group, topic, queueId, r.nextBeginOffset);
        }
        batch.startOffsetInfo.push(`${flag} ${queueId} ${offset}`);
        batch.msgOffsetInfo.push(`${flag} ${queueId} ${qOffsets.join(',')}`);
        for (let i = 0; i < r.messageBuffers.length; i++) {
          const b = r.messageBuffers[i]!;
          // Retried messages carry their receipt handle and the topic the consumer asked for.
          const out = isRetry
            ? retryRecordForPop(b, h.topic, buildExtraInfo({ ...ck, ckQueueOffset: offset, reviveQid: ctx.reviveQid, flag, offset: qOffsets[i]! }))
            : b;
          batch.records.push(out);
          batch.bytes += out.length;
        }
      } else if (r.nextBeginOffset > offset) {
        // Filtered out or skipped: nothing to hide, move on (behind the pops still in flight).
        this.buffer.advanceTo(group, topic, queueId, r.nextBeginOffset);
      }
      batch.restNum += Math.max(0, r.maxOffset - Math.max(r.nextBeginOffset, offset));
    } finally {
      this.busy.delete(lockKey);
    }
  }

  /** The group's pop offset of a queue; a first pop starts per initMode (0 = oldest, 1 = newest) and is committed at once. */
  private async popOffset(group: string, topic: string, queueId: number, initMode: number): Promise<number> {
    const committed = this.offsets.queryOffset(group, topic, queueId);
    const min = this.store.getMinOffsetInQueue(topic, queueId);
    // Past the pops still in flight (their checkpoints buffered, or the offset held back by one).
    if (committed >= 0) return Math.max(this.buffer.popOffset(group, topic, queueId, committed), min);
    let offset: number;
    if (initMode === 0) {
      offset = min;
    } else {
      const max = this.store.getMaxOffsetInQueue(topic, queueId);
      // From the start when the whole queue is recent enough to be in memory, as RocketMQ does.
      offset = min <= 0 && (await this.startIsInMemory(topic, queueId)) ? 0 : Math.max(0, max - 1);
    }
    this.offsets.commitOffset(group, topic, queueId, offset);
    return offset;
  }

  private async startIsInMemory(topic: string, queueId: number): Promise<boolean> {
    const phy = await this.store.getCommitLogOffsetInQueue(topic, queueId, 0);
    if (phy < 0) return true;
    const ratio = this.config.store.accessMessageInMemoryMaxRatio / 100;
    return this.store.getMaxPhyOffset() - phy <= totalmem() * ratio;
  }
}

/** A message of the pop retry topic as POP hands it out: under the requested topic, with its receipt handle (POP_CK). */
function retryRecordForPop(record: Buffer, topic: string, extraInfo: string): Buffer {
  const m = decodeMessageRecord(record);
  const props = new Map(m.properties);
  props.set(PROPERTY_POP_CK, extraInfo);
  const out = encodeMessageRecordToBuffer({
    topic,
    queueId: m.queueId,
    flag: m.flag,
    queueOffset: m.queueOffset,
    physicalOffset: m.commitLogOffset,
    sysFlag: m.sysFlag,
    bornTimestamp: m.bornTimestamp,
    bornHost: m.bornHost,
    storeTimestamp: m.storeTimestamp,
    storeHost: m.storeHost,
    reconsumeTimes: m.reconsumeTimes,
    preparedTransactionOffset: m.preparedTransactionOffset,
    body: m.body,
    properties: encodeProperties(props),
  });
  return out;
}
