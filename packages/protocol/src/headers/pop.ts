import { defineHeader } from './codec.js';

// POP consumption (RocketMQ 5; remoting.md §3.13, pop-timer-tx-ha.md §A.2).

export const PopMessageRequestHeader = defineHeader('PopMessageRequestHeader', {
  consumerGroup: { t: 'string', req: true },
  topic: { t: 'string', req: true },
  /** -1: any queue of the topic. */
  queueId: { t: 'int', req: true },
  maxMsgNums: { t: 'int', req: true },
  invisibleTime: { t: 'long', req: true },
  pollTime: { t: 'long', req: true },
  bornTime: { t: 'long', req: true },
  /** 0: from the queue's min offset, 1: from its end. */
  initMode: { t: 'int', req: true },
  expType: { t: 'string' },
  exp: { t: 'string' },
  order: { t: 'bool' },
  attemptId: { t: 'string' },
  bname: { t: 'string' },
});
export const PopMessageResponseHeader = defineHeader('PopMessageResponseHeader', {
  popTime: { t: 'long', req: true },
  invisibleTime: { t: 'long', req: true },
  reviveQid: { t: 'int', req: true },
  restNum: { t: 'long', req: true },
  startOffsetInfo: { t: 'string' },
  msgOffsetInfo: { t: 'string' },
  orderCountInfo: { t: 'string' },
});
export const AckMessageRequestHeader = defineHeader('AckMessageRequestHeader', {
  consumerGroup: { t: 'string', req: true },
  topic: { t: 'string', req: true },
  queueId: { t: 'int', req: true },
  extraInfo: { t: 'string', req: true },
  offset: { t: 'long', req: true },
  bname: { t: 'string' },
});
export const ChangeInvisibleTimeRequestHeader = defineHeader('ChangeInvisibleTimeRequestHeader', {
  consumerGroup: { t: 'string', req: true },
  topic: { t: 'string', req: true },
  queueId: { t: 'int', req: true },
  extraInfo: { t: 'string', req: true },
  offset: { t: 'long', req: true },
  invisibleTime: { t: 'long', req: true },
  bname: { t: 'string' },
});
export const ChangeInvisibleTimeResponseHeader = defineHeader('ChangeInvisibleTimeResponseHeader', {
  popTime: { t: 'long', req: true },
  invisibleTime: { t: 'long', req: true },
  reviveQid: { t: 'int', req: true },
});
