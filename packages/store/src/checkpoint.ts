// Checkpoint file (remoting.md §5.4): 4096 bytes; RocketMQ's fields at 0..40, then a rocketmq-ts
// extension (ignored by RocketMQ) carrying exact offsets so recovery can start at a record boundary.
import fs from 'node:fs';
import { readInt64BE, writeInt64BE } from '@rocketmq-ts/protocol';
import { closeFd, fdatasync, pwriteAll, writeSync } from './fsutil.js';

export const CHECKPOINT_SIZE = 4096;
const EXT_MAGIC = 0x524d5453; // "RMTS"
const EXT_POS = 64;

export class StoreCheckpoint {
  physicMsgTimestamp = 0;
  logicsMsgTimestamp = 0;
  indexMsgTimestamp = 0;
  masterFlushedOffset = 0;
  confirmPhyOffset = 0;
  /** Extension: commit log fdatasynced up to here. */
  physicFlushedOffset = 0;
  /** Extension: every record below is in a flushed consume queue. */
  logicsDispatchedOffset = 0;
  /** Extension: every record below is in a flushed index file. */
  indexDispatchedOffset = 0;
  /** True when the extension was present on load. */
  hasExtension = false;
  private fd = -1;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(readonly path: string) {}

  loadSync(): void {
    const exists = fs.existsSync(this.path);
    this.fd = fs.openSync(this.path, exists ? 'r+' : 'w+');
    if (!exists) {
      writeSync(this.fd, Buffer.alloc(CHECKPOINT_SIZE), 0, CHECKPOINT_SIZE, 0);
      return;
    }
    const b = Buffer.alloc(CHECKPOINT_SIZE);
    fs.readSync(this.fd, b, 0, CHECKPOINT_SIZE, 0);
    this.physicMsgTimestamp = readInt64BE(b, 0);
    this.logicsMsgTimestamp = readInt64BE(b, 8);
    this.indexMsgTimestamp = readInt64BE(b, 16);
    this.masterFlushedOffset = readInt64BE(b, 24);
    this.confirmPhyOffset = readInt64BE(b, 32);
    if (b.readInt32BE(EXT_POS) === EXT_MAGIC) {
      this.hasExtension = true;
      this.physicFlushedOffset = readInt64BE(b, EXT_POS + 8);
      this.logicsDispatchedOffset = readInt64BE(b, EXT_POS + 16);
      this.indexDispatchedOffset = readInt64BE(b, EXT_POS + 24);
    }
  }

  /** Recovery lower bound by time: min(physic, logics[, index]) − 3 s. */
  minTimestamp(withIndex: boolean): number {
    let m = Math.min(this.physicMsgTimestamp, this.logicsMsgTimestamp);
    if (withIndex) m = Math.min(m, this.indexMsgTimestamp);
    return Math.max(0, m - 3000);
  }

  private encode(): Buffer {
    const b = Buffer.alloc(CHECKPOINT_SIZE);
    writeInt64BE(b, 0, this.physicMsgTimestamp);
    writeInt64BE(b, 8, this.logicsMsgTimestamp);
    writeInt64BE(b, 16, this.indexMsgTimestamp);
    writeInt64BE(b, 24, this.masterFlushedOffset);
    writeInt64BE(b, 32, this.confirmPhyOffset);
    b.writeInt32BE(EXT_MAGIC, EXT_POS);
    b.writeInt32BE(1, EXT_POS + 4);
    writeInt64BE(b, EXT_POS + 8, this.physicFlushedOffset);
    writeInt64BE(b, EXT_POS + 16, this.logicsDispatchedOffset);
    writeInt64BE(b, EXT_POS + 24, this.indexDispatchedOffset);
    return b;
  }

  /** Writes the whole page and fdatasyncs (serialized). */
  flush(): Promise<void> {
    const run = this.chain.then(async () => {
      if (this.fd < 0) return;
      await pwriteAll(this.fd, this.encode(), 0, CHECKPOINT_SIZE, 0);
      await fdatasync(this.fd);
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    await this.chain;
    if (this.fd >= 0) await closeFd(this.fd);
    this.fd = -1;
  }
}
