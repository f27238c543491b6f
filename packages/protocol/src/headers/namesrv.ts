import { defineHeader } from './codec.js';

// Name server request and response headers (remoting.md §3.10–3.11).

export const RegisterBrokerRequestHeader = defineHeader('RegisterBrokerRequestHeader', {
  brokerName: { t: 'string', req: true },
  brokerAddr: { t: 'string', req: true },
  clusterName: { t: 'string', req: true },
  haServerAddr: { t: 'string', req: true },
  brokerId: { t: 'long', req: true },
  heartbeatTimeoutMillis: { t: 'long' },
  enableActingMaster: { t: 'bool' },
  compressed: { t: 'bool' },
  bodyCrc32: { t: 'int' },
});
export const RegisterBrokerResponseHeader = defineHeader('RegisterBrokerResponseHeader', {
  haServerAddr: { t: 'string' },
  masterAddr: { t: 'string' },
});
export const UnregisterBrokerRequestHeader = defineHeader('UnRegisterBrokerRequestHeader', {
  brokerName: { t: 'string', req: true },
  brokerAddr: { t: 'string', req: true },
  clusterName: { t: 'string', req: true },
  brokerId: { t: 'long', req: true },
});
export const BrokerHeartbeatRequestHeader = defineHeader('BrokerHeartbeatRequestHeader', {
  clusterName: { t: 'string', req: true },
  brokerAddr: { t: 'string', req: true },
  brokerName: { t: 'string', req: true },
  brokerId: { t: 'long' },
  epoch: { t: 'int' },
  maxOffset: { t: 'long' },
  confirmOffset: { t: 'long' },
  heartbeatTimeoutMills: { t: 'long' },
  electionPriority: { t: 'int' },
});
export const QueryDataVersionRequestHeader = defineHeader('QueryDataVersionRequestHeader', {
  brokerName: { t: 'string', req: true },
  brokerAddr: { t: 'string', req: true },
  clusterName: { t: 'string', req: true },
  brokerId: { t: 'long', req: true },
});
export const QueryDataVersionResponseHeader = defineHeader('QueryDataVersionResponseHeader', {
  changed: { t: 'bool', req: true },
});
export const GetRouteInfoRequestHeader = defineHeader('GetRouteInfoRequestHeader', {
  topic: { t: 'string', req: true },
  acceptStandardJsonOnly: { t: 'bool' },
});
export const GetTopicsByClusterRequestHeader = defineHeader('GetTopicsByClusterRequestHeader', {
  cluster: { t: 'string', req: true },
});
export const RegisterTopicRequestHeader = defineHeader('RegisterTopicRequestHeader', {
  topic: { t: 'string', req: true },
});
export const DeleteTopicFromNamesrvRequestHeader = defineHeader('DeleteTopicFromNamesrvRequestHeader', {
  topic: { t: 'string', req: true },
  clusterName: { t: 'string' },
});
export const WipeWritePermOfBrokerRequestHeader = defineHeader('WipeWritePermOfBrokerRequestHeader', {
  brokerName: { t: 'string', req: true },
});
export const WipeWritePermOfBrokerResponseHeader = defineHeader('WipeWritePermOfBrokerResponseHeader', {
  wipeTopicCount: { t: 'int', req: true },
});
export const AddWritePermOfBrokerRequestHeader = defineHeader('AddWritePermOfBrokerRequestHeader', {
  brokerName: { t: 'string', req: true },
});
export const AddWritePermOfBrokerResponseHeader = defineHeader('AddWritePermOfBrokerResponseHeader', {
  addTopicCount: { t: 'int', req: true },
});
export const PutKVConfigRequestHeader = defineHeader('PutKVConfigRequestHeader', {
  namespace: { t: 'string', req: true },
  key: { t: 'string', req: true },
  value: { t: 'string', req: true },
});
export const GetKVConfigRequestHeader = defineHeader('GetKVConfigRequestHeader', {
  namespace: { t: 'string', req: true },
  key: { t: 'string', req: true },
});
export const GetKVConfigResponseHeader = defineHeader('GetKVConfigResponseHeader', {
  value: { t: 'string' },
});
export const DeleteKVConfigRequestHeader = defineHeader('DeleteKVConfigRequestHeader', {
  namespace: { t: 'string', req: true },
  key: { t: 'string', req: true },
});
export const GetKVListByNamespaceRequestHeader = defineHeader('GetKVListByNamespaceRequestHeader', {
  namespace: { t: 'string', req: true },
});
