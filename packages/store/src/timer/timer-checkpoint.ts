// `config/timercheck` (pop-timer-tx-ha.md §B.5): a 4096-byte file whose first 56 bytes are seven
// big-endian int64s, the same 56 bytes GET_TIMER_CHECK_POINT (60) answers with:
// lastReadTimeMs, lastTimerLogFlushPos, lastTimerQueueOffset, masterTimerQueueOffset,
// dataVersion.stateVersion, dataVersion.timestamp, dataVersion.counter.
import fs from 'node:fs';
import path from 'node:path';
import { readInt64BE, writeInt64BE } from '@rocketmq-ts/protocol';
import { closeFd, fdatasync, pwriteAll, writeSync } from '../fsutil.js';

export const TIMER_CHECKPOINT_FILE_SIZE = 4096;
export const TIMER_CHECKPOINT_BODY_SIZE = 56;

export interface TimerCheckpointData {
  lastReadTimeMs: number;
  lastTimerLogFlushPos: number;
  lastTimerQueueOffset: number;
  masterTimerQueueOffset: number;
  stateVersion: number;
  timestamp: number;
  counter: number;
}

/** The 56-byte form (file head and GET_TIMER_CHECK_POINT body). */
export function encodeTimerCheckpoint(d: TimerCheckpointData, buf = Buffer.alloc(TIMER_CHECKPOINT_BODY_SIZE)): Buffer {
  writeInt64BE(buf, 0, d.lastReadTimeMs);
  writeInt64BE(buf, 8, d.lastTimerLogFlushPos);
  writeInt64BE(buf, 16, d.lastTimerQueueOffset);
  writeInt64BE(buf, 24, d.masterTimerQueueOffset);
  writeInt64BE(buf, 32, d.stateVersion);
  writeInt64BE(buf, 40, d.timestamp);
  writeInt64BE(buf, 48, d.counter);
  return buf;
}

/** Decodes a checkpoint body; the data version is optional (older brokers send 32 bytes). */
export function decodeTimerCheckpoint(b: Buffer): TimerCheckpointData {
  if (b.length < 32) throw new Error(`timer checkpoint of ${b.length} bytes, expected at least 32`);
  const long = b.length >= TIMER_CHECKPOINT_BODY_SIZE;
  return {
    lastReadTimeMs: readInt64BE(b, 0),
    lastTimerLogFlushPos: readInt64BE(b, 8),
    lastTimerQueueOffset: readInt64BE(b, 16),
    masterTimerQueueOffset: readInt64BE(b, 24),
    stateVersion: long ? readInt64BE(b, 32) : 0,
    timestamp: long ? readInt64BE(b, 40) : 0,
    counter: long ? readInt64BE(b, 48) : 0,
  };
}

export class TimerCheckpoint implements TimerCheckpointData {
  lastReadTimeMs = 0;
  lastTimerLogFlushPos = 0;
  lastTimerQueueOffset = 0;
  masterTimerQueueOffset = 0;
  stateVersion = 0;
  timestamp = Date.now();
  counter = 0;
  /** False when the file did not exist at load (a new timer store). */
  existed = false;
  private fd = -1;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(readonly file: string) {}

  loadSync(): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    this.existed = fs.existsSync(this.file);
    this.fd = fs.openSync(this.file, this.existed ? 'r+' : 'w+');
    if (!this.existed) {
      writeSync(this.fd, Buffer.alloc(TIMER_CHECKPOINT_FILE_SIZE), 0, TIMER_CHECKPOINT_FILE_SIZE, 0);
      return;
    }
    const b = Buffer.alloc(TIMER_CHECKPOINT_BODY_SIZE);
    fs.readSync(this.fd, b, 0, b.length, 0);
    Object.assign(this, decodeTimerCheckpoint(b));
  }

  /** Next data version (a change of read time or queue offset; slaves compare it). */
  nextVersion(): void {
    this.counter++;
    this.timestamp = Date.now();
  }

  encode(): Buffer {
    return encodeTimerCheckpoint(this);
  }

  /** Writes the 56 bytes and fdatasyncs (serialized). */
  flush(): Promise<void> {
    const bytes = this.encode();
    const run = this.chain.then(async () => {
      if (this.fd < 0) return;
      await pwriteAll(this.fd, bytes, 0, bytes.length, 0);
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
