import { MixAll, PermName, type BrokerData, type TopicRouteData } from '@rocketmq-ts/protocol';

/** One queue of a topic on one broker group. */
export interface MessageQueue {
  topic: string;
  brokerName: string;
  queueId: number;
}

export function mqKey(mq: MessageQueue): string {
  return `${mq.topic}@${mq.brokerName}@${mq.queueId}`;
}

export function mqString(mq: MessageQueue): string {
  return `MessageQueue [topic=${mq.topic}, brokerName=${mq.brokerName}, queueId=${mq.queueId}]`;
}

export function sameQueue(a: MessageQueue, b: MessageQueue): boolean {
  return a.queueId === b.queueId && a.brokerName === b.brokerName && a.topic === b.topic;
}

/** The queues a producer may write to, from a route (remoting.md §3.11). */
export interface TopicPublishInfo {
  orderTopic: boolean;
  messageQueues: MessageQueue[];
  route: TopicRouteData;
}

const hasMaster = (bd: BrokerData | undefined): boolean => bd !== undefined && bd.brokerAddrs.has(MixAll.MASTER_ID);

/**
 * Writable queues: `orderTopicConf` ("brokerA:4;brokerB:4") when present, otherwise
 * writeQueueNums queues of every writable queueData whose broker group has a master.
 */
export function topicRouteToPublishInfo(topic: string, route: TopicRouteData): TopicPublishInfo {
  const queues: MessageQueue[] = [];
  if (route.orderTopicConf) {
    for (const part of route.orderTopicConf.split(';')) {
      const [brokerName, n] = part.split(':');
      if (!brokerName) continue;
      for (let i = 0; i < Number(n); i++) queues.push({ topic, brokerName, queueId: i });
    }
    return { orderTopic: true, messageQueues: queues, route };
  }
  const byName = new Map(route.brokerDatas.map((b) => [b.brokerName, b]));
  const qds = [...route.queueDatas].sort((a, b) => (a.brokerName < b.brokerName ? -1 : a.brokerName > b.brokerName ? 1 : 0));
  for (const qd of qds) {
    if ((qd.perm & PermName.PERM_WRITE) === 0 || !hasMaster(byName.get(qd.brokerName))) continue;
    for (let i = 0; i < qd.writeQueueNums; i++) queues.push({ topic, brokerName: qd.brokerName, queueId: i });
  }
  return { orderTopic: false, messageQueues: queues, route };
}

/** Readable queues of a route: readQueueNums per readable queueData. */
export function topicRouteToSubscribeInfo(topic: string, route: TopicRouteData): MessageQueue[] {
  const out: MessageQueue[] = [];
  for (const qd of route.queueDatas) {
    if ((qd.perm & PermName.PERM_READ) === 0) continue;
    for (let i = 0; i < qd.readQueueNums; i++) out.push({ topic, brokerName: qd.brokerName, queueId: i });
  }
  return out;
}

export function retryTopic(group: string): string {
  return MixAll.RETRY_GROUP_TOPIC_PREFIX + group;
}

export function dlqTopic(group: string): string {
  return MixAll.DLQ_GROUP_TOPIC_PREFIX + group;
}

/** Route equality good enough to decide whether to re-derive queue lists. */
export function routeFingerprint(r: TopicRouteData): string {
  const qd = [...r.queueDatas]
    .sort((a, b) => a.brokerName.localeCompare(b.brokerName))
    .map((q) => `${q.brokerName}:${q.readQueueNums}:${q.writeQueueNums}:${q.perm}`);
  const bd = [...r.brokerDatas]
    .sort((a, b) => a.brokerName.localeCompare(b.brokerName))
    .map(
      (b) =>
        `${b.brokerName}=${[...b.brokerAddrs.entries()]
          .sort((x, y) => x[0] - y[0])
          .map(([k, v]) => `${k}/${v}`)
          .join(',')}`,
    );
  return `${r.orderTopicConf ?? ''}|${qd.join(';')}|${bd.join(';')}`;
}
