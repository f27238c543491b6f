import { closeSync, openSync, rmSync } from 'node:fs';
import { fdatasync, write } from 'node:fs';
import { promisify } from 'node:util';
import { join } from 'node:path';

const writeAsync = promisify(write);
const fdatasyncAsync = promisify(fdatasync);

export interface DiskFloorResult {
  batchBytes: number;
  syncsPerSec: number;
  mbPerSec: number;
  /** 1 KiB messages per second if every batch of this size costs one write + fdatasync. */
  msgsPerSec1k: number;
}

/**
 * The raw disk floor: sequential appends of `batchBytes` each followed by fdatasync, what a
 * group commit of that size costs at best on this disk.
 */
export async function measureDiskFloor(dir: string, batchBytes: number, maxMs: number, maxBatches: number): Promise<DiskFloorResult> {
  const file = join(dir, `disk-floor-${process.pid}-${batchBytes}`);
  const fd = openSync(file, 'w');
  const buf = Buffer.alloc(batchBytes, 0x5a);
  let pos = 0;
  let n = 0;
  const t0 = performance.now();
  try {
    while (n < maxBatches && performance.now() - t0 < maxMs) {
      await writeAsync(fd, buf, 0, buf.length, pos);
      await fdatasyncAsync(fd);
      pos += buf.length;
      n++;
    }
  } finally {
    closeSync(fd);
    rmSync(file, { force: true });
  }
  const secs = (performance.now() - t0) / 1000;
  return { batchBytes, syncsPerSec: n / secs, mbPerSec: pos / secs / 1e6, msgsPerSec1k: (n * Math.floor(batchBytes / 1024)) / secs };
}
