// POP's wire strings and revive-topic records (pop-timer-tx-ha.md §A.3, §A.4, §A.6): the receipt
// handle ("extraInfo", property POP_CK), the checkpoint and ack records kept in the revive topic.
import { parseLenientJson, stringifyFastjson, type JsonValue } from '../json.js';

const RETRY_PREFIX = '%RETRY%';
/** reviveQid of FIFO pops (they keep no checkpoint). */
export const POP_ORDER_REVIVE_QUEUE = 999;
/** The group whose offsets on the revive queues are the revive progress. */
export const REVIVE_GROUP = 'CID_RMQ_SYS_REVIVE_GROUP';
export const POP_CK_TAG = 'ck';
export const POP_ACK_TAG = 'ack';
export const POP_BATCH_ACK_TAG = 'bAck';
/** Property carrying the receipt handle on popped retry messages. */
export const PROPERTY_POP_CK = 'POP_CK';
/** Property set on the first revive: when the message was first popped. */
export const PROPERTY_FIRST_POP_TIME = '1ST_POP_TIME';

export function reviveTopic(clusterName: string): string {
  return `rmq_sys_REVIVE_LOG_${clusterName}`;
}

/** The pop retry topic of a group and topic: `%RETRY%group_topic` (v1) or `%RETRY%group+topic` (v2). */
export function popRetryTopic(group: string, topic: string, v2 = false): string {
  return `${RETRY_PREFIX}${group}${v2 ? '+' : '_'}${topic}`;
}

/** "2" for a v2 pop retry topic, "1" for another retry topic, "0" for a normal one. */
export function topicFlag(topic: string): '0' | '1' | '2' {
  if (!topic.startsWith(RETRY_PREFIX)) return '0';
  return topic.includes('+') ? '2' : '1';
}

/** The receipt handle's fields (8 when the message offset is appended, as clients do). */
export interface ExtraInfo {
  ckQueueOffset: number;
  popTime: number;
  invisibleTime: number;
  reviveQid: number;
  flag: string;
  brokerName: string;
  queueId: number;
  /** The message's queue offset (field 8), when present. */
  offset: number | undefined;
}

export function buildExtraInfo(e: Omit<ExtraInfo, 'offset'> & { offset?: number }): string {
  const base = `${e.ckQueueOffset} ${e.popTime} ${e.invisibleTime} ${e.reviveQid} ${e.flag} ${e.brokerName} ${e.queueId}`;
  return e.offset === undefined ? base : `${base} ${e.offset}`;
}

/** Parses a receipt handle; undefined when it is not one (too few fields, bad numbers). */
export function parseExtraInfo(s: string): ExtraInfo | undefined {
  const f = s.trim().split(' ');
  if (f.length < 7) return undefined;
  const n = (i: number): number => {
    const v = f[i] ?? '';
    const x = Number(v);
    return v !== '' && Number.isInteger(x) ? x : NaN;
  };
  const e: ExtraInfo = {
    ckQueueOffset: n(0),
    popTime: n(1),
    invisibleTime: n(2),
    reviveQid: n(3),
    flag: f[4] ?? '',
    brokerName: f[5] ?? '',
    queueId: n(6),
    offset: f.length >= 8 ? n(7) : undefined,
  };
  if (![e.ckQueueOffset, e.popTime, e.invisibleTime, e.reviveQid, e.queueId].every(Number.isFinite)) return undefined;
  if (e.offset !== undefined && !Number.isFinite(e.offset)) return undefined;
  return e;
}

/** The topic an ack must name for a message popped from `topic` with this handle's flag. */
export function realTopicOf(flag: string, topic: string, group: string): string {
  if (topic.startsWith(RETRY_PREFIX)) return topic;
  if (flag === '1') return popRetryTopic(group, topic, false);
  if (flag === '2') return popRetryTopic(group, topic, true);
  return topic;
}

/** A pop's checkpoint: which messages one POP handed out from one queue, and which are acked. */
export interface PopCheckPoint {
  /** Queue offset the pop started from. */
  startOffset: number;
  popTime: number;
  invisibleTime: number;
  /** Acked messages, bit i ↔ the i-th message. */
  bitMap: number;
  num: number;
  queueId: number;
  /** The topic read (the pop retry topic for retried messages). */
  topic: string;
  cid: string;
  brokerName: string;
  /** Queue offset of message i minus startOffset. */
  queueOffsetDiff: number[];
  /** Queue offset of the checkpoint record in the revive queue (set when read back). */
  reviveOffset: number;
  rePutTimes?: string;
}

export function reviveTimeOf(ck: Pick<PopCheckPoint, 'popTime' | 'invisibleTime'>): number {
  return ck.popTime + ck.invisibleTime;
}

/** Index of `offset` among the checkpoint's messages, or -1. */
export function indexOfAck(ck: PopCheckPoint, offset: number): number {
  const diff = offset - ck.startOffset;
  if (ck.queueOffsetDiff.length === 0) return diff >= 0 && diff < ck.num ? diff : -1;
  return ck.queueOffsetDiff.indexOf(diff);
}

export function encodeCheckPoint(ck: PopCheckPoint): string {
  const o: Record<string, unknown> = {
    bm: ck.bitMap,
    bn: ck.brokerName,
    c: ck.cid,
    d: ck.queueOffsetDiff,
    it: ck.invisibleTime,
    n: ck.num,
    pt: ck.popTime,
    q: ck.queueId,
    ro: ck.reviveOffset,
    so: ck.startOffset,
    t: ck.topic,
  };
  if (ck.rePutTimes !== undefined) o['rp'] = ck.rePutTimes;
  return stringifyFastjson(o);
}

type Obj = Record<string, JsonValue>;

function asObject(text: string): Obj | undefined {
  try {
    // Our records and Java's fastjson output are plain JSON: the native parser first.
    let v: JsonValue;
    try {
      v = JSON.parse(text) as JsonValue;
    } catch {
      v = parseLenientJson(text);
    }
    return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Map) ? (v as Obj) : undefined;
  } catch {
    return undefined;
  }
}

function num(o: Obj, short: string, long: string): number {
  const v = o[short] ?? o[long];
  return typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : NaN;
}

function str(o: Obj, short: string, long: string): string {
  const v = o[short] ?? o[long];
  return typeof v === 'string' ? v : '';
}

/** Reads a checkpoint body (short or long key names); undefined when it is not one. */
export function decodeCheckPoint(text: string): PopCheckPoint | undefined {
  const o = asObject(text);
  if (o === undefined) return undefined;
  const d = o['d'] ?? o['queueOffsetDiff'];
  const ck: PopCheckPoint = {
    startOffset: num(o, 'so', 'startOffset'),
    popTime: num(o, 'pt', 'popTime'),
    invisibleTime: num(o, 'it', 'invisibleTime'),
    bitMap: num(o, 'bm', 'bitMap') || 0,
    num: num(o, 'n', 'num'),
    queueId: num(o, 'q', 'queueId'),
    topic: str(o, 't', 'topic'),
    cid: str(o, 'c', 'cid'),
    brokerName: str(o, 'bn', 'brokerName'),
    queueOffsetDiff: Array.isArray(d) ? d.map((x) => Number(x)) : [],
    reviveOffset: num(o, 'ro', 'reviveOffset') || 0,
  };
  const rp = o['rp'] ?? o['rePutTimes'];
  if (rp !== undefined && rp !== null) ck.rePutTimes = String(rp);
  if (![ck.startOffset, ck.popTime, ck.invisibleTime, ck.num, ck.queueId].every(Number.isFinite) || ck.topic === '') return undefined;
  return ck;
}

/** An ack record: one message (ackOffset) of the checkpoint (startOffset, popTime) is done. */
export interface AckMsg {
  ackOffset: number;
  startOffset: number;
  consumerGroup: string;
  topic: string;
  queueId: number;
  popTime: number;
  brokerName: string;
  /** Batch acks (tag bAck): every acked offset. */
  ackOffsetList?: number[];
}

export function encodeAckMsg(a: AckMsg): string {
  const o: Record<string, unknown> = {
    ao: a.ackOffset,
    bn: a.brokerName,
    c: a.consumerGroup,
    pt: a.popTime,
    q: a.queueId,
    so: a.startOffset,
    t: a.topic,
  };
  if (a.ackOffsetList !== undefined) o['aol'] = a.ackOffsetList;
  return stringifyFastjson(o);
}

export function decodeAckMsg(text: string): AckMsg | undefined {
  const o = asObject(text);
  if (o === undefined) return undefined;
  const a: AckMsg = {
    ackOffset: num(o, 'ao', 'ackOffset'),
    startOffset: num(o, 'so', 'startOffset'),
    consumerGroup: str(o, 'c', 'consumerGroup'),
    topic: str(o, 't', 'topic'),
    queueId: num(o, 'q', 'queueId'),
    popTime: num(o, 'pt', 'popTime'),
    brokerName: str(o, 'bn', 'brokerName'),
  };
  const l = o['aol'] ?? o['ackOffsetList'];
  if (Array.isArray(l)) a.ackOffsetList = l.map((x) => Number(x));
  if (![a.startOffset, a.queueId, a.popTime].every(Number.isFinite) || a.topic === '') return undefined;
  return a;
}

/** Key joining a checkpoint and its acks in the revive service. */
export function reviveKey(topic: string, group: string, queueId: number, startOffset: number, popTime: number, brokerName: string): string {
  return `${topic}${group}${queueId}${startOffset}${popTime}${brokerName}`;
}
