// Commit log: pre-allocated segments named by start offset, an in-memory tail of write chunks, a
// positional writer, and group-commit fdatasync. Node has no mmap, so this class is the page cache.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BLANK_MAGIC_CODE, checkMessageRecord, encodeBlankRecord, END_FILE_MIN_BLANK_LENGTH, type RecordInfo } from '@rocketmq-ts/protocol';
import { offsetToFileName, StoreConfigError, type MessageStoreConfig } from '../config.js';
import type { FailureProbes, StoreLogger, StoreProbe } from '../probe.js';
import { closeFd, fdatasync, fdatasyncSync, ftruncate, pread, preadFullSync, pwriteAll, writeSync, writeZeros } from '../fsutil.js';

/** Tail writes up to this size are made synchronously (see writeOne). */
const SYNC_WRITE_MAX = 64 * 1024;
/** Released chunk buffers kept for reuse. */
const SPARE_CHUNKS = 1;

export interface Segment {
  readonly startOffset: number;
  readonly size: number;
  readonly path: string;
  fd: number;
  /** In-flight disk reads; a deleted segment's fd is closed when this drops to 0. */
  refs: number;
  deleted: boolean;
}

/** A contiguous run of the tail held in memory: buf[0, used) is data at global offset `start`. */
interface Chunk {
  readonly start: number;
  readonly buf: Buffer;
  used: number;
  /** buf[0, written) is on disk (page cache of the OS). */
  written: number;
  /** A thread-pool write from buf is in flight: the buffer must not be recycled yet. */
  poolWrite: boolean;
  readonly seg: Segment;
  /** Bytes copied in from a master (replication), not encoded by this process's put path. */
  readonly replicated: boolean;
}

interface WriteWaiter {
  end: number;
  resolve: (ok: boolean) => void;
}

interface SyncWaiter {
  end: number;
  deadline: number;
  resolve: (ok: boolean) => void;
}

export interface ScanResult {
  logEnd: number;
  recordsChecked: number;
  bytesTruncated: number;
  stopReason: string;
  lastStoreTimestamp: number;
  /** Damaged records passed over because an intact record follows them. */
  recordsSkipped: number;
  /** Where and why (the first few). */
  skippedReasons: string[];
}

/** Gathered reads' block cache (CommitLog.readBlocks): how many stretches, and their size. */
const READ_BLOCKS = 4;
const READ_BLOCK_SIZE = 256 * 1024;

interface ReadBlock {
  /** Log offset of buf[0]; -1 when the block holds nothing. */
  start: number;
  len: number;
  buf: Buffer;
}

/** Size of the buffers lent to reads whose results are given back (lendReadBuffer), and how many are kept. */
export const LENT_READ_BUFFER_SIZE = 64 * 1024;
const LENT_READ_BUFFERS_KEPT = 32;

/** Where a read of `n` bytes lands: the front of the caller's `into`, else new memory. */
function readTarget(into: Buffer | undefined, n: number): Buffer {
  return into !== undefined ? into.subarray(0, n) : Buffer.allocUnsafe(n);
}

/** Copies records k < n (log offset phys[k], sizes[k] bytes) from `src`, which holds the log from `srcStart`, back to back into `out`. */
function gatherInto(out: Buffer, src: Buffer, srcStart: number, phys: readonly number[], sizes: readonly number[], n: number): void {
  let w = 0;
  for (let k = 0; k < n; k++) {
    const from = phys[k]! - srcStart;
    w += src.copy(out, w, from, from + sizes[k]!);
  }
}

export class CommitLog {
  readonly segments: Segment[] = [];
  private chunks: Chunk[] = [];
  /** Full-size chunk buffers released from the cache, reused by the next chunks. */
  private spareBufs: Buffer[] = [];
  private cachedBytes = 0;
  /** Where readGathered's vectored reads put the bytes between the records it wants (never read back). */
  private gapScratch: Buffer = Buffer.allocUnsafeSlow(64 * 1024);
  /**
   * The last few stretches of the log read from the page cache for gathered reads (readGathered):
   * consumers of a topic's queues pull records that lie between each other's, so one read of a
   * stretch serves the pulls of the other queues too (what a mapped file gives RocketMQ for free).
   * Only bytes below writtenPos are kept: those never change while the log is open. The buffers
   * are reused; what is served from them is copied out.
   */
  private readonly readBlocks: ReadBlock[] = Array.from({ length: READ_BLOCKS }, () => ({ start: -1, len: 0, buf: Buffer.allocUnsafeSlow(0) }));
  private readBlockNext = 0;
  /** Buffers given back by readers (giveBackReadBuffer), lent again by lendReadBuffer. */
  private readonly lendable: Buffer[] = [];
  /** Gathered reads served from readBlocks / that read a block (for tests and metrics). */
  readonly readBlockStats = { hits: 0, misses: 0 };
  private activeSeg: Segment | undefined;
  private active: Chunk | undefined;
  private nextSeg: Segment | undefined;
  private nextSegPromise: Promise<Segment> | undefined;
  /** End of appended data (global offset). */
  wrotePos = 0;
  /** Everything below is fdatasynced. */
  flushedPos = 0;
  /** Store timestamp of the last appended record, and of the last flushed one. */
  lastStoreTimestamp = 0;
  flushedStoreTimestamp = 0;
  /** Set after a write/fsync failure: the log refuses appends from then on. */
  ioError: Error | undefined;
  /** Set for the rest of the event-loop turn in which a write failure lost appended bytes. */
  private lostUnwritten = false;
  /** Reserved append position (valid right after reserve() returned true). */
  tailBuf: Buffer = Buffer.alloc(0);
  tailPos = 0;

  private readonly dir: string;
  private readonly segSize: number;
  /** Reads within this many bytes of the end of the log are served synchronously (page cache). */
  private readonly hotBytes: number;
  private dirty = new Set<Segment>();
  private writing: Promise<void> | undefined;
  private writeScheduled = false;
  private flushChain: Promise<unknown> = Promise.resolve();
  private waiters: SyncWaiter[] = [];
  private writeWaiters: WriteWaiter[] = [];
  private groupScheduled = false;
  private groupRunning = false;
  private lastThoroughFlush = Date.now();
  /**
   * When the write path began to stall on asynchronous I/O that appends wait for (Date.now(); 0 =
   * not waiting): a segment roll, a group commit's fdatasync with waiters, a thread-pool write.
   */
  private rollWaitSince = 0;
  private rollWaiters = 0;
  private flushWaitSince = 0;
  private poolWriteSince = 0;
  private timers: NodeJS.Timeout[] = [];
  private closed = false;

  constructor(
    private readonly config: MessageStoreConfig,
    private readonly failures: FailureProbes,
    private readonly logger: StoreLogger,
    private readonly probe: StoreProbe,
  ) {
    this.dir = config.storePathCommitLog;
    this.segSize = config.mappedFileSizeCommitLog;
    this.hotBytes = (os.totalmem() * config.accessMessageInMemoryMaxRatio) / 100;
  }

  // ---------------------------------------------------------------- load & recovery (sync I/O allowed)

  /** Opens existing segment files (sync; load time only). */
  load(): void {
    fs.mkdirSync(this.dir, { recursive: true });
    const names = fs
      .readdirSync(this.dir)
      .filter((n) => /^\d{20}$/.test(n))
      .sort();
    for (const name of names) {
      const p = path.join(this.dir, name);
      const start = Number(name);
      const st = fs.statSync(p);
      if (st.size !== this.segSize) {
        if (st.size > this.segSize) {
          throw new StoreConfigError('mappedFileSizeCommitLog', this.segSize, `is smaller than the existing segment ${p} (${st.size} bytes)`);
        }
        // A segment whose pre-allocation was interrupted: extend it (the missing part is zeros).
        fs.truncateSync(p, this.segSize);
        this.logger.warn('extended short commit-log segment', { path: p, size: st.size });
      }
      this.segments.push({ startOffset: start, size: this.segSize, path: p, fd: fs.openSync(p, 'r+'), refs: 0, deleted: false });
    }
    for (let i = 1; i < this.segments.length; i++) {
      const a = this.segments[i - 1] as Segment;
      const b = this.segments[i] as Segment;
      if (a.startOffset + a.size !== b.startOffset) throw new Error(`commit log gap between ${a.path} and ${b.path}`);
    }
  }

  /** Start offset of the segment holding the newest data before `limit`, scanning backwards (used for timestamp-based recovery). */
  firstStoreTimestampOf(seg: Segment): number {
    const head = Buffer.alloc(128);
    const n = preadFullSync(seg.fd, head, 0, head.length, 0);
    const r = checkMessageRecord(head, 0, n, {});
    if (r.kind === 'record') return r.info.storeTimestamp;
    // The first record may be larger than our small read; fall back to the raw field position.
    if (n >= 64 && head.readInt32BE(4) !== 0 && head.readInt32BE(4) !== BLANK_MAGIC_CODE) return Number(head.readBigInt64BE(56));
    return 0;
  }

  /**
   * Verifies records from `fromOffset` (a record boundary) to the end of valid data, calling
   * `onRecord` for each good record; zeroes everything after the last good record and removes
   * segments past it. Sync I/O: load time only.
   */
  recover(fromOffset: number, checkCRC: boolean, onRecord: (info: RecordInfo) => void): ScanResult {
    const res: ScanResult = { logEnd: 0, recordsChecked: 0, bytesTruncated: 0, stopReason: '', lastStoreTimestamp: 0, recordsSkipped: 0, skippedReasons: [] };
    if (this.segments.length === 0) {
      res.logEnd = 0;
      return res;
    }
    const first = this.segments[0] as Segment;
    const last = this.segments[this.segments.length - 1] as Segment;
    let from = Math.min(Math.max(fromOffset, first.startOffset), last.startOffset + last.size);
    let segIdx = this.segments.findIndex((s) => from >= s.startOffset && from < s.startOffset + s.size);
    if (segIdx < 0) {
      res.logEnd = from;
      return res;
    }
    const BLOCK = 4 * 1024 * 1024;
    let win = Buffer.allocUnsafe(BLOCK);
    for (;;) {
      const seg = this.segments[segIdx] as Segment;
      let pos = from - seg.startOffset;
      let winStart = 0;
      let winLen = 0;
      // Makes buf cover seg[pos, pos+need) when possible; returns bytes available from pos.
      const ensure = (need: number): number => {
        if (pos >= winStart && pos + need <= winStart + winLen) return winStart + winLen - pos;
        const want = Math.max(BLOCK, need);
        if (win.length < want) win = Buffer.allocUnsafe(want);
        winStart = pos;
        winLen = preadFullSync(seg.fd, win, 0, Math.min(want, seg.size - pos), pos);
        return winLen;
      };
      let stop: string | undefined;
      let rolled = false;
      while (stop === undefined) {
        if (seg.size - pos < END_FILE_MIN_BLANK_LENGTH) {
          stop = 'segment ends without a blank record';
          break;
        }
        ensure(8);
        const size = win.readInt32BE(pos - winStart);
        if (size > 8 && size <= seg.size - pos) ensure(size);
        const r = checkMessageRecord(win, pos - winStart, winLen, { checkCRC, expectedPhysicalOffset: seg.startOffset + pos });
        if (r.kind === 'record') {
          onRecord(r.info);
          res.recordsChecked++;
          res.lastStoreTimestamp = r.info.storeTimestamp;
          pos += r.info.size;
        } else if (r.kind === 'blank') {
          if (pos + r.size !== seg.size) {
            stop = `blank record of ${r.size} bytes does not end the segment`;
          } else if (segIdx + 1 < this.segments.length) {
            rolled = true;
            break;
          } else {
            pos = seg.size;
            stop = '';
          }
        } else if (r.kind === 'end') {
          stop = '';
        } else if (this.intactRecordFollows(win, winStart, winLen, seg, pos, checkCRC)) {
          // A damaged record whose size field still leads to an intact record: skip it (not
          // dispatched, never served) instead of cutting the log there and losing everything after.
          res.recordsSkipped++;
          res.skippedReasons.push(`${seg.startOffset + pos}: ${r.reason}`);
          pos += win.readInt32BE(pos - winStart);
        } else {
          stop = r.reason;
        }
      }
      if (rolled) {
        segIdx++;
        from = (this.segments[segIdx] as Segment).startOffset;
        continue;
      }
      res.logEnd = seg.startOffset + pos;
      res.stopReason = stop ?? '';
      if (pos < seg.size) res.bytesTruncated += this.zeroTailSync(seg, pos);
      // Anything in later segments is past the end of the log.
      while (this.segments.length > segIdx + 1) {
        const s = this.segments.pop() as Segment;
        res.bytesTruncated += this.zeroTailSync(s, 0, true);
        fs.closeSync(s.fd);
        fs.unlinkSync(s.path);
      }
      return res;
    }
  }

  /**
   * Whether the damaged record at seg[pos] has a plausible size leading to an intact record at the
   * expected offset (or to the blank record closing the segment). A torn tail is followed by zeros,
   * never by a record, so it still ends the log.
   */
  private intactRecordFollows(win: Buffer, winStart: number, winLen: number, seg: Segment, pos: number, checkCRC: boolean): boolean {
    if (pos + 8 > winStart + winLen) return false;
    const size = win.readInt32BE(pos - winStart);
    const next = pos + size;
    if (size < 64 || next + 8 > seg.size) return false;
    // Read the next record's head and body through a separate buffer: `win` belongs to the scan.
    const head = Buffer.alloc(8);
    if (preadFullSync(seg.fd, head, 0, 8, next) < 8) return false;
    const nextSize = head.readInt32BE(0);
    if (head.readInt32BE(4) === BLANK_MAGIC_CODE) return next + nextSize === seg.size;
    if (nextSize < 64 || next + nextSize > seg.size) return false;
    const rec = Buffer.alloc(nextSize);
    if (preadFullSync(seg.fd, rec, 0, nextSize, next) < nextSize) return false;
    return checkMessageRecord(rec, 0, nextSize, { checkCRC, expectedPhysicalOffset: seg.startOffset + next }).kind === 'record';
  }

  /** Zeroes non-zero bytes of seg from pos up to the first all-zero 64 KiB block; returns bytes cleared. */
  private zeroTailSync(seg: Segment, pos: number, countOnly = false): number {
    this.failures.check('truncate');
    const BLOCK = 64 * 1024;
    const buf = Buffer.allocUnsafe(BLOCK);
    let cleared = 0;
    for (let p = pos; p < seg.size; p += BLOCK) {
      const n = preadFullSync(seg.fd, buf, 0, Math.min(BLOCK, seg.size - p), p);
      let lastNonZero = -1;
      for (let i = n - 1; i >= 0; i--) {
        if (buf[i] !== 0) {
          lastNonZero = i;
          break;
        }
      }
      if (lastNonZero < 0) break;
      cleared = p + lastNonZero + 1 - pos;
      if (!countOnly) writeSync(seg.fd, Buffer.alloc(lastNonZero + 1), 0, lastNonZero + 1, p);
    }
    if (!countOnly && cleared > 0) fdatasyncSync(seg.fd);
    return cleared;
  }

  /** After recovery: appends continue at logEnd. */
  startAppending(logEnd: number): void {
    this.wrotePos = logEnd;
    this.flushedPos = logEnd;
    this.activeSeg = this.segments.find((s) => logEnd >= s.startOffset && logEnd < s.startOffset + s.size);
    if (this.activeSeg !== undefined) fdatasyncSync(this.activeSeg.fd);
  }

  /**
   * Makes sure a segment is ready for the first append (a fresh store has none): a send must
   * never wait for a segment's zero-fill. Called before the store takes traffic.
   */
  async activateFirstSegment(): Promise<Segment | undefined> {
    if (this.activeSeg !== undefined) return undefined;
    const seg = await this.prepareNext(this.wrotePos);
    if (this.activeSeg === undefined && seg.startOffset === this.wrotePos) {
      this.activate(seg);
      return seg;
    }
    return undefined;
  }

  start(): void {
    if (this.config.flushDiskType === 'ASYNC_FLUSH') {
      this.timers.push(setInterval(() => void this.asyncFlushTick(), this.config.flushIntervalCommitLog));
    } else {
      this.timers.push(setInterval(() => this.expireWaiters(), Math.max(10, Math.min(100, this.config.syncFlushTimeout / 10))));
    }
    for (const t of this.timers) t.unref();
    if (this.activeSeg !== undefined) void this.prepareNext().catch(() => undefined);
  }

  // ---------------------------------------------------------------- append

  get minOffset(): number {
    const s = this.segments[0];
    return s === undefined ? this.wrotePos : s.startOffset;
  }

  /**
   * Reserves `size` contiguous bytes at the tail. On success `tailBuf`/`tailPos` point at the space
   * and the record's physical offset is `wrotePos`. Returns false when a segment must be created or
   * rolled first (call ensureWritable).
   */
  reserve(size: number): boolean {
    const seg = this.activeSeg;
    if (seg === undefined || this.ioError !== undefined) return false;
    const segEnd = seg.startOffset + seg.size;
    if (this.wrotePos + size + END_FILE_MIN_BLANK_LENGTH > segEnd) return false;
    let c = this.active;
    if (c === undefined || c.seg !== seg || c.start + c.buf.length < this.wrotePos + size) {
      const cap = Math.min(Math.max(this.config.commitLogWriteChunkSize, size), segEnd - this.wrotePos);
      const buf = cap === this.config.commitLogWriteChunkSize ? (this.spareBufs.pop() ?? Buffer.allocUnsafeSlow(cap)) : Buffer.allocUnsafeSlow(cap);
      c = { start: this.wrotePos, buf, used: 0, written: 0, poolWrite: false, seg, replicated: false };
      this.chunks.push(c);
      this.cachedBytes += cap;
      this.active = c;
    }
    this.tailBuf = c.buf;
    this.tailPos = c.used;
    return true;
  }

  /** Publishes `size` bytes written at the reserved position. */
  commit(size: number, storeTimestamp: number): void {
    (this.active as Chunk).used += size;
    this.wrotePos += size;
    this.lastStoreTimestamp = storeTimestamp;
    if (!this.writeScheduled) {
      this.writeScheduled = true;
      setImmediate(this.writeTick);
    }
    if (this.onAppend !== undefined) this.onAppend();
  }

  /** Called after every local append (the master's HA service wakes its senders with it). */
  onAppend: (() => void) | undefined;

  /**
   * An empty log (a new slave) begins at `offset`, a segment start, instead of 0: replication
   * starts at the master's oldest segment, whose name the first local segment then takes.
   */
  startEmptyAt(offset: number): void {
    if (this.segments.length > 0 || this.activeSeg !== undefined || this.wrotePos !== 0) throw new Error('the commit log is not empty');
    if (offset % this.segSize !== 0) throw new Error(`${offset} is not a segment start`);
    this.wrotePos = offset;
    this.flushedPos = offset;
  }

  /** Whether `offset` is further from the end of the log than the memory share that counts as hot. */
  isCold(offset: number): boolean {
    return this.wrotePos - offset > this.hotBytes;
  }

  /** No segment yet (a fresh store). */
  get isEmpty(): boolean {
    return this.segments.length === 0 && this.activeSeg === undefined && this.wrotePos === 0;
  }

  /** Creates or rolls segments until `size` bytes can be reserved. Throws on I/O failure. */
  async ensureWritable(size: number): Promise<void> {
    if (this.rollWaiters++ === 0) this.rollWaitSince = Date.now();
    try {
      await this.ensureWritableInner(size);
    } finally {
      if (--this.rollWaiters === 0) this.rollWaitSince = 0;
    }
  }

  /**
   * Since when (Date.now()) appends have been waiting on stalled I/O, 0 when they are not: the
   * oldest of a segment roll, a group commit's fdatasync that appends wait for, a thread-pool write.
   */
  get stalledSince(): number {
    let t = this.rollWaitSince;
    if (this.flushWaitSince !== 0 && (t === 0 || this.flushWaitSince < t)) t = this.flushWaitSince;
    if (this.poolWriteSince !== 0 && (t === 0 || this.poolWriteSince < t)) t = this.poolWriteSince;
    return t;
  }

  /** Appends waiting on the log: for a roll, for their fdatasync (SYNC_FLUSH), for their write. */
  get waitingAppends(): number {
    return this.rollWaiters + this.waiters.length + this.writeWaiters.length;
  }

  private async ensureWritableInner(size: number): Promise<void> {
    for (let guard = 0; guard < 4; guard++) {
      if (this.ioError !== undefined) throw this.ioError;
      if (this.reserve(size)) return;
      if (this.activeSeg === undefined) {
        const seg = await this.prepareNext(this.wrotePos);
        if (this.activeSeg === undefined && seg.startOffset === this.wrotePos) {
          this.activate(seg);
          void this.prepareNext().catch(() => undefined);
        }
        continue;
      }
      const seg = this.activeSeg;
      if (this.wrotePos + size + END_FILE_MIN_BLANK_LENGTH <= seg.startOffset + seg.size) continue;
      await this.prepareNext();
      if (this.activeSeg === seg && this.wrotePos + size + END_FILE_MIN_BLANK_LENGTH > seg.startOffset + seg.size) this.rollNow();
    }
    if (!this.reserve(size)) throw new Error(`cannot reserve ${size} bytes in the commit log`);
  }

  /** Ends the active segment with a blank record and switches to the pre-allocated next one. */
  private rollNow(): void {
    const seg = this.activeSeg as Segment;
    const next = this.nextSeg;
    if (next === undefined) throw new Error('next segment not ready');
    const segEnd = seg.startOffset + seg.size;
    const remaining = segEnd - this.wrotePos;
    let c = this.active;
    if (c === undefined || c.seg !== seg || c.start + c.buf.length - this.wrotePos < END_FILE_MIN_BLANK_LENGTH) {
      c = { start: this.wrotePos, buf: Buffer.allocUnsafeSlow(END_FILE_MIN_BLANK_LENGTH), used: 0, written: 0, poolWrite: false, seg, replicated: false };
      this.chunks.push(c);
      this.cachedBytes += c.buf.length;
    }
    encodeBlankRecord(c.buf, c.used, remaining);
    c.used += END_FILE_MIN_BLANK_LENGTH;
    this.active = undefined;
    this.wrotePos = segEnd;
    this.activate(next);
    this.probe.onSegmentRoll?.(next.startOffset);
    this.scheduleWrite();
    void this.prepareNext().catch(() => undefined);
  }

  /** Makes a segment from prepareNext the one appends go to. */
  private activate(seg: Segment): void {
    if (seg === this.nextSeg) {
      this.nextSeg = undefined;
      this.nextSegPromise = undefined;
    }
    this.activeSeg = seg;
    this.segments.push(seg);
  }

  /** Pre-allocates the segment after the active one (or at `at`), once. */
  private prepareNext(at?: number): Promise<Segment> {
    if (this.nextSeg !== undefined) return Promise.resolve(this.nextSeg);
    if (this.nextSegPromise !== undefined) return this.nextSegPromise;
    const start = at ?? (this.activeSeg === undefined ? this.wrotePos : this.activeSeg.startOffset + this.activeSeg.size);
    const p = this.createSegment(start).then(
      (seg) => {
        if (this.closed) {
          void closeFd(seg.fd);
          throw new Error('commit log closed');
        }
        this.nextSeg = seg;
        return seg;
      },
      (e: unknown) => {
        this.nextSegPromise = undefined;
        throw e;
      },
    );
    this.nextSegPromise = p;
    return p;
  }

  private async createSegment(start: number): Promise<Segment> {
    this.failures.check('roll');
    const stall = this.failures.delay('roll');
    if (stall !== undefined) await stall;
    const p = path.join(this.dir, offsetToFileName(start));
    const fh = await fs.promises.open(p, 'w+');
    const fd = fh.fd;
    try {
      if (this.config.preallocateMode === 'zeros') await writeZeros(fd, this.segSize);
      else await ftruncate(fd, this.segSize);
    } catch (e) {
      await fh.close();
      await fs.promises.unlink(p).catch(() => undefined);
      throw e;
    }
    // Keep the raw fd; the FileHandle object must not close it on GC.
    const seg: Segment = { startOffset: start, size: this.segSize, path: p, fd: fs.openSync(p, 'r+'), refs: 0, deleted: false };
    await fh.close();
    return seg;
  }

  // ---------------------------------------------------------------- writer and flush

  private readonly writeTick = (): void => {
    this.writeScheduled = false;
    this.writeUpTo(this.wrotePos).then(
      () => this.resolveWriteWaiters(),
      (e: unknown) => this.onIoError(e),
    );
  };

  /** Resolves true once everything below `end` has been handed to the OS; false on I/O failure. */
  whenWritten(end: number): Promise<boolean> {
    if (this.ioError !== undefined) return Promise.resolve(this.writtenPos >= end);
    if (this.writtenPos >= end) return Promise.resolve(true);
    return new Promise((resolve) => {
      this.writeWaiters.push({ end, resolve });
      this.scheduleWrite();
    });
  }

  private resolveWriteWaiters(): void {
    if (this.writeWaiters.length === 0) return;
    const written = this.writtenPos;
    const keep: WriteWaiter[] = [];
    for (const w of this.writeWaiters) {
      if (w.end <= written) w.resolve(true);
      else keep.push(w);
    }
    this.writeWaiters = keep;
    if (keep.length > 0) this.scheduleWrite();
  }

  private scheduleWrite(): void {
    if (!this.writeScheduled) {
      this.writeScheduled = true;
      setImmediate(this.writeTick);
    }
  }

  /** Everything below this offset has been handed to the OS. */
  get writtenPos(): number {
    for (const c of this.chunks) if (c.written < c.used) return c.start + c.written;
    return this.wrotePos;
  }

  private async writeUpTo(end: number): Promise<void> {
    const target = Math.min(end, this.wrotePos);
    while (this.writtenPos < target) {
      if (this.ioError !== undefined) throw this.ioError;
      if (this.writing !== undefined) {
        await this.writing;
        continue;
      }
      const w = this.writeOne();
      this.writing = w.finally(() => {
        this.writing = undefined;
      });
      await this.writing;
    }
  }

  private async writeOne(): Promise<void> {
    const c = this.chunks.find((x) => x.written < x.used);
    if (c === undefined) return;
    const from = c.written;
    const to = c.used;
    this.failures.check('write');
    const pos = c.start - c.seg.startOffset + from;
    if (to - from <= SYNC_WRITE_MAX) {
      // A small write is a memcpy into the page cache: cheaper done here than handed to the thread
      // pool. Large ones go to the pool so the copy runs beside the event loop.
      let off = from;
      while (off < to) off += writeSync(c.seg.fd, c.buf, off, to - off, pos + off - from);
    } else {
      c.poolWrite = true;
      this.poolWriteSince = Date.now();
      try {
        await pwriteAll(c.seg.fd, c.buf, from, to - from, pos);
      } finally {
        c.poolWrite = false;
        this.poolWriteSince = 0;
      }
    }
    // writeAppendedSync may have written further meanwhile (the same bytes, written twice).
    if (to > c.written) c.written = to;
    this.dirty.add(c.seg);
    this.releaseChunks();
  }

  /**
   * Hands everything appended so far to the OS now (synchronous positional writes; a memcpy into
   * the page cache). The broker calls this before its replies leave, once per batch of replies:
   * an acknowledged message must survive a process crash, as it does with RocketMQ's mmapped
   * writes. Returns false when appended bytes cannot be written (I/O failure): their replies must
   * not be sent.
   */
  writeAppendedSync(): boolean {
    if (this.ioError !== undefined) return !this.lostUnwritten;
    const cs = this.chunks;
    for (let i = 0; i < cs.length; i++) {
      const c = cs[i] as Chunk;
      if (c.written >= c.used) continue;
      try {
        this.failures.check('write');
        const from = c.written;
        const to = c.used;
        const pos = c.start - c.seg.startOffset;
        let off = from;
        while (off < to) off += writeSync(c.seg.fd, c.buf, off, to - off, pos + off);
        c.written = to;
        this.dirty.add(c.seg);
      } catch (e) {
        this.onIoError(e);
        return false;
      }
    }
    this.releaseChunks();
    this.resolveWriteWaiters();
    return true;
  }

  /**
   * Drops the oldest fully written chunks beyond the read-cache budget. A few full-size buffers are
   * kept for the next chunks: a fresh 4 MiB buffer per chunk costs page faults, and V8 answers the
   * external-memory growth with frequent full GCs.
   */
  private releaseChunks(): void {
    while (this.cachedBytes > this.config.commitLogReadCacheSize && this.chunks.length > 1) {
      const c = this.chunks[0] as Chunk;
      if (c.written < c.used || c === this.active || c.poolWrite) break;
      this.chunks.shift();
      this.cachedBytes -= c.buf.length;
      if (c.buf.length === this.config.commitLogWriteChunkSize && this.spareBufs.length < SPARE_CHUNKS) this.spareBufs.push(c.buf);
    }
  }

  private onIoError(e: unknown): void {
    if (this.ioError !== undefined) return;
    this.ioError = e instanceof Error ? e : new Error(String(e));
    // Appends that were not written by now are lost. Their replies are staged in this same turn
    // of the event loop (appends are refused from here on), so refuse hand-offs until it ends.
    if (this.writtenPos < this.wrotePos) {
      this.lostUnwritten = true;
      setImmediate(() => {
        this.lostUnwritten = false;
      });
    }
    this.logger.error('commit log I/O failure; appends are refused from now on', { error: this.ioError.message });
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w.resolve(false);
    const ww = this.writeWaiters;
    this.writeWaiters = [];
    for (const w of ww) w.resolve(false);
  }

  /** Writes and fdatasyncs everything appended so far. Serialized: one flush at a time. */
  flush(): Promise<number> {
    const run = this.flushChain.then(() => this.doFlush());
    this.flushChain = run.catch(() => undefined);
    return run;
  }

  private async doFlush(): Promise<number> {
    const target = this.wrotePos;
    const ts = this.lastStoreTimestamp;
    if (target <= this.flushedPos) return this.flushedPos;
    const t0 = performance.now();
    await this.writeUpTo(target);
    const segs = [...this.dirty];
    this.dirty.clear();
    try {
      const stall = this.failures.delay('fsync');
      if (stall !== undefined) await stall;
      for (const s of segs) {
        this.failures.check('fsync');
        if (!s.deleted) await fdatasync(s.fd);
      }
    } catch (e) {
      for (const s of segs) this.dirty.add(s);
      throw e;
    }
    if (target > this.flushedPos) {
      this.probe.onFlush?.('commitlog', target - this.flushedPos, performance.now() - t0);
      this.flushedPos = target;
      this.flushedStoreTimestamp = ts;
    }
    return target;
  }

  private async asyncFlushTick(): Promise<void> {
    const dirty = this.wrotePos - this.flushedPos;
    if (dirty <= 0) return;
    const now = Date.now();
    const thorough = now - this.lastThoroughFlush >= this.config.flushCommitLogThoroughInterval;
    if (!thorough && dirty < this.config.flushCommitLogLeastPages * 4096) return;
    if (thorough) this.lastThoroughFlush = now;
    try {
      await this.flush();
    } catch (e) {
      this.onIoError(e);
    }
  }

  /** SYNC_FLUSH: resolves true once `end` is durable, false on timeout or I/O failure. */
  waitForFlush(end: number): Promise<boolean> {
    if (end <= this.flushedPos) return Promise.resolve(true);
    if (this.ioError !== undefined) return Promise.resolve(false);
    return new Promise((resolve) => {
      this.waiters.push({ end, deadline: Date.now() + this.config.syncFlushTimeout, resolve });
      if (!this.groupScheduled && !this.groupRunning) {
        this.groupScheduled = true;
        // Start after the current run of appends (a microtask), not after the next poll phase: the
        // appends that arrive while this sync runs form the next group, so the disk never idles.
        queueMicrotask(this.runGroupCommit);
      }
    });
  }

  private readonly runGroupCommit = (): void => {
    this.groupScheduled = false;
    void this.groupCommitLoop();
  };

  private async groupCommitLoop(): Promise<void> {
    if (this.groupRunning) return;
    this.groupRunning = true;
    try {
      while (this.waiters.length > 0 && this.ioError === undefined) {
        this.flushWaitSince = Date.now();
        try {
          await this.flush();
        } catch (e) {
          this.onIoError(e);
          break;
        } finally {
          this.flushWaitSince = 0;
        }
        let i = 0;
        while (i < this.waiters.length && (this.waiters[i] as SyncWaiter).end <= this.flushedPos) (this.waiters[i++] as SyncWaiter).resolve(true);
        if (i > 0) this.waiters.splice(0, i);
      }
    } finally {
      this.groupRunning = false;
    }
  }

  private expireWaiters(): void {
    if (this.waiters.length === 0) return;
    const now = Date.now();
    let i = 0;
    while (i < this.waiters.length && (this.waiters[i] as SyncWaiter).deadline <= now) (this.waiters[i++] as SyncWaiter).resolve(false);
    if (i > 0) this.waiters.splice(0, i);
  }

  // ---------------------------------------------------------------- read

  /**
   * A copy of bytes [offset, offset+size) from the in-memory tail, or undefined when not cached
   * (or when the range spans two chunks). A copy, because chunk buffers are recycled once they
   * leave the cache: nothing outside this class may keep a view of them. With `encodedHere`, only
   * bytes this process's put path encoded qualify (not bytes replicated from a master). With
   * `into` (at least `size` bytes, e.g. from lendReadBuffer) the copy is made there, not in new memory.
   */
  readFromMemory(offset: number, size: number, encodedHere = false, into?: Buffer): Buffer | undefined {
    const c = this.chunkHolding(offset, size, encodedHere);
    if (c === undefined) return undefined;
    const out = readTarget(into, size);
    c.buf.copy(out, 0, offset - c.start, offset - c.start + size);
    return out;
  }

  /** The cached chunk holding all of [offset, offset+size), if any (see readFromMemory). */
  private chunkHolding(offset: number, size: number, encodedHere: boolean): Chunk | undefined {
    const cs = this.chunks;
    let lo = 0;
    let hi = cs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const c = cs[mid] as Chunk;
      if (offset < c.start) {
        hi = mid - 1;
      } else if (offset >= c.start + c.used) {
        lo = mid + 1;
      } else {
        return offset + size > c.start + c.used || (encodedHere && c.replicated) ? undefined : c;
      }
    }
    return undefined;
  }

  /**
   * Records scattered over a stretch of the log (one queue's records with other queues' records in
   * between), gathered back to back into one new buffer of `total` bytes: record k is at `phys[k]`,
   * `sizes[k]` bytes long (k < n, increasing, none overlapping). Only the records are copied:
   * from the in-memory tail when the whole stretch is there (`encodedHere` as in readFromMemory),
   * else by one vectored positional read whose gaps land in a scratch buffer that is reused. So a
   * pull of one queue among several costs what its own bytes cost, not the whole stretch in fresh
   * memory. undefined when the stretch is not whole in one segment (removed, or never appended).
   * With `into` (at least `total` bytes) the records are gathered there instead of into new memory.
   */
  async readGathered(
    phys: readonly number[],
    sizes: readonly number[],
    n: number,
    total: number,
    encodedHere = false,
    into?: Buffer,
  ): Promise<{ buf: Buffer; fromMemory: boolean } | undefined> {
    if (n <= 0) return undefined;
    const first = phys[0]!;
    const end = phys[n - 1]! + sizes[n - 1]!;
    if (first < 0 || end > this.wrotePos) return undefined;
    const c = this.chunkHolding(first, end - first, encodedHere);
    const out = readTarget(into, total);
    if (c !== undefined) {
      gatherInto(out, c.buf, c.start, phys, sizes, n);
      return { buf: out, fromMemory: true };
    }
    if (end > this.writtenPos) await this.writeUpTo(end);
    const seg = this.findSegment(first);
    if (seg === undefined || seg.deleted || end > seg.startOffset + seg.size) return undefined;
    if (end - first <= READ_BLOCK_SIZE && this.wrotePos - first <= this.hotBytes) {
      const b = this.readBlockHolding(first, end, seg);
      if (b !== undefined) {
        gatherInto(out, b.buf, b.start, phys, sizes, n);
        return { buf: out, fromMemory: false };
      }
    }
    const iov: Buffer[] = [];
    let w = 0;
    for (let k = 0; k < n; k++) {
      if (k > 0) {
        const gap = phys[k]! - (phys[k - 1]! + sizes[k - 1]!);
        if (gap < 0) return undefined;
        if (gap > 0) {
          if (gap > this.gapScratch.length) this.gapScratch = Buffer.allocUnsafeSlow(gap);
          iov.push(this.gapScratch.subarray(0, gap));
        }
      }
      iov.push(out.subarray(w, w + sizes[k]!));
      w += sizes[k]!;
    }
    const pos = first - seg.startOffset;
    const want = end - first;
    seg.refs++;
    try {
      // Hot data is in the page cache: read synchronously, as read() does.
      const got =
        this.wrotePos - first <= this.hotBytes
          ? fs.readvSync(seg.fd, iov, pos)
          : await new Promise<number>((resolve, reject) => fs.readv(seg.fd, iov, pos, (err, bytes) => (err ? reject(err) : resolve(bytes))));
      if (got !== want) {
        // A short vectored read (not expected of a regular file): record by record instead.
        let at = 0;
        for (let k = 0; k < n; k++) {
          if (preadFullSync(seg.fd, out, at, sizes[k]!, phys[k]! - seg.startOffset) !== sizes[k]) return undefined;
          at += sizes[k]!;
        }
      }
      return { buf: out, fromMemory: false };
    } finally {
      if (--seg.refs === 0 && seg.deleted) void closeFd(seg.fd);
    }
  }

  /**
   * A read block holding [first, end) of `seg`: a kept one, else one read now from `first` (up to
   * READ_BLOCK_SIZE, the segment's end or writtenPos). undefined when the read comes up short.
   */
  private readBlockHolding(first: number, end: number, seg: Segment): ReadBlock | undefined {
    for (const b of this.readBlocks) {
      if (b.start >= 0 && b.start <= first && end <= b.start + b.len) {
        this.readBlockStats.hits++;
        return b;
      }
    }
    const len = Math.min(READ_BLOCK_SIZE, seg.startOffset + seg.size - first, this.writtenPos - first);
    if (len < end - first) return undefined;
    const b = this.readBlocks[this.readBlockNext] as ReadBlock;
    this.readBlockNext = (this.readBlockNext + 1) % READ_BLOCKS;
    if (b.buf.length < READ_BLOCK_SIZE) b.buf = Buffer.allocUnsafeSlow(READ_BLOCK_SIZE);
    b.start = -1;
    if (preadFullSync(seg.fd, b.buf, 0, len, first - seg.startOffset) !== len) return undefined;
    b.start = first;
    b.len = len;
    this.readBlockStats.misses++;
    return b;
  }

  findSegment(offset: number): Segment | undefined {
    const ss = this.segments;
    let lo = 0;
    let hi = ss.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const s = ss[mid] as Segment;
      if (offset < s.startOffset) hi = mid - 1;
      else if (offset >= s.startOffset + s.size) lo = mid + 1;
      else return s;
    }
    return undefined;
  }

  /** Reads [offset, offset+size) (memory first, else a positional read), into `into` when given. undefined if removed or not written. */
  async read(offset: number, size: number, into?: Buffer): Promise<Buffer | undefined> {
    // A damaged consume-queue unit can ask for bytes never appended: waiting for them would spin.
    if (offset < 0 || size <= 0 || offset + size > this.wrotePos) return undefined;
    const mem = this.readFromMemory(offset, size, false, into);
    if (mem !== undefined) return mem;
    if (offset + size > this.writtenPos) {
      // Not on disk yet and not in memory: only possible for a range spanning chunks; wait for the writer.
      await this.writeUpTo(offset + size);
    }
    const seg = this.findSegment(offset);
    if (seg === undefined || seg.deleted || offset + size > seg.startOffset + seg.size) return undefined;
    if (this.wrotePos - offset <= this.hotBytes) {
      // Hot data is in the page cache: a synchronous read is a memcpy in the kernel, cheaper than
      // handing the read to the thread pool and waking up for its result.
      const buf = readTarget(into, size);
      return preadFullSync(seg.fd, buf, 0, size, offset - seg.startOffset) === size ? buf : undefined;
    }
    seg.refs++;
    try {
      const buf = readTarget(into, size);
      let got = 0;
      while (got < size) {
        const n = await pread(seg.fd, buf, got, size - got, offset - seg.startOffset + got);
        if (n === 0) return undefined;
        got += n;
      }
      return buf;
    } finally {
      if (--seg.refs === 0 && seg.deleted) void closeFd(seg.fd);
    }
  }

  /**
   * A buffer of LENT_READ_BUFFER_SIZE bytes for reads (the `into` of read, readFromMemory and
   * readGathered) whose reader gives it back (giveBackReadBuffer) once nothing refers to what was
   * read into it: pulls of a few dozen records each would otherwise take fresh memory every time,
   * and writing into fresh memory costs several times the copy. undefined when `size` is larger,
   * or smaller than half of it: a reader may hold a lent buffer as long as a slow peer takes to
   * read the reply, so what a buffer holds stays at least half of what it takes.
   */
  lendReadBuffer(size: number): Buffer | undefined {
    if (size > LENT_READ_BUFFER_SIZE || size < LENT_READ_BUFFER_SIZE / 2) return undefined;
    return this.lendable.pop() ?? Buffer.allocUnsafeSlow(LENT_READ_BUFFER_SIZE);
  }

  /** Takes back a buffer of lendReadBuffer; the caller holds no view of it any more. */
  giveBackReadBuffer(b: Buffer): void {
    if (b.length === LENT_READ_BUFFER_SIZE && this.lendable.length < LENT_READ_BUFFERS_KEPT) this.lendable.push(b);
  }

  // ---------------------------------------------------------------- retention

  /** Segments that may be deleted: fully written and flushed, not the active one. */
  deletableSegments(): Segment[] {
    return this.segments.filter((s) => s !== this.activeSeg && s.startOffset + s.size <= this.flushedPos);
  }

  /** Removes a segment; in-flight readers finish on the still-open fd. */
  async deleteSegment(seg: Segment): Promise<void> {
    const i = this.segments.indexOf(seg);
    if (i !== 0) throw new Error('only the oldest segment can be deleted');
    this.segments.shift();
    seg.deleted = true;
    await fs.promises.unlink(seg.path).catch(() => undefined);
    if (seg.refs === 0) await closeFd(seg.fd);
  }

  // ---------------------------------------------------------------- replication (slave)

  /**
   * Appends verified bytes replicated from a master (ha/raw-append.ts checks them) at `offset`, which
   * must be wrotePos. The bytes lie in one segment; when they stop inside the blank record that
   * closes it, `end` is the segment end and the log continues in the next segment (the blank's zeros
   * are on disk already, as for rollNow).
   */
  async appendRaw(offset: number, data: Buffer, end = offset + data.length): Promise<void> {
    if (offset !== this.wrotePos) throw new Error(`raw append at ${offset}, expected ${this.wrotePos}`);
    if (this.ioError !== undefined) throw this.ioError;
    const seg = await this.segmentForRaw();
    if (this.wrotePos !== offset) throw new Error(`raw append at ${offset} raced with another append`);
    const segEnd = seg.startOffset + seg.size;
    if (end > segEnd || end < offset + data.length) throw new Error(`raw append [${offset}, ${end}) does not fit segment ${seg.path}`);
    // From here on synchronous: the bytes become part of the log all at once.
    let c = this.active;
    if (c === undefined || c.seg !== seg || c.start + c.used !== offset || c.buf.length - c.used < data.length) {
      // Full-size chunks reuse released buffers, as reserve() does (fresh ones cost page faults and GCs).
      const cap = Math.max(data.length, Math.min(this.config.commitLogWriteChunkSize, segEnd - offset));
      c = {
        start: offset,
        buf: cap === this.config.commitLogWriteChunkSize ? (this.spareBufs.pop() ?? Buffer.allocUnsafeSlow(cap)) : Buffer.allocUnsafeSlow(cap),
        used: 0,
        written: 0,
        poolWrite: false,
        seg,
        replicated: true,
      };
      this.chunks.push(c);
      this.cachedBytes += c.buf.length;
      this.active = c;
    }
    data.copy(c.buf, c.used);
    c.used += data.length;
    this.wrotePos = end;
    // A jump over a blank's zeros leaves the chunk behind: the next append starts a new one.
    if (end !== c.start + c.used) this.active = undefined;
    this.scheduleWrite();
  }

  /** The segment holding wrotePos: the active one, else the next one (rolled to) or a first one. */
  private async segmentForRaw(): Promise<Segment> {
    const cur = this.activeSeg;
    if (cur !== undefined && this.wrotePos < cur.startOffset + cur.size) return cur;
    const next = await this.prepareNext(cur === undefined ? this.wrotePos : undefined);
    if (this.activeSeg === cur) {
      if (next.startOffset !== this.wrotePos) throw new Error(`next segment starts at ${next.startOffset}, the log ends at ${this.wrotePos}`);
      this.active = undefined;
      this.activate(next);
      void this.prepareNext().catch(() => undefined);
    }
    return this.activeSeg as Segment;
  }

  // ---------------------------------------------------------------- shutdown

  async shutdown(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    if (this.ioError === undefined) {
      try {
        await this.flush();
      } catch (e) {
        this.onIoError(e);
      }
    }
    this.closed = true;
    const next = this.nextSegPromise;
    if (next !== undefined) await next.then((s) => closeFd(s.fd)).catch(() => undefined);
    this.expireAll();
    for (const s of this.segments) await closeFd(s.fd);
    this.segments.length = 0;
    this.chunks = [];
    for (const b of this.readBlocks) b.start = -1;
  }

  private expireAll(): void {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w.resolve(w.end <= this.flushedPos);
    const ww = this.writeWaiters;
    this.writeWaiters = [];
    for (const w of ww) w.resolve(w.end <= this.writtenPos);
  }
}
