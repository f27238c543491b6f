import { defineHeader } from './codec.js';

// Pull, offsets, client management, send-back, queries (remoting.md §3.3–3.6, §3.9).

export const PullMessageRequestHeader = defineHeader('PullMessageRequestHeader', {
  consumerGroup: { t: 'string', req: true },
  topic: { t: 'string', req: true },
  queueId: { t: 'int', req: true },
  queueOffset: { t: 'long', req: true },
  maxMsgNums: { t: 'int', req: true },
  sysFlag: { t: 'int', req: true },
  commitOffset: { t: 'long', req: true },
  suspendTimeoutMillis: { t: 'long', req: true },
  subscription: { t: 'string' },
  subVersion: { t: 'long', req: true },
  expressionType: { t: 'string' },
  maxMsgBytes: { t: 'int' },
  requestSource: { t: 'int' },
  proxyFrowardClientId: { t: 'string' },
  bname: { t: 'string' },
});
export const PullMessageResponseHeader = defineHeader('PullMessageResponseHeader', {
  suggestWhichBrokerId: { t: 'long', req: true },
  nextBeginOffset: { t: 'long', req: true },
  minOffset: { t: 'long', req: true },
  maxOffset: { t: 'long', req: true },
  offsetDelta: { t: 'long' },
  topicSysFlag: { t: 'int' },
  groupSysFlag: { t: 'int' },
  forbiddenType: { t: 'int' },
});

/** PullSysFlag bits. */
export const PullSysFlag = {
  COMMIT_OFFSET: 0x1,
  SUSPEND: 0x2,
  SUBSCRIPTION: 0x4,
  CLASS_FILTER: 0x8,
  LITE_PULL: 0x10,
} as const;

export const QueryConsumerOffsetRequestHeader = defineHeader('QueryConsumerOffsetRequestHeader', {
  consumerGroup: { t: 'string', req: true },
  topic: { t: 'string', req: true },
  queueId: { t: 'int', req: true },
  setZeroIfNotFound: { t: 'bool' },
  bname: { t: 'string' },
});
export const QueryConsumerOffsetResponseHeader = defineHeader('QueryConsumerOffsetResponseHeader', {
  offset: { t: 'long', req: true },
});
export const UpdateConsumerOffsetRequestHeader = defineHeader('UpdateConsumerOffsetRequestHeader', {
  consumerGroup: { t: 'string', req: true },
  topic: { t: 'string', req: true },
  queueId: { t: 'int', req: true },
  commitOffset: { t: 'long', req: true },
  bname: { t: 'string' },
});
export const GetMaxOffsetRequestHeader = defineHeader('GetMaxOffsetRequestHeader', {
  topic: { t: 'string', req: true },
  queueId: { t: 'int', req: true },
  committed: { t: 'bool' },
  bname: { t: 'string' },
});
export const GetMinOffsetRequestHeader = defineHeader('GetMinOffsetRequestHeader', {
  topic: { t: 'string', req: true },
  queueId: { t: 'int', req: true },
  bname: { t: 'string' },
});
/** GET_MAX_OFFSET, GET_MIN_OFFSET, SEARCH_OFFSET_BY_TIMESTAMP replies. */
export const OffsetResponseHeader = defineHeader('OffsetResponseHeader', {
  offset: { t: 'long', req: true },
});
export const SearchOffsetRequestHeader = defineHeader('SearchOffsetRequestHeader', {
  topic: { t: 'string', req: true },
  queueId: { t: 'int', req: true },
  timestamp: { t: 'long', req: true },
  boundaryType: { t: 'string' },
  bname: { t: 'string' },
});
export const GetEarliestMsgStoretimeRequestHeader = defineHeader('GetEarliestMsgStoretimeRequestHeader', {
  topic: { t: 'string', req: true },
  queueId: { t: 'int', req: true },
  bname: { t: 'string' },
});
export const GetEarliestMsgStoretimeResponseHeader = defineHeader('GetEarliestMsgStoretimeResponseHeader', {
  timestamp: { t: 'long', req: true },
});
export const UnregisterClientRequestHeader = defineHeader('UnregisterClientRequestHeader', {
  clientID: { t: 'string', req: true },
  producerGroup: { t: 'string' },
  consumerGroup: { t: 'string' },
});
export const GetConsumerListByGroupRequestHeader = defineHeader('GetConsumerListByGroupRequestHeader', {
  consumerGroup: { t: 'string', req: true },
});
export const NotifyConsumerIdsChangedRequestHeader = defineHeader('NotifyConsumerIdsChangedRequestHeader', {
  consumerGroup: { t: 'string', req: true },
});
export const ConsumerSendMsgBackRequestHeader = defineHeader('ConsumerSendMsgBackRequestHeader', {
  offset: { t: 'long', req: true },
  group: { t: 'string', req: true },
  delayLevel: { t: 'int', req: true },
  originMsgId: { t: 'string' },
  originTopic: { t: 'string' },
  unitMode: { t: 'bool' },
  maxReconsumeTimes: { t: 'int' },
  bname: { t: 'string' },
});
export const QueryMessageRequestHeader = defineHeader('QueryMessageRequestHeader', {
  topic: { t: 'string', req: true },
  key: { t: 'string', req: true },
  maxNum: { t: 'int', req: true },
  beginTimestamp: { t: 'long', req: true },
  endTimestamp: { t: 'long', req: true },
});
export const QueryMessageResponseHeader = defineHeader('QueryMessageResponseHeader', {
  indexLastUpdateTimestamp: { t: 'long', req: true },
  indexLastUpdatePhyoffset: { t: 'long', req: true },
});
export const ViewMessageRequestHeader = defineHeader('ViewMessageRequestHeader', {
  topic: { t: 'string' },
  offset: { t: 'long', req: true },
});
