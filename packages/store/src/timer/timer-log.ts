// `<storePathRootDir>/timerlog/` (pop-timer-tx-ha.md §B.4): files of mappedFileSizeTimerLog bytes
// named by their 20-digit start offset, holding 52-byte units back to back:
//   @0 int32 size=52 · @4 int64 prevPos (the slot's previous unit, -1 for the first) · @12 int32 magic
//   · @16 int64 write time · @24 int32 delayed time − write time · @28 int64 commit-log offset
//   · @36 int32 record size · @40 int32 REAL_TOPIC hash · @44 int64 0.
// A file ends with a blank `[int32 remaining][int64 0][int32 BLANK_MAGIC]` when a unit and a blank no
// longer fit. Units go into a 256 KiB in-memory tail and reach the file with one positional write
// when it fills and at each flush (units lost with a crashed process are rebuilt from the timer
// queue, see TimerMessageStore.load); reads are positional reads through a 64 KiB window, so walking
// one slot's chain backwards costs few syscalls.
import fs from 'node:fs';
import path from 'node:path';
import { BLANK_MAGIC_CODE, readInt64BE, writeInt64BE } from '@rocketmq-ts/protocol';
import { offsetToFileName } from '../config.js';
import { closeFd, fdatasync, preadFullSync, writeSync } from '../fsutil.js';

export const TIMER_UNIT_SIZE = 52;
/** Bytes of the blank that closes a file. */
export const TIMER_BLANK_SIZE = 16;
export const MAGIC_DEFAULT = 1;
export const MAGIC_ROLL = 1 << 1;
export const MAGIC_DELETE = 1 << 2;

/** A unit's magic is valid when it uses only the low four bits (RocketMQ's isMagicOK). */
export function isTimerMagicOK(magic: number): boolean {
  return (magic | 0xf) === 0xf;
}

/** One unit's fields, filled in place by readUnit (no allocation per unit). */
export interface TimerUnit {
  prevPos: number;
  magic: number;
  /** The timer's write time (ms, a multiple of the precision) when it was filed. */
  enqueueTime: number;
  /** The slot time it was filed under (ms). */
  delayedTime: number;
  /** Commit-log offset and size of the message in rmq_sys_wheel_timer. */
  phyOffset: number;
  size: number;
  topicHash: number;
}

export function newTimerUnit(): TimerUnit {
  return { prevPos: -1, magic: 0, enqueueTime: 0, delayedTime: 0, phyOffset: 0, size: 0, topicHash: 0 };
}

/** Encodes one unit into buf at pos (the layout above). */
export function encodeTimerUnit(buf: Buffer, pos: number, u: TimerUnit): void {
  buf.writeInt32BE(TIMER_UNIT_SIZE, pos);
  writeInt64BE(buf, pos + 4, u.prevPos);
  buf.writeInt32BE(u.magic, pos + 12);
  writeInt64BE(buf, pos + 16, u.enqueueTime);
  buf.writeInt32BE(u.delayedTime - u.enqueueTime, pos + 24);
  writeInt64BE(buf, pos + 28, u.phyOffset);
  buf.writeInt32BE(u.size, pos + 36);
  buf.writeInt32BE(u.topicHash, pos + 40);
  writeInt64BE(buf, pos + 44, 0);
}

/** Decodes the unit at pos into `out`; false when it is not a valid unit (size, magic). */
export function decodeTimerUnit(buf: Buffer, pos: number, out: TimerUnit): boolean {
  if (buf.readInt32BE(pos) !== TIMER_UNIT_SIZE) return false;
  const magic = buf.readInt32BE(pos + 12);
  if (!isTimerMagicOK(magic)) return false;
  out.prevPos = readInt64BE(buf, pos + 4);
  out.magic = magic;
  out.enqueueTime = readInt64BE(buf, pos + 16);
  out.delayedTime = out.enqueueTime + buf.readInt32BE(pos + 24);
  out.phyOffset = readInt64BE(buf, pos + 28);
  out.size = buf.readInt32BE(pos + 36);
  out.topicHash = buf.readInt32BE(pos + 40);
  return true;
}

interface TimerLogFile {
  readonly start: number;
  readonly path: string;
  fd: number;
  dirty: boolean;
}

export interface TimerLogScan {
  /** Where the valid units end (the next append goes here). */
  end: number;
  units: number;
  /** Why the scan stopped before the end of the written data ('' = clean end). */
  stopReason: string;
  /** Files removed because they lay after the end. */
  filesDeleted: number;
}

const TAIL_SIZE = 256 * 1024;
const WINDOW = 64 * 1024;
const SCAN_CHUNK = TIMER_UNIT_SIZE * 20_000;

export class TimerLog {
  private files: TimerLogFile[] = [];
  /** Logical end: where the next unit goes. */
  writePos = 0;
  /** Everything below is in the files (handed to the OS). */
  private tailStart = 0;
  private readonly tail = Buffer.alloc(TAIL_SIZE);
  /** Everything below is fdatasynced. */
  flushedPos = 0;
  private readonly win = Buffer.alloc(WINDOW);
  private winStart = -1;
  private winLen = 0;

  constructor(
    readonly dir: string,
    readonly fileSize: number,
  ) {}

  get minOffset(): number {
    return this.files[0]?.start ?? this.writePos;
  }

  get fileCount(): number {
    return this.files.length;
  }

  /** Opens the files (sorted by start offset). */
  loadSync(): void {
    fs.mkdirSync(this.dir, { recursive: true });
    const names = fs
      .readdirSync(this.dir)
      .filter((n) => /^\d{20}$/.test(n))
      .sort();
    for (const n of names) {
      const p = path.join(this.dir, n);
      const fd = fs.openSync(p, 'r+');
      if (fs.fstatSync(fd).size < this.fileSize) fs.ftruncateSync(fd, this.fileSize);
      this.files.push({ start: Number(n), path: p, fd, dirty: false });
    }
  }

  /**
   * Verifies units from the file holding `from` on, calling `onUnit` for each valid one, and cuts
   * the log after the last: the rest of that file is zeroed, later files are deleted.
   */
  recoverSync(from: number, onUnit: (pos: number, buf: Buffer, at: number) => void): TimerLogScan {
    const fsz = this.fileSize;
    let i = this.files.findIndex((f) => from < f.start + fsz);
    if (i < 0) i = Math.max(0, this.files.length - 1);
    let end = this.files[i]?.start ?? 0;
    let units = 0;
    let stopReason = '';
    const chunk = Buffer.alloc(SCAN_CHUNK);
    scan: for (; i < this.files.length; i++) {
      const f = this.files[i] as TimerLogFile;
      end = f.start;
      let filePos = 0;
      for (;;) {
        const want = Math.min(SCAN_CHUNK, fsz - filePos);
        if (want < TIMER_BLANK_SIZE) break scan;
        const n = preadFullSync(f.fd, chunk, 0, want, filePos);
        let p = 0;
        while (p + TIMER_BLANK_SIZE <= n) {
          const at = f.start + filePos + p;
          const size = chunk.readInt32BE(p);
          const magic = chunk.readInt32BE(p + 12);
          if (magic === BLANK_MAGIC_CODE && size === fsz - (filePos + p)) {
            // The file is full: the log continues in the next one.
            end = f.start + fsz;
            continue scan;
          }
          if (size === 0 && magic === 0) break scan; // never written: the clean end
          if (p + TIMER_UNIT_SIZE > n || size !== TIMER_UNIT_SIZE || !isTimerMagicOK(magic)) {
            stopReason = `bad unit at ${at} (size ${size}, magic ${magic})`;
            break scan;
          }
          onUnit(at, chunk, p);
          units++;
          p += TIMER_UNIT_SIZE;
          end = at + TIMER_UNIT_SIZE;
        }
        if (p === 0) break scan;
        filePos += p;
      }
    }
    const filesDeleted = this.truncateSync(end);
    this.writePos = end;
    this.tailStart = end;
    this.flushedPos = end;
    this.winStart = -1;
    return { end, units, stopReason, filesDeleted };
  }

  /** Zeroes [end, file end) of the file holding `end` and deletes the files after it. */
  private truncateSync(end: number): number {
    let deleted = 0;
    const keep: TimerLogFile[] = [];
    for (const f of this.files) {
      if (f.start + this.fileSize <= end) {
        keep.push(f);
      } else if (f.start <= end) {
        // A sparse hole reads as zeros: cut the file at the end and extend it again.
        fs.ftruncateSync(f.fd, end - f.start);
        fs.ftruncateSync(f.fd, this.fileSize);
        keep.push(f);
      } else {
        fs.closeSync(f.fd);
        fs.rmSync(f.path, { force: true });
        deleted++;
      }
    }
    this.files = keep;
    return deleted;
  }

  /** Appends one unit; returns its position. */
  append(u: TimerUnit): number {
    const fsz = this.fileSize;
    let fileStart = Math.floor(this.writePos / fsz) * fsz;
    const remaining = fileStart + fsz - this.writePos;
    if (TIMER_UNIT_SIZE + TIMER_BLANK_SIZE > remaining) {
      // Close the file with a blank (a unit always leaves room for one), then go on in the next.
      this.ensureFile(fileStart);
      this.reserveTail(TIMER_BLANK_SIZE);
      const at = this.writePos - this.tailStart;
      this.tail.writeInt32BE(remaining, at);
      writeInt64BE(this.tail, at + 4, 0);
      this.tail.writeInt32BE(BLANK_MAGIC_CODE, at + 12);
      this.writePos += TIMER_BLANK_SIZE;
      this.writeOutSync(); // the tail never spans two files
      fileStart += fsz;
      this.writePos = fileStart;
      this.tailStart = fileStart;
    }
    this.ensureFile(fileStart);
    this.reserveTail(TIMER_UNIT_SIZE);
    const pos = this.writePos;
    encodeTimerUnit(this.tail, pos - this.tailStart, u);
    this.writePos = pos + TIMER_UNIT_SIZE;
    return pos;
  }

  /** Makes room for `n` more bytes in the tail (writing it out when full). */
  private reserveTail(n: number): void {
    if (this.writePos - this.tailStart + n > TAIL_SIZE) this.writeOutSync();
  }

  private ensureFile(start: number): void {
    const last = this.files[this.files.length - 1];
    if (last !== undefined && last.start >= start) return;
    const p = path.join(this.dir, offsetToFileName(start));
    fs.mkdirSync(this.dir, { recursive: true });
    const fd = fs.openSync(p, 'w+');
    fs.ftruncateSync(fd, this.fileSize);
    this.files.push({ start, path: p, fd, dirty: false });
  }

  private fileOf(pos: number): TimerLogFile | undefined {
    const start = Math.floor(pos / this.fileSize) * this.fileSize;
    // Files are few; the newest is the usual answer.
    for (let i = this.files.length - 1; i >= 0; i--) {
      const f = this.files[i] as TimerLogFile;
      if (f.start === start) return f;
      if (f.start < start) return undefined;
    }
    return undefined;
  }

  /** Hands the unwritten tail to the OS with a positional write. */
  writeOutSync(): void {
    const len = this.writePos - this.tailStart;
    if (len <= 0) return;
    const f = this.fileOf(this.tailStart);
    if (f === undefined) throw new Error(`no timer-log file for offset ${this.tailStart}`);
    let done = 0;
    while (done < len) done += writeSync(f.fd, this.tail, done, len - done, this.tailStart - f.start + done);
    f.dirty = true;
    this.tailStart = this.writePos;
  }

  /** Writes the tail and fdatasyncs every file written since the last flush; returns the flushed end. */
  async flush(): Promise<number> {
    this.writeOutSync();
    const target = this.writePos;
    for (const f of this.files) {
      if (!f.dirty || f.fd < 0) continue;
      f.dirty = false;
      try {
        await fdatasync(f.fd);
      } catch (e) {
        f.dirty = true;
        throw e;
      }
    }
    if (target > this.flushedPos) this.flushedPos = target;
    return this.flushedPos;
  }

  /** Reads the unit at `pos` into `out`; false when there is none (outside the log, or not a valid unit). */
  readUnit(pos: number, out: TimerUnit): boolean {
    if (pos < this.minOffset || pos + TIMER_UNIT_SIZE > this.writePos || pos < 0) return false;
    if (pos >= this.tailStart) return decodeTimerUnit(this.tail, pos - this.tailStart, out);
    if (pos >= this.winStart && pos + TIMER_UNIT_SIZE <= this.winStart + this.winLen) return decodeTimerUnit(this.win, pos - this.winStart, out);
    const f = this.fileOf(pos);
    if (f === undefined) return false;
    // A window ending with this unit: the slot's earlier units usually sit just before it.
    const end = pos + TIMER_UNIT_SIZE;
    const start = Math.max(f.start, end - WINDOW);
    const n = preadFullSync(f.fd, this.win, 0, end - start, start - f.start);
    this.winStart = start;
    this.winLen = n;
    if (pos + TIMER_UNIT_SIZE > start + n) return false;
    return decodeTimerUnit(this.win, pos - start, out);
  }

  /** Files whose every unit names a commit-log offset below `minPhy` (the messages are gone), except the newest. */
  deleteExpiredSync(minPhy: number): number {
    let deleted = 0;
    const u = newTimerUnit();
    while (this.files.length > 1) {
      const f = this.files[0] as TimerLogFile;
      // The last unit of a full file: the largest index whose unit still leaves room for the blank.
      const lastUnit = Math.floor((this.fileSize - TIMER_UNIT_SIZE - TIMER_BLANK_SIZE) / TIMER_UNIT_SIZE) * TIMER_UNIT_SIZE;
      const b = Buffer.alloc(TIMER_UNIT_SIZE);
      if (preadFullSync(f.fd, b, 0, TIMER_UNIT_SIZE, lastUnit) !== TIMER_UNIT_SIZE || !decodeTimerUnit(b, 0, u)) break;
      if (u.phyOffset >= minPhy) break;
      this.files.shift();
      fs.closeSync(f.fd);
      fs.rmSync(f.path, { force: true });
      this.winStart = -1;
      deleted++;
    }
    return deleted;
  }

  async close(): Promise<void> {
    for (const f of this.files) {
      if (f.fd >= 0) await closeFd(f.fd);
      f.fd = -1;
    }
  }
}
