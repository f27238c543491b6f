// Flush of the logics (RocketMQ's FlushConsumeQueueService): consume queues and index reach the disk
// on a timer, then the checkpoint records how far they, and the commit log, are durable.
import type { StoreCheckpoint } from './checkpoint.js';
import type { CommitLog } from './commitlog/commit-log.js';
import type { ConsumeQueueTable } from './consumequeue/consume-queue-table.js';
import type { IndexService } from './keyindex/index-service.js';
import type { StoreLogger, StoreProbe } from './probe.js';
import type { StoreState } from './store-state.js';

export class FlushLogicsService {
  private flushing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly commitLog: CommitLog,
    private readonly queues: ConsumeQueueTable,
    /** undefined when messageIndexEnable is off. */
    private readonly index: IndexService | undefined,
    private readonly checkpoint: StoreCheckpoint,
    private readonly state: StoreState,
    private readonly logger: StoreLogger,
    private readonly probe: StoreProbe,
  ) {}

  /** Flushes every `intervalMs` (flushIntervalConsumeQueue) until stop(). */
  start(intervalMs: number): void {
    this.timer = setInterval(() => void this.flush().catch((e: unknown) => this.logger.error('logics flush failed', { error: String(e) })), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Flushes consume queues and index, then records progress in the checkpoint. One at a time. */
  flush(): Promise<void> {
    if (this.flushing !== undefined) return this.flushing.then(() => this.flush());
    this.flushing = this.doFlush().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async doFlush(): Promise<void> {
    const cl = this.commitLog;
    const dispatchedTo = cl.wrotePos; // dispatch is synchronous with append
    const dispatchedTs = cl.lastStoreTimestamp;
    const t0 = performance.now();
    const cqBytes = await this.queues.flush();
    if (cqBytes > 0) this.probe.onFlush?.('consumequeue', cqBytes, performance.now() - t0);
    const t1 = performance.now();
    const idxBytes = this.index !== undefined ? await this.index.flush() : 0;
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
    this.state.stats.flushCount++;
  }
}
