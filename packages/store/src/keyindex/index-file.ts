// Index file (remoting.md §5.3): 40-byte header, hash slots of int32, then 20-byte entries
// {int32 keyHash, int64 phyOffset, int32 timeDiff seconds, int32 prevIndex}. Entry 0 is unused.
import fs from 'node:fs';
import { readInt64BE, writeInt64BE } from '@rocketmq-ts/protocol';
import { closeFd, fdatasync, preadFull, preadFullSync, pwriteAll, writeSync } from '../fsutil.js';

export const INDEX_HEADER_SIZE = 40;
export const INDEX_ENTRY_SIZE = 20;
const PAGE = 4096;
/**
 * Entries held in memory before they are written to the file (page cache, no sync): a flush whose
 * fdatasync waits behind other files' writeback must not let a busy key stream pile up in memory.
 */
const PENDING_MAX = 32 * 1024;
/** Slot-table bytes copied and written per step of a flush (the copy keeps appends from tearing a slot). */
const SLOT_PIECE = 1024 * 1024;

export class IndexFile {
  beginTimestamp = 0;
  endTimestamp = 0;
  beginPhyOffset = 0;
  endPhyOffset = 0;
  hashSlotCount = 0;
  indexCount = 1;
  fd = -1;
  /** Slot table in memory (big-endian int32) while the file is writable. */
  private slots: Buffer | undefined;
  /** Slot-table pages changed since the last flush: a flag per page and the list of flagged pages. */
  private dirtyFlags: Uint8Array | undefined;
  private dirtyList: number[] = [];
  /** Entries not yet written to the file: entries [writtenIndexCount, indexCount). */
  private pending: Buffer = Buffer.alloc(0);
  /** Entries [1, writtenIndexCount) are in the file (maybe only in the page cache). */
  private writtenIndexCount = 1;
  /** Entries [1, flushedIndexCount) are synced, with the header counting them. */
  private flushedIndexCount = 1;
  /** Where a flush copies slot-table pages on their way to the file (one piece at a time). */
  private slotScratch: Buffer | undefined;
  private headerDirty = false;
  private flushChain: Promise<unknown> = Promise.resolve();
  deleted = false;
  private refs = 0;

  constructor(
    readonly path: string,
    readonly hashSlotNum: number,
    readonly indexNum: number,
  ) {}

  get fileSize(): number {
    return INDEX_HEADER_SIZE + this.hashSlotNum * 4 + this.indexNum * INDEX_ENTRY_SIZE;
  }

  get isFull(): boolean {
    return this.indexCount >= this.indexNum;
  }

  get writable(): boolean {
    return this.slots !== undefined;
  }

  /** A new, empty, writable file (created on disk at the first flush). */
  static create(path: string, hashSlotNum: number, indexNum: number): IndexFile {
    const f = new IndexFile(path, hashSlotNum, indexNum);
    f.slots = Buffer.alloc(hashSlotNum * 4);
    f.headerDirty = true;
    return f;
  }

  /** Opens an existing file; `writable` loads the slot table to keep appending. Sync (load time). */
  static loadSync(path: string, hashSlotNum: number, indexNum: number, writable: boolean): IndexFile {
    const f = new IndexFile(path, hashSlotNum, indexNum);
    f.fd = fs.openSync(path, 'r+');
    const h = Buffer.alloc(INDEX_HEADER_SIZE);
    preadFullSync(f.fd, h, 0, INDEX_HEADER_SIZE, 0);
    f.beginTimestamp = readInt64BE(h, 0);
    f.endTimestamp = readInt64BE(h, 8);
    f.beginPhyOffset = readInt64BE(h, 16);
    f.endPhyOffset = readInt64BE(h, 24);
    f.hashSlotCount = h.readInt32BE(32);
    f.indexCount = Math.max(1, h.readInt32BE(36));
    f.flushedIndexCount = f.indexCount;
    f.writtenIndexCount = f.indexCount;
    if (writable && !f.isFull) {
      const slots = Buffer.alloc(hashSlotNum * 4);
      preadFullSync(f.fd, slots, 0, slots.length, INDEX_HEADER_SIZE);
      // Slots may have been written by a flush whose header did not land: walk such chains back
      // to entries the header covers (entries are always written before slots).
      const entry = Buffer.alloc(INDEX_ENTRY_SIZE);
      for (let s = 0; s < hashSlotNum; s++) {
        let v = slots.readInt32BE(s * 4);
        if (v < f.indexCount) continue;
        let guard = 0;
        while (v >= f.indexCount && v > 0 && v < indexNum && guard++ < 1_000_000) {
          preadFullSync(f.fd, entry, 0, INDEX_ENTRY_SIZE, f.entryPos(v));
          v = entry.readInt32BE(16);
        }
        if (v >= f.indexCount || v < 0) v = 0;
        slots.writeInt32BE(v, s * 4);
        f.markDirty((s * 4) >> 12);
      }
      f.slots = slots;
    }
    return f;
  }

  private newDirtyFlags(): Uint8Array {
    this.dirtyFlags = new Uint8Array(Math.ceil((this.hashSlotNum * 4) / PAGE));
    return this.dirtyFlags;
  }

  private markDirty(page: number): void {
    const flags = this.dirtyFlags ?? this.newDirtyFlags();
    if (flags[page] === 0) {
      flags[page] = 1;
      this.dirtyList.push(page);
    }
  }

  private entryPos(i: number): number {
    return INDEX_HEADER_SIZE + this.hashSlotNum * 4 + i * INDEX_ENTRY_SIZE;
  }

  /** Adds one key (already hashed with indexKeyHash). Returns false when the file is full. */
  putKey(keyHash: number, phyOffset: number, storeTimestamp: number): boolean {
    const slots = this.slots;
    if (slots === undefined || this.isFull) return false;
    const slot = keyHash % this.hashSlotNum;
    let prev = slots.readInt32BE(slot * 4);
    if (prev <= 0 || prev > this.indexCount) prev = 0;
    if (this.indexCount === 1) {
      this.beginTimestamp = storeTimestamp;
      this.beginPhyOffset = phyOffset;
    }
    let timeDiff = Math.floor((storeTimestamp - this.beginTimestamp) / 1000);
    if (timeDiff < 0) timeDiff = 0;
    else if (timeDiff > 0x7fffffff) timeDiff = 0x7fffffff;
    let n = this.indexCount - this.writtenIndexCount;
    if ((n + 1) * INDEX_ENTRY_SIZE > this.pending.length) {
      if (n >= PENDING_MAX && this.fd >= 0) {
        this.writePending();
        n = 0;
      } else {
        const grown = Buffer.alloc(Math.max(64 * INDEX_ENTRY_SIZE, this.pending.length * 2));
        this.pending.copy(grown, 0, 0, n * INDEX_ENTRY_SIZE);
        this.pending = grown;
      }
    }
    const at = n * INDEX_ENTRY_SIZE;
    this.pending.writeInt32BE(keyHash, at);
    writeInt64BE(this.pending, at + 4, phyOffset);
    this.pending.writeInt32BE(timeDiff, at + 12);
    this.pending.writeInt32BE(prev, at + 16);
    slots.writeInt32BE(this.indexCount, slot * 4);
    this.markDirty((slot * 4) >> 12);
    if (prev === 0) this.hashSlotCount++;
    this.indexCount++;
    this.endTimestamp = storeTimestamp;
    this.endPhyOffset = phyOffset;
    this.headerDirty = true;
    return true;
  }

  private async readSlot(slot: number): Promise<number> {
    if (this.slots !== undefined) return this.slots.readInt32BE(slot * 4);
    const b = Buffer.alloc(4);
    await preadFull(this.fd, b, 0, 4, INDEX_HEADER_SIZE + slot * 4);
    return b.readInt32BE(0);
  }

  private async readEntry(i: number, out: Buffer): Promise<Buffer> {
    if (i >= this.writtenIndexCount) {
      const at = (i - this.writtenIndexCount) * INDEX_ENTRY_SIZE;
      return this.pending.subarray(at, at + INDEX_ENTRY_SIZE);
    }
    await preadFull(this.fd, out, 0, INDEX_ENTRY_SIZE, this.entryPos(i));
    return out;
  }

  /** Commit-log offsets of entries with `keyHash` stored within [begin, end] ms, newest first. */
  async query(keyHash: number, maxNum: number, begin: number, end: number, out: number[]): Promise<void> {
    if (this.indexCount <= 1 || this.deleted) return;
    this.refs++;
    try {
      let i = await this.readSlot(keyHash % this.hashSlotNum);
      const tmp = Buffer.alloc(INDEX_ENTRY_SIZE);
      let guard = 0;
      while (i > 0 && i < this.indexCount && out.length < maxNum && guard++ < this.indexNum) {
        const e = await this.readEntry(i, tmp);
        const hash = e.readInt32BE(0);
        const phy = readInt64BE(e, 4);
        const t = this.beginTimestamp + e.readInt32BE(12) * 1000;
        const prev = e.readInt32BE(16);
        if (t < begin) break; // chains run newest to oldest
        if (hash === keyHash && t <= end) out.push(phy);
        if (prev <= 0 || prev >= i) break;
        i = prev;
      }
    } finally {
      if (--this.refs === 0 && this.deleted && this.fd >= 0) void closeFd(this.fd);
    }
  }

  /** Writes new entries, dirty slot pages and the header (in that order), then fdatasyncs. */
  flush(): Promise<number> {
    const run = this.flushChain.then(() => this.doFlush());
    this.flushChain = run.catch(() => undefined);
    return run;
  }

  private async doFlush(): Promise<number> {
    if (!this.headerDirty && this.dirtyList.length === 0) return 0;
    if (this.fd < 0) {
      const fh = await fs.promises.open(this.path, fs.constants.O_RDWR | fs.constants.O_CREAT);
      await fh.truncate(this.fileSize);
      await fh.close();
      this.fd = fs.openSync(this.path, 'r+');
    }
    // Entries first (synchronously: nothing appends meanwhile, and the buffer is reused), then the
    // slot pages that point at them, the header, and one fdatasync for all.
    const count = this.indexCount;
    let bytes = this.writePending();
    const slots = this.slots;
    if (slots !== undefined) {
      const pages = this.dirtyList.sort((a, b) => a - b);
      this.dirtyList = [];
      const flags = this.dirtyFlags;
      if (flags !== undefined) for (const p of pages) flags[p] = 0;
      const scratch = (this.slotScratch ??= Buffer.allocUnsafe(Math.min(SLOT_PIECE, slots.length)));
      // Runs of adjacent dirty pages leave in pieces of up to SLOT_PIECE (random keys dirty most pages).
      for (let i = 0; i < pages.length;) {
        let j = i + 1;
        while (j < pages.length && pages[j] === (pages[j - 1] as number) + 1) j++;
        const from = (pages[i] as number) * PAGE;
        const to = Math.min((pages[j - 1] as number) * PAGE + PAGE, slots.length);
        for (let at = from; at < to; at += scratch.length) {
          const len = Math.min(scratch.length, to - at);
          slots.copy(scratch, 0, at, at + len);
          await pwriteAll(this.fd, scratch, 0, len, INDEX_HEADER_SIZE + at);
          bytes += len;
        }
        i = j;
      }
    }
    const h = Buffer.alloc(INDEX_HEADER_SIZE);
    writeInt64BE(h, 0, this.beginTimestamp);
    writeInt64BE(h, 8, this.endTimestamp);
    writeInt64BE(h, 16, this.beginPhyOffset);
    writeInt64BE(h, 24, this.endPhyOffset);
    h.writeInt32BE(this.hashSlotCount, 32);
    h.writeInt32BE(count, 36);
    this.headerDirty = false;
    await pwriteAll(this.fd, h, 0, INDEX_HEADER_SIZE, 0);
    await fdatasync(this.fd);
    this.flushedIndexCount = count;
    if (this.isFull && this.indexCount === this.flushedIndexCount && this.dirtyList.length === 0) {
      this.slots = undefined;
      this.dirtyFlags = undefined;
      this.slotScratch = undefined;
      this.pending = Buffer.alloc(0);
    }
    return bytes;
  }

  /** Writes the entries held in memory to the file (page cache) and empties the buffer; their byte count. */
  private writePending(): number {
    const n = this.indexCount - this.writtenIndexCount;
    if (n <= 0 || this.fd < 0) return 0;
    const len = n * INDEX_ENTRY_SIZE;
    const pos = this.entryPos(this.writtenIndexCount);
    for (let done = 0; done < len;) done += writeSync(this.fd, this.pending, done, len - done, pos + done);
    this.writtenIndexCount = this.indexCount;
    return len;
  }

  async delete(): Promise<void> {
    this.deleted = true;
    await fs.promises.unlink(this.path).catch(() => undefined);
    if (this.refs === 0 && this.fd >= 0) await closeFd(this.fd);
  }

  async close(): Promise<void> {
    if (this.fd >= 0) await closeFd(this.fd);
    this.fd = -1;
  }
}
