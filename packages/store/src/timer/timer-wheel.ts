// `<storePathRootDir>/timerwheel` (pop-timer-tx-ha.md §B.3): 2 × 604800 slots of 32 bytes,
// `int64 timeMs/precisionMs · int64 firstPos · int64 lastPos · int32 num · int32 magic`. The whole
// wheel (38.7 MB) is one Buffer, but only the 4 KiB pages holding slots become resident (loading
// copies non-zero pages only; lookups skip pages never used). Slots changed since the last flush are
// tracked per page and only those pages are written back. This is the timer's only memory that
// grows with pending timers, and it grows with their distinct delivery seconds, not their count.
import fs from 'node:fs';
import path from 'node:path';
import { readInt64BE, writeInt64BE } from '@rocketmq-ts/protocol';
import { closeFd, fdatasync, preadFullSync, pwriteAll } from '../fsutil.js';

/** Days the wheel spans at a 1 s precision (RocketMQ's TIMER_WHEEL_TTL_DAY). */
export const TIMER_WHEEL_TTL_DAY = 7;
/** Slots per wheel turn, whatever the precision; the file holds twice as many. */
export const TIMER_SLOTS_TOTAL = TIMER_WHEEL_TTL_DAY * 86_400;
export const TIMER_SLOT_SIZE = 32;
export const TIMER_WHEEL_LENGTH = TIMER_SLOTS_TOTAL * 2 * TIMER_SLOT_SIZE;
const SLOT_COUNT = TIMER_SLOTS_TOTAL * 2;
const PAGE = 4096;

/** A dirty range of the wheel copied at snapshot time, written by writeSnapshot. */
export interface WheelSnapshot {
  runs: { pos: number; bytes: Buffer }[];
}

export class TimerWheel {
  readonly buf = Buffer.alloc(TIMER_WHEEL_LENGTH);
  /** The same bytes as 32-bit words (native order: only used to test for zero). */
  private readonly words = new Int32Array(this.buf.buffer, this.buf.byteOffset, TIMER_WHEEL_LENGTH / 4);
  private fd = -1;
  private readonly dirty = new Uint8Array(TIMER_WHEEL_LENGTH / PAGE);
  private dirtyPages = 0;
  /**
   * Pages that may hold a slot (loaded non-zero, or written since). Pages never touched stay out of
   * the process's resident memory: an idle timer costs almost nothing, a busy one its used pages.
   */
  private readonly present = new Uint8Array(TIMER_WHEEL_LENGTH / PAGE);

  constructor(
    readonly file: string,
    readonly precisionMs: number,
  ) {}

  /** Opens (or creates) the file and reads it into memory. A file of any other length stops the store, as in RocketMQ. */
  loadSync(): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    const exists = fs.existsSync(this.file);
    this.fd = fs.openSync(this.file, exists ? 'r+' : 'w+');
    const size = fs.fstatSync(this.fd).size;
    if (size !== 0 && size !== TIMER_WHEEL_LENGTH) {
      fs.closeSync(this.fd);
      this.fd = -1;
      throw new Error(`timer wheel ${this.file} is ${size} bytes, expected ${TIMER_WHEEL_LENGTH}`);
    }
    if (size === 0) {
      fs.ftruncateSync(this.fd, TIMER_WHEEL_LENGTH);
      return;
    }
    // Read through a scratch buffer and keep only the pages holding something.
    const chunk = 4 * 1024 * 1024;
    const scratch = Buffer.allocUnsafeSlow(chunk);
    const words = new Int32Array(scratch.buffer, scratch.byteOffset, chunk / 4);
    for (let pos = 0; pos < TIMER_WHEEL_LENGTH; pos += chunk) {
      const n = preadFullSync(this.fd, scratch, 0, Math.min(chunk, TIMER_WHEEL_LENGTH - pos), pos);
      for (let page = 0; page * PAGE < n; page++) {
        const w0 = (page * PAGE) / 4;
        let used = false;
        for (let w = w0; w < w0 + PAGE / 4; w++) {
          if (words[w] !== 0) {
            used = true;
            break;
          }
        }
        if (!used) continue;
        scratch.copy(this.buf, pos + page * PAGE, page * PAGE, page * PAGE + PAGE);
        this.present[(pos + page * PAGE) / PAGE] = 1;
      }
    }
  }

  slotIndex(timeMs: number): number {
    return Math.floor(timeMs / this.precisionMs) % SLOT_COUNT;
  }

  /** Byte offset of the slot of `timeMs` when it holds that time's slot; -1 when it is empty (or holds another turn's). */
  find(timeMs: number): number {
    const off = this.slotIndex(timeMs) * TIMER_SLOT_SIZE;
    if (this.present[(off / PAGE) | 0] === 0) return -1;
    return readInt64BE(this.buf, off) === Math.floor(timeMs / this.precisionMs) ? off : -1;
  }

  /** Slot time (ms) stored at byte offset `off`. */
  timeAt(off: number): number {
    return readInt64BE(this.buf, off) * this.precisionMs;
  }

  firstPos(off: number): number {
    return readInt64BE(this.buf, off + 8);
  }

  lastPos(off: number): number {
    return readInt64BE(this.buf, off + 16);
  }

  num(off: number): number {
    return this.buf.readInt32BE(off + 24);
  }

  /** Pending timers in the slot of `timeMs` (0 for an empty slot). */
  numAt(timeMs: number): number {
    const off = this.find(timeMs);
    return off < 0 ? 0 : this.num(off);
  }

  putSlot(timeMs: number, firstPos: number, lastPos: number, num: number, magic = 0): void {
    const off = this.slotIndex(timeMs) * TIMER_SLOT_SIZE;
    writeInt64BE(this.buf, off, Math.floor(timeMs / this.precisionMs));
    writeInt64BE(this.buf, off + 8, firstPos);
    writeInt64BE(this.buf, off + 16, lastPos);
    this.buf.writeInt32BE(num, off + 24);
    this.buf.writeInt32BE(magic, off + 28);
    this.markDirty(off);
  }

  /** Empties a slot (recovery, for a slot whose positions point past the timer log). */
  clearSlot(off: number): void {
    this.buf.fill(0, off, off + TIMER_SLOT_SIZE);
    this.markDirty(off);
  }

  private markDirty(off: number): void {
    const page = (off / PAGE) | 0;
    this.present[page] = 1;
    if (this.dirty[page] === 0) {
      this.dirty[page] = 1;
      this.dirtyPages++;
    }
  }

  /**
   * Visits every non-empty slot (any turn) with its byte offset and slot time, in file order. Pages
   * never used are skipped, empty slots through a word view: a mostly empty wheel costs little.
   */
  forEachUsedSlot(f: (off: number, timeMs: number) => void): void {
    const words = this.words;
    const p = this.precisionMs;
    for (let page = 0; page < this.present.length; page++) {
      if (this.present[page] === 0) continue;
      for (let off = page * PAGE; off < (page + 1) * PAGE; off += TIMER_SLOT_SIZE) {
        const w = off / 4;
        if (words[w] === 0 && words[w + 1] === 0) continue;
        f(off, readInt64BE(this.buf, off) * p);
      }
    }
  }

  /** Visits the slots holding a time in [fromMs, fromMs + one whole wheel): the ones a read from `fromMs` will reach. */
  forEachSlot(fromMs: number, f: (off: number, timeMs: number) => void): void {
    const from = Math.floor(fromMs / this.precisionMs) * this.precisionMs;
    const to = from + SLOT_COUNT * this.precisionMs;
    this.forEachUsedSlot((off, t) => {
      // A slot holds its own time only when it sits at that time's index.
      if (t >= from && t < to && this.slotIndex(t) * TIMER_SLOT_SIZE === off) f(off, t);
    });
  }

  /** Copies the pages changed since the last snapshot (synchronously: consistent with the timer log end at this moment). */
  snapshotDirty(): WheelSnapshot {
    const runs: WheelSnapshot['runs'] = [];
    if (this.dirtyPages === 0) return { runs };
    const d = this.dirty;
    for (let i = 0; i < d.length; i++) {
      if (d[i] === 0) continue;
      let j = i;
      while (j < d.length && d[j] === 1) d[j++] = 0;
      runs.push({ pos: i * PAGE, bytes: Buffer.from(this.buf.subarray(i * PAGE, j * PAGE)) });
      i = j;
    }
    this.dirtyPages = 0;
    return { runs };
  }

  /** Writes a snapshot's pages and fdatasyncs. On failure the pages are marked dirty again. */
  async writeSnapshot(s: WheelSnapshot): Promise<number> {
    if (this.fd < 0 || s.runs.length === 0) return 0;
    let bytes = 0;
    try {
      for (const r of s.runs) {
        await pwriteAll(this.fd, r.bytes, 0, r.bytes.length, r.pos);
        bytes += r.bytes.length;
      }
      await fdatasync(this.fd);
    } catch (e) {
      for (const r of s.runs) for (let p = r.pos; p < r.pos + r.bytes.length; p += PAGE) this.markDirty(p);
      throw e;
    }
    return bytes;
  }

  async close(): Promise<void> {
    if (this.fd >= 0) await closeFd(this.fd);
    this.fd = -1;
  }
}
