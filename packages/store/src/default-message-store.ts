// File-based MessageStore, RocketMQ's layout: the façade that builds the store's parts, runs their
// lifecycle and hands each call to the part that owns it (README.md has the map).
import fs from 'node:fs';
import type { DecodedMessage } from '@rocketmq-ts/protocol';
import { StoreCheckpoint } from './checkpoint.js';
import { CleanService, statfsUsage, type DiskUsage } from './clean-service.js';
import { CommitLog } from './commitlog/commit-log.js';
import { CommitLogDispatcher } from './commit-log-dispatcher.js';
import { parseDelayLevels, resolveStoreConfig, storePaths, type MessageStoreConfig } from './config.js';
import { ConsumeQueueTable } from './consumequeue/consume-queue-table.js';
import { FlushLogicsService } from './flush-logics-service.js';
import { HAClient } from './ha/ha-client.js';
import { HAService } from './ha/ha-service.js';
import { RawCommitLogAppender } from './ha/raw-append.js';
import { IndexService } from './keyindex/index-service.js';
import { MessageAppender } from './message-appender.js';
import { MessageReader } from './message-reader.js';
import type { DispatchEvent, GetMessageOptions, HAStatus, MessageFilter, MessageStore, PutMessageRequest } from './message-store.js';
import { consoleLogger, FailureProbes, type RecoveryReport, type StoreLogger, type StoreProbe, type StoreStats } from './probe.js';
import type { GetMessageResult, PutMessageResult, QueryMessageResult } from './status.js';
import { StoreState } from './store-state.js';
import { StoreRecovery } from './store-recovery.js';
import { TimerMessageStore } from './timer/timer-message-store.js';
import { TimerPutHook } from './timer/timer-put-hook.js';

export type { DiskUsage } from './clean-service.js';

export interface MessageStoreOptions {
  config?: Partial<MessageStoreConfig>;
  logger?: StoreLogger;
  probe?: StoreProbe;
  failures?: FailureProbes;
  /** Disk space of the commit-log volume; default fs.promises.statfs. */
  diskUsage?: (dir: string) => Promise<DiskUsage>;
  /** Wall clock for store timestamps and retention (tests). */
  now?: () => number;
  /** Interface the master's HA listener binds to (default 0.0.0.0). */
  haBindAddress?: string;
}

/** A maybe-synchronous store call as a promise; a synchronous throw becomes a rejection. */
function settled<T>(f: () => T | Promise<T>): Promise<T> {
  try {
    return Promise.resolve(f());
  } catch (e) {
    return Promise.reject(e as Error);
  }
}

export class DefaultMessageStore implements MessageStore {
  readonly config: MessageStoreConfig;
  readonly failures: FailureProbes;
  readonly commitLog: CommitLog;
  readonly consumeQueueTable: ConsumeQueueTable;
  readonly indexService: IndexService;
  readonly checkpoint: StoreCheckpoint;
  private readonly abortFile: string;
  private readonly logger: StoreLogger;
  private readonly state = new StoreState();
  private readonly dispatcher: CommitLogDispatcher;
  private readonly recovery: StoreRecovery;
  private readonly appender: MessageAppender;
  private readonly reader: MessageReader;
  private readonly flushLogicsService: FlushLogicsService;
  private readonly cleanService: CleanService;
  private readonly rawAppender: RawCommitLogAppender;
  private readonly haService: HAService | undefined;
  private readonly haClient: HAClient | undefined;
  private readonly haBindAddress: string;
  private report: RecoveryReport | undefined;
  /** Timer messages; undefined when timerWheelEnable is off. */
  readonly timerMessageStore: TimerMessageStore | undefined;

  constructor(opts: MessageStoreOptions = {}) {
    const config = resolveStoreConfig(opts.config);
    this.config = config;
    const paths = storePaths(config);
    this.abortFile = paths.abort;
    const logger = opts.logger ?? consoleLogger;
    this.logger = logger;
    const userProbe = opts.probe ?? {};
    const stats = this.state.stats;
    const probe: StoreProbe = {
      ...userProbe,
      onSegmentRoll: (o) => {
        stats.segmentRolls++;
        userProbe.onSegmentRoll?.(o);
      },
    };
    const failures = opts.failures ?? new FailureProbes();
    this.failures = failures;
    const now = opts.now ?? Date.now;
    const commitLog = new CommitLog(config, failures, logger, probe);
    const queues = new ConsumeQueueTable(paths.consumeQueue, config.mappedFileSizeConsumeQueue);
    const indexService = new IndexService(paths.index, config.maxHashSlotNum, config.maxIndexNum);
    const index = config.messageIndexEnable ? indexService : undefined;
    const checkpoint = new StoreCheckpoint(paths.checkpoint);
    this.commitLog = commitLog;
    this.consumeQueueTable = queues;
    this.indexService = indexService;
    this.checkpoint = checkpoint;
    const state = this.state;
    const dispatcher = new CommitLogDispatcher(queues, index, parseDelayLevels(config.messageDelayLevel), logger);
    this.dispatcher = dispatcher;
    this.recovery = new StoreRecovery({ config, abortFile: paths.abort, commitLog, checkpoint, queues, indexService, dispatcher, logger, probe });
    const writeAppended = (): boolean => commitLog.writeAppendedSync();
    this.haBindAddress = opts.haBindAddress ?? '0.0.0.0';
    this.haService = config.brokerRole !== 'SLAVE' && config.haListenPort > 0 ? new HAService({ config, commitLog, logger, writeAppended }) : undefined;
    const reader = new MessageReader(commitLog, queues, index, state, probe, config.checkCRCOnRead);
    this.reader = reader;
    const timerNow = (): number => now() + config.timerClockOffsetMs;
    const timer = config.timerWheelEnable
      ? new TimerMessageStore({
          config,
          commitLog,
          queues,
          reader,
          dispatcher,
          putNow: (m) => this.appender.put([m]),
          writeAppended,
          state,
          logger,
          now: timerNow,
        })
      : undefined;
    this.timerMessageStore = timer;
    const timerHook = new TimerPutHook(config, timerNow, (slotMs) => timer?.wheel.numAt(slotMs) ?? 0);
    this.appender = new MessageAppender({ config, commitLog, queues, dispatcher, state, failures, logger, probe, now, ha: this.haService, timerHook });
    this.flushLogicsService = new FlushLogicsService(commitLog, queues, index, checkpoint, state, logger, probe);
    this.cleanService = new CleanService({ config, commitLog, queues, index, state, logger, probe, diskUsage: opts.diskUsage ?? statfsUsage, now });
    this.rawAppender = new RawCommitLogAppender(commitLog, dispatcher, config.mappedFileSizeCommitLog, state, logger);
    this.haClient = config.brokerRole === 'SLAVE' ? new HAClient({ config, commitLog, appender: this.rawAppender, logger, writeAppended }) : undefined;
  }

  // ================================================================ lifecycle

  async load(): Promise<RecoveryReport> {
    if (this.state.phase !== 'new') throw new Error('store already loaded');
    const report = await this.recovery.run();
    if (this.timerMessageStore !== undefined) report.timer = await this.timerMessageStore.load();
    this.report = report;
    this.state.phase = 'loaded';
    return report;
  }

  /** What load() returned; undefined before it. */
  get recoveryReport(): RecoveryReport | undefined {
    return this.report;
  }

  async start(): Promise<void> {
    if (this.state.phase !== 'loaded') throw new Error('load() the store before start()');
    // The abort file marks a running store; it stays empty (RocketMQ's is empty too), so it can be
    // created on a full disk.
    fs.closeSync(fs.openSync(this.abortFile, 'w'));
    const t0 = performance.now();
    try {
      // A slave's first segment comes with the master's bytes (it may start at the master's oldest offset).
      const seg = this.config.brokerRole === 'SLAVE' ? undefined : await this.commitLog.activateFirstSegment();
      if (seg !== undefined) this.logger.info('first commit-log segment allocated', { path: seg.path, size: seg.size, ms: Math.round(performance.now() - t0) });
    } catch (e) {
      // A full disk: start anyway (reads work, writes are refused); the next put retries.
      this.logger.error('cannot allocate the first commit-log segment', { error: String(e) });
    }
    this.commitLog.start();
    this.flushLogicsService.start(this.config.flushIntervalConsumeQueue);
    this.cleanService.start();
    await this.cleanService.checkDisk();
    this.state.phase = 'running';
    this.timerMessageStore?.start();
    if (this.haService !== undefined) await this.haService.start(this.config.haListenPort, this.haBindAddress);
    this.haClient?.start();
  }

  /** A slave learned (or changed) its master's HA address. */
  updateHaMasterAddress(addr: string): void {
    this.haClient?.updateMasterAddress(addr);
  }

  /** Commit-log offset below which everything is fdatasynced. */
  getFlushedWhere(): number {
    return this.commitLog.flushedPos;
  }

  getHaStatus(): HAStatus {
    return { role: this.config.brokerRole, slaves: this.haService?.slaves() ?? [], haPort: this.haService?.port ?? 0, master: this.haClient?.status() };
  }

  async shutdown(): Promise<void> {
    const state = this.state;
    if (state.phase === 'stopped' || state.phase === 'stopping') return;
    const wasRunning = state.phase === 'running';
    // The timer first: its last deliveries and its flush still need a running store.
    let clean = true;
    try {
      await this.timerMessageStore?.shutdown();
    } catch (e) {
      clean = false;
      this.logger.error('timer shutdown failed', { error: String(e) });
    }
    state.phase = 'stopping';
    await this.haClient?.shutdown();
    await this.haService?.shutdown();
    this.flushLogicsService.stop();
    await this.cleanService.stop();
    await this.commitLog.shutdown();
    clean &&= this.commitLog.ioError === undefined;
    try {
      await this.flushLogicsService.flush();
    } catch (e) {
      clean = false;
      this.logger.error('final flush failed', { error: String(e) });
    }
    await this.checkpoint.close();
    await this.consumeQueueTable.close();
    await this.indexService.close();
    // The abort file stays when anything failed, so the next start runs abnormal recovery.
    if (clean && wasRunning) fs.rmSync(this.abortFile, { force: true });
    state.phase = 'stopped';
  }

  /** Flushes consume queues and index, then records progress in the checkpoint (also on a timer). */
  flushLogics(): Promise<void> {
    return this.flushLogicsService.flush();
  }

  // ================================================================ put (message-appender.ts)

  putMessage(msg: PutMessageRequest): Promise<PutMessageResult> {
    return settled(() => this.appender.put([msg])).then(this.appender.afterWritten);
  }

  putMessages(msgs: readonly PutMessageRequest[]): Promise<PutMessageResult> {
    return settled(() => this.appender.putBatch(msgs)).then(this.appender.afterWritten);
  }

  /**
   * putMessage without a promise when the outcome is known at once (the usual ASYNC_FLUSH case:
   * room in the tail, nothing to wait for); a promise when it has to wait (segment roll, group
   * commit). Saves the broker's send path a promise chain per message. Unlike putMessage, a
   * PUT_OK here (outside SYNC_FLUSH) only means "appended in memory": call writeAppended()
   * before acknowledging it.
   */
  putMessageNow(msg: PutMessageRequest): PutMessageResult | Promise<PutMessageResult> {
    return this.appender.put([msg]);
  }

  /** putMessages in the same maybe-synchronous form as putMessageNow. */
  putMessagesNow(msgs: readonly PutMessageRequest[]): PutMessageResult | Promise<PutMessageResult> {
    return this.appender.putBatch(msgs);
  }

  /**
   * Hands every record appended so far to the OS (synchronous writes into the page cache). After
   * this a process crash loses none of them. Callers of putMessageNow / putMessagesNow call it
   * before acknowledging, once per batch of replies (the broker: before each socket write of
   * replies). False when appended records could not be written: do not acknowledge them.
   */
  writeAppended(): boolean {
    return this.commitLog.writeAppendedSync();
  }

  writeStallMillis(): number {
    return this.appender.busyMillis();
  }

  waitingAppends(): number {
    return this.commitLog.waitingAppends;
  }

  /** Slave side of replication (ha/raw-append.ts): verified, appended at `offset`, dispatched. */
  appendRawCommitLog(offset: number, data: Buffer): Promise<boolean> {
    return this.rawAppender.append(offset, data);
  }

  onDispatch(listener: (e: DispatchEvent) => void): () => void {
    return this.dispatcher.onDispatch(listener);
  }

  /**
   * Drops topics' consume queues, in memory and on disk, so a topic created again starts empty.
   * Their commit-log records stay until retention removes them. Returns how many topics had queues.
   */
  deleteTopics(topics: Iterable<string>): Promise<number> {
    return this.consumeQueueTable.deleteTopics(topics);
  }

  // ================================================================ get (message-reader.ts)

  getMessage(
    _group: string,
    topic: string,
    queueId: number,
    offset: number,
    maxMsgNums: number,
    maxBytes = 256 * 1024 * 1024,
    filter?: MessageFilter,
    opts?: GetMessageOptions,
  ): Promise<GetMessageResult> {
    return this.reader.getMessage(topic, queueId, offset, maxMsgNums, maxBytes, filter, opts?.lendBuffers === true);
  }

  releaseMessageBuffers(result: GetMessageResult): void {
    const lent = result.lent;
    if (lent === undefined) return;
    result.lent = undefined;
    for (const b of lent) this.commitLog.giveBackReadBuffer(b);
  }

  getMaxOffsetInQueue(topic: string, queueId: number): number {
    return this.reader.getMaxOffsetInQueue(topic, queueId);
  }

  getMinOffsetInQueue(topic: string, queueId: number): number {
    return this.reader.getMinOffsetInQueue(topic, queueId);
  }

  getCommitLogOffsetInQueue(topic: string, queueId: number, cqOffset: number): Promise<number> {
    return this.reader.getCommitLogOffsetInQueue(topic, queueId, cqOffset);
  }

  getMessageStoreTimeStamp(topic: string, queueId: number, cqOffset: number): Promise<number> {
    return this.reader.getMessageStoreTimeStamp(topic, queueId, cqOffset);
  }

  getOffsetInQueueByTime(topic: string, queueId: number, timestamp: number, boundary: 'lower' | 'upper' = 'lower'): Promise<number> {
    return this.reader.getOffsetInQueueByTime(topic, queueId, timestamp, boundary);
  }

  getEarliestMessageTime(topic?: string, queueId?: number): Promise<number> {
    return this.reader.getEarliestMessageTime(topic, queueId);
  }

  selectOneMessageByOffset(commitLogOffset: number, size?: number): Promise<Buffer | undefined> {
    return this.reader.selectOneMessageByOffset(commitLogOffset, size);
  }

  lookMessageByOffset(commitLogOffset: number, opts?: { decodeProperties?: boolean }): Promise<DecodedMessage | undefined> {
    return this.reader.lookMessageByOffset(commitLogOffset, opts);
  }

  queryMessage(topic: string, key: string, maxNum: number, begin: number, end: number): Promise<QueryMessageResult> {
    return this.reader.queryMessage(topic, key, maxNum, begin, end);
  }

  queryMessageByUniqKey(topic: string, uniqKey: string, begin = 0, end = Number.MAX_SAFE_INTEGER): Promise<QueryMessageResult> {
    return this.reader.queryMessageByUniqKey(topic, uniqKey, begin, end);
  }

  getMinPhyOffset(): number {
    return this.commitLog.minOffset;
  }

  getMaxPhyOffset(): number {
    return this.commitLog.wrotePos;
  }

  // ================================================================ retention (clean-service.ts)

  /** One retention pass (also run on a timer). `force` deletes expired files at any hour. */
  runCleanup(opts: { force?: boolean } = {}): Promise<void> {
    return this.cleanService.runCleanup(opts);
  }

  // ================================================================ info

  getStats(): StoreStats {
    return { ...this.state.stats };
  }

  getRuntimeInfo(): Record<string, number | string> {
    const cl = this.commitLog;
    const state = this.state;
    return {
      state: state.phase,
      commitLogMinOffset: cl.minOffset,
      commitLogMaxOffset: cl.wrotePos,
      commitLogWrittenOffset: cl.writtenPos,
      commitLogFlushedOffset: cl.flushedPos,
      flushBehindBytes: cl.wrotePos - cl.flushedPos,
      commitLogSegments: cl.segments.length,
      consumeQueues: this.consumeQueueTable.size,
      indexFiles: this.indexService.files.length,
      diskUsedRatio: state.diskUsedRatio,
      diskFull: state.diskFull ? 'true' : 'false',
      ...Object.fromEntries(Object.entries(state.stats)),
      ...this.timerRuntimeInfo(),
    };
  }

  /** RocketMQ's runtime-info keys of the timer (seconds behind, messages behind, pending, rates). */
  private timerRuntimeInfo(): Record<string, number | string> {
    const t = this.timerMessageStore?.status();
    if (t === undefined) return {};
    return {
      timerReadBehind: Math.floor(t.dequeueBehindMs / 1000),
      timerOffsetBehind: t.enqueueBehindMessages,
      timerCongestNum: t.pending,
      timerEnqueueTps: t.enqueueTps.toFixed(2),
      timerDequeueTps: t.dequeueTps.toFixed(2),
    };
  }
}
