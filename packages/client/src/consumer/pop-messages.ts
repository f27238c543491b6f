// Messages of a POP reply as a SimpleConsumer hands them out: each with the receipt handle an ack
// or a change of invisibility needs (pop-timer-tx-ha.md §A.3, §A.4, §A.8). Pure: no I/O.
import { MessageConst } from '@rocketmq-ts/common';
import { MixAll, buildExtraInfo, topicFlag, type ExtraInfo } from '@rocketmq-ts/protocol';
import { decodeReceivedMessages, type ReceivedMessage } from '../received-message.js';

/** A message received by POP: a ReceivedMessage plus what acking it takes. */
export interface MessageView extends ReceivedMessage {
  /**
   * The receipt handle (RocketMQ's extraInfo, property POP_CK): `ckQueueOffset popTime invisibleTime
   * reviveQid topicFlag brokerName queueId queueOffset`. ack and changeInvisibleDuration send it;
   * changeInvisibleDuration replaces it.
   */
  receiptHandle: string;
  /** 1 on the first delivery, one more each time the message came back un-acked (reconsumeTimes + 1). */
  deliveryAttempt: number;
  /** When (ms since the epoch, the broker's clock) the message becomes visible again unless acked. */
  nextVisibleTime: number;
}

/** The reply header fields receipt handles are built from. */
export interface PopReplyHeader {
  popTime: number;
  invisibleTime: number;
  reviveQid: number;
  startOffsetInfo?: string | undefined;
  /** FIFO pops: how often each message (`qo<queueId>%<offset>`) or queue was handed out before. */
  orderCountInfo?: string | undefined;
}

/**
 * An info string (`"<flag> <queueId> <value>;…"`) as a map `flag@queueId` → value, the key the Java
 * client uses. A repeated key keeps its first value.
 */
export function parseOffsetInfo(s: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const entry of (s ?? '').split(';')) {
    const f = entry.trim().split(' ');
    if (f.length < 3) continue;
    const key = `${f[0]}@${f[1]}`;
    if (!out.has(key)) out.set(key, f[2]!);
  }
  return out;
}

/**
 * Decodes a POP reply body. Each message's receipt handle is its POP_CK property when the broker
 * set one (messages from the pop retry topic), else built as RocketMQ's clients build it: the
 * checkpoint's start offset from `startOffsetInfo` for the message's queue (its own offset when the
 * broker sent none), the reply's popTime, invisibleTime and reviveQid, then the message's queue
 * offset. Messages read from a retry topic are reported under `topic`, the topic popped. FIFO
 * replies count redeliveries in `orderCountInfo`, which sets reconsumeTimes.
 */
export function popMessageViews(body: Buffer | null, h: PopReplyHeader, o: { brokerName: string; topic: string }): MessageView[] {
  const start = parseOffsetInfo(h.startOffsetInfo);
  const counts = parseOffsetInfo(h.orderCountInfo);
  return decodeReceivedMessages(body, { brokerName: o.brokerName }).map((m) => {
    if (counts.size > 0) {
      // FIFO retries a message in place: its count comes from the reply, not from the record.
      const flag = topicFlag(m.topic);
      const n = Number(counts.get(`${flag}@qo${m.queueId}%${m.queueOffset}`) ?? counts.get(`${flag}@${m.queueId}`));
      if (Number.isInteger(n) && n > 0) m.reconsumeTimes = n;
    }
    let handle = m.properties.get(MessageConst.PROPERTY_POP_CK);
    if (handle === undefined || handle === '') {
      const flag = topicFlag(m.topic);
      const so = Number(start.get(`${flag}@${m.queueId}`) ?? m.queueOffset);
      handle = buildExtraInfo({
        ckQueueOffset: Number.isFinite(so) ? so : m.queueOffset,
        popTime: h.popTime,
        invisibleTime: h.invisibleTime,
        reviveQid: h.reviveQid,
        flag,
        brokerName: o.brokerName,
        queueId: m.queueId,
        offset: m.queueOffset,
      });
    }
    if (m.topic.startsWith(MixAll.RETRY_GROUP_TOPIC_PREFIX)) m.topic = o.topic;
    if (!m.properties.has(MessageConst.PROPERTY_FIRST_POP_TIME)) m.properties.set(MessageConst.PROPERTY_FIRST_POP_TIME, String(h.popTime));
    const f = handle.split(' ');
    const popTime = Number(f[1]);
    const invisibleTime = Number(f[2]);
    return {
      ...m,
      receiptHandle: handle,
      deliveryAttempt: m.reconsumeTimes + 1,
      nextVisibleTime: Number.isFinite(popTime + invisibleTime) ? popTime + invisibleTime : h.popTime + h.invisibleTime,
    };
  });
}

/**
 * The receipt handle after CHANGE_MESSAGE_INVISIBLETIME: the broker wrote a checkpoint for this one
 * message (start offset = its offset) with the reply's popTime, invisibleTime and reviveQid.
 */
export function changedReceiptHandle(old: ExtraInfo & { offset: number }, r: { popTime: number; invisibleTime: number; reviveQid: number }): string {
  return buildExtraInfo({
    ckQueueOffset: old.offset,
    popTime: r.popTime,
    invisibleTime: r.invisibleTime,
    reviveQid: r.reviveQid,
    flag: old.flag,
    brokerName: old.brokerName,
    queueId: old.queueId,
    offset: old.offset,
  });
}
