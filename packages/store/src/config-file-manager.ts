// Safe persistence of config JSON files (topics.json, consumerOffset.json, ...): the previous content is
// kept as `<file>.bak`, the new content goes to a temp file that is fsynced and renamed over the file.
import fs from 'node:fs';
import path from 'node:path';

export class ConfigFileManager {
  private chain: Promise<unknown> = Promise.resolve();
  /** The write waiting for the running one to finish (its content may still be replaced). */
  private queued: { content: string | (() => string); done: Promise<void> } | null = null;

  constructor(readonly filePath: string) {}

  get bakPath(): string {
    return `${this.filePath}.bak`;
  }

  /**
   * Persists `content` atomically. Calls made while a write runs are coalesced into the one write
   * that follows it, with the newest content (a supplier is called when that write starts): a
   * burst of changes costs at most two writes and holds one pending content, not one per change
   * (a client creating groups faster than the disk syncs once queued a full copy per group).
   * The promise resolves once content at least as new as this call's is on disk.
   */
  persist(content: string | (() => string)): Promise<void> {
    const q = this.queued;
    if (q !== null) {
      q.content = content;
      return q.done;
    }
    const slot: { content: string | (() => string); done: Promise<void> } = { content, done: Promise.resolve() };
    slot.done = this.chain.then(() => {
      if (this.queued === slot) this.queued = null;
      const c = slot.content;
      return this.write(typeof c === 'function' ? c() : c);
    });
    this.queued = slot;
    this.chain = slot.done.catch(() => undefined);
    return slot.done;
  }

  private async write(content: string): Promise<void> {
    try {
      await this.writeSteps(content);
    } catch (e) {
      // A failed write (a full disk) leaves no half-written temp file behind to eat more space.
      for (const t of [`${this.filePath}.tmp`, `${this.bakPath}.tmp`]) await fs.promises.unlink(t).catch(() => undefined);
      throw e;
    }
  }

  private async writeSteps(content: string): Promise<void> {
    const dir = path.dirname(this.filePath);
    await fs.promises.mkdir(dir, { recursive: true });
    const tmp = `${this.filePath}.tmp`;
    // Keep the last good version as .bak (itself written via temp + rename).
    try {
      const prev = await fs.promises.readFile(this.filePath);
      await writeDurably(`${this.bakPath}.tmp`, prev);
      await fs.promises.rename(`${this.bakPath}.tmp`, this.bakPath);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    await writeDurably(tmp, Buffer.from(content, 'utf8'));
    await fs.promises.rename(tmp, this.filePath);
    await fsyncDir(dir);
  }

  /**
   * Loads the file, or `.bak` when the file is missing or `parse` throws on it. Returns undefined when
   * neither is usable.
   */
  async load<T>(parse: (text: string) => T): Promise<T | undefined> {
    for (const p of [this.filePath, this.bakPath]) {
      let text: string;
      try {
        text = await fs.promises.readFile(p, 'utf8');
      } catch {
        continue;
      }
      try {
        return parse(text);
      } catch {
        // fall through to .bak
      }
    }
    return undefined;
  }
}

async function writeDurably(p: string, data: Buffer): Promise<void> {
  const fh = await fs.promises.open(p, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function fsyncDir(dir: string): Promise<void> {
  try {
    const fh = await fs.promises.open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // Some filesystems refuse fsync on directories; the rename is still atomic.
  }
}
