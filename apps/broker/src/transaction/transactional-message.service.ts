import { Inject, Injectable } from '@nestjs/common';
import { MessageConst, TopicValidator } from '@rocketmq-ts/common';
import { decodeMessageRecord, encodeProperties, findProperty, type DecodedMessage } from '@rocketmq-ts/protocol';
import { createLogger } from '@rocketmq-ts/remoting';
import { PutMessageStatus, removeProperties, type AppendMessageResult, type MessageStore, type PutMessageResult } from '@rocketmq-ts/store';
import { BrokerState } from '../broker-state.js';
import type { BrokerConfig } from '../config.js';
import { BrokerMetrics } from '../metrics/broker-metrics.js';
import { ConsumerOffsetManager } from '../offset/consumer-offset-manager.js';
import { BROKER_CONFIG, MESSAGE_STORE } from '../tokens.js';
import { OffsetBits } from './offset-bits.js';

export const HALF_TOPIC = TopicValidator.RMQ_SYS_TRANS_HALF_TOPIC;
export const OP_TOPIC = TopicValidator.RMQ_SYS_TRANS_OP_HALF_TOPIC;
/** The group whose offsets on the half and op queues are the check progress (RocketMQ's). */
export const TRANS_GROUP = 'CID_RMQ_SYS_TRANS';
/** Tag of op records that finish a half message (RocketMQ's "d", for delete). */
const OP_TAG = 'd';
const OP_PROPERTIES = encodeProperties(new Map([[MessageConst.PROPERTY_TAGS, OP_TAG]]));
/** What the committed copy of a half leaves out: the real topic and queue are its own again. */
const COMMIT_DROPS = [MessageConst.PROPERTY_REAL_TOPIC, MessageConst.PROPERTY_REAL_QUEUE_ID, MessageConst.PROPERTY_TRANSACTION_PREPARED];
/** Ops are read from this long before the store time of the first half not yet handled (clock jitter). */
const OP_READ_MARGIN_MS = 60_000;

/** Statuses under which the message is stored (maybe with a flush or replica warning): a commit counts. */
export function isStored(status: PutMessageResult['status']): boolean {
  return (
    status === PutMessageStatus.PUT_OK ||
    status === PutMessageStatus.FLUSH_DISK_TIMEOUT ||
    status === PutMessageStatus.FLUSH_SLAVE_TIMEOUT ||
    status === PutMessageStatus.SLAVE_NOT_AVAILABLE
  );
}

/** A transaction's id: `__transactionId__`, else the half's UNIQ_KEY (what the Java client uses). */
export function transactionIdOf(props: string): string {
  return findProperty(props, MessageConst.PROPERTY_TRANSACTION_ID) ?? findProperty(props, MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX) ?? '';
}

/**
 * Half and op records are read with their properties as a string only (no Map per record): the
 * transaction paths look up a few names, and END_TRANSACTION runs once per transaction.
 */
const STRING_PROPERTIES = { decodeProperties: false } as const;

/** A transaction still waiting for its verdict: its newest half message (the original, or the last check's copy). */
export interface OpenHalf {
  readonly transactionId: string;
  queueOffset: number;
  commitLogOffset: number;
  storeTimestamp: number;
  readonly bornTimestamp: number;
  /** The real topic and queue. */
  readonly topic: string;
  readonly queueId: number;
  readonly producerGroup: string;
  /** Checks sent so far (TRANSACTION_CHECK_TIMES of the newest copy). */
  checkTimes: number;
  /** CHECK_IMMUNITY_TIME_IN_SECONDS in ms, when the producer set one. */
  readonly immunityMs: number | undefined;
}

export type EndOutcome = PutMessageResult | 'rolled-back' | 'already-finished';

function immunityOf(v: string | undefined, timeoutMs: number): number | undefined {
  if (v === undefined) return undefined;
  const s = Number(v);
  return Number.isFinite(s) && s >= 0 ? s * 1000 : timeoutMs;
}

/**
 * The broker's state of transactional messages. A half message waits in RMQ_SYS_TRANS_HALF_TOPIC
 * queue 0 until END_TRANSACTION commits it (the real message is stored) or rolls it back; either
 * way an op record ("<halfQueueOffset>," in RMQ_SYS_TRANS_OP_HALF_TOPIC, tag d) finishes it. The
 * check service re-appends a half it asks the producer about (a copy with TRANSACTION_CHECK_TIMES
 * + 1), so one transaction may have several half copies: a verdict on any copy ends all of them
 * (they share the transaction id), and a transaction ends once.
 *
 * In memory: the finished half offsets (one bit each), the open transactions (the newest copy of
 * each), and the ids of finished transactions that had copies (pruned after the check window).
 * The check progress (the lowest open half, or the queue end) is the offset of CID_RMQ_SYS_TRANS
 * on the half queue, as in RocketMQ; at start-up the halves from there and the ops written since
 * rebuild the rest.
 */
@Injectable()
export class TransactionalMessageService {
  private readonly log = createLogger('broker.transaction');
  private finished = new OffsetBits();
  /** Open transactions by id, oldest first (a copy moves its transaction to the end). */
  readonly open = new Map<string, OpenHalf>();
  /** Transactions finished while they had more than one half copy → when finished. */
  private readonly finishedWithCopies = new Map<string, number>();
  /** Per-transaction queue: a verdict and a check of the same transaction never interleave. */
  private readonly busy = new Map<string, Promise<unknown>>();

  constructor(
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
    @Inject(MESSAGE_STORE) private readonly store: MessageStore,
    private readonly state: BrokerState,
    private readonly offsets: ConsumerOffsetManager,
    private readonly metrics: BrokerMetrics,
  ) {
    metrics.bindHalfMessages(() => {
      const m = new Map<string, number>();
      for (const e of this.open.values()) m.set(e.topic, (m.get(e.topic) ?? 0) + 1);
      return m;
    });
  }

  // ------------------------------------------------------------------ start-up

  /** Rebuilds the open transactions from the check progress on (after the store recovered). */
  async load(): Promise<void> {
    const t0 = performance.now();
    const min = this.store.getMinOffsetInQueue(HALF_TOPIC, 0);
    const max = this.store.getMaxOffsetInQueue(HALF_TOPIC, 0);
    this.finished = new OffsetBits(min);
    let from = this.offsets.queryOffset(TRANS_GROUP, HALF_TOPIC, 0);
    if (from < min || from > max) from = min;
    if (from >= max) return;
    // Ops for halves at/after `from` were written after the half at `from` was stored.
    const firstStored = await this.store.getMessageStoreTimeStamp(HALF_TOPIC, 0, from);
    const opMax = this.store.getMaxOffsetInQueue(OP_TOPIC, 0);
    const opFrom =
      firstStored < 0 ? this.store.getMinOffsetInQueue(OP_TOPIC, 0) : await this.store.getOffsetInQueueByTime(OP_TOPIC, 0, firstStored - OP_READ_MARGIN_MS);
    let ops = 0;
    /** Ops for halves before the progress: a copy at/after it may belong to the same transaction. */
    const early: number[] = [];
    await this.scan(OP_TOPIC, opFrom, opMax, (op) => {
      for (const o of opOffsets(op)) {
        this.finished.add(o);
        if (o < from) early.push(o);
        ops++;
      }
    });
    const done = new Set<string>();
    let halves = 0;
    await this.scan(HALF_TOPIC, from, max, (h) => {
      halves++;
      const id = transactionIdOf(h.propertiesString);
      if (this.isFinishedCopy(h)) {
        done.add(id);
        this.open.delete(id);
      } else if (!done.has(id)) {
        this.open.delete(id);
        this.open.set(id, this.openOf(h));
      }
    });
    for (const o of early) {
      if (this.open.size === 0) break;
      const h = await this.halfAtQueueOffset(o);
      if (h === undefined) continue;
      const id = transactionIdOf(h.propertiesString);
      if (this.open.delete(id)) this.finishedWithCopies.set(id, Date.now());
    }
    this.log.info(
      `transactions: ${this.open.size} open after reading ${halves} half messages from offset ${from} and ${ops} finished offsets (${(performance.now() - t0).toFixed(0)} ms)`,
    );
  }

  private async scan(topic: string, from: number, to: number, f: (m: DecodedMessage) => void): Promise<void> {
    let offset = from;
    while (offset < to) {
      const r = await this.store.getMessage(TRANS_GROUP, topic, 0, offset, 64);
      if (r.messageBuffers.length === 0) {
        if (r.nextBeginOffset <= offset) break;
        offset = r.nextBeginOffset;
        continue;
      }
      for (const b of r.messageBuffers) f(decodeMessageRecord(b, 0, STRING_PROPERTIES));
      offset = r.nextBeginOffset;
    }
  }

  private async halfAtQueueOffset(offset: number): Promise<DecodedMessage | undefined> {
    const r = await this.store.getMessage(TRANS_GROUP, HALF_TOPIC, 0, offset, 1);
    const b = r.messageBuffers[0];
    return b === undefined ? undefined : decodeMessageRecord(b, 0, STRING_PROPERTIES);
  }

  private openOf(h: DecodedMessage): OpenHalf {
    const p = h.propertiesString;
    return {
      transactionId: transactionIdOf(p),
      queueOffset: h.queueOffset,
      commitLogOffset: h.commitLogOffset,
      storeTimestamp: h.storeTimestamp,
      bornTimestamp: h.bornTimestamp,
      topic: findProperty(p, MessageConst.PROPERTY_REAL_TOPIC) ?? '',
      queueId: Number(findProperty(p, MessageConst.PROPERTY_REAL_QUEUE_ID) ?? '0'),
      producerGroup: findProperty(p, MessageConst.PROPERTY_PRODUCER_GROUP) ?? '',
      checkTimes: Number(findProperty(p, MessageConst.PROPERTY_TRANSACTION_CHECK_TIMES) ?? '0') || 0,
      immunityMs: immunityOf(findProperty(p, MessageConst.PROPERTY_CHECK_IMMUNITY_TIME_IN_SECONDS), this.config.transactionTimeOut),
    };
  }

  // ------------------------------------------------------------------ the send path

  /** A half message was stored (SEND_MESSAGE with TRAN_MSG): it is open until its verdict. */
  noteHalf(props: string, a: AppendMessageResult, bornTimestamp: number): void {
    const id = findProperty(props, MessageConst.PROPERTY_TRANSACTION_ID) ?? findProperty(props, MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX) ?? '';
    const realTopic = findProperty(props, MessageConst.PROPERTY_REAL_TOPIC) ?? '';
    this.open.delete(id);
    this.open.set(id, {
      transactionId: id,
      queueOffset: a.logicsOffset,
      commitLogOffset: a.wroteOffset,
      storeTimestamp: a.storeTimestamp,
      bornTimestamp,
      topic: realTopic,
      queueId: Number(findProperty(props, MessageConst.PROPERTY_REAL_QUEUE_ID) ?? '0'),
      producerGroup: findProperty(props, MessageConst.PROPERTY_PRODUCER_GROUP) ?? '',
      checkTimes: 0,
      immunityMs: immunityOf(findProperty(props, MessageConst.PROPERTY_CHECK_IMMUNITY_TIME_IN_SECONDS), this.config.transactionTimeOut),
    });
  }

  // ------------------------------------------------------------------ verdicts

  /** The half message stored at `commitLogOffset`, if it is one (properties as `propertiesString` only). */
  async lookHalf(commitLogOffset: number): Promise<DecodedMessage | undefined> {
    const m = await this.store.lookMessageByOffset(commitLogOffset, STRING_PROPERTIES);
    return m !== undefined && m.topic === HALF_TOPIC ? m : undefined;
  }

  /** Whether this half copy has an op record (or the one it stands in for, TRAN_PREPARED_QUEUE_OFFSET). */
  private isFinishedCopy(h: DecodedMessage): boolean {
    if (this.finished.has(h.queueOffset)) return true;
    const prepared = findProperty(h.propertiesString, MessageConst.PROPERTY_TRANSACTION_PREPARED_QUEUE_OFFSET);
    return prepared !== undefined && this.finished.has(Number(prepared));
  }

  /** Whether the transaction of this half copy has ended (through this copy or another). */
  isFinished(h: DecodedMessage): boolean {
    return this.isFinishedCopy(h) || this.finishedWithCopies.has(transactionIdOf(h.propertiesString));
  }

  /** Runs `f` after whatever is running for the same transaction. */
  serialized<T>(id: string, f: () => Promise<T>): Promise<T> {
    const prev = this.busy.get(id);
    const run = prev === undefined ? f() : prev.then(f, f);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.busy.set(id, tail);
    void tail.then(() => {
      if (this.busy.get(id) === tail) this.busy.delete(id);
    });
    return run;
  }

  /**
   * END_TRANSACTION's work: COMMIT stores the real message once, ROLLBACK stores nothing; both
   * finish the transaction with an op record. A transaction already finished (a repeated verdict,
   * or an answer to a check on another copy) only gets this copy's op record.
   */
  end(half: DecodedMessage, commit: boolean): Promise<EndOutcome> {
    const id = transactionIdOf(half.propertiesString);
    return this.serialized(id, async (): Promise<EndOutcome> => {
      if (this.isFinished(half)) {
        if (!this.finished.has(half.queueOffset)) await this.writeOp(half);
        return 'already-finished';
      }
      if (!commit) {
        await this.finish(half, id);
        this.metrics.transactionEnded(this.openTopic(half), 'rollback');
        return 'rolled-back';
      }
      const put = this.storeCommitted(half);
      const r = put instanceof Promise ? await put : put;
      if (isStored(r.status)) {
        await this.finish(half, id);
        this.metrics.transactionEnded(this.openTopic(half), 'commit');
      }
      return r;
    });
  }

  private openTopic(half: DecodedMessage): string {
    return findProperty(half.propertiesString, MessageConst.PROPERTY_REAL_TOPIC) ?? '';
  }

  /** COMMIT: the real message to its topic and queue, with the transaction's commit flag. */
  private storeCommitted(half: DecodedMessage): PutMessageResult | Promise<PutMessageResult> {
    const hp = half.propertiesString;
    const topic = findProperty(hp, MessageConst.PROPERTY_REAL_TOPIC) ?? '';
    const queueId = Number(findProperty(hp, MessageConst.PROPERTY_REAL_QUEUE_ID) ?? '0');
    // Appended now; the remoting server hands it to the OS before the reply leaves (writeAppended).
    return this.store.putMessageNow({
      topic,
      queueId,
      body: half.body,
      flag: half.flag,
      propertiesString: removeProperties(hp, COMMIT_DROPS),
      sysFlag: half.sysFlag | 0x8, // TRANSACTION_COMMIT_TYPE
      bornTimestamp: half.bornTimestamp,
      bornHost: half.bornHost,
      reconsumeTimes: half.reconsumeTimes,
      preparedTransactionOffset: half.commitLogOffset,
      waitStoreMsgOK: false,
    });
  }

  /** The transaction is over: every copy is forgotten, this one gets its op record. */
  private finish(half: DecodedMessage, id: string): void | Promise<void> {
    const e = this.open.get(id);
    const hadCopies =
      findProperty(half.propertiesString, MessageConst.PROPERTY_TRANSACTION_CHECK_TIMES) !== undefined ||
      (e !== undefined && e.queueOffset !== half.queueOffset);
    if (hadCopies) this.finishedWithCopies.set(id, Date.now());
    this.open.delete(id);
    return this.writeOp(half);
  }

  private writeOp(half: DecodedMessage): void | Promise<void> {
    const offset = half.queueOffset;
    this.finished.add(offset);
    const put = this.store.putMessageNow({
      topic: OP_TOPIC,
      queueId: half.queueId,
      body: Buffer.from(`${offset},`, 'latin1'),
      propertiesString: OP_PROPERTIES,
      bornHost: this.state.storeHost,
      waitStoreMsgOK: false,
    });
    const done = (r: PutMessageResult): void => {
      if (r.status !== PutMessageStatus.PUT_OK) this.log.warn(`op record for half offset ${offset} not stored: ${r.status}`);
    };
    return put instanceof Promise ? put.then(done) : done(put);
  }

  // ------------------------------------------------------------------ for the check service

  /** A check copy of an open transaction was stored: it is now the one to answer. */
  copied(e: OpenHalf, a: AppendMessageResult): void {
    e.queueOffset = a.logicsOffset;
    e.commitLogOffset = a.wroteOffset;
    e.storeTimestamp = a.storeTimestamp;
    e.checkTimes++;
    this.open.delete(e.transactionId);
    this.open.set(e.transactionId, e);
  }

  /** Given up on (checked too often, or too old): no longer open, never checked again. */
  discarded(e: OpenHalf): void {
    this.open.delete(e.transactionId);
  }

  /**
   * Records the check progress as RocketMQ does (offsets of CID_RMQ_SYS_TRANS): the first open
   * half, or the end of the half queue; the op queue is read to its end. Forgets what the window
   * no longer needs.
   */
  commitProgress(keepFinishedMs: number, now = Date.now()): number {
    let progress = this.store.getMaxOffsetInQueue(HALF_TOPIC, 0);
    for (const e of this.open.values()) if (e.queueOffset < progress) progress = e.queueOffset;
    this.offsets.commitOffset(TRANS_GROUP, HALF_TOPIC, 0, progress);
    this.offsets.commitOffset(TRANS_GROUP, OP_TOPIC, 0, this.store.getMaxOffsetInQueue(OP_TOPIC, 0));
    for (const [id, at] of this.finishedWithCopies) if (now - at > keepFinishedMs) this.finishedWithCopies.delete(id);
    this.finished.dropBelow(this.store.getMinOffsetInQueue(HALF_TOPIC, 0));
    return progress;
  }
}

/** The half offsets an op record finishes (tag d, body "17,18,21,"). */
function opOffsets(op: DecodedMessage): number[] {
  if (findProperty(op.propertiesString, MessageConst.PROPERTY_TAGS) !== OP_TAG) return [];
  const out: number[] = [];
  for (const part of op.body.toString('latin1').split(',')) {
    const n = Number(part);
    if (part !== '' && Number.isInteger(n)) out.push(n);
  }
  return out;
}
