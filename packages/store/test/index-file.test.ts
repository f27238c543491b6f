// IndexFile on its own: slot pages written back in runs survive a reload, in every layout of dirty pages;
// a key stream between flushes is written out as it goes instead of piling up in memory.
import fs from 'node:fs';
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

  it('writes entries out between flushes once many are held, and finds every key before and after the next flush', async () => {
    const dir = tmpDir('rmq-index-');
    dirs.push(dir);
    const file = path.join(dir, 'idx');
    const N = 100_000;
    const f = IndexFile.create(file, SLOTS, 200_000);
    expect(f.putKey(7, 1, T0)).toBe(true);
    await f.flush(); // the file exists from here on
    for (let i = 1; i <= N; i++) expect(f.putKey(i * 7919, 1000 + i, T0 + i)).toBe(true);
    // No flush yet, but most entries are in the file already: entry i sits at 40 + 4 * slots + 20 * i.
    const onDisk = fs.readFileSync(file);
    const entryAt = (i: number): number => 40 + 4 * SLOTS + 20 * i;
    expect(onDisk.readInt32BE(entryAt(2))).toBe(7919); // the first key after the flush
    expect(onDisk.readInt32BE(entryAt(60_001))).toBe(60_000 * 7919);
    const found = async (g: IndexFile, i: number): Promise<boolean> => {
      const out: number[] = [];
      await g.query(i * 7919, 64, 0, Number.MAX_SAFE_INTEGER, out);
      return out.includes(1000 + i);
    };
    for (const i of [1, 2, 32_000, 65_000, 99_999, N]) expect([i, await found(f, i)]).toEqual([i, true]);
    await f.flush();
    await f.close();
    const again = IndexFile.loadSync(file, SLOTS, 200_000, true);
    for (let i = 1; i <= N; i += 997) expect([i, await found(again, i)]).toEqual([i, true]);
    expect([N, await found(again, N)]).toEqual([N, true]);
    await again.close();
  });
});
