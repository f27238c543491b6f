// The push consumer's pull loop: one long-polling pull after another per owned queue, with flow control.
import { setTimeout as sleep } from 'node:timers/promises';
import { MQError, MixAll, PullSysFlag, ResponseCode, parseTagExpression } from '@rocketmq-ts/protocol';
import { retryTopic, type MessageQueue } from '../message-queue.js';
import { decodeReceivedMessages } from '../received-message.js';
import type { ConsumeService } from './consume-service.js';
import type { ProcessQueue } from './process-queue.js';
import type { PushContext } from './push-context.js';
import { PUSH_CONSUMER_DEFAULTS } from './push-options.js';

/** Pulls queues for the push consumer (RocketMQ's PullMessageService) and hands what it finds to the consume service. */
export class PullMessageService {
  /** Times any queue was held back; logged once per thousand. */
  private flowControlTimes = 0;

  constructor(
    private readonly ctx: PushContext,
    private readonly consume: ConsumeService,
  ) {}

  private running(pq: ProcessQueue): boolean {
    return this.ctx.isRunning() && !pq.dropped;
  }

  /**
   * Pulls `mq` from `startOffset` until the queue is dropped or the consumer stops. When the
   * broker says the offset is out of range, drops the queue and resolves with the offset the
   * broker suggests instead.
   */
  async pullQueue(mq: MessageQueue, pq: ProcessQueue, startOffset: number): Promise<number | undefined> {
    const { instance: inst, o, log, offsetStore, group } = this.ctx;
    let nextOffset = startOffset;
    let brokerId = 0;
    while (this.running(pq)) {
      const wait = this.holdBack(mq, pq);
      if (wait !== undefined) {
        await sleep(wait);
        continue;
      }
      const sub = this.ctx.subs.get(mq.topic);
      if (!sub) {
        await sleep(o.pullTimeDelayMillsWhenException);
        continue;
      }
      let commitOffset = 0;
      if (this.ctx.messageModel === 'CLUSTERING') commitOffset = await offsetStore.readOffset(mq, 'READ_FROM_MEMORY');
      let sysFlag: number = PullSysFlag.SUSPEND;
      if (commitOffset > 0) sysFlag |= PullSysFlag.COMMIT_OFFSET;
      if (o.postSubscriptionWhenPull) sysFlag |= PullSysFlag.SUBSCRIPTION;
      const target = inst.findBrokerAddressInSubscribe(mq.brokerName, brokerId);
      if (!target) {
        await inst.updateTopicRouteFromNameServer(mq.topic).catch(() => false);
        await sleep(o.pullTimeDelayMillsWhenException);
        continue;
      }
      // A slave must not move the group's committed offset.
      if (target.slave) sysFlag &= ~PullSysFlag.COMMIT_OFFSET;
      log.debug('pull.request', 'pulling', { topic: mq.topic, queueId: mq.queueId, offset: nextOffset, commitOffset, sysFlag });
      try {
        const r = await inst.api.pullMessage(
          target.addr,
          {
            consumerGroup: group,
            mq,
            queueOffset: nextOffset,
            maxMsgNums: o.pullBatchSize,
            sysFlag,
            commitOffset: Math.max(0, commitOffset),
            suspendTimeoutMillis: o.brokerSuspendMaxTimeMillis,
            subscription: (sysFlag & PullSysFlag.SUBSCRIPTION) !== 0 ? sub.subString : undefined,
            subVersion: sub.subVersion,
            expressionType: sub.expressionType,
          },
          o.consumerTimeoutMillisWhenSuspend,
        );
        pq.lastPullTimestamp = Date.now();
        brokerId = r.suggestWhichBrokerId;
        // A slave that sends us back to the master knows it is up (it replicates from it).
        if (target.slave && brokerId === MixAll.MASTER_ID) {
          const master = inst.findBrokerAddressInPublish(mq.brokerName);
          if (master !== undefined) inst.markReachable(master);
        }
        if (!this.running(pq)) break;
        switch (r.status) {
          case 'FOUND': {
            const msgs = decodeReceivedMessages(r.body, {
              brokerName: mq.brokerName,
              tagFilter: sub.expressionType === 'TAG' ? parseTagExpression(sub.subString) : undefined,
              retryTopic: retryTopic(group),
              minOffset: r.minOffset,
              maxOffset: r.maxOffset,
              onUndecodable: (m, why) => log.warn('message.undecodable', why, { msgId: m.msgId, topic: m.topic }),
            });
            nextOffset = r.nextBeginOffset;
            pq.maxOffsetInBroker = r.maxOffset;
            if (msgs.length === 0) {
              if (pq.msgCount === 0) offsetStore.updateOffset(mq, nextOffset, true);
              continue;
            }
            this.consume.submit(pq.putMessages(msgs), pq, mq);
            if (o.pullIntervalMs > 0) await sleep(o.pullIntervalMs);
            break;
          }
          case 'NO_NEW_MSG':
          case 'NO_MATCHED_MSG':
            nextOffset = r.nextBeginOffset;
            // Nothing cached: everything before nextOffset is done (e.g. filtered out).
            if (pq.msgCount === 0) offsetStore.updateOffset(mq, nextOffset, true);
            break;
          case 'OFFSET_ILLEGAL':
            log.warn('pull.offset.illegal', 'the pull offset is out of range; resetting it', {
              topic: mq.topic,
              brokerName: mq.brokerName,
              queueId: mq.queueId,
              offset: nextOffset,
              next: r.nextBeginOffset,
            });
            pq.dropped = true;
            return r.nextBeginOffset;
        }
      } catch (e) {
        if (!this.running(pq)) break;
        // The broker cannot be reached (a dead master): read from another of its group meanwhile.
        if (e instanceof MQError && e.code === ResponseCode.RPC_SEND_TO_CHANNEL_FAILED) {
          inst.markUnreachable(target.addr);
          brokerId = MixAll.MASTER_ID;
        }
        log.warn('pull.failed', 'pull failed; retrying later', { topic: mq.topic, brokerName: mq.brokerName, queueId: mq.queueId, broker: target.addr }, e);
        await sleep(o.pullTimeDelayMillsWhenException);
      }
    }
    return undefined;
  }

  /** ms to wait before the next pull of this queue (suspended, too much cached, or no lock yet); undefined: pull now. */
  private holdBack(mq: MessageQueue, pq: ProcessQueue): number | undefined {
    const { o, log } = this.ctx;
    if (this.ctx.isSuspended()) return o.pullTimeDelayMillsWhenException;
    if (pq.msgCount > o.pullThresholdForQueue || pq.msgSizeBytes > o.pullThresholdSizeForQueueMiB * 1024 * 1024) {
      if (this.flowControlTimes++ % 1000 === 0) {
        log.warn('flow.control', 'too many cached messages in a queue; pulling later', {
          topic: mq.topic,
          brokerName: mq.brokerName,
          queueId: mq.queueId,
          count: pq.msgCount,
          bytes: pq.msgSizeBytes,
          flowControlTimes: this.flowControlTimes,
        });
      }
      return PUSH_CONSUMER_DEFAULTS.flowControlDelayMs;
    }
    // Concurrently, a slow message holds the committed offset back: stop before the gap grows too wide.
    if (!this.consume.orderly && pq.maxSpan() > o.consumeConcurrentlyMaxSpan) {
      if (this.flowControlTimes++ % 1000 === 0) {
        log.warn('flow.control.span', 'cached offsets span too wide; pulling later', { topic: mq.topic, queueId: mq.queueId, span: pq.maxSpan() });
      }
      return PUSH_CONSUMER_DEFAULTS.flowControlDelayMs;
    }
    if (this.consume.orderly && this.ctx.messageModel === 'CLUSTERING' && !pq.locked) return o.pullTimeDelayMillsWhenException;
    return undefined;
  }
}
