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

// ---------------------------------------------------------------- dead letters and offset resets

/** One message of a group's dead-letter queue (`%DLQ%<group>`), with what the broker knows of its failure. */
export interface DeadLetterView {
  message: MessageView;
  /** DLQ_ORIGIN_TOPIC, else RETRY_TOPIC: the topic the group failed to consume it from. */
  originTopic: string;
  /** DLQ_ORIGIN_MESSAGE_ID, else UNIQ_KEY: the producer's message id. */
  originMsgId: string;
  /** ORIGIN_MESSAGE_ID: the offset id of the first stored copy that failed. */
  originOffsetMsgId: string;
  /**
   * The DLQ copy's reconsume times: the failed deliveries when a consumer sent it back or forwarded
   * it, one more than the deliveries when the proxy moved it at the POP delivery limit.
   */
  reconsumeTimes: number;
  /**
   * The consumer's exception text. Always null today: neither CONSUMER_SEND_MSG_BACK (remoting)
   * nor ForwardMessageToDeadLetterQueue / ChangeInvisibleDuration / AckMessage (gRPC v2) carry one.
   */
  exceptionText: string | null;
  /** What the broker can say instead, in words. */
  reason: string;
}

export interface DeadLetterPageView {
  group: string;
  topic: string;
  /** Messages in the DLQ (max - min offset over its queues). */
  total: number;
  /** The group's retryMaxTimes on the brokers (the first master that has the group), null if unknown. */
  retryMaxTimes: number | null;
  /** Newest first, at most `limit`. */
  messages: DeadLetterView[];
  truncated: boolean;
}

export interface ResendResultView {
  /** The dead letter's offset msgId, as sent. */
  id: string;
  ok: boolean;
  error: string | null;
  sendStatus: string | null;
  retryTopic: string;
  brokerName: string;
  queueId: number;
  queueOffset: number;
  /** Offset msgId of the copy in the retry topic. */
  newOffsetMsgId: string;
}

/** One exported dead letter: the whole body, base64. */
export interface DeadLetterExport {
  offsetMsgId: string;
  msgId: string;
  originTopic: string;
  originMsgId: string;
  reconsumeTimes: number;
  storeTimestamp: number;
  bornTimestamp: number;
  tags: string;
  keys: string[];
  properties: Record<string, string>;
  bodyBase64: string;
}

export type OffsetResetMode = 'time' | 'earliest' | 'latest' | 'offset';

/** What the reset form sends: one topic or all the group's topics (''), and the target. */
export interface OffsetResetRequest {
  topic: string;
  mode: OffsetResetMode;
  /** mode 'time': ms since the epoch. */
  timestamp?: number;
  /** mode 'offset': target per queue; queues not listed keep their offset. */
  offsets?: Array<{ topic: string; brokerName: string; queueId: number; offset: number }>;
}

export interface OffsetPlanQueueView {
  topic: string;
  brokerName: string;
  queueId: number;
  minOffset: number;
  maxOffset: number;
  /** The group's committed offset; -1 when the broker has none. */
  currentOffset: number;
  targetOffset: number;
  /** target - current: > 0 messages skipped, < 0 messages consumed again. */
  delta: number;
}

export interface OffsetPlanView {
  group: string;
  topics: string[];
  mode: OffsetResetMode;
  timestamp: number | null;
  queues: OffsetPlanQueueView[];
  /** Sum of the positive deltas. */
  skipped: number;
  /** Sum of the negative deltas, as a positive number. */
  replayed: number;
  /** Queues whose offset changes. */
  changed: number;
  notes: string[];
}

/** One applied reset as the console keeps it (and its file), with the offsets before it. */
export interface OffsetResetRecordView {
  id: string;
  group: string;
  /** The cluster's name servers as the console was configured: consoles sharing a dataPath keep apart. */
  namesrvAddr: string;
  appliedAt: number;
  plan: OffsetPlanView;
  /** The committed offsets right before the reset, per queue changed (-1: the group had none). */
  previous: Array<{ topic: string; brokerName: string; queueId: number; offset: number }>;
  undoneAt: number | null;
  /** After an undo: the offsets set again, per queue. */
  restored: Array<{ topic: string; brokerName: string; queueId: number; offset: number; note?: string }> | null;
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
