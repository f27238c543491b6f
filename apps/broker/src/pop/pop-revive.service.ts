import { Inject, Injectable } from '@nestjs/common';
import { MessageConst } from '@rocketmq-ts/common';
import {
  POP_ACK_TAG,
  POP_BATCH_ACK_TAG,
  POP_CK_TAG,
  PROPERTY_FIRST_POP_TIME,
  PROPERTY_POP_CK,
  PermName,
  REVIVE_GROUP,
  decodeAckMsg,
  decodeCheckPoint,
  decodeMessageRecord,
  encodeProperties,
  indexOfAck,
  reviveKey,
  reviveTimeOf,
  type DecodedMessage,
  type PopCheckPoint,
} from '@rocketmq-ts/protocol';
import { createLogger } from '@rocketmq-ts/remoting';
import { GetMessageStatus, type MessageStore } from '@rocketmq-ts/store';
import { BrokerState } from '../broker-state.js';
import type { BrokerConfig } from '../config.js';
import { BrokerMetrics } from '../metrics/broker-metrics.js';
import { ConsumerOffsetManager } from '../offset/consumer-offset-manager.js';
import { SubscriptionGroupManager } from '../subscription/subscription-group-manager.js';
import { BROKER_CONFIG, MESSAGE_STORE } from '../tokens.js';
import { TopicConfigManager } from '../topic/topic-config-manager.js';
import { PROPERTY_POP_COMMIT_OFFSET, PopRecordsService, putOk } from './pop-records.service.js';

/** The timer's topic (RocketMQ 5): records with a delivery time wait there. */
const TIMER_TOPIC = 'rmq_sys_wheel_timer';
/** Checkpoints stored this long before the offsets snapshot are read again after a restart (clock and flush slack). */
const SNAPSHOT_MARGIN_MS = 10_000;
/** A checkpoint is revived only this long after its revive time, so acks sent at the last moment count. */
const ACK_GRACE_MS = 2_000;

/**
 * Brings back popped messages nobody acked (RocketMQ 5's PopReviveService, master only). Each
 * revive queue is read from the group CID_RMQ_SYS_REVIVE_GROUP's offset: checkpoints and the acks
 * that follow them are matched; a checkpoint whose revive time (pop time + invisible time) has
 * passed puts each un-acked message into the group's pop retry topic with reconsumeTimes + 1,
 * and the offset moves past it. The offset stops at the first checkpoint not yet due, so a
 * restart reads again only what was still pending: nothing pending is lost, nothing acked comes
 * back (a crash between a revive and the next offset write may revive a checkpoint twice).
 * Dead-lettering is the consumer's decision, as in RocketMQ 5.
 */
@Injectable()
export class PopReviveService {
  private readonly log = createLogger('broker.pop.revive');
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = true;
  revivedTotal = 0;
  /** Per revive queue: checkpoints revived past the committed offset (behind one still pending). */
  private readonly doneBeyondOffset: Set<number>[] = [];
  /** Per revive queue: records below this offset were counted in the metrics already. */
  private readonly countedTo: number[] = [];

  constructor(
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
    @Inject(MESSAGE_STORE) private readonly store: MessageStore,
    private readonly state: BrokerState,
    private readonly records: PopRecordsService,
    private readonly topics: TopicConfigManager,
    private readonly groups: SubscriptionGroupManager,
    private readonly offsets: ConsumerOffsetManager,
    private readonly metrics: BrokerMetrics,
  ) {
    metrics.bindReviveLag(() =>
      Array.from({ length: this.config.reviveQueueNum }, (_, q) => {
        const topic = this.records.reviveTopic;
        const done = Math.max(this.offsets.queryOffset(REVIVE_GROUP, topic, q), this.store.getMinOffsetInQueue(topic, q));
        return Math.max(0, this.store.getMaxOffsetInQueue(topic, q) - done);
      }),
    );
  }

  /**
   * After a restart the pop offsets in consumerOffset.json may be older than the checkpoints
   * written before the stop: every checkpoint still ahead of the revive offset (all written after
   * that file's snapshot) moves its group's offset to what was safe once it was stored
   * (PROPERTY_POP_COMMIT_OFFSET: past its messages, unless a pop before it was only in the merge
   * buffer, whose messages must be popped again), so nothing popped before a crash and covered by
   * a stored checkpoint is popped again as new. Checkpoints without the property (older brokers)
   * claim their end, as those brokers committed it at once.
   */
  async load(): Promise<number> {
    const topic = this.records.reviveTopic;
    let raised = 0;
    const raise = (m: DecodedMessage): void => {
      if (m.properties.get(MessageConst.PROPERTY_TAGS) !== POP_CK_TAG) return;
      const ck = decodeCheckPoint(m.body.toString('utf8'));
      if (ck === undefined || ck.brokerName !== this.records.brokerName) return;
      const claimed = m.properties.get(PROPERTY_POP_COMMIT_OFFSET);
      const next = claimed !== undefined ? Number(claimed) : ck.startOffset + (ck.queueOffsetDiff[ck.num - 1] ?? ck.num - 1) + 1;
      if (!Number.isSafeInteger(next)) return;
      if (next > this.offsets.queryOffset(ck.cid, ck.topic, ck.queueId)) {
        this.offsets.commitOffset(ck.cid, ck.topic, ck.queueId, next);
        raised++;
      }
    };
    for (let q = 0; q < this.config.reviveQueueNum; q++) {
      const from = Math.max(this.offsets.queryOffset(REVIVE_GROUP, topic, q), this.store.getMinOffsetInQueue(topic, q));
      await this.scan(topic, q, from, raise);
    }
    // With the timer, recent checkpoints still wait in its topic (rmq_sys_wheel_timer), not yet
    // in the revive queues: read those stored since the offsets snapshot too.
    if (this.store.getMaxOffsetInQueue(TIMER_TOPIC, 0) > 0) {
      const from = await this.store.getOffsetInQueueByTime(TIMER_TOPIC, 0, Math.max(0, this.offsets.snapshotTime - SNAPSHOT_MARGIN_MS));
      await this.scan(TIMER_TOPIC, 0, from, (m) => {
        if (m.properties.get(MessageConst.PROPERTY_REAL_TOPIC) === topic) raise(m);
      });
    }
    if (raised > 0) this.log.info(`pop offsets moved past ${raised} checkpoints written after the last offset snapshot`);
    return raised;
  }

  private async scan(topic: string, q: number, from: number, f: (m: DecodedMessage) => void): Promise<void> {
    let cursor = from;
    const max = this.store.getMaxOffsetInQueue(topic, q);
    while (cursor < max) {
      const r = await this.store.getMessage(REVIVE_GROUP, topic, q, cursor, 64);
      if (r.messageBuffers.length === 0) {
        if (r.nextBeginOffset <= cursor) break;
        cursor = r.nextBeginOffset;
        continue;
      }
      for (const b of r.messageBuffers) f(decodeMessageRecord(b));
      cursor = r.nextBeginOffset;
    }
  }

  start(): void {
    this.stopped = false;
    this.schedule();
    this.log.info(`pop revive started on ${this.config.reviveQueueNum} queues of ${this.records.reviveTopic}, every ${this.config.reviveInterval} ms`);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(
      () => {
        this.running = this.runOnce()
          .catch((e: unknown) => this.log.error(`pop revive failed: ${String(e)}`))
          .finally(() => {
            this.running = undefined;
            this.schedule();
          });
      },
      Math.max(10, this.config.reviveInterval),
    );
    this.timer.unref();
  }

  /** One pass over every revive queue; returns how many messages went to retry topics. */
  async runOnce(): Promise<number> {
    if (!this.state.isMaster || this.state.state !== 'running') return 0;
    let n = 0;
    for (let q = 0; q < this.config.reviveQueueNum && !this.stopped; q++) n += await this.reviveQueue(q);
    return n;
  }

  private async reviveQueue(q: number): Promise<number> {
    const topic = this.records.reviveTopic;
    let offset = this.offsets.queryOffset(REVIVE_GROUP, topic, q);
    const min = this.store.getMinOffsetInQueue(topic, q);
    if (offset < min) offset = min;
    const max = this.store.getMaxOffsetInQueue(topic, q);
    if (offset >= max) return 0;
    const cks: PopCheckPoint[] = [];
    const byKey = new Map<string, PopCheckPoint>();
    let cursor = offset;
    let latestDeliver = 0;
    const t0 = Date.now();
    const setBit = (ck: PopCheckPoint | undefined, ackOffset: number): void => {
      if (ck === undefined) return;
      const i = indexOfAck(ck, ackOffset);
      if (i >= 0 && i < 32) ck.bitMap |= 1 << i;
    };
    while (cursor < max && Date.now() - t0 < this.config.reviveScanTime && !this.stopped) {
      const r = await this.store.getMessage(REVIVE_GROUP, topic, q, cursor, 32);
      if (r.messageBuffers.length === 0) {
        if (r.nextBeginOffset <= cursor) break;
        cursor = r.nextBeginOffset;
        continue;
      }
      for (let i = 0; i < r.messageBuffers.length; i++) {
        const m = decodeMessageRecord(r.messageBuffers[i]!);
        const qo = r.messageQueueOffsets[i]!;
        if (qo >= (this.countedTo[q] ?? 0)) {
          this.countedTo[q] = qo + 1;
          this.metrics.reviveRead(m.properties.get(MessageConst.PROPERTY_TAGS) ?? 'unknown', 1);
        }
        const deliver = Number(m.properties.get('TIMER_DELIVER_MS') ?? 0);
        if (deliver > latestDeliver) latestDeliver = deliver;
        const tag = m.properties.get(MessageConst.PROPERTY_TAGS);
        const text = m.body.toString('utf8');
        if (tag === POP_CK_TAG) {
          const ck = decodeCheckPoint(text);
          if (ck === undefined) continue;
          ck.reviveOffset = r.messageQueueOffsets[i]!;
          cks.push(ck);
          byKey.set(reviveKey(ck.topic, ck.cid, ck.queueId, ck.startOffset, ck.popTime, ck.brokerName), ck);
        } else if (tag === POP_ACK_TAG || tag === POP_BATCH_ACK_TAG) {
          const a = decodeAckMsg(text);
          if (a === undefined) continue;
          const ck = byKey.get(reviveKey(a.topic, a.consumerGroup, a.queueId, a.startOffset, a.popTime, a.brokerName || this.records.brokerName));
          if (a.ackOffsetList !== undefined) for (const o of a.ackOffsetList) setBit(ck, o);
          else setBit(ck, a.ackOffset);
        }
      }
      cursor = r.nextBeginOffset;
    }
    // Everything stored up to now has been read when the scan reached the end; otherwise only
    // up to the newest delivery time seen. With the timer, acks of due checkpoints may still wait
    // in it (a restart after downtime, a backlog): not past what it has delivered.
    const timer = this.store.timerMessageStore;
    const now = Date.now();
    const horizon = cursor >= max ? (timer === undefined ? now : Math.min(now, await timer.deliveredUpTo())) : latestDeliver;
    // Due checkpoints are revived even behind one that is not due yet (without the timer, records
    // sit in pop order, not revive-time order); the offset stops at the first one still pending,
    // and the ones revived past it are remembered so the next pass does not revive them again.
    let pending: number | undefined;
    let revived = 0;
    const done = this.doneBeyondOffset[q] ?? (this.doneBeyondOffset[q] = new Set());
    for (const ck of cks) {
      if (done.has(ck.reviveOffset)) continue;
      if (horizon - reviveTimeOf(ck) <= ACK_GRACE_MS) {
        pending ??= ck.reviveOffset;
        continue;
      }
      const n = await this.revive(ck);
      if (n < 0) {
        pending ??= ck.reviveOffset;
        break;
      }
      revived += n;
      if (pending !== undefined) done.add(ck.reviveOffset);
    }
    const commitTo = pending ?? cursor;
    for (const ro of done) if (ro < commitTo) done.delete(ro);
    this.offsets.commitOffset(REVIVE_GROUP, topic, q, commitTo);
    if (revived > 0) {
      this.revivedTotal += revived;
      this.log.info(`revive queue ${q}: ${revived} un-acked messages back to their retry topics`);
    }
    return revived;
  }

  /** Re-puts the un-acked messages of one checkpoint; -1 when a put failed (retried next pass). */
  private async revive(ck: PopCheckPoint): Promise<number> {
    // A deleted topic or group has nobody to come back to.
    if (this.groups.find(ck.cid) === undefined || this.topics.get(ck.topic) === undefined) return 0;
    if (ck.brokerName !== this.records.brokerName) {
      this.log.warn(`checkpoint of ${ck.topic}@${ck.queueId} names broker ${ck.brokerName}; only this broker's messages are revived`);
      return 0;
    }
    const retryTopic = ck.topic.startsWith('%RETRY%') ? ck.topic : this.records.retryTopic(ck.cid, ck.topic);
    let n = 0;
    for (let j = 0; j < ck.num; j++) {
      if (((ck.bitMap >>> j) & 1) !== 0) continue;
      const offset = ck.startOffset + (ck.queueOffsetDiff[j] ?? j);
      const r = await this.store.getMessage(REVIVE_GROUP, ck.topic, ck.queueId, offset, 1);
      const b = r.messageBuffers[0];
      if (r.status !== GetMessageStatus.FOUND || b === undefined || r.messageQueueOffsets[0] !== offset) continue; // gone
      const m = decodeMessageRecord(b);
      if (this.topics.get(retryTopic) === undefined) {
        this.topics.createIfMissing(retryTopic, 1, PermName.PERM_READ | PermName.PERM_WRITE);
        if (this.topics.persistPending) await this.topics.whenPersisted();
      }
      if (this.offsets.queryOffset(ck.cid, retryTopic, 0) < 0) this.offsets.commitOffset(ck.cid, retryTopic, 0, 0);
      const props = new Map(m.properties);
      props.delete(PROPERTY_POP_CK);
      if (m.reconsumeTimes === 0 || !props.has(PROPERTY_FIRST_POP_TIME)) props.set(PROPERTY_FIRST_POP_TIME, String(ck.popTime));
      const put = await this.store.putMessage({
        topic: retryTopic,
        queueId: 0,
        body: m.body,
        flag: m.flag,
        propertiesString: encodeProperties(props),
        sysFlag: m.sysFlag,
        bornTimestamp: m.bornTimestamp,
        bornHost: this.state.storeHost,
        reconsumeTimes: m.reconsumeTimes + 1,
        waitStoreMsgOK: false,
      });
      if (!putOk(put)) {
        this.log.warn(`cannot revive ${ck.topic}@${ck.queueId}:${offset} into ${retryTopic}: ${put.status}`);
        return -1;
      }
      n++;
      this.metrics.revivedToRetry(ck.topic, ck.cid);
    }
    return n;
  }
}
