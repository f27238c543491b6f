// What the concurrent and orderly consume services share: the listener-call limit, send-back, direct consumption.
import { MessageConst } from '@rocketmq-ts/common';
import { MixAll, encodeProperties, type SendMessageRequest } from '@rocketmq-ts/protocol';
import { retryTopic, type MessageQueue } from '../message-queue.js';
import type { ReceivedMessage } from '../received-message.js';
import type { ConsumeDirectlyResult } from '../types.js';
import type { ProcessQueue } from './process-queue.js';
import type { PushContext } from './push-context.js';

/** Hands pulled messages to the listener (RocketMQ's ConsumeMessageService). */
export interface ConsumeService {
  readonly orderly: boolean;
  /**
   * Newly cached messages of a queue. Concurrently: dispatched in batches. Orderly: the queue's
   * consume loop starts if idle and takes them from the process queue itself (msgs may be empty).
   */
  submit(msgs: ReceivedMessage[], pq: ProcessQueue, mq: MessageQueue): void;
  /** A listener call is running. */
  readonly busy: boolean;
  sendMessageBack(m: ReceivedMessage, delayLevel: number): Promise<boolean>;
}

export abstract class ConsumeServiceBase implements ConsumeService {
  abstract readonly orderly: boolean;
  private inflight = 0;
  private readonly waiters: Array<() => void> = [];

  constructor(protected readonly ctx: PushContext) {}

  abstract submit(msgs: ReceivedMessage[], pq: ProcessQueue, mq: MessageQueue): void;

  get busy(): boolean {
    return this.inflight > 0;
  }

  /** Waits for one of consumeThreadMax listener slots (the consume thread pool of RocketMQ). */
  protected async acquire(): Promise<void> {
    while (this.inflight >= this.ctx.o.consumeThreadMax) await new Promise<void>((r) => this.waiters.push(r));
    this.inflight++;
  }

  protected release(): void {
    this.inflight--;
    this.waiters.shift()?.();
  }

  /** Stamps when consumption of each message began, as RocketMQ's consumers do. */
  protected markConsumeStart(msgs: readonly ReceivedMessage[]): void {
    const now = String(Date.now());
    for (const m of msgs) m.properties.set(MessageConst.PROPERTY_CONSUME_START_TIMESTAMP, now);
  }

  protected maxReconsumeTimes(): number {
    if (this.ctx.o.maxReconsumeTimes >= 0) return this.ctx.o.maxReconsumeTimes;
    return this.orderly ? 2147483647 : 16;
  }

  /**
   * Hands a failed message back to the broker (retry topic with a delay, or the DLQ after
   * maxReconsumeTimes). If the broker refuses, sends a copy to the retry topic directly.
   * Returns false when neither worked.
   */
  async sendMessageBack(m: ReceivedMessage, delayLevel: number): Promise<boolean> {
    const { instance: inst, group, log } = this.ctx;
    const addr = inst.findBrokerAddressInPublish(m.brokerName);
    const max = this.maxReconsumeTimes();
    try {
      if (addr === undefined) throw new Error(`no master address for ${m.brokerName}`);
      await inst.api.consumerSendMessageBack(addr, m.brokerName, m, group, delayLevel, max);
      return true;
    } catch (e) {
      log.warn('consume.sendback.failed', 'send-back failed; sending a copy to the retry topic', { msgId: m.msgId, topic: m.topic, group }, e);
    }
    try {
      if (addr === undefined) return false;
      const props = new Map(m.properties);
      if (!props.has(MessageConst.PROPERTY_RETRY_TOPIC)) props.set(MessageConst.PROPERTY_RETRY_TOPIC, m.topic);
      if (!props.has(MessageConst.PROPERTY_ORIGIN_MESSAGE_ID)) props.set(MessageConst.PROPERTY_ORIGIN_MESSAGE_ID, m.msgId);
      props.set(MessageConst.PROPERTY_DELAY_TIME_LEVEL, String(delayLevel < 0 ? -1 : delayLevel > 0 ? delayLevel : 3 + m.reconsumeTimes));
      props.delete(MessageConst.PROPERTY_MIN_OFFSET);
      props.delete(MessageConst.PROPERTY_MAX_OFFSET);
      const header: SendMessageRequest = {
        producerGroup: MixAll.CLIENT_INNER_PRODUCER_GROUP,
        topic: retryTopic(group),
        defaultTopic: MixAll.AUTO_CREATE_TOPIC_KEY_TOPIC,
        defaultTopicQueueNums: 1,
        queueId: -1,
        sysFlag: 0,
        bornTimestamp: Date.now(),
        flag: m.flag,
        properties: encodeProperties(props),
        reconsumeTimes: m.reconsumeTimes + 1,
        maxReconsumeTimes: max,
        bname: m.brokerName,
      };
      await inst.api.sendMessage(addr, m.brokerName, header, m.body, { batch: false, timeoutMs: inst.api.timeoutMs });
      return true;
    } catch (e) {
      log.warn(
        'consume.retry.local',
        'could not hand the message back to the broker; it will be consumed again locally',
        { msgId: m.msgId, topic: m.topic, group },
        e,
      );
      return false;
    }
  }
}

/**
 * CONSUME_MESSAGE_DIRECTLY (the broker asks a client to run one message through its listener):
 * times `call` and turns a throw into CR_THROW_EXCEPTION.
 */
export async function consumeDirectly(
  order: boolean,
  msg: ReceivedMessage,
  call: (mq: MessageQueue) => Promise<ConsumeDirectlyResult['consumeResult']>,
): Promise<ConsumeDirectlyResult> {
  const t0 = Date.now();
  const mq = { topic: msg.topic, brokerName: msg.brokerName, queueId: msg.queueId };
  try {
    const consumeResult = await call(mq);
    return { order, autoCommit: true, consumeResult, remark: '', spentTimeMills: Date.now() - t0 };
  } catch (e) {
    return { order, autoCommit: true, consumeResult: 'CR_THROW_EXCEPTION', remark: (e as Error).message, spentTimeMills: Date.now() - t0 };
  }
}
