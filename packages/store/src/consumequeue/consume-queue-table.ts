// The consume queues of a store, by topic and queue id (RocketMQ's consumeQueueTable), with the
// operations the store runs over all of them: load, repair after recovery, flush, retention.
import fs from 'node:fs';
import path from 'node:path';
import { ConsumeQueue } from './consume-queue.js';

export class ConsumeQueueTable {
  private readonly table = new Map<string, Map<number, ConsumeQueue>>();

  constructor(
    /** `<storePathRootDir>/consumequeue`: one folder per topic, one per queue id below it. */
    readonly rootDir: string,
    private readonly fileSize: number,
  ) {}

  find(topic: string, queueId: number): ConsumeQueue | undefined {
    return this.table.get(topic)?.get(queueId);
  }

  findOrCreate(topic: string, queueId: number): ConsumeQueue {
    let qs = this.table.get(topic);
    if (qs === undefined) {
      qs = new Map();
      this.table.set(topic, qs);
    }
    let q = qs.get(queueId);
    if (q === undefined) {
      q = new ConsumeQueue(topic, queueId, this.rootDir, this.fileSize);
      qs.set(queueId, q);
    }
    return q;
  }

  /** Every queue, topic by topic in creation order. */
  *all(): IterableIterator<ConsumeQueue> {
    for (const qs of this.table.values()) yield* qs.values();
  }

  get size(): number {
    let n = 0;
    for (const qs of this.table.values()) n += qs.size;
    return n;
  }

  /** Opens the queue files found on disk (sync; load time only); `scanStale` after a crash (see ConsumeQueue.loadSync). */
  loadSync(scanStale = true): void {
    if (!fs.existsSync(this.rootDir)) return;
    for (const topic of fs.readdirSync(this.rootDir)) {
      const tdir = path.join(this.rootDir, topic);
      if (!fs.statSync(tdir).isDirectory()) continue;
      for (const qid of fs.readdirSync(tdir)) {
        if (/^\d+$/.test(qid)) this.findOrCreate(topic, Number(qid)).loadSync(scanStale);
      }
    }
  }

  /** After commit-log recovery: drops units pointing at or past `logEnd`; returns units dropped. */
  truncateDirtySync(logEnd: number): number {
    let dropped = 0;
    for (const q of this.all()) dropped += q.truncateDirtySync(logEnd);
    return dropped;
  }

  /** Moves every queue's min offset to its first unit whose record is at or after `minPhy`. */
  async correctMinOffset(minPhy: number): Promise<void> {
    for (const q of this.all()) await q.correctMinOffset(minPhy);
  }

  /** Writes and fdatasyncs every queue's new units; returns bytes written. */
  async flush(): Promise<number> {
    let bytes = 0;
    for (const q of this.all()) bytes += await q.flush();
    return bytes;
  }

  /** Retention: deletes queue files whose records are all below `minPhy`; returns files deleted. */
  async deleteExpiredFiles(minPhy: number): Promise<number> {
    let deleted = 0;
    for (const q of this.all()) deleted += await q.deleteExpiredFiles(minPhy);
    return deleted;
  }

  /**
   * Drops topics' queues, in memory and on disk, so a topic created again starts empty. Returns how
   * many of the topics had queues.
   */
  async deleteTopics(topics: Iterable<string>): Promise<number> {
    let n = 0;
    for (const topic of topics) {
      const qs = this.table.get(topic);
      this.table.delete(topic);
      if (qs !== undefined) {
        n++;
        for (const q of qs.values()) await q.close();
      }
      // Only a directory of its own: a name such as "../commitlog" must never reach rm.
      const dir = path.resolve(this.rootDir, topic);
      if (topic === '' || path.dirname(dir) !== path.resolve(this.rootDir) || path.basename(dir) !== topic) continue;
      await fs.promises.rm(dir, { recursive: true, force: true });
    }
    return n;
  }

  async close(): Promise<void> {
    for (const q of this.all()) await q.close();
  }
}
