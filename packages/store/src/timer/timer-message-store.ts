// RocketMQ 5's TimerMessageStore (pop-timer-tx-ha.md §B.6) on one event loop:
// - enqueue: messages of rmq_sys_wheel_timer/0 (put there by the put hook) become 52-byte timer-log
//   units chained per slot from the wheel; fed by the dispatch events of new messages, or by reading
//   the consume queue when behind (start-up, a slave, a burst);
// - dequeue (masters only, startDequeue): at each slot boundary the due slot's chain is walked from
//   the timer log, its messages are read back from the commit log and put under REAL_TOPIC/REAL_QID
//   (or, for a roll, into the timer topic again); the read time moves on only after the whole slot;
// - flush (timerFlushIntervalMs): timer log fdatasync, wheel pages, then the checkpoint;
// - recovery: replay the timer log from the checkpoint into the wheel, cut it after the last good
//   unit, resume the queue offset from the last unit's message, catch up the slots that passed.
// Memory: the wheel buffer plus a bounded queue of dispatch events; nothing per pending timer.
import fs from 'node:fs';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { MessageConst } from '@rocketmq-ts/common';
import { checkMessageRecord, decodeMessageRecord, encodeProperties, javaStringHashCode, type DecodedMessage } from '@rocketmq-ts/protocol';
import type { CommitLog } from '../commitlog/commit-log.js';
import type { CommitLogDispatcher } from '../commit-log-dispatcher.js';
import { storePaths, type MessageStoreConfig } from '../config.js';
import type { ConsumeQueueTable } from '../consumequeue/consume-queue-table.js';
import type { MessageReader } from '../message-reader.js';
import type { DispatchEvent, PutMessageRequest, TimerMessageStoreView } from '../message-store.js';
import type { StoreLogger } from '../probe.js';
import { PutMessageStatus, type PutMessageResult } from '../status.js';
import type { StoreState } from '../store-state.js';
import { TimerCheckpoint, type TimerCheckpointData } from './timer-checkpoint.js';
import type { TimerRecoveryReport, TimerStatus } from './timer-types.js';
import { MAGIC_DEFAULT, MAGIC_DELETE, MAGIC_ROLL, TIMER_UNIT_SIZE, TimerLog, decodeTimerUnit, newTimerUnit, type TimerUnit } from './timer-log.js';
import { TIMER_TOPIC, newTimerProps, scanTimerProps } from './timer-put-hook.js';
import { TIMER_SLOTS_TOTAL, TimerWheel } from './timer-wheel.js';

/** Slots kept clear behind the oldest readable one after a long downtime (RocketMQ's TIMER_BLANK_SLOTS). */
const TIMER_BLANK_SLOTS = 60;
/** TIMER_ENQUEUE_MS of a message delivered without entering the wheel (Long.MAX_VALUE). */
const NEVER_ENQUEUED = '9223372036854775807';
/** Dispatch events kept for the enqueue; beyond this it reads the consume queue instead. */
const MAX_EVENTS = 65_536;
/** Messages enqueued per turn of the event loop. */
const ENQUEUE_BATCH = 1024;
/** Records read from the commit log at once during a delivery. */
const DELIVER_WINDOW = 64;

export interface TimerMessageStoreParts {
  config: MessageStoreConfig;
  commitLog: CommitLog;
  queues: ConsumeQueueTable;
  reader: MessageReader;
  dispatcher: CommitLogDispatcher;
  /** The store's putMessageNow (the result may come back at once). */
  putNow: (m: PutMessageRequest) => PutMessageResult | Promise<PutMessageResult>;
  /** Hands appended records to the OS (the store's writeAppended). */
  writeAppended: () => boolean;
  state: StoreState;
  logger: StoreLogger;
  /** The timer's clock (wall clock + timerClockOffsetMs). */
  now: () => number;
}

/** Per-topic timer counts (config/timermetrics, GET_TIMER_METRICS). */
interface TopicCount {
  count: number;
  timeStamp: number;
}

/** Units of one slot, oldest last (the walk order), in typed arrays that grow. */
class SlotUnits {
  n = 0;
  phy = new Float64Array(256);
  enq = new Float64Array(256);
  size = new Int32Array(256);
  magic = new Int32Array(256);

  push(u: TimerUnit): void {
    if (this.n === this.phy.length) {
      const grow = <T extends Float64Array | Int32Array>(a: T, b: T): T => {
        b.set(a);
        return b;
      };
      const cap = this.n * 2;
      this.phy = grow(this.phy, new Float64Array(cap));
      this.enq = grow(this.enq, new Float64Array(cap));
      this.size = grow(this.size, new Int32Array(cap));
      this.magic = grow(this.magic, new Int32Array(cap));
    }
    this.phy[this.n] = u.phyOffset;
    this.enq[this.n] = u.enqueueTime;
    this.size[this.n] = u.size;
    this.magic[this.n] = u.magic;
    this.n++;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

export class TimerMessageStore implements TimerMessageStoreView {
  readonly wheel: TimerWheel;
  readonly timerLog: TimerLog;
  readonly checkpoint: TimerCheckpoint;
  readonly precisionMs: number;
  readonly rollWindowSlots: number;
  private readonly p: TimerMessageStoreParts;
  private readonly isSlave: boolean;
  private readonly metricsFile: string;

  private currReadTimeMs = 0;
  private commitReadTimeMs = 0;
  private currWriteTimeMs = 0;
  private currQueueOffset = 0;
  private commitQueueOffset = 0;
  private pending = 0;

  private running = false;
  private dequeueEnabled = false;
  private events: DispatchEvent[] = [];
  private eventsHead = 0;
  private unsubscribe: (() => void) | undefined;
  private enqueueScheduled = false;
  private enqueueBusy: Promise<void> | undefined;
  private enqueueAgain = false;
  private enqueueRetry: NodeJS.Timeout | undefined;
  private dequeueTimer: NodeJS.Timeout | undefined;
  private dequeueBusy: Promise<void> | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private cleanTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private lastCommitted = { readTime: -1, queueOffset: -1 };

  private readonly timingCount = new Map<string, TopicCount>();
  private timingDirty = false;
  readonly enqueueTotal = new Map<string, number>();
  readonly dequeueTotal = new Map<string, number>();
  private enqueueCount = 0;
  private dequeueCount = 0;
  private tps = { at: 0, enq: 0, deq: 0, enqTps: 0, deqTps: 0 };
  private lastTopic = '';
  private lastTopicHash = 0;
  private readonly unit = newTimerUnit();
  private readonly scan = newTimerProps();
  report: TimerRecoveryReport | undefined;

  constructor(parts: TimerMessageStoreParts) {
    this.p = parts;
    const c = parts.config;
    const paths = storePaths(c);
    this.precisionMs = c.timerPrecisionMs;
    this.rollWindowSlots =
      c.timerRollWindowSlot > TIMER_SLOTS_TOTAL - TIMER_BLANK_SLOTS || c.timerRollWindowSlot < 2
        ? TIMER_SLOTS_TOTAL - TIMER_BLANK_SLOTS
        : c.timerRollWindowSlot;
    this.wheel = new TimerWheel(paths.timerWheel, this.precisionMs);
    this.timerLog = new TimerLog(paths.timerLog, c.mappedFileSizeTimerLog);
    this.checkpoint = new TimerCheckpoint(paths.timerCheck);
    this.metricsFile = paths.timerMetrics;
    this.isSlave = c.brokerRole === 'SLAVE';
  }

  private floor(ms: number): number {
    return Math.floor(ms / this.precisionMs) * this.precisionMs;
  }

  // ================================================================ recovery

  /** Loads the files and recovers (after the commit log and consume queues are recovered). */
  async load(): Promise<TimerRecoveryReport> {
    const cp = this.checkpoint;
    this.wheel.loadSync();
    this.timerLog.loadSync();
    cp.loadSync();
    this.loadMetrics();
    const log = this.timerLog;
    const u = newTimerUnit();
    let lastUnitPos = -1;
    // Units up to the checkpoint's flushed position are in the wheel file; one file back for safety.
    const scan = log.recoverSync(Math.max(0, cp.lastTimerLogFlushPos - log.fileSize), (pos, buf, at) => {
      if (!decodeTimerUnit(buf, at, u)) return;
      this.reviseSlot(pos, u);
      lastUnitPos = pos;
    });
    const slotsRepaired = this.repairSlots(scan.end);

    // Queue offset: past the last unit's message (enqueue is in queue order), never behind the checkpoint.
    let q = cp.lastTimerQueueOffset;
    if (lastUnitPos >= 0 && log.readUnit(lastUnitPos, u)) {
      const rec = await this.p.commitLog.read(u.phyOffset, u.size);
      const c = rec !== undefined ? checkMessageRecord(rec, 0, rec.length) : undefined;
      if (c?.kind === 'record' && c.info.topic === TIMER_TOPIC) q = Math.max(q, c.info.queueOffset + 1);
    }
    if (this.isSlave) q = Math.min(q, cp.masterTimerQueueOffset);
    const cq = this.p.queues.find(TIMER_TOPIC, 0);
    q = Math.max(Math.min(q, cq?.maxOffset ?? 0), cq?.minOffset ?? 0);
    this.currQueueOffset = q;
    this.commitQueueOffset = q;

    // Read time: where the checkpoint says, unless that fell off the wheel during a long downtime.
    const now = this.floor(this.p.now());
    const p = this.precisionMs;
    const readTime = cp.existed ? Math.max(cp.lastReadTimeMs, now - TIMER_SLOTS_TOTAL * p + TIMER_BLANK_SLOTS * p) : now;
    this.currReadTimeMs = readTime;
    this.commitReadTimeMs = readTime;
    this.currWriteTimeMs = now;
    this.lastCommitted = { readTime, queueOffset: q };
    this.pending = 0;
    this.wheel.forEachSlot(readTime, (off) => (this.pending += this.wheel.num(off)));
    const report: TimerRecoveryReport = {
      timerLogUnitsChecked: scan.units,
      timerLogEnd: scan.end,
      timerLogStopReason: scan.stopReason,
      timerLogFilesDeleted: scan.filesDeleted,
      slotsRepaired,
      timerQueueOffset: q,
      timerReadTimeMs: readTime,
      timerPending: this.pending,
    };
    this.report = report;
    (scan.stopReason !== '' || slotsRepaired > 0 ? this.p.logger.warn : this.p.logger.info).call(this.p.logger, 'timer recovered', { ...report });
    return report;
  }

  /** Re-applies one unit to its slot (idempotent: a slot already past it is left alone). */
  private reviseSlot(pos: number, u: TimerUnit): void {
    const w = this.wheel;
    const off = w.find(u.delayedTime);
    const d = (u.magic & MAGIC_DELETE) !== 0 && (u.magic & MAGIC_ROLL) === 0 ? -1 : 1;
    if (off < 0) w.putSlot(u.delayedTime, pos, pos, d);
    else if (w.lastPos(off) < pos) w.putSlot(u.delayedTime, w.firstPos(off), pos, w.num(off) + d);
  }

  /**
   * Slots naming timer-log positions past the recovered end (a wheel written after a log that was
   * then cut) are rebuilt from the units that remain. Returns how many.
   */
  private repairSlots(end: number): number {
    const w = this.wheel;
    const broken: number[] = [];
    let minFirst = Number.MAX_SAFE_INTEGER;
    w.forEachUsedSlot((off) => {
      if (w.lastPos(off) + TIMER_UNIT_SIZE <= end) return;
      broken.push(off);
      minFirst = Math.min(minFirst, w.firstPos(off));
    });
    if (broken.length === 0) return 0;
    const times = new Set(broken.map((off) => w.timeAt(off)));
    for (const off of broken) w.clearSlot(off);
    const u = newTimerUnit();
    for (let pos = Math.max(minFirst, this.timerLog.minOffset); pos + TIMER_UNIT_SIZE <= end; pos += TIMER_UNIT_SIZE) {
      if (!this.timerLog.readUnit(pos, u)) {
        // A blank: the next file.
        const next = Math.floor(pos / this.timerLog.fileSize + 1) * this.timerLog.fileSize;
        pos = next - TIMER_UNIT_SIZE;
        continue;
      }
      if (times.has(u.delayedTime)) this.reviseSlot(pos, u);
    }
    return broken.length;
  }

  // ================================================================ lifecycle

  /** Starts the enqueue, the flush and the timer-log retention (dequeue: startDequeue). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.unsubscribe = this.p.dispatcher.onDispatch((e) => {
      if (e.topic !== TIMER_TOPIC || e.queueId !== 0) return;
      if (this.events.length - this.eventsHead >= MAX_EVENTS) {
        // Too far behind: the enqueue reads the consume queue instead.
        this.events = [];
        this.eventsHead = 0;
      }
      this.events.push(e);
      this.wakeEnqueue();
    });
    this.flushTimer = setInterval(
      () => void this.flush().catch((e: unknown) => this.p.logger.error('timer flush failed', { error: String(e) })),
      this.p.config.timerFlushIntervalMs,
    );
    this.flushTimer.unref();
    this.cleanTimer = setInterval(() => this.deleteExpiredFiles(), 30_000);
    this.cleanTimer.unref();
    this.wakeEnqueue();
    if (this.dequeueEnabled) this.scheduleDequeue(0);
  }

  /** Delivery runs only on a master (RocketMQ's shouldRunningDequeue). */
  startDequeue(): void {
    if (this.dequeueEnabled) return;
    this.dequeueEnabled = true;
    this.p.logger.info('timer dequeue started', { readTimeMs: this.currReadTimeMs, pending: this.pending });
    this.scheduleDequeue(0);
  }

  async stopDequeue(): Promise<void> {
    this.dequeueEnabled = false;
    clearTimeout(this.dequeueTimer);
    this.dequeueTimer = undefined;
    await this.dequeueBusy;
  }

  get dequeueRunning(): boolean {
    return this.dequeueEnabled;
  }

  /** Stops every loop, flushes the timer log, wheel and checkpoint, closes the files. */
  async shutdown(): Promise<void> {
    if (!this.running) {
      await this.closeFiles();
      return;
    }
    this.running = false;
    this.unsubscribe?.();
    clearInterval(this.flushTimer);
    clearInterval(this.cleanTimer);
    clearTimeout(this.enqueueRetry);
    await this.stopDequeue();
    await this.enqueueBusy;
    try {
      await this.flush();
    } finally {
      await this.closeFiles();
    }
  }

  private async closeFiles(): Promise<void> {
    await this.wheel.close();
    await this.timerLog.close();
    await this.checkpoint.close();
  }

  // ================================================================ enqueue

  private wakeEnqueue(): void {
    if (!this.running || this.enqueueScheduled) return;
    this.enqueueScheduled = true;
    setImmediate(() => {
      this.enqueueScheduled = false;
      void this.runEnqueue();
    });
  }

  private async runEnqueue(): Promise<void> {
    if (this.enqueueBusy !== undefined) {
      this.enqueueAgain = true;
      return;
    }
    const run = (async () => {
      do {
        this.enqueueAgain = false;
        await this.enqueueAvailable();
      } while (this.enqueueAgain && this.running);
    })();
    this.enqueueBusy = run.catch((e: unknown) => {
      this.p.logger.error('timer enqueue failed; retrying', { error: String(e) });
      clearTimeout(this.enqueueRetry);
      this.enqueueRetry = setTimeout(() => this.wakeEnqueue(), 100);
      this.enqueueRetry.unref();
    });
    await this.enqueueBusy;
    this.enqueueBusy = undefined;
  }

  /** Enqueues the timer topic's messages from currQueueOffset to its end (a slave: to the master's progress). */
  private async enqueueAvailable(): Promise<void> {
    for (;;) {
      if (!this.running) return;
      const cq = this.p.queues.find(TIMER_TOPIC, 0);
      if (cq === undefined) return;
      let bound = cq.maxOffset;
      if (this.isSlave) bound = Math.min(bound, this.checkpoint.masterTimerQueueOffset);
      if (this.currQueueOffset < cq.minOffset) {
        this.p.logger.warn('timer queue offset below the queue minimum', { offset: this.currQueueOffset, min: cq.minOffset });
        this.currQueueOffset = cq.minOffset;
      }
      if (this.currQueueOffset >= bound) {
        this.commitQueueOffset = this.currQueueOffset;
        return;
      }
      this.moveWriteTime();
      const directs: { phy: number; size: number }[] = [];
      let n = 0;
      while (n < ENQUEUE_BATCH && this.eventsHead < this.events.length) {
        const e = this.events[this.eventsHead] as DispatchEvent;
        if (e.queueOffset < this.currQueueOffset) {
          this.eventsHead++;
          continue;
        }
        if (e.queueOffset !== this.currQueueOffset || e.queueOffset >= bound) break;
        this.eventsHead++;
        this.enqueueOne(e.queueOffset, e.commitLogOffset, e.msgSize, e.propertiesString, directs);
        n++;
      }
      if (this.eventsHead > 4096 && this.eventsHead * 2 > this.events.length) {
        this.events = this.events.slice(this.eventsHead);
        this.eventsHead = 0;
      }
      if (n === 0) {
        // Behind the events (start-up, overflow, a slave): read the queue.
        const from = this.currQueueOffset;
        const res = await this.p.reader.readRecords(TIMER_TOPIC, 0, from, Math.min(ENQUEUE_BATCH, bound - from), 16 * 1024 * 1024);
        if (!this.running) return;
        for (let i = 0; i < res.messageBuffers.length; i++) {
          const buf = res.messageBuffers[i] as Buffer;
          const qo = res.messageQueueOffsets[i] as number;
          const c = checkMessageRecord(buf, 0, buf.length);
          if (qo >= bound) break;
          if (c.kind === 'record') this.enqueueOne(qo, c.info.physicalOffset, c.info.size, c.info.propertiesString, directs);
          else this.currQueueOffset = qo + 1;
        }
        // Units the queue skipped (records removed by retention) are passed over.
        if (res.nextBeginOffset > this.currQueueOffset && res.nextBeginOffset <= bound) this.currQueueOffset = res.nextBeginOffset;
        if (this.currQueueOffset === from) return; // nothing readable yet
      }
      // The new units stay in the timer log's tail until it fills or the next flush: after a crash
      // the enqueue resumes after the last unit on disk, so units lost with the process come again.
      if (directs.length > 0) {
        // deliver() takes units newest first (a slot's walk order): pushed backwards, they go out in
        // queue order (a POP checkpoint before its acks).
        const units = new SlotUnits();
        for (let i = directs.length - 1; i >= 0; i--) {
          const d = directs[i] as { phy: number; size: number };
          units.push({ prevPos: -1, magic: MAGIC_DEFAULT, enqueueTime: -1, delayedTime: 0, phyOffset: d.phy, size: d.size, topicHash: 0 });
        }
        if (!(await this.deliver(units, new Set(), true))) return;
      }
      this.commitQueueOffset = this.currQueueOffset;
      await yieldToLoop();
    }
  }

  /** One timer-topic message: filed in the wheel, or handed to the delivery when due already. */
  private enqueueOne(queueOffset: number, phy: number, size: number, props: string, directs: { phy: number; size: number }[]): void {
    this.currQueueOffset = queueOffset + 1;
    const t = scanTimerProps(props, this.scan);
    const delayed = t.outMs === undefined ? Number.NaN : Number(t.outMs);
    if (!Number.isSafeInteger(delayed)) {
      this.p.logger.warn('timer message without a valid TIMER_OUT_MS skipped', { queueOffset, phy });
      return;
    }
    const realTopic = t.realTopic ?? '';
    this.enqueueCount++;
    this.enqueueTotal.set(realTopic, (this.enqueueTotal.get(realTopic) ?? 0) + 1);
    if (this.dequeueEnabled && delayed < this.currWriteTimeMs) {
      directs.push({ phy, size });
      return;
    }
    this.doEnqueue(phy, size, delayed, realTopic, t.delUniqKey !== undefined);
  }

  /** Appends the unit and links it into its slot (rolled to the window's end when too far ahead). */
  private doEnqueue(phy: number, size: number, delayed: number, realTopic: string, isDelete: boolean): void {
    const p = this.precisionMs;
    const w = this.currWriteTimeMs;
    let t = delayed;
    let magic = MAGIC_DEFAULT;
    const win = this.rollWindowSlots * p;
    if (delayed - w >= win) {
      magic |= MAGIC_ROLL;
      // Leave enough room before the next roll.
      t = delayed - w - win < Math.floor(this.rollWindowSlots / 3) * p ? w + Math.floor(this.rollWindowSlots / 2) * p : w + win;
    }
    // Without a running dequeue (a slave, or before it starts) a slot already read would never be read again.
    if (t < this.currReadTimeMs) t = this.currReadTimeMs;
    if (isDelete) magic |= MAGIC_DELETE;
    if (realTopic !== this.lastTopic) {
      this.lastTopic = realTopic;
      this.lastTopicHash = realTopic === '' ? 0 : javaStringHashCode(realTopic);
    }
    const wheel = this.wheel;
    const off = wheel.find(t);
    const u = this.unit;
    u.prevPos = off < 0 ? -1 : wheel.lastPos(off);
    u.magic = magic;
    u.enqueueTime = w;
    u.delayedTime = t;
    u.phyOffset = phy;
    u.size = size;
    u.topicHash = this.lastTopicHash;
    const pos = this.timerLog.append(u);
    const d = isDelete ? -1 : 1;
    wheel.putSlot(t, off < 0 ? pos : wheel.firstPos(off), pos, (off < 0 ? 0 : wheel.num(off)) + d);
    if (t >= this.currReadTimeMs) this.pending += d;
    this.addTiming(realTopic, d);
  }

  private moveWriteTime(now = this.p.now()): void {
    const t = this.floor(now);
    if (t > this.currWriteTimeMs) this.currWriteTimeMs = t;
  }

  // ================================================================ dequeue

  private scheduleDequeue(ms: number): void {
    if (!this.dequeueEnabled || !this.running) return;
    clearTimeout(this.dequeueTimer);
    this.dequeueTimer = setTimeout(() => {
      this.dequeueTimer = undefined;
      void this.runDequeue();
    }, ms);
    this.dequeueTimer.unref();
  }

  private async runDequeue(): Promise<void> {
    if (this.dequeueBusy !== undefined) return;
    let next = -1;
    const run = (async () => {
      let empty = 0;
      for (;;) {
        if (!this.dequeueEnabled || !this.running) return;
        const now = this.p.now();
        this.moveWriteTime(now);
        if (this.currReadTimeMs >= this.currWriteTimeMs) {
          // The next slot is due when the clock passes its end.
          next = Math.max(1, this.currReadTimeMs + this.precisionMs - now + 1);
          return;
        }
        const off = this.wheel.find(this.currReadTimeMs);
        if (off < 0) {
          this.moveReadTime();
          // Catching up over empty slots (a restart after downtime) must not starve the event loop.
          if (++empty % 8192 === 0) await yieldToLoop();
          continue;
        }
        if (!(await this.dequeueSlot(this.currReadTimeMs, off))) {
          next = Math.max(50, (500 * this.precisionMs) / 1000);
          return;
        }
        this.pending = Math.max(0, this.pending - this.wheel.num(off));
        this.moveReadTime();
      }
    })();
    this.dequeueBusy = run.catch((e: unknown) => {
      this.p.logger.error('timer dequeue failed; retrying', { error: String(e) });
      next = 500;
    });
    await this.dequeueBusy;
    this.dequeueBusy = undefined;
    if (next >= 0) this.scheduleDequeue(next);
  }

  private moveReadTime(): void {
    this.currReadTimeMs += this.precisionMs;
    this.commitReadTimeMs = this.currReadTimeMs;
  }

  /** Walks one due slot's chain and delivers it; false when interrupted (stop) before the whole slot was put. */
  private async dequeueSlot(slotMs: number, off: number): Promise<boolean> {
    const log = this.timerLog;
    const u = this.unit;
    const units = new SlotUnits();
    let pos = this.wheel.lastPos(off);
    while (pos >= 0) {
      if (!log.readUnit(pos, u)) {
        this.p.logger.warn('timer slot chain broken', { slotMs, pos });
        break;
      }
      if (u.delayedTime !== slotMs) {
        this.p.logger.warn('timer unit of another slot in a chain', { slotMs, pos, unitSlotMs: u.delayedTime });
        break;
      }
      units.push(u);
      // A chain only goes backwards: anything else is damage.
      if (u.prevPos >= pos) break;
      pos = u.prevPos;
    }
    // Delete markers first (RECALL): the keys they name are not delivered from this slot.
    const deleted = new Set<string>();
    for (let i = 0; i < units.n; i++) {
      const m = units.magic[i] as number;
      if ((m & MAGIC_DELETE) === 0 || (m & MAGIC_ROLL) !== 0) continue;
      const rec = await this.readRecord(units.phy[i] as number, units.size[i] as number);
      const key = rec?.properties.get(MessageConst.PROPERTY_TIMER_DEL_UNIQKEY);
      if (key === undefined) continue;
      deleted.add(key);
      // The marker counted -1 when filed; the message it cancels counts -1 below.
      this.addTiming(rec?.properties.get(MessageConst.PROPERTY_REAL_TOPIC) ?? '', 1);
    }
    return this.deliver(units, deleted, false);
  }

  /** The stored timer-topic message at a commit-log offset (undefined when gone or not a timer message). */
  private async readRecord(phy: number, size: number): Promise<DecodedMessage | undefined> {
    const buf = await this.p.commitLog.read(phy, size);
    if (buf === undefined || buf.length < 8 || buf.readInt32BE(0) !== size) return undefined;
    try {
      const m = decodeMessageRecord(buf);
      return m.topic === TIMER_TOPIC ? m : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Puts the messages of `units` (oldest first: the walk collected them newest first) under their
   * real topics; rolled ones into the timer topic again. Transient store failures are retried until
   * they pass or the timer stops (false: the caller keeps its position, they come again).
   */
  private async deliver(units: SlotUnits, deleted: ReadonlySet<string>, direct: boolean): Promise<boolean> {
    for (let hi = units.n - 1; hi >= 0; hi -= DELIVER_WINDOW) {
      const lo = Math.max(0, hi - DELIVER_WINDOW + 1);
      const reads: Promise<DecodedMessage | undefined>[] = [];
      for (let i = hi; i >= lo; i--) {
        const m = units.magic[i] as number;
        reads.push(
          (m & MAGIC_DELETE) !== 0 && (m & MAGIC_ROLL) === 0 ? Promise.resolve(undefined) : this.readRecord(units.phy[i] as number, units.size[i] as number),
        );
      }
      const recs = await Promise.all(reads);
      const puts: { req: PutMessageRequest; res: PutMessageResult | Promise<PutMessageResult>; topic: string }[] = [];
      for (let k = 0; k < recs.length; k++) {
        const i = hi - k;
        const magic = units.magic[i] as number;
        if ((magic & MAGIC_DELETE) !== 0 && (magic & MAGIC_ROLL) === 0) continue;
        const rec = recs[k];
        if (rec === undefined) {
          this.p.logger.warn('timer message not found in the commit log; skipped', { phy: units.phy[i], size: units.size[i] });
          continue;
        }
        const realTopic = rec.properties.get(MessageConst.PROPERTY_REAL_TOPIC) ?? '';
        if (!direct) this.addTiming(realTopic, -1);
        if (deleted.size > 0 && deleted.has(realTopic + '+' + (rec.properties.get(MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX) ?? ''))) continue;
        const req = this.convert(rec, direct ? NEVER_ENQUEUED : String(units.enq[i]), (magic & MAGIC_ROLL) !== 0);
        if (req === undefined) continue;
        puts.push({ req, res: this.p.putNow(req), topic: realTopic });
      }
      for (const x of puts) {
        let r = await x.res;
        while (!this.isDone(r.status)) {
          if (!this.running || !this.dequeueEnabled) return false;
          this.p.logger.warn('timer delivery failed; retrying', { topic: x.req.topic, status: r.status });
          await sleep(Math.max(50, (500 * this.precisionMs) / 1000));
          r = await this.p.putNow(x.req);
        }
        if (r.status !== PutMessageStatus.PUT_OK) {
          this.p.logger.warn('timer message refused by the store; dropped', { topic: x.req.topic, status: r.status });
          continue;
        }
        this.dequeueCount++;
        this.dequeueTotal.set(x.topic, (this.dequeueTotal.get(x.topic) ?? 0) + 1);
      }
    }
    // The delivered messages reach the OS before the read time moves past them.
    return this.p.writeAppended();
  }

  /** OK, or refused for good (the message itself is bad): no retry. */
  private isDone(s: PutMessageStatus): boolean {
    return (
      s === PutMessageStatus.PUT_OK ||
      s === PutMessageStatus.MESSAGE_ILLEGAL ||
      s === PutMessageStatus.PROPERTIES_SIZE_EXCEEDED ||
      s === PutMessageStatus.WHEEL_TIMER_MSG_ILLEGAL ||
      s === PutMessageStatus.WHEEL_TIMER_NOT_ENABLE
    );
  }

  /** The message to put: under REAL_TOPIC/REAL_QID (both removed), or the timer topic again for a roll; other properties kept. */
  private convert(rec: DecodedMessage, enqueueTime: string, roll: boolean): PutMessageRequest | undefined {
    const props = rec.properties;
    props.set(MessageConst.PROPERTY_TIMER_ENQUEUE_MS, enqueueTime);
    if (roll) {
      props.set(MessageConst.PROPERTY_TIMER_ROLL_TIMES, String((Number.parseInt(props.get(MessageConst.PROPERTY_TIMER_ROLL_TIMES) ?? '0', 10) || 0) + 1));
    }
    props.set(MessageConst.PROPERTY_TIMER_DEQUEUE_MS, String(this.p.now()));
    let topic = rec.topic;
    let queueId = rec.queueId;
    if (!roll) {
      const real = props.get(MessageConst.PROPERTY_REAL_TOPIC);
      const qid = Number(props.get(MessageConst.PROPERTY_REAL_QUEUE_ID));
      if (real === undefined || real === '' || !Number.isInteger(qid) || qid < 0) {
        this.p.logger.warn('timer message without REAL_TOPIC/REAL_QID; dropped', { msgId: rec.msgId });
        return undefined;
      }
      topic = real;
      queueId = qid;
      props.delete(MessageConst.PROPERTY_REAL_TOPIC);
      props.delete(MessageConst.PROPERTY_REAL_QUEUE_ID);
    }
    const sh = this.p.config.storeHost;
    const req: PutMessageRequest = {
      topic,
      queueId,
      body: rec.body,
      flag: rec.flag,
      propertiesString: encodeProperties(props),
      sysFlag: rec.sysFlag,
      bornTimestamp: rec.bornTimestamp,
      bornHost: rec.bornHost,
      reconsumeTimes: rec.reconsumeTimes,
      waitStoreMsgOK: false,
    };
    if (rec.storeHost.address !== sh.address || rec.storeHost.port !== sh.port) req.storeHost = rec.storeHost;
    return req;
  }

  // ================================================================ flush and retention

  /** Timer log (fdatasync), then the wheel's changed pages, then the checkpoint. One at a time. */
  flush(): Promise<void> {
    if (this.flushing !== undefined) return this.flushing.then(() => this.flush());
    this.flushing = this.doFlush().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async doFlush(): Promise<void> {
    const log = this.timerLog;
    // One synchronous snapshot: the wheel pages, the log end and the progress agree with each other.
    log.writeOutSync();
    const logEnd = log.writePos;
    const snap = this.wheel.snapshotDirty();
    const queueOffset = this.commitQueueOffset;
    const readTime = this.commitReadTimeMs;
    const delivered = this.p.commitLog.wrotePos;
    await log.flush();
    await this.wheel.writeSnapshot(snap);
    // What the read time covers was put: it must be durable before the checkpoint says so.
    if (this.p.commitLog.flushedPos < delivered) await this.p.commitLog.flush();
    const cp = this.checkpoint;
    cp.lastTimerLogFlushPos = logEnd;
    cp.lastReadTimeMs = readTime;
    if (this.isSlave) {
      cp.lastTimerQueueOffset = Math.min(queueOffset, cp.masterTimerQueueOffset);
    } else {
      cp.lastTimerQueueOffset = queueOffset;
      cp.masterTimerQueueOffset = queueOffset;
      if (readTime !== this.lastCommitted.readTime || queueOffset !== this.lastCommitted.queueOffset) {
        cp.nextVersion();
        this.lastCommitted = { readTime, queueOffset };
      }
    }
    await cp.flush();
    this.persistMetrics();
    this.sampleTps();
  }

  private deleteExpiredFiles(): void {
    try {
      const n = this.timerLog.deleteExpiredSync(this.p.commitLog.minOffset);
      if (n > 0) this.p.logger.info('timer-log files deleted', { files: n });
    } catch (e) {
      this.p.logger.error('timer-log retention failed', { error: String(e) });
    }
  }

  // ================================================================ slave

  /** A slave takes the master's read time and queue progress (GET_TIMER_CHECK_POINT, every few seconds). */
  syncFromMaster(m: TimerCheckpointData): void {
    const cp = this.checkpoint;
    cp.lastReadTimeMs = m.lastReadTimeMs;
    cp.masterTimerQueueOffset = m.masterTimerQueueOffset;
    cp.stateVersion = m.stateVersion;
    cp.timestamp = m.timestamp;
    cp.counter = m.counter;
    if (!this.dequeueEnabled && m.lastReadTimeMs !== this.currReadTimeMs) {
      const from = this.currReadTimeMs;
      const to = m.lastReadTimeMs;
      const p = this.precisionMs;
      if (to > from && (to - from) / p < 100_000) {
        // The slots the master has read leave the pending count.
        for (let t = from; t < to; t += p) this.pending -= this.wheel.numAt(t);
        this.pending = Math.max(0, this.pending);
      } else {
        this.pending = 0;
        this.wheel.forEachSlot(to, (off) => (this.pending += this.wheel.num(off)));
      }
      this.currReadTimeMs = to;
      this.commitReadTimeMs = to;
    }
    this.wakeEnqueue();
  }

  // ================================================================ metrics

  private addTiming(topic: string, d: number): void {
    if (topic === '') return;
    let c = this.timingCount.get(topic);
    if (c === undefined) {
      c = { count: 0, timeStamp: 0 };
      this.timingCount.set(topic, c);
    }
    c.count += d;
    c.timeStamp = Date.now();
    this.timingDirty = true;
  }

  /**
   * Every timer message due at or before this time (ms) has been put under its real topic: the read
   * time, lowered to the store time of the first message not yet through the enqueue (a timer message
   * is always due after it was stored). The POP revive service waits for it before reviving, as
   * RocketMQ's waits for the timer not to be behind, so acks still in the timer are not missed.
   */
  async deliveredUpTo(): Promise<number> {
    let w = this.commitReadTimeMs;
    const from = this.commitQueueOffset;
    if (from < (this.p.queues.find(TIMER_TOPIC, 0)?.maxOffset ?? 0)) {
      const ts = await this.p.reader.getMessageStoreTimeStamp(TIMER_TOPIC, 0, from);
      w = Math.min(w, ts > 0 ? ts : 0);
    }
    return w;
  }

  checkpointBody(): Buffer {
    return this.checkpoint.encode();
  }

  /** Pending timers per real topic (RocketMQ's TimerMetrics timingCount; rocketmq_timing_messages). */
  timingCounts(): ReadonlyMap<string, number> {
    const m = new Map<string, number>();
    for (const [t, c] of this.timingCount) if (c.count !== 0) m.set(t, c.count);
    return m;
  }

  /** config/timermetrics and the GET_TIMER_METRICS body. */
  metricsJson(): string {
    const timingCount: Record<string, TopicCount> = {};
    for (const [t, c] of this.timingCount) timingCount[t] = { count: c.count, timeStamp: c.timeStamp };
    const cp = this.checkpoint;
    return JSON.stringify({ dataVersion: { counter: cp.counter, stateVersion: cp.stateVersion, timestamp: cp.timestamp }, timingCount });
  }

  private loadMetrics(): void {
    try {
      const o = JSON.parse(fs.readFileSync(this.metricsFile, 'utf8')) as { timingCount?: Record<string, { count?: number; timeStamp?: number }> };
      for (const [t, c] of Object.entries(o.timingCount ?? {})) this.timingCount.set(t, { count: Number(c.count ?? 0), timeStamp: Number(c.timeStamp ?? 0) });
    } catch {
      // none yet (or unreadable: counts start again)
    }
  }

  private persistMetrics(): void {
    if (!this.timingDirty) return;
    this.timingDirty = false;
    const tmp = this.metricsFile + '.tmp';
    try {
      fs.writeFileSync(tmp, this.metricsJson());
      fs.renameSync(tmp, this.metricsFile);
    } catch (e) {
      this.timingDirty = true;
      this.p.logger.warn('cannot write timer metrics', { error: String(e) });
    }
  }

  private sampleTps(): void {
    const now = Date.now();
    const t = this.tps;
    if (t.at > 0 && now > t.at) {
      t.enqTps = ((this.enqueueCount - t.enq) * 1000) / (now - t.at);
      t.deqTps = ((this.dequeueCount - t.deq) * 1000) / (now - t.at);
    }
    t.at = now;
    t.enq = this.enqueueCount;
    t.deq = this.dequeueCount;
  }

  status(): TimerStatus {
    const now = this.p.now();
    const cqMax = this.p.queues.find(TIMER_TOPIC, 0)?.maxOffset ?? 0;
    return {
      precisionMs: this.precisionMs,
      currReadTimeMs: this.currReadTimeMs,
      currWriteTimeMs: Math.max(this.currWriteTimeMs, this.floor(now)),
      currQueueOffset: this.currQueueOffset,
      timerQueueMaxOffset: cqMax,
      enqueueBehindMessages: Math.max(0, cqMax - this.currQueueOffset),
      pending: this.pending,
      dequeueBehindMs: Math.max(0, now - this.currReadTimeMs),
      enqueueTps: this.tps.enqTps,
      dequeueTps: this.tps.deqTps,
      dequeueRunning: this.dequeueEnabled,
      timerLogEnd: this.timerLog.writePos,
      timerLogFiles: this.timerLog.fileCount,
    };
  }
}
