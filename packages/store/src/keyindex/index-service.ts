// Index service: keys (`topic#key`) of KEYS entries and UNIQ_KEY → commit-log offsets, across index files.
import fs from 'node:fs';
import path from 'node:path';
import { indexKeyHashOf } from '@rocketmq-ts/protocol';
import { IndexFile } from './index-file.js';

/** Index file names are their creation time, yyyyMMddHHmmssSSS. */
export function indexFileName(t: number): string {
  const d = new Date(t);
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}${p(d.getMilliseconds(), 3)}`;
}

export class IndexService {
  files: IndexFile[] = [];
  private lastNameTime = 0;

  constructor(
    private readonly dir: string,
    private readonly hashSlotNum: number,
    private readonly indexNum: number,
  ) {}

  loadSync(): void {
    fs.mkdirSync(this.dir, { recursive: true });
    const names = fs
      .readdirSync(this.dir)
      .filter((n) => /^\d{17}$/.test(n))
      .sort();
    names.forEach((n, i) => {
      this.files.push(IndexFile.loadSync(path.join(this.dir, n), this.hashSlotNum, this.indexNum, i === names.length - 1));
    });
  }

  /** Highest commit-log offset indexed so far (re-dispatch during recovery skips records at or below it). */
  get endPhyOffset(): number {
    const f = this.files[this.files.length - 1];
    return f === undefined || f.indexCount <= 1 ? -1 : f.endPhyOffset;
  }

  private writableFile(): IndexFile {
    const last = this.files[this.files.length - 1];
    if (last !== undefined && last.writable && !last.isFull) return last;
    let t = Date.now();
    if (t <= this.lastNameTime) t = this.lastNameTime + 1;
    this.lastNameTime = t;
    const f = IndexFile.create(path.join(this.dir, indexFileName(t)), this.hashSlotNum, this.indexNum);
    this.files.push(f);
    if (last !== undefined) void last.flush().catch(() => undefined);
    return f;
  }

  /** Indexes `topic#key` for each key. */
  putKeys(topic: string, keys: readonly string[], phyOffset: number, storeTimestamp: number): void {
    for (const k of keys) {
      if (k.length === 0) continue;
      const h = indexKeyHashOf(topic, k);
      if (!this.writableFile().putKey(h, phyOffset, storeTimestamp)) this.writableFile().putKey(h, phyOffset, storeTimestamp);
    }
  }

  putKey(topic: string, key: string, phyOffset: number, storeTimestamp: number): void {
    if (key.length === 0) return;
    const h = indexKeyHashOf(topic, key);
    let f = this.writableFile();
    if (!f.putKey(h, phyOffset, storeTimestamp)) {
      f = this.writableFile();
      f.putKey(h, phyOffset, storeTimestamp);
    }
  }

  /** Candidate commit-log offsets for `topic#key` (hash matches; the caller verifies the key). */
  async query(topic: string, key: string, maxNum: number, begin: number, end: number): Promise<number[]> {
    const h = indexKeyHashOf(topic, key);
    const out: number[] = [];
    for (let i = this.files.length - 1; i >= 0 && out.length < maxNum; i--) {
      const f = this.files[i] as IndexFile;
      if (f.indexCount <= 1) continue;
      // Skip files entirely outside the time window (end stamps are seconds-granular in entries).
      if (f.endTimestamp < begin || f.beginTimestamp > end) continue;
      await f.query(h, maxNum, begin, end, out);
    }
    return out;
  }

  get lastUpdate(): { timestamp: number; phyOffset: number } {
    const f = this.files[this.files.length - 1];
    return { timestamp: f?.endTimestamp ?? 0, phyOffset: f?.endPhyOffset ?? 0 };
  }

  async flush(): Promise<number> {
    let bytes = 0;
    for (const f of [...this.files]) bytes += await f.flush();
    return bytes;
  }

  /** Deletes index files whose entries all point below `minPhy` (never the newest). */
  async deleteExpired(minPhy: number): Promise<number> {
    let n = 0;
    while (this.files.length > 1) {
      const f = this.files[0] as IndexFile;
      if (f.endPhyOffset >= minPhy) break;
      this.files.shift();
      await f.delete();
      n++;
    }
    return n;
  }

  async close(): Promise<void> {
    for (const f of this.files) await f.close();
    this.files = [];
  }
}
