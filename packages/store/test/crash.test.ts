// SIGKILL crash test: a child appends (SYNC_FLUSH or ASYNC_FLUSH) and reports acks; it is killed at random points.
// A process crash keeps the OS page cache, so neither mode may lose an acknowledged message.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { checkMessageRecord, decodeMessageRecord } from '@rocketmq-ts/protocol';
import { DefaultMessageStore, silentLogger } from '../src/index.js';
import { crashBody } from '../src/testing/crash-writer.js';
import { rmDir, tmpDir } from './helpers.js';

const WRITER = path.resolve(import.meta.dirname, '../dist/testing/crash-writer.js');
const SEG = 256 * 1024;
const dirs: string[] = [];
afterAll(() => dirs.forEach(rmDir));

interface Ack {
  queueId: number;
  queueOffset: number;
  phy: number;
  seq: number;
}

function runWriter(dir: string, mode: string, round: number, killAfterMs: number, selfKillAfterBursts = 0): Promise<Ack[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRITER, dir, String(SEG), String(round), mode, String(selfKillAfterBursts)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const acks: Ack[] = [];
    let buf = '';
    let timer: NodeJS.Timeout | undefined;
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line === 'ready' && timer === undefined) timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
        const m = /^ack (\d+) (\d+) (\d+) (\d+)$/.exec(line);
        if (m !== null) acks.push({ queueId: Number(m[1]), queueOffset: Number(m[2]), phy: Number(m[3]), seq: Number(m[4]) });
      }
    });
    child.on('exit', (code, signal) => {
      if (timer !== undefined) clearTimeout(timer);
      if (signal !== 'SIGKILL') reject(new Error(`writer exited with ${code}: ${stderr}`));
      else resolve(acks);
    });
  });
}

async function verify(dir: string, acks: Ack[]): Promise<{ total: number; truncated: number }> {
  const store = new DefaultMessageStore({
    logger: silentLogger,
    diskUsage: async () => ({ totalBytes: 1e12, freeBytes: 9e11 }),
    config: {
      storePathRootDir: dir,
      mappedFileSizeCommitLog: SEG,
      mappedFileSizeConsumeQueue: 20 * 500,
      maxHashSlotNum: 1000,
      maxIndexNum: 4000,
      preallocateMode: 'truncate',
    },
  });
  const report = await store.load();
  await store.start();
  try {
    expect(report.mode).toBe('abnormal');
    // every acknowledged message is readable and intact
    for (const a of acks) {
      const g = await store.getMessage('g', 'CrashTopic', a.queueId, a.queueOffset, 1);
      expect(g.status).toBe('FOUND');
      const m = decodeMessageRecord(g.messageBuffers[0] as Buffer);
      expect(m.commitLogOffset).toBe(a.phy);
      expect(m.body.equals(crashBody(a.seq))).toBe(true);
    }
    // queues agree with the log and no partial record is visible
    let total = 0;
    for (const q of [0, 1, 2]) {
      const max = store.getMaxOffsetInQueue('CrashTopic', q);
      let off = store.getMinOffsetInQueue('CrashTopic', q);
      while (off < max) {
        const g = await store.getMessage('g', 'CrashTopic', q, off, 64);
        expect(g.status).toBe('FOUND');
        for (let k = 0; k < g.messageBuffers.length; k++) {
          const b = g.messageBuffers[k] as Buffer;
          expect(checkMessageRecord(b, 0, b.length, { checkCRC: true }).kind).toBe('record');
          const m = decodeMessageRecord(b);
          expect([m.queueId, m.queueOffset]).toEqual([q, g.messageQueueOffsets[k]]);
          expect(m.commitLogOffset + m.storeSize).toBeLessThanOrEqual(store.getMaxPhyOffset());
        }
        total += g.messageBuffers.length;
        off = g.nextBeginOffset;
      }
    }
    return { total, truncated: report.bytesTruncated };
  } finally {
    await store.shutdown();
    // leave it as a crash would: the next round must run abnormal recovery again
    fs.writeFileSync(path.join(dir, 'abort'), '');
  }
}

describe.each(['SYNC_FLUSH', 'ASYNC_FLUSH'])('SIGKILL during %s appends', (mode) => {
  it('keeps every acknowledged message across 12 random kills', async () => {
    if (!fs.existsSync(WRITER)) throw new Error(`build the package first: ${WRITER} missing`);
    const dir = tmpDir('rmq-crash-');
    dirs.push(dir);
    const allAcks: Ack[] = [];
    let lastTotal = 0;
    for (let round = 0; round < 12; round++) {
      // ASYNC_FLUSH: every other round the writer kills itself right after an acknowledgement.
      const selfKill = mode === 'ASYNC_FLUSH' && round % 2 === 1 ? 20 + Math.floor(Math.random() * 200) : 0;
      const acks = await runWriter(dir, mode, round, selfKill > 0 ? 60_000 : 30 + Math.floor(Math.random() * 300), selfKill);
      // this round's acks in full, plus a sample of earlier rounds' (they were verified when new)
      const sample = allAcks.filter(() => Math.random() < 200 / Math.max(200, allAcks.length));
      allAcks.push(...acks);
      const { total } = await verify(dir, [...acks, ...sample]);
      expect(total).toBeGreaterThanOrEqual(lastTotal);
      expect(total).toBeGreaterThanOrEqual(allAcks.length);
      lastTotal = total;
    }
    expect(allAcks.length).toBeGreaterThan(100);
  }, 170_000);
});
