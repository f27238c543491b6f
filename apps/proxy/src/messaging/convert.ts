// gRPC v2 messages ↔ RocketMQ remoting messages (what RocketMQ's proxy does in its converter and
// send activity): validation with the v2 codes, properties, sysFlag, and the message a consumer
// receives with its digest and receipt handle.
import { createHash } from 'node:crypto';
import type { MessageView } from '@rocketmq-ts/client';
import { MessageConst, MessageSysFlag, validateTopicName } from '@rocketmq-ts/common';
import { crc32, encodeProperties, type SendMessageRequest } from '@rocketmq-ts/protocol';
import { Code, ProxyError } from '../grpc/status.js';
import type { ClientKind } from '../state/shared-state.js';
import { ClientType, Encoding, DigestType, MessageType, msTimestamp, timestampMs, type Message, type Resource } from '../grpc/types.js';

/** Property names the broker and clients reserve; a user property may not use them. */
export const SYSTEM_PROPERTY_NAMES: ReadonlySet<string> = new Set(
  Object.entries(MessageConst)
    .filter(([k]) => k.startsWith('PROPERTY_') && k !== 'PROPERTY_SEPARATOR' && k !== 'PROPERTY_TRANSIENT_PREFIX')
    .map(([, v]) => v),
);

/** `namespace%name` as RocketMQ wraps a namespaced resource; the plain name without one. */
export function resourceName(r: Resource | undefined): string {
  const name = r?.name ?? '';
  const ns = r?.resourceNamespace ?? '';
  return ns === '' ? name : `${ns}%${name}`;
}

/** The inverse of resourceName for a name we send back. */
export function toResource(wrapped: string): Resource {
  const i = wrapped.indexOf('%');
  if (i <= 0 || wrapped.startsWith('%RETRY%') || wrapped.startsWith('%DLQ%')) return { name: wrapped };
  return { resourceNamespace: wrapped.slice(0, i), name: wrapped.slice(i + 1) };
}

export function requireTopic(r: Resource | undefined): string {
  const topic = resourceName(r);
  const bad = topic === '' ? 'topic is empty' : validateTopicName(topic);
  if (bad !== null) throw new ProxyError(Code.ILLEGAL_TOPIC, bad);
  return topic;
}

export function requireGroup(r: Resource | undefined): string {
  const group = resourceName(r);
  if (group === '' || group.length > 120 || !/^[%|a-zA-Z0-9_-]+$/.test(group)) {
    throw new ProxyError(Code.ILLEGAL_CONSUMER_GROUP, `consumer group "${group}" is illegal`);
  }
  return group;
}

export interface SendLimits {
  maxMessageSize: number;
  maxUserPropertySize: number;
  maxDelayTimeMills: number;
}

/** One message ready for SEND_MESSAGE_V2. */
export interface PreparedSend {
  topic: string;
  messageId: string;
  type: number;
  /** FIFO: the message group the queue is chosen by. */
  messageGroup: string | undefined;
  header: SendMessageRequest;
  body: Buffer;
}

/** True when `s` holds a control character (RocketMQ refuses them in tags, keys and groups). */
function hasControlChar(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/**
 * Checks a v2 message and builds its remoting header (producer group = the topic, as RocketMQ's
 * proxy registers one producer per topic). The queue id is filled in by the caller.
 */
export function prepareSend(m: Message, limits: SendLimits, now: number, bornHost: string): PreparedSend {
  const topic = requireTopic(m.topic);
  const sp = m.systemProperties ?? {};
  const messageId = sp.messageId ?? '';
  if (messageId === '') throw new ProxyError(Code.ILLEGAL_MESSAGE_ID, 'message id is empty');
  const body = m.body ?? Buffer.alloc(0);
  if (body.length === 0) throw new ProxyError(Code.MESSAGE_BODY_EMPTY, 'message body is empty');
  if (body.length > limits.maxMessageSize) {
    throw new ProxyError(Code.MESSAGE_BODY_TOO_LARGE, `message body is ${body.length} bytes, over the limit of ${limits.maxMessageSize}`);
  }
  const digest = sp.bodyDigest;
  if (digest?.checksum !== undefined && digest.checksum !== '' && digest.type !== undefined && digest.type !== DigestType.UNSPECIFIED) {
    if (digestOf(body, digest.type).toUpperCase() !== digest.checksum.toUpperCase()) {
      throw new ProxyError(Code.MESSAGE_CORRUPTED, `body digest does not match (${digest.checksum})`);
    }
  }
  const props = new Map<string, string>();
  let userSize = 0;
  for (const [k, v] of Object.entries(m.userProperties ?? {})) {
    if (k === '' || SYSTEM_PROPERTY_NAMES.has(k) || hasControlChar(k)) {
      throw new ProxyError(Code.ILLEGAL_MESSAGE_PROPERTY_KEY, `property key "${k}" is reserved or illegal`);
    }
    userSize += Buffer.byteLength(k) + Buffer.byteLength(v);
    props.set(k, v);
  }
  if (userSize > limits.maxUserPropertySize) {
    throw new ProxyError(Code.MESSAGE_PROPERTIES_TOO_LARGE, `user properties are ${userSize} bytes, over the limit of ${limits.maxUserPropertySize}`);
  }
  props.set(MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX, messageId);
  if (sp.tag !== undefined) {
    if (sp.tag.trim() === '' || sp.tag.includes('|') || hasControlChar(sp.tag)) {
      throw new ProxyError(Code.ILLEGAL_MESSAGE_TAG, `tag "${sp.tag}" is illegal`);
    }
    props.set(MessageConst.PROPERTY_TAGS, sp.tag);
  }
  if (sp.keys !== undefined && sp.keys.length > 0) {
    for (const k of sp.keys) if (k.trim() === '' || hasControlChar(k)) throw new ProxyError(Code.ILLEGAL_MESSAGE_KEY, `key "${k}" is illegal`);
    props.set(MessageConst.PROPERTY_KEYS, sp.keys.join(MessageConst.KEY_SEPARATOR));
  }
  const type = sp.messageType ?? MessageType.NORMAL;
  const group = sp.messageGroup;
  const delivery = timestampMs(sp.deliveryTimestamp);
  let sysFlag = 0;
  switch (type) {
    case MessageType.NORMAL:
      if (group !== undefined || delivery !== undefined) {
        throw new ProxyError(Code.MESSAGE_PROPERTY_CONFLICT_WITH_TYPE, 'a NORMAL message may have neither a message group nor a delivery timestamp');
      }
      break;
    case MessageType.FIFO:
      if (group === undefined || group.trim() === '' || hasControlChar(group) || group.length > 64) {
        throw new ProxyError(Code.ILLEGAL_MESSAGE_GROUP, `message group "${group ?? ''}" is illegal`);
      }
      if (delivery !== undefined) throw new ProxyError(Code.MESSAGE_PROPERTY_CONFLICT_WITH_TYPE, 'a FIFO message may not have a delivery timestamp');
      props.set(MessageConst.PROPERTY_SHARDING_KEY, group);
      break;
    case MessageType.DELAY:
      if (delivery === undefined) throw new ProxyError(Code.ILLEGAL_DELIVERY_TIME, 'a DELAY message needs a delivery timestamp');
      if (group !== undefined) throw new ProxyError(Code.MESSAGE_PROPERTY_CONFLICT_WITH_TYPE, 'a DELAY message may not have a message group');
      if (delivery - now > limits.maxDelayTimeMills) {
        throw new ProxyError(Code.ILLEGAL_DELIVERY_TIME, `delivery time is more than ${limits.maxDelayTimeMills} ms ahead`);
      }
      props.set(MessageConst.PROPERTY_TIMER_DELIVER_MS, String(delivery));
      break;
    case MessageType.TRANSACTION:
      if (group !== undefined || delivery !== undefined) {
        throw new ProxyError(Code.MESSAGE_PROPERTY_CONFLICT_WITH_TYPE, 'a TRANSACTION message may have neither a message group nor a delivery timestamp');
      }
      props.set(MessageConst.PROPERTY_TRANSACTION_PREPARED, 'true');
      props.set(MessageConst.PROPERTY_PRODUCER_GROUP, topic);
      sysFlag |= MessageSysFlag.TRANSACTION_PREPARED_TYPE;
      if (sp.orphanedTransactionRecoveryDuration !== undefined) {
        const s = Math.floor((timestampMs(sp.orphanedTransactionRecoveryDuration) ?? 0) / 1000);
        if (s > 0) props.set(MessageConst.PROPERTY_CHECK_IMMUNITY_TIME_IN_SECONDS, String(s));
      }
      break;
    default:
      throw new ProxyError(Code.BAD_REQUEST, `message type ${type} is not supported`);
  }
  if (sp.traceContext !== undefined && sp.traceContext !== '') props.set('TRACE_CONTEXT', sp.traceContext);
  props.set(MessageConst.PROPERTY_BORN_HOST, sp.bornHost !== undefined && sp.bornHost !== '' ? sp.bornHost : bornHost);
  return {
    topic,
    messageId,
    type,
    messageGroup: type === MessageType.FIFO ? group : undefined,
    header: {
      producerGroup: topic,
      topic,
      defaultTopic: 'TBW102',
      defaultTopicQueueNums: 4,
      queueId: 0,
      sysFlag,
      bornTimestamp: timestampMs(sp.bornTimestamp) ?? now,
      flag: 0,
      properties: encodeProperties(props),
      reconsumeTimes: 0,
      unitMode: false,
      batch: false,
    },
    body,
  };
}

/** A body digest as the 5.x clients write it: CRC32 as an unsigned decimal, MD5/SHA1 as hex. */
export function digestOf(body: Buffer, type: number): string {
  if (type === DigestType.CRC32) return String(crc32(body));
  return createHash(type === DigestType.MD5 ? 'md5' : 'sha1')
    .update(body)
    .digest('hex');
}

/** The message type a consumer is told (RocketMQ's converter order: transaction, delay, FIFO, normal). */
export function messageTypeOf(props: ReadonlyMap<string, string>): number {
  if (props.get(MessageConst.PROPERTY_TRANSACTION_PREPARED) === 'true') return MessageType.TRANSACTION;
  if (
    props.has(MessageConst.PROPERTY_DELAY_TIME_LEVEL) ||
    props.has(MessageConst.PROPERTY_TIMER_DELIVER_MS) ||
    props.has(MessageConst.PROPERTY_TIMER_DELAY_SEC) ||
    props.has(MessageConst.PROPERTY_TIMER_DELAY_MS)
  ) {
    return MessageType.DELAY;
  }
  if (props.has(MessageConst.PROPERTY_SHARDING_KEY)) return MessageType.FIFO;
  return MessageType.NORMAL;
}

/** The v2 Message a consumer receives: digest over the body as sent, handle and attempt set. */
export function toGrpcMessage(m: MessageView, receiptHandle: string | undefined, deliveryAttempt: number | undefined): Message {
  const userProperties: Record<string, string> = {};
  for (const [k, v] of m.properties) if (!SYSTEM_PROPERTY_NAMES.has(k) && k !== 'TRACE_CONTEXT') userProperties[k] = v;
  const props = m.properties;
  const deliverMs = Number(props.get(MessageConst.PROPERTY_TIMER_DELIVER_MS));
  const group = props.get(MessageConst.PROPERTY_SHARDING_KEY);
  const trace = props.get('TRACE_CONTEXT');
  const bornHost = props.get(MessageConst.PROPERTY_BORN_HOST) ?? m.bornHost.address;
  const msg: Message = {
    topic: toResource(m.topic),
    userProperties,
    systemProperties: {
      keys: m.keys,
      messageId: m.msgId,
      bodyDigest: { type: DigestType.CRC32, checksum: String(crc32(m.body)) },
      bodyEncoding: Encoding.IDENTITY,
      messageType: messageTypeOf(props),
      bornTimestamp: msTimestamp(m.bornTimestamp),
      bornHost,
      storeTimestamp: msTimestamp(m.storeTimestamp),
      storeHost: `${m.storeHost.address}:${m.storeHost.port}`,
      queueId: m.queueId,
      queueOffset: m.queueOffset,
    },
    body: m.body,
  };
  const sp = msg.systemProperties!;
  if (m.tags !== undefined) sp.tag = m.tags;
  if (Number.isFinite(deliverMs) && deliverMs > 0) sp.deliveryTimestamp = msTimestamp(deliverMs);
  if (receiptHandle !== undefined) sp.receiptHandle = receiptHandle;
  if (deliveryAttempt !== undefined) sp.deliveryAttempt = deliveryAttempt;
  if (group !== undefined) sp.messageGroup = group;
  if (trace !== undefined) sp.traceContext = trace;
  return msg;
}

const CLIENT_KINDS: Readonly<Record<number, ClientKind>> = {
  [ClientType.PRODUCER]: 'PRODUCER',
  [ClientType.PUSH_CONSUMER]: 'PUSH_CONSUMER',
  [ClientType.SIMPLE_CONSUMER]: 'SIMPLE_CONSUMER',
  [ClientType.PULL_CONSUMER]: 'PULL_CONSUMER',
  [ClientType.LITE_PUSH_CONSUMER]: 'LITE_PUSH_CONSUMER',
};

/** A v2 client type as the shared state names it; undefined for unknown types. */
export function clientKindOf(type: number | undefined): ClientKind | undefined {
  return type === undefined ? undefined : CLIENT_KINDS[type];
}
