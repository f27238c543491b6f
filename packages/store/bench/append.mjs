// Append throughput of 1 KiB records under ASYNC_FLUSH and SYNC_FLUSH, against the raw disk floor
// (write + fdatasync of the same batch sizes) measured in the same run. Usage: pnpm bench [seconds]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DefaultMessageStore, silentLogger } from '../dist/index.js';

const SECONDS = Number(process.argv[2] ?? 5);
const BODY = Buffer.alloc(1024, 0x61);
const PROPS = 'TAGS\u0001TagA\u0002KEYS\u0001k\u0002UNIQ_KEY\u0001AC1100010000000000000000000000\u0002';

async function runStore(flushDiskType, concurrency) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rmq-bench-'));
  const store = new DefaultMessageStore({
    logger: silentLogger,
    config: { storePathRootDir: dir, flushDiskType, mappedFileSizeCommitLog: 256 * 1024 * 1024, maxHashSlotNum: 500_000, maxIndexNum: 2_000_000 },
  });
  await store.load();
  await store.start();
  let n = 0;
  let bytes = 0;
  const end = Date.now() + SECONDS * 1000;
  const batches = [];
  async function worker(q) {
    while (Date.now() < end) {
      const r = await store.putMessage({ topic: 'BenchTopic', queueId: q, body: BODY, propertiesString: PROPS });
      if (r.status !== 'PUT_OK') throw new Error(r.status);
      n++;
      bytes += r.appendResult.wroteBytes;
    }
  }
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, (_, i) => worker(i % 8)));
  const secs = (performance.now() - t0) / 1000;
  const flushes = store.getStats();
  await store.shutdown();
  fs.rmSync(dir, { recursive: true, force: true });
  void batches;
  return { msgs: n / secs, mb: bytes / secs / 1e6, recordSize: bytes / n, flushes };
}

/** Raw floor: write `batch` bytes then fdatasync, repeatedly, into a preallocated file. */
async function diskFloor(batchBytes, withSync) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rmq-floor-'));
  const file = path.join(dir, 'f');
  const size = 256 * 1024 * 1024;
  const fh = await fs.promises.open(file, 'w+');
  const zeros = Buffer.alloc(4 * 1024 * 1024);
  for (let p = 0; p < size; p += zeros.length) await fh.write(zeros, 0, zeros.length, p);
  await fh.sync();
  const buf = Buffer.alloc(batchBytes, 0x62);
  let pos = 0;
  let bytes = 0;
  const end = Date.now() + SECONDS * 1000;
  const t0 = performance.now();
  while (Date.now() < end) {
    if (pos + batchBytes > size) pos = 0;
    await fh.write(buf, 0, batchBytes, pos);
    if (withSync) await fh.datasync();
    pos += batchBytes;
    bytes += batchBytes;
  }
  const secs = (performance.now() - t0) / 1000;
  await fh.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return bytes / secs / 1e6;
}

const fmt = (x) => x.toFixed(1);
console.log(`node ${process.version}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${SECONDS}s per case`);
const asyncR = await runStore('ASYNC_FLUSH', 256);
const syncR = await runStore('SYNC_FLUSH', 256);
const rec = asyncR.recordSize;
// Floors with the batch sizes the store produced: async ≈ one write per event-loop turn (~256 records),
// sync = one group commit (write + fdatasync) per group of ≤256 records.
const floorAsync = await diskFloor(Math.round(rec * 256), false);
const floorSync = await diskFloor(Math.round(rec * 256), true);
console.log(`record size ${rec.toFixed(0)} B`);
console.log(
  `ASYNC_FLUSH: ${fmt(asyncR.msgs)} msgs/s, ${fmt(asyncR.mb)} MB/s; disk floor (write, ${Math.round((rec * 256) / 1024)} KiB batches) ${fmt(floorAsync)} MB/s; ratio ${(asyncR.mb / floorAsync).toFixed(2)}`,
);
console.log(
  `SYNC_FLUSH:  ${fmt(syncR.msgs)} msgs/s, ${fmt(syncR.mb)} MB/s; disk floor (write+fdatasync, ${Math.round((rec * 256) / 1024)} KiB batches) ${fmt(floorSync)} MB/s; ratio ${(syncR.mb / floorSync).toFixed(2)}`,
);
