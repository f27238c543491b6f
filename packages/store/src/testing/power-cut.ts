// Power-cut probe for tests (never imported by the store itself): a FileWriteObserver that tracks,
// per file and 4 KiB page, what was written since the page's last successful fdatasync, and keeps
// the page's durable content from before. `cut` copies a store directory as a power loss at that
// moment could leave it: each page not yet fdatasynced independently keeps its new content, goes
// back to its durable content, or (optionally) is torn at a 512-byte sector.
// Linux only: file descriptors are mapped to paths through /proc/self/fd.
import fs from 'node:fs';
import path from 'node:path';
import type { FileWriteObserver } from '../fsutil.js';

const PAGE = 4096;
const SECTOR = 512;

interface DirtyPage {
  /** Bumped by every write touching the page. */
  version: number;
  /** The page's durable content (shorter than PAGE past the end of the file). */
  durable: Buffer;
}

export interface PowerCutOptions {
  /** Chance that a page not fdatasynced keeps its new content (default 0.5). */
  keepProbability?: number;
  /** Chance that a page not kept is torn: a random prefix of sectors new, the rest durable (default 0.2). */
  tearProbability?: number;
  /** Random numbers in [0, 1) (seeded by the test). */
  random: () => number;
}

export interface PowerCutReport {
  files: number;
  pagesDirty: number;
  pagesReverted: number;
  pagesTorn: number;
}

/** A small seeded generator (mulberry32) for reproducible cuts and corruption. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function readPage(fd: number, page: number): Buffer {
  const buf = Buffer.alloc(PAGE);
  try {
    return buf.subarray(0, fs.readSync(fd, buf, 0, PAGE, page * PAGE));
  } catch {
    return buf.subarray(0, 0);
  }
}

export class PowerCutRecorder implements FileWriteObserver {
  /** path → page index → state; only files under `root`. */
  private readonly files = new Map<string, Map<number, DirtyPage>>();
  private readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  private pathOf(fd: number): string | undefined {
    let p: string;
    try {
      p = fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      return undefined;
    }
    if (p.endsWith(' (deleted)') || !p.startsWith(this.root + path.sep)) return undefined;
    return p;
  }

  beforeWrite(fd: number, pos: number, len: number): void {
    if (len <= 0) return;
    const p = this.pathOf(fd);
    if (p === undefined) return;
    let pages = this.files.get(p);
    if (pages === undefined) {
      pages = new Map();
      this.files.set(p, pages);
    }
    for (let page = Math.floor(pos / PAGE); page * PAGE < pos + len; page++) {
      const d = pages.get(page);
      if (d !== undefined) {
        d.version++;
        continue;
      }
      // The page is clean: what the file holds now is durable (every earlier write was synced).
      pages.set(page, { version: 1, durable: readPage(fd, page) });
    }
  }

  beforeSync(fd: number): (() => void) | undefined {
    const p = this.pathOf(fd);
    if (p === undefined) return undefined;
    const pages = this.files.get(p);
    if (pages === undefined || pages.size === 0) return undefined;
    // What the sync makes durable: each dirty page as it is now. A page written again while the sync
    // runs stays dirty, but from then on its durable content is this one.
    const seen = [...pages].map(([page, d]) => ({ page, version: d.version, content: readPage(fd, page) }));
    return () => {
      for (const s of seen) {
        const d = pages.get(s.page);
        if (d === undefined) continue;
        if (d.version === s.version) pages.delete(s.page);
        else d.durable = s.content;
      }
    };
  }

  /** Files (absolute paths) with pages written and not fdatasynced since, and those pages' indexes. */
  dirtyFiles(): Array<{ path: string; pages: number[] }> {
    return [...this.files].filter(([, pages]) => pages.size > 0).map(([p, pages]) => ({ path: p, pages: [...pages.keys()].sort((a, b) => a - b) }));
  }

  /** Pages written and not fdatasynced since, over all files. */
  get dirtyPages(): number {
    let n = 0;
    for (const pages of this.files.values()) n += pages.size;
    return n;
  }

  /**
   * Copies `root` to `dest` as a power cut now could leave it. Synchronous: call it at the crash
   * point, in the same turn as the check of what was acknowledged.
   */
  cut(dest: string, opts: PowerCutOptions): PowerCutReport {
    const keep = opts.keepProbability ?? 0.5;
    const tear = opts.tearProbability ?? 0.2;
    fs.cpSync(this.root, dest, { recursive: true });
    const report: PowerCutReport = { files: 0, pagesDirty: 0, pagesReverted: 0, pagesTorn: 0 };
    for (const [p, pages] of this.files) {
      if (pages.size === 0) continue;
      const target = path.join(dest, path.relative(this.root, p));
      if (!fs.existsSync(target)) continue;
      report.files++;
      const fd = fs.openSync(target, 'r+');
      try {
        for (const [page, d] of pages) {
          report.pagesDirty++;
          if (opts.random() < keep) continue;
          let from = 0;
          if (opts.random() < tear) {
            from = SECTOR * (1 + Math.floor(opts.random() * (PAGE / SECTOR - 1)));
            report.pagesTorn++;
          } else {
            report.pagesReverted++;
          }
          // Back to the durable content; bytes past the durable end become zeros.
          const restored = Buffer.alloc(PAGE);
          d.durable.copy(restored);
          const size = fs.fstatSync(fd).size;
          const end = Math.min(PAGE, size - page * PAGE);
          if (end > from) fs.writeSync(fd, restored, from, end - from, page * PAGE + from);
        }
      } finally {
        fs.closeSync(fd);
      }
    }
    return report;
  }
}
