// Open transactions of a broker, read the way any RocketMQ client can: PULL_MESSAGE on the half and
// op queues (without committing an offset) and the check progress from QUERY_CONSUMER_OFFSET. No
// broker-specific request, so it works against Apache RocketMQ brokers as well as ours.
import { MessageConst, TopicValidator } from '@rocketmq-ts/common';
import { MixAll, PullSysFlag, iterateMessageRecords, type DecodedMessage } from '@rocketmq-ts/protocol';
import type { MessageQueue, MQClientAPI } from '@rocketmq-ts/client';

const HALF_TOPIC = TopicValidator.RMQ_SYS_TRANS_HALF_TOPIC;
const OP_TOPIC = TopicValidator.RMQ_SYS_TRANS_OP_HALF_TOPIC;
/** The group whose offset on the half queue is the broker's check progress (RocketMQ's MixAll.CID_SYS_RMQ_TRANS). */
export const TRANS_CHECK_GROUP = 'CID_RMQ_SYS_TRANS';
/** Tag of op records that finish half messages (body "17,18,21,"). */
const OP_TAG = 'd';
/** Records per PULL_MESSAGE. */
const BATCH = 32;
/**
 * An op for an older copy of a transaction is written after the transaction's newer copies were
 * stored; ops stored this long before the first half read may still matter (clock steps).
 */
const OP_CLOCK_MARGIN_MS = 60_000;

/** The newest half message of a transaction still waiting for its verdict. */
export interface HalfMessage {
  brokerName: string;
  brokerAddr: string;
  /** The real topic and queue (REAL_TOPIC, REAL_QID). */
  topic: string;
  queueId: number;
  /** `__transactionId__`, else UNIQ_KEY. */
  transactionId: string;
  producerGroup: string;
  bornTimestamp: number;
  storeTimestamp: number;
  /** TRANSACTION_CHECK_TIMES: how often the broker asked the producer about it (0: never). */
  checkTimes: number;
  /** Queue offset of this copy in RMQ_SYS_TRANS_HALF_TOPIC queue 0. */
  halfOffset: number;
  commitLogOffset: number;
  offsetMsgId: string;
}

/** How far a scan got, for progress output: `done` of `total` offsets of one queue. */
export interface HalfScanProgress {
  brokerAddr: string;
  step: 'halves' | 'ops' | 'older copies';
  done: number;
  total: number;
}

export interface HalfScanOptions {
  /** Only transactions whose real topic is this one. */
  topic?: string | undefined;
  /** Called after every batch read. */
  onProgress?: (p: HalfScanProgress) => void;
  /** Per request (default 10 s). */
  timeoutMs?: number;
}

export interface HalfMessageScan {
  brokerName: string;
  brokerAddr: string;
  /** The broker's check progress: every half below it is finished, discarded or copied further on. */
  checkOffset: number;
  halfMinOffset: number;
  halfMaxOffset: number;
  opMinOffset: number;
  opMaxOffset: number;
  halvesRead: number;
  opsRead: number;
  /** By half offset. */
  open: HalfMessage[];
}

/** One transaction's copies seen from the check progress on. */
interface Candidate {
  newest: HalfMessage;
  done: boolean;
  /** Whether it has copies the scan did not see (it was checked, or it is an immunity copy). */
  hasOlderCopies: boolean;
}

/**
 * Reads the half messages of one broker from its check progress to the end and the op records
 * that finish them; a transaction (its copies grouped by transaction id) is open while none of its
 * copies is finished. Reads stop at the queue ends seen when the scan starts.
 */
export async function readOpenHalfMessages(api: MQClientAPI, brokerAddr: string, brokerName: string, o: HalfScanOptions = {}): Promise<HalfMessageScan> {
  const timeoutMs = o.timeoutMs ?? 10_000;
  const halfMq: MessageQueue = { topic: HALF_TOPIC, brokerName, queueId: 0 };
  const opMq: MessageQueue = { topic: OP_TOPIC, brokerName, queueId: 0 };
  const halfMin = Math.max(0, await api.getMinOffset(brokerAddr, halfMq));
  const halfMax = await api.getMaxOffset(brokerAddr, halfMq);
  const committed = await api.queryConsumerOffset(brokerAddr, TRANS_CHECK_GROUP, halfMq, false);
  const start = Math.min(halfMax, Math.max(halfMin, committed));
  const scan: HalfMessageScan = {
    brokerName,
    brokerAddr,
    checkOffset: committed < 0 ? halfMin : committed,
    halfMinOffset: halfMin,
    halfMaxOffset: halfMax,
    opMinOffset: 0,
    opMaxOffset: 0,
    halvesRead: 0,
    opsRead: 0,
    open: [],
  };
  if (start >= halfMax) return scan;
  const read = (mq: MessageQueue, from: number, to: number, step: HalfScanProgress['step'] | undefined, each: (m: DecodedMessage) => void, readBody: boolean) =>
    readQueue(api, brokerAddr, mq, from, to, timeoutMs, each, readBody, (done) => {
      if (step !== undefined) o.onProgress?.({ brokerAddr, step, done, total: to - from });
    });

  const txs = new Map<string, Candidate>();
  const copies: Array<{ offset: number; prepared: number | undefined; tx: Candidate }> = [];
  let firstStored = Number.POSITIVE_INFINITY;
  await read(
    halfMq,
    start,
    halfMax,
    'halves',
    (m) => {
      scan.halvesRead++;
      firstStored = Math.min(firstStored, m.storeTimestamp);
      const h = halfOf(m, brokerAddr, brokerName);
      if (o.topic !== undefined && h.topic !== o.topic) return;
      const prepared = intOrUndefined(m.properties.get(MessageConst.PROPERTY_TRANSACTION_PREPARED_QUEUE_OFFSET));
      let tx = txs.get(h.transactionId);
      if (tx === undefined) txs.set(h.transactionId, (tx = { newest: h, done: false, hasOlderCopies: false }));
      else if (h.halfOffset > tx.newest.halfOffset) tx.newest = h;
      if (h.checkTimes > 0 || prepared !== undefined) tx.hasOlderCopies = true;
      copies.push({ offset: h.halfOffset, prepared, tx });
    },
    false,
  );

  // Finished half offsets; those below the scan start are kept (with when they were finished) as
  // they may name an older copy of a transaction whose newer copy was read.
  const finished = new Set<number>();
  const earlier = new Map<number, number>();
  scan.opMinOffset = Math.max(0, await api.getMinOffset(brokerAddr, opMq));
  scan.opMaxOffset = await api.getMaxOffset(brokerAddr, opMq);
  await read(
    opMq,
    scan.opMinOffset,
    scan.opMaxOffset,
    'ops',
    (m) => {
      scan.opsRead++;
      if (m.properties.get(MessageConst.PROPERTY_TAGS) !== OP_TAG) return;
      for (const part of m.body.toString('latin1').split(',')) {
        const n = intOrUndefined(part);
        if (n === undefined) continue;
        finished.add(n);
        if (n < start && n >= halfMin) earlier.set(n, m.storeTimestamp);
      }
    },
    true,
  );
  for (const c of copies) if (finished.has(c.offset) || (c.prepared !== undefined && finished.has(c.prepared))) c.tx.done = true;

  // A verdict on an older copy (below the progress) ends the transaction too: look those halves up,
  // only while a transaction with older copies is still open.
  const withOlder = new Map<string, Candidate>();
  for (const [id, t] of txs) if (!t.done && t.hasOlderCopies) withOlder.set(id, t);
  const lookups = [...earlier].filter(([, at]) => at >= firstStored - OP_CLOCK_MARGIN_MS).map(([n]) => n);
  lookups.sort((a, b) => a - b);
  let looked = 0;
  for (const n of lookups) {
    if (withOlder.size === 0) break;
    await read(
      halfMq,
      n,
      n + 1,
      undefined,
      (m) => {
        const id = transactionIdOf(m.properties) ?? m.msgId;
        const t = withOlder.get(id);
        if (t === undefined) return;
        t.done = true;
        withOlder.delete(id);
      },
      false,
    );
    o.onProgress?.({ brokerAddr, step: 'older copies', done: ++looked, total: lookups.length });
  }

  for (const t of txs.values()) if (!t.done) scan.open.push(t.newest);
  scan.open.sort((a, b) => a.halfOffset - b.halfOffset);
  return scan;
}

/**
 * PULL_MESSAGE from `from` to `to` (exclusive) in batches: subscription in the request, no suspend,
 * no commit, so the group's offsets stay as they are. Every turn moves forward or ends the read.
 */
async function readQueue(
  api: MQClientAPI,
  addr: string,
  mq: MessageQueue,
  from: number,
  to: number,
  timeoutMs: number,
  each: (m: DecodedMessage) => void,
  readBody: boolean,
  progress: (done: number) => void,
): Promise<void> {
  let offset = from;
  while (offset < to) {
    const r = await api.pullMessage(
      addr,
      {
        consumerGroup: MixAll.TOOLS_CONSUMER_GROUP,
        mq,
        queueOffset: offset,
        maxMsgNums: Math.min(BATCH, to - offset),
        sysFlag: PullSysFlag.SUBSCRIPTION,
        commitOffset: 0,
        suspendTimeoutMillis: 0,
        subscription: '*',
        subVersion: 0,
        expressionType: 'TAG',
      },
      timeoutMs,
    );
    if (r.status === 'FOUND' && r.body !== null) {
      for (const m of iterateMessageRecords(r.body, { readBody })) if (m.queueOffset >= from && m.queueOffset < to) each(m);
    } else if (r.status === 'NO_NEW_MSG') {
      break;
    }
    if (r.nextBeginOffset <= offset) break;
    offset = r.nextBeginOffset;
    progress(Math.min(offset, to) - from);
  }
}

function transactionIdOf(p: ReadonlyMap<string, string>): string | undefined {
  return p.get(MessageConst.PROPERTY_TRANSACTION_ID) ?? p.get(MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX);
}

function intOrUndefined(v: string | undefined): number | undefined {
  if (v === undefined || v.trim() === '') return undefined;
  const n = Number(v);
  return Number.isInteger(n) ? n : undefined;
}

function halfOf(m: DecodedMessage, brokerAddr: string, brokerName: string): HalfMessage {
  const p = m.properties;
  return {
    brokerName,
    brokerAddr,
    topic: p.get(MessageConst.PROPERTY_REAL_TOPIC) ?? '',
    queueId: intOrUndefined(p.get(MessageConst.PROPERTY_REAL_QUEUE_ID)) ?? 0,
    transactionId: transactionIdOf(p) ?? m.msgId,
    producerGroup: p.get(MessageConst.PROPERTY_PRODUCER_GROUP) ?? '',
    bornTimestamp: m.bornTimestamp,
    storeTimestamp: m.storeTimestamp,
    checkTimes: intOrUndefined(p.get(MessageConst.PROPERTY_TRANSACTION_CHECK_TIMES)) ?? 0,
    halfOffset: m.queueOffset,
    commitLogOffset: m.commitLogOffset,
    offsetMsgId: m.msgId,
  };
}
