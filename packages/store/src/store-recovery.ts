// Load-time recovery: open the files, choose where the commit-log scan starts (checkpoint, abort
// file), verify records from there and re-dispatch them, cut the log after the last good record and
// the consume queues with it, and report what happened.
import fs from 'node:fs';
import type { StoreCheckpoint } from './checkpoint.js';
import type { CommitLog } from './commitlog/commit-log.js';
import type { CommitLogDispatcher } from './commit-log-dispatcher.js';
import type { MessageStoreConfig } from './config.js';
import type { ConsumeQueueTable } from './consumequeue/consume-queue-table.js';
import type { IndexService } from './keyindex/index-service.js';
import type { RecoveryReport, StoreLogger, StoreProbe } from './probe.js';

export interface StoreRecoveryParts {
  config: MessageStoreConfig;
  /** The abort file: present at load = the last run did not stop cleanly. */
  abortFile: string;
  commitLog: CommitLog;
  checkpoint: StoreCheckpoint;
  queues: ConsumeQueueTable;
  indexService: IndexService;
  dispatcher: CommitLogDispatcher;
  logger: StoreLogger;
  probe: StoreProbe;
}

export class StoreRecovery {
  constructor(private readonly p: StoreRecoveryParts) {}

  /** Loads and recovers the store's files (sync I/O: nothing else runs yet); logs and returns the report. */
  async run(): Promise<RecoveryReport> {
    const { config, commitLog, checkpoint, queues, indexService } = this.p;
    const t0 = performance.now();
    fs.mkdirSync(config.storePathRootDir, { recursive: true });
    const abnormal = fs.existsSync(this.p.abortFile);
    checkpoint.loadSync();
    commitLog.load();
    queues.loadSync(abnormal);
    if (config.messageIndexEnable) indexService.loadSync();

    const from = this.scanFrom(abnormal);
    // Records up to indexEnd have their keys already; after a clean stop the queues were complete up
    // to the checkpoint, and re-dispatching older records would only bring back queues deleted on
    // purpose (deleteTopics).
    const indexEnd = indexService.endPhyOffset;
    const queuesEnd = !abnormal && checkpoint.hasExtension ? checkpoint.logicsDispatchedOffset : -1;
    let dispatched = 0;
    const scan = commitLog.recover(from, config.checkCRCOnRecover, (info) => {
      if (this.p.dispatcher.dispatchRecord(info, queuesEnd, indexEnd)) dispatched++;
    });
    commitLog.startAppending(scan.logEnd);
    const cqTruncated = queues.truncateDirtySync(scan.logEnd);
    await queues.correctMinOffset(commitLog.minOffset);

    const report: RecoveryReport = {
      mode: abnormal ? 'abnormal' : 'normal',
      recordsChecked: scan.recordsChecked,
      recordsDispatched: dispatched,
      bytesTruncated: scan.bytesTruncated,
      stopReason: scan.stopReason,
      recordsSkipped: scan.recordsSkipped,
      skippedRecords: scan.skippedReasons.slice(0, 10),
      scanFromOffset: from,
      maxPhyOffset: scan.logEnd,
      consumeQueueUnitsTruncated: cqTruncated,
      durationMs: Math.round((performance.now() - t0) * 1000) / 1000,
    };
    const { logger } = this.p;
    (report.bytesTruncated > 0 || report.stopReason !== '' || scan.recordsSkipped > 0 ? logger.warn : logger.info).call(logger, 'store recovered', {
      ...report,
    });
    this.p.probe.onRecovery?.(report);
    return report;
  }

  /**
   * The commit-log offset the scan starts from, always a segment start (RocketMQ verifies whole
   * segments: a record before the checkpoint can still be damaged). After a clean stop: the segment
   * holding the recorded end of data. After a crash: the segment holding the least of what the
   * checkpoint says is durable (log, queues, index); without our checkpoint extension, the newest
   * segment whose first record is older than the checkpoint's min timestamp.
   */
  private scanFrom(abnormal: boolean): number {
    const { config, commitLog: cl, checkpoint: ck } = this.p;
    const segs = cl.segments;
    const first = segs[0];
    const last = segs[segs.length - 1];
    if (first === undefined || last === undefined) return 0;
    let from: number;
    if (!abnormal) {
      const end = ck.hasExtension ? ck.physicFlushedOffset : last.startOffset;
      from = (cl.findSegment(end) ?? last).startOffset;
    } else if (ck.hasExtension) {
      from = Math.min(ck.physicFlushedOffset, ck.logicsDispatchedOffset, config.messageIndexEnable ? ck.indexDispatchedOffset : Number.MAX_SAFE_INTEGER);
    } else {
      const minTs = ck.minTimestamp(config.messageIndexEnable);
      from = first.startOffset;
      for (let i = segs.length - 1; i >= 0; i--) {
        const s = segs[i] as (typeof segs)[number];
        const ts = cl.firstStoreTimestampOf(s);
        if (ts > 0 && ts <= minTs) {
          from = s.startOffset;
          break;
        }
      }
    }
    from = Math.max(from, first.startOffset);
    return (cl.findSegment(from) ?? last).startOffset;
  }
}
