import { Inject, Injectable } from '@nestjs/common';
import { MessageConst } from '@rocketmq-ts/common';
import {
  POP_ACK_TAG,
  POP_BATCH_ACK_TAG,
  POP_CK_TAG,
  encodeAckMsg,
  encodeCheckPoint,
  popRetryTopic,
  reviveTopic,
  type AckMsg,
  type PopCheckPoint,
} from '@rocketmq-ts/protocol';
import { PutMessageStatus, type MessageStore, type PutMessageResult } from '@rocketmq-ts/store';
import { BrokerState } from '../broker-state.js';
import type { BrokerConfig } from '../config.js';
import { BROKER_CONFIG, MESSAGE_STORE } from '../tokens.js';

/** How long before its revive time a checkpoint is delivered into the revive queue (RocketMQ's ackTimeInterval). */
const CK_AHEAD_MS = 1_000;

/**
 * Our property on checkpoint records (not RocketMQ's): the pop offset of the checkpoint's queue
 * that was safe to commit once this record was stored. After a kill -9 the pop offsets are raised
 * to it (PopReviveService.load), never past a checkpoint that was only in memory (PopBufferService).
 */
export const PROPERTY_POP_COMMIT_OFFSET = 'POP_COMMIT_OFFSET';

/**
 * Writes POP's bookkeeping into the revive topic as RocketMQ 5 does: a checkpoint (tag ck) per
 * pop of one queue, an ack (tag ack) per acknowledged message. Both carry TIMER_DELIVER_MS, so
 * with the timer they reach the revive queue around the revive time (the checkpoint 1 s before,
 * the acks at it) and the revive service reads them in time order. With the merge buffer
 * (PopBufferService) a checkpoint is written only if not all acked within its stay time, then
 * with the acked bits in it, and acks only for checkpoints already written.
 */
@Injectable()
export class PopRecordsService {
  readonly reviveTopic: string;
  private reviveCounter = 0;

  constructor(
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
    @Inject(MESSAGE_STORE) private readonly store: MessageStore,
    private readonly state: BrokerState,
  ) {
    this.reviveTopic = reviveTopic(config.brokerClusterName);
  }

  get brokerName(): string {
    return this.config.brokerName;
  }

  /** The revive queue of the next pop (round-robin over reviveQueueNum). */
  nextReviveQid(): number {
    const n = Math.max(1, this.config.reviveQueueNum);
    this.reviveCounter = (this.reviveCounter + 1) % n;
    return this.reviveCounter;
  }

  retryTopic(group: string, topic: string): string {
    return popRetryTopic(group, topic, this.config.enableRetryTopicV2);
  }

  /**
   * Appends a checkpoint; the reply barrier hands it to the OS before the pop's answer leaves.
   * `commitOffset`: the queue's pop offset that is safe once it is stored (-1: none to claim).
   */
  writeCheckPoint(ck: PopCheckPoint, reviveQid: number, commitOffset: number): PutMessageResult | Promise<PutMessageResult> {
    const uniq = `${ck.topic}@${ck.queueId}@${ck.startOffset}@${ck.cid}@${ck.popTime}@${ck.brokerName}@${POP_CK_TAG}`;
    const extra = `${PROPERTY_POP_COMMIT_OFFSET}\u0001${commitOffset}\u0002`;
    return this.put(reviveQid, encodeCheckPoint(ck), POP_CK_TAG, uniq, ck.popTime + ck.invisibleTime - CK_AHEAD_MS, extra);
  }

  /** Appends an ack of one message, delivered at the checkpoint's revive time. */
  writeAck(ack: AckMsg, reviveQid: number, invisibleTime: number): PutMessageResult | Promise<PutMessageResult> {
    const uniq = `${ack.topic}@${ack.queueId}@${ack.ackOffset}@${ack.consumerGroup}@${ack.popTime}@${ack.brokerName}@${POP_ACK_TAG}`;
    // One ack per consumed message: the JSON is built directly (same text as encodeAckMsg).
    const json =
      ack.ackOffsetList === undefined
        ? `{"ao":${ack.ackOffset},"bn":${JSON.stringify(ack.brokerName)},"c":${JSON.stringify(ack.consumerGroup)},"pt":${ack.popTime},"q":${ack.queueId},"so":${ack.startOffset},"t":${JSON.stringify(ack.topic)}}`
        : encodeAckMsg(ack);
    return this.put(reviveQid, json, POP_ACK_TAG, uniq, ack.popTime + invisibleTime);
  }

  /** Appends one batch ack (tag bAck) for several messages of one checkpoint, delivered at its revive time. */
  writeBatchAck(ack: AckMsg & { ackOffsetList: number[] }, reviveQid: number, invisibleTime: number): PutMessageResult | Promise<PutMessageResult> {
    const uniq = `${ack.topic}@${ack.queueId}@${ack.startOffset}@${ack.consumerGroup}@${ack.popTime}@${POP_BATCH_ACK_TAG}`;
    return this.put(reviveQid, encodeAckMsg(ack), POP_BATCH_ACK_TAG, uniq, ack.popTime + invisibleTime);
  }

  /**
   * The TIMER_DELIVER_MS pair that sends a record through the timer (RocketMQ 5's way: it reaches the
   * revive queue at its time); nothing with timerWheelEnable=false, where the store would refuse it
   * and the revive service reads the records in pop order instead.
   */
  deliverAt(ms: number): string {
    return this.config.store.timerWheelEnable ? `${MessageConst.PROPERTY_TIMER_DELIVER_MS}\u0001${ms}\u0002` : '';
  }

  private put(queueId: number, json: string, tag: string, uniq: string, deliverAt: number, extra = ''): PutMessageResult | Promise<PutMessageResult> {
    return this.store.putMessageNow({
      topic: this.reviveTopic,
      queueId,
      body: Buffer.from(json, 'utf8'),
      propertiesString: `${MessageConst.PROPERTY_TAGS}\u0001${tag}\u0002${MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX}\u0001${uniq}\u0002${extra}${this.deliverAt(deliverAt)}`,
      bornHost: this.state.storeHost,
      waitStoreMsgOK: false,
    });
  }
}

export function putOk(r: PutMessageResult): boolean {
  return (
    r.status === PutMessageStatus.PUT_OK ||
    r.status === PutMessageStatus.FLUSH_DISK_TIMEOUT ||
    r.status === PutMessageStatus.FLUSH_SLAVE_TIMEOUT ||
    r.status === PutMessageStatus.SLAVE_NOT_AVAILABLE
  );
}
