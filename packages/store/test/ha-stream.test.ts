// The slave's side of the HA stream against a hand-driven master on a real socket: frames cut inside
// records, socket writes cut inside frame headers, heartbeats in between, a resend of bytes the slave
// already holds, and a frame that skips bytes (the slave must drop the connection and come back from
// its own end).
import fs from 'node:fs';
import net from 'node:net';
import { afterAll, describe, expect, it } from '@jest/globals';
import { decodeMessageRecord } from '@rocketmq-ts/protocol';
import type { DefaultMessageStore } from '../src/index.js';
import { body, openStore, rmDir, tmpDir } from './helpers.js';

const dirs: string[] = [];
const stores: DefaultMessageStore[] = [];
const servers: net.Server[] = [];
afterAll(async () => {
  for (const s of stores) await s.shutdown().catch(() => undefined);
  for (const s of servers) s.close();
  dirs.forEach(rmDir);
});

const SEGMENT = 64 * 1024; // smallConfig's commit-log segment size

async function open(over: Record<string, unknown> = {}): Promise<DefaultMessageStore> {
  const d = tmpDir('rmq-ha-stream-');
  dirs.push(d);
  const s = await openStore(d, over);
  stores.push(s);
  return s;
}

/** A master log over several segments (so blanks close them), and its bytes. */
async function masterLog(n: number): Promise<{ m: DefaultMessageStore; log: Buffer }> {
  const m = await open();
  for (let i = 0; i < n; i++) {
    const r = await m.putMessage({ topic: 'S', queueId: i % 2, body: body(i, 300 + ((i * 37) % 1500)), properties: { KEYS: `k${i}` } });
    expect(r.status).toBe('PUT_OK');
  }
  await m.commitLog.flush();
  const end = m.getMaxPhyOffset();
  const log = Buffer.concat(m.commitLog.segments.map((seg) => fs.readFileSync(seg.path).subarray(0, Math.max(0, Math.min(seg.size, end - seg.startOffset)))));
  expect(m.commitLog.segments.length).toBeGreaterThan(3);
  return { m, log };
}

/** Deterministic pseudo-random sizes. */
function rng(seed: number): (lo: number, hi: number) => number {
  let x = seed;
  return (lo, hi) => {
    x = (x * 1_103_515_245 + 12_345) & 0x7fffffff;
    return lo + (x % (hi - lo + 1));
  };
}

function frame(offset: number, data: Buffer): Buffer {
  const h = Buffer.alloc(12);
  h.writeBigInt64BE(BigInt(offset), 0);
  h.writeInt32BE(data.length, 8);
  return Buffer.concat([h, data]);
}

/** Frames of random sizes over log[from, to) (none crossing a segment end), a heartbeat now and then. */
function frames(log: Buffer, from: number, to: number, rand: (lo: number, hi: number) => number): Buffer {
  const out: Buffer[] = [];
  for (let p = from; p < to;) {
    const segEnd = (Math.floor(p / SEGMENT) + 1) * SEGMENT;
    const end = Math.min(to, segEnd, p + rand(1, 3000));
    out.push(frame(p, log.subarray(p, end)));
    if (rand(0, 9) === 0) out.push(frame(end, Buffer.alloc(0)));
    p = end;
  }
  return Buffer.concat(out);
}

/** Writes `wire` in pieces of random sizes, yielding to the event loop between some of them. */
async function dribble(s: net.Socket, wire: Buffer, rand: (lo: number, hi: number) => number): Promise<void> {
  for (let p = 0; p < wire.length;) {
    const n = rand(1, 4000);
    s.write(wire.subarray(p, p + n));
    p += n;
    if (rand(0, 2) === 0) await new Promise((r) => setTimeout(r, 1));
  }
}

/** The slave's connections to a fake master: each one's offset reports. */
interface Conn {
  socket: net.Socket;
  reports: number[];
  closed: boolean;
}

async function fakeMaster(): Promise<{ port: number; conns: Conn[] }> {
  const conns: Conn[] = [];
  const server = net.createServer((socket) => {
    const c: Conn = { socket, reports: [], closed: false };
    let inbox = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => {
      inbox = Buffer.concat([inbox, d]);
      while (inbox.length >= 8) {
        c.reports.push(Number(inbox.readBigInt64BE(0)));
        inbox = inbox.subarray(8);
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      c.closed = true;
    });
    conns.push(c);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as net.AddressInfo).port, conns };
}

async function until(f: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function expectSameQueues(m: DefaultMessageStore, s: DefaultMessageStore, n: number): Promise<void> {
  expect(s.getMaxPhyOffset()).toBe(m.getMaxPhyOffset());
  let total = 0;
  for (const q of [0, 1]) {
    const max = m.getMaxOffsetInQueue('S', q);
    expect(s.getMaxOffsetInQueue('S', q)).toBe(max);
    const a = await m.getMessage('g', 'S', q, 0, 10_000);
    const b = await s.getMessage('g', 'S', q, 0, 10_000);
    expect(b.messageBuffers).toHaveLength(a.messageBuffers.length);
    b.messageBuffers.forEach((x, i) => expect(x.equals(a.messageBuffers[i] as Buffer)).toBe(true));
    total += max;
  }
  expect(total).toBe(n);
  const byKey = await s.queryMessage('S', `k${n - 1}`, 10, 0, Date.now() + 1000);
  expect(byKey.messageBuffers.map((x) => decodeMessageRecord(x).properties.get('KEYS'))).toEqual([`k${n - 1}`]);
}

/** The record boundary nearest below `at`. */
function recordStartBelow(log: Buffer, at: number): number {
  let p = 0;
  for (;;) {
    const size = log.readInt32BE(p);
    const next = p + size;
    if (next > at || (p % SEGMENT) + size > SEGMENT) return p;
    p = next;
  }
}

describe('HA slave stream handling', () => {
  it('frames cut inside records and reads cut inside headers give the master log, queues and keys; reports only move forward', async () => {
    const { m, log } = await masterLog(300);
    const { port, conns } = await fakeMaster();
    const slave = await open({ brokerRole: 'SLAVE', haMasterAddress: `127.0.0.1:${port}` });
    await until(() => conns.length === 1 && conns[0]!.reports.length > 0);
    const c = conns[0]!;
    expect(c.reports[0]).toBe(0);
    const rand = rng(7);
    await dribble(c.socket, frames(log, 0, log.length, rand), rand);
    await until(() => c.reports.at(-1) === log.length);
    expect(c.closed).toBe(false);
    // Each report is the local end after an append: never backwards, never past what was sent.
    for (let i = 1; i < c.reports.length; i++) expect(c.reports[i]!).toBeGreaterThanOrEqual(c.reports[i - 1]!);
    await expectSameQueues(m, slave, 300);
    expect(slave.getHaStatus().master).toMatchObject({ connected: true, behindBytes: 0 });
  });

  it('a resend of bytes the slave holds is skipped; a frame that skips bytes drops the connection and the slave resumes from its own end', async () => {
    const { m, log } = await masterLog(300);
    const { port, conns } = await fakeMaster();
    const slave = await open({ brokerRole: 'SLAVE', haMasterAddress: `127.0.0.1:${port}` });
    await until(() => conns.length === 1 && conns[0]!.reports.length > 0);
    const first = conns[0]!;
    const rand = rng(11);
    // The first part, then the same bytes again from further back (a master acting on a stale report).
    const x = recordStartBelow(log, Math.floor(log.length / 2));
    await dribble(first.socket, frames(log, 0, x, rand), rand);
    await until(() => first.reports.at(-1) === x);
    const back = recordStartBelow(log, Math.floor(x / 2));
    const held = x + 5000; // past at least one whole record (none is over 2 KiB)
    await dribble(first.socket, frames(log, back, held, rand), rand);
    // The slave appends whole records only: it ends at the last record boundary at or below `held`
    // (wait for that report, not the first one past x: appends may still be under way then).
    const y = recordStartBelow(log, held);
    expect(y).toBeGreaterThan(x);
    await until(() => first.reports.at(-1) === y);
    expect(slave.getMaxPhyOffset()).toBe(y);
    expect(first.closed).toBe(false);
    // A gap: bytes the slave has not seen are missing in front of this frame.
    first.socket.write(frame(held + 500, log.subarray(held + 500, held + 900)));
    await until(() => first.closed);
    // Back after the reconnect delay, from its own end; the rest of the log follows.
    await until(() => conns.length === 2 && conns[1]!.reports.length > 0, 20_000);
    const second = conns[1]!;
    expect(second.reports[0]).toBe(y);
    await dribble(second.socket, frames(log, y, log.length, rand), rand);
    await until(() => second.reports.at(-1) === log.length);
    await expectSameQueues(m, slave, 300);
  }, 40_000);
});
