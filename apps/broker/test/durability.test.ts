// What a reply promises, checked by killing real broker processes: an acknowledged message survives
// SIGKILL under ASYNC_FLUSH (the bytes reached the OS before the reply), a graceful stop answers every
// request it stored, and a fresh store answers its first send without waiting for a zero-fill.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { ResponseCode, type RemotingCommand } from '@rocketmq-ts/protocol';
import { makeTempDir, removeTempDirs, startNode, stopAllProcesses, writeConf } from '@rocketmq-ts/testing';
import { BROKER_MAIN, JavaClient, PULL, brokerProps, records, startBroker, uniqKey, type BrokerHandle } from './harness.js';

afterAll(async () => {
  await stopAllProcesses();
  removeTempDirs();
});

interface Acked {
  key: string;
  queueId: number;
  queueOffset: number;
  body: Buffer;
}

function bodyOf(seq: number, size: number): Buffer {
  const b = Buffer.alloc(size, seq & 0xff);
  b.write(`m${seq};`, 0);
  return b;
}

/** Pulls every acknowledged message back at its queue offset and compares it. */
async function expectAllStored(c: JavaClient, topic: string, acked: readonly Acked[]): Promise<void> {
  let missing = 0;
  for (const a of acked) {
    const res = await c.pull({
      group: 'DUR_G',
      topic,
      queueId: a.queueId,
      offset: a.queueOffset,
      maxMsgNums: 1,
      sysFlag: PULL.SUBSCRIPTION,
      subscription: '*',
    });
    const m = res.code === ResponseCode.SUCCESS ? records(res)[0] : undefined;
    if (m === undefined || m.properties.get('UNIQ_KEY') !== a.key || !m.body.equals(a.body)) missing++;
  }
  expect(`${missing} of ${acked.length} acknowledged messages missing`).toBe(`0 of ${acked.length} acknowledged messages missing`);
}

function acknowledged(r: RemotingCommand, key: string, body: Buffer): Acked | undefined {
  if (r.code !== ResponseCode.SUCCESS) return undefined;
  return { key, queueId: Number(r.extFields?.['queueId']), queueOffset: Number(r.extFields?.['queueOffset']), body };
}

/**
 * Rounds of `workers` pipelined sends of `size`-byte bodies to `topic` (queues 0..3); in each round
 * the broker is killed with SIGKILL once `killAt(round)` sends have been acknowledged in all, then
 * restarted, and every acknowledged message so far must be there.
 */
async function killUnderPipelinedSends(
  b: BrokerHandle,
  topic: string,
  opts: { rounds: number; workers: number; size: number; killAt: (round: number, ackedSoFar: number) => number },
): Promise<void> {
  const acked: Acked[] = [];
  for (let round = 0; round < opts.rounds; round++) {
    const c = new JavaClient(b.addr);
    const killAt = opts.killAt(round, acked.length);
    let seq = round * 1_000_000;
    let stop = false;
    const worker = async (): Promise<void> => {
      while (!stop) {
        const key = uniqKey();
        const body = bodyOf(seq++, opts.size);
        let r: RemotingCommand;
        try {
          r = await c.send(topic, body, { queueId: seq % 4, extraProps: { UNIQ_KEY: key } });
        } catch {
          return; // the broker is gone
        }
        const a = acknowledged(r, key, body);
        if (a === undefined) continue;
        acked.push(a);
        if (!stop && acked.length >= killAt) {
          stop = true;
          process.kill(b.proc.pid, 'SIGKILL');
        }
      }
    };
    await Promise.all(Array.from({ length: opts.workers }, worker));
    c.close();
    await b.proc.exited;
    b.proc = await startNode(BROKER_MAIN, ['-c', b.confPath], { name: 'broker-dur', readyPattern: /broker \S+ started at/, timeoutMs: 20_000 });
    const v = new JavaClient(b.addr);
    await expectAllStored(v, topic, acked);
    v.close();
  }
}

describe('SIGKILL right after an acknowledgement, ASYNC_FLUSH', () => {
  it('a 2 MiB message acknowledged the moment before the kill is there after a restart (6 rounds)', async () => {
    const b = await startBroker({ flushDiskType: 'ASYNC_FLUSH', autoCreateTopicEnable: true, maxMessageSize: 4 * 1024 * 1024 });
    const acked: Acked[] = [];
    try {
      // Created up front: this round is about the message bytes (auto-created topics are the next test's).
      const admin = new JavaClient(b.addr);
      const created = await admin.createTopic('DUR_BIG', 4);
      expect(created.code).toBe(ResponseCode.SUCCESS);
      admin.close();
      for (let round = 0; round < 6; round++) {
        const c = new JavaClient(b.addr);
        if (round > 0) await expectAllStored(c, 'DUR_BIG', acked);
        const key = uniqKey();
        const body = bodyOf(round, 2 * 1024 * 1024);
        const r = await c.send('DUR_BIG', body, { extraProps: { UNIQ_KEY: key } }).then((res) => {
          process.kill(b.proc.pid, 'SIGKILL');
          return res;
        });
        c.close();
        const a = acknowledged(r, key, body);
        expect(a).toBeDefined();
        acked.push(a!);
        await b.proc.exited;
        b.proc = await startNode(BROKER_MAIN, ['-c', b.confPath], { name: 'broker-dur', readyPattern: /broker \S+ started at/, timeoutMs: 20_000 });
      }
      const c = new JavaClient(b.addr);
      await expectAllStored(c, 'DUR_BIG', acked);
      c.close();
    } finally {
      await b.stop();
    }
  }, 120_000);

  it('256 pipelined 1 KiB sends to an auto-created topic: every one acknowledged before the kill is there after a restart (4 rounds)', async () => {
    const b = await startBroker({ flushDiskType: 'ASYNC_FLUSH', autoCreateTopicEnable: true });
    try {
      await killUnderPipelinedSends(b, 'DUR_SMALL', { rounds: 4, workers: 256, size: 1024, killAt: (round) => 500 + round * 700 });
    } finally {
      await b.stop();
    }
  }, 120_000);
});

describe('SIGKILL under large pipelined sends, ASYNC_FLUSH', () => {
  it('64 pipelined 96 KiB sends (replies follow commit-log writes of 100–700 KiB): every acknowledged one survives (3 rounds)', async () => {
    const b = await startBroker({ flushDiskType: 'ASYNC_FLUSH', autoCreateTopicEnable: true });
    try {
      await killUnderPipelinedSends(b, 'DUR_LARGE', { rounds: 3, workers: 64, size: 96 * 1024, killAt: (round, ackedSoFar) => ackedSoFar + 150 + round * 120 });
    } finally {
      await b.stop();
    }
  }, 120_000);
});

describe('graceful stop under load', () => {
  it('SIGTERM while 128 sends are in flight: every stored message got its reply (no duplicate on retry)', async () => {
    for (const flushDiskType of ['ASYNC_FLUSH', 'SYNC_FLUSH']) {
      const b: BrokerHandle = await startBroker({ flushDiskType, autoCreateTopicEnable: true });
      const c = new JavaClient(b.addr);
      const acked = new Set<string>();
      let stop = false;
      let seq = 0;
      const worker = async (): Promise<void> => {
        while (!stop) {
          const key = uniqKey();
          try {
            const r = await c.send('DUR_STOP', bodyOf(seq++, 512), { queueId: seq % 2, extraProps: { UNIQ_KEY: key } });
            if (r.code === ResponseCode.SUCCESS) acked.add(key);
            else if (r.code !== ResponseCode.SERVICE_NOT_AVAILABLE) throw new Error(`unexpected reply ${r.code} ${r.remark ?? ''}`);
            else await new Promise((res) => setTimeout(res, 5));
          } catch (e) {
            if (e instanceof Error && e.message.startsWith('unexpected')) throw e;
            return; // connection closed by the stopping broker
          }
        }
      };
      const workers = Promise.all(Array.from({ length: 128 }, worker));
      await new Promise((res) => setTimeout(res, 700));
      const stopped = b.stop();
      await workers;
      stop = true;
      expect(await stopped).toBe(0);
      c.close();
      expect(acked.size).toBeGreaterThan(100);

      // Everything stored is exactly what was acknowledged.
      b.proc = await startNode(BROKER_MAIN, ['-c', b.confPath], { name: 'broker-stop', readyPattern: /broker \S+ started at/, timeoutMs: 20_000 });
      const v = new JavaClient(b.addr);
      const stored = new Set<string>();
      for (const q of [0, 1]) {
        let offset = 0;
        for (;;) {
          const res = await v.pull({ group: 'DUR_G', topic: 'DUR_STOP', queueId: q, offset, maxMsgNums: 32, sysFlag: PULL.SUBSCRIPTION, subscription: '*' });
          if (res.code !== ResponseCode.SUCCESS) break;
          for (const m of records(res)) stored.add(m.properties.get('UNIQ_KEY') ?? '');
          offset = Number(res.extFields?.['nextBeginOffset']);
        }
      }
      v.close();
      await b.stop();
      const unanswered = [...stored].filter((k) => !acked.has(k)).length;
      const lost = [...acked].filter((k) => !stored.has(k)).length;
      expect({ flushDiskType, unanswered, lost }).toEqual({ flushDiskType, unanswered: 0, lost: 0 });
    }
  }, 90_000);
});

describe('a fresh store', () => {
  it('answers its first send in milliseconds: the 1 GiB first segment is zero-filled before the broker listens', async () => {
    const dir = makeTempDir('broker-fresh');
    const all = await brokerProps(dir, { autoCreateTopicEnable: true, preallocateMode: 'zeros', mappedFileSizeCommitLog: 1024 * 1024 * 1024 });
    const conf = writeConf(dir, 'broker.conf', all);
    const p = await startNode(BROKER_MAIN, ['-c', conf], { name: 'broker-fresh', readyPattern: /broker \S+ started at/, timeoutMs: 60_000 });
    try {
      const out = p.output();
      expect(out).toMatch(/first commit-log segment allocated/);
      expect(out.indexOf('first commit-log segment allocated')).toBeLessThan(out.indexOf('remoting listening'));
      const first = join(String(all['storePathCommitLog']), '00000000000000000000');
      expect(statSync(first).size).toBe(1024 * 1024 * 1024);
      const c = new JavaClient(`127.0.0.1:${String(all['listenPort'])}`);
      const t0 = performance.now();
      const r = await c.send('FRESH_T', 'first');
      const ms = performance.now() - t0;
      c.close();
      expect(r.code).toBe(ResponseCode.SUCCESS);
      // A zero-fill of 1 GiB takes seconds here; the clients' send timeout is 3 s.
      expect(ms).toBeLessThan(1000);
    } finally {
      await p.stop('SIGTERM', 10_000);
    }
  }, 90_000);
});
