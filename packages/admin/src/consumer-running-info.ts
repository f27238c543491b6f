import { jsonEntries, parseLenientJson, type JsonValue } from '@rocketmq-ts/protocol';

/** One subscription as a consumer client holds it (its SubscriptionData). */
export interface ClientSubscription {
  topic: string;
  subString: string;
  expressionType: string;
  tags: string[];
  subVersion: number;
}

/** A queue a client consumes and the state of its local queue (ProcessQueueInfo). */
export interface ClientQueueInfo {
  topic: string;
  brokerName: string;
  queueId: number;
  info: Record<string, JsonValue>;
}

/** GET_CONSUMER_RUNNING_INFO's answer: what one consumer client reports of itself (ConsumerRunningInfo). */
export interface ConsumerRunningInfo {
  properties: Record<string, string>;
  subscriptions: ClientSubscription[];
  queues: ClientQueueInfo[];
  /** Per topic: consume rates and counts (ConsumeStatus), as the client sent them. */
  statusTable: Record<string, Record<string, JsonValue>>;
  jstack: string;
}

/** The consumer's answer to CONSUME_MESSAGE_DIRECTLY (ConsumeMessageDirectlyResult). */
export interface ConsumeDirectlyResult {
  order: boolean;
  autoCommit: boolean;
  consumeResult: string;
  remark: string;
  spentTimeMills: number;
}

const rec = (v: JsonValue | undefined): Record<string, JsonValue> => Object.fromEntries(jsonEntries(v ?? null)) as Record<string, JsonValue>;
const str = (v: JsonValue | undefined, d = ''): string => (v === undefined || v === null ? d : typeof v === 'object' ? JSON.stringify(v) : String(v));

export function decodeConsumerRunningInfo(body: Buffer | null): ConsumerRunningInfo {
  const o = rec(body ? parseLenientJson(body.toString('utf8')) : null);
  const properties: Record<string, string> = {};
  for (const [k, v] of jsonEntries(o['properties'] ?? null)) properties[String(k)] = str(v);
  const set = o['subscriptionSet'];
  const subscriptions: ClientSubscription[] = (Array.isArray(set) ? set : []).map((x) => {
    const s = rec(x);
    const tags = s['tagsSet'];
    return {
      topic: str(s['topic']),
      subString: str(s['subString'], '*'),
      expressionType: str(s['expressionType'], 'TAG'),
      tags: Array.isArray(tags) ? tags.map((t) => str(t)) : [],
      subVersion: Number(s['subVersion'] ?? 0) || 0,
    };
  });
  subscriptions.sort((a, b) => a.topic.localeCompare(b.topic));
  const queues: ClientQueueInfo[] = [];
  for (const [k, v] of jsonEntries(o['mqTable'] ?? null)) {
    const mq = rec(typeof k === 'string' ? parseLenientJson(k) : (k as JsonValue));
    queues.push({ topic: str(mq['topic']), brokerName: str(mq['brokerName']), queueId: Number(mq['queueId'] ?? 0), info: rec(v) });
  }
  const statusTable: ConsumerRunningInfo['statusTable'] = {};
  for (const [k, v] of jsonEntries(o['statusTable'] ?? null)) statusTable[String(k)] = rec(v);
  return { properties, subscriptions, queues, statusTable, jstack: str(o['jstack']) };
}

export function decodeConsumeDirectlyResult(body: Buffer | null): ConsumeDirectlyResult {
  const o = rec(body ? parseLenientJson(body.toString('utf8')) : null);
  return {
    order: o['order'] === true,
    autoCommit: o['autoCommit'] !== false,
    consumeResult: str(o['consumeResult']),
    remark: str(o['remark']),
    spentTimeMills: Number(o['spentTimeMills'] ?? 0) || 0,
  };
}
