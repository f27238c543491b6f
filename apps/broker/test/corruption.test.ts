// Damaged store files under a real broker process: after a SIGKILL, a record body in an old commit-log
// segment, consume-queue units, the checkpoint and an index file header are damaged; the broker must
// start, serve only intact records (body CRC and layout checked on the read path), and keep working.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { checkMessageRecord, decodeMessageRecord, ResponseCode } from '@rocketmq-ts/protocol';
import { removeTempDirs, seededRandom, startNode, stopAllProcesses } from '@rocketmq-ts/testing';
import { BROKER_MAIN, JavaClient, PULL, startBroker } from './harness.js';

afterAll(async () => {
  await stopAllProcesses();
  removeTempDirs();
});

const TOPIC = 'COR_T';

function bodyOf(seq: number): Buffer {
  const b = Buffer.alloc(300 + ((seq * 37) % 700), seq & 0xff);
  b.write(`m${seq};`, 0);
  return b;
}

function patch(file: string, at: number, bytes: Buffer): void {
  const buf = readFileSync(file);
  bytes.copy(buf, at);
  writeFileSync(file, buf);
}

describe('a broker on damaged files', () => {
  it('starts, serves no damaged record, and takes new messages', async () => {
    const seed = 4242;
    const random = seededRandom(seed);
    const b = await startBroker({
      flushDiskType: 'ASYNC_FLUSH',
      mappedFileSizeCommitLog: 128 * 1024,
      mappedFileSizeConsumeQueue: 20 * 100,
      maxIndexNum: 2000,
      maxHashSlotNum: 101,
    });
    try {
      let c = new JavaClient(b.addr);
      expect((await c.createTopic(TOPIC, 2)).code).toBe(ResponseCode.SUCCESS);
      const N = 600;
      for (let seq = 0; seq < N; seq++) {
        const r = await c.send(TOPIC, bodyOf(seq), { queueId: seq % 2, keys: `k${seq}` });
        expect(r.code).toBe(ResponseCode.SUCCESS);
      }
      c.close();
      await new Promise((r) => setTimeout(r, 1500)); // a logics flush and checkpoint
      process.kill(b.proc.pid, 'SIGKILL');
      await b.proc.exited;

      const store = b.storeDir;
      const segs = readdirSync(join(store, 'commitlog')).sort();
      expect(segs.length).toBeGreaterThan(2);
      // a body byte of a record in the first segment (recovery after a crash may not rescan it)
      const seg0 = join(store, 'commitlog', segs[0] as string);
      const s0 = readFileSync(seg0);
      const target = 3 + Math.floor(random() * 20);
      const at = s0.indexOf(bodyOf(target));
      expect(at).toBeGreaterThan(0);
      patch(seg0, at + 40, Buffer.from([s0[at + 40]! ^ 0x21]));
      // garbage over a consume-queue unit in each queue
      for (const q of ['0', '1']) {
        const dir = join(store, 'consumequeue', TOPIC, q);
        const f = join(dir, readdirSync(dir).sort()[0] as string);
        patch(f, 20 * (10 + Math.floor(random() * 50)) + 3, Buffer.from([0x7f, 0x13, 0x55, 0x01, 0x99, 0x42]));
      }
      // the checkpoint's timestamps and offsets, and an index file's header
      patch(join(store, 'checkpoint'), 0, Buffer.alloc(96, 0xa5));
      const idx = readdirSync(join(store, 'index')).sort();
      if (idx[0] !== undefined) patch(join(store, 'index', idx[0]), 24, Buffer.alloc(16, 0xff));

      b.proc = await startNode(BROKER_MAIN, ['-c', b.confPath], { name: 'broker-corrupt', readyPattern: /broker \S+ started at/, timeoutMs: 30_000 });
      c = new JavaClient(b.addr);
      let served = 0;
      const damaged: string[] = [];
      for (const queueId of [0, 1]) {
        let offset = 0;
        for (let guard = 0; guard < 500; guard++) {
          const res = await c.pull({ group: 'COR_G', topic: TOPIC, queueId, offset, maxMsgNums: 32, sysFlag: PULL.SUBSCRIPTION, subscription: '*' });
          const next = Number(res.extFields?.['nextBeginOffset']);
          if (res.code !== ResponseCode.SUCCESS || res.body === null) {
            // a damaged unit or record skipped: the reply moves past it
            if ((res.code === ResponseCode.PULL_RETRY_IMMEDIATELY || res.code === ResponseCode.PULL_OFFSET_MOVED) && next > offset) {
              offset = next;
              continue;
            }
            if (process.env['CORRUPT_DEBUG'] !== undefined) {
              process.stdout.write(`queue ${queueId} stops at ${offset}: ${res.code} ${res.remark ?? ''} next ${next}\n`);
            }
            break;
          }
          const body = res.body;
          let pos = 0;
          while (pos + 8 <= body.length) {
            const r = checkMessageRecord(body, pos, body.length, { checkCRC: true });
            const size = body.readInt32BE(pos);
            if (r.kind !== 'record') {
              damaged.push(`${queueId}@${pos}: ${r.kind === 'corrupt' ? r.reason : r.kind}`);
            } else {
              const m = decodeMessageRecord(body.subarray(pos, pos + size));
              const seq = Number(/^m(\d+);/.exec(m.body.toString('latin1', 0, 12))?.[1] ?? -1);
              if (seq < 0 || !m.body.equals(bodyOf(seq)) || m.properties.get('KEYS') !== `k${seq}`) damaged.push(`${queueId}@${m.queueOffset}: wrong content`);
              else served++;
            }
            if (size <= 0) break;
            pos += size;
          }
          if (!(next > offset)) break;
          offset = next;
        }
      }
      expect(damaged).toEqual([]);
      // the damaged record and the two damaged units are skipped, everything else is served
      process.stdout.write(`broker on damaged files (seed ${seed}): ${served} of ${N} served\n`);
      expect(served).toBeGreaterThanOrEqual(N - 3);
      expect(served).toBeLessThan(N);
      const r = await c.send(TOPIC, bodyOf(N), { queueId: 0, keys: `k${N}` });
      expect(r.code).toBe(ResponseCode.SUCCESS);
      c.close();
    } finally {
      await b.stop();
    }
  }, 90_000);
});
