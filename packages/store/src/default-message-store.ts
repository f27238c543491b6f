// File-based MessageStore: commit log + consume queues + index + checkpoint/abort, RocketMQ's layout.
import fs from 'node:fs';
import path from 'node:path';
import { MessageConst, MessageSysFlag, TopicValidator, splitKeys, type SocketAddress } from '@rocketmq-ts/common';
import {
  addressByteLength,
  checkMessageRecord,
  decodeMessageRecord,
  encodeMessageRecord,
  encodeProperties,
  findProperty,
  hex16,
  javaStringHashCode,
  MAX_PROPERTIES_LENGTH,
  MAX_TOPIC_LENGTH_V2,
  messageRecordSize,
  readInt64BE,
  readStoreTimestamp,
  type DecodedMessage,
  type MessageRecordInput,
  type RecordInfo,
  writeSocketAddress,
} from '@rocketmq-ts/protocol';
import { CommitLog } from './commitlog/commit-log.js';
import { maxRecordSize, parseDelayLevels, resolveStoreConfig, storePaths, type MessageStoreConfig } from './config.js';
import { CQ_BLANK_SIZE, CQ_UNIT_SIZE, ConsumeQueue } from './consumequeue/consume-queue.js';
import { IndexService } from './keyindex/index-service.js';
import { StoreCheckpoint } from './checkpoint.js';
import { errnoCode } from './fsutil.js';
import { consoleLogger, FailureProbes, type RecoveryReport, type StoreLogger, type StoreProbe, type StoreStats } from './probe.js';
import { GetMessageStatus, PutMessageStatus, type GetMessageResult, type PutMessageResult, type QueryMessageResult } from './status.js';
import type { DispatchEvent, MessageFilter, MessageStore, PutMessageRequest } from './message-store.js';

const PREPARED = MessageSysFlag.TRANSACTION_PREPARED_TYPE;
const ROLLBACK = MessageSysFlag.TRANSACTION_ROLLBACK_TYPE;
const DEFAULT_BORN_HOST: SocketAddress = { address: '127.0.0.1', port: 0 };
const EMPTY_BODY = Buffer.alloc(0);

/** A maybe-synchronous store call as a promise; a synchronous throw becomes a rejection. */
function settled<T>(f: () => T | Promise<T>): Promise<T> {
  try {
    return Promise.resolve(f());
  } catch (e) {
    return Promise.reject(e as Error);
  }
}

export interface DiskUsage {
  totalBytes: number;
  freeBytes: number;
}

export interface MessageStoreOptions {
  config?: Partial<MessageStoreConfig>;
  logger?: StoreLogger;
  probe?: StoreProbe;
  failures?: FailureProbes;
  /** Disk space of the commit-log volume; default fs.promises.statfs. */
  diskUsage?: (dir: string) => Promise<DiskUsage>;
  /** Wall clock for store timestamps and retention (tests). */
  now?: () => number;
}

async function statfsUsage(dir: string): Promise<DiskUsage> {
  const s = await fs.promises.statfs(dir);
  return { totalBytes: s.blocks * s.bsize, freeBytes: s.bavail * s.bsize };
}

export class DefaultMessageStore implements MessageStore {
  readonly config: MessageStoreConfig;
  readonly failures: FailureProbes;
  readonly commitLog: CommitLog;
  readonly indexService: IndexService;
  readonly checkpoint: StoreCheckpoint;
  private readonly paths: ReturnType<typeof storePaths>;
  private readonly logger: StoreLogger;
  private readonly probe: StoreProbe;
  private readonly diskUsage: (dir: string) => Promise<DiskUsage>;
  private readonly now: () => number;
  private readonly queues = new Map<string, Map<number, ConsumeQueue>>();
  private readonly listeners: ((e: DispatchEvent) => void)[] = [];
  private readonly delayLevels: number[];
  private readonly storeHostPrefix: string;
  private readonly storeHostV6: boolean;
  private readonly maxRecord: number;
  /** Reused for every record encoded (the encoder reads it synchronously). */
  private readonly recordInput: MessageRecordInput;
  private lastBornAddress = '';
  private lastTopic = '';
  private lastTopicLen = 0;
  private lastTags = '';
  private lastTagsCode = 0;
  private lastBornV6 = false;
  private state: 'new' | 'loaded' | 'running' | 'stopping' | 'stopped' = 'new';
  private diskFull = false;
  private lastUsedRatio = 0;
  private timers: NodeJS.Timeout[] = [];
  private logicsFlushing: Promise<void> | undefined;
  private cleaning: Promise<void> | undefined;
  private readonly stats: StoreStats = { putCount: 0, putBytes: 0, putFailures: 0, getCount: 0, getFoundMessages: 0, flushCount: 0, syncFlushTimeouts: 0, segmentRolls: 0, segmentsDeleted: 0 };
  recoveryReport: RecoveryReport | undefined;

  constructor(opts: MessageStoreOptions = {}) {
    this.config = resolveStoreConfig(opts.config);
    this.paths = storePaths(this.config);
    this.logger = opts.logger ?? consoleLogger;
    const userProbe = opts.probe ?? {};
    this.probe = {
      ...userProbe,
      onSegmentRoll: (o) => {
        this.stats.segmentRolls++;
        userProbe.onSegmentRoll?.(o);
      },
    };
    this.failures = opts.failures ?? new FailureProbes();
    this.diskUsage = opts.diskUsage ?? statfsUsage;
    this.now = opts.now ?? Date.now;
    this.commitLog = new CommitLog(this.config, this.failures, this.logger, this.probe);
    this.indexService = new IndexService(this.paths.index, this.config.maxHashSlotNum, this.config.maxIndexNum);
    this.checkpoint = new StoreCheckpoint(this.paths.checkpoint);
    this.delayLevels = parseDelayLevels(this.config.messageDelayLevel);
    const sh = this.config.storeHost;
    this.storeHostV6 = addressByteLength(sh.address) === 16;
    // Offset msgIds share the store-host prefix; only the offset part changes per message.
    this.storeHostPrefix = hostHex(sh);
    this.maxRecord = maxRecordSize(this.config);
    this.recordInput = {
      topic: '', queueId: 0, flag: 0, queueOffset: 0, physicalOffset: 0, sysFlag: 0,
      bornTimestamp: 0, bornHost: DEFAULT_BORN_HOST, storeTimestamp: 0, storeHost: this.config.storeHost,
      reconsumeTimes: 0, preparedTransactionOffset: 0, body: EMPTY_BODY, properties: '',
    };
  }

  // ================================================================ lifecycle

  async load(): Promise<RecoveryReport> {
    if (this.state !== 'new') throw new Error('store already loaded');
    const t0 = performance.now();
    fs.mkdirSync(this.config.storePathRootDir, { recursive: true });
    const abnormal = fs.existsSync(this.paths.abort);
    this.checkpoint.loadSync();
    this.commitLog.load();
    this.loadConsumeQueues();
    if (this.config.messageIndexEnable) this.indexService.loadSync();

    const segs = this.commitLog.segments;
    const ck = this.checkpoint;
    let from = 0;
    if (segs.length > 0) {
      const first = segs[0] as (typeof segs)[number];
      const last = segs[segs.length - 1] as (typeof segs)[number];
      if (!abnormal) {
        // Clean stop: verify only the segment holding the recorded end of data.
        const end = ck.hasExtension ? ck.physicFlushedOffset : last.startOffset;
        const seg = this.commitLog.findSegment(end) ?? last;
        from = seg.startOffset;
      } else if (ck.hasExtension) {
        from = Math.min(ck.physicFlushedOffset, ck.logicsDispatchedOffset, this.config.messageIndexEnable ? ck.indexDispatchedOffset : Number.MAX_SAFE_INTEGER);
      } else {
        const minTs = ck.minTimestamp(this.config.messageIndexEnable);
        from = first.startOffset;
        for (let i = segs.length - 1; i >= 0; i--) {
          const s = segs[i] as (typeof segs)[number];
          const ts = this.commitLog.firstStoreTimestampOf(s);
          if (ts > 0 && ts <= minTs) {
            from = s.startOffset;
            break;
          }
        }
      }
      from = Math.max(from, first.startOffset);
      // Verify whole segments, as RocketMQ does: a record before the checkpoint can still be damaged.
      from = (this.commitLog.findSegment(from) ?? last).startOffset;
    }
    const indexEnd = this.indexService.endPhyOffset;
    // After a clean stop the queues were complete up to the checkpoint: re-dispatching older
    // records would only bring back queues deleted on purpose (deleteTopics).
    const queuesEnd = !abnormal && ck.hasExtension ? ck.logicsDispatchedOffset : -1;
    let dispatched = 0;
    const scan = this.commitLog.recover(from, this.config.checkCRCOnRecover, (info) => {
      if (this.dispatchRecovered(info, indexEnd, queuesEnd)) dispatched++;
    });
    this.commitLog.startAppending(scan.logEnd);
    let cqTruncated = 0;
    for (const qs of this.queues.values()) for (const q of qs.values()) cqTruncated += q.truncateDirtySync(scan.logEnd);
    const minPhy = this.commitLog.minOffset;
    for (const qs of this.queues.values()) for (const q of qs.values()) await q.correctMinOffset(minPhy);

    const report: RecoveryReport = {
      mode: abnormal ? 'abnormal' : 'normal',
      recordsChecked: scan.recordsChecked,
      recordsDispatched: dispatched,
      bytesTruncated: scan.bytesTruncated,
      stopReason: scan.stopReason,
      scanFromOffset: from,
      maxPhyOffset: scan.logEnd,
      consumeQueueUnitsTruncated: cqTruncated,
      durationMs: Math.round((performance.now() - t0) * 1000) / 1000,
    };
    this.recoveryReport = report;
    (report.bytesTruncated > 0 || report.stopReason !== '' ? this.logger.warn : this.logger.info).call(this.logger, 'store recovered', { ...report });
    this.probe.onRecovery?.(report);
    this.state = 'loaded';
    return report;
  }

  private loadConsumeQueues(): void {
    const root = this.paths.consumeQueue;
    if (!fs.existsSync(root)) return;
    for (const topic of fs.readdirSync(root)) {
      const tdir = path.join(root, topic);
      if (!fs.statSync(tdir).isDirectory()) continue;
      for (const qid of fs.readdirSync(tdir)) {
        if (!/^\d+$/.test(qid)) continue;
        const q = this.findOrCreateQueue(topic, Number(qid));
        q.loadSync();
      }
    }
  }

  async start(): Promise<void> {
    if (this.state !== 'loaded') throw new Error('load() the store before start()');
    // The abort file marks a running store; it stays empty (RocketMQ's is empty too), so it can be
    // created on a full disk.
    fs.closeSync(fs.openSync(this.paths.abort, 'w'));
    const t0 = performance.now();
    try {
      const seg = await this.commitLog.activateFirstSegment();
      if (seg !== undefined) this.logger.info('first commit-log segment allocated', { path: seg.path, size: seg.size, ms: Math.round(performance.now() - t0) });
    } catch (e) {
      // A full disk: start anyway (reads work, writes are refused); the next put retries.
      this.logger.error('cannot allocate the first commit-log segment', { error: String(e) });
    }
    this.commitLog.start();
    this.timers.push(setInterval(() => void this.flushLogics().catch((e: unknown) => this.logger.error('logics flush failed', { error: String(e) })), this.config.flushIntervalConsumeQueue));
    this.timers.push(setInterval(() => void this.runCleanup().catch((e: unknown) => this.logger.error('cleanup failed', { error: String(e) })), this.config.cleanResourceInterval));
    for (const t of this.timers) t.unref();
    await this.checkDisk();
    this.state = 'running';
  }

  async shutdown(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping') return;
    const wasRunning = this.state === 'running';
    this.state = 'stopping';
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.cleaning?.catch(() => undefined);
    await this.commitLog.shutdown();
    let clean = this.commitLog.ioError === undefined;
    try {
      await this.flushLogics();
    } catch (e) {
      clean = false;
      this.logger.error('final flush failed', { error: String(e) });
    }
    await this.checkpoint.close();
    for (const qs of this.queues.values()) for (const q of qs.values()) await q.close();
    await this.indexService.close();
    // The abort file stays when anything failed, so the next start runs abnormal recovery.
    if (clean && wasRunning) fs.rmSync(this.paths.abort, { force: true });
    this.state = 'stopped';
  }

  /** Flushes consume queues and index, then records progress in the checkpoint. */
  flushLogics(): Promise<void> {
    if (this.logicsFlushing !== undefined) return this.logicsFlushing.then(() => this.flushLogics());
    const run = (async () => {
      const cl = this.commitLog;
      const dispatchedTo = cl.wrotePos; // dispatch is synchronous with append
      const dispatchedTs = cl.lastStoreTimestamp;
      const t0 = performance.now();
      let cqBytes = 0;
      for (const qs of this.queues.values()) for (const q of qs.values()) cqBytes += await q.flush();
      if (cqBytes > 0) this.probe.onFlush?.('consumequeue', cqBytes, performance.now() - t0);
      const t1 = performance.now();
      const idxBytes = this.config.messageIndexEnable ? await this.indexService.flush() : 0;
      if (idxBytes > 0) this.probe.onFlush?.('index', idxBytes, performance.now() - t1);
      const ck = this.checkpoint;
      const flushed = cl.flushedPos;
      ck.physicMsgTimestamp = cl.flushedStoreTimestamp || ck.physicMsgTimestamp;
      ck.physicFlushedOffset = flushed;
      // A unit is only trustworthy with its record durable too, hence the min with the flushed log.
      const logicsOffset = Math.min(dispatchedTo, flushed);
      ck.logicsDispatchedOffset = logicsOffset;
      ck.indexDispatchedOffset = logicsOffset;
      if (dispatchedTs > 0) {
        const ts = logicsOffset === dispatchedTo ? dispatchedTs : ck.physicMsgTimestamp;
        ck.logicsMsgTimestamp = ts;
        ck.indexMsgTimestamp = ts;
      }
      await ck.flush();
      this.stats.flushCount++;
    })();
    this.logicsFlushing = run.finally(() => {
      this.logicsFlushing = undefined;
    });
    return this.logicsFlushing;
  }

  // ================================================================ put

  private findOrCreateQueue(topic: string, queueId: number): ConsumeQueue {
    let qs = this.queues.get(topic);
    if (qs === undefined) {
      qs = new Map();
      this.queues.set(topic, qs);
    }
    let q = qs.get(queueId);
    if (q === undefined) {
      q = new ConsumeQueue(topic, queueId, this.paths.consumeQueue, this.config.mappedFileSizeConsumeQueue);
      qs.set(queueId, q);
    }
    return q;
  }

  private findQueue(topic: string, queueId: number): ConsumeQueue | undefined {
    return this.queues.get(topic)?.get(queueId);
  }

  /**
   * Drops topics' consume queues, in memory and on disk, so a topic created again starts empty.
   * Their commit-log records stay until retention removes them. Returns how many topics had queues.
   */
  async deleteTopics(topics: Iterable<string>): Promise<number> {
    let n = 0;
    for (const topic of topics) {
      const qs = this.queues.get(topic);
      this.queues.delete(topic);
      if (qs !== undefined) {
        n++;
        for (const q of qs.values()) await q.close();
      }
      await fs.promises.rm(path.join(this.paths.consumeQueue, topic), { recursive: true, force: true });
    }
    return n;
  }

  private refusePut(): PutMessageStatus | undefined {
    if (this.state !== 'running') return PutMessageStatus.SERVICE_NOT_AVAILABLE;
    if (this.diskFull) return PutMessageStatus.DISK_FULL;
    if (this.commitLog.ioError !== undefined) return errnoCode(this.commitLog.ioError) === 'ENOSPC' ? PutMessageStatus.DISK_FULL : PutMessageStatus.SERVICE_NOT_AVAILABLE;
    return undefined;
  }

  private bornHostIsV6(h: SocketAddress): boolean {
    if (h.address !== this.lastBornAddress) {
      this.lastBornAddress = h.address;
      this.lastBornV6 = addressByteLength(h.address) === 16;
    }
    return this.lastBornV6;
  }

  private tagsCodeOf(topic: string, props: string, tagsOverride: number | undefined, storeTimestamp: number): number {
    if (tagsOverride !== undefined) return tagsOverride;
    if (topic === TopicValidator.RMQ_SYS_SCHEDULE_TOPIC) {
      const lvl = findProperty(props, MessageConst.PROPERTY_DELAY_TIME_LEVEL);
      if (lvl !== undefined) {
        const n = Math.min(Math.max(Number.parseInt(lvl, 10) || 1, 1), this.delayLevels.length);
        return storeTimestamp + (this.delayLevels[n - 1] ?? 0);
      }
    }
    const tags = findProperty(props, MessageConst.PROPERTY_TAGS);
    if (tags === undefined || tags.length === 0) return 0;
    if (tags !== this.lastTags) {
      this.lastTags = tags;
      this.lastTagsCode = javaStringHashCode(tags);
    }
    return this.lastTagsCode;
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

  putMessage(msg: PutMessageRequest): Promise<PutMessageResult> {
    return settled(() => this.putPrepared([msg])).then(this.afterWritten);
  }

  putMessages(msgs: readonly PutMessageRequest[]): Promise<PutMessageResult> {
    return settled(() => this.putMessagesNow(msgs)).then(this.afterWritten);
  }

  /** The promise forms resolve once the records are in the files (handed to the OS), never before. */
  private readonly afterWritten = (r: PutMessageResult): PutMessageResult | Promise<PutMessageResult> => {
    const a = r.appendResult;
    if (a === undefined) return r;
    const end = a.wroteOffset + a.wroteBytes;
    if (this.commitLog.writtenPos >= end) return r;
    return this.commitLog.whenWritten(end).then((ok) => (ok ? r : { ...r, status: PutMessageStatus.UNKNOWN_ERROR }));
  };

  /**
   * Hands every record appended so far to the OS (synchronous writes into the page cache). After
   * this a process crash loses none of them. Callers of putMessageNow / putMessagesNow call it
   * before acknowledging, once per batch of replies (the broker: before each socket write of
   * replies). False when appended records could not be written: do not acknowledge them.
   */
  writeAppended(): boolean {
    return this.commitLog.writeAppendedSync();
  }

  /**
   * putMessage without a promise when the outcome is known at once (the usual ASYNC_FLUSH case:
   * room in the tail, nothing to wait for); a promise when it has to wait (segment roll, group
   * commit). Saves the broker's send path a promise chain per message. Unlike putMessage, a
   * PUT_OK here (outside SYNC_FLUSH) only means "appended in memory": call writeAppended()
   * before acknowledging it.
   */
  putMessageNow(msg: PutMessageRequest): PutMessageResult | Promise<PutMessageResult> {
    return this.putPrepared([msg]);
  }

  /** putMessages in the same maybe-synchronous form as putMessageNow. */
  putMessagesNow(msgs: readonly PutMessageRequest[]): PutMessageResult | Promise<PutMessageResult> {
    if (msgs.length === 0) return this.fail(PutMessageStatus.MESSAGE_ILLEGAL, 0);
    const first = msgs[0] as PutMessageRequest;
    for (const m of msgs) if (m.topic !== first.topic || m.queueId !== first.queueId) return this.fail(PutMessageStatus.MESSAGE_ILLEGAL, msgs.length);
    return this.putPrepared(msgs);
  }

  private fail(status: PutMessageStatus, n: number): PutMessageResult {
    this.stats.putFailures += Math.max(1, n);
    this.probe.onPut?.(status, n, 0, 0);
    return { status };
  }

  private putPrepared(msgs: readonly PutMessageRequest[]): PutMessageResult | Promise<PutMessageResult> {
    const t0 = this.probe.onPut !== undefined ? performance.now() : 0;
    const refused = this.refusePut();
    if (refused !== undefined) return this.fail(refused, msgs.length);
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

  /** The tail has no room (or no segment yet): roll or create one, then append. */
  private async putAfterRoll(prepared: PreparedMessage[], total: number, t0: number): Promise<PutMessageResult> {
    const cl = this.commitLog;
    try {
      // Re-reserve after every await: another put may have used the space in between.
      while (!cl.reserve(total)) await cl.ensureWritable(total);
    } catch (e) {
      return this.appendFailed(e, prepared.length);
    }
    if (this.state !== 'running') return this.fail(PutMessageStatus.SERVICE_NOT_AVAILABLE, prepared.length);
    return this.appendReserved(prepared, total, t0);
  }

  private appendFailed(e: unknown, n: number): PutMessageResult {
    const code = errnoCode(e);
    this.logger.error('append failed', { error: String(e) });
    return this.fail(code === 'ENOSPC' ? PutMessageStatus.DISK_FULL : e instanceof Error && e.name === 'InjectedFailure' ? PutMessageStatus.UNKNOWN_ERROR : PutMessageStatus.CREATE_MAPPED_FILE_FAILED, n);
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
    const queue = this.findOrCreateQueue(head.m.topic, head.m.queueId);
    let firstQueueOffset = -1;
    let msgId = '';
    // A batch answers with its msgIds joined by commas.
    const ids: string[] | undefined = prepared.length > 1 ? [] : undefined;
    const input = this.recordInput;
    input.topic = head.m.topic;
    input.queueId = head.m.queueId;
    input.storeTimestamp = storeTimestamp;
    for (const p of prepared) {
      const m = p.m;
      const sysFlag = m.sysFlag ?? 0;
      const tx = sysFlag & MessageSysFlag.TRANSACTION_TYPE_MASK;
      const toQueue = tx !== PREPARED && tx !== ROLLBACK;
      const queueOffset = toQueue ? queue.maxOffset : 0;
      input.flag = m.flag ?? 0;
      input.queueOffset = queueOffset;
      input.physicalOffset = phy;
      input.sysFlag = sysFlag;
      input.bornTimestamp = m.bornTimestamp ?? storeTimestamp;
      input.bornHost = p.bornHost;
      input.storeHost = p.storeHost;
      input.reconsumeTimes = m.reconsumeTimes ?? 0;
      input.preparedTransactionOffset = m.preparedTransactionOffset ?? 0;
      input.body = m.body;
      input.properties = p.props;
      encodeMessageRecord(buf, pos, input, p.topicLen, p.propsLen);
      const tagsCode = this.tagsCodeOf(m.topic, p.props, m.tagsCode, storeTimestamp);
      if (toQueue) queue.putAt(queueOffset, phy, p.size, tagsCode);
      if (firstQueueOffset < 0) firstQueueOffset = queueOffset;
      if (this.config.messageIndexEnable && tx !== ROLLBACK) this.indexKeys(m.topic, p.props, phy, storeTimestamp);
      if (toQueue && this.listeners.length > 0) this.emit({ topic: m.topic, queueId: m.queueId, queueOffset, tagsCode, commitLogOffset: phy, msgSize: p.size, storeTimestamp, propertiesString: p.props });
      const id = this.msgIdOf(phy, m.storeHost);
      if (ids === undefined) msgId = id;
      else ids.push(id);
      pos += p.size;
      phy += p.size;
    }
    if (ids !== undefined) msgId = ids.join(',');
    input.body = EMPTY_BODY; // do not pin the last request's body
    cl.commit(total, storeTimestamp);
    this.stats.putCount += prepared.length;
    this.stats.putBytes += total;
    const result: PutMessageResult = {
      status: PutMessageStatus.PUT_OK,
      appendResult: { wroteOffset: firstPhy, wroteBytes: total, msgId, storeTimestamp, logicsOffset: firstQueueOffset, msgNum: prepared.length },
    };
    if (this.config.flushDiskType === 'SYNC_FLUSH' && this.waitFor(head.m, head.props)) {
      return cl.waitForFlush(phy).then((ok) => {
        if (!ok) {
          result.status = PutMessageStatus.FLUSH_DISK_TIMEOUT;
          this.stats.syncFlushTimeouts++;
        }
        if (this.probe.onPut !== undefined) this.probe.onPut(result.status, prepared.length, total, performance.now() - t0);
        return result;
      });
    }
    if (this.probe.onPut !== undefined) this.probe.onPut(result.status, prepared.length, total, performance.now() - t0);
    return result;
  }

  private waitFor(m: PutMessageRequest, props: string): boolean {
    if (m.waitStoreMsgOK !== undefined) return m.waitStoreMsgOK;
    return findProperty(props, MessageConst.PROPERTY_WAIT_STORE_MSG_OK) !== 'false';
  }

  private indexKeys(topic: string, props: string, phy: number, storeTimestamp: number): void {
    if (props.length === 0) return;
    const uniq = findProperty(props, MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX);
    if (uniq !== undefined) this.indexService.putKey(topic, uniq, phy, storeTimestamp);
    const keys = findProperty(props, MessageConst.PROPERTY_KEYS);
    if (keys !== undefined) for (const k of splitKeys(keys)) this.indexService.putKey(topic, k, phy, storeTimestamp);
  }

  private emit(e: DispatchEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch (err) {
        this.logger.error('dispatch listener failed', { error: String(err) });
      }
    }
  }

  /** The dispatcher for records read back from the log (recovery, replication). */
  private dispatchRecovered(info: RecordInfo, indexEnd: number, queuesEnd = -1): boolean {
    const tx = info.sysFlag & MessageSysFlag.TRANSACTION_TYPE_MASK;
    let added = false;
    const tagsCode = this.tagsCodeOf(info.topic, info.propertiesString, undefined, info.storeTimestamp);
    if (tx !== PREPARED && tx !== ROLLBACK && info.physicalOffset >= queuesEnd) {
      added = this.findOrCreateQueue(info.topic, info.queueId).putAt(info.queueOffset, info.physicalOffset, info.size, tagsCode);
      if (added && this.listeners.length > 0) {
        this.emit({ topic: info.topic, queueId: info.queueId, queueOffset: info.queueOffset, tagsCode, commitLogOffset: info.physicalOffset, msgSize: info.size, storeTimestamp: info.storeTimestamp, propertiesString: info.propertiesString });
      }
    }
    if (this.config.messageIndexEnable && tx !== ROLLBACK && info.physicalOffset > indexEnd) {
      this.indexKeys(info.topic, info.propertiesString, info.physicalOffset, info.storeTimestamp);
      added = true;
    }
    return added;
  }

  onDispatch(listener: (e: DispatchEvent) => void): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  async appendRawCommitLog(offset: number, data: Buffer): Promise<boolean> {
    if (this.state !== 'running' || offset !== this.commitLog.wrotePos) return false;
    // Verify before anything becomes visible: the chunk must hold whole records and blanks only.
    const infos: RecordInfo[] = [];
    let p = 0;
    const segSize = this.config.mappedFileSizeCommitLog;
    while (p < data.length) {
      const r = checkMessageRecord(data, p, data.length, { checkCRC: true, expectedPhysicalOffset: offset + p });
      if (r.kind === 'record') {
        infos.push(r.info);
        p += r.info.size;
      } else if (r.kind === 'blank' && (offset + p + r.size) % segSize === 0 && p + 8 <= data.length) {
        p = Math.min(data.length, p + r.size);
      } else {
        return false;
      }
    }
    await this.commitLog.appendRaw(offset, data);
    for (const info of infos) {
      this.dispatchRecovered(info, -1);
      this.commitLog.lastStoreTimestamp = info.storeTimestamp;
    }
    return true;
  }

  // ================================================================ get

  async getMessage(_group: string, topic: string, queueId: number, offset: number, maxMsgNums: number, maxBytes = 256 * 1024 * 1024, filter?: MessageFilter): Promise<GetMessageResult> {
    this.stats.getCount++;
    const res: GetMessageResult = { status: GetMessageStatus.NO_MESSAGE_IN_QUEUE, nextBeginOffset: offset, minOffset: 0, maxOffset: 0, messageBuffers: [], messageQueueOffsets: [], bufferTotalSize: 0 };
    const q = this.findQueue(topic, queueId);
    if (q === undefined || this.state === 'stopped') {
      res.status = GetMessageStatus.NO_MATCHED_LOGIC_QUEUE;
      res.nextBeginOffset = 0;
      return this.gotten(res);
    }
    const min = q.minOffset;
    const max = q.maxOffset;
    res.minOffset = min;
    res.maxOffset = max;
    if (max === 0) {
      res.status = GetMessageStatus.NO_MESSAGE_IN_QUEUE;
      res.nextBeginOffset = 0;
    } else if (offset < min) {
      res.status = GetMessageStatus.OFFSET_TOO_SMALL;
      res.nextBeginOffset = min;
    } else if (offset === max) {
      res.status = GetMessageStatus.OFFSET_OVERFLOW_ONE;
      res.nextBeginOffset = offset;
    } else if (offset > max) {
      res.status = GetMessageStatus.OFFSET_OVERFLOW_BADLY;
      res.nextBeginOffset = max;
    } else {
      await this.readQueue(q, offset, maxMsgNums, maxBytes, filter, res);
    }
    return this.gotten(res);
  }

  private gotten(res: GetMessageResult): GetMessageResult {
    this.stats.getFoundMessages += res.messageBuffers.length;
    this.probe.onGet?.(res.status, res.messageBuffers.length, res.bufferTotalSize);
    return res;
  }

  private async readQueue(q: ConsumeQueue, offset: number, maxMsgNums: number, maxBytes: number, filter: MessageFilter | undefined, res: GetMessageResult): Promise<void> {
    const MAX_FILTER_SCAN = 16000;
    const minPhy = this.commitLog.minOffset;
    let next = offset;
    let sawRemoved = false;
    let scanned = 0;
    let span: Buffer | undefined;
    let spanStart = 0;
    outer: while (res.messageBuffers.length < maxMsgNums && next < q.maxOffset && scanned < MAX_FILTER_SCAN) {
      const units = await q.readUnits(next, Math.max(32, maxMsgNums));
      if (units === undefined || units.length === 0) {
        sawRemoved = true; // the file went away under us (retention)
        break;
      }
      const n = units.length / CQ_UNIT_SIZE;
      for (let i = 0; i < n; i++) {
        const at = i * CQ_UNIT_SIZE;
        const phy = readInt64BE(units, at);
        const size = units.readInt32BE(at + 8);
        const tagsCode = readInt64BE(units, at + 12);
        if (res.messageBuffers.length > 0 && res.bufferTotalSize + size > maxBytes) break outer;
        next++;
        scanned++;
        if (size === CQ_BLANK_SIZE) continue;
        if (phy < minPhy) {
          sawRemoved = true;
          continue;
        }
        if (filter !== undefined && !filter.isMatchedByConsumeQueue(tagsCode)) continue;
        let rec: Buffer | undefined;
        if (span !== undefined && phy >= spanStart && phy + size <= spanStart + span.length) {
          rec = span.subarray(phy - spanStart, phy - spanStart + size);
        } else {
          // One copy (from the cached tail) or one positional read for this record and the ones
          // close behind it in this batch.
          const len = this.spanLength(units, i, n, phy, maxMsgNums - res.messageBuffers.length, maxBytes - res.bufferTotalSize);
          span = this.commitLog.readFromMemory(phy, len) ?? (await this.commitLog.read(phy, len));
          spanStart = phy;
          rec = span?.subarray(0, size);
        }
        if (rec === undefined || rec.length < 4 || rec.readInt32BE(0) !== size) {
          sawRemoved = true;
          continue;
        }
        if (filter?.isMatchedByCommitLog !== undefined && !filter.isMatchedByCommitLog(rec)) continue;
        res.messageBuffers.push(rec);
        res.messageQueueOffsets.push(next - 1);
        res.bufferTotalSize += size;
        if (res.messageBuffers.length >= maxMsgNums) break outer;
      }
    }
    res.nextBeginOffset = next;
    if (res.messageBuffers.length > 0) res.status = GetMessageStatus.FOUND;
    else if (sawRemoved) res.status = GetMessageStatus.MESSAGE_WAS_REMOVING;
    else if (next > offset) res.status = GetMessageStatus.NO_MATCHED_MESSAGE;
    else res.status = GetMessageStatus.OFFSET_FOUND_NULL;
  }

  /**
   * Bytes to read from `phy` so that one read covers unit i and the following units of this batch
   * whose records lie close behind it in the same segment: up to 4 MiB, stopping at a gap of more
   * than 64 KiB (other queues' records in between) or when the pull is full.
   */
  private spanLength(units: Buffer, i: number, n: number, phy: number, msgsLeft: number, bytesLeft: number): number {
    const SPAN_MAX = 4 * 1024 * 1024;
    const GAP_MAX = 64 * 1024;
    const seg = this.commitLog.findSegment(phy);
    const segEnd = seg === undefined ? phy : seg.startOffset + seg.size;
    let end = phy + units.readInt32BE(i * CQ_UNIT_SIZE + 8);
    let msgs = 1;
    for (let j = i + 1; j < n && msgs < msgsLeft; j++) {
      const at = j * CQ_UNIT_SIZE;
      const size = units.readInt32BE(at + 8);
      if (size === CQ_BLANK_SIZE) continue;
      const p = readInt64BE(units, at);
      if (p < end || p - end > GAP_MAX || p + size > segEnd || p + size - phy > SPAN_MAX || p + size - phy > bytesLeft) break;
      end = p + size;
      msgs++;
    }
    return end - phy;
  }

  getMaxOffsetInQueue(topic: string, queueId: number): number {
    return this.findQueue(topic, queueId)?.maxOffset ?? 0;
  }

  getMinOffsetInQueue(topic: string, queueId: number): number {
    return this.findQueue(topic, queueId)?.minOffset ?? 0;
  }

  async getCommitLogOffsetInQueue(topic: string, queueId: number, cqOffset: number): Promise<number> {
    const u = await this.findQueue(topic, queueId)?.getUnit(cqOffset);
    return u === undefined ? -1 : u.phyOffset;
  }

  async getMessageStoreTimeStamp(topic: string, queueId: number, cqOffset: number): Promise<number> {
    const u = await this.findQueue(topic, queueId)?.getUnit(cqOffset);
    if (u === undefined || u.size === CQ_BLANK_SIZE) return -1;
    return this.storeTimestampAt(u.phyOffset, u.size);
  }

  private async storeTimestampAt(phy: number, size: number): Promise<number> {
    const rec = this.commitLog.readFromMemory(phy, size) ?? (await this.commitLog.read(phy, Math.min(size, 128)));
    if (rec === undefined || rec.length < 72) return -1;
    return readStoreTimestamp(rec, 0);
  }

  /**
   * 'lower' (default): the first offset stored at or after `timestamp` (the max offset when every
   * message is older). 'upper': the last offset stored at or before it (the min offset when every
   * message is newer), as RocketMQ's BoundaryType.
   */
  async getOffsetInQueueByTime(topic: string, queueId: number, timestamp: number, boundary: 'lower' | 'upper' = 'lower'): Promise<number> {
    const q = this.findQueue(topic, queueId);
    if (q === undefined) return 0;
    const min = q.minOffset;
    let lo = min;
    let hi = q.maxOffset;
    const minPhy = this.commitLog.minOffset;
    // First offset whose store time is >= timestamp (lower) or > timestamp (upper).
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const u = await q.getUnit(mid);
      let ts = -1;
      if (u !== undefined && u.size !== CQ_BLANK_SIZE && u.phyOffset >= minPhy) ts = await this.storeTimestampAt(u.phyOffset, u.size);
      if (boundary === 'upper' ? ts > timestamp : ts >= timestamp) hi = mid;
      else lo = mid + 1;
    }
    return boundary === 'upper' ? Math.max(lo - 1, min) : lo;
  }

  async getEarliestMessageTime(topic?: string, queueId?: number): Promise<number> {
    if (topic !== undefined && queueId !== undefined) {
      const q = this.findQueue(topic, queueId);
      if (q === undefined) return -1;
      return this.getMessageStoreTimeStamp(topic, queueId, q.minOffset);
    }
    const min = this.commitLog.minOffset;
    if (min >= this.commitLog.wrotePos) return -1;
    return this.storeTimestampAt(min, 128);
  }

  async selectOneMessageByOffset(commitLogOffset: number, size?: number): Promise<Buffer | undefined> {
    if (commitLogOffset < this.commitLog.minOffset || commitLogOffset >= this.commitLog.wrotePos) return undefined;
    let sz = size;
    if (sz === undefined) {
      const head = this.commitLog.readFromMemory(commitLogOffset, 8) ?? (await this.commitLog.read(commitLogOffset, 8));
      if (head === undefined) return undefined;
      sz = head.readInt32BE(0);
      if (sz <= 8 || commitLogOffset + sz > this.commitLog.wrotePos) return undefined;
    }
    return this.commitLog.readFromMemory(commitLogOffset, sz) ?? (await this.commitLog.read(commitLogOffset, sz));
  }

  async lookMessageByOffset(commitLogOffset: number): Promise<DecodedMessage | undefined> {
    const rec = await this.selectOneMessageByOffset(commitLogOffset);
    if (rec === undefined) return undefined;
    try {
      return decodeMessageRecord(rec, 0);
    } catch {
      return undefined;
    }
  }

  async queryMessage(topic: string, key: string, maxNum: number, begin: number, end: number): Promise<QueryMessageResult> {
    const res: QueryMessageResult = { messageBuffers: [], indexLastUpdateTimestamp: 0, indexLastUpdatePhyoffset: 0, bufferTotalSize: 0 };
    if (!this.config.messageIndexEnable) return res;
    const lu = this.indexService.lastUpdate;
    res.indexLastUpdateTimestamp = lu.timestamp;
    res.indexLastUpdatePhyoffset = lu.phyOffset;
    const offsets = await this.indexService.query(topic, key, maxNum, begin, end);
    const seen = new Set<number>();
    for (const off of offsets) {
      if (seen.has(off)) continue;
      seen.add(off);
      const rec = await this.selectOneMessageByOffset(off);
      if (rec === undefined) continue;
      // Hash collisions and stale entries are filtered here by the real topic and key.
      const r = checkMessageRecord(rec, 0, rec.length, { expectedPhysicalOffset: off });
      if (r.kind !== 'record' || r.info.topic !== topic) continue;
      const props = r.info.propertiesString;
      const keys = splitKeys(findProperty(props, MessageConst.PROPERTY_KEYS));
      if (findProperty(props, MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX) !== key && !keys.includes(key)) continue;
      res.messageBuffers.push(rec);
      res.bufferTotalSize += rec.length;
    }
    return res;
  }

  queryMessageByUniqKey(topic: string, uniqKey: string, begin = 0, end = Number.MAX_SAFE_INTEGER): Promise<QueryMessageResult> {
    return this.queryMessage(topic, uniqKey, 32, begin, end);
  }

  getMinPhyOffset(): number {
    return this.commitLog.minOffset;
  }

  getMaxPhyOffset(): number {
    return this.commitLog.wrotePos;
  }

  // ================================================================ retention & disk

  private async checkDisk(): Promise<number> {
    try {
      const u = await this.diskUsage(this.config.storePathCommitLog);
      const ratio = u.totalBytes > 0 ? (u.totalBytes - u.freeBytes) / u.totalBytes : 0;
      this.lastUsedRatio = ratio;
      const full = ratio * 100 >= this.config.diskSpaceWarningLevelRatio || u.freeBytes < this.config.mappedFileSizeCommitLog;
      if (full !== this.diskFull) (full ? this.logger.error : this.logger.info).call(this.logger, full ? 'disk nearly full: refusing writes' : 'disk space back to normal', { usedRatio: ratio, freeBytes: u.freeBytes });
      this.diskFull = full;
      this.probe.onDiskUsage?.(ratio, u.freeBytes);
      return ratio;
    } catch (e) {
      this.logger.warn('disk usage check failed', { error: String(e) });
      return this.lastUsedRatio;
    }
  }

  /** One retention pass (also run on a timer). `force` deletes expired files at any hour. */
  runCleanup(opts: { force?: boolean } = {}): Promise<void> {
    if (this.cleaning !== undefined) return this.cleaning;
    this.cleaning = this.doCleanup(opts.force === true).finally(() => {
      this.cleaning = undefined;
    });
    return this.cleaning;
  }

  private isDeleteHour(now: number): boolean {
    const h = new Date(now).getHours();
    return this.config.deleteWhen.split(';').some((x) => x.trim() !== '' && Number(x) === h);
  }

  private async doCleanup(manual: boolean): Promise<void> {
    const ratio = (await this.checkDisk()) * 100;
    const now = this.now();
    const forcibly = ratio >= this.config.diskSpaceCleanForciblyRatio;
    const due = manual || this.isDeleteHour(now) || ratio >= this.config.diskMaxUsedSpaceRatio;
    if (!due && !forcibly) return;
    const keepMs = this.config.fileReservedTime * 3600_000;
    let deleted = 0;
    for (const seg of this.commitLog.deletableSegments()) {
      if (deleted >= this.config.deleteFilesBatchMax) break;
      let expired: boolean;
      try {
        const st = await fs.promises.stat(seg.path);
        expired = now - st.mtimeMs >= keepMs;
      } catch {
        expired = true;
      }
      if (!expired && !forcibly) break; // segments age in order: stop at the first young one
      await this.commitLog.deleteSegment(seg);
      deleted++;
    }
    if (deleted > 0) {
      this.stats.segmentsDeleted += deleted;
      this.probe.onCleanup?.('commitlog', deleted);
      this.logger.info('deleted commit-log segments', { count: deleted, minOffset: this.commitLog.minOffset, forcibly });
      if (forcibly) await this.checkDisk();
    }
    const minPhy = this.commitLog.minOffset;
    let cqDeleted = 0;
    for (const qs of this.queues.values()) for (const q of qs.values()) cqDeleted += await q.deleteExpiredFiles(minPhy);
    if (cqDeleted > 0) this.probe.onCleanup?.('consumequeue', cqDeleted);
    if (this.config.messageIndexEnable) {
      const n = await this.indexService.deleteExpired(minPhy);
      if (n > 0) this.probe.onCleanup?.('index', n);
    }
  }

  // ================================================================ info

  getStats(): StoreStats {
    return { ...this.stats };
  }

  getRuntimeInfo(): Record<string, number | string> {
    const cl = this.commitLog;
    let queues = 0;
    for (const qs of this.queues.values()) queues += qs.size;
    return {
      state: this.state,
      commitLogMinOffset: cl.minOffset,
      commitLogMaxOffset: cl.wrotePos,
      commitLogWrittenOffset: cl.writtenPos,
      commitLogFlushedOffset: cl.flushedPos,
      flushBehindBytes: cl.wrotePos - cl.flushedPos,
      commitLogSegments: cl.segments.length,
      consumeQueues: queues,
      indexFiles: this.indexService.files.length,
      diskUsedRatio: this.lastUsedRatio,
      diskFull: this.diskFull ? 'true' : 'false',
      ...Object.fromEntries(Object.entries(this.stats)),
    };
  }
}

interface PreparedMessage {
  m: PutMessageRequest;
  props: string;
  topicLen: number;
  propsLen: number;
  size: number;
  bornHost: SocketAddress;
  storeHost: SocketAddress;
}

/** Hex of [address][int32 port]: the fixed prefix of offset msgIds. */
function hostHex(h: SocketAddress): string {
  const b = Buffer.alloc(20);
  const n = writeSocketAddress(b, 0, h);
  return b.toString('hex', 0, n).toUpperCase();
}
