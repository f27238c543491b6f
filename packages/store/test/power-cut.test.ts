// Power-cut probe: only what was fdatasynced survives. While a store takes appends, a recorder sees
// every write and fdatasync; at a random moment the directory is copied as a power loss would leave
// it (each page not synced keeps its new bytes, goes back to its synced bytes, or is torn), and a
// new store recovers the copy. SYNC_FLUSH must keep every acknowledged message; ASYNC_FLUSH may lose
// only messages past the commit log's flushed offset at the cut; nothing served may be corrupt.
import fs from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import { checkMessageRecord, decodeMessageRecord, findProperty } from '@rocketmq-ts/protocol';
import { fdatasync, pwriteAll, writeSync } from '../src/fsutil.js';
import { setFileWriteObserver, type DefaultMessageStore, type FlushDiskType } from '../src/index.js';
import { PowerCutRecorder, seededRandom } from '../src/testing/power-cut.js';
import { body, openStore, rmDir, tmpDir } from './helpers.js';

const dirs: string[] = [];
afterEach(() => setFileWriteObserver(undefined));
afterAll(() => dirs.forEach(rmDir));

const TOPICS = ['PcA', 'PcB'];
const QUEUES = 3;

interface Ack {
  seq: number;
  topic: string;
  queueId: number;
  queueOffset: number;
  phy: number;
  size: number;
}

const storeConfig = (mode: FlushDiskType) => ({
  flushDiskType: mode,
  mappedFileSizeCommitLog: 64 * 1024,
  mappedFileSizeConsumeQueue: 20 * 50,
  maxHashSlotNum: 97,
  maxIndexNum: 300,
  flushIntervalCommitLog: 15,
  flushCommitLogLeastPages: 1,
  flushIntervalConsumeQueue: 25,
  flushConsumeQueueLeastPages: 0,
});

function seqOf(rec: Buffer): number {
  const r = checkMessageRecord(rec, 0, rec.length, {});
  if (r.kind !== 'record') return -1;
  const k = findProperty(r.info.propertiesString, 'KEYS') ?? '';
  return /^k\d+$/.test(k) ? Number(k.slice(1)) : -1;
}

/** Appends from several writers until `stop`; acknowledged messages go to `acks` as their promises resolve. */
function produce(store: DefaultMessageStore, acks: Ack[], state: { stop: boolean; seq: number }, writers: number): Promise<void>[] {
  const loops: Promise<void>[] = [];
  for (let w = 0; w < writers; w++) {
    loops.push(
      (async () => {
        while (!state.stop) {
          const seq = state.seq++;
          const topic = TOPICS[seq % TOPICS.length] as string;
          const queueId = seq % QUEUES;
          const r = await store.putMessage({ topic, queueId, body: body(seq, 50 + ((seq * 37) % 900)), properties: { KEYS: `k${seq}`, TAGS: `t${seq % 4}` } });
          if (state.stop) return; // resolved after the cut: not counted
          if (r.status === 'PUT_OK' && r.appendResult !== undefined) {
            acks.push({ seq, topic, queueId, queueOffset: r.appendResult.logicsOffset, phy: r.appendResult.wroteOffset, size: r.appendResult.wroteBytes });
          }
        }
      })(),
    );
  }
  return loops;
}

interface Verdict {
  served: number;
  corrupt: string[];
  lost: number[];
  lostInsideFlushed: number[];
}

async function verify(copy: string, mode: FlushDiskType, acks: Ack[], flushedAtCut: number): Promise<Verdict> {
  const store = await openStore(copy, storeConfig(mode));
  const v: Verdict = { served: 0, corrupt: [], lost: [], lostInsideFlushed: [] };
  try {
    const seen = new Map<string, number>(); // topic/queue/offset → seq
    for (const topic of TOPICS) {
      for (let q = 0; q < QUEUES; q++) {
        let off = store.getMinOffsetInQueue(topic, q);
        const max = store.getMaxOffsetInQueue(topic, q);
        for (let guard = 0; off < max && guard < 10_000; guard++) {
          const g = await store.getMessage('g', topic, q, off, 32);
          for (let k = 0; k < g.messageBuffers.length; k++) {
            const rec = g.messageBuffers[k] as Buffer;
            const qo = g.messageQueueOffsets[k] as number;
            const r = checkMessageRecord(rec, 0, rec.length, { checkCRC: true });
            const seq = seqOf(rec);
            if (r.kind !== 'record' || seq < 0) {
              v.corrupt.push(`${topic}/${q}@${qo}: ${r.kind === 'corrupt' ? r.reason : r.kind}`);
              continue;
            }
            const m = decodeMessageRecord(rec);
            if (m.topic !== topic || m.queueId !== q || m.queueOffset !== qo || !m.body.equals(body(seq, 50 + ((seq * 37) % 900)))) {
              v.corrupt.push(`${topic}/${q}@${qo}: wrong record (seq ${seq}, ${m.topic}/${m.queueId}@${m.queueOffset})`);
              continue;
            }
            seen.set(`${topic}/${q}/${qo}`, seq);
            v.served++;
          }
          if (g.nextBeginOffset <= off) break;
          off = g.nextBeginOffset;
        }
      }
    }
    for (const a of acks) {
      if (seen.get(`${a.topic}/${a.queueId}/${a.queueOffset}`) === a.seq) continue;
      v.lost.push(a.seq);
      if (a.phy + a.size <= flushedAtCut) v.lostInsideFlushed.push(a.seq);
    }
    // Queries by key return only the message with that key.
    for (const a of acks.filter((_, i) => i % 7 === 0)) {
      const res = await store.queryMessage(a.topic, `k${a.seq}`, 8, 0, Number.MAX_SAFE_INTEGER);
      for (const rec of res.messageBuffers) {
        if (seqOf(rec) !== a.seq) v.corrupt.push(`query k${a.seq} returned seq ${seqOf(rec)}`);
        const r = checkMessageRecord(rec, 0, rec.length, { checkCRC: true });
        if (r.kind !== 'record') v.corrupt.push(`query k${a.seq} returned a damaged record`);
      }
    }
  } finally {
    await store.shutdown();
  }
  return v;
}

async function powerCutRound(mode: FlushDiskType, seed: number, keepProbability: number): Promise<{ acks: number; dirty: number; v: Verdict }> {
  const dir = tmpDir('rmq-pcut-');
  const copy = tmpDir('rmq-pcut-copy-');
  fs.rmSync(copy, { recursive: true, force: true });
  dirs.push(dir, copy);
  const random = seededRandom(seed);
  const recorder = new PowerCutRecorder(dir);
  setFileWriteObserver(recorder);
  const store = await openStore(dir, storeConfig(mode));
  const acks: Ack[] = [];
  const state = { stop: false, seq: seed * 1_000_000 };
  const loops = produce(store, acks, state, 6);
  await new Promise((resolve) => setTimeout(resolve, 150 + Math.floor(random() * 500)));
  // The crash point: what is acknowledged and what is flushed now, and the disk as it would be.
  state.stop = true;
  const acked = [...acks];
  const flushedAtCut = store.getFlushedWhere();
  const dirty = recorder.dirtyPages;
  recorder.cut(copy, { random, keepProbability });
  setFileWriteObserver(undefined);
  await Promise.all(loops);
  await store.shutdown();
  const v = await verify(copy, mode, acked, flushedAtCut);
  // The seed reproduces the cut (not the timing of the appends before it).
  process.stdout.write(
    `power cut ${mode} seed ${seed} keep ${keepProbability}: ${acked.length} acked, ${dirty} pages not synced, ${v.served} served, ${v.lost.length} lost (${v.lostInsideFlushed.length} inside the flushed log)\n`,
  );
  return { acks: acked.length, dirty, v };
}

describe('the power-cut recorder', () => {
  it('keeps synced bytes, reverts or tears the rest, and tracks writes made while a sync runs', async () => {
    const dir = tmpDir('rmq-pcut-unit-');
    dirs.push(dir);
    const recorder = new PowerCutRecorder(dir);
    setFileWriteObserver(recorder);
    const file = `${dir}/f`;
    const fd = fs.openSync(file, 'w+');
    writeSync(fd, Buffer.alloc(8192, 1), 0, 8192, 0);
    await fdatasync(fd);
    expect(recorder.dirtyPages).toBe(0);
    writeSync(fd, Buffer.alloc(100, 2), 0, 100, 4000); // pages 0 and 1
    const sync = fdatasync(fd);
    await pwriteAll(fd, Buffer.alloc(10, 3), 0, 10, 5000); // page 1 again, while the sync runs
    await sync;
    expect(recorder.dirtyFiles().map((f) => f.pages)).toEqual([[1]]);
    const copy = `${dir}-copy`;
    dirs.push(copy);
    recorder.cut(copy, { random: () => 0.99, keepProbability: 0 }); // revert, never tear
    fs.closeSync(fd);
    const after = fs.readFileSync(`${copy}/f`);
    const want = Buffer.alloc(8192, 1);
    want.fill(2, 4000, 4100); // the synced write
    expect(after.equals(want)).toBe(true);
  });
});

describe.each<FlushDiskType>(['SYNC_FLUSH', 'ASYNC_FLUSH'])('power cut during %s appends', (mode) => {
  const seeds = [1, 2, 3, 4, 5, 6];
  it.each(seeds)(
    'seed %i: acknowledged messages survive as promised, nothing corrupt is served',
    async (seed) => {
      const keep = [0, 0.5, 0.9][seed % 3] as number;
      const { acks, dirty, v } = await powerCutRound(mode, seed + (mode === 'SYNC_FLUSH' ? 0 : 100), keep);
      expect(acks).toBeGreaterThan(20);
      expect(dirty).toBeGreaterThan(0);
      expect(v.corrupt).toEqual([]);
      if (mode === 'SYNC_FLUSH') expect(v.lost).toEqual([]);
      else expect(v.lostInsideFlushed).toEqual([]);
    },
    60_000, // verify queries every acknowledged key: 12-17 s alone, more beside other suites
  );
});
