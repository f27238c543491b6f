// DefaultMessageStore's own machinery: segment files, read spans, flush modes, failure probes,
// retention files. Behaviour every MessageStore shares is in contract/.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { decodeMessageRecord } from '@rocketmq-ts/protocol';
import { ConfigFileManager, DefaultMessageStore, GetMessageStatus, PutMessageStatus } from '../src/index.js';
import { body, openStore, rmDir, tmpDir } from './helpers.js';

const dirs: string[] = [];
const stores: DefaultMessageStore[] = [];
function newDir(): string {
  const d = tmpDir();
  dirs.push(d);
  return d;
}
async function open(dir: string, over = {}, opts = {}): Promise<DefaultMessageStore> {
  const s = await openStore(dir, over, opts);
  stores.push(s);
  return s;
}
afterEach(async () => {
  for (const s of stores.splice(0)) await s.shutdown();
  for (const d of dirs.splice(0)) rmDir(d);
});

describe('DefaultMessageStore engine', () => {
  it('deleteTopics removes the consume-queue files; recovery does not bring the queues back', async () => {
    const dir = newDir();
    const s = await open(dir);
    for (let i = 0; i < 3; i++) await s.putMessage({ topic: 'Gone', queueId: 0, body: Buffer.from(`g${i}`) });
    await s.flushLogics();
    expect(fs.existsSync(path.join(dir, 'consumequeue', 'Gone', '0'))).toBe(true);
    expect(await s.deleteTopics(['Gone'])).toBe(1);
    expect(fs.existsSync(path.join(dir, 'consumequeue', 'Gone'))).toBe(false);
    await s.shutdown();
    stores.splice(stores.indexOf(s), 1);
    // The records are still in the log, below the checkpoint: a clean restart does not re-dispatch them.
    const s2 = await open(dir);
    expect(s2.recoveryReport?.recordsChecked).toBe(3);
    expect(s2.getMaxOffsetInQueue('Gone', 0)).toBe(0);
    expect(fs.existsSync(path.join(dir, 'consumequeue', 'Gone'))).toBe(false);
  });

  it('ConfigFileManager coalesces a burst of changes into at most two writes of the newest content (fuzz regression)', async () => {
    const dir = newDir();
    const f = new ConfigFileManager(path.join(dir, 'config', 'groups.json'));
    let serialised = 0;
    const done: Promise<void>[] = [];
    for (let i = 0; i < 2000; i++) {
      done.push(
        f.persist(() => {
          serialised++;
          return JSON.stringify({ n: i, pad: 'x'.repeat(10_000) });
        }),
      );
    }
    await Promise.all(done);
    expect(serialised).toBeLessThanOrEqual(2);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'config', 'groups.json'), 'utf8')).n).toBe(1999);
    // A change after the burst is written too.
    await f.persist('{"n":2000}');
    expect(fs.readFileSync(path.join(dir, 'config', 'groups.json'), 'utf8')).toBe('{"n":2000}');
  });

  it('deleteTopics never leaves the consume-queue directory (regression: "../commitlog" removed the log)', async () => {
    const dir = newDir();
    const s = await open(dir);
    await s.putMessage({ topic: 'Kept', queueId: 0, body: Buffer.from('k') });
    await s.flushLogics();
    for (const t of ['../commitlog', '..', '.', '', '../../' + path.basename(dir), 'Kept/../../commitlog', '/tmp']) await s.deleteTopics([t]);
    expect(fs.readdirSync(path.join(dir, 'commitlog')).length).toBeGreaterThan(0);
    expect(fs.existsSync(path.join(dir, 'consumequeue', 'Kept', '0'))).toBe(true);
    expect(s.getMaxOffsetInQueue('Kept', 0)).toBe(1);
  });

  it('stalls: a group commit stalled past osPageCacheBusyTimeOutMills makes puts answer OS_PAGE_CACHE_BUSY, nothing appended', async () => {
    const dir = newDir();
    const s = await open(dir, { flushDiskType: 'SYNC_FLUSH', osPageCacheBusyTimeOutMills: 200 });
    expect((await s.putMessage({ topic: 'B', queueId: 0, body: Buffer.from('a') })).status).toBe(PutMessageStatus.PUT_OK);
    s.failures.stall('fsync', 600);
    const held = s.putMessage({ topic: 'B', queueId: 0, body: Buffer.from('b') });
    await new Promise((r) => setTimeout(r, 350));
    expect(s.writeStallMillis()).toBeGreaterThan(200);
    expect(s.waitingAppends()).toBe(1);
    expect((await s.putMessage({ topic: 'B', queueId: 0, body: Buffer.from('c') })).status).toBe(PutMessageStatus.OS_PAGE_CACHE_BUSY);
    s.failures.stall('fsync', 0);
    expect((await held).status).toBe(PutMessageStatus.PUT_OK);
    expect(s.writeStallMillis()).toBe(0);
    expect(s.getMaxOffsetInQueue('B', 0)).toBe(2);
  });

  it('rolls segments with blank records and reads across segments, from memory and disk', async () => {
    const dir = newDir();
    const s = await open(dir, { mappedFileSizeCommitLog: 32 * 1024, commitLogReadCacheSize: 16 * 1024, commitLogWriteChunkSize: 8 * 1024 });
    const N = 300;
    for (let i = 0; i < N; i++) expect((await s.putMessage({ topic: 'R', queueId: i % 2, body: body(i, 500 + (i % 700)) })).status).toBe('PUT_OK');
    expect(s.commitLog.segments.length).toBeGreaterThan(5);
    const files = fs.readdirSync(path.join(dir, 'commitlog')).sort();
    expect(files[1]).toBe(String(32 * 1024).padStart(20, '0'));
    for (const q of [0, 1]) {
      let off = 0;
      let i = q;
      while (off < s.getMaxOffsetInQueue('R', q)) {
        const g = await s.getMessage('g', 'R', q, off, 7);
        expect(g.status).toBe('FOUND');
        for (const b of g.messageBuffers) {
          expect(decodeMessageRecord(b).body.equals(body(i, 500 + (i % 700)))).toBe(true);
          i += 2;
        }
        off = g.nextBeginOffset;
      }
      expect(i - q).toBe(N);
    }
    // the blank record at the end of segment 0
    const seg0 = fs.readFileSync(path.join(dir, 'commitlog', files[0] as string));
    const g0 = await s.getMessage('g', 'R', 0, 0, 1000);
    void g0;
    let p = 0;
    while (seg0.readInt32BE(p + 4) !== (0xcbd43194 | 0)) p += seg0.readInt32BE(p);
    expect(p + seg0.readInt32BE(p)).toBe(32 * 1024);
  });

  it('pulls from disk in spans: whole records across segment ends, large gaps and byte limits', async () => {
    const dir = newDir();
    const s = await open(dir, { mappedFileSizeCommitLog: 256 * 1024, commitLogReadCacheSize: 16 * 1024, commitLogWriteChunkSize: 8 * 1024 });
    // queue 0: small records; queue 1: now and then a 100 KiB record, a gap of more than 64 KiB for queue 0
    const sizes: number[] = [];
    for (let i = 0; i < 600; i++) {
      const big = i % 50 === 25;
      const len = big ? 100 * 1024 : 200 + ((i * 37) % 900);
      sizes.push(len);
      expect((await s.putMessage({ topic: 'S', queueId: big ? 1 : 0, body: body(i, len) })).status).toBe('PUT_OK');
    }
    await s.commitLog.flush();
    expect(s.commitLog.segments.length).toBeGreaterThan(4);
    const want = sizes.map((len, i) => ({ i, len })).filter((_, i) => i % 50 !== 25);
    for (const [maxMsgs, maxBytes] of [
      [32, 1 << 30],
      [64, 8 * 1024],
      [1, 1 << 30],
      [500, 1 << 30],
    ] as const) {
      let off = 0;
      let k = 0;
      while (off < s.getMaxOffsetInQueue('S', 0)) {
        const g = await s.getMessage('g', 'S', 0, off, maxMsgs, maxBytes);
        expect(g.status).toBe('FOUND');
        expect(g.messageBuffers.length).toBeLessThanOrEqual(maxMsgs);
        if (g.messageBuffers.length > 1) expect(g.bufferTotalSize).toBeLessThanOrEqual(maxBytes);
        g.messageBuffers.forEach((b, j) => {
          const m = decodeMessageRecord(b);
          const w = want[k++] as { i: number; len: number };
          expect([m.queueOffset, g.messageQueueOffsets[j]]).toEqual([off + j, off + j]);
          expect(m.body.equals(body(w.i, w.len))).toBe(true);
          expect(b.length).toBe(m.storeSize);
        });
        off = g.nextBeginOffset;
      }
      expect(k).toBe(want.length);
    }
  });

  it('records read from the cached tail stay intact after their chunk buffer is recycled', async () => {
    const s = await open(newDir(), { commitLogReadCacheSize: 16 * 1024, commitLogWriteChunkSize: 8 * 1024 });
    for (let i = 0; i < 6; i++) await s.putMessage({ topic: 'C', queueId: 0, body: body(i, 1000) });
    const held = await s.getMessage('g', 'C', 0, 0, 6);
    expect(held.messageBuffers).toHaveLength(6);
    // Far more than the cache: the chunks those records came from are released and their buffers reused.
    for (let i = 6; i < 400; i++) await s.putMessage({ topic: 'C', queueId: 0, body: body(i, 1000) });
    await s.commitLog.flush();
    held.messageBuffers.forEach((b, i) => expect(decodeMessageRecord(b).body.equals(body(i, 1000))).toBe(true));
  });

  it('the index rolls over to new files when one is full; queries cover them all', async () => {
    const s = await open(newDir(), { maxIndexNum: 20 });
    for (let i = 0; i < 50; i++) {
      await s.putMessage({ topic: 'Q', queueId: 0, body: body(i), properties: { KEYS: `order-${i % 10} all`, UNIQ_KEY: `UID${i}` } });
    }
    expect(s.indexService.files.length).toBeGreaterThan(3);
    const r = await s.queryMessage('Q', 'order-3', 100, 0, Number.MAX_SAFE_INTEGER);
    expect(r.messageBuffers.map((b) => decodeMessageRecord(b).properties.get('UNIQ_KEY')).sort()).toEqual(['UID13', 'UID23', 'UID3', 'UID33', 'UID43']);
  });

  it('SYNC_FLUSH group commit acks after fdatasync; an fsync failure gives FLUSH_DISK_TIMEOUT and refuses later writes', async () => {
    const s = await open(newDir(), { flushDiskType: 'SYNC_FLUSH', syncFlushTimeout: 2000 });
    const rs = await Promise.all(Array.from({ length: 200 }, (_, i) => s.putMessage({ topic: 'S', queueId: 0, body: body(i) })));
    expect(rs.every((r) => r.status === 'PUT_OK')).toBe(true);
    expect(s.commitLog.flushedPos).toBe(s.commitLog.wrotePos);
    expect(s.getStats().flushCount).toBeGreaterThanOrEqual(0);
    s.failures.arm('fsync', 'EIO', 1);
    const bad = await s.putMessage({ topic: 'S', queueId: 0, body: body(1) });
    expect(bad.status).toBe(PutMessageStatus.FLUSH_DISK_TIMEOUT);
    expect((await s.putMessage({ topic: 'S', queueId: 0, body: body(2) })).status).toBe(PutMessageStatus.SERVICE_NOT_AVAILABLE);
  });

  it('ASYNC_FLUSH acks at once and its flusher flushes later with no further write', async () => {
    const s = await open(newDir(), { flushIntervalCommitLog: 20, flushCommitLogLeastPages: 0 });
    await s.putMessage({ topic: 'A', queueId: 0, body: body(1) });
    expect(s.commitLog.flushedPos).toBe(0);
    // The flusher runs every 20 ms; a loaded CI machine may delay it, so wait up to 5 s (no timing asserted).
    for (let i = 0; i < 500 && s.commitLog.flushedPos < s.commitLog.wrotePos; i++) await new Promise((r) => setTimeout(r, 10));
    expect(s.commitLog.wrotePos).toBeGreaterThan(0);
    expect(s.commitLog.flushedPos).toBe(s.commitLog.wrotePos);
  });

  it('refuses writes with DISK_FULL when the disk is nearly full, and when a segment cannot be allocated', async () => {
    let free = 9e11;
    const s = await open(newDir(), {}, { diskUsage: async () => ({ totalBytes: 1e12, freeBytes: free }) });
    expect((await s.putMessage({ topic: 'D', queueId: 0, body: body(1) })).status).toBe('PUT_OK');
    free = 5e10; // 95 % used
    await s.runCleanup();
    expect((await s.putMessage({ topic: 'D', queueId: 0, body: body(1) })).status).toBe(PutMessageStatus.DISK_FULL);
    free = 9e11;
    await s.runCleanup();
    const before = s.getMaxPhyOffset();
    s.failures.arm('roll', 'ENOSPC');
    let status = '';
    for (let i = 0; i < 200 && status !== 'DISK_FULL'; i++) status = (await s.putMessage({ topic: 'D', queueId: 0, body: body(i, 2000) })).status;
    expect(status).toBe(PutMessageStatus.DISK_FULL);
    const max = s.getMaxOffsetInQueue('D', 0);
    // nothing of the refused record is visible
    const last = await s.getMessage('g', 'D', 0, max - 1, 10);
    expect(last.messageBuffers).toHaveLength(1);
    expect(s.getMaxPhyOffset()).toBeGreaterThan(before);
    s.failures.disarm();
    expect((await s.putMessage({ topic: 'D', queueId: 0, body: body(9, 2000) })).status).toBe('PUT_OK');
    expect(s.getMaxOffsetInQueue('D', 0)).toBe(max + 1);
  });

  it('an injected append failure returns a status and leaves nothing visible', async () => {
    const s = await open(newDir());
    s.failures.arm('append', 'EIO', 1);
    expect((await s.putMessage({ topic: 'E', queueId: 0, body: body(1) })).status).toBe(PutMessageStatus.UNKNOWN_ERROR);
    expect(s.getMaxOffsetInQueue('E', 0)).toBe(0);
    expect(s.getMaxPhyOffset()).toBe(0);
  });

  it('retention deletes old segments, consume-queue and index files while readers continue', async () => {
    let now = 1_700_000_000_000;
    const dir = newDir();
    const s = await open(
      dir,
      { mappedFileSizeCommitLog: 32 * 1024, fileReservedTime: 1, mappedFileSizeConsumeQueue: 20 * 20, maxIndexNum: 30 },
      { now: () => now },
    );
    for (let i = 0; i < 200; i++) await s.putMessage({ topic: 'X', queueId: 0, body: body(i, 800), properties: { KEYS: `k${i}` } });
    await s.commitLog.flush();
    await s.flushLogics();
    const segs = s.commitLog.segments.length;
    // Readers running while segments are deleted: every read returns either the right bytes or a removal status.
    let reading = true;
    const reader = (async () => {
      let reads = 0;
      while (reading) {
        for (let off = 0; off < 200; off += 17) {
          const g = await s.getMessage('g', 'X', 0, off, 5);
          if (g.status === 'FOUND') {
            g.messageBuffers.forEach((b, k) => expect(decodeMessageRecord(b).body.equals(body(g.messageQueueOffsets[k] as number, 800))).toBe(true));
          } else {
            expect(['OFFSET_TOO_SMALL', 'MESSAGE_WAS_REMOVING']).toContain(g.status);
          }
          reads++;
        }
        await new Promise((r) => setImmediate(r)); // memory reads resolve as microtasks: let I/O run
      }
      return reads;
    })();
    now += 2 * 3600_000;
    // mtime is wall-clock; fake an old mtime on all files
    for (const f of fs.readdirSync(path.join(dir, 'commitlog'))) {
      fs.utimesSync(path.join(dir, 'commitlog', f), new Date(now - 3 * 3600_000), new Date(now - 3 * 3600_000));
    }
    await s.runCleanup({ force: true });
    reading = false;
    expect(await reader).toBeGreaterThan(0);
    expect(s.commitLog.segments.length).toBe(segs - Math.min(10, segs - 1) + 0 || 1);
    const min = s.getMinOffsetInQueue('X', 0);
    expect(min).toBeGreaterThan(0);
    const g = await s.getMessage('g', 'X', 0, 0, 5);
    expect(g.status).toBe(GetMessageStatus.OFFSET_TOO_SMALL);
    expect(g.nextBeginOffset).toBe(min);
    const g2 = await s.getMessage('g', 'X', 0, min, 5);
    expect(g2.status).toBe('FOUND');
    expect(decodeMessageRecord(g2.messageBuffers[0] as Buffer).body.equals(body(min, 800))).toBe(true);
    expect(fs.readdirSync(path.join(dir, 'consumequeue', 'X', '0')).length).toBeLessThan(10);
  });
});

describe('ConfigFileManager', () => {
  it('writes via temp + rename, keeps .bak, falls back to .bak on a corrupt file', async () => {
    const dir = newDir();
    const m = new ConfigFileManager(path.join(dir, 'config', 'topics.json'));
    await m.persist('{"v":1}');
    await m.persist('{"v":2}');
    expect(fs.readFileSync(m.filePath, 'utf8')).toBe('{"v":2}');
    expect(fs.readFileSync(m.bakPath, 'utf8')).toBe('{"v":1}');
    expect(await m.load((t) => JSON.parse(t) as { v: number })).toEqual({ v: 2 });
    fs.writeFileSync(m.filePath, '{"v":');
    expect(await m.load((t) => JSON.parse(t) as { v: number })).toEqual({ v: 1 });
    fs.rmSync(m.filePath);
    expect(await m.load((t) => JSON.parse(t) as { v: number })).toEqual({ v: 1 });
    expect(fs.existsSync(`${m.filePath}.tmp`)).toBe(false);
  });
});
