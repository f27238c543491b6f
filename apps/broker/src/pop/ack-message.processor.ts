import { Inject, Injectable } from '@nestjs/common';
import {
  AckMessageRequestHeader,
  ChangeInvisibleTimeRequestHeader,
  POP_ORDER_REVIVE_QUEUE,
  RemotingCommand,
  RequestCode,
  ResponseCode,
  parseExtraInfo,
  parseLenientJson,
  realTopicOf,
  type ExtraInfo,
} from '@rocketmq-ts/protocol';
import { RemotingHandler } from '@rocketmq-ts/remoting/nest';
import type { MessageStore, PutMessageResult } from '@rocketmq-ts/store';
import { BrokerState } from '../broker-state.js';
import type { BrokerConfig } from '../config.js';
import { BROKER_CONFIG, MESSAGE_STORE } from '../tokens.js';
import { TopicConfigManager } from '../topic/topic-config-manager.js';
import { ConsumerOrderInfoManager } from './consumer-order-info.js';
import { PopBufferService } from './pop-buffer.service.js';
import { PopRecordsService, putOk } from './pop-records.service.js';
import { ConsumerOffsetManager } from '../offset/consumer-offset-manager.js';
import { LongPollingService } from '../longpolling/long-polling.service.js';

type Fail = (code: number, remark: string) => RemotingCommand;

/**
 * ACK_MESSAGE, BATCH_ACK_MESSAGE and CHANGE_MESSAGE_INVISIBLETIME: an ack of a checkpoint still in
 * the merge buffer sets its bit there; otherwise each appends records to the revive topic (an
 * ack; or a new checkpoint for the message and an ack of the old one), which the revive service
 * matches with the checkpoints. A late or repeated ack is stored and matches nothing.
 */
@Injectable()
export class AckMessageProcessor {
  constructor(
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
    @Inject(MESSAGE_STORE) private readonly store: MessageStore,
    private readonly topics: TopicConfigManager,
    private readonly records: PopRecordsService,
    private readonly buffer: PopBufferService,
    private readonly state: BrokerState,
    private readonly offsets: ConsumerOffsetManager,
    private readonly orderInfo: ConsumerOrderInfoManager,
    private readonly longPolling: LongPollingService,
  ) {}

  /** Common checks; returns the parsed handle or an error reply. `maxOk`: the offset may equal the queue's max offset. */
  private check(req: RemotingCommand, h: { topic: string; queueId: number; extraInfo: string; offset: number }, maxOk: boolean): ExtraInfo | RemotingCommand {
    const fail: Fail = (code, remark) => RemotingCommand.responseTo(req, code, remark);
    if (!this.state.isMaster) return fail(ResponseCode.NO_PERMISSION, `the broker[${this.config.brokerName}] is a slave; ack on its master`);
    const tc = this.topics.get(h.topic);
    if (!tc) return fail(ResponseCode.TOPIC_NOT_EXIST, `topic[${h.topic}] not exist, apply first please!`);
    if (h.queueId < 0 || h.queueId >= tc.readQueueNums) {
      return fail(ResponseCode.MESSAGE_ILLEGAL, `queueId[${h.queueId}] is illegal, topic:[${h.topic}] topicConfig.readQueueNums:[${tc.readQueueNums}]`);
    }
    const min = this.store.getMinOffsetInQueue(h.topic, h.queueId);
    const max = this.store.getMaxOffsetInQueue(h.topic, h.queueId);
    if (h.offset < min || h.offset > max || (h.offset === max && !maxOk)) {
      return fail(ResponseCode.NO_MESSAGE, `offset ${h.offset} is not in queue ${h.queueId} [${min}, ${max})`);
    }
    const e = parseExtraInfo(h.extraInfo);
    if (e === undefined) return fail(ResponseCode.INVALID_PARAMETER, `malformed extraInfo (receipt handle): ${h.extraInfo}`);
    if (e.reviveQid === POP_ORDER_REVIVE_QUEUE) return e;
    if (e.reviveQid < 0 || e.reviveQid >= this.config.reviveQueueNum) return fail(ResponseCode.INVALID_PARAMETER, `reviveQid ${e.reviveQid} is out of range`);
    return e;
  }

  /** The ack record of the message a request names (its offset) under the checkpoint its handle names. */
  private ackRecord(h: { consumerGroup: string; topic: string; queueId: number; offset: number }, e: ExtraInfo): Promise<PutMessageResult> {
    const ack = {
      ackOffset: h.offset,
      startOffset: e.ckQueueOffset,
      consumerGroup: h.consumerGroup,
      topic: h.topic,
      queueId: h.queueId,
      popTime: e.popTime,
      brokerName: e.brokerName,
    };
    return settle(this.records.writeAck(ack, e.reviveQid, e.invisibleTime));
  }

  @RemotingHandler(RequestCode.ACK_MESSAGE)
  ack(req: RemotingCommand): RemotingCommand | Promise<RemotingCommand> {
    const h = AckMessageRequestHeader.decode(req.extFields);
    const e = this.check(req, h, true);
    if (e instanceof RemotingCommand) return e;
    if (e.reviveQid === POP_ORDER_REVIVE_QUEUE) return this.ackOrderly(req, h.consumerGroup, h.topic, h.queueId, h.offset, e.popTime);
    // A checkpoint still in memory takes the ack as a bit: no record, answered at once.
    if (this.buffer.ack(h.topic, h.consumerGroup, h.queueId, e.ckQueueOffset, e.popTime, e.brokerName, h.offset)) {
      return RemotingCommand.responseTo(req, ResponseCode.SUCCESS, null);
    }
    return this.ackStored(req, h, e);
  }

  private async ackStored(
    req: RemotingCommand,
    h: { consumerGroup: string; topic: string; queueId: number; offset: number },
    e: ExtraInfo,
  ): Promise<RemotingCommand> {
    const r = await this.ackRecord(h, e);
    if (!putOk(r)) return RemotingCommand.responseTo(req, ResponseCode.SYSTEM_ERROR, `ack not stored: ${r.status}`);
    return RemotingCommand.responseTo(req, ResponseCode.SUCCESS, null);
  }

  @RemotingHandler(RequestCode.CHANGE_MESSAGE_INVISIBLETIME)
  async changeInvisibleTime(req: RemotingCommand): Promise<RemotingCommand> {
    const fail: Fail = (code, remark) => RemotingCommand.responseTo(req, code, remark);
    const h = ChangeInvisibleTimeRequestHeader.decode(req.extFields);
    if (h.invisibleTime < 0) return fail(ResponseCode.INVALID_PARAMETER, `invisibleTime ${h.invisibleTime} is negative`);
    const e = this.check(req, h, false);
    if (e instanceof RemotingCommand) return e;
    if (e.reviveQid === POP_ORDER_REVIVE_QUEUE) {
      // FIFO: the message's own visibility time moves; the batch's pop time stays.
      const now = Date.now();
      const committed = this.offsets.queryOffset(h.consumerGroup, h.topic, h.queueId);
      const popTime = h.offset < committed ? undefined : this.orderInfo.changeInvisible(h.topic, h.consumerGroup, h.queueId, h.offset, now + h.invisibleTime);
      const pt = popTime ?? e.popTime;
      return RemotingCommand.responseTo(req, ResponseCode.SUCCESS, null, {
        popTime: String(pt),
        invisibleTime: String(now + h.invisibleTime - pt),
        reviveQid: String(POP_ORDER_REVIVE_QUEUE),
      });
    }
    // A new checkpoint hides the message from now on; then the old one is acked for it.
    const now = Date.now();
    const ck = await settle(
      this.records.writeCheckPoint(
        {
          startOffset: h.offset,
          popTime: now,
          invisibleTime: h.invisibleTime,
          bitMap: 0,
          num: 1,
          queueId: h.queueId,
          topic: h.topic,
          cid: h.consumerGroup,
          brokerName: e.brokerName,
          queueOffsetDiff: [0],
          reviveOffset: 0,
        },
        e.reviveQid,
        // Re-hides a message already handed out: no offset to claim beyond the committed one.
        this.offsets.queryOffset(h.consumerGroup, h.topic, h.queueId),
      ),
    );
    if (!putOk(ck)) return fail(ResponseCode.SYSTEM_ERROR, `checkpoint not stored: ${ck.status}`);
    if (!this.buffer.ack(h.topic, h.consumerGroup, h.queueId, e.ckQueueOffset, e.popTime, e.brokerName, h.offset)) {
      const ack = await this.ackRecord(h, e);
      if (!putOk(ack)) return fail(ResponseCode.SYSTEM_ERROR, `ack of the old checkpoint not stored: ${ack.status}`);
    }
    return RemotingCommand.responseTo(req, ResponseCode.SUCCESS, null, {
      popTime: String(now),
      invisibleTime: String(h.invisibleTime),
      reviveQid: String(e.reviveQid),
    });
  }

  /** FIFO ack: the group's offset moves to the first message of the batch not acked yet; parked pops of the queue are woken. */
  private ackOrderly(req: RemotingCommand, group: string, topic: string, queueId: number, offset: number, popTime: number): RemotingCommand {
    const committed = this.offsets.queryOffset(group, topic, queueId);
    if (offset < committed) return RemotingCommand.responseTo(req, ResponseCode.SUCCESS, null);
    const next = this.orderInfo.commitAndNext(topic, group, queueId, offset, popTime);
    if (next === -1) {
      return RemotingCommand.responseTo(req, ResponseCode.MESSAGE_ILLEGAL, `offset ${offset} was not handed out by the last FIFO pop of queue ${queueId}`);
    }
    if (next === -2) return RemotingCommand.responseTo(req, ResponseCode.SUCCESS, null); // an older batch: nothing to do
    if (next > committed) this.offsets.commitOffset(group, topic, queueId, next);
    this.longPolling.wakeAll(topic, queueId);
    return RemotingCommand.responseTo(req, ResponseCode.SUCCESS, null);
  }

  /**
   * BATCH_ACK_MESSAGE: body {brokerName, acks: [{c, t, r, so, q, rq, pt, it, b}]} where b is the
   * base64 of a bit set (bit i ⇒ offset so + i). Each entry becomes one batch-ack record (tag bAck).
   */
  @RemotingHandler(RequestCode.BATCH_ACK_MESSAGE)
  async batchAck(req: RemotingCommand): Promise<RemotingCommand> {
    const fail: Fail = (code, remark) => RemotingCommand.responseTo(req, code, remark);
    if (!this.state.isMaster) return fail(ResponseCode.NO_PERMISSION, `the broker[${this.config.brokerName}] is a slave; ack on its master`);
    let acks: unknown[];
    try {
      const body = req.body ? (parseLenientJson(req.body.toString('utf8')) as Record<string, unknown>) : {};
      acks = Array.isArray(body['acks']) ? (body['acks'] as unknown[]) : [];
    } catch (e) {
      return fail(ResponseCode.INVALID_PARAMETER, `malformed batch ack body: ${(e as Error).message}`);
    }
    if (acks.length === 0) return fail(ResponseCode.NO_MESSAGE, 'no acks in the request');
    for (const raw of acks) {
      const a = raw as Record<string, unknown>;
      const get = (s: string, l: string): unknown => a[s] ?? a[l];
      const group = String(get('c', 'consumerGroup') ?? '');
      const normalTopic = String(get('t', 'topic') ?? '');
      const retry = String(get('r', 'retry') ?? '0');
      const startOffset = Number(get('so', 'startOffset'));
      const queueId = Number(get('q', 'queueId'));
      const reviveQid = Number(get('rq', 'reviveQueueId'));
      const popTime = Number(get('pt', 'popTime'));
      const invisibleTime = Number(get('it', 'invisibleTime'));
      const bits = Buffer.from(String(get('b', 'bitSet') ?? ''), 'base64');
      if (![startOffset, queueId, reviveQid, popTime, invisibleTime].every(Number.isFinite) || reviveQid < 0 || reviveQid >= this.config.reviveQueueNum) {
        return fail(ResponseCode.INVALID_PARAMETER, 'malformed batch ack entry');
      }
      const topic = realTopicOf(retry, normalTopic, group);
      if (!this.topics.get(topic)) continue;
      const min = this.store.getMinOffsetInQueue(topic, queueId);
      const max = this.store.getMaxOffsetInQueue(topic, queueId);
      const offsets: number[] = [];
      for (let i = 0; i < bits.length * 8; i++) {
        if (((bits[i >>> 3] ?? 0) & (1 << (i & 7))) === 0) continue;
        const o = startOffset + i;
        if (o >= min && o <= max) offsets.push(o);
      }
      if (offsets.length === 0) continue;
      if (this.buffer.ackMany(topic, group, queueId, startOffset, popTime, this.config.brokerName, offsets)) continue;
      const r = await settle(
        this.records.writeBatchAck(
          { ackOffset: -1, startOffset, consumerGroup: group, topic, queueId, popTime, brokerName: this.config.brokerName, ackOffsetList: offsets },
          reviveQid,
          invisibleTime,
        ),
      );
      if (!putOk(r)) return fail(ResponseCode.SYSTEM_ERROR, `batch ack not stored: ${r.status}`);
    }
    return RemotingCommand.responseTo(req, ResponseCode.SUCCESS, null);
  }
}

async function settle(r: PutMessageResult | Promise<PutMessageResult>): Promise<PutMessageResult> {
  return r instanceof Promise ? await r : r;
}
