import type { ExtFields } from '../remoting-command.js';
import { defineHeader, headerField } from './codec.js';

// Send path headers (remoting.md §3.1–3.2, §3.7).

export const SendMessageRequestHeader = defineHeader('SendMessageRequestHeader', {
  producerGroup: { t: 'string', req: true },
  topic: { t: 'string', req: true },
  defaultTopic: { t: 'string', req: true },
  defaultTopicQueueNums: { t: 'int', req: true },
  queueId: { t: 'int', req: true },
  sysFlag: { t: 'int', req: true },
  bornTimestamp: { t: 'long', req: true },
  flag: { t: 'int', req: true },
  properties: { t: 'string' },
  reconsumeTimes: { t: 'int' },
  unitMode: { t: 'bool' },
  batch: { t: 'bool' },
  maxReconsumeTimes: { t: 'int' },
  bname: { t: 'string' },
});
export type SendMessageRequest = ReturnType<typeof SendMessageRequestHeader.decode>;

/** SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE: the same fields under one-letter names. */
export const SendMessageRequestHeaderV2 = defineHeader('SendMessageRequestHeaderV2', {
  a: { t: 'string', req: true },
  b: { t: 'string', req: true },
  c: { t: 'string', req: true },
  d: { t: 'int', req: true },
  e: { t: 'int', req: true },
  f: { t: 'int', req: true },
  g: { t: 'long', req: true },
  h: { t: 'int', req: true },
  i: { t: 'string' },
  j: { t: 'int' },
  k: { t: 'bool' },
  l: { t: 'int' },
  m: { t: 'bool' },
  n: { t: 'string' },
});

/** V2 → V1 field names. */
export function sendHeaderFromV2(v2: ReturnType<typeof SendMessageRequestHeaderV2.decode>): SendMessageRequest {
  const h: SendMessageRequest = {
    producerGroup: v2.a,
    topic: v2.b,
    defaultTopic: v2.c,
    defaultTopicQueueNums: v2.d,
    queueId: v2.e,
    sysFlag: v2.f,
    bornTimestamp: v2.g,
    flag: v2.h,
  };
  if (v2.i !== undefined) h.properties = v2.i;
  if (v2.j !== undefined) h.reconsumeTimes = v2.j;
  if (v2.k !== undefined) h.unitMode = v2.k;
  if (v2.l !== undefined) h.maxReconsumeTimes = v2.l;
  if (v2.m !== undefined) h.batch = v2.m;
  if (v2.n !== undefined) h.bname = v2.n;
  return h;
}

const V2 = 'SendMessageRequestHeaderV2';
const NO_FIELDS: ExtFields = {};

/**
 * `sendHeaderFromV2(SendMessageRequestHeaderV2.decode(ext))` in one step, written out for the
 * send hot path: same fields, checks (in the same order) and errors, no intermediate object.
 */
export function decodeSendHeaderV2(ext: ExtFields | null | undefined): SendMessageRequest {
  const x = ext ?? NO_FIELDS;
  const h: SendMessageRequest = {
    producerGroup: headerField(x.a, 'a', V2, 'string', true) as string,
    topic: headerField(x.b, 'b', V2, 'string', true) as string,
    defaultTopic: headerField(x.c, 'c', V2, 'string', true) as string,
    defaultTopicQueueNums: headerField(x.d, 'd', V2, 'int', true) as number,
    queueId: headerField(x.e, 'e', V2, 'int', true) as number,
    sysFlag: headerField(x.f, 'f', V2, 'int', true) as number,
    bornTimestamp: headerField(x.g, 'g', V2, 'long', true) as number,
    flag: headerField(x.h, 'h', V2, 'int', true) as number,
  };
  const properties = headerField(x.i, 'i', V2, 'string', false) as string | undefined;
  const reconsumeTimes = headerField(x.j, 'j', V2, 'int', false) as number | undefined;
  const unitMode = headerField(x.k, 'k', V2, 'bool', false) as boolean | undefined;
  const maxReconsumeTimes = headerField(x.l, 'l', V2, 'int', false) as number | undefined;
  const batch = headerField(x.m, 'm', V2, 'bool', false) as boolean | undefined;
  const bname = headerField(x.n, 'n', V2, 'string', false) as string | undefined;
  if (properties !== undefined) h.properties = properties;
  if (reconsumeTimes !== undefined) h.reconsumeTimes = reconsumeTimes;
  if (unitMode !== undefined) h.unitMode = unitMode;
  if (maxReconsumeTimes !== undefined) h.maxReconsumeTimes = maxReconsumeTimes;
  if (batch !== undefined) h.batch = batch;
  if (bname !== undefined) h.bname = bname;
  return h;
}

/** V1 → V2 field names (what a client sends by default). */
export function sendHeaderToV2(h: SendMessageRequest): ReturnType<typeof SendMessageRequestHeaderV2.decode> {
  const v2: ReturnType<typeof SendMessageRequestHeaderV2.decode> = {
    a: h.producerGroup,
    b: h.topic,
    c: h.defaultTopic,
    d: h.defaultTopicQueueNums,
    e: h.queueId,
    f: h.sysFlag,
    g: h.bornTimestamp,
    h: h.flag,
  };
  if (h.properties !== undefined) v2.i = h.properties;
  if (h.reconsumeTimes !== undefined) v2.j = h.reconsumeTimes;
  if (h.unitMode !== undefined) v2.k = h.unitMode;
  if (h.maxReconsumeTimes !== undefined) v2.l = h.maxReconsumeTimes;
  if (h.batch !== undefined) v2.m = h.batch;
  if (h.bname !== undefined) v2.n = h.bname;
  return v2;
}

export const SendMessageResponseHeader = defineHeader('SendMessageResponseHeader', {
  msgId: { t: 'string', req: true },
  queueId: { t: 'int', req: true },
  queueOffset: { t: 'long', req: true },
  transactionId: { t: 'string' },
  batchUniqId: { t: 'string' },
  recallHandle: { t: 'string' },
});

export const EndTransactionRequestHeader = defineHeader('EndTransactionRequestHeader', {
  topic: { t: 'string' },
  producerGroup: { t: 'string', req: true },
  tranStateTableOffset: { t: 'long', req: true },
  commitLogOffset: { t: 'long', req: true },
  commitOrRollback: { t: 'int', req: true },
  fromTransactionCheck: { t: 'bool' },
  msgId: { t: 'string', req: true },
  transactionId: { t: 'string' },
  /** Broker name (RpcRequestHeader): the first phase names the half's broker, a check answer echoes the check's. */
  bname: { t: 'string' },
});

export const CheckTransactionStateRequestHeader = defineHeader('CheckTransactionStateRequestHeader', {
  topic: { t: 'string' },
  tranStateTableOffset: { t: 'long', req: true },
  commitLogOffset: { t: 'long', req: true },
  msgId: { t: 'string' },
  transactionId: { t: 'string' },
  offsetMsgId: { t: 'string' },
  /** The checking broker's name (RpcRequestHeader); the producer echoes it in END_TRANSACTION. */
  bname: { t: 'string' },
});

/** RECALL_MESSAGE (370): cancel a timer message before it is due, by the handle its send returned. */
export const RecallMessageRequestHeader = defineHeader('RecallMessageRequestHeader', {
  producerGroup: { t: 'string' },
  topic: { t: 'string', req: true },
  recallHandle: { t: 'string', req: true },
  /** Broker name (RpcRequestHeader). */
  bname: { t: 'string' },
});

export const RecallMessageResponseHeader = defineHeader('RecallMessageResponseHeader', {
  msgId: { t: 'string', req: true },
});
export type RecallMessageRequest = ReturnType<typeof RecallMessageRequestHeader.decode>;
