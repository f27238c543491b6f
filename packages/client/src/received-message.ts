import { inflateSync } from 'node:zlib';
import { MessageConst, MessageSysFlag, splitKeys, type MessageExt } from '@rocketmq-ts/common';
import { iterateMessageRecords, type DecodedMessage, type TagSubscription } from '@rocketmq-ts/protocol';
import type { MessageQueue } from './message-queue.js';

/**
 * A message as a consumer sees it. `msgId` is the client id (UNIQ_KEY) when the producer set
 * one, else the broker's offset id, as RocketMQ clients report it; `offsetMsgId` is always the
 * broker's (store host + commit-log offset), which is what VIEW_MESSAGE_BY_ID and send-back use.
 */
export interface ReceivedMessage extends MessageExt {
  offsetMsgId: string;
  brokerName: string;
  tags: string | undefined;
  keys: string[];
}

export function messageQueueOf(m: ReceivedMessage): MessageQueue {
  return { topic: m.topic, brokerName: m.brokerName, queueId: m.queueId };
}

/** Compression type bits 8..10 of sysFlag: 0 (old clients) and ZLIB are both zlib. */
function inflateBody(body: Buffer, sysFlag: number): Buffer | undefined {
  const type = sysFlag & MessageSysFlag.COMPRESSION_TYPE_MASK;
  if (type !== 0 && type !== MessageSysFlag.COMPRESSION_ZLIB_TYPE) return undefined;
  return inflateSync(body);
}

export interface DecodeReceivedOptions {
  brokerName: string;
  /** Keep only messages whose TAGS is in the subscription (the broker filtered by hash only). */
  tagFilter?: TagSubscription | undefined;
  /** `%RETRY%<group>`: messages from it get their original topic back from RETRY_TOPIC. */
  retryTopic?: string | undefined;
  minOffset?: number;
  maxOffset?: number;
  /** Called for bodies we cannot inflate (LZ4/ZSTD); the message is delivered still compressed. */
  onUndecodable?: (m: ReceivedMessage, why: string) => void;
}

/** Decodes a pull/query body into messages (inflating compressed bodies and filtering tags). */
export function decodeReceivedMessages(body: Buffer | null, o: DecodeReceivedOptions): ReceivedMessage[] {
  const out: ReceivedMessage[] = [];
  if (body === null || body.length === 0) return out;
  for (const d of iterateMessageRecords(body)) {
    const tags = d.properties.get(MessageConst.PROPERTY_TAGS);
    if (o.tagFilter && !o.tagFilter.all && (tags === undefined || !o.tagFilter.tags.includes(tags))) continue;
    out.push(toReceivedMessage(d, o));
  }
  return out;
}

/** One decoded record as a consumer sees it: body inflated, ids and keys filled in (no tag filtering). */
export function toReceivedMessage(d: DecodedMessage, o: DecodeReceivedOptions): ReceivedMessage {
  const tags = d.properties.get(MessageConst.PROPERTY_TAGS);
  const uniq = d.properties.get(MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX);
  const m: ReceivedMessage = {
    topic: d.topic,
    flag: d.flag,
    body: Buffer.from(d.body),
    properties: d.properties,
    queueId: d.queueId,
    storeSize: d.storeSize,
    queueOffset: d.queueOffset,
    sysFlag: d.sysFlag,
    bornTimestamp: d.bornTimestamp,
    bornHost: d.bornHost,
    storeTimestamp: d.storeTimestamp,
    storeHost: d.storeHost,
    msgId: uniq ?? d.msgId,
    offsetMsgId: d.msgId,
    commitLogOffset: d.commitLogOffset,
    bodyCRC: d.bodyCRC,
    reconsumeTimes: d.reconsumeTimes,
    preparedTransactionOffset: d.preparedTransactionOffset,
    brokerName: o.brokerName,
    tags,
    keys: splitKeys(d.properties.get(MessageConst.PROPERTY_KEYS)),
  };
  if ((d.sysFlag & MessageSysFlag.COMPRESSED_FLAG) !== 0) {
    try {
      const inflated = inflateBody(m.body, d.sysFlag);
      if (inflated === undefined) {
        o.onUndecodable?.(m, `compression type 0x${(d.sysFlag & MessageSysFlag.COMPRESSION_TYPE_MASK).toString(16)} is not supported`);
      } else {
        m.body = inflated;
        m.sysFlag &= ~MessageSysFlag.COMPRESSED_FLAG;
      }
    } catch (e) {
      o.onUndecodable?.(m, `inflate failed: ${(e as Error).message}`);
    }
  }
  if (o.retryTopic !== undefined && m.topic === o.retryTopic) {
    const original = m.properties.get(MessageConst.PROPERTY_RETRY_TOPIC);
    if (original !== undefined) m.topic = original;
  }
  if (o.minOffset !== undefined) m.properties.set(MessageConst.PROPERTY_MIN_OFFSET, String(o.minOffset));
  if (o.maxOffset !== undefined) m.properties.set(MessageConst.PROPERTY_MAX_OFFSET, String(o.maxOffset));
  return m;
}
