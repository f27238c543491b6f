// The JSON the /api endpoints answer with, shared by the server (src) and the pages (src/web):
// types only, so the browser build and the Node build both compile it.

export interface BrokerView {
  brokerName: string;
  brokerId: number;
  addr: string;
  role: string;
  version: string;
  putTps: number;
  getTps: number;
  msgPutTotalToday: number;
  msgGetTotalToday: number;
  /** 0..1 of the store's disk, null when the broker does not say. */
  diskUsedRatio: number | null;
  commitLogMaxOffset: number;
  /** Slaves: bytes behind their master. */
  replicationLagBytes: number | null;
  haConnected: boolean | null;
  bootTimestamp: number;
  /** Set when the broker did not answer. */
  error: string | null;
}

export interface ClusterView {
  namesrvAddr: string;
  clusters: Array<{ name: string; brokerGroups: Array<{ brokerName: string; brokers: BrokerView[] }> }>;
}

export interface TopicSummaryView {
  topic: string;
  kind: 'normal' | 'retry' | 'dlq' | 'system';
}

export interface TopicDetailView {
  topic: string;
  kind: TopicSummaryView['kind'];
  route: {
    brokers: Array<{ cluster: string; brokerName: string; addrs: Record<string, string> }>;
    queues: Array<{ brokerName: string; readQueueNums: number; writeQueueNums: number; perm: number }>;
  };
  queues: Array<{ brokerName: string; queueId: number; minOffset: number; maxOffset: number; lastStoreTime: number }>;
  totalMessages: number;
}

export interface SendResultView {
  sendStatus: string;
  msgId: string;
  offsetMsgId: string;
  brokerName: string;
  queueId: number;
  queueOffset: number;
}

export interface GroupSummaryView {
  group: string;
  online: boolean;
  clients: number;
  messageModel: string;
  consumeType: string;
  topics: string[];
  lag: number;
  consumeTps: number;
}

export interface QueueLagView {
  topic: string;
  brokerName: string;
  queueId: number;
  brokerOffset: number;
  consumerOffset: number;
  lag: number;
  /** How long the oldest unconsumed message has waited (ms); 0 when nothing is behind. */
  lagMillis: number;
  lastConsumedStoreTime: number;
}

export interface ConnectionView {
  clientId: string;
  clientAddr: string;
  language: string;
  version: number;
  versionDesc: string;
}

export interface GroupDetailView {
  group: string;
  online: boolean;
  messageModel: string;
  consumeType: string;
  consumeFromWhere: string;
  consumeTps: number;
  lag: number;
  maxLagMillis: number;
  queues: QueueLagView[];
  connections: ConnectionView[];
  subscriptions: Array<{ topic: string; subString: string; expressionType: string }>;
  subscriptionsByBroker: Array<{ brokerName: string; subscriptions: Array<{ topic: string; subString: string; expressionType: string }> }>;
  subscriptionConsistent: boolean;
  clientVersionsDiffer: boolean;
}

export interface MessageView {
  msgId: string;
  offsetMsgId: string;
  topic: string;
  brokerName: string;
  queueId: number;
  queueOffset: number;
  commitLogOffset: number;
  tags: string;
  keys: string[];
  bornTimestamp: number;
  storeTimestamp: number;
  bornHost: string;
  storeHost: string;
  reconsumeTimes: number;
  sysFlag: number;
  flag: number;
  storeSize: number;
  bodyCRC: number;
  properties: Record<string, string>;
  bodySize: number;
  bodyBase64: string;
  bodyTruncated: boolean;
}

/** One stored copy of a message (where-is page). */
export interface StoredCopyView {
  brokerName: string;
  brokerAddr: string;
  topic: string;
  realTopic?: string;
  queueId: number;
  queueOffset: number;
  commitLogOffset: number;
  offsetMsgId: string;
  storeTimestamp: number;
  bornTimestamp: number;
  reconsumeTimes: number;
}

/** GET /api/messages/:id/where: MQAdmin.whereIsMessage's answer. */
export interface WhereIsMessageView {
  msgId: string;
  idKind: 'offset' | 'unique';
  found: boolean;
  topic: string | undefined;
  uniqKey: string | undefined;
  keys: string[];
  tags: string | undefined;
  location: StoredCopyView | undefined;
  copies: StoredCopyView[];
  groups: Array<{ group: string; state: 'consumed' | 'not consumed yet' | 'group has no offset' | 'not in the topic yet'; consumerOffset: number }>;
  retries: Array<StoredCopyView & { group: string; kind: 'retry' | 'dlq' | 'retry scheduled' }>;
  transaction: { state: 'committed' | 'rolled back' | 'open' | 'unknown'; checkTimes?: number; detail: string } | undefined;
  timer: { deliverAtMs: number; delayLevel: number; state: 'pending' | 'due' | 'delivered'; detail: string } | undefined;
  notes: string[];
}

/** One line of a chart: a value per time of ChartView.t, null where there is no point. */
export interface ChartSeriesView {
  label: string;
  values: Array<number | null>;
  /** Drawn against a second scale on the right (e.g. a rate beside a count). */
  axis?: 'right';
}

/** GET /api/charts/...: series sampled by the console every intervalMs, historyMs kept. */
export interface ChartView {
  intervalMs: number;
  historyMs: number;
  /** Why there are no (new) points: ACL without a service identity, a failed sample. */
  note: string | null;
  /** ms since the epoch */
  t: number[];
  series: ChartSeriesView[];
}

/** GET /api/auth/session, and the answers of sign-in and sign-out. */
export interface AuthSessionView {
  /** The cluster checks ACL: pages need a signed-in session. */
  aclRequired: boolean;
  signedIn: boolean;
  accessKey: string | null;
}

/** GET /api/groups/:group/clients: each online client's own subscriptions (asked of the client). */
export interface GroupClientsView {
  group: string;
  clients: Array<{
    clientId: string;
    subscriptions: Array<{ topic: string; subString: string; expressionType: string }>;
    /** Set when the client did not answer (then it is left out of the comparison). */
    error: string | null;
  }>;
  /** Every client that answered subscribes to the same topics with the same expressions. */
  consistent: boolean;
}
