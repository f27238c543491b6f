// Concurrent consumption: batches go to the listener in parallel; failures go back to the broker's retry topic.
import type { MessageQueue } from '../message-queue.js';
import type { ReceivedMessage } from '../received-message.js';
import type { ConsumeDirectlyResult } from '../types.js';
import { ConsumeServiceBase, consumeDirectly } from './consume-service.js';
import type { ProcessQueue } from './process-queue.js';
import type { PushContext } from './push-context.js';
import type { ConsumeConcurrentlyContext, ConsumeConcurrentlyStatus, MessageListenerConcurrently } from './push-options.js';

export class ConsumeMessageConcurrentlyService extends ConsumeServiceBase {
  readonly orderly = false;

  /** `listener` is read at each call, so registering another one while running takes effect at once. */
  constructor(
    ctx: PushContext,
    private readonly listener: () => MessageListenerConcurrently | undefined,
  ) {
    super(ctx);
  }

  static consumeDirectly(listener: MessageListenerConcurrently | undefined, msg: ReceivedMessage): Promise<ConsumeDirectlyResult> {
    return consumeDirectly(false, msg, async (mq) => {
      const s = await listener!([msg], { messageQueue: mq, delayLevelWhenNextConsume: 0, ackIndex: 0 });
      return s === 'CONSUME_SUCCESS' ? 'CR_SUCCESS' : s ? 'CR_LATER' : 'CR_RETURN_NULL';
    });
  }

  submit(msgs: ReceivedMessage[], pq: ProcessQueue, mq: MessageQueue): void {
    const n = this.ctx.o.consumeMessageBatchMaxSize;
    for (let i = 0; i < msgs.length; i += n) void this.consume(msgs.slice(i, i + n), pq, mq);
  }

  private async consume(msgs: ReceivedMessage[], pq: ProcessQueue, mq: MessageQueue): Promise<void> {
    await this.acquire();
    try {
      // While stopping, only listener calls already running finish; nothing new starts.
      if (pq.dropped || !this.ctx.isRunning()) return;
      this.markConsumeStart(msgs);
      const ctx: ConsumeConcurrentlyContext = { messageQueue: mq, delayLevelWhenNextConsume: 0, ackIndex: 2147483647 };
      let status: ConsumeConcurrentlyStatus;
      try {
        status = (await this.listener()!(msgs, ctx)) ?? 'RECONSUME_LATER';
      } catch (e) {
        this.ctx.log.warn(
          'consume.exception',
          'the listener threw; the messages will be retried',
          { group: this.ctx.group, topic: mq.topic, queueId: mq.queueId, msgIds: msgs.map((m) => m.msgId).join(',') },
          e,
        );
        status = 'RECONSUME_LATER';
      }
      if (pq.dropped) return;
      await this.processConsumeResult(status, ctx, msgs, pq, mq);
    } finally {
      this.release();
    }
  }

  private async processConsumeResult(
    status: ConsumeConcurrentlyStatus,
    ctx: ConsumeConcurrentlyContext,
    msgs: ReceivedMessage[],
    pq: ProcessQueue,
    mq: MessageQueue,
  ): Promise<void> {
    const ackIndex = status === 'CONSUME_SUCCESS' ? Math.min(ctx.ackIndex, msgs.length - 1) : -1;
    const failedLocally: ReceivedMessage[] = [];
    if (this.ctx.messageModel === 'BROADCASTING') {
      for (let i = ackIndex + 1; i < msgs.length; i++) {
        this.ctx.log.warn('consume.broadcast.dropped', 'broadcast consumption failed; broadcast messages are not retried', {
          msgId: msgs[i]!.msgId,
          topic: mq.topic,
        });
      }
    } else {
      for (let i = ackIndex + 1; i < msgs.length; i++) {
        const m = msgs[i]!;
        if (!(await this.sendMessageBack(m, ctx.delayLevelWhenNextConsume))) {
          m.reconsumeTimes++;
          failedLocally.push(m);
        }
      }
    }
    const done = failedLocally.length === 0 ? msgs : msgs.filter((m) => !failedLocally.includes(m));
    const offset = pq.removeMessages(done);
    if (offset >= 0 && !pq.dropped) this.ctx.offsetStore.updateOffset(mq, offset, true);
    if (failedLocally.length > 0) {
      // Send-back failed: keep them cached (the offset does not pass them) and consume again here.
      this.ctx.timers.after(this.ctx.o.localRetryDelayMs, () => {
        if (!pq.dropped && this.ctx.isRunning()) this.submit(failedLocally, pq, mq);
      });
    }
  }
}
