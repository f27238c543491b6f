// Orderly consumption: one listener call at a time per queue, under the queue's broker lock; failures retried in place.
import { setTimeout as sleep } from 'node:timers/promises';
import { MessageConst } from '@rocketmq-ts/common';
import type { MessageQueue } from '../message-queue.js';
import type { ReceivedMessage } from '../received-message.js';
import type { ConsumeDirectlyResult } from '../types.js';
import { ConsumeServiceBase, consumeDirectly } from './consume-service.js';
import type { ProcessQueue } from './process-queue.js';
import type { PushContext } from './push-context.js';
import type { ConsumeOrderlyContext, ConsumeOrderlyStatus, MessageListenerOrderly } from './push-options.js';
import type { QueueLocks } from './rebalance-push.js';

export class ConsumeMessageOrderlyService extends ConsumeServiceBase {
  readonly orderly = true;

  /** `listener` is read at each call, so registering another one while running takes effect at once. */
  constructor(
    ctx: PushContext,
    private readonly listener: () => MessageListenerOrderly | undefined,
    private readonly locks: QueueLocks,
  ) {
    super(ctx);
  }

  static consumeDirectly(listener: MessageListenerOrderly, msg: ReceivedMessage): Promise<ConsumeDirectlyResult> {
    return consumeDirectly(true, msg, async (mq) =>
      (await listener([msg], { messageQueue: mq, suspendCurrentQueueTimeMillis: -1 })) === 'SUCCESS' ? 'CR_SUCCESS' : 'CR_LATER',
    );
  }

  /** The messages are in `pq` already: the queue's loop takes them from there in offset order. */
  submit(_msgs: ReceivedMessage[], pq: ProcessQueue, mq: MessageQueue): void {
    if (!pq.consumeRunning) void this.consume(pq, mq);
  }

  private async consume(pq: ProcessQueue, mq: MessageQueue): Promise<void> {
    if (pq.consumeRunning) return;
    const { o, log, offsetStore, messageModel } = this.ctx;
    pq.consumeRunning = true;
    try {
      while (!pq.dropped && this.ctx.isRunning()) {
        if (messageModel === 'CLUSTERING' && (!pq.locked || pq.isLockExpired())) {
          this.tryLockLaterAndReconsume(mq, pq, 100);
          break;
        }
        await this.acquire();
        let msgs: ReceivedMessage[] = [];
        let status: ConsumeOrderlyStatus;
        const ctx: ConsumeOrderlyContext = { messageQueue: mq, suspendCurrentQueueTimeMillis: -1 };
        try {
          msgs = pq.takeMessages(o.consumeMessageBatchMaxSize);
          if (msgs.length === 0) break;
          this.markConsumeStart(msgs);
          try {
            status = (await this.listener()!(msgs, ctx)) ?? 'SUSPEND_CURRENT_QUEUE_A_MOMENT';
          } catch (e) {
            log.warn(
              'consume.exception',
              'the orderly listener threw; the queue is suspended a moment',
              { group: this.ctx.group, topic: mq.topic, queueId: mq.queueId },
              e,
            );
            status = 'SUSPEND_CURRENT_QUEUE_A_MOMENT';
          }
        } finally {
          this.release();
        }
        if (pq.dropped) break;
        if (status === 'SUCCESS') {
          const off = pq.commit();
          if (off >= 0) offsetStore.updateOffset(mq, off, false);
          continue;
        }
        if (await this.checkReconsumeTimes(msgs)) {
          pq.makeMessagesToConsumeAgain(msgs);
          await sleep(ctx.suspendCurrentQueueTimeMillis > 0 ? ctx.suspendCurrentQueueTimeMillis : o.suspendCurrentQueueTimeMillis);
        } else {
          // Every message of the batch went to the DLQ: move on.
          const off = pq.commit();
          if (off >= 0) offsetStore.updateOffset(mq, off, false);
        }
      }
    } finally {
      pq.consumeRunning = false;
    }
    // Messages that arrived while we were finishing.
    if (!pq.dropped && this.ctx.isRunning() && pq.msgCount > 0 && (messageModel === 'BROADCASTING' || (pq.locked && !pq.isLockExpired()))) {
      void this.consume(pq, mq);
    }
  }

  /** True when at least one message must be consumed again here; false when all went to the DLQ. */
  private async checkReconsumeTimes(msgs: ReceivedMessage[]): Promise<boolean> {
    const max = this.maxReconsumeTimes();
    let suspend = false;
    for (const m of msgs) {
      if (m.reconsumeTimes >= max) {
        m.properties.set(MessageConst.PROPERTY_RECONSUME_TIME, String(m.reconsumeTimes));
        if (!(await this.sendMessageBack(m, -1))) {
          suspend = true;
          m.reconsumeTimes++;
        }
      } else {
        suspend = true;
        m.reconsumeTimes++;
      }
    }
    return suspend;
  }

  /** The lock was lost (or expired): retake it, then go on; every 3 s until it is ours again. */
  private tryLockLaterAndReconsume(mq: MessageQueue, pq: ProcessQueue, delayMs: number): void {
    this.ctx.timers.after(delayMs, async () => {
      if (pq.dropped || !this.ctx.isRunning()) return;
      if (await this.locks.lock(mq, pq)) void this.consume(pq, mq);
      else this.tryLockLaterAndReconsume(mq, pq, 3_000);
    });
  }
}
