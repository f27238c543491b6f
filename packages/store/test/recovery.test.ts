// Recovery of DefaultMessageStore's files: what the scan checks and re-dispatches, corrupt records
// in the commit log, damaged consume-queue files. The restart invariants are in contract/.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { checkMessageRecord, decodeMessageRecord } from '@rocketmq-ts/protocol';
import type { DefaultMessageStore } from '../src/index.js';
import { body, crashSnapshot, openStore, rmDir, tmpDir } from './helpers.js';

const dirs: string[] = [];
const stores: DefaultMessageStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.shutdown();
  for (const d of dirs.splice(0)) rmDir(d);
});
async function open(dir: string, over = {}): Promise<DefaultMessageStore> {
  const s = await openStore(dir, over);
  stores.push(s);
  return s;
}

/** Writes n messages over 2 queues; returns the commit-log offsets. */
async function fill(s: DefaultMessageStore, n: number, from = 0): Promise<number[]> {
  const offs: number[] = [];
  for (let i = from; i < from + n; i++) {
    const r = await s.putMessage({ topic: 'RT', queueId: i % 2, body: body(i, 700), properties: { KEYS: `key${i}` } });
    offs.push(r.appendResult?.wroteOffset ?? -1);
  }
  return offs;
}

async function expectQueuesMatchLog(s: DefaultMessageStore, n: number): Promise<void> {
  let total = 0;
  for (const q of [0, 1]) {
    const max = s.getMaxOffsetInQueue('RT', q);
    total += max;
    const g = await s.getMessage('g', 'RT', q, 0, 10_000);
    expect(g.messageBuffers).toHaveLength(max);
    g.messageBuffers.forEach((b, k) => {
      const m = decodeMessageRecord(b);
      expect(m.queueId).toBe(q);
      expect(m.queueOffset).toBe(k);
      expect(m.body.equals(body(2 * k + q, 700))).toBe(true);
      expect(checkMessageRecord(b, 0, b.length, { checkCRC: true }).kind).toBe('record');
    });
  }
  expect(total).toBe(n);
}

describe('recovery', () => {
  it('after a crash, rebuilds consume queues and index from the log (abnormal recovery)', async () => {
    const dir = tmpDir();
    dirs.push(dir);
    const s = await open(dir, { flushIntervalConsumeQueue: 3_600_000 });
    await fill(s, 150);
    const copy = await crashSnapshot(s, dir);
    dirs.push(copy);
    // consume queues were never flushed in the snapshot
    const s2 = await open(copy);
    const rep = s2.recoveryReport;
    expect(rep?.mode).toBe('abnormal');
    expect(rep?.recordsChecked).toBe(150);
    expect(rep?.recordsDispatched).toBe(150);
    await expectQueuesMatchLog(s2, 150);
    expect((await s2.queryMessage('RT', 'key149', 10, 0, Number.MAX_SAFE_INTEGER)).messageBuffers).toHaveLength(1);
  });

  type Corruption = (file: string, lastRecordPos: number, lastRecordSize: number) => void;
  const cases: [string, Corruption][] = [
    [
      'truncated record (torn write)',
      (f, pos, size) => {
        const fd = fs.openSync(f, 'r+');
        fs.writeSync(fd, Buffer.alloc(size - 100), 0, size - 100, pos + 100);
        fs.closeSync(fd);
      },
    ],
    [
      'torn write that lost only the properties (outside the body CRC)',
      (f, pos, size) => {
        const fd = fs.openSync(f, 'r+');
        fs.writeSync(fd, Buffer.alloc(6), 0, 6, pos + size - 6);
        fs.closeSync(fd);
      },
    ],
    [
      'bad magic',
      (f, pos) => {
        const fd = fs.openSync(f, 'r+');
        fs.writeSync(fd, Buffer.from([0x12, 0x34, 0x56, 0x78]), 0, 4, pos + 4);
        fs.closeSync(fd);
      },
    ],
    [
      'bad body CRC',
      (f, pos) => {
        const fd = fs.openSync(f, 'r+');
        fs.writeSync(fd, Buffer.from([0xff, 0xfe]), 0, 2, pos + 88 + 10);
        fs.closeSync(fd);
      },
    ],
  ];
  for (const [name, corrupt] of cases) {
    it(`recovers to the last good record after a ${name}`, async () => {
      const dir = tmpDir();
      dirs.push(dir);
      const s = await open(dir);
      const offs = await fill(s, 120);
      await s.flushLogics();
      const copy = await crashSnapshot(s, dir);
      dirs.push(copy);
      const lastPhy = offs[offs.length - 1] as number;
      const seg = s.commitLog.findSegment(lastPhy);
      if (seg === undefined) throw new Error('no segment');
      const file = path.join(copy, 'commitlog', path.basename(seg.path));
      corrupt(file, lastPhy - seg.startOffset, s.commitLog.wrotePos - lastPhy);
      const s2 = await open(copy);
      const rep = s2.recoveryReport;
      expect(rep?.mode).toBe('abnormal');
      expect(rep?.maxPhyOffset).toBe(lastPhy);
      expect(rep?.bytesTruncated).toBeGreaterThan(0);
      await expectQueuesMatchLog(s2, 119);
      // appends continue at the truncation point and survive another restart
      const more = await fill(s2, 5, 119);
      expect(more[0]).toBe(lastPhy);
      await s2.shutdown();
      const s3 = await open(copy);
      await expectQueuesMatchLog(s3, 124);
    });
  }

  it("repairs missing units at the end of an older consume-queue file (crash between two files' flushes)", async () => {
    const dir = tmpDir();
    dirs.push(dir);
    const s = await open(dir);
    // 250 messages over 2 queues: 125 units each, so every queue has a full file (100 units) and a newer one
    await fill(s, 250);
    await s.shutdown();
    // The older file of queue 0 lacks its last 3 units on disk, as after a kill between the flush of the
    // newer file and the rest of the older one; the checkpoint is gone, so recovery scans the whole log.
    const older = path.join(dir, 'consumequeue', 'RT', '0', '00000000000000000000');
    const fd = fs.openSync(older, 'r+');
    fs.writeSync(fd, Buffer.alloc(3 * 20), 0, 3 * 20, 97 * 20);
    fs.closeSync(fd);
    fs.rmSync(path.join(dir, 'checkpoint'));
    fs.writeFileSync(path.join(dir, 'abort'), '');
    const s2 = await open(dir);
    expect(s2.recoveryReport?.mode).toBe('abnormal');
    await expectQueuesMatchLog(s2, 250);
    // the repair reached the file itself, not only memory
    await s2.shutdown();
    const units = Buffer.alloc(3 * 20);
    const fd2 = fs.openSync(older, 'r');
    fs.readSync(fd2, units, 0, units.length, 97 * 20);
    fs.closeSync(fd2);
    for (let k = 0; k < 3; k++) expect(units.readInt32BE(k * 20 + 8)).toBeGreaterThan(0);
  });

  it('a damaged record in an older segment is skipped when an intact record follows it; the rest of the log stays', async () => {
    const dir = tmpDir();
    dirs.push(dir);
    const s = await open(dir, { mappedFileSizeCommitLog: 32 * 1024 });
    const offs = await fill(s, 200);
    const copy = await crashSnapshot(s, dir);
    dirs.push(copy);
    const victim = offs[60] as number;
    const seg = s.commitLog.findSegment(victim);
    if (seg === undefined) throw new Error('no segment');
    const fd = fs.openSync(path.join(copy, 'commitlog', path.basename(seg.path)), 'r+');
    fs.writeSync(fd, Buffer.from([0, 0, 0, 0]), 0, 4, victim - seg.startOffset + 4); // the magic code
    fs.closeSync(fd);
    fs.rmSync(path.join(copy, 'checkpoint')); // force a scan from the first segment
    const s2 = await open(copy, { mappedFileSizeCommitLog: 32 * 1024 });
    const rep = s2.recoveryReport;
    expect(rep?.maxPhyOffset).toBe(s.commitLog.wrotePos);
    expect(rep?.recordsSkipped).toBe(1);
    expect(rep?.skippedRecords?.[0]).toMatch(new RegExp(`^${victim}: bad magic`));
    // message 60 (queue 0, offset 30) is gone, every other one is served in one pull (the gap's
    // padding unit, or the damaged record's unit, does not end the batch)
    const q0 = await s2.getMessage('g', 'RT', 0, 0, 10_000);
    expect(q0.messageQueueOffsets).not.toContain(30);
    expect(q0.messageBuffers).toHaveLength(99);
    const q1 = await s2.getMessage('g', 'RT', 1, 0, 10_000);
    expect(q1.messageBuffers).toHaveLength(100);
  });

  it('a record whose size field is damaged in an older segment ends the log there (nothing to resynchronise on)', async () => {
    const dir = tmpDir();
    dirs.push(dir);
    const s = await open(dir, { mappedFileSizeCommitLog: 32 * 1024 });
    const offs = await fill(s, 200);
    const copy = await crashSnapshot(s, dir);
    dirs.push(copy);
    const victim = offs[60] as number;
    const seg = s.commitLog.findSegment(victim);
    if (seg === undefined) throw new Error('no segment');
    const fd = fs.openSync(path.join(copy, 'commitlog', path.basename(seg.path)), 'r+');
    fs.writeSync(fd, Buffer.from([0, 0, 0, 0, 0, 0, 0, 0]), 0, 8, victim - seg.startOffset); // size and magic
    fs.closeSync(fd);
    fs.rmSync(path.join(copy, 'checkpoint'));
    const s2 = await open(copy, { mappedFileSizeCommitLog: 32 * 1024 });
    expect(s2.recoveryReport?.maxPhyOffset).toBe(victim);
    await expectQueuesMatchLog(s2, 60);
  });
});
