/**
 * Route domain types and constants shared by the name server, broker and clients
 * (remoting.md §3.10–3.11, §5.6, §7.1). Numbers and names are RocketMQ's.
 */

// The vocabulary lives in @rocketmq-ts/common; re-exported here for the wire code's users.
export {
  PermName,
  MixAll,
  TopicValidator,
  isReadable,
  isWriteable,
  isInherited,
  perm2String,
  validateTopicName,
  validateGroupName,
  isSystemTopic,
} from '@rocketmq-ts/common';
import { MixAll, PermName } from '@rocketmq-ts/common';

// ---------------------------------------------------------------------------------------------

/** A topic as a broker configures it (topics.json and REGISTER_BROKER). */
export interface TopicConfig {
  topicName: string;
  readQueueNums: number;
  writeQueueNums: number;
  perm: number;
  topicFilterType: 'SINGLE_TAG' | 'MULTI_TAG' | string;
  topicSysFlag: number;
  order: boolean;
  attributes: Record<string, string>;
}

/** RocketMQ's TopicConfig defaults (16 queues, RW). */
export function topicConfig(topicName: string, init: Partial<TopicConfig> = {}): TopicConfig {
  return {
    topicName,
    readQueueNums: 16,
    writeQueueNums: 16,
    perm: PermName.PERM_READ | PermName.PERM_WRITE,
    topicFilterType: 'SINGLE_TAG',
    topicSysFlag: 0,
    order: false,
    attributes: {},
    ...init,
  };
}

/**
 * Version of a broker's topic table. Two versions are equal when all three numbers are; brokers
 * bump `counter` on every change, `stateVersion` on role changes (5.x; absent in 4.9).
 */
export interface DataVersion {
  stateVersion: number;
  timestamp: number;
  counter: number;
}

export function newDataVersion(): DataVersion {
  return { stateVersion: 0, timestamp: Date.now(), counter: 0 };
}

export function dataVersionEquals(a: DataVersion | null | undefined, b: DataVersion | null | undefined): boolean {
  if (!a || !b) return a === b;
  return a.stateVersion === b.stateVersion && a.timestamp === b.timestamp && a.counter === b.counter;
}

/** One broker group's share of a topic. */
export interface QueueData {
  brokerName: string;
  readQueueNums: number;
  writeQueueNums: number;
  perm: number;
  topicSysFlag: number;
}

/** A broker group: id 0 is the master, >0 slaves. */
export interface BrokerData {
  cluster: string;
  brokerName: string;
  brokerAddrs: Map<number, string>;
  enableActingMaster: boolean;
  zoneName?: string | undefined;
}

export interface TopicRouteData {
  orderTopicConf?: string | undefined;
  queueDatas: QueueData[];
  brokerDatas: BrokerData[];
  filterServerTable: Map<string, string[]>;
}

export interface ClusterInfo {
  brokerAddrTable: Map<string, BrokerData>;
  clusterAddrTable: Map<string, string[]>;
}

export interface TopicList {
  topicList: string[];
  brokerAddr?: string | null | undefined;
}

/** Broker id of the master in a BrokerData, or the address of the lowest id when `anyIfNoMaster`. */
export function selectBrokerAddr(bd: BrokerData, anyIfNoMaster = false): string | undefined {
  const master = bd.brokerAddrs.get(MixAll.MASTER_ID);
  if (master !== undefined || !anyIfNoMaster) return master;
  let best: number | undefined;
  for (const id of bd.brokerAddrs.keys()) if (best === undefined || id < best) best = id;
  return best === undefined ? undefined : bd.brokerAddrs.get(best);
}
