// Probes: the store reports what happens through these plain callbacks; packages/metrics implements them.
import type { PutMessageStatus, GetMessageStatus } from './status.js';
import type { TimerRecoveryReport } from './timer/timer-types.js';

export interface RecoveryReport {
  mode: 'normal' | 'abnormal';
  /** Records verified (magic, size, CRC) during the scan. */
  recordsChecked: number;
  /** Records re-dispatched to consume queues / index. */
  recordsDispatched: number;
  /** Non-zero bytes removed after the last good record (torn or corrupt tail). */
  bytesTruncated: number;
  /** Why the scan stopped where it did (empty when it reached clean end of data). */
  stopReason: string;
  /** Commit-log offset the scan started from. */
  scanFromOffset: number;
  /** Commit-log max offset after recovery. */
  maxPhyOffset: number;
  /** Damaged records passed over (not dispatched) because an intact record follows them. */
  recordsSkipped?: number;
  /** Where and why, for the first few of them. */
  skippedRecords?: string[];
  /** Consume-queue units dropped because they pointed past the recovered log. */
  consumeQueueUnitsTruncated: number;
  durationMs: number;
  /** The timer's files (timerWheelEnable). */
  timer?: TimerRecoveryReport;
}

export interface StoreProbe {
  onPut?(status: PutMessageStatus, msgCount: number, bytes: number, latencyMs: number): void;
  onGet?(status: GetMessageStatus, msgCount: number, bytes: number): void;
  onFlush?(kind: 'commitlog' | 'consumequeue' | 'index', bytes: number, durationMs: number): void;
  onSegmentRoll?(newSegmentOffset: number): void;
  onRecovery?(report: RecoveryReport): void;
  onDiskUsage?(usedRatio: number, freeBytes: number): void;
  onCleanup?(kind: 'commitlog' | 'consumequeue' | 'index', filesDeleted: number): void;
}

/** Counters kept by the store itself (getRuntimeInfo). */
export interface StoreStats {
  putCount: number;
  putBytes: number;
  putFailures: number;
  getCount: number;
  getFoundMessages: number;
  flushCount: number;
  syncFlushTimeouts: number;
  segmentRolls: number;
  segmentsDeleted: number;
  /** Records a read found damaged (checkCRCOnRead, or a consume-queue unit not matching its record): skipped, never served. */
  corruptRecordsSkipped: number;
}

export type FailurePoint = 'append' | 'roll' | 'write' | 'fsync' | 'truncate';

/** Error raised by an armed failure probe; `code` mimics the errno it stands for. */
export class InjectedFailure extends Error {
  constructor(
    readonly point: FailurePoint,
    readonly code: string,
  ) {
    super(`injected ${code} at ${point}`);
    this.name = 'InjectedFailure';
  }
}

/**
 * Fault injection: tests arm a point to fail the next `times` calls with a given errno code, or
 * stall a point's asynchronous I/O (a slow disk: 'fsync' delays each group/async fdatasync, 'roll'
 * each segment creation) by `ms` milliseconds.
 */
export class FailureProbes {
  private readonly armed = new Map<FailurePoint, { times: number; code: string }>();
  private readonly stalls = new Map<FailurePoint, number>();

  /** Delays the asynchronous I/O at `point` by `ms` (0 = no delay). */
  stall(point: FailurePoint, ms: number): void {
    if (ms > 0) this.stalls.set(point, ms);
    else this.stalls.delete(point);
  }

  /** Resolves after the stall armed for `point`, or undefined (no promise) when none is. */
  delay(point: FailurePoint): Promise<void> | undefined {
    const ms = this.stalls.size === 0 ? undefined : this.stalls.get(point);
    return ms === undefined ? undefined : new Promise((r) => setTimeout(r, ms));
  }

  arm(point: FailurePoint, code = 'EIO', times = Number.POSITIVE_INFINITY): void {
    this.armed.set(point, { times, code });
  }

  disarm(point?: FailurePoint): void {
    if (point === undefined) this.armed.clear();
    else this.armed.delete(point);
  }

  /** Throws InjectedFailure when `point` is armed. */
  check(point: FailurePoint): void {
    const a = this.armed.get(point);
    if (a === undefined) return;
    if (--a.times <= 0) this.armed.delete(point);
    throw new InjectedFailure(point, a.code);
  }
}

export interface StoreLogger {
  info(msg: string, meta?: Record<string, unknown>): void;
  warn(msg: string, meta?: Record<string, unknown>): void;
  error(msg: string, meta?: Record<string, unknown>): void;
}

export const consoleLogger: StoreLogger = {
  info: (m, meta) => console.info(`[store] ${m}`, meta ?? ''),
  warn: (m, meta) => console.warn(`[store] ${m}`, meta ?? ''),
  error: (m, meta) => console.error(`[store] ${m}`, meta ?? ''),
};

export const silentLogger: StoreLogger = { info: () => {}, warn: () => {}, error: () => {} };
