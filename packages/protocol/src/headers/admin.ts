import { defineHeader } from './codec.js';

// Broker admin headers used by mqadmin and dashboards (remoting.md §3.12).

export const CreateTopicRequestHeader = defineHeader('CreateTopicRequestHeader', {
  topic: { t: 'string', req: true },
  defaultTopic: { t: 'string', req: true },
  readQueueNums: { t: 'int', req: true },
  writeQueueNums: { t: 'int', req: true },
  perm: { t: 'int', req: true },
  topicFilterType: { t: 'string', req: true },
  topicSysFlag: { t: 'int' },
  order: { t: 'bool', req: true },
  attributes: { t: 'string' },
  force: { t: 'bool' },
});
export const DeleteTopicRequestHeader = defineHeader('DeleteTopicRequestHeader', {
  topic: { t: 'string', req: true },
});
export const GetTopicConfigRequestHeader = defineHeader('GetTopicConfigRequestHeader', {
  topic: { t: 'string', req: true },
});
export const DeleteSubscriptionGroupRequestHeader = defineHeader('DeleteSubscriptionGroupRequestHeader', {
  groupName: { t: 'string', req: true },
  cleanOffset: { t: 'bool' },
});
export const GetTopicStatsInfoRequestHeader = defineHeader('GetTopicStatsInfoRequestHeader', {
  topic: { t: 'string', req: true },
});
export const GetConsumeStatsRequestHeader = defineHeader('GetConsumeStatsRequestHeader', {
  consumerGroup: { t: 'string', req: true },
  topic: { t: 'string' },
  topicList: { t: 'string' },
});
export const GetConsumerConnectionListRequestHeader = defineHeader('GetConsumerConnectionListRequestHeader', {
  consumerGroup: { t: 'string', req: true },
});
export const GetProducerConnectionListRequestHeader = defineHeader('GetProducerConnectionListRequestHeader', {
  producerGroup: { t: 'string', req: true },
});
export const QueryTopicConsumeByWhoRequestHeader = defineHeader('QueryTopicConsumeByWhoRequestHeader', {
  topic: { t: 'string', req: true },
});
export const ResetOffsetRequestHeader = defineHeader('ResetOffsetRequestHeader', {
  topic: { t: 'string', req: true },
  group: { t: 'string', req: true },
  timestamp: { t: 'long', req: true },
  isForce: { t: 'bool', req: true },
  queueId: { t: 'int' },
  offset: { t: 'long' },
});
export const GetBrokerConfigResponseHeader = defineHeader('GetBrokerConfigResponseHeader', {
  version: { t: 'string', req: true },
});
export const CloneGroupOffsetRequestHeader = defineHeader('CloneGroupOffsetRequestHeader', {
  srcGroup: { t: 'string', req: true },
  destGroup: { t: 'string', req: true },
  topic: { t: 'string' },
  offline: { t: 'bool', req: true },
});
export const QueryConsumeTimeSpanRequestHeader = defineHeader('QueryConsumeTimeSpanRequestHeader', {
  topic: { t: 'string', req: true },
  group: { t: 'string', req: true },
});
