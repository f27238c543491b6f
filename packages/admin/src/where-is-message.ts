// "Where is my message": one message id in, everything the cluster can tell about it out: where it
// is stored, which consumer groups have committed past it, its retry and dead-letter copies, and
// the state of a transaction or timer it belongs to. Standard requests only (VIEW_MESSAGE_BY_ID,
// QUERY_MESSAGE by unique key, QUERY_TOPIC_CONSUME_BY_WHO, QUERY_CONSUMER_OFFSET, and the half/op
// queue reads of half-messages.ts), so it works against Apache RocketMQ brokers too.
import { MessageConst, MessageSysFlag, MixAll, TopicValidator } from '@rocketmq-ts/common';
import { QueryTopicConsumeByWhoRequestHeader, RequestCode, ResponseCode, decodeOffsetMsgId, parseLenientJson } from '@rocketmq-ts/protocol';
import { MQClientError, type MQClientAPI, type ReceivedMessage } from '@rocketmq-ts/client';
import { readOpenHalfMessages } from './half-messages.js';

/** One stored copy of the message. */
export interface StoredCopy {
  brokerName: string;
  brokerAddr: string;
  /** The topic the copy is stored under (a system topic for a pending timer, a half or a scheduled retry). */
  topic: string;
  /** REAL_TOPIC of a copy parked in a system topic (where it goes next). */
  realTopic?: string;
  queueId: number;
  queueOffset: number;
  commitLogOffset: number;
  offsetMsgId: string;
  storeTimestamp: number;
  bornTimestamp: number;
  reconsumeTimes: number;
}

export type GroupConsumeState = 'consumed' | 'not consumed yet' | 'group has no offset' | 'not in the topic yet';

export interface GroupProgress {
  group: string;
  state: GroupConsumeState;
  /** The group's committed offset on the message's queue (-1: none). */
  consumerOffset: number;
}

export interface RetryCopy extends StoredCopy {
  group: string;
  kind: 'retry' | 'dlq' | 'retry scheduled';
}

export interface TransactionInfo {
  state: 'committed' | 'rolled back' | 'open' | 'unknown';
  /** Times the broker asked the producer about it (open transactions). */
  checkTimes?: number;
  detail: string;
}

export interface TimerInfo {
  /** When the message is (or was) due; -1 when the properties do not say. */
  deliverAtMs: number;
  /** Delay level of a 4.x delayed message (DELAY), 0 when a timer property set it. */
  delayLevel: number;
  state: 'pending' | 'due' | 'delivered';
  detail: string;
}

export interface WhereIsMessageResult {
  /** The id asked for. */
  msgId: string;
  /** How the id was read: an offset msgId (store host + commit-log offset) or a client id (UNIQ_KEY). */
  idKind: 'offset' | 'unique';
  found: boolean;
  /** The message's topic (its real topic for copies parked in system topics). */
  topic: string | undefined;
  uniqKey: string | undefined;
  keys: string[];
  tags: string | undefined;
  /** The copy consumers read: in the topic itself, else the parked copy (timer, half, schedule). */
  location: StoredCopy | undefined;
  /** Every copy found under the topic or parked for it in a system topic. */
  copies: StoredCopy[];
  groups: GroupProgress[];
  retries: RetryCopy[];
  transaction: TransactionInfo | undefined;
  timer: TimerInfo | undefined;
  /** Things that could not be read, in words. */
  notes: string[];
}

/** System topics a message waits in before it reaches its real topic. */
const PARKING_TOPICS: readonly string[] = [
  TopicValidator.RMQ_SYS_WHEEL_TIMER_TOPIC,
  TopicValidator.RMQ_SYS_SCHEDULE_TOPIC,
  TopicValidator.RMQ_SYS_TRANS_HALF_TOPIC,
];
const HALF_TOPIC = TopicValidator.RMQ_SYS_TRANS_HALF_TOPIC;

interface Master {
  brokerName: string;
  addr: string;
}

/** What whereIsMessage needs from MQAdmin (kept narrow so this file does not import admin.ts). */
export interface WhereIsDeps {
  api: MQClientAPI;
  topicMasters(topic: string): Promise<Master[]>;
  brokerNameOf(addr: string): Promise<string>;
  now?: () => number;
}

const num = (v: string | undefined): number | undefined => {
  if (v === undefined || v.trim() === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
};

function copyOf(m: ReceivedMessage, brokerAddr: string): StoredCopy {
  const c: StoredCopy = {
    brokerName: m.brokerName,
    brokerAddr,
    topic: m.topic,
    queueId: m.queueId,
    queueOffset: m.queueOffset,
    commitLogOffset: m.commitLogOffset,
    offsetMsgId: m.offsetMsgId,
    storeTimestamp: m.storeTimestamp,
    bornTimestamp: m.bornTimestamp,
    reconsumeTimes: m.reconsumeTimes,
  };
  const real = m.properties.get(MessageConst.PROPERTY_REAL_TOPIC);
  if (real !== undefined && PARKING_TOPICS.includes(m.topic)) c.realTopic = real;
  return c;
}

/** The topic a stored message belongs to: REAL_TOPIC when parked, RETRY_TOPIC for a retry or DLQ copy. */
function realTopicOf(m: ReceivedMessage): string {
  if (PARKING_TOPICS.includes(m.topic)) {
    const real = m.properties.get(MessageConst.PROPERTY_REAL_TOPIC) ?? m.topic;
    if (!isGroupTopic(real)) return real;
  }
  if (isGroupTopic(m.topic) || (PARKING_TOPICS.includes(m.topic) && isGroupTopic(m.properties.get(MessageConst.PROPERTY_REAL_TOPIC) ?? ''))) {
    return m.properties.get(MessageConst.PROPERTY_RETRY_TOPIC) ?? m.properties.get(MessageConst.PROPERTY_DLQ_ORIGIN_TOPIC) ?? m.topic;
  }
  return m.topic;
}

const isGroupTopic = (t: string): boolean => t.startsWith(MixAll.RETRY_GROUP_TOPIC_PREFIX) || t.startsWith(MixAll.DLQ_GROUP_TOPIC_PREFIX);

/**
 * Finds a message by offset msgId or by UNIQ_KEY (`topic` required then) and reports where it is,
 * who consumed it, its retry/DLQ copies and its transaction or timer state.
 */
export async function whereIsMessage(deps: WhereIsDeps, topicArg: string | undefined, msgId: string): Promise<WhereIsMessageResult> {
  const now = deps.now ?? Date.now;
  const notes: string[] = [];
  const off = decodeOffsetMsgId(msgId);
  const res: WhereIsMessageResult = {
    msgId,
    idKind: off && topicArg === undefined ? 'offset' : 'unique',
    found: false,
    topic: topicArg,
    uniqKey: undefined,
    keys: [],
    tags: undefined,
    location: undefined,
    copies: [],
    groups: [],
    retries: [],
    transaction: undefined,
    timer: undefined,
    notes,
  };

  // 1. The message itself: with a topic, first as a client id (UNIQ_KEY) in the topic; then, when
  // the id decodes as one, as an offset msgId (the two forms cannot be told apart by their text).
  const all: Array<{ m: ReceivedMessage; addr: string }> = [];
  const parkedRetries: Array<{ m: ReceivedMessage; addr: string }> = [];
  let masters: Master[] = [];
  const routeOf = async (t: string): Promise<void> => {
    try {
      masters = await deps.topicMasters(t);
    } catch (e) {
      notes.push(`no route for ${t}: ${(e as Error).message}`);
    }
  };
  const seen = new Set<string>();
  const add = (m: ReceivedMessage, addr: string): void => {
    const k = `${addr}@${m.commitLogOffset}`;
    if (seen.has(k)) return;
    seen.add(k);
    all.push({ m, addr });
  };
  const byUniq = async (t: string, uniqKey: string): Promise<Array<{ m: ReceivedMessage; addr: string }>> => {
    const out: Array<{ m: ReceivedMessage; addr: string }> = [];
    for (const b of masters) {
      try {
        const found = await deps.api.queryMessage(b.addr, b.brokerName, {
          topic: t,
          key: uniqKey,
          maxNum: 32,
          begin: 0,
          end: Number.MAX_SAFE_INTEGER,
          unique: true,
        });
        for (const m of found) if (m.topic === t && m.msgId === uniqKey) out.push({ m, addr: b.addr });
      } catch (e) {
        notes.push(`query of ${t} at ${b.addr} failed: ${(e as Error).message}`);
      }
    }
    return out;
  };
  /** Copies under the topic and copies parked for it (timer, delay level, half) or for a retry of it. */
  const gather = async (t: string, uniqKey: string): Promise<void> => {
    for (const x of await byUniq(t, uniqKey)) add(x.m, x.addr);
    for (const pt of PARKING_TOPICS) {
      for (const x of await byUniq(pt, uniqKey)) {
        const real = x.m.properties.get(MessageConst.PROPERTY_REAL_TOPIC) ?? '';
        if (real === t) add(x.m, x.addr);
        else if (isGroupTopic(real) && realTopicOf(x.m) === t) parkedRetries.push(x);
      }
    }
  };

  if (topicArg !== undefined) {
    await routeOf(topicArg);
    await gather(topicArg, msgId);
  }
  if (all.length > 0) {
    res.idKind = 'unique';
    res.uniqKey = msgId;
  } else if (off) {
    const addr = `${off.address}:${off.port}`;
    let seed: ReceivedMessage | undefined;
    try {
      seed = await deps.api.viewMessage(addr, off.commitLogOffset, await deps.brokerNameOf(addr));
    } catch (e) {
      notes.push(`not found as an offset msgId (VIEW_MESSAGE_BY_ID at ${addr}: ${(e as Error).message})`);
    }
    if (!seed && topicArg === undefined) {
      throw new MQClientError(ResponseCode.QUERY_NOT_FOUND, `${msgId} is not a stored offset message id; give the topic to look it up as a unique key`, {
        retriable: false,
      });
    }
    if (seed) {
      res.idKind = 'offset';
      res.uniqKey = seed.properties.get(MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX);
      res.topic = topicArg ?? realTopicOf(seed);
      if (topicArg === undefined) await routeOf(res.topic);
      if (!masters.some((x) => x.addr === addr)) masters.push({ brokerName: seed.brokerName, addr });
      add(seed, addr);
      if (res.uniqKey !== undefined) await gather(res.topic, res.uniqKey);
    }
  } else if (topicArg === undefined) {
    throw new MQClientError(ResponseCode.QUERY_NOT_FOUND, `${msgId} is not an offset message id; give the topic to look it up as a unique key`, {
      retriable: false,
    });
  }
  const topic = res.topic;
  if (topic === undefined) {
    notes.push('message not found');
    return res;
  }
  const own = all.filter((x) => x.m.topic === topic || (PARKING_TOPICS.includes(x.m.topic) && x.m.properties.get(MessageConst.PROPERTY_REAL_TOPIC) === topic));
  own.sort((a, b) => a.m.storeTimestamp - b.m.storeTimestamp || a.m.commitLogOffset - b.m.commitLogOffset);
  res.copies = own.map((x) => copyOf(x.m, x.addr));
  const inTopic = own.filter((x) => x.m.topic === topic);
  const main = inTopic[0] ?? own[0];
  if (!main) {
    notes.push('message not found');
    return res;
  }
  res.found = true;
  res.location = copyOf(main.m, main.addr);
  res.keys = main.m.keys;
  res.tags = main.m.tags;
  res.uniqKey ??= main.m.properties.get(MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX);
  const delivered = inTopic[0];

  // 3. Consumer groups of the topic and their committed offsets on the message's queue.
  const groups = new Set<string>();
  for (const b of masters) {
    try {
      const cmd = deps.api.request(RequestCode.QUERY_TOPIC_CONSUME_BY_WHO, QueryTopicConsumeByWhoRequestHeader.encode({ topic }));
      const r = await deps.api.call(b.addr, cmd);
      const o = r.body ? (parseLenientJson(r.body.toString('utf8')) as { groupList?: unknown }) : {};
      if (Array.isArray(o.groupList)) for (const g of o.groupList) if (typeof g === 'string') groups.add(g);
    } catch (e) {
      notes.push(`consumer groups of ${topic} at ${b.addr} unknown: ${(e as Error).message}`);
    }
  }
  for (const group of [...groups].sort()) {
    if (group === MixAll.TOOLS_CONSUMER_GROUP) continue;
    if (!delivered) {
      res.groups.push({ group, state: 'not in the topic yet', consumerOffset: -1 });
      continue;
    }
    const m = delivered.m;
    let consumerOffset = -1;
    try {
      consumerOffset = await deps.api.queryConsumerOffset(delivered.addr, group, { topic, brokerName: m.brokerName, queueId: m.queueId }, false);
    } catch (e) {
      notes.push(`offset of ${group} unknown: ${(e as Error).message}`);
    }
    const state: GroupConsumeState = consumerOffset < 0 ? 'group has no offset' : consumerOffset > m.queueOffset ? 'consumed' : 'not consumed yet';
    res.groups.push({ group, state, consumerOffset });
  }

  // 4. Retry and dead-letter copies of those groups (by UNIQ_KEY, which the broker keeps on them).
  const groupOf = (t: string): string =>
    t.startsWith(MixAll.RETRY_GROUP_TOPIC_PREFIX) ? t.slice(MixAll.RETRY_GROUP_TOPIC_PREFIX.length) : t.slice(MixAll.DLQ_GROUP_TOPIC_PREFIX.length);
  const retryGroups = new Set(groups);
  for (const x of parkedRetries) retryGroups.add(groupOf(x.m.properties.get(MessageConst.PROPERTY_REAL_TOPIC) ?? ''));
  for (const group of [...retryGroups].sort()) {
    for (const [prefix, kind] of [
      [MixAll.RETRY_GROUP_TOPIC_PREFIX, 'retry'],
      [MixAll.DLQ_GROUP_TOPIC_PREFIX, 'dlq'],
    ] as const) {
      for (const x of res.uniqKey === undefined ? [] : await byUniq(prefix + group, res.uniqKey)) res.retries.push({ ...copyOf(x.m, x.addr), group, kind });
    }
  }
  for (const x of parkedRetries) {
    res.retries.push({ ...copyOf(x.m, x.addr), group: groupOf(x.m.properties.get(MessageConst.PROPERTY_REAL_TOPIC) ?? ''), kind: 'retry scheduled' });
  }
  res.retries.sort((a, b) => a.reconsumeTimes - b.reconsumeTimes || a.storeTimestamp - b.storeTimestamp);

  // 5. Transaction.
  const half = own.find((x) => x.m.topic === HALF_TOPIC);
  const txType = (f: number): number => f & MessageSysFlag.TRANSACTION_TYPE_MASK;
  const isTx = half !== undefined || own.some((x) => x.m.properties.get(MessageConst.PROPERTY_TRANSACTION_PREPARED) === 'true' || txType(x.m.sysFlag) !== 0);
  if (isTx) {
    if (delivered && txType(delivered.m.sysFlag) !== MessageSysFlag.TRANSACTION_PREPARED_TYPE) {
      res.transaction = { state: 'committed', detail: `committed: stored in ${topic} at ${new Date(delivered.m.storeTimestamp).toISOString()}` };
    } else if (half) {
      try {
        const scan = await readOpenHalfMessages(deps.api, half.addr, half.m.brokerName, { topic });
        const txId = half.m.properties.get(MessageConst.PROPERTY_TRANSACTION_ID) ?? res.uniqKey;
        const open = scan.open.find((h) => h.transactionId === txId);
        res.transaction = open
          ? { state: 'open', checkTimes: open.checkTimes, detail: `half message waiting for commit or rollback (checked ${open.checkTimes} times)` }
          : {
              state: 'rolled back',
              detail: 'the half message is finished and no committed copy is in the topic: rolled back (or discarded after too many checks)',
            };
      } catch (e) {
        res.transaction = { state: 'unknown', detail: `half message, state unknown: ${(e as Error).message}` };
      }
    } else {
      res.transaction = { state: 'unknown', detail: 'transactional message, state unknown' };
    }
  }

  // 6. Timer or delay level.
  const timed = own.find((x) => PARKING_TOPICS.includes(x.m.topic) && x.m.topic !== HALF_TOPIC) ?? own.find((x) => hasTimer(x.m));
  if (timed && (hasTimer(timed.m) || timed.m.topic === TopicValidator.RMQ_SYS_SCHEDULE_TOPIC)) {
    const p = timed.m.properties;
    const deliverAtMs =
      num(p.get(MessageConst.PROPERTY_TIMER_OUT_MS)) ??
      num(p.get(MessageConst.PROPERTY_TIMER_DELIVER_MS)) ??
      (num(p.get(MessageConst.PROPERTY_TIMER_DELAY_MS)) !== undefined
        ? timed.m.bornTimestamp + num(p.get(MessageConst.PROPERTY_TIMER_DELAY_MS))!
        : undefined) ??
      (num(p.get(MessageConst.PROPERTY_TIMER_DELAY_SEC)) !== undefined
        ? timed.m.bornTimestamp + num(p.get(MessageConst.PROPERTY_TIMER_DELAY_SEC))! * 1000
        : undefined) ??
      -1;
    const delayLevel = num(p.get(MessageConst.PROPERTY_DELAY_TIME_LEVEL)) ?? 0;
    const when = deliverAtMs >= 0 ? new Date(deliverAtMs).toISOString() : 'an unknown time';
    if (delivered) {
      res.timer = { deliverAtMs, delayLevel, state: 'delivered', detail: `delivered to ${topic} at ${new Date(delivered.m.storeTimestamp).toISOString()}` };
    } else if (deliverAtMs >= 0 && deliverAtMs > now()) {
      res.timer = { deliverAtMs, delayLevel, state: 'pending', detail: `waiting in ${timed.m.topic} until ${when}` };
    } else {
      res.timer = { deliverAtMs, delayLevel, state: 'due', detail: `due at ${when}, still in ${timed.m.topic}` };
    }
  }
  return res;
}

function hasTimer(m: ReceivedMessage): boolean {
  const p = m.properties;
  return (
    p.has(MessageConst.PROPERTY_TIMER_DELIVER_MS) ||
    p.has(MessageConst.PROPERTY_TIMER_OUT_MS) ||
    p.has(MessageConst.PROPERTY_TIMER_DELAY_MS) ||
    p.has(MessageConst.PROPERTY_TIMER_DELAY_SEC)
  );
}
