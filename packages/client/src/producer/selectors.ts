import { javaStringHashCode } from '@rocketmq-ts/protocol';
import type { MessageQueue } from '../message-queue.js';
import type { Message } from '@rocketmq-ts/common';

/** Picks the queue for a message, e.g. by an order id so that one order's messages stay in order. */
export type MessageQueueSelector<A = unknown> = (mqs: readonly MessageQueue[], msg: Message, arg: A) => MessageQueue;

/** Same argument → same queue: |hashCode(String(arg))| mod n (as RocketMQ's SelectMessageQueueByHash). */
export const selectMessageQueueByHash: MessageQueueSelector = (mqs, _msg, arg) => {
  let h = javaStringHashCode(String(arg));
  if (h < 0) h = Math.abs(h);
  return mqs[h % mqs.length]!;
};

export const selectMessageQueueByRandom: MessageQueueSelector = (mqs) => mqs[Math.floor(Math.random() * mqs.length)]!;
