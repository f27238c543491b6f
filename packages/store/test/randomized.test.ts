// Randomized operations (append, read, roll, restart, crash-restart, cleanup) checked against an in-memory model.
import { afterAll, describe, expect, it } from '@jest/globals';
import { decodeMessageRecord } from '@rocketmq-ts/protocol';
import type { DefaultMessageStore } from '../src/index.js';
import { crashSnapshot, openStore, rmDir, tmpDir } from './helpers.js';

function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

const dirs: string[] = [];
afterAll(() => dirs.forEach(rmDir));

describe('randomized operations against a model', () => {
  for (const seed of [1, 7, 42]) {
    it(`seed ${seed}`, async () => {
      const rand = rng(seed);
      let dir = tmpDir();
      dirs.push(dir);
      const cfg = { mappedFileSizeCommitLog: 16 * 1024, mappedFileSizeConsumeQueue: 20 * 40, maxIndexNum: 50, maxHashSlotNum: 13 };
      let usedRatio = 0.1;
      const opts = { diskUsage: async () => ({ totalBytes: 1e12, freeBytes: (1 - usedRatio) * 1e12 }) };
      let s: DefaultMessageStore = await openStore(dir, cfg, opts);
      // model: per queue, list of {phy, body}; min offset tracked from the store after cleanup
      const model = new Map<string, { phy: number; body: Buffer; key: string }[]>();
      const qkey = (t: string, q: number): string => `${t}/${q}`;
      const check = async (t: string, q: number): Promise<void> => {
        const msgs = model.get(qkey(t, q)) ?? [];
        expect(s.getMaxOffsetInQueue(t, q)).toBe(msgs.length);
        const min = s.getMinOffsetInQueue(t, q);
        const minPhy = s.getMinPhyOffset();
        for (let i = 0; i < min; i++) {
          if ((msgs[i] as { phy: number }).phy >= minPhy) {
            throw new Error(`queue ${t}/${q} min ${min} but msg ${i} at ${(msgs[i] as { phy: number }).phy} >= minPhy ${minPhy}; ops ${ops.join(' ')}`);
          }
        }
        if (msgs.length === 0) return;
        const off = min + Math.floor(rand() * Math.max(1, msgs.length - min));
        const g = await s.getMessage('g', t, q, off, 5);
        if (off >= msgs.length) return;
        expect(g.status).toBe('FOUND');
        g.messageBuffers.forEach((b, k) => {
          const m = decodeMessageRecord(b);
          const e = msgs[off + k] as { phy: number; body: Buffer };
          if (m.commitLogOffset !== e.phy) {
            throw new Error(
              `${t}/${q} off ${off + k} min ${min} max ${msgs.length} got ${m.commitLogOffset} qo ${m.queueOffset} want ${e.phy}; minPhy ${minPhy}; ops ${ops.join(' ')}`,
            );
          }
          expect(m.body.equals(e.body)).toBe(true);
        });
      };
      const ops: string[] = [];
      for (let step = 0; step < 400; step++) {
        const r = rand();
        ops.push(`${step}:${r.toFixed(2)}`);
        if (ops.length > 8) ops.shift();
        const t = rand() < 0.5 ? 'A' : 'B';
        const q = Math.floor(rand() * 3);
        if (r < 0.7) {
          const n = 1 + Math.floor(rand() * 3);
          for (let k = 0; k < n; k++) {
            const b = Buffer.alloc(Math.floor(rand() * 3000), Math.floor(rand() * 256));
            const key = `k${step}_${k}`;
            const res = await s.putMessage({ topic: t, queueId: q, body: b, properties: { KEYS: key } });
            expect(res.status).toBe('PUT_OK');
            const list = model.get(qkey(t, q)) ?? [];
            expect(res.appendResult?.logicsOffset).toBe(list.length);
            list.push({ phy: res.appendResult?.wroteOffset ?? -1, body: b, key });
            model.set(qkey(t, q), list);
          }
        } else if (r < 0.85) {
          await check(t, q);
        } else if (r < 0.9) {
          await s.shutdown();
          s = await openStore(dir, cfg, opts);
          expect(s.recoveryReport?.mode).toBe('normal');
        } else if (r < 0.95) {
          const copy = await crashSnapshot(s, dir, { betweenFlushes: true });
          dirs.push(copy);
          await s.shutdown();
          dir = copy;
          s = await openStore(dir, cfg, opts);
          expect(s.recoveryReport?.mode).toBe('abnormal');
          expect(s.recoveryReport?.bytesTruncated).toBe(0);
        } else {
          usedRatio = 0.88; // above the forced-clean ratio, below the write-refusal ratio
          await s.runCleanup();
          usedRatio = 0.1;
          await s.runCleanup();
        }
        if (step % 50 === 49) {
          for (const tt of ['A', 'B']) for (const qq of [0, 1, 2]) await check(tt, qq);
          // a key query finds the newest message of some queue unless it was cleaned up
          const list = model.get(qkey(t, q));
          const last = list?.[list.length - 1];
          if (last !== undefined && last.phy >= s.getMinPhyOffset()) {
            expect((await s.queryMessage(t, last.key, 4, 0, Number.MAX_SAFE_INTEGER)).messageBuffers).toHaveLength(1);
          }
        }
      }
      await s.shutdown();
    });
  }
});
