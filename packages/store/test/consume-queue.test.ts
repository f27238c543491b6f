// ConsumeQueue on its own: the flush order that recovery relies on.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { ConsumeQueue, CQ_UNIT_SIZE } from '../src/index.js';
import { rmDir, tmpDir } from './helpers.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmDir(d);
});

describe('ConsumeQueue flush', () => {
  it('completes an older file before the next one when the queue rolls during a flush', async () => {
    const dir = tmpDir('rmq-cq-');
    dirs.push(dir);
    const q = new ConsumeQueue('T', 0, dir, 100 * CQ_UNIT_SIZE);
    for (let i = 0; i < 80; i++) q.putAt(i, i * 100, 100, 0);
    const flushing = q.flush();
    // While the flush waits for I/O the queue fills file 0 and starts file 1.
    for (let i = 80; i < 120; i++) q.putAt(i, i * 100, 100, 0);
    await flushing;
    const file0 = fs.readFileSync(path.join(dir, 'T', '0', '00000000000000000000'));
    for (let i = 0; i < 100; i++) expect([i, file0.readInt32BE(i * CQ_UNIT_SIZE + 8)]).toEqual([i, 100]);
    // and everything reads back in order after a reload
    await q.flush();
    await q.close();
    const again = new ConsumeQueue('T', 0, dir, 100 * CQ_UNIT_SIZE);
    again.loadSync();
    expect(again.maxOffset).toBe(120);
    for (const i of [0, 79, 80, 99, 100, 119]) expect((await again.getUnit(i))?.phyOffset).toBe(i * 100);
    await again.close();
  });
});

describe('ConsumeQueue load', () => {
  /** A queue of `units` units in files of `fileUnits` (large enough to need several load reads), flushed and closed. */
  async function written(units: number, fileUnits: number): Promise<string> {
    const dir = tmpDir('rmq-cq-load-');
    dirs.push(dir);
    const q = new ConsumeQueue('T', 0, dir, fileUnits * CQ_UNIT_SIZE);
    for (let i = 0; i < units; i++) q.putAt(i, i * 100, 100, i);
    await q.flush();
    await q.close();
    return dir;
  }

  /** 1 MB files: the load reads them in growing chunks. */
  const FILE_UNITS = 50_000;

  it('reads the newest file up to its last unit across several reads, and keeps appending after it', async () => {
    const fileUnits = FILE_UNITS;
    const dir = await written(12_345, fileUnits);
    for (const scanStale of [false, true]) {
      const q = new ConsumeQueue('T', 0, dir, fileUnits * CQ_UNIT_SIZE);
      q.loadSync(scanStale);
      expect([q.minOffset, q.maxOffset, q.maxPhyEnd]).toEqual([0, 12_345, 12_345 * 100]);
      for (const i of [0, 4095, 4096, 8191, 8192, 12_344]) expect(await q.getUnit(i)).toEqual({ phyOffset: i * 100, size: 100, tagsCode: i });
      q.closeSync();
    }
    const q = new ConsumeQueue('T', 0, dir, fileUnits * CQ_UNIT_SIZE);
    q.loadSync(false);
    q.putAt(12_345, 12_345 * 100, 100, 7);
    await q.flush();
    await q.close();
    const again = new ConsumeQueue('T', 0, dir, fileUnits * CQ_UNIT_SIZE);
    again.loadSync(false);
    expect(again.maxOffset).toBe(12_346);
    expect(await again.getUnit(12_345)).toEqual({ phyOffset: 12_345 * 100, size: 100, tagsCode: 7 });
    again.closeSync();
  });

  /** A queue of 10,000 units whose unit `hole` never reached the disk (a torn flush); its file's path. */
  async function withHole(hole: number): Promise<{ dir: string; file: string }> {
    const dir = await written(10_000, FILE_UNITS);
    const file = path.join(dir, 'T', '0', '00000000000000000000');
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, Buffer.alloc(CQ_UNIT_SIZE), 0, CQ_UNIT_SIZE, hole * CQ_UNIT_SIZE);
    fs.closeSync(fd);
    return { dir, file };
  }

  /** Loads the queue as a start after a clean stop (false) or after a crash (true) would; its maxOffset. */
  function loadedMax(dir: string, scanStale: boolean): number {
    const q = new ConsumeQueue('T', 0, dir, FILE_UNITS * CQ_UNIT_SIZE);
    q.loadSync(scanStale);
    const max = q.maxOffset;
    q.closeSync();
    return max;
  }

  function zeroFrom(file: string, unit: number): boolean {
    const bytes = fs.readFileSync(file);
    return bytes.subarray(unit * CQ_UNIT_SIZE).equals(Buffer.alloc(bytes.length - unit * CQ_UNIT_SIZE));
  }

  it('after a crash clears units stranded behind a hole, so they cannot come back later', async () => {
    // Unit 6,000 never reached the disk, units after it (up to 9,999) did.
    const { dir, file } = await withHole(6_000);
    // A clean start trusts the file as written: it stops at the hole and leaves the rest alone.
    expect(loadedMax(dir, false)).toBe(6_000);
    expect(fs.readFileSync(file).readInt32BE(9_999 * CQ_UNIT_SIZE + 8)).toBe(100);
    // A start after a crash stops at the hole too and zeroes everything behind it.
    expect(loadedMax(dir, true)).toBe(6_000);
    expect(zeroFrom(file, 6_000)).toBe(true);
    expect(fs.readFileSync(file).readInt32BE(5_999 * CQ_UNIT_SIZE + 8)).toBe(100);
  });

  it('after a crash clears stale units in the same file-system block as the last valid one', async () => {
    // The hole and the units behind it share the file's last written block: nothing lies beyond it.
    const { dir, file } = await withHole(9_990);
    expect(loadedMax(dir, true)).toBe(9_990);
    expect(zeroFrom(file, 9_990)).toBe(true);
  });
});

describe('ConsumeQueue reads from older files', () => {
  /** 3,000 units in files of 2,000: file 0 is complete and flushed, so no longer held in memory. */
  async function queue(): Promise<ConsumeQueue> {
    const dir = tmpDir('rmq-cq-ahead-');
    dirs.push(dir);
    const q = new ConsumeQueue('T', 0, dir, 2000 * CQ_UNIT_SIZE);
    for (let i = 0; i < 3000; i++) q.putAt(i, i * 100, 100, i);
    await q.flush();
    return q;
  }
  const phys = (b: Buffer): number[] => Array.from({ length: b.length / CQ_UNIT_SIZE }, (_, k) => Number(b.readBigInt64BE(k * CQ_UNIT_SIZE)));
  const range = (from: number, n: number): number[] => Array.from({ length: n }, (_, k) => (from + k) * 100);

  it('reads ahead for pulls going through an older file: one file read per ~25 pulls of 32 units', async () => {
    const q = await queue();
    const held: [number, Buffer][] = [];
    for (let from = 0; from < 2000; from += 32) {
      const b = await q.readUnits(from, 32);
      expect(b).toBeDefined();
      expect(phys(b!)).toEqual(range(from, Math.min(32, 2000 - from)));
      held.push([from, b!]);
    }
    // 63 pulls: the file was read 3 times (819 units each), every other pull found its units in memory.
    expect(q.readAheadStats).toEqual({ reads: 3, hits: 60 });
    // Units handed out earlier are unchanged after later reads ahead (each read fills a new buffer).
    for (const [from, b] of held) expect(phys(b)).toEqual(range(from, Math.min(32, 2000 - from)));
    // A pull reaching the newest file (held in memory) drops what was read ahead.
    expect(phys((await q.readUnits(2000, 32))!)).toEqual(range(2000, 32));
    expect(phys((await q.readUnits(1968, 32))!)).toEqual(range(1968, 32));
    expect(q.readAheadStats.reads).toBe(4);
    await q.close();
  });

  it('reads single units (lookups) alone, and serves a pull going backwards from a new read', async () => {
    const q = await queue();
    for (const i of [1500, 10, 1999]) expect((await q.getUnit(i))?.phyOffset).toBe(i * 100);
    expect(q.readAheadStats).toEqual({ reads: 3, hits: 0 });
    expect(phys((await q.readUnits(1000, 32))!)).toEqual(range(1000, 32));
    expect(phys((await q.readUnits(968, 32))!)).toEqual(range(968, 32));
    expect(phys((await q.readUnits(1010, 32))!)).toEqual(range(1010, 32));
    expect(q.readAheadStats).toEqual({ reads: 5, hits: 1 });
    await q.close();
  });

  it('serves a unit rewritten by recovery after it was read ahead from the file, not from the old read', async () => {
    const q = await queue();
    expect(phys((await q.readUnits(0, 32))!)).toEqual(range(0, 32));
    expect(q.readAheadStats).toEqual({ reads: 1, hits: 0 });
    // Recovery finds unit 40 differs from its record and rewrites it on disk (an older file).
    expect(q.putAt(40, 999_900, 100, 40)).toBe(false);
    const units = phys((await q.readUnits(32, 32))!);
    expect(units[8]).toBe(999_900);
    expect(units.filter((_, k) => k !== 8)).toEqual(range(32, 32).filter((_, k) => k !== 8));
    expect(q.readAheadStats).toEqual({ reads: 2, hits: 0 });
    expect((await q.getUnit(40))?.phyOffset).toBe(999_900);
    await q.close();
  });
});
