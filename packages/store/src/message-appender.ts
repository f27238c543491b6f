// The put path (RocketMQ's CommitLog.putMessage + the append callback): validate and measure each
// message, reserve room at the commit-log tail, encode the records straight into it, assign queue and
// physical offsets and dispatch. Hot path: synchronous and without per-message allocations beyond
// the result, unless a segment must be rolled or SYNC_FLUSH makes the caller wait.
import { MessageConst, MessageSysFlag, type SocketAddress } from '@rocketmq-ts/common';
import {
  addressByteLength,
  encodeMessageRecord,
  encodeProperties,
  findProperty,
  hex16,
  MAX_PROPERTIES_LENGTH,
  MAX_TOPIC_LENGTH_V2,
  messageRecordSize,
  type MessageRecordInput,
  writeSocketAddress,
} from '@rocketmq-ts/protocol';
import type { CommitLog } from './commitlog/commit-log.js';
import type { CommitLogDispatcher, DispatchRequest } from './commit-log-dispatcher.js';
import { maxRecordSize, type MessageStoreConfig } from './config.js';
import type { ConsumeQueueTable } from './consumequeue/consume-queue-table.js';
import { errnoCode } from './fsutil.js';
import type { PutMessageRequest } from './message-store.js';
import type { FailureProbes, StoreLogger, StoreProbe } from './probe.js';
import { PutMessageStatus, type PutMessageResult } from './status.js';
import type { StoreState } from './store-state.js';
import type { HAService } from './ha/ha-service.js';
import { TIMER_TOPIC, type TimerPutHook } from './timer/timer-put-hook.js';

const PREPARED = MessageSysFlag.TRANSACTION_PREPARED_TYPE;
const ROLLBACK = MessageSysFlag.TRANSACTION_ROLLBACK_TYPE;
const DEFAULT_BORN_HOST: SocketAddress = { address: '127.0.0.1', port: 0 };
const EMPTY_BODY = Buffer.alloc(0);

/** A message that passed validation, with its measured record. */
interface PreparedMessage {
  m: PutMessageRequest;
  props: string;
  topicLen: number;
  propsLen: number;
  size: number;
  bornHost: SocketAddress;
  storeHost: SocketAddress;
}

export interface MessageAppenderParts {
  config: MessageStoreConfig;
  commitLog: CommitLog;
  queues: ConsumeQueueTable;
  dispatcher: CommitLogDispatcher;
  state: StoreState;
  failures: FailureProbes;
  logger: StoreLogger;
  probe: StoreProbe;
  now: () => number;
  /** SYNC_MASTER: where puts wait for the slaves. */
  ha?: HAService | undefined;
  /** The timer messages' put-time transform, run on every single-message put. */
  timerHook?: TimerPutHook | undefined;
}

export class MessageAppender {
  private readonly config: MessageStoreConfig;
  private readonly commitLog: CommitLog;
  private readonly queues: ConsumeQueueTable;
  private readonly dispatcher: CommitLogDispatcher;
  private readonly state: StoreState;
  private readonly failures: FailureProbes;
  private readonly logger: StoreLogger;
  private readonly probe: StoreProbe;
  private readonly now: () => number;
  private readonly ha: HAService | undefined;
  private readonly timerHook: TimerPutHook | undefined;
  /** SYNC_MASTER with an HA service: puts that wait (WAIT != false) also wait for the slaves. */
  private readonly syncMaster: boolean;
  private readonly storeHostPrefix: string;
  private readonly storeHostV6: boolean;
  private readonly maxRecord: number;
  /**
   * The record being appended, as the encoder and then the dispatcher read it (both synchronously):
   * one object reused for every message.
   */
  private readonly record: MessageRecordInput & DispatchRequest;
  private lastBornAddress = '';
  private lastBornV6 = false;
  private lastTopic = '';
  private lastTopicLen = 0;

  constructor(p: MessageAppenderParts) {
    this.config = p.config;
    this.commitLog = p.commitLog;
    this.queues = p.queues;
    this.dispatcher = p.dispatcher;
    this.state = p.state;
    this.failures = p.failures;
    this.logger = p.logger;
    this.probe = p.probe;
    this.now = p.now;
    this.ha = p.ha;
    this.timerHook = p.timerHook;
    this.syncMaster = p.config.brokerRole === 'SYNC_MASTER' && p.ha !== undefined;
    const sh = this.config.storeHost;
    this.storeHostV6 = addressByteLength(sh.address) === 16;
    // Offset msgIds share the store-host prefix; only the offset part changes per message.
    this.storeHostPrefix = hostHex(sh);
    this.maxRecord = maxRecordSize(this.config);
    this.record = {
      topic: '',
      queueId: 0,
      flag: 0,
      queueOffset: 0,
      physicalOffset: 0,
      sysFlag: 0,
      bornTimestamp: 0,
      bornHost: DEFAULT_BORN_HOST,
      storeTimestamp: 0,
      storeHost: sh,
      reconsumeTimes: 0,
      preparedTransactionOffset: 0,
      body: EMPTY_BODY,
      properties: '',
      size: 0,
      propertiesString: '',
    };
  }

  /** A batch: one topic/queue, stored as contiguous records. */
  putBatch(msgs: readonly PutMessageRequest[]): PutMessageResult | Promise<PutMessageResult> {
    if (msgs.length === 0) return this.fail(PutMessageStatus.MESSAGE_ILLEGAL, 0);
    const first = msgs[0] as PutMessageRequest;
    for (const m of msgs) if (m.topic !== first.topic || m.queueId !== first.queueId) return this.fail(PutMessageStatus.MESSAGE_ILLEGAL, msgs.length);
    // Batches are stored as sent: RocketMQ's schedule hook skips them too.
    return this.put(msgs, false);
  }

  /**
   * Appends messages of one topic/queue. A value when the outcome is known at once (room in the
   * tail, nothing to wait for); a promise for a segment roll or a SYNC_FLUSH wait.
   */
  put(msgs: readonly PutMessageRequest[], hooks = true): PutMessageResult | Promise<PutMessageResult> {
    const t0 = this.probe.onPut !== undefined ? performance.now() : 0;
    const refused = this.refusePut();
    if (refused !== undefined) return this.fail(refused, msgs.length);
    if (hooks && this.timerHook !== undefined && msgs.length === 1) {
      const m = msgs[0] as PutMessageRequest;
      const t = this.timerHook.apply(m);
      if (typeof t === 'string') return this.fail(t, 1);
      if (t !== m) {
        msgs = [t];
        if (t.topic === TIMER_TOPIC) return withTimerOut(this.putPrepared(msgs, t0), this.timerHook.lastOutMs);
      }
    }
    return this.putPrepared(msgs, t0);
  }

  private putPrepared(msgs: readonly PutMessageRequest[], t0: number): PutMessageResult | Promise<PutMessageResult> {
    const prepared: PreparedMessage[] = [];
    let total = 0;
    for (const m of msgs) {
      const p = this.prepare(m);
      if (typeof p === 'string') return this.fail(p, msgs.length);
      prepared.push(p);
      total += p.size;
    }
    if (total > this.maxRecord && msgs.length > 1) return this.fail(PutMessageStatus.MESSAGE_ILLEGAL, msgs.length);
    const cl = this.commitLog;
    try {
      this.failures.check('append');
      if (!cl.reserve(total)) return this.putAfterRoll(prepared, total, t0);
    } catch (e) {
      return this.appendFailed(e, msgs.length);
    }
    return this.appendReserved(prepared, total, t0);
  }

  /** For the promise forms: resolves once the records are in the files (handed to the OS), never before. */
  readonly afterWritten = (r: PutMessageResult): PutMessageResult | Promise<PutMessageResult> => {
    const a = r.appendResult;
    if (a === undefined) return r;
    const end = a.wroteOffset + a.wroteBytes;
    if (this.commitLog.writtenPos >= end) return r;
    return this.commitLog.whenWritten(end).then((ok) => (ok ? r : { ...r, status: PutMessageStatus.UNKNOWN_ERROR }));
  };

  private refusePut(): PutMessageStatus | undefined {
    if (this.state.phase !== 'running') return PutMessageStatus.SERVICE_NOT_AVAILABLE;
    // A slave's log is the master's copy: nothing else may be appended to it.
    if (this.config.brokerRole === 'SLAVE') return PutMessageStatus.SERVICE_NOT_AVAILABLE;
    if (this.state.diskFull) return PutMessageStatus.DISK_FULL;
    if (this.commitLog.ioError !== undefined) {
      return errnoCode(this.commitLog.ioError) === 'ENOSPC' ? PutMessageStatus.DISK_FULL : PutMessageStatus.SERVICE_NOT_AVAILABLE;
    }
    // The write path has been stalled too long (RocketMQ: the put lock held past the timeout):
    // refuse rather than queue more appends behind it.
    if (this.commitLog.stalledSince !== 0 && this.busyMillis() > this.config.osPageCacheBusyTimeOutMills) return PutMessageStatus.OS_PAGE_CACHE_BUSY;
    return undefined;
  }

  /** How long appends have been waiting on stalled I/O (ms; 0 when they are not). */
  busyMillis(): number {
    const since = this.commitLog.stalledSince;
    return since === 0 ? 0 : Date.now() - since;
  }

  private fail(status: PutMessageStatus, n: number): PutMessageResult {
    this.state.stats.putFailures += Math.max(1, n);
    this.probe.onPut?.(status, n, 0, 0);
    return { status };
  }

  private bornHostIsV6(h: SocketAddress): boolean {
    if (h.address !== this.lastBornAddress) {
      this.lastBornAddress = h.address;
      this.lastBornV6 = addressByteLength(h.address) === 16;
    }
    return this.lastBornV6;
  }

  private msgIdOf(phy: number, storeHost: SocketAddress | undefined): string {
    if (storeHost === undefined || storeHost === this.config.storeHost) return this.storeHostPrefix + hex16(phy);
    return hostHex(storeHost) + hex16(phy);
  }

  /** Validates one message and measures its record. Returns a status string on rejection. */
  private prepare(m: PutMessageRequest): PreparedMessage | PutMessageStatus {
    if (m.body.length > this.config.maxMessageSize) return PutMessageStatus.MESSAGE_ILLEGAL;
    // Batches and busy topics repeat the topic: measure it once.
    if (m.topic !== this.lastTopic) {
      this.lastTopic = m.topic;
      this.lastTopicLen = Buffer.byteLength(m.topic, 'utf8');
    }
    const topicLen = this.lastTopicLen;
    if (topicLen === 0 || topicLen > MAX_TOPIC_LENGTH_V2) return PutMessageStatus.MESSAGE_ILLEGAL;
    if (!Number.isInteger(m.queueId) || m.queueId < 0) return PutMessageStatus.MESSAGE_ILLEGAL;
    const props = m.propertiesString ?? encodeProperties(m.properties);
    const propsLen = Buffer.byteLength(props, 'utf8');
    if (propsLen > MAX_PROPERTIES_LENGTH) return PutMessageStatus.PROPERTIES_SIZE_EXCEEDED;
    const bornHost = m.bornHost ?? DEFAULT_BORN_HOST;
    const storeHost = m.storeHost ?? this.config.storeHost;
    const storeV6 = storeHost === this.config.storeHost ? this.storeHostV6 : addressByteLength(storeHost.address) === 16;
    let size: number;
    try {
      size = messageRecordSize(m.body.length, topicLen, propsLen, this.bornHostIsV6(bornHost), storeV6);
    } catch {
      return PutMessageStatus.MESSAGE_ILLEGAL;
    }
    if (size > this.maxRecord) return PutMessageStatus.MESSAGE_ILLEGAL;
    return { m, props, topicLen, propsLen, size, bornHost, storeHost };
  }

  /** The tail has no room (or no segment yet): roll or create one, then append. */
  private async putAfterRoll(prepared: PreparedMessage[], total: number, t0: number): Promise<PutMessageResult> {
    const cl = this.commitLog;
    try {
      // Re-reserve after every await: another put may have used the space in between.
      while (!cl.reserve(total)) await cl.ensureWritable(total);
    } catch (e) {
      return this.appendFailed(e, prepared.length);
    }
    if (this.state.phase !== 'running') return this.fail(PutMessageStatus.SERVICE_NOT_AVAILABLE, prepared.length);
    return this.appendReserved(prepared, total, t0);
  }

  private appendFailed(e: unknown, n: number): PutMessageResult {
    const code = errnoCode(e);
    this.logger.error('append failed', { error: String(e) });
    return this.fail(
      code === 'ENOSPC'
        ? PutMessageStatus.DISK_FULL
        : e instanceof Error && e.name === 'InjectedFailure'
          ? PutMessageStatus.UNKNOWN_ERROR
          : PutMessageStatus.CREATE_MAPPED_FILE_FAILED,
      n,
    );
  }

  /** Encodes the records into the reserved space, assigns offsets and dispatches; synchronous up to the flush wait. */
  private appendReserved(prepared: PreparedMessage[], total: number, t0: number): PutMessageResult | Promise<PutMessageResult> {
    const cl = this.commitLog;
    const buf = cl.tailBuf;
    let pos = cl.tailPos;
    let phy = cl.wrotePos;
    const firstPhy = phy;
    const storeTimestamp = this.now();
    const head = prepared[0] as PreparedMessage;
    const queue = this.queues.findOrCreate(head.m.topic, head.m.queueId);
    let firstQueueOffset = -1;
    let msgId = '';
    // A batch answers with its msgIds joined by commas.
    const ids: string[] | undefined = prepared.length > 1 ? [] : undefined;
    const rec = this.record;
    rec.topic = head.m.topic;
    rec.queueId = head.m.queueId;
    rec.storeTimestamp = storeTimestamp;
    for (const p of prepared) {
      const m = p.m;
      const sysFlag = m.sysFlag ?? 0;
      const tx = sysFlag & MessageSysFlag.TRANSACTION_TYPE_MASK;
      // PREPARED and ROLLBACK records get no queue offset: they never reach a consume queue.
      const queueOffset = tx !== PREPARED && tx !== ROLLBACK ? queue.maxOffset : 0;
      rec.flag = m.flag ?? 0;
      rec.queueOffset = queueOffset;
      rec.physicalOffset = phy;
      rec.sysFlag = sysFlag;
      rec.bornTimestamp = m.bornTimestamp ?? storeTimestamp;
      rec.bornHost = p.bornHost;
      rec.storeHost = p.storeHost;
      rec.reconsumeTimes = m.reconsumeTimes ?? 0;
      rec.preparedTransactionOffset = m.preparedTransactionOffset ?? 0;
      rec.body = m.body;
      rec.properties = p.props;
      rec.propertiesString = p.props;
      rec.size = p.size;
      encodeMessageRecord(buf, pos, rec, p.topicLen, p.propsLen);
      this.dispatcher.dispatch(rec, this.dispatcher.tagsCodeOf(m.topic, p.props, m.tagsCode, storeTimestamp), queue);
      if (firstQueueOffset < 0) firstQueueOffset = queueOffset;
      const id = this.msgIdOf(phy, m.storeHost);
      if (ids === undefined) msgId = id;
      else ids.push(id);
      pos += p.size;
      phy += p.size;
    }
    if (ids !== undefined) msgId = ids.join(',');
    rec.body = EMPTY_BODY; // do not pin the last request's body
    cl.commit(total, storeTimestamp);
    const stats = this.state.stats;
    stats.putCount += prepared.length;
    stats.putBytes += total;
    const result: PutMessageResult = {
      status: PutMessageStatus.PUT_OK,
      appendResult: { wroteOffset: firstPhy, wroteBytes: total, msgId, storeTimestamp, logicsOffset: firstQueueOffset, msgNum: prepared.length },
    };
    const wait = (this.config.flushDiskType === 'SYNC_FLUSH' || this.syncMaster) && this.waitFor(head.m, head.props);
    if (wait && this.config.flushDiskType === 'SYNC_FLUSH') {
      return cl.waitForFlush(phy).then((ok) => {
        if (!ok) {
          result.status = PutMessageStatus.FLUSH_DISK_TIMEOUT;
          stats.syncFlushTimeouts++;
        }
        // Flush and replica waits combine: a bad flush status wins, as in RocketMQ.
        if (this.syncMaster && ok) return this.waitForSlaves(result, phy, prepared.length, total, t0);
        if (this.probe.onPut !== undefined) this.probe.onPut(result.status, prepared.length, total, performance.now() - t0);
        return result;
      });
    }
    if (wait) return this.waitForSlaves(result, phy, prepared.length, total, t0);
    if (this.probe.onPut !== undefined) this.probe.onPut(result.status, prepared.length, total, performance.now() - t0);
    return result;
  }

  /** SYNC_MASTER: the reply waits until the slaves hold [.., end). */
  private waitForSlaves(result: PutMessageResult, end: number, n: number, bytes: number, t0: number): PutMessageResult | Promise<PutMessageResult> {
    const done = (status: PutMessageStatus): PutMessageResult => {
      result.status = status;
      if (this.probe.onPut !== undefined) this.probe.onPut(result.status, n, bytes, performance.now() - t0);
      return result;
    };
    const s = (this.ha as HAService).waitForSlaves(end);
    return typeof s === 'string' ? done(s) : s.then(done);
  }

  /** SYNC_FLUSH / SYNC_MASTER: whether the producer waits (waitStoreMsgOK, else the WAIT property). */
  private waitFor(m: PutMessageRequest, props: string): boolean {
    if (m.waitStoreMsgOK !== undefined) return m.waitStoreMsgOK;
    return findProperty(props, MessageConst.PROPERTY_WAIT_STORE_MSG_OK) !== 'false';
  }
}

/** Hex of [address][int32 port]: the fixed prefix of offset msgIds. */
function hostHex(h: SocketAddress): string {
  const b = Buffer.alloc(20);
  const n = writeSocketAddress(b, 0, h);
  return b.toString('hex', 0, n).toUpperCase();
}

/** The put's result with the timer slot time it was filed under (for the send reply's recall handle). */
function withTimerOut(r: PutMessageResult | Promise<PutMessageResult>, timerOutMs: number): PutMessageResult | Promise<PutMessageResult> {
  if (r instanceof Promise) return r.then((x) => ({ ...x, timerOutMs }));
  return { ...r, timerOutMs };
}
