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
