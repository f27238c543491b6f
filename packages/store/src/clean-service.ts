// Retention and disk checks (RocketMQ's CleanCommitLogService and CleanConsumeQueueService): expired
// commit-log segments go at deleteWhen hours or when the disk fills up, then the consume-queue and
// index files that only point at them. The disk check also decides when writes are refused.
import fs from 'node:fs';
import type { CommitLog } from './commitlog/commit-log.js';
import { parseDeleteWhen, type MessageStoreConfig } from './config.js';
import type { ConsumeQueueTable } from './consumequeue/consume-queue-table.js';
import type { IndexService } from './keyindex/index-service.js';
import type { StoreLogger, StoreProbe } from './probe.js';
import type { StoreState } from './store-state.js';

export interface DiskUsage {
  totalBytes: number;
  freeBytes: number;
}

export async function statfsUsage(dir: string): Promise<DiskUsage> {
  const s = await fs.promises.statfs(dir);
  return { totalBytes: s.blocks * s.bsize, freeBytes: s.bavail * s.bsize };
}

export interface CleanServiceParts {
  config: MessageStoreConfig;
  commitLog: CommitLog;
  queues: ConsumeQueueTable;
  /** undefined when messageIndexEnable is off. */
  index: IndexService | undefined;
  state: StoreState;
  logger: StoreLogger;
  probe: StoreProbe;
  /** Disk space of the commit-log volume. */
  diskUsage: (dir: string) => Promise<DiskUsage>;
  /** Wall clock (retention age and deleteWhen hours). */
  now: () => number;
}

export class CleanService {
  private readonly p: CleanServiceParts;
  private readonly deleteHours: readonly number[];
  private cleaning: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(parts: CleanServiceParts) {
    this.p = parts;
    this.deleteHours = parseDeleteWhen(parts.config.deleteWhen);
  }

  /** Runs a retention pass every cleanResourceInterval until stop(). */
  start(): void {
    this.timer = setInterval(
      () => void this.runCleanup().catch((e: unknown) => this.p.logger.error('cleanup failed', { error: String(e) })),
      this.p.config.cleanResourceInterval,
    );
    this.timer.unref();
  }

  /** Stops the timer and waits for a pass in progress. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.cleaning?.catch(() => undefined);
  }

  /**
   * Measures the commit-log volume and sets state.diskFull (writes are refused above
   * diskSpaceWarningLevelRatio, or when a new segment would not fit). Returns the used ratio.
   */
  async checkDisk(): Promise<number> {
    const { config, state, logger } = this.p;
    try {
      const u = await this.p.diskUsage(config.storePathCommitLog);
      const ratio = u.totalBytes > 0 ? (u.totalBytes - u.freeBytes) / u.totalBytes : 0;
      state.diskUsedRatio = ratio;
      const full = ratio * 100 >= config.diskSpaceWarningLevelRatio || u.freeBytes < config.mappedFileSizeCommitLog;
      if (full !== state.diskFull) {
        (full ? logger.error : logger.info).call(logger, full ? 'disk nearly full: refusing writes' : 'disk space back to normal', {
          usedRatio: ratio,
          freeBytes: u.freeBytes,
        });
      }
      state.diskFull = full;
      this.p.probe.onDiskUsage?.(ratio, u.freeBytes);
      return ratio;
    } catch (e) {
      logger.warn('disk usage check failed', { error: String(e) });
      return state.diskUsedRatio;
    }
  }

  /** One retention pass; a pass in progress is joined. `force` deletes expired files at any hour. */
  runCleanup(opts: { force?: boolean } = {}): Promise<void> {
    if (this.cleaning !== undefined) return this.cleaning;
    this.cleaning = this.clean(opts.force === true).finally(() => {
      this.cleaning = undefined;
    });
    return this.cleaning;
  }

  private async clean(manual: boolean): Promise<void> {
    const { config, commitLog, probe } = this.p;
    const ratio = (await this.checkDisk()) * 100;
    const now = this.p.now();
    const forcibly = ratio >= config.diskSpaceCleanForciblyRatio;
    const due = manual || this.deleteHours.includes(new Date(now).getHours()) || ratio >= config.diskMaxUsedSpaceRatio;
    if (!due && !forcibly) return;
    const keepMs = config.fileReservedTime * 3600_000;
    let deleted = 0;
    for (const seg of commitLog.deletableSegments()) {
      if (deleted >= config.deleteFilesBatchMax) break;
      let expired: boolean;
      try {
        const st = await fs.promises.stat(seg.path);
        expired = now - st.mtimeMs >= keepMs;
      } catch {
        expired = true;
      }
      if (!expired && !forcibly) break; // segments age in order: stop at the first young one
      await commitLog.deleteSegment(seg);
      deleted++;
    }
    if (deleted > 0) {
      this.p.state.stats.segmentsDeleted += deleted;
      probe.onCleanup?.('commitlog', deleted);
      this.p.logger.info('deleted commit-log segments', { count: deleted, minOffset: commitLog.minOffset, forcibly });
      if (forcibly) await this.checkDisk();
    }
    // Consume-queue and index files follow the log: those pointing only below its start go.
    const minPhy = commitLog.minOffset;
    const cqDeleted = await this.p.queues.deleteExpiredFiles(minPhy);
    if (cqDeleted > 0) probe.onCleanup?.('consumequeue', cqDeleted);
    if (this.p.index !== undefined) {
      const n = await this.p.index.deleteExpired(minPhy);
      if (n > 0) probe.onCleanup?.('index', n);
    }
  }
}
