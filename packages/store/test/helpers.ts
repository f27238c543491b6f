import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BLANK_MAGIC_CODE } from '@rocketmq-ts/protocol';
import { DefaultMessageStore, silentLogger, type MessageStoreConfig, type MessageStoreOptions } from '../src/index.js';

export function tmpDir(prefix = 'rmq-store-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function rmDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

export function smallConfig(dir: string, over: Partial<MessageStoreConfig> = {}): Partial<MessageStoreConfig> {
  return {
    storePathRootDir: dir,
    mappedFileSizeCommitLog: 64 * 1024,
    mappedFileSizeConsumeQueue: 20 * 100,
    maxHashSlotNum: 97,
    maxIndexNum: 400,
    commitLogWriteChunkSize: 16 * 1024,
    commitLogReadCacheSize: 64 * 1024,
    preallocateMode: 'truncate',
    flushIntervalCommitLog: 20,
    flushIntervalConsumeQueue: 50,
    cleanResourceInterval: 3_600_000,
    ...over,
  };
}

export async function openStore(
  dir: string,
  over: Partial<MessageStoreConfig> = {},
  opts: Omit<MessageStoreOptions, 'config'> = {},
): Promise<DefaultMessageStore> {
  const s = new DefaultMessageStore({
    logger: silentLogger,
    diskUsage: async () => ({ totalBytes: 1e12, freeBytes: 9e11 }),
    ...opts,
    config: smallConfig(dir, over),
  });
  await s.load();
  await s.start();
  return s;
}

export function body(seq: number, len = 100 + (seq % 300)): Buffer {
  const b = Buffer.alloc(len);
  for (let i = 0; i < len; i++) b[i] = (seq * 13 + i) & 0xff;
  return b;
}

/**
 * Simulates a crash: snapshot the directory as it is on disk while the store runs (abort file
 * included). The copy is synchronous, but writes already handed to the thread pool (a consume-queue
 * flush) could land in some files and not others, a state no crash produces (the OS keeps every
 * write it accepted): `betweenFlushes` takes the snapshot between flushes (the randomized test,
 * which fails under load otherwise). Real mid-flush crashes are the SIGKILL suite's (crash.test.ts).
 */
export async function crashSnapshot(store: DefaultMessageStore, dir: string, opts: { betweenFlushes?: boolean } = {}): Promise<string> {
  await store.commitLog.flush();
  if (opts.betweenFlushes === true) await store.flushLogics();
  const copy = tmpDir('rmq-crash-snap-');
  fs.rmSync(copy, { recursive: true, force: true });
  fs.cpSync(dir, copy, { recursive: true });
  return copy;
}

/**
 * A process crash of a store running on `dir`: a copy of its files as the OS has them right now
 * (abort file included, nothing flushed first).
 */
export function copyAsCrashed(dir: string): string {
  const copy = tmpDir('rmq-crashed-');
  fs.cpSync(dir, copy, { recursive: true });
  return copy;
}

/** Writes the head of a record, and not the rest, where the commit log in `dir` ends: a torn write. */
export function tearCommitLogTail(dir: string): void {
  const cl = path.join(dir, 'commitlog');
  for (const name of fs.readdirSync(cl).sort()) {
    const file = path.join(cl, name);
    const seg = fs.readFileSync(file);
    let p = 0;
    while (p + 8 <= seg.length && seg.readInt32BE(p) > 0 && seg.readInt32BE(p + 4) !== BLANK_MAGIC_CODE) p += seg.readInt32BE(p);
    if (p + 8 <= seg.length && seg.readInt32BE(p + 4) === BLANK_MAGIC_CODE) continue; // a full segment
    const torn = Buffer.alloc(200, 0xab);
    torn.writeInt32BE(700, 0); // a 700-byte record of which 200 bytes reached the disk
    torn.writeInt32BE(0xdaa320a7 | 0, 4);
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, torn, 0, torn.length, p);
    fs.closeSync(fd);
    return;
  }
  throw new Error(`no commit-log end found in ${cl}`);
}
