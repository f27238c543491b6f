// Overload is answered, not absorbed: flow control answers SYSTEM_BUSY (RocketMQ's remarks) and
// stores nothing for the refused sends; a consumer that never reads its replies, pulls held beyond
// a bound, oversized or trickled frames and thousands of connections leave the broker's memory bounded.
import { writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RequestCode, ResponseCode } from '@rocketmq-ts/protocol';
import { jsonFrame, makeTempDir, RawClient, removeTempDirs, stopAllProcesses, waitFor } from '@rocketmq-ts/testing';
import { JavaClient, PULL, props, rssOf, sleep, startBroker, uniqKey, type BrokerHandle } from './harness.js';

const BUSY_REMARK = /^\[PCBUSY_CLEAN_QUEUE\]broker busy, start flow control for a while, period in queue: \d+ms, size of queue: \d+$/;

afterAll(async () => {
  await stopAllProcesses();
  removeTempDirs();
});

async function maxOffset(c: JavaClient, topic: string, queueId = 0): Promise<number> {
  const r = await c.call(RequestCode.GET_MAX_OFFSET, { topic, queueId: String(queueId) });
  expect(r.code).toBe(ResponseCode.SUCCESS);
  return Number(r.ext('offset'));
}

async function setConfig(c: JavaClient, p: Record<string, string | number | boolean>): Promise<void> {
  const body = Object.entries(p)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join('\n');
  const r = await c.call(RequestCode.UPDATE_BROKER_CONFIG, null, Buffer.from(body));
  expect(r.code).toBe(ResponseCode.SUCCESS);
}

/** A SEND_MESSAGE_V2 frame as a Java producer writes it (JSON header). */
function sendFrame(topic: string, opaque: number, body: Buffer): Buffer {
  return jsonFrame(
    {
      code: RequestCode.SEND_MESSAGE_V2,
      language: 'JAVA',
      version: 479,
      opaque,
      flag: 0,
      extFields: {
        a: 'PG_OV',
        b: topic,
        c: 'TBW102',
        d: '4',
        e: '0',
        f: '0',
        g: String(Date.now()),
        h: '0',
        i: props({ UNIQ_KEY: uniqKey(), WAIT: 'true' }),
        j: '0',
        k: 'false',
      },
    },
    body,
  );
}

describe('flow control (SYNC_FLUSH broker, disk stalled by a fault toggle)', () => {
  let b: BrokerHandle;
  let c: JavaClient;
  let faults: string;
  const fault = (spec: object): void => writeFileSync(faults, JSON.stringify(spec));

  beforeAll(async () => {
    const dir = makeTempDir('broker-overload');
    faults = join(dir, 'faults.json');
    fault({});
    b = await startBroker({ flushDiskType: 'SYNC_FLUSH', autoCreateTopicEnable: false }, { dir, env: { ROCKETMQ_TS_FAULT_FILE: faults } });
    c = new JavaClient(b.addr);
    expect((await c.createTopic('OV_T', 1)).code).toBe(ResponseCode.SUCCESS);
  });

  afterAll(() => c?.close());

  it('a stalled fdatasync past osPageCacheBusyTimeOutMills: later sends get SYSTEM_BUSY [PCBUSY_CLEAN_QUEUE], nothing of them stored', async () => {
    for (let i = 0; i < 3; i++) expect((await c.send('OV_T', `ok${i}`, { queueId: 0 })).code).toBe(ResponseCode.SUCCESS);
    const before = await maxOffset(c, 'OV_T');
    fault({ stall: { fsync: 2500 } });
    await sleep(300);
    const held = c.send('OV_T', 'held', { queueId: 0 });
    await sleep(1300);
    const busy = await Promise.all(Array.from({ length: 10 }, (_, i) => c.send('OV_T', `busy${i}`, { queueId: 0 })));
    for (const r of busy) {
      expect(r.code).toBe(ResponseCode.SYSTEM_BUSY);
      expect(r.remark).toMatch(BUSY_REMARK);
      expect(r.ext('MSG_REGION')).toBe('DefaultRegion');
    }
    fault({});
    expect((await held).code).toBe(ResponseCode.SUCCESS);
    expect(await maxOffset(c, 'OV_T')).toBe(before + 1);
  });

  it('with brokerFastFailureEnable=false the store itself refuses: SYSTEM_BUSY [PC_SYNCHRONIZED]', async () => {
    await setConfig(c, { brokerFastFailureEnable: false });
    try {
      const before = await maxOffset(c, 'OV_T');
      fault({ stall: { fsync: 2500 } });
      await sleep(300);
      const held = c.send('OV_T', 'held2', { queueId: 0 });
      await sleep(1300);
      const r = await c.send('OV_T', 'refused', { queueId: 0 });
      expect(r.code).toBe(ResponseCode.SYSTEM_BUSY);
      expect(r.remark).toMatch(/^\[PC_SYNCHRONIZED\]broker busy, start flow control for a while/);
      fault({});
      expect((await held).code).toBe(ResponseCode.SUCCESS);
      expect(await maxOffset(c, 'OV_T')).toBe(before + 1);
    } finally {
      fault({});
      await setConfig(c, { brokerFastFailureEnable: true });
    }
  });

  it('sends queued behind a full send queue (sendThreadPoolQueueCapacity) get SYSTEM_BUSY [OVERLOAD]; stored = acknowledged', async () => {
    await setConfig(c, { sendThreadPoolQueueCapacity: 5 });
    try {
      const before = await maxOffset(c, 'OV_T');
      fault({ stall: { fsync: 600 } });
      await sleep(300);
      const rs = await Promise.all(Array.from({ length: 30 }, (_, i) => c.send('OV_T', `q${i}`, { queueId: 0 })));
      fault({});
      const ok = rs.filter((r) => r.code === ResponseCode.SUCCESS).length;
      const overload = rs.filter((r) => r.code === ResponseCode.SYSTEM_BUSY && r.remark?.startsWith('[OVERLOAD]system busy, start flow control for a while'));
      expect(ok).toBeGreaterThanOrEqual(1);
      expect(overload.length).toBeGreaterThanOrEqual(20);
      expect(ok + overload.length).toBe(30);
      expect(await maxOffset(c, 'OV_T')).toBe(before + ok);
    } finally {
      fault({});
      await setConfig(c, { sendThreadPoolQueueCapacity: 10_000 });
    }
  });

  it('sends that waited past waitTimeMillsInSendQueue after being read get SYSTEM_BUSY [TIMEOUT_CLEAN_QUEUE]; stored = acknowledged', async () => {
    await setConfig(c, { waitTimeMillsInSendQueue: 1 });
    const raw = await RawClient.open(b.port);
    try {
      const before = await maxOffset(c, 'OV_T');
      const n = 3000;
      const body = Buffer.alloc(200, 7);
      // One write: the broker reads many frames per chunk and processes them in turn.
      raw.write(Buffer.concat(Array.from({ length: n }, (_, i) => sendFrame('OV_T', i + 1, body))));
      const frames = await raw.waitFrames(n, 30_000);
      const ok = frames.filter((f) => f.cmd.code === ResponseCode.SUCCESS).length;
      const timedOut = frames.filter(
        (f) =>
          f.cmd.code === ResponseCode.SYSTEM_BUSY &&
          /^\[TIMEOUT_CLEAN_QUEUE\]broker busy, start flow control for a while, period in queue: \d+ms, size of queue: \d+$/.test(f.cmd.remark ?? ''),
      ).length;
      expect(timedOut).toBeGreaterThan(0);
      expect(ok + timedOut).toBe(n);
      expect(await maxOffset(c, 'OV_T')).toBe(before + ok);
    } finally {
      raw.destroy();
      await setConfig(c, { waitTimeMillsInSendQueue: 200 });
    }
  });
});

/** Raw PULL_MESSAGE frame with an inline subscription. */
function pullFrame(o: { group: string; topic: string; opaque: number; offset: number; suspend?: boolean; maxMsgNums?: number }): Buffer {
  return jsonFrame({
    code: RequestCode.PULL_MESSAGE,
    language: 'JAVA',
    version: 479,
    opaque: o.opaque,
    flag: 0,
    extFields: {
      consumerGroup: o.group,
      topic: o.topic,
      queueId: '0',
      queueOffset: String(o.offset),
      maxMsgNums: String(o.maxMsgNums ?? 32),
      sysFlag: String(PULL.SUBSCRIPTION | (o.suspend ? PULL.SUSPEND : 0)),
      commitOffset: '0',
      suspendTimeoutMillis: '20000',
      subscription: '*',
      subVersion: '0',
      expressionType: 'TAG',
    },
  });
}

function rawSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

describe('bounded memory (ASYNC_FLUSH broker)', () => {
  let b: BrokerHandle;
  let c: JavaClient;
  const IDLE_S = 3;

  beforeAll(async () => {
    b = await startBroker({
      writeBufferHighWaterMark: 1024 * 1024,
      maxSuspendedPullsPerConnection: 10,
      serverChannelMaxIdleTimeSeconds: IDLE_S,
      maxMessageSize: 64 * 1024,
    });
    c = new JavaClient(b.addr);
    expect((await c.createTopic('MEM_T', 1)).code).toBe(ResponseCode.SUCCESS);
    expect((await c.createTopic('MEM_EMPTY', 1)).code).toBe(ResponseCode.SUCCESS);
    const body = Buffer.alloc(16 * 1024, 3);
    for (let i = 0; i < 200; i += 20) {
      await Promise.all(Array.from({ length: 20 }, () => c.send('MEM_T', body, { queueId: 0 })));
    }
  });

  afterAll(() => c?.close());

  it('a consumer that sends pulls and never reads the replies: the broker stops reading it and its RSS stays bounded', async () => {
    const rss0 = rssOf(b.proc.pid);
    const s = await rawSocket(b.port);
    s.pause(); // never read
    s.on('error', () => undefined);
    let opaque = 1;
    const until = Date.now() + 5000;
    let maxRss = rss0;
    let maxQueued = 0;
    let closedAt = 0;
    s.on('close', () => (closedAt = Date.now()));
    // Each reply is ~512 KiB: unbounded, 5 s of this would be gigabytes.
    while (Date.now() < until && closedAt === 0) {
      maxQueued = Math.max(maxQueued, s.writableLength);
      if (s.writableLength < 4 * 1024 * 1024) {
        const batch: Buffer[] = [];
        for (let i = 0; i < 1000; i++) batch.push(pullFrame({ group: 'CG_SLOW', topic: 'MEM_T', opaque: opaque++, offset: 0 }));
        s.write(Buffer.concat(batch));
      }
      await sleep(20);
      maxRss = Math.max(maxRss, rssOf(b.proc.pid));
    }
    // The broker stopped reading: our requests piled up on our side; then it closed the stuck connection as idle.
    expect(maxQueued).toBeGreaterThan(1024 * 1024);
    await waitFor(() => closedAt !== 0, { timeoutMs: (IDLE_S + 3) * 1000, message: 'stuck consumer closed as idle' });
    // Normal clients are still served meanwhile.
    expect((await c.send('MEM_T', 'still', { queueId: 0 })).code).toBe(ResponseCode.SUCCESS);
    const growth = maxRss - rss0;
    process.stderr.write(
      `[overload] slow reader: ${opaque - 1} pulls written (${(maxQueued / 2 ** 20).toFixed(1)} MiB left unread on our side), broker RSS ${(rss0 / 2 ** 20).toFixed(1)} → max ${(maxRss / 2 ** 20).toFixed(1)} MiB\n`,
    );
    // Bounded by the high-water mark plus the replies to the requests of the chunk being read when
    // it was crossed (~160 pulls × 512 KiB here); unbounded it would be gigabytes.
    expect(growth).toBeLessThan(160 * 1024 * 1024);
    s.destroy();
  });

  it('suspended pulls beyond maxSuspendedPullsPerConnection are answered SYSTEM_BUSY at once', async () => {
    const raw = await RawClient.open(b.port);
    try {
      for (let i = 1; i <= 15; i++) raw.write(pullFrame({ group: 'CG_HOLD', topic: 'MEM_EMPTY', opaque: i, offset: 0, suspend: true }));
      const frames = await raw.waitFrames(5, 3000);
      await sleep(300);
      expect(raw.frames.length).toBe(5);
      for (const f of frames) {
        expect(f.cmd.code).toBe(ResponseCode.SYSTEM_BUSY);
        expect(f.cmd.remark).toContain('[OVERLOAD]');
      }
      // The held ones are answered when a message arrives.
      expect((await c.send('MEM_EMPTY', 'wake', { queueId: 0 })).code).toBe(ResponseCode.SUCCESS);
      await raw.waitFrames(15, 3000);
      expect(raw.frames.slice(5).every((f) => f.cmd.code === ResponseCode.SUCCESS)).toBe(true);
    } finally {
      raw.destroy();
    }
  });

  it('a frame length above the maximum closes that connection with a logged reason; others are unaffected', async () => {
    const raw = await RawClient.open(b.port);
    const f = Buffer.alloc(8);
    f.writeInt32BE(16 * 1024 * 1024 + 1024 * 1024 + 1, 0);
    raw.write(f);
    await raw.waitClosed(3000);
    await b.proc.waitForOutput(/frame length \d+ exceeds the limit of \d+ bytes/, 3000);
    expect((await c.send('MEM_T', 'after', { queueId: 0 })).code).toBe(ResponseCode.SUCCESS);
  });

  it(`2,000 connections and 50 one-byte-a-second clients: RSS bounded, normal clients served, idle and trickling ones closed after ${IDLE_S} s`, async () => {
    const pid = b.proc.pid;
    const rss0 = rssOf(pid);
    const conns: Socket[] = [];
    let closed = 0;
    for (let i = 0; i < 2000; i += 100) {
      const batch = await Promise.all(Array.from({ length: 100 }, () => rawSocket(b.port)));
      for (const s of batch) {
        s.on('error', () => undefined);
        s.on('close', () => closed++);
        conns.push(s);
      }
    }
    // Slow clients: announce a 1 MiB frame, then one byte a second.
    const slow: Socket[] = [];
    let slowClosed = 0;
    for (let i = 0; i < 50; i++) {
      const s = await rawSocket(b.port);
      s.on('error', () => undefined);
      s.on('close', () => slowClosed++);
      const len = Buffer.alloc(4);
      len.writeInt32BE(1024 * 1024, 0);
      s.write(len);
      slow.push(s);
    }
    const trickle = setInterval(() => {
      for (const s of slow) if (!s.destroyed) s.write(Buffer.from([0]));
    }, 1000);
    try {
      await sleep(500);
      const rss1 = rssOf(pid);
      const t0 = performance.now();
      expect((await c.send('MEM_T', 'served', { queueId: 0 })).code).toBe(ResponseCode.SUCCESS);
      const sendMs = performance.now() - t0;
      process.stderr.write(
        `[overload] 2000 connections + 50 slow clients: broker RSS ${(rss0 / 2 ** 20).toFixed(1)} → ${(rss1 / 2 ** 20).toFixed(1)} MiB; a send took ${sendMs.toFixed(1)} ms\n`,
      );
      expect(rss1 - rss0).toBeLessThan(200 * 1024 * 1024);
      // Idle ones (no traffic) and trickling ones (a frame that never completes) are closed by the broker.
      await waitFor(() => closed === conns.length && slowClosed === slow.length, {
        timeoutMs: (IDLE_S + 6) * 1000,
        message: 'idle and slow connections closed',
      });
      await b.proc.waitForOutput(/frame incomplete after \d+ s/, 1000);
    } finally {
      clearInterval(trickle);
      for (const s of [...conns, ...slow]) s.destroy();
    }
  });
});
