// MessageStoreConfig: RocketMQ's property names; every default named once, with its unit.
import os from 'node:os';
import path from 'node:path';
import type { SocketAddress } from '@rocketmq-ts/common';

export type FlushDiskType = 'ASYNC_FLUSH' | 'SYNC_FLUSH';
export type BrokerRole = 'ASYNC_MASTER' | 'SYNC_MASTER' | 'SLAVE';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

export const DEFAULT_STORE_CONFIG = {
  /** Root directory of the store (RocketMQ: ~/store). */
  storePathRootDir: path.join(os.homedir(), 'store'),
  /** Commit-log directory; empty = `<storePathRootDir>/commitlog`. */
  storePathCommitLog: '',
  /** Bytes per commit-log segment (1 GiB). */
  mappedFileSizeCommitLog: 1 * GiB,
  /** Bytes per consume-queue file: 300,000 units × 20 bytes. */
  mappedFileSizeConsumeQueue: 300_000 * 20,
  flushDiskType: 'ASYNC_FLUSH' as FlushDiskType,
  /** ASYNC_FLUSH: ms between commit-log flushes. */
  flushIntervalCommitLog: 500,
  /** ASYNC_FLUSH: flush only when at least this many 4 KiB pages are dirty... */
  flushCommitLogLeastPages: 4,
  /** ...unless this many ms passed since the last full flush. */
  flushCommitLogThoroughInterval: 10_000,
  /** SYNC_FLUSH: ms an append waits for its fdatasync before FLUSH_DISK_TIMEOUT. */
  syncFlushTimeout: 5_000,
  /**
   * ms the commit log's write path may stay stalled (a segment roll, a write handed to the thread
   * pool, or a group-commit fdatasync that appends wait for) before the store counts as busy and
   * refuses puts with OS_PAGE_CACHE_BUSY (RocketMQ's isOSPageCacheBusy: the put lock held that long).
   */
  osPageCacheBusyTimeOutMills: 1_000,
  /** ms between consume-queue and index flushes (and checkpoint writes). */
  flushIntervalConsumeQueue: 1_000,
  /** Hours a commit-log segment is kept after its last write. */
  fileReservedTime: 72,
  /** Hours of the day (0-23, ';'-separated) when expired segments are deleted. */
  deleteWhen: '04',
  /** Disk used ratio (percent) above which expired files are deleted at any hour. */
  diskMaxUsedSpaceRatio: 75,
  /** Disk used ratio (percent) above which the oldest segments are deleted even if not expired. */
  diskSpaceCleanForciblyRatio: 85,
  /** Disk used ratio (percent) above which writes are refused with DISK_FULL. */
  diskSpaceWarningLevelRatio: 90,
  /** ms between retention/disk checks. */
  cleanResourceInterval: 10_000,
  /** Most segments deleted by one retention run. */
  deleteFilesBatchMax: 10,
  /** Largest message body in bytes (4 MiB); the whole record may add 64 KiB of headers/properties. */
  maxMessageSize: 4 * MiB,
  /** Hash slots per index file. */
  maxHashSlotNum: 5_000_000,
  /** Entries per index file. */
  maxIndexNum: 5_000_000 * 4,
  messageIndexEnable: true,
  /** Verify body CRC of each record during recovery. */
  checkCRCOnRecover: true,
  /**
   * Verify the body CRC of each record a pull, query or lookup serves (magic, size, offsets and queue
   * are always checked). A damaged record is skipped, never served.
   */
  checkCRCOnRead: true,
  /** Delay levels (for the tags code of SCHEDULE_TOPIC_XXXX units). */
  messageDelayLevel: '1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h',
  /**
   * Percent of the machine's memory: records this close to the end of the log count as hot (in the
   * OS page cache). RocketMQ uses it to send consumers to a slave for cold data; here hot records
   * are also read with a synchronous pread, which costs far less than a thread-pool hand-off.
   */
  accessMessageInMemoryMaxRatio: 40,
  // ---- master/slave replication (classic HA) ----
  /** ASYNC_MASTER replies after the local write; SYNC_MASTER after a slave has the bytes too; SLAVE takes no writes. */
  brokerRole: 'ASYNC_MASTER' as BrokerRole,
  /** Master: TCP port slaves replicate from; 0 = no HA listener (the broker sets listenPort + 1). */
  haListenPort: 0,
  /** Slave: the master's HA address (host:port); empty = learn it from the name servers. */
  haMasterAddress: '',
  /** Slave: ms between offset reports when nothing arrives; master: ms of idleness before a heartbeat frame. */
  haSendHeartbeatInterval: 5_000,
  /** Either side closes a replication connection after this many ms without reading anything. */
  haHousekeepingInterval: 20_000,
  /** Largest body of one replication frame (bytes). */
  haTransferBatchSize: 32 * KiB,
  /** SYNC_MASTER: a slave further behind than this (bytes) counts as absent: SLAVE_NOT_AVAILABLE at once. */
  haSlaveFallbehindMax: 256 * MiB,
  /** SYNC_MASTER: ms a put waits for the slave before FLUSH_SLAVE_TIMEOUT. */
  slaveTimeout: 3_000,
  /**
   * SYNC_MASTER: replicas that must hold a message before it is acknowledged, the master included.
   * 0 (default) = RocketMQ 4.x's meaning, one slave; n >= 1 = RocketMQ 5's (1 = do not wait).
   */
  inSyncReplicas: 0,
  // ---- timer messages (RocketMQ 5's TimerMessageStore: timerwheel, timerlog/, config/timercheck) ----
  /** Timer messages (TIMER_DELIVER_MS / TIMER_DELAY_SEC / TIMER_DELAY_MS) are accepted and delivered; off = refused (SYSTEM_ERROR). */
  timerWheelEnable: true,
  /** Slot length in ms; snapped down to 100, 200, 500 or 1000 as RocketMQ's setter does. A timer is at most this late. */
  timerPrecisionMs: 1_000,
  /** Furthest delivery time accepted, in seconds from now (3 days); later ones are MESSAGE_ILLEGAL. */
  timerMaxDelaySec: 259_200,
  /** Slots ahead of now a timer may be filed in; a later one is filed at the window's end and re-filed from there (roll). */
  timerRollWindowSlot: 172_800,
  /** Bytes per timer-log file (100 MiB of 52-byte units). */
  mappedFileSizeTimerLog: 100 * MiB,
  /** ms between flushes of the timer log, wheel and checkpoint. */
  timerFlushIntervalMs: 1_000,
  /** Timers one slot accepts before flow control (SYSTEM_ERROR); RocketMQ's default, Integer.MAX_VALUE, means off. */
  timerCongestNumEachSlot: 2_147_483_647,
  /** rocketmq-ts, tests only: ms added to the wall clock the timer reads (put-time transform, enqueue, delivery). */
  timerClockOffsetMs: 0,
  /** Store host written into each record and offset msgIds (brokerIP1:listenPort). */
  storeHost: { address: '127.0.0.1', port: 10911 } as SocketAddress,
  // ---- rocketmq-ts specific (no RocketMQ equivalent because Node has no mmap) ----
  /** Bytes of one in-memory write chunk of the commit-log tail (4 MiB). */
  commitLogWriteChunkSize: 4 * MiB,
  /** Bytes of recent commit-log data kept in memory for reads without a syscall (8 MiB; older hot data comes from the page cache). */
  commitLogReadCacheSize: 8 * MiB,
  /** 'zeros' writes zeros over a new segment (reserves disk space, so a later ENOSPC cannot tear a record);
   *  'truncate' only sets the size (sparse, fast; for tests). */
  preallocateMode: 'zeros' as 'zeros' | 'truncate',
};

export type MessageStoreConfig = typeof DEFAULT_STORE_CONFIG;

/**
 * A store setting that cannot work. Names the property and the bad value, so whoever starts the
 * store (the broker) can report it as a configuration mistake instead of crashing with a stack.
 */
export class StoreConfigError extends Error {
  constructor(
    readonly property: string,
    readonly value: unknown,
    expected: string,
  ) {
    super(`${property}: ${JSON.stringify(value)} ${expected}`);
    this.name = 'StoreConfigError';
  }
}

/** Defaults filled in and every setting checked; throws StoreConfigError for the first bad one. */
export function resolveStoreConfig(partial: Partial<MessageStoreConfig> = {}): MessageStoreConfig {
  const c: MessageStoreConfig = { ...DEFAULT_STORE_CONFIG, ...partial };
  if (c.storePathCommitLog === '') c.storePathCommitLog = path.join(c.storePathRootDir, 'commitlog');
  if (!(c.mappedFileSizeConsumeQueue > 0) || c.mappedFileSizeConsumeQueue % 20 !== 0) {
    throw new StoreConfigError('mappedFileSizeConsumeQueue', c.mappedFileSizeConsumeQueue, 'is not a positive multiple of 20 (the consume-queue unit size)');
  }
  // A record must always fit in an empty segment together with the end-of-segment blank.
  if (!(c.mappedFileSizeCommitLog >= 4 * KiB)) throw new StoreConfigError('mappedFileSizeCommitLog', c.mappedFileSizeCommitLog, 'is smaller than 4096 bytes');
  if (!(c.commitLogWriteChunkSize > 0)) throw new StoreConfigError('commitLogWriteChunkSize', c.commitLogWriteChunkSize, 'is not a positive number of bytes');
  if (c.flushDiskType !== 'ASYNC_FLUSH' && c.flushDiskType !== 'SYNC_FLUSH') {
    throw new StoreConfigError('flushDiskType', c.flushDiskType, 'is neither ASYNC_FLUSH nor SYNC_FLUSH');
  }
  if (c.preallocateMode !== 'zeros' && c.preallocateMode !== 'truncate') {
    throw new StoreConfigError('preallocateMode', c.preallocateMode, 'is neither zeros nor truncate');
  }
  if (c.brokerRole !== 'ASYNC_MASTER' && c.brokerRole !== 'SYNC_MASTER' && c.brokerRole !== 'SLAVE') {
    throw new StoreConfigError('brokerRole', c.brokerRole, 'is none of ASYNC_MASTER, SYNC_MASTER, SLAVE');
  }
  for (const k of ['haListenPort', 'haSendHeartbeatInterval', 'haHousekeepingInterval', 'haSlaveFallbehindMax', 'slaveTimeout', 'inSyncReplicas'] as const) {
    if (!(Number.isInteger(c[k]) && c[k] >= 0)) throw new StoreConfigError(k, c[k], 'is not a whole number >= 0');
  }
  if (!(c.haTransferBatchSize >= 1024)) throw new StoreConfigError('haTransferBatchSize', c.haTransferBatchSize, 'is smaller than 1024 bytes');
  if (c.haMasterAddress !== '' && !/^[^\s:]+:\d+$/.test(c.haMasterAddress)) {
    throw new StoreConfigError('haMasterAddress', c.haMasterAddress, 'is not host:port');
  }
  c.timerPrecisionMs = snapTimerPrecision(c.timerPrecisionMs);
  if (!(Number.isInteger(c.timerMaxDelaySec) && c.timerMaxDelaySec > 0)) {
    throw new StoreConfigError('timerMaxDelaySec', c.timerMaxDelaySec, 'is not a whole number > 0');
  }
  if (!Number.isInteger(c.timerRollWindowSlot)) throw new StoreConfigError('timerRollWindowSlot', c.timerRollWindowSlot, 'is not a whole number');
  if (!(c.mappedFileSizeTimerLog >= 4 * KiB)) throw new StoreConfigError('mappedFileSizeTimerLog', c.mappedFileSizeTimerLog, 'is smaller than 4096 bytes');
  if (!(c.timerFlushIntervalMs > 0)) throw new StoreConfigError('timerFlushIntervalMs', c.timerFlushIntervalMs, 'is not a positive number of ms');
  if (!(c.timerCongestNumEachSlot > 0)) throw new StoreConfigError('timerCongestNumEachSlot', c.timerCongestNumEachSlot, 'is not a positive number');
  parseDeleteWhen(c.deleteWhen);
  parseDelayLevels(c.messageDelayLevel);
  if (c.maxMessageSize > c.mappedFileSizeCommitLog / 2) c.maxMessageSize = Math.floor(c.mappedFileSizeCommitLog / 2);
  return c;
}

/** RocketMQ's setTimerPrecisionMs: the largest of 100, 200, 500, 1000 not above `ms` (100 below that). */
export function snapTimerPrecision(ms: number): number {
  const candidates = [100, 200, 500, 1000];
  for (let i = 1; i < candidates.length; i++) if (ms < (candidates[i] as number)) return candidates[i - 1] as number;
  return 1000;
}

/** Largest record the store accepts: body limit + 64 KiB for headers, topic and properties. */
export function maxRecordSize(c: MessageStoreConfig): number {
  return Math.min(c.maxMessageSize + 64 * KiB, c.mappedFileSizeCommitLog - 8);
}

const DURATION = /^(\d+)([smhd])$/;
const DURATION_UNIT_MS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Delay level → ms table from `messageDelayLevel` (index 0 = level 1). */
export function parseDelayLevels(spec: string): number[] {
  const levels: number[] = [];
  for (const x of spec.split(' ')) {
    if (x.length === 0) continue;
    const m = DURATION.exec(x);
    if (m === null) throw new StoreConfigError('messageDelayLevel', spec, 'is not a duration list like "1s 5s 10m 2h"');
    levels.push(Number(m[1]) * (DURATION_UNIT_MS[m[2] as string] as number));
  }
  return levels;
}

/** Hours of the day from `deleteWhen` ("04", "04;16"). */
export function parseDeleteWhen(spec: string): number[] {
  const hours: number[] = [];
  for (const x of spec.split(';')) {
    const h = x.trim();
    if (h === '') continue;
    if (!/^\d{1,2}$/.test(h) || Number(h) > 23) throw new StoreConfigError('deleteWhen', spec, 'is not a list of hours 0-23 like "04" or "04;16"');
    hours.push(Number(h));
  }
  return hours;
}

export function storePaths(c: MessageStoreConfig): {
  commitLog: string;
  consumeQueue: string;
  index: string;
  checkpoint: string;
  abort: string;
  config: string;
  timerWheel: string;
  timerLog: string;
  timerCheck: string;
  timerMetrics: string;
} {
  return {
    commitLog: c.storePathCommitLog,
    consumeQueue: path.join(c.storePathRootDir, 'consumequeue'),
    index: path.join(c.storePathRootDir, 'index'),
    checkpoint: path.join(c.storePathRootDir, 'checkpoint'),
    abort: path.join(c.storePathRootDir, 'abort'),
    config: path.join(c.storePathRootDir, 'config'),
    timerWheel: path.join(c.storePathRootDir, 'timerwheel'),
    timerLog: path.join(c.storePathRootDir, 'timerlog'),
    timerCheck: path.join(c.storePathRootDir, 'config', 'timercheck'),
    timerMetrics: path.join(c.storePathRootDir, 'config', 'timermetrics'),
  };
}

/** File names are the start offset as 20 decimal digits. */
export function offsetToFileName(offset: number): string {
  return String(offset).padStart(20, '0');
}
