// IndexFile on its own: slot pages written back in runs survive a reload, in every layout of dirty pages.
import path from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { IndexFile } from '../src/index.js';
import { rmDir, tmpDir } from './helpers.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmDir(d);
});

const SLOTS = 50_000; // 200 KB of slots: 49 pages
const T0 = 1_700_000_000_000;

describe('IndexFile flush', () => {
  it('finds every key after flushes of scattered, adjacent and repeated slot pages and a reload', async () => {
    const dir = tmpDir('rmq-index-');
    dirs.push(dir);
    const file = path.join(dir, 'idx');
    const f = IndexFile.create(file, SLOTS, 100_000);
    // Round 1: pages 0, 1, 2 (a run), 10 (alone), 47, 48 (a run at the end, the last page partial).
    // Round 2: page 1 again, page 30. Round 3: many keys on every page.
    const perPage = 1024; // slots per 4 KiB page
    const rounds = [[0, 1, 2, 10, 47, 48], [1, 30], Array.from({ length: 49 }, (_, i) => i)];
    const put: [number, number][] = [];
    let phy = 0;
    for (const pages of rounds) {
      for (const p of pages) {
        for (let k = 0; k < 3; k++) {
          const slot = Math.min(SLOTS - 1, p * perPage + ((k * 337) % perPage));
          const hash = slot + SLOTS * (k + 1); // lands in `slot` (hash % SLOTS)
          phy += 100;
          expect(f.putKey(hash, phy, T0 + phy)).toBe(true);
          put.push([hash, phy]);
        }
      }
      await f.flush();
    }
    await f.close();
    const again = IndexFile.loadSync(file, SLOTS, 100_000, true);
    for (const [hash, at] of put) {
      const out: number[] = [];
      await again.query(hash, 64, 0, Number.MAX_SAFE_INTEGER, out);
      expect([hash, out.includes(at)]).toEqual([hash, true]);
    }
    await again.close();
  });
});
