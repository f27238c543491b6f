import { Inject, Injectable } from '@nestjs/common';
import { indexOfAck, type PopCheckPoint } from '@rocketmq-ts/protocol';
import { createLogger } from '@rocketmq-ts/remoting';
import type { MessageStore, PutMessageResult } from '@rocketmq-ts/store';
import type { BrokerConfig } from '../config.js';
import { ConsumerOffsetManager } from '../offset/consumer-offset-manager.js';
import { BROKER_CONFIG, MESSAGE_STORE } from '../tokens.js';
import { PopRecordsService, putOk } from './pop-records.service.js';

/** A checkpoint is buffered only when it may stay in memory at least this long (RocketMQ's margin). */
const MIN_STAY_MS = 1_500;
/** Granularity of the stay-time deadlines (ms). */
const TICK_MS = 100;
/** A checkpoint whose write failed is tried again after this long. */
const RETRY_MS = 1_000;

/** Entry states: in memory; being written; written or fully acked (nothing more to do). */
const BUFFERED = 0;
const WRITING = 1;
const DONE = 2;

/**
 * One pop of one queue, in the queue's commit order: a buffered checkpoint, or an offset-only
 * mark (a checkpoint written at once, a range skipped by the filter), done from the start.
 */
interface Entry {
  /** The checkpoint while it is in memory; undefined for a mark and once done. */
  ck: PopCheckPoint | undefined;
  key: string;
  reviveQid: number;
  /** The queue offset after the pop's messages: where the pop offset may move once this is done. */
  nextBegin: number;
  /** Acked messages, bit i ↔ the checkpoint's i-th message. */
  acked: number;
  /** Every message's bit. */
  all: number;
  state: number;
  queue: OffsetQueue;
}

/** The entries of one topic@group@queueId not yet behind its committed pop offset, oldest first. */
interface OffsetQueue {
  key: string;
  group: string;
  topic: string;
  queueId: number;
  entries: Entry[];
  head: number;
  /** Dropped by an offset reset: its entries no longer move the offset. */
  dropped: boolean;
}

/**
 * POP's merge buffer (RocketMQ's PopBufferMergeService, `enablePopBufferMerge`). A pop's
 * checkpoint stays in memory for `popCkStayBufferTime`; acks (ACK_MESSAGE, BATCH_ACK_MESSAGE and
 * the ack half of CHANGE_MESSAGE_INVISIBLETIME) set bits on it there. A checkpoint all of whose
 * messages are acked in that time is dropped: neither it nor its acks reach the revive topic. One
 * still partly un-acked when its time is up (or `popCkStayBufferTimeOut` before its revive time)
 * is written then, with the acked bits in its bit map (`bm`), which the revive service honours as
 * it honours ack records: so exactly the un-acked messages come back.
 *
 * The group's pop offset of a queue (what consumerOffset.json keeps) moves only past pops whose
 * checkpoint is fully acked or stored, in pop order; pops read from the newest in-flight pop's
 * end. A kill -9 loses the buffered checkpoints, but not the offset rule: the restarted broker
 * pops their messages again from the committed offset (at least once, as RocketMQ). Every
 * checkpoint record names the offset that was safe once it was stored, and the restart raises
 * pop offsets only that far (PopReviveService.load).
 */
@Injectable()
export class PopBufferService {
  private readonly log = createLogger('broker.pop.buffer');
  /** Buffered checkpoints (and those being written) by topic@group@queueId@startOffset@popTime@brokerName. */
  private readonly cks = new Map<string, Entry>();
  /** Per topic@group@queueId with pops not yet behind the committed offset. */
  private readonly queues = new Map<string, OffsetQueue>();
  /** Entries by the TICK_MS slot of their stay-time deadline. */
  private readonly slots = new Map<number, Entry[]>();
  private lastSlot = Math.floor(Date.now() / TICK_MS);
  private timer: NodeJS.Timeout | undefined;
  private serving = false;
  private readonly writes = new Set<Promise<void>>();
  private failedLogged = 0;

  constructor(
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
    @Inject(MESSAGE_STORE) private readonly store: MessageStore,
    private readonly records: PopRecordsService,
    private readonly offsets: ConsumerOffsetManager,
  ) {}

  /** Checkpoints held in memory now. */
  get size(): number {
    return this.cks.size;
  }

  /** Masters only, once the broker runs. */
  start(): void {
    this.serving = true;
    this.lastSlot = Math.floor(Date.now() / TICK_MS);
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  /** Stops buffering and writes every buffered checkpoint still partly un-acked (a clean stop loses none). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.serving = false;
    for (const e of [...this.cks.values()]) if (e.state === BUFFERED) this.flush(e);
    while (this.writes.size > 0) await Promise.all(this.writes);
    this.store.writeAppended();
  }

  private static queueKey(group: string, topic: string, queueId: number): string {
    return `${topic}@${group}@${queueId}`;
  }

  private static ckKey(topic: string, group: string, queueId: number, startOffset: number, popTime: number, brokerName: string): string {
    return `${topic}@${group}@${queueId}@${startOffset}@${popTime}@${brokerName}`;
  }

  /** Where the next pop of a queue reads: past the newest pop still in flight, else the committed offset. */
  popOffset(group: string, topic: string, queueId: number, committed: number): number {
    const q = this.queues.get(PopBufferService.queueKey(group, topic, queueId));
    if (q === undefined) return committed;
    const tail = q.entries[q.entries.length - 1];
    return tail === undefined ? committed : Math.max(committed, tail.nextBegin);
  }

  /**
   * Keeps a pop's checkpoint in memory; false when it must be written now (buffer off or full,
   * revive time too close, the broker stopping). `nextBegin`: the queue offset after its messages.
   */
  add(ck: PopCheckPoint, reviveQid: number, nextBegin: number): boolean {
    if (!this.serving || !this.config.enablePopBufferMerge) return false;
    const now = Date.now();
    const reviveTime = ck.popTime + ck.invisibleTime;
    if (reviveTime - now < this.config.popCkStayBufferTimeOut + MIN_STAY_MS) return false;
    if (this.cks.size >= this.config.popCkMaxBufferSize) return false;
    const key = PopBufferService.ckKey(ck.topic, ck.cid, ck.queueId, ck.startOffset, ck.popTime, ck.brokerName);
    if (this.cks.has(key)) return false;
    const q = this.queueOf(ck.cid, ck.topic, ck.queueId);
    const e: Entry = { ck, key, reviveQid, nextBegin, acked: 0, all: ck.num >= 32 ? -1 : (1 << ck.num) - 1, state: BUFFERED, queue: q };
    q.entries.push(e);
    this.cks.set(key, e);
    this.schedule(e, Math.min(ck.popTime + this.config.popCkStayBufferTime, reviveTime - this.config.popCkStayBufferTimeOut));
    return true;
  }

  /**
   * The offset a checkpoint written at once may claim (PROPERTY_POP_COMMIT_OFFSET): its end when
   * nothing is in flight before it on the queue, else the committed offset.
   */
  commitOffsetIfWritten(group: string, topic: string, queueId: number, nextBegin: number): number {
    return this.queues.has(PopBufferService.queueKey(group, topic, queueId)) ? this.offsets.queryOffset(group, topic, queueId) : nextBegin;
  }

  /**
   * The pop offset of a queue may move to `nextBegin` (a checkpoint written at once, a skipped
   * range): at once when no pop is in flight before it, else when those before it are done.
   */
  advanceTo(group: string, topic: string, queueId: number, nextBegin: number): void {
    const q = this.queues.get(PopBufferService.queueKey(group, topic, queueId));
    if (q === undefined) {
      this.offsets.commitOffset(group, topic, queueId, nextBegin);
      return;
    }
    // The head is in flight (a done head is always removed at once), so nothing moves yet.
    q.entries.push({ ck: undefined, key: '', reviveQid: -1, nextBegin, acked: 0, all: 0, state: DONE, queue: q });
  }

  /**
   * Acks one message of a buffered checkpoint; false when that checkpoint is not in memory (the
   * caller writes an ack record). An offset the checkpoint does not hold is ignored, as such an
   * ack record would match nothing.
   */
  ack(topic: string, group: string, queueId: number, startOffset: number, popTime: number, brokerName: string, offset: number): boolean {
    if (this.cks.size === 0) return false;
    const e = this.cks.get(PopBufferService.ckKey(topic, group, queueId, startOffset, popTime, brokerName));
    if (e === undefined || e.ck === undefined) return false;
    const i = indexOfAck(e.ck, offset);
    if (i >= 0 && i < 32) {
      e.acked |= 1 << i;
      if (e.state === BUFFERED && (e.acked & e.all) === e.all) this.dropAcked(e);
    }
    return true;
  }

  /** ack() for several offsets of one checkpoint (BATCH_ACK_MESSAGE). */
  ackMany(topic: string, group: string, queueId: number, startOffset: number, popTime: number, brokerName: string, offsets: readonly number[]): boolean {
    if (this.cks.size === 0) return false;
    const e = this.cks.get(PopBufferService.ckKey(topic, group, queueId, startOffset, popTime, brokerName));
    if (e === undefined || e.ck === undefined) return false;
    for (const o of offsets) {
      const i = indexOfAck(e.ck, o);
      if (i >= 0 && i < 32) e.acked |= 1 << i;
    }
    if (e.state === BUFFERED && (e.acked & e.all) === e.all) this.dropAcked(e);
    return true;
  }

  /** An offset reset of the group's queue(s): in-flight pops no longer move the offset (their checkpoints stay). */
  forget(group: string, topic: string, queueId?: number): void {
    for (const [k, q] of this.queues) {
      if (q.group !== group || q.topic !== topic || (queueId !== undefined && q.queueId !== queueId)) continue;
      q.dropped = true;
      this.queues.delete(k);
    }
  }

  private queueOf(group: string, topic: string, queueId: number): OffsetQueue {
    const key = PopBufferService.queueKey(group, topic, queueId);
    let q = this.queues.get(key);
    if (q === undefined) {
      q = { key, group, topic, queueId, entries: [], head: 0, dropped: false };
      this.queues.set(key, q);
    }
    return q;
  }

  private schedule(e: Entry, at: number): void {
    const slot = Math.max(this.lastSlot + 1, Math.ceil(at / TICK_MS));
    const list = this.slots.get(slot);
    if (list === undefined) this.slots.set(slot, [e]);
    else list.push(e);
  }

  /** Writes the checkpoints whose stay time is up. */
  private tick(): void {
    const now = Math.floor(Date.now() / TICK_MS);
    let wrote = false;
    for (let s = this.lastSlot + 1; s <= now; s++) {
      const list = this.slots.get(s);
      if (list === undefined) continue;
      this.slots.delete(s);
      for (const e of list) {
        if (e.state !== BUFFERED) continue;
        this.flush(e);
        wrote = true;
      }
    }
    this.lastSlot = Math.max(this.lastSlot, now);
    // The checkpoints reach the OS before consumerOffset.json can name offsets past them.
    if (wrote) this.store.writeAppended();
  }

  /** Fully acked in memory: nothing to write; the offset may move past it. */
  private dropAcked(e: Entry): void {
    this.cks.delete(e.key);
    e.state = DONE;
    e.ck = undefined;
    this.advance(e.queue);
  }

  /** Writes a buffered checkpoint with the bits acked so far. */
  private flush(e: Entry): void {
    const ck = e.ck;
    if (ck === undefined) return;
    e.state = WRITING;
    const bits = e.acked;
    ck.bitMap = bits;
    const r = this.records.writeCheckPoint(ck, e.reviveQid, this.commitOffsetIfDone(e));
    if (!(r instanceof Promise)) {
      this.afterWrite(e, bits, r);
      return;
    }
    const w = r.then(
      (res) => {
        this.afterWrite(e, bits, res);
        this.store.writeAppended();
      },
      (err: unknown) => this.afterWrite(e, bits, undefined, err),
    );
    this.writes.add(w);
    void w.finally(() => this.writes.delete(w));
  }

  private afterWrite(e: Entry, bits: number, r: PutMessageResult | undefined, err?: unknown): void {
    const ck = e.ck;
    if (ck === undefined) return;
    if (r === undefined || !putOk(r)) {
      // Still hidden, still holding the offset back: tried again (acks keep landing here meanwhile).
      e.state = BUFFERED;
      if (Date.now() - this.failedLogged > 10_000) {
        this.failedLogged = Date.now();
        this.log.warn(`cannot write a buffered checkpoint of ${ck.topic}@${ck.queueId}: ${r?.status ?? String(err)}; retrying`);
      }
      if ((e.acked & e.all) === e.all) this.dropAcked(e);
      else this.schedule(e, Date.now() + RETRY_MS);
      return;
    }
    this.cks.delete(e.key);
    // Acks that came while the write was under way: one batch ack record after the checkpoint.
    const late = e.acked & ~bits & e.all;
    if (late !== 0) {
      const list: number[] = [];
      for (let i = 0; i < ck.num; i++) if (((late >>> i) & 1) !== 0) list.push(ck.startOffset + (ck.queueOffsetDiff[i] ?? i));
      const ack = {
        ackOffset: -1,
        startOffset: ck.startOffset,
        consumerGroup: ck.cid,
        topic: ck.topic,
        queueId: ck.queueId,
        popTime: ck.popTime,
        brokerName: ck.brokerName,
        ackOffsetList: list,
      };
      const w = this.records.writeBatchAck(ack, e.reviveQid, ck.invisibleTime);
      const warn = (s: string): void => this.log.warn(`acks of ${ck.topic}@${ck.queueId} not stored (${s}): those messages may come back`);
      if (w instanceof Promise) {
        w.then(
          (x) => {
            if (!putOk(x)) warn(x.status);
          },
          (x: unknown) => warn(String(x)),
        );
      } else if (!putOk(w)) {
        warn(w.status);
      }
    }
    e.state = DONE;
    e.ck = undefined;
    this.advance(e.queue);
  }

  /** The pop offset committed once `e` is done (PROPERTY_POP_COMMIT_OFFSET of its record). */
  private commitOffsetIfDone(e: Entry): number {
    const q = e.queue;
    let to = -1;
    if (!q.dropped) {
      for (let i = q.head; i < q.entries.length; i++) {
        const x = q.entries[i]!;
        if (x.state !== DONE && x !== e) break;
        to = x.nextBegin;
      }
    }
    return to >= 0 ? to : this.offsets.queryOffset(q.group, q.topic, q.queueId);
  }

  /** Commits the queue's pop offset past its leading done entries. */
  private advance(q: OffsetQueue): void {
    if (q.dropped) return;
    let i = q.head;
    let to = -1;
    const n = q.entries.length;
    while (i < n) {
      const x = q.entries[i]!;
      if (x.state !== DONE) break;
      to = x.nextBegin;
      i++;
    }
    if (i === q.head) return;
    if (i === n) {
      this.queues.delete(q.key);
      q.entries = [];
      q.head = 0;
    } else if (i >= 1024 && i * 2 >= n) {
      q.entries = q.entries.slice(i);
      q.head = 0;
    } else {
      q.head = i;
    }
    this.offsets.commitOffset(q.group, q.topic, q.queueId, to);
  }
}
