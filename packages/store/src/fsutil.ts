// Promise wrappers over fd-based positional I/O (libuv thread pool; the event loop never blocks).
import fs from 'node:fs';

/**
 * Sees every write and fdatasync the store makes through this module (the power-cut probe in the
 * store's tests records which bytes are not durable yet). Off unless a test installs one: the
 * only cost then is one comparison per call.
 */
export interface FileWriteObserver {
  /** Bytes [pos, pos+len) of fd are about to be written. */
  beforeWrite(fd: number, pos: number, len: number): void;
  /** An fdatasync of fd starts; the returned callback runs when it succeeded. */
  beforeSync(fd: number): (() => void) | undefined;
}

let observer: FileWriteObserver | undefined;

/** Installs (or, with undefined, removes) the process-wide write observer. */
export function setFileWriteObserver(o: FileWriteObserver | undefined): void {
  observer = o;
}

/** fs.writeSync at a position, seen by the observer. */
export function writeSync(fd: number, buf: Buffer, off: number, len: number, pos: number): number {
  if (observer !== undefined) observer.beforeWrite(fd, pos, len);
  return fs.writeSync(fd, buf, off, len, pos);
}

/** fs.fdatasyncSync, seen by the observer. */
export function fdatasyncSync(fd: number): void {
  const done = observer?.beforeSync(fd);
  fs.fdatasyncSync(fd);
  if (done !== undefined) done();
}

export function pwrite(fd: number, buf: Buffer, off: number, len: number, pos: number): Promise<number> {
  if (observer !== undefined) observer.beforeWrite(fd, pos, len);
  return new Promise((resolve, reject) => {
    fs.write(fd, buf, off, len, pos, (err, n) => (err ? reject(err) : resolve(n)));
  });
}

/** Writes all of buf[off, off+len) at pos, looping over short writes. */
export async function pwriteAll(fd: number, buf: Buffer, off: number, len: number, pos: number): Promise<void> {
  while (len > 0) {
    const n = await pwrite(fd, buf, off, len, pos);
    off += n;
    pos += n;
    len -= n;
  }
}

export function pread(fd: number, buf: Buffer, off: number, len: number, pos: number): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.read(fd, buf, off, len, pos, (err, n) => (err ? reject(err) : resolve(n)));
  });
}

/** Reads exactly len bytes (fewer only at end of file). */
export async function preadFull(fd: number, buf: Buffer, off: number, len: number, pos: number): Promise<number> {
  let total = 0;
  while (total < len) {
    const n = await pread(fd, buf, off + total, len - total, pos + total);
    if (n === 0) break;
    total += n;
  }
  return total;
}

export function fdatasync(fd: number): Promise<void> {
  const done = observer?.beforeSync(fd);
  return new Promise((resolve, reject) =>
    fs.fdatasync(fd, (err) => {
      if (err) return reject(err);
      if (done !== undefined) done();
      resolve();
    }),
  );
}

export function closeFd(fd: number): Promise<void> {
  return new Promise((resolve) => fs.close(fd, () => resolve()));
}

export function ftruncate(fd: number, len: number): Promise<void> {
  return new Promise((resolve, reject) => fs.ftruncate(fd, len, (err) => (err ? reject(err) : resolve())));
}

/** Synchronous full read for load/recovery only. */
export function preadFullSync(fd: number, buf: Buffer, off: number, len: number, pos: number): number {
  let total = 0;
  while (total < len) {
    const n = fs.readSync(fd, buf, off + total, len - total, pos + total);
    if (n === 0) break;
    total += n;
  }
  return total;
}

export function errnoCode(e: unknown): string | undefined {
  if (typeof e === 'object' && e !== null && 'code' in e && typeof (e as { code: unknown }).code === 'string') return (e as { code: string }).code;
  return undefined;
}

export const ZERO_BLOCK = Buffer.alloc(1024 * 1024);

/** Async zero-fill of [0, size) of a file: reserves real blocks, unlike ftruncate. */
export async function writeZeros(fd: number, size: number): Promise<void> {
  for (let pos = 0; pos < size; pos += ZERO_BLOCK.length) {
    await pwriteAll(fd, ZERO_BLOCK, 0, Math.min(ZERO_BLOCK.length, size - pos), pos);
  }
}
