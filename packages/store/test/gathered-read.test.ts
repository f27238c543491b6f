// Pulls of one queue whose records lie between other queues' records: the reader gathers only the
// queue's own records into one buffer (from the in-memory tail, by a synchronous vectored read of hot
// data, or by an asynchronous one of cold data), never the bytes between them, and serves exactly
// what was put: bodies, queue offsets, tag filters, maxBytes, and segment ends.
import { afterAll, describe, expect, it } from '@jest/globals';
import { decodeMessageRecord } from '@rocketmq-ts/protocol';
import { tagFilter, type DefaultMessageStore, type GetMessageResult } from '../src/index.js';
import { body, openStore, rmDir, tmpDir } from './helpers.js';

const dirs: string[] = [];
const stores: DefaultMessageStore[] = [];
afterAll(async () => {
  for (const s of stores) await s.shutdown().catch(() => undefined);
  dirs.forEach(rmDir);
});

const QUEUES = 3;
const N = 600;
/** Message i: queue i % 3, a size that varies, tag A or B. */
const sizeOf = (i: number): number => 200 + ((i * 131) % 1700);
const tagOf = (i: number): string => (i % 5 === 0 ? 'B' : 'A');

async function filled(over: Record<string, unknown>): Promise<{ s: DefaultMessageStore; dir: string }> {
  const dir = tmpDir('rmq-gather-');
  dirs.push(dir);
  const s = await openStore(dir, { mappedFileSizeCommitLog: 256 * 1024, ...over });
  stores.push(s);
  for (let i = 0; i < N; i++) {
    const r = await s.putMessage({ topic: 'G', queueId: i % QUEUES, body: body(i, sizeOf(i)), properties: { TAGS: tagOf(i), KEYS: `k${i}` } });
    expect(r.status).toBe('PUT_OK');
  }
  await s.commitLog.flush();
  return { s, dir };
}

/** Every message of queue q (ids of what was put), pulled `per` at a time with `filter`. */
async function pullAll(s: DefaultMessageStore, q: number, per: number, tag?: string, maxBytes?: number): Promise<{ ids: number[]; pulls: GetMessageResult[] }> {
  const ids: number[] = [];
  const pulls: GetMessageResult[] = [];
  let offset = 0;
  for (let guard = 0; guard < 1000 && offset < s.getMaxOffsetInQueue('G', q); guard++) {
    const r = await s.getMessage('g', 'G', q, offset, per, maxBytes, tag === undefined ? undefined : tagFilter([tag]));
    pulls.push(r);
    r.messageBuffers.forEach((b, k) => {
      const m = decodeMessageRecord(b);
      const id = Number(m.properties.get('KEYS')!.slice(1));
      expect([m.queueId, m.queueOffset, r.messageQueueOffsets[k]]).toEqual([q, Math.floor(id / QUEUES), m.queueOffset]);
      expect(m.body.equals(body(id, sizeOf(id)))).toBe(true);
      ids.push(id);
    });
    offset = r.nextBeginOffset;
  }
  return { ids, pulls };
}

const expectedIds = (q: number, tag?: string): number[] =>
  Array.from({ length: N }, (_, i) => i).filter((i) => i % QUEUES === q && (tag === undefined || tagOf(i) === tag));

/** True when a pull's records sit back to back in one buffer of exactly their total size (gathered). */
function gathered(r: GetMessageResult): boolean {
  const first = r.messageBuffers[0];
  if (first === undefined) return true;
  let at = first.byteOffset;
  for (const b of r.messageBuffers) {
    if (b.buffer !== first.buffer || b.byteOffset !== at) return false;
    at += b.length;
  }
  return at - first.byteOffset === r.bufferTotalSize;
}

describe('gathered reads of interleaved queues', () => {
  for (const [name, over, reopen] of [
    ['from the in-memory tail', { commitLogReadCacheSize: 8 * 1024 * 1024, commitLogWriteChunkSize: 4 * 1024 * 1024 }, false],
    ['from the page cache (synchronous vectored read)', {}, true],
    ['from cold data (asynchronous vectored read)', { accessMessageInMemoryMaxRatio: 0 }, true],
  ] as const) {
    it(`${name}: each queue's records, in order, whole, and nothing of the others`, async () => {
      const f = await filled(over);
      let s = f.s;
      const dir = f.dir;
      if (reopen) {
        await s.shutdown();
        s = await openStore(dir, { mappedFileSizeCommitLog: 256 * 1024, ...over });
        stores.push(s);
      }
      expect(s.commitLog.segments.length).toBeGreaterThan(1); // pulls meet segment ends too
      for (let q = 0; q < QUEUES; q++) {
        const all = await pullAll(s, q, 32);
        expect(all.ids).toEqual(expectedIds(q));
        // Pulls within one segment are gathered; a pull may be cut where a segment ends.
        expect(all.pulls.filter((r) => r.messageBuffers.length > 1 && gathered(r)).length).toBeGreaterThan(all.pulls.length / 2);
        for (const r of all.pulls) expect(r.messageBuffers.length).toBeLessThanOrEqual(32);
        const b = await pullAll(s, q, 32, 'B');
        expect(b.ids).toEqual(expectedIds(q, 'B'));
      }
      // maxBytes counts the records served, not the bytes between them.
      const small = await s.getMessage('g', 'G', 1, 0, 32, 5000);
      const served = small.messageBuffers.reduce((n, x) => n + x.length, 0);
      expect(served).toBeLessThanOrEqual(5000);
      expect(served + sizeOf(1 + small.messageBuffers.length * QUEUES)).toBeGreaterThan(5000);
    });
  }
});

describe('read blocks shared by pulls of queues in step', () => {
  it('one read of a stretch serves the other queues, also while appends go on', async () => {
    const dir = tmpDir('rmq-gather-');
    dirs.push(dir);
    // A small in-memory tail: pulls of all but the newest records go to the file.
    const s = await openStore(dir, { mappedFileSizeCommitLog: 1024 * 1024, commitLogWriteChunkSize: 16 * 1024, commitLogReadCacheSize: 0 });
    stores.push(s);
    let put = 0;
    const putSome = async (k: number): Promise<void> => {
      for (const end = put + k; put < end; put++) {
        const r = await s.putMessage({ topic: 'G', queueId: put % QUEUES, body: body(put, sizeOf(put)), properties: { TAGS: tagOf(put), KEYS: `k${put}` } });
        expect(r.status).toBe('PUT_OK');
      }
    };
    await putSome(300);
    const got: number[][] = Array.from({ length: QUEUES }, () => []);
    const next = Array.from({ length: QUEUES }, () => 0);
    const before = { ...s.commitLog.readBlockStats };
    // Round by round: each queue pulls 8, then a few more messages are appended.
    for (let round = 0; round < 200 && got.some((g, q) => g.length < Math.ceil((put - q) / QUEUES)); round++) {
      for (let q = 0; q < QUEUES; q++) {
        const r = await s.getMessage('g', 'G', q, next[q]!, 8);
        for (const b of r.messageBuffers) {
          const m = decodeMessageRecord(b);
          const id = Number(m.properties.get('KEYS')!.slice(1));
          expect(m.body.equals(body(id, sizeOf(id)))).toBe(true);
          got[q]!.push(id);
        }
        next[q] = r.nextBeginOffset;
      }
      if (put < N) await putSome(5);
    }
    for (let q = 0; q < QUEUES; q++) expect(got[q]).toEqual(Array.from({ length: put }, (_, i) => i).filter((i) => i % QUEUES === q));
    const hits = s.commitLog.readBlockStats.hits - before.hits;
    const misses = s.commitLog.readBlockStats.misses - before.misses;
    // Three queues in step: most pulls find their stretch already read by another queue's pull.
    expect(misses).toBeGreaterThan(0);
    expect(hits).toBeGreaterThan(misses);
  });
});

describe('pulls into lent buffers (getMessage with lendBuffers)', () => {
  for (const [name, over, reopen] of [
    ['from the in-memory tail', { commitLogReadCacheSize: 8 * 1024 * 1024, commitLogWriteChunkSize: 4 * 1024 * 1024 }, false],
    ['from the page cache', {}, true],
    ['from cold data', { accessMessageInMemoryMaxRatio: 0 }, true],
  ] as const) {
    it(`${name}: records land in the lent buffers, which are reused only once given back`, async () => {
      const f = await filled(over);
      let s = f.s;
      if (reopen) {
        await s.shutdown();
        s = await openStore(f.dir, { mappedFileSizeCommitLog: 256 * 1024, ...over });
        stores.push(s);
      }
      const LEND = { lendBuffers: true } as const;
      // Every queue pulled to its end with each result held until all are read: no lent buffer
      // serves two results at once, and every record is whole.
      const held: GetMessageResult[] = [];
      for (let q = 0; q < QUEUES; q++) {
        const ids: number[] = [];
        let offset = 0;
        for (let guard = 0; guard < 1000 && offset < s.getMaxOffsetInQueue('G', q); guard++) {
          const r = await s.getMessage('g', 'G', q, offset, 32, undefined, undefined, LEND);
          held.push(r);
          offset = r.nextBeginOffset;
        }
        for (const r of held.filter((x) => x.messageBuffers.length > 0 && decodeMessageRecord(x.messageBuffers[0]!).queueId === q)) {
          for (const b of r.messageBuffers) {
            const m = decodeMessageRecord(b);
            const id = Number(m.properties.get('KEYS')!.slice(1));
            expect(m.body.equals(body(id, sizeOf(id)))).toBe(true);
            ids.push(id);
          }
        }
        expect(ids).toEqual(expectedIds(q));
      }
      // Pulls of ~38 KiB of records are read into lent buffers; a read shorter than half a
      // buffer (where a segment ends) gets its own memory.
      const lentPulls = held.filter((r) => (r.lent?.length ?? 0) > 0);
      expect(lentPulls.length).toBeGreaterThan(held.length / 3);
      for (const r of lentPulls) expect(r.messageBuffers.some((b) => r.lent!.some((l) => l.buffer === b.buffer))).toBe(true);
      const inUse = held.flatMap((r) => (r.lent ?? []).map((b) => b.buffer));
      expect(new Set(inUse).size).toBe(inUse.length);
      const small = await s.getMessage('g', 'G', 0, 0, 4, undefined, undefined, LEND);
      expect(small.messageBuffers).toHaveLength(4);
      expect(small.lent).toBeUndefined();
      // Given back (twice: the second does nothing), the buffers serve the next pulls.
      const first = lentPulls[0]!;
      const firstBuffers = first.lent!.map((b) => b.buffer);
      s.releaseMessageBuffers(first);
      s.releaseMessageBuffers(first);
      expect(first.lent).toBeUndefined();
      const a = await s.getMessage('g', 'G', 0, 0, 32, undefined, undefined, LEND);
      const b = await s.getMessage('g', 'G', 1, 0, 32, undefined, undefined, LEND);
      expect(firstBuffers).toContain(a.lent![0]!.buffer);
      expect(b.lent![0]!.buffer).not.toBe(a.lent![0]!.buffer);
      // Without the option nothing is lent; reads larger than a lent buffer get their own memory.
      const plain = await s.getMessage('g', 'G', 0, 0, 32);
      expect(plain.lent).toBeUndefined();
      const big = await s.getMessage('g', 'G', 0, 0, 200, undefined, undefined, LEND);
      const own = big.messageBuffers.filter((x) => !(big.lent ?? []).some((l) => l.buffer === x.buffer));
      expect(own.length).toBeGreaterThan(0);
      for (const r of [...held, a, b, big]) s.releaseMessageBuffers(r);
    });
  }
});
