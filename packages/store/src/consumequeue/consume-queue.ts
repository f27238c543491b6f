// Consume queue: fixed 20-byte units {int64 commit-log offset, int32 size, int64 tags code} in files of
// `mappedFileSizeConsumeQueue` bytes named by their first byte offset. The newest file lives in memory.
import fs from 'node:fs';
import path from 'node:path';
import { readInt64BE, writeInt64BE } from '@rocketmq-ts/protocol';
import { offsetToFileName } from '../config.js';
import { closeFd, fdatasync, pread, preadFullSync, pwriteAll, writeSync, ZERO_BLOCK } from '../fsutil.js';

export const CQ_UNIT_SIZE = 20;
/** Size field of a padding unit (RocketMQ fills gaps with {0, Integer.MAX_VALUE, 0}). */
export const CQ_BLANK_SIZE = 0x7fffffff;
/** Reads of a queue file at load: whole units, 80 KiB. */
const LOAD_CHUNK = CQ_UNIT_SIZE * 4096;
/**
 * Units read at once from a file not held in memory when a pull asks for several (819 units, ~16 KiB):
 * a consumer catching up through an older file then finds the next ~25 pulls' units in memory
 * instead of making a thread-pool read for each.
 */
const READ_AHEAD_UNITS = 819;

/** Units of an older file read ahead: bytes [start, start + buf.length) of `file`. */
interface ReadAhead {
  readonly file: CQFile;
  readonly start: number;
  readonly buf: Buffer;
}

interface CQFile {
  /** Logical offset of the first unit. */
  readonly startIndex: number;
  readonly path: string;
  fd: number;
  /** Reads in flight on fd: a file deleted meanwhile is closed by the last of them. */
  refs?: number;
  deleted?: boolean;
  /** In-memory copy of units [0, count) while the file is the newest or not yet flushed. */
  buf: Buffer | undefined;
  flushedUnits: number;
}

/** Read through a call so the check after an await is not narrowed away by the one before it. */
function isDeleted(f: CQFile): boolean {
  return f.deleted === true;
}

export class ConsumeQueue {
  private files: CQFile[] = [];
  /** Next logical offset to write (units written). */
  maxOffset = 0;
  /** First logical offset still readable. */
  minOffset = 0;
  /** End (offset + size) of the last unit in the commit log. */
  maxPhyEnd = 0;
  private readonly unitsPerFile: number;
  private readonly dir: string;
  private flushing: Promise<number> | undefined;
  /** Recovery rewrote units of a file not held in memory: the next flush fdatasyncs every file. */
  private repairedOnDisk = false;
  /**
   * The last units read ahead from a file not held in memory (readUnits). Each read ahead fills a new
   * buffer, so units handed out earlier never change under their reader; dropped when a read is
   * served from memory (the reader caught up) and whenever units on disk are rewritten.
   */
  private ahead: ReadAhead | undefined;
  /** Counts rewrites of units on disk: a read ahead that overlapped one is not kept. */
  private rewrites = 0;
  /** Reads of units from files not held in memory, and the reads served from units read ahead. */
  readonly readAheadStats = { reads: 0, hits: 0 };

  constructor(
    readonly topic: string,
    readonly queueId: number,
    rootDir: string,
    readonly fileSize: number,
  ) {
    this.unitsPerFile = fileSize / CQ_UNIT_SIZE;
    this.dir = path.join(rootDir, topic, String(queueId));
  }

  // ---------------------------------------------------------------- load (sync)

  /**
   * Opens the files found on disk and reads the newest one up to its first invalid unit. After a
   * crash (`scanStale`) the rest of that file is checked too: bytes a torn flush left behind the
   * first hole would resurface after a later crash, so they are cleared now. After a clean
   * shutdown nothing lies behind the last unit and only the used part is read: with thousands of
   * queues, start-up reads kilobytes per queue instead of whole files.
   */
  loadSync(scanStale = true): void {
    if (!fs.existsSync(this.dir)) return;
    const names = fs
      .readdirSync(this.dir)
      .filter((n) => /^\d{20}$/.test(n))
      .sort();
    this.files = names.map((n) => ({
      startIndex: Number(n) / CQ_UNIT_SIZE,
      path: path.join(this.dir, n),
      fd: fs.openSync(path.join(this.dir, n), 'r+'),
      buf: undefined,
      flushedUnits: 0,
    }));
    // Find the last valid unit scanning files from the newest; drop empty trailing files.
    while (this.files.length > 0) {
      const f = this.files[this.files.length - 1] as CQFile;
      const { buf, count } = this.readValidUnits(f.fd);
      if (count === 0 && this.files.length > 1) {
        fs.closeSync(f.fd);
        fs.unlinkSync(f.path);
        this.files.pop();
        continue;
      }
      const validEnd = count * CQ_UNIT_SIZE;
      if (scanStale) {
        const tailEnd = lastNonZeroFrom(f.fd, validEnd, staleScanEnd(f.fd, validEnd, this.fileSize));
        if (tailEnd > validEnd) writeSync(f.fd, Buffer.alloc(tailEnd - validEnd), 0, tailEnd - validEnd, validEnd);
      }
      // A right-sized copy (at least 64 units) rather than the read buffer.
      const keep = Buffer.alloc(Math.max(CQ_UNIT_SIZE * 64, validEnd));
      buf.copy(keep, 0, 0, validEnd);
      f.buf = keep;
      f.flushedUnits = count;
      this.maxOffset = f.startIndex + count;
      if (count > 0) {
        const last = (count - 1) * CQ_UNIT_SIZE;
        this.maxPhyEnd = readInt64BE(keep, last) + keep.readInt32BE(last + 8);
      }
      break;
    }
    for (const f of this.files) if (f.buf === undefined) f.flushedUnits = this.unitsPerFile;
    const first = this.files[0];
    this.minOffset = first === undefined ? 0 : first.startIndex;
    if (first === undefined) this.maxOffset = 0;
  }

  /**
   * Reads a file's units from its start until the first invalid one, in reads that double from
   * 80 KiB: `count` valid units in `buf`.
   */
  private readValidUnits(fd: number): { buf: Buffer; count: number } {
    let buf = Buffer.allocUnsafe(Math.min(this.fileSize, LOAD_CHUNK));
    let have = 0;
    let count = 0;
    for (;;) {
      if (have === buf.length) {
        if (buf.length >= this.fileSize) break;
        const grown = Buffer.allocUnsafe(Math.min(this.fileSize, buf.length * 2));
        buf.copy(grown, 0, 0, have);
        buf = grown;
      }
      const n = preadFullSync(fd, buf, have, buf.length - have, have);
      have += n;
      while ((count + 1) * CQ_UNIT_SIZE <= have && isValidUnit(buf, count * CQ_UNIT_SIZE)) count++;
      if (n === 0 || (count + 1) * CQ_UNIT_SIZE <= have) break; // end of file, or an invalid unit
    }
    return { buf, count };
  }

  /** Drops units pointing at or past `phyEnd` (after commit-log recovery). Sync; returns units dropped. */
  truncateDirtySync(phyEnd: number): number {
    this.ahead = undefined;
    this.rewrites++;
    let dropped = 0;
    while (this.maxOffset > this.minOffset) {
      const f = this.files[this.files.length - 1] as CQFile;
      if (f.buf === undefined) f.buf = this.readFileSync(f, this.maxOffset - f.startIndex);
      const idx = this.maxOffset - 1 - f.startIndex;
      if (idx < 0) {
        // The newest file is empty: remove it and continue in the previous one.
        fs.closeSync(f.fd);
        fs.unlinkSync(f.path);
        this.files.pop();
        continue;
      }
      const at = idx * CQ_UNIT_SIZE;
      const phy = readInt64BE(f.buf, at);
      const size = f.buf.readInt32BE(at + 8);
      if (size !== CQ_BLANK_SIZE && phy + size <= phyEnd) break;
      f.buf.fill(0, at, at + CQ_UNIT_SIZE);
      if (f.fd >= 0 && f.flushedUnits > idx) {
        writeSync(f.fd, Buffer.alloc(CQ_UNIT_SIZE), 0, CQ_UNIT_SIZE, at);
        f.flushedUnits = idx;
      }
      this.maxOffset--;
      dropped++;
    }
    this.recomputeMaxPhyEnd();
    return dropped;
  }

  private readFileSync(f: CQFile, units: number): Buffer {
    const buf = Buffer.alloc(Math.max(units, 64) * CQ_UNIT_SIZE);
    preadFullSync(f.fd, buf, 0, units * CQ_UNIT_SIZE, 0);
    return buf;
  }

  private recomputeMaxPhyEnd(): void {
    this.maxPhyEnd = 0;
    const f = this.files[this.files.length - 1];
    if (f === undefined || f.buf === undefined || this.maxOffset <= f.startIndex) return;
    const at = (this.maxOffset - 1 - f.startIndex) * CQ_UNIT_SIZE;
    const size = f.buf.readInt32BE(at + 8);
    if (size !== CQ_BLANK_SIZE) this.maxPhyEnd = readInt64BE(f.buf, at) + size;
  }

  // ---------------------------------------------------------------- write

  /**
   * Writes the unit for logical offset `queueOffset`. Idempotent for recovery: offsets already present
   * are skipped; a gap is padded with blank units. Returns true when a unit was added.
   */
  putAt(queueOffset: number, phyOffset: number, size: number, tagsCode: number): boolean {
    if (queueOffset < this.maxOffset) {
      this.repairUnit(queueOffset, phyOffset, size, tagsCode);
      return false;
    }
    while (queueOffset > this.maxOffset) this.appendUnit(0, CQ_BLANK_SIZE, 0);
    this.appendUnit(phyOffset, size, tagsCode);
    this.maxPhyEnd = phyOffset + size;
    return true;
  }

  /**
   * Recovery: a unit already present must match the record. A unit can be torn on disk because 20-byte
   * units straddle 4 KiB pages and a crash may persist one page of a write but not the next.
   */
  private repairUnit(queueOffset: number, phy: number, size: number, tagsCode: number): void {
    const f = this.findFile(queueOffset);
    if (f === undefined || queueOffset < this.minOffset) return;
    const at = (queueOffset - f.startIndex) * CQ_UNIT_SIZE;
    if (f.buf === undefined) {
      // An older file, not held in memory: check the unit on disk and rewrite it in place. A crash can
      // leave its last units unwritten while the next file already has units.
      if (f.fd < 0) return;
      const unit = Buffer.alloc(CQ_UNIT_SIZE);
      preadFullSync(f.fd, unit, 0, CQ_UNIT_SIZE, at);
      if (readInt64BE(unit, 0) === phy && unit.readInt32BE(8) === size && readInt64BE(unit, 12) === tagsCode) return;
      writeInt64BE(unit, 0, phy);
      unit.writeInt32BE(size, 8);
      writeInt64BE(unit, 12, tagsCode);
      writeSync(f.fd, unit, 0, CQ_UNIT_SIZE, at);
      this.repairedOnDisk = true;
      this.ahead = undefined;
      this.rewrites++;
      return;
    }
    if (at + CQ_UNIT_SIZE > f.buf.length) return;
    if (readInt64BE(f.buf, at) === phy && f.buf.readInt32BE(at + 8) === size && readInt64BE(f.buf, at + 12) === tagsCode) return;
    writeInt64BE(f.buf, at, phy);
    f.buf.writeInt32BE(size, at + 8);
    writeInt64BE(f.buf, at + 12, tagsCode);
    f.flushedUnits = Math.min(f.flushedUnits, queueOffset - f.startIndex);
  }

  private appendUnit(phy: number, size: number, tagsCode: number): void {
    let f = this.files[this.files.length - 1];
    if (f === undefined || this.maxOffset - f.startIndex >= this.unitsPerFile) {
      if (f === undefined) this.minOffset = this.maxOffset;
      const start = this.maxOffset;
      f = {
        startIndex: start,
        path: path.join(this.dir, offsetToFileName(start * CQ_UNIT_SIZE)),
        fd: -1,
        buf: Buffer.alloc(CQ_UNIT_SIZE * 256),
        flushedUnits: 0,
      };
      this.files.push(f);
    }
    let buf = f.buf as Buffer;
    const at = (this.maxOffset - f.startIndex) * CQ_UNIT_SIZE;
    if (at + CQ_UNIT_SIZE > buf.length) {
      const grown = Buffer.alloc(Math.min(this.fileSize, buf.length * 2));
      buf.copy(grown, 0, 0, at);
      f.buf = buf = grown;
    }
    writeInt64BE(buf, at, phy);
    buf.writeInt32BE(size, at + 8);
    writeInt64BE(buf, at + 12, tagsCode);
    this.maxOffset++;
  }

  // ---------------------------------------------------------------- read

  private findFile(index: number): CQFile | undefined {
    const fs_ = this.files;
    let lo = 0;
    let hi = fs_.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const f = fs_[mid] as CQFile;
      if (index < f.startIndex) hi = mid - 1;
      else if (index >= f.startIndex + this.unitsPerFile) lo = mid + 1;
      else return f;
    }
    return undefined;
  }

  /**
   * Units [from, from+n) as raw 20-byte entries, n ≤ count, limited to one file and to maxOffset.
   * undefined when `from` is no longer stored.
   */
  async readUnits(from: number, count: number, ignoreMin = false): Promise<Buffer | undefined> {
    if (from >= this.maxOffset || (from < this.minOffset && !ignoreMin)) return undefined;
    const f = this.findFile(from);
    if (f === undefined) return undefined;
    const n = Math.min(count, f.startIndex + this.unitsPerFile - from, this.maxOffset - from);
    const at = (from - f.startIndex) * CQ_UNIT_SIZE;
    const len = n * CQ_UNIT_SIZE;
    if (f.buf !== undefined) {
      this.ahead = undefined;
      return f.buf.subarray(at, at + len);
    }
    if (f.fd < 0 || f.deleted === true) return undefined;
    const a = this.ahead;
    if (a !== undefined && a.file === f && at >= a.start && at + len <= a.start + a.buf.length) {
      this.readAheadStats.hits++;
      return a.buf.subarray(at - a.start, at - a.start + len);
    }
    // Several units asked for (a pull): read ahead to the file's stored end, READ_AHEAD_UNITS at most.
    // Single units (lookups, binary searches) are read alone.
    const stored = Math.min(this.unitsPerFile, this.maxOffset - f.startIndex) * CQ_UNIT_SIZE;
    const want = count > 1 ? Math.max(len, Math.min(READ_AHEAD_UNITS * CQ_UNIT_SIZE, stored - at)) : len;
    const out = Buffer.allocUnsafe(want);
    this.readAheadStats.reads++;
    const rewrites = this.rewrites;
    let got = 0;
    // Retention may delete the file while the read waits in the thread pool: the fd stays open
    // until the last read on it is done (a closed, or worse reused, fd is never read).
    f.refs = (f.refs ?? 0) + 1;
    try {
      while (got < out.length) {
        const r = await pread(f.fd, out, got, out.length - got, at + got);
        if (r === 0) return undefined;
        got += r;
      }
    } finally {
      f.refs--;
      if (f.refs === 0 && isDeleted(f) && f.fd >= 0) void closeFd(f.fd);
    }
    if (want === len) return out;
    if (rewrites === this.rewrites) this.ahead = { file: f, start: at, buf: out };
    return out.subarray(0, len);
  }

  /** One unit: {phyOffset, size, tagsCode}, or undefined. */
  async getUnit(index: number, ignoreMin = false): Promise<{ phyOffset: number; size: number; tagsCode: number } | undefined> {
    const b = await this.readUnits(index, 1, ignoreMin);
    if (b === undefined || b.length < CQ_UNIT_SIZE) return undefined;
    return { phyOffset: readInt64BE(b, 0), size: b.readInt32BE(8), tagsCode: readInt64BE(b, 12) };
  }

  // ---------------------------------------------------------------- flush & cleanup

  /** Writes unflushed units and fdatasyncs; returns bytes written. Serialized per queue. */
  flush(): Promise<number> {
    if (this.flushing !== undefined) return this.flushing.then(() => this.flush());
    const p = this.doFlush().finally(() => {
      this.flushing = undefined;
    });
    this.flushing = p;
    return p;
  }

  private async doFlush(): Promise<number> {
    let bytes = 0;
    const last = this.files[this.files.length - 1];
    if (this.repairedOnDisk) {
      this.repairedOnDisk = false;
      for (const f of this.files) if (f.fd >= 0 && f.buf === undefined) await fdatasync(f.fd);
    }
    // Files in order, each to its end before the next: a file must never hold units on disk while an
    // older one still misses some (recovery trusts older files up to the checkpoint).
    for (const f of this.files) {
      for (;;) {
        const units = Math.min(this.unitsPerFile, this.maxOffset - f.startIndex);
        if (f.buf === undefined || units <= f.flushedUnits) break;
        if (f.fd < 0) {
          await fs.promises.mkdir(this.dir, { recursive: true });
          const fh = await fs.promises.open(f.path, fs.constants.O_RDWR | fs.constants.O_CREAT);
          await fh.truncate(this.fileSize);
          await fh.close();
          f.fd = fs.openSync(f.path, 'r+');
        }
        const from = f.flushedUnits * CQ_UNIT_SIZE;
        const to = units * CQ_UNIT_SIZE;
        // If appendUnit swaps in a grown buffer meanwhile, the old one still holds these bytes unchanged.
        await pwriteAll(f.fd, f.buf, from, to - from, from);
        await fdatasync(f.fd);
        f.flushedUnits = units;
        bytes += to - from;
        // The newest file gets one pass (it may keep growing); a file that stopped being the newest
        // during the write is completed before the loop moves on.
        if (f === this.files[this.files.length - 1]) break;
      }
      if (f !== last && f.flushedUnits >= this.unitsPerFile) f.buf = undefined;
    }
    return bytes;
  }

  /** Deletes files whose every unit points below `minPhy` (never the newest). Returns files deleted. */
  async deleteExpiredFiles(minPhy: number): Promise<number> {
    let deleted = 0;
    while (this.files.length > 1) {
      const f = this.files[0] as CQFile;
      const lastUnit = await this.getUnit(f.startIndex + this.unitsPerFile - 1, true);
      if (lastUnit === undefined || lastUnit.phyOffset + lastUnit.size > minPhy) break;
      this.files.shift();
      f.deleted = true;
      if (this.ahead?.file === f) this.ahead = undefined;
      if (f.fd >= 0 && (f.refs ?? 0) === 0) await closeFd(f.fd);
      await fs.promises.unlink(f.path).catch(() => undefined);
      deleted++;
    }
    await this.correctMinOffset(minPhy);
    return deleted;
  }

  /** minOffset = first unit whose record is still in the commit log. */
  async correctMinOffset(minPhy: number): Promise<void> {
    const first = this.files[0];
    if (first === undefined) {
      this.minOffset = this.maxOffset;
      return;
    }
    let lo = Math.max(first.startIndex, this.minOffset);
    let hi = this.maxOffset;
    // Units are ordered by phyOffset: binary search the first one at or past minPhy.
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const u = await this.getUnit(mid, true);
      if (u !== undefined && u.size !== CQ_BLANK_SIZE && u.phyOffset >= minPhy) hi = mid;
      else lo = mid + 1;
    }
    this.minOffset = lo;
  }

  async close(): Promise<void> {
    for (const f of this.files) if (f.fd >= 0) await closeFd(f.fd);
    this.files = [];
  }

  closeSync(): void {
    for (const f of this.files) if (f.fd >= 0) fs.closeSync(f.fd);
    this.files = [];
  }
}

function isValidUnit(buf: Buffer, at: number): boolean {
  return readInt64BE(buf, at) >= 0 && buf.readInt32BE(at + 8) > 0;
}

/**
 * How far behind the valid units stale bytes can lie. Queue files are sparse (created at full size,
 * written from the start), so when the file system's allocation is exactly the blocks that the valid
 * units fill, nothing was ever written beyond them and only the rest of their last block needs a
 * look. Any other allocation (stale blocks, file-system metadata, compression) means a full scan.
 */
function staleScanEnd(fd: number, validEnd: number, fileEnd: number): number {
  const st = fs.fstatSync(fd);
  const block = st.blksize > 0 ? st.blksize : 4096;
  const usedEnd = Math.ceil(validEnd / block) * block;
  return st.blocks * 512 === usedEnd ? Math.min(usedEnd, fileEnd) : fileEnd;
}

/** Reads [from, to) of a file in chunks; the end of its last non-zero byte, or `from` when all are zero. */
function lastNonZeroFrom(fd: number, from: number, to: number): number {
  const scratch = Buffer.allocUnsafe(LOAD_CHUNK);
  let last = from;
  for (let pos = from; pos < to;) {
    const n = preadFullSync(fd, scratch, 0, Math.min(scratch.length, to - pos), pos);
    if (n === 0) break;
    // Whole zero chunks (the usual case: the sparse rest of a preallocated file) are one memcmp.
    if (scratch.compare(ZERO_BLOCK, 0, n, 0, n) !== 0) {
      for (let i = n - 1; i >= 0; i--) {
        if (scratch[i] !== 0) {
          last = pos + i + 1;
          break;
        }
      }
    }
    pos += n;
  }
  return last;
}
