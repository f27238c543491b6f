// Slave side of replication (ha/raw-append.ts): commit-log bytes read from a master store's files
// are appended to a fresh store at the same offsets; queues, offsets and index must come out the same.
import fs from 'node:fs';
import { afterEach, describe, expect, it } from '@jest/globals';
import { MessageSysFlag } from '@rocketmq-ts/common';
import { BLANK_MAGIC_CODE, decodeMessageRecord } from '@rocketmq-ts/protocol';
import { checkRawChunk, type DefaultMessageStore, type DispatchEvent } from '../src/index.js';
import { body, copyAsCrashed, openStore, rmDir, tmpDir } from './helpers.js';

const SEG = 64 * 1024; // helpers' smallConfig
const dirs: string[] = [];
const stores: DefaultMessageStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.shutdown();
  for (const d of dirs.splice(0)) rmDir(d);
});
async function open(dir?: string, opts: { now?: () => number } = {}): Promise<DefaultMessageStore> {
  const d = dir ?? tmpDir('rmq-ha-');
  if (dir === undefined) dirs.push(d);
  const s = await openStore(d, {}, opts);
  stores.push(s);
  return s;
}
async function close(s: DefaultMessageStore): Promise<void> {
  await s.shutdown();
  stores.splice(stores.indexOf(s), 1);
}
function dirOf(s: DefaultMessageStore): string {
  return s.config.storePathRootDir;
}

const QUEUES: [string, number][] = [
  ['A', 0],
  ['A', 1],
  ['B', 0],
  ['SCHEDULE_TOPIC_XXXX', 2],
  ['TX', 0],
];

/** A master with messages over several segments: tags, keys, a delay level, transaction halves and rollbacks. */
async function master(n = 400): Promise<DefaultMessageStore> {
  let t = 1_700_000_000_000;
  const s = await open(undefined, { now: () => (t += 10) });
  for (let i = 0; i < n; i++) {
    const [topic, queueId] = QUEUES[i % 3] as [string, number];
    expect(
      (await s.putMessage({ topic, queueId, body: body(i, 200 + ((i * 53) % 900)), properties: { TAGS: `t${i % 4}`, KEYS: `k${i} all`, UNIQ_KEY: `U${i}` } }))
        .status,
    ).toBe('PUT_OK');
    if (i % 40 === 7) {
      await s.putMessage({ topic: 'SCHEDULE_TOPIC_XXXX', queueId: 2, body: body(i), properties: { DELAY: '3', REAL_TOPIC: 'A', KEYS: `d${i}` } });
      await s.putMessage({ topic: 'TX', queueId: 0, body: body(i), sysFlag: MessageSysFlag.TRANSACTION_PREPARED_TYPE, properties: { UNIQ_KEY: `H${i}` } });
      await s.putMessage({ topic: 'TX', queueId: 0, body: body(i), sysFlag: MessageSysFlag.TRANSACTION_ROLLBACK_TYPE, properties: { UNIQ_KEY: `R${i}` } });
      await s.putMessage({ topic: 'TX', queueId: 0, body: body(i), sysFlag: MessageSysFlag.TRANSACTION_COMMIT_TYPE, properties: { UNIQ_KEY: `C${i}` } });
    }
  }
  return s;
}

/** The master's commit log [0, max) as its segment files hold it. */
async function logBytes(s: DefaultMessageStore): Promise<Buffer> {
  await s.commitLog.flush();
  const end = s.getMaxPhyOffset();
  return Buffer.concat(s.commitLog.segments.map((seg) => fs.readFileSync(seg.path).subarray(0, Math.max(0, Math.min(seg.size, end - seg.startOffset)))));
}

interface Chunk {
  offset: number;
  data: Buffer;
}

/**
 * Cuts the log into chunks of whole records of about `size` bytes, as a master sends them. With
 * `cutBlanks`, a segment-closing blank is sent as its 8-byte head only (its zeros are implied) and the
 * next chunk starts at the next segment.
 */
function chunks(log: Buffer, size: number, cutBlanks = false): Chunk[] {
  const out: Chunk[] = [];
  let start = 0;
  let p = 0;
  while (p < log.length) {
    const len = log.readInt32BE(p);
    const blank = log.readInt32BE(p + 4) === BLANK_MAGIC_CODE;
    if (blank && cutBlanks) {
      out.push({ offset: start, data: log.subarray(start, p + 8) });
      start = p + len;
    } else if (p + len - start > size && p > start) {
      out.push({ offset: start, data: log.subarray(start, p) });
      start = p;
    }
    p += len;
  }
  if (p > start) out.push({ offset: start, data: log.subarray(start, p) });
  return out;
}

async function replicate(slave: DefaultMessageStore, cs: Chunk[]): Promise<void> {
  for (const c of cs) expect([c.offset, await slave.appendRawCommitLog(c.offset, c.data)]).toEqual([c.offset, true]);
}

/** Everything a consumer or an admin tool sees is the same on both stores. */
async function expectSame(m: DefaultMessageStore, s: DefaultMessageStore): Promise<void> {
  expect(s.getMaxPhyOffset()).toBe(m.getMaxPhyOffset());
  for (const [topic, q] of QUEUES) {
    const max = m.getMaxOffsetInQueue(topic, q);
    expect([topic, q, s.getMinOffsetInQueue(topic, q), s.getMaxOffsetInQueue(topic, q)]).toEqual([topic, q, m.getMinOffsetInQueue(topic, q), max]);
    const gm = await m.getMessage('g', topic, q, 0, 10_000);
    const gs = await s.getMessage('g', topic, q, 0, 10_000);
    expect(gs.messageBuffers).toHaveLength(max);
    expect(gs.messageQueueOffsets).toEqual(gm.messageQueueOffsets);
    gs.messageBuffers.forEach((b, i) => expect(b.equals(gm.messageBuffers[i] as Buffer)).toBe(true));
    // consume-queue units: the same tags codes (the delay topic's is the due time)
    const tm: number[] = [];
    const ts: number[] = [];
    await m.getMessage('g', topic, q, 0, 10_000, undefined, { isMatchedByConsumeQueue: (c) => (tm.push(c), true) });
    await s.getMessage('g', topic, q, 0, 10_000, undefined, { isMatchedByConsumeQueue: (c) => (ts.push(c), true) });
    expect(ts).toEqual(tm);
    for (const off of [0, Math.floor(max / 2), max - 1]) {
      expect(await s.getMessageStoreTimeStamp(topic, q, off)).toBe(await m.getMessageStoreTimeStamp(topic, q, off));
      const when = await m.getMessageStoreTimeStamp(topic, q, off);
      expect(await s.getOffsetInQueueByTime(topic, q, when, 'upper')).toBe(await m.getOffsetInQueueByTime(topic, q, when, 'upper'));
    }
  }
  const keys: [string, string][] = [
    ['A', 'k6'],
    ['B', 'k29'],
    ['A', 'all'],
    ['A', 'U48'],
    ['SCHEDULE_TOPIC_XXXX', 'd7'],
    ['TX', 'H7'],
    ['TX', 'C47'],
  ];
  for (const [topic, key] of keys) {
    const offsetsOf = async (st: DefaultMessageStore): Promise<number[]> =>
      (await st.queryMessage(topic, key, 64, 0, Number.MAX_SAFE_INTEGER)).messageBuffers
        .map((b) => decodeMessageRecord(b).commitLogOffset)
        .sort((a, b) => a - b);
    const want = await offsetsOf(m);
    expect(want.length).toBeGreaterThan(0);
    expect([key, await offsetsOf(s)]).toEqual([key, want]);
  }
  expect((await s.queryMessageByUniqKey('TX', 'H7')).messageBuffers).toHaveLength(1); // halves are indexed
  expect((await s.queryMessageByUniqKey('TX', 'R7')).messageBuffers).toHaveLength(0); // rollbacks are not
  expect((await s.queryMessageByUniqKey('A', 'U30')).messageBuffers).toHaveLength(1);
}

describe('replication: raw commit-log append (slave side)', () => {
  it('records copied from a master give the same queues, offsets and index lookups, with dispatch events', async () => {
    const m = await master();
    const log = await logBytes(m);
    const slave = await open();
    const events: DispatchEvent[] = [];
    slave.onDispatch((e) => events.push(e));
    const cs = chunks(log, 5000);
    expect(cs.length).toBeGreaterThan(20);
    await replicate(slave, cs);
    await expectSame(m, slave);
    let queued = 0;
    for (const [topic, q] of QUEUES) queued += m.getMaxOffsetInQueue(topic, q);
    expect(events).toHaveLength(queued);
    expect(events.every((e, i) => i === 0 || e.commitLogOffset > (events[i - 1] as DispatchEvent).commitLogOffset)).toBe(true);
    // the slave's log continues where the master's does
    await m.putMessage({ topic: 'A', queueId: 0, body: body(999) });
    expect(await slave.appendRawCommitLog(log.length, (await logBytes(m)).subarray(log.length))).toBe(true);
    await expectSame(m, slave);
  });

  it('appends spanning segment boundaries: the whole log at once, and blanks sent as their head only', async () => {
    const m = await master();
    expect(m.commitLog.segments.length).toBeGreaterThan(3);
    const log = await logBytes(m);
    const whole = await open();
    await replicate(whole, [{ offset: 0, data: log }]);
    await expectSame(m, whole);
    const cut = await open();
    const cs = chunks(log, 3000, true);
    // some chunks end inside a blank, the next starts at the next segment
    expect(cs.filter((c) => c.offset % SEG === 0 && c.offset > 0).length).toBe(m.commitLog.segments.length - 1);
    await replicate(cut, cs);
    await expectSame(m, cut);
    expect(cut.commitLog.segments.length).toBe(m.commitLog.segments.length);
  });

  it('refuses a wrong offset, a bad CRC and a partial record, leaving nothing visible', async () => {
    const m = await master(60);
    const log = await logBytes(m);
    const cs = chunks(log, 4000);
    const slave = await open();
    await replicate(slave, cs.slice(0, 2));
    const c2 = cs[2] as Chunk;
    const before = {
      max: slave.getMaxPhyOffset(),
      a0: slave.getMaxOffsetInQueue('A', 0),
      b0: slave.getMaxOffsetInQueue('B', 0),
      keys: (await slave.queryMessage('A', 'all', 1000, 0, Number.MAX_SAFE_INTEGER)).messageBuffers.length,
    };
    const events: DispatchEvent[] = [];
    slave.onDispatch((e) => events.push(e));
    const expectUnchanged = async (): Promise<void> => {
      expect(slave.getMaxPhyOffset()).toBe(before.max);
      expect([slave.getMaxOffsetInQueue('A', 0), slave.getMaxOffsetInQueue('B', 0)]).toEqual([before.a0, before.b0]);
      expect((await slave.queryMessage('A', 'all', 1000, 0, Number.MAX_SAFE_INTEGER)).messageBuffers).toHaveLength(before.keys);
      expect(events).toHaveLength(0);
    };
    // offsets other than the end of the slave's log: ahead, behind (a resend), a record boundary in between
    expect(await slave.appendRawCommitLog(c2.offset + 1, c2.data)).toBe(false);
    expect(await slave.appendRawCommitLog((cs[1] as Chunk).offset, (cs[1] as Chunk).data)).toBe(false);
    expect(await slave.appendRawCommitLog((cs[3] as Chunk).offset, (cs[3] as Chunk).data)).toBe(false);
    await expectUnchanged();
    // good records, but stored for other offsets (the next chunk's, sent at this one's offset)
    expect(await slave.appendRawCommitLog(c2.offset, (cs[3] as Chunk).data)).toBe(false);
    // a bad body CRC in the last record of the chunk: the good records before it are refused too
    const firstLen = c2.data.readInt32BE(0);
    let last = 0;
    while (last + c2.data.readInt32BE(last) < c2.data.length) last += c2.data.readInt32BE(last);
    expect(last).toBeGreaterThan(0);
    const badCrc = Buffer.from(c2.data);
    badCrc[last + 120] = (badCrc[last + 120] as number) ^ 0xff; // inside the body (records here have 200+ byte bodies)
    const check = checkRawChunk(badCrc, c2.offset, SEG);
    expect(check.ok ? '' : check.reason).toContain('body CRC mismatch');
    expect(await slave.appendRawCommitLog(c2.offset, badCrc)).toBe(false);
    // a partial record at the end, and one cut inside its header
    expect(await slave.appendRawCommitLog(c2.offset, c2.data.subarray(0, c2.data.length - 10))).toBe(false);
    expect(await slave.appendRawCommitLog(c2.offset, c2.data.subarray(0, firstLen + 5))).toBe(false);
    // zeros where records should be
    expect(await slave.appendRawCommitLog(c2.offset, Buffer.alloc(100))).toBe(false);
    await expectUnchanged();
    // the right chunk still goes in, and the rest after it
    await replicate(slave, cs.slice(2));
    await expectSame(m, slave);
  });

  it('records replicated without a CRC check still have their body CRC checked when read from the in-memory tail', async () => {
    const m = await master(20);
    const cs = chunks(await logBytes(m), 1 << 20);
    expect(cs).toHaveLength(1);
    const data = Buffer.from((cs[0] as Chunk).data);
    const second = data.readInt32BE(0);
    data[second + 150] = (data[second + 150] as number) ^ 0xff; // inside record 1's body
    const slave = await open();
    // As the HA client appends (it leaves the CRC to reads): the bytes sit in the slave's in-memory tail.
    const raw = (slave as unknown as { rawAppender: { append(offset: number, d: Buffer, checkCRC: boolean): Promise<boolean> } }).rawAppender;
    expect(await raw.append(0, data, false)).toBe(true);
    const [topic, q] = QUEUES[1] as [string, number];
    expect(decodeMessageRecord(data, second).queueId).toBe(q);
    const g = await slave.getMessage('g', topic, q, 0, 100);
    expect(g.messageQueueOffsets[0]).toBe(1); // offset 0 (record 1 of the log) is skipped
    expect(slave.getStats().corruptRecordsSkipped).toBe(1);
    // The master's own records, read back from its in-memory tail, are all served.
    expect((await m.getMessage('g', topic, q, 0, 100)).messageQueueOffsets[0]).toBe(0);
  });

  it('a stopped slave refuses appends', async () => {
    const m = await master(10);
    const log = await logBytes(m);
    const slave = await open();
    await close(slave);
    expect(await slave.appendRawCommitLog(0, log)).toBe(false);
  });

  it('the slave recovers everything appended, after a clean restart and after a crash', async () => {
    const m = await master();
    const log = await logBytes(m);
    const slave = await open();
    const cs = chunks(log, 7000, true);
    await replicate(slave, cs.slice(0, cs.length - 3));
    const dir = dirOf(slave);
    await close(slave);
    const again = await open(dir);
    expect(again.recoveryReport?.mode).toBe('normal');
    expect(again.recoveryReport?.bytesTruncated).toBe(0);
    await replicate(again, cs.slice(cs.length - 3));
    await expectSame(m, again);
    const crashed = copyAsCrashed(dir);
    dirs.push(crashed);
    const recovered = await open(crashed);
    expect(recovered.recoveryReport?.mode).toBe('abnormal');
    await expectSame(m, recovered);
  });
});
