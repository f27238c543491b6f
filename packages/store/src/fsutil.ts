// Promise wrappers over fd-based positional I/O (libuv thread pool; the event loop never blocks).
import fs from 'node:fs';

export function pwrite(fd: number, buf: Buffer, off: number, len: number, pos: number): Promise<number> {
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
  return new Promise((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve())));
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
