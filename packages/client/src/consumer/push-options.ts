// What a user gives the push consumer: its options and defaults, and the listener signatures.
import type { MessageQueue } from '../message-queue.js';
import type { ReceivedMessage } from '../received-message.js';
import type { ConsumeFromWhere, MessageModel } from '../types.js';
import type { ConsumerBaseOptions } from './consumer-options.js';

export type ConsumeConcurrentlyStatus = 'CONSUME_SUCCESS' | 'RECONSUME_LATER';
export interface ConsumeConcurrentlyContext {
  readonly messageQueue: MessageQueue;
  /** 0: the broker picks (3 + reconsumeTimes); > 0: this delay level; -1: straight to the DLQ. */
  delayLevelWhenNextConsume: number;
  /** With CONSUME_SUCCESS, messages after this index are retried (default: all succeeded). */
  ackIndex: number;
}
export type MessageListenerConcurrently = (
  msgs: ReceivedMessage[],
  ctx: ConsumeConcurrentlyContext,
) => ConsumeConcurrentlyStatus | Promise<ConsumeConcurrentlyStatus>;

export type ConsumeOrderlyStatus = 'SUCCESS' | 'SUSPEND_CURRENT_QUEUE_A_MOMENT';
export interface ConsumeOrderlyContext {
  readonly messageQueue: MessageQueue;
  /** ms to wait before the same messages are delivered again after SUSPEND (-1: the consumer's default). */
  suspendCurrentQueueTimeMillis: number;
}
export type MessageListenerOrderly = (msgs: ReceivedMessage[], ctx: ConsumeOrderlyContext) => ConsumeOrderlyStatus | Promise<ConsumeOrderlyStatus>;

export interface PushConsumerOptions extends ConsumerBaseOptions {
  /** Most listener calls running at once (RocketMQ's consume thread pool size). */
  consumeThreadMax?: number;
  /** Messages per listener call. */
  consumeMessageBatchMaxSize?: number;
  /** Messages per pull request. */
  pullBatchSize?: number;
  /** Stop pulling a queue while this many of its messages are cached. */
  pullThresholdForQueue?: number;
  /** Stop pulling a queue while this many MiB of its message bodies are cached. */
  pullThresholdSizeForQueueMiB?: number;
  /** Stop pulling (concurrent mode) while cached offsets span more than this. */
  consumeConcurrentlyMaxSpan?: number;
  /** Pause between pulls of one queue (ms). */
  pullIntervalMs?: number;
  /** Attempts before a message goes to the DLQ: -1 = 16 (concurrent) / unlimited (orderly). */
  maxReconsumeTimes?: number;
  /** Orderly: ms before redelivering after SUSPEND_CURRENT_QUEUE_A_MOMENT. */
  suspendCurrentQueueTimeMillis?: number;
  /** How long the broker holds a pull when there is nothing new (ms). */
  brokerSuspendMaxTimeMillis?: number;
  /** Timeout of a held pull (ms); must exceed brokerSuspendMaxTimeMillis. */
  consumerTimeoutMillisWhenSuspend?: number;
  /** Delay before pulling again after an error (ms). */
  pullTimeDelayMillsWhenException?: number;
  /** Put the subscription in each pull (for brokers that lost the heartbeat's). */
  postSubscriptionWhenPull?: boolean;
  /** shutdown() waits this long (ms) for running listener calls before committing offsets. */
  awaitTerminationMillisWhenShutdown?: number;
  /** ms before messages whose send-back failed are consumed again locally. */
  localRetryDelayMs?: number;
}

export const PUSH_CONSUMER_DEFAULTS = {
  messageModel: 'CLUSTERING' as MessageModel,
  consumeFromWhere: 'CONSUME_FROM_LAST_OFFSET' as ConsumeFromWhere,
  consumeThreadMax: 20,
  consumeMessageBatchMaxSize: 1,
  pullBatchSize: 32,
  pullThresholdForQueue: 1_000,
  pullThresholdSizeForQueueMiB: 100,
  consumeConcurrentlyMaxSpan: 2_000,
  pullIntervalMs: 0,
  maxReconsumeTimes: -1,
  suspendCurrentQueueTimeMillis: 1_000,
  brokerSuspendMaxTimeMillis: 15_000,
  consumerTimeoutMillisWhenSuspend: 30_000,
  pullTimeDelayMillsWhenException: 1_000,
  postSubscriptionWhenPull: false,
  awaitTerminationMillisWhenShutdown: 10_000,
  localRetryDelayMs: 5_000,
  /** ms between renewals of orderly queue locks (the broker's lease is 60 s). */
  lockIntervalMs: 20_000,
  /** ms to back off pulling when flow control kicks in. */
  flowControlDelayMs: 50,
} as const;
