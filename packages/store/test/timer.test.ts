// Timer messages in the store: the put-time transform, the bytes of timerwheel / timerlog /
// timercheck, delivery and rolls on a 100 ms wheel, and recovery from crashed copies of the files.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { decodeMessageRecord, javaStringHashCode, readInt64BE, type DecodedMessage } from '@rocketmq-ts/protocol';
import {
  PutMessageStatus,
  TIMER_SLOTS_TOTAL,
  TIMER_TOPIC,
  TIMER_WHEEL_LENGTH,
  decodeTimerCheckpoint,
  type DefaultMessageStore,
  type MessageStoreConfig,
  type PutMessageRequest,
} from '../src/index.js';
import { copyAsCrashed, openStore, rmDir, tmpDir } from './helpers.js';

const dirs: string[] = [];
const stores: DefaultMessageStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.shutdown();
  for (const d of dirs.splice(0)) rmDir(d);
});

const TIMER: Partial<MessageStoreConfig> = { timerPrecisionMs: 100, timerFlushIntervalMs: 100 };

async function open(dir: string, over: Partial<MessageStoreConfig> = {}, dequeue = true): Promise<DefaultMessageStore> {
  const s = await openStore(dir, { ...TIMER, ...over });
  stores.push(s);
  if (dequeue) s.timerMessageStore?.startDequeue();
  return s;
}

function newDir(): string {
  const d = tmpDir('rmq-timer-');
  dirs.push(d);
  return d;
}

function msg(topic: string, props: Record<string, string>, queueId = 1, bodyText = 'timer'): PutMessageRequest {
  return { topic, queueId, body: Buffer.from(bodyText), properties: { UNIQ_KEY: `U${Math.random().toString(16).slice(2)}`, ...props } };
}

async function messagesOf(s: DefaultMessageStore, topic: string, queueId = 1): Promise<DecodedMessage[]> {
  const g = await s.getMessage('g', topic, queueId, 0, 1000);
  return g.messageBuffers.map((b) => decodeMessageRecord(b));
}

async function waitForMessages(s: DefaultMessageStore, topic: string, n: number, ms: number, queueId = 1): Promise<DecodedMessage[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const got = await messagesOf(s, topic, queueId);
    if (got.length >= n || Date.now() > deadline) return got;
    await new Promise((r) => setTimeout(r, 20));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('put-time transform', () => {
  it('parks a timer message in rmq_sys_wheel_timer/0 with TIMER_OUT_MS rounded to the slot, REAL_TOPIC and REAL_QID', async () => {
    const s = await open(newDir(), { timerPrecisionMs: 1000 }, false);
    const at = Date.now() + 60_000;
    const exact = Math.ceil(at / 1000) * 1000 + 1000;
    const r1 = await s.putMessage(msg('T1', { TIMER_DELIVER_MS: String(at + 1) }, 3));
    const r2 = await s.putMessage(msg('T1', { TIMER_DELIVER_MS: String(exact) }, 3));
    expect(r1.status).toBe(PutMessageStatus.PUT_OK);
    expect(r1.appendResult?.logicsOffset).toBe(0);
    expect(r2.appendResult?.logicsOffset).toBe(1);
    const [m1, m2] = await messagesOf(s, TIMER_TOPIC, 0);
    expect(m1!.properties.get('TIMER_OUT_MS')).toBe(String(Math.floor((at + 1) / 1000) * 1000));
    // An exact multiple goes one slot earlier: it is delivered when that slot ends, on time.
    expect(m2!.properties.get('TIMER_OUT_MS')).toBe(String(exact - 1000));
    expect(m1!.properties.get('REAL_TOPIC')).toBe('T1');
    expect(m1!.properties.get('REAL_QID')).toBe('3');
    expect(m1!.properties.get('TIMER_DELIVER_MS')).toBe(String(at + 1));
    expect(s.getMaxOffsetInQueue('T1', 3)).toBe(0);
  });

  it('TIMER_DELAY_SEC wins over TIMER_DELAY_MS, which wins over TIMER_DELIVER_MS', async () => {
    const s = await open(newDir(), { timerPrecisionMs: 1000 }, false);
    const t0 = Date.now();
    await s.putMessage(msg('T2', { TIMER_DELAY_SEC: '100', TIMER_DELAY_MS: '5000', TIMER_DELIVER_MS: String(t0 + 3_000_000) }));
    await s.putMessage(msg('T2', { TIMER_DELAY_MS: '5000', TIMER_DELIVER_MS: String(t0 + 3_000_000) }));
    const [a, b] = await messagesOf(s, TIMER_TOPIC, 0);
    const outA = Number(a!.properties.get('TIMER_OUT_MS'));
    const outB = Number(b!.properties.get('TIMER_OUT_MS'));
    expect(outA).toBeGreaterThanOrEqual(t0 + 99_000);
    expect(outA).toBeLessThanOrEqual(Date.now() + 100_000);
    expect(outB).toBeGreaterThanOrEqual(t0 + 4_000);
    expect(outB).toBeLessThanOrEqual(Date.now() + 5_000);
  });

  it('refuses bad values, delays beyond timerMaxDelaySec and delete markers for the past; stores due ones as normal messages', async () => {
    const s = await open(newDir(), { timerMaxDelaySec: 3600 }, false);
    expect((await s.putMessage(msg('T3', { TIMER_DELAY_SEC: 'soon' }))).status).toBe(PutMessageStatus.WHEEL_TIMER_MSG_ILLEGAL);
    expect((await s.putMessage(msg('T3', { TIMER_DELIVER_MS: '1.5e12' }))).status).toBe(PutMessageStatus.WHEEL_TIMER_MSG_ILLEGAL);
    expect((await s.putMessage(msg('T3', { TIMER_DELAY_MS: '99999999999999999999' }))).status).toBe(PutMessageStatus.WHEEL_TIMER_MSG_ILLEGAL);
    expect((await s.putMessage(msg('T3', { TIMER_DELAY_SEC: '3601' }))).status).toBe(PutMessageStatus.WHEEL_TIMER_MSG_ILLEGAL);
    expect((await s.putMessage(msg('T3', { TIMER_DELIVER_MS: '1000', TIMER_DEL_UNIQKEY: 'T3+X' }))).status).toBe(PutMessageStatus.WHEEL_TIMER_MSG_ILLEGAL);
    const past = await s.putMessage(msg('T3', { TIMER_DELIVER_MS: String(Date.now() - 5) }));
    expect(past.status).toBe(PutMessageStatus.PUT_OK);
    const neg = await s.putMessage(msg('T3', { TIMER_DELAY_SEC: '-3' }));
    expect(neg.status).toBe(PutMessageStatus.PUT_OK);
    expect(await messagesOf(s, 'T3')).toHaveLength(2);
    expect(s.getMaxOffsetInQueue(TIMER_TOPIC, 0)).toBe(0);
  });

  it('a delay level keeps the level path (timer properties dropped); batches are not scheduled', async () => {
    const s = await open(newDir(), {}, false);
    const r = await s.putMessage(msg('SCHEDULE_TOPIC_XXXX', { DELAY: '2', TIMER_DELAY_SEC: '30', TIMER_DELIVER_MS: '5', REAL_TOPIC: 'T4', REAL_QID: '0' }, 1));
    expect(r.status).toBe(PutMessageStatus.PUT_OK);
    const [m] = await messagesOf(s, 'SCHEDULE_TOPIC_XXXX', 1);
    expect(m!.properties.has('TIMER_DELAY_SEC')).toBe(false);
    expect(m!.properties.has('TIMER_DELIVER_MS')).toBe(false);
    expect(m!.properties.get('DELAY')).toBe('2');
    await s.putMessages([msg('T4', { TIMER_DELAY_SEC: '30' }), msg('T4', { TIMER_DELAY_SEC: '30' })]);
    expect(await messagesOf(s, 'T4')).toHaveLength(2);
    expect(s.getMaxOffsetInQueue(TIMER_TOPIC, 0)).toBe(0);
  });

  it('the 4.x __STARTDELIVERTIME is a delivery time like TIMER_DELIVER_MS (which wins when both are set); delivered on time', async () => {
    const s = await open(newDir(), { timerMaxDelaySec: 3600 });
    const t0 = Date.now();
    const at = t0 + 600;
    expect((await s.putMessage(msg('T6', { __STARTDELIVERTIME: String(at) }, 1, 'legacy'))).status).toBe(PutMessageStatus.PUT_OK);
    expect((await s.putMessage(msg('T6', { __STARTDELIVERTIME: String(t0 + 3_000_000), TIMER_DELIVER_MS: String(at) }, 1, 'both'))).status).toBe(
      PutMessageStatus.PUT_OK,
    );
    // Refused as TIMER_DELIVER_MS would be; due already → a normal message.
    expect((await s.putMessage(msg('T6', { __STARTDELIVERTIME: 'soon' }))).status).toBe(PutMessageStatus.WHEEL_TIMER_MSG_ILLEGAL);
    expect((await s.putMessage(msg('T6', { __STARTDELIVERTIME: String(t0 + 4_000_000) }))).status).toBe(PutMessageStatus.WHEEL_TIMER_MSG_ILLEGAL);
    expect((await s.putMessage(msg('T6', { __STARTDELIVERTIME: String(t0 - 5) }, 2, 'past'))).status).toBe(PutMessageStatus.PUT_OK);
    expect((await messagesOf(s, 'T6', 2)).map((m) => m.body.toString())).toEqual(['past']);
    const parked = await messagesOf(s, TIMER_TOPIC, 0);
    expect(parked).toHaveLength(2);
    for (const m of parked) {
      expect(m.properties.get('REAL_TOPIC')).toBe('T6');
      expect(Number(m.properties.get('TIMER_OUT_MS'))).toBeLessThanOrEqual(at);
      expect(Number(m.properties.get('TIMER_OUT_MS'))).toBeGreaterThan(at - 200);
    }
    expect(await messagesOf(s, 'T6')).toHaveLength(0);
    const got = await waitForMessages(s, 'T6', 2, 5_000);
    expect(Date.now()).toBeGreaterThanOrEqual(at - 100);
    expect(got.map((m) => m.body.toString()).sort()).toEqual(['both', 'legacy']);
    // Delivered once: the delivered copy (TIMER_OUT_MS set) is not parked again.
    await sleep(300);
    expect(await messagesOf(s, 'T6')).toHaveLength(2);
    expect(got[0]!.properties.get('__STARTDELIVERTIME')).toBeDefined();
  });

  it('timerWheelEnable=false refuses timer messages (WHEEL_TIMER_NOT_ENABLE) and creates no timer files', async () => {
    const dir = newDir();
    const s = await open(dir, { timerWheelEnable: false }, false);
    expect(s.timerMessageStore).toBeUndefined();
    expect((await s.putMessage(msg('T5', { TIMER_DELAY_SEC: '3' }))).status).toBe(PutMessageStatus.WHEEL_TIMER_NOT_ENABLE);
    expect((await s.putMessage(msg('T5', { KEYS: 'k' }))).status).toBe(PutMessageStatus.PUT_OK);
    expect(fs.existsSync(path.join(dir, 'timerwheel'))).toBe(false);
  });
});

describe('timer files', () => {
  it('timerwheel, timerlog units and config/timercheck have RocketMQ 5 layouts', async () => {
    const dir = newDir();
    const s = await open(dir, { mappedFileSizeTimerLog: 4096, timerPrecisionMs: 1000 }, false);
    const deliver = Math.floor(Date.now() / 1000) * 1000 + 120_500;
    const puts: number[] = [];
    for (let i = 0; i < 80; i++) {
      const r = await s.putMessage(msg('TL', { TIMER_DELIVER_MS: String(deliver) }, 2, `m${i}`));
      puts.push(r.appendResult!.wroteOffset);
    }
    const t = s.timerMessageStore!;
    await waitUntil(() => t.status().currQueueOffset === 80);
    await t.flush();
    const slot = Math.floor(deliver / 1000) * 1000;

    const wheel = fs.readFileSync(path.join(dir, 'timerwheel'));
    expect(wheel.length).toBe(TIMER_WHEEL_LENGTH);
    expect(TIMER_WHEEL_LENGTH).toBe(38_707_200);
    const at = ((slot / 1000) % (TIMER_SLOTS_TOTAL * 2)) * 32;
    expect(readInt64BE(wheel, at)).toBe(slot / 1000);
    expect(readInt64BE(wheel, at + 8)).toBe(0); // first unit
    expect(wheel.readInt32BE(at + 24)).toBe(80);

    // 4096-byte files: 78 units (78 × 52 = 4056), then a 40-byte blank; unit 79 and 80 in the next file.
    const files = fs.readdirSync(path.join(dir, 'timerlog')).sort();
    expect(files).toEqual(['00000000000000000000', '00000000000000004096']);
    const f0 = fs.readFileSync(path.join(dir, 'timerlog', files[0]!));
    const f1 = fs.readFileSync(path.join(dir, 'timerlog', files[1]!));
    expect(f0.length).toBe(4096);
    expect(f0.readInt32BE(0)).toBe(52);
    expect(readInt64BE(f0, 4)).toBe(-1);
    expect(f0.readInt32BE(12)).toBe(1);
    const writeTime = readInt64BE(f0, 16);
    expect(writeTime % 1000).toBe(0);
    expect(writeTime + f0.readInt32BE(24)).toBe(slot);
    expect(readInt64BE(f0, 28)).toBe(puts[0]);
    expect(f0.readInt32BE(40)).toBe(javaStringHashCode('TL'));
    expect(readInt64BE(f0, 44)).toBe(0);
    expect(readInt64BE(f0, 52 + 4)).toBe(0); // the second unit links to the first
    expect(f0.readInt32BE(4056)).toBe(40);
    expect(f0.readInt32BE(4056 + 12)).toBe(0xcbd43194 | 0);
    expect(readInt64BE(f1, 4)).toBe(77 * 52);
    expect(readInt64BE(f1, 52 + 4)).toBe(4096);
    expect(readInt64BE(wheel, at + 16)).toBe(4096 + 52); // last unit

    const cp = fs.readFileSync(path.join(dir, 'config', 'timercheck'));
    expect(cp.length).toBe(4096);
    const c = decodeTimerCheckpoint(cp.subarray(0, 56));
    expect(c.lastTimerLogFlushPos).toBe(4096 + 104);
    expect(c.lastTimerQueueOffset).toBe(80);
    expect(c.masterTimerQueueOffset).toBe(80);
    expect(c.lastReadTimeMs % 1000).toBe(0);
    expect(t.checkpointBody().equals(cp.subarray(0, 56))).toBe(true);
    expect(t.status().pending).toBe(80);
  });
});

describe('delivery', () => {
  it('delivers at the slot end under the real topic and queue, properties kept, TIMER_ENQUEUE_MS / TIMER_DEQUEUE_MS added', async () => {
    const s = await open(newDir());
    const sent: number[] = [];
    for (const d of [300, 500, 700]) {
      sent.push(Date.now() + d);
      const r = await s.putMessage({
        ...msg('TD', { TIMER_DELAY_MS: String(d), KEYS: `k${d}`, TAGS: 'TagA', UNIQ_KEY: `UNIQ${d}` }, 2, `after ${d}`),
        flag: 7,
      });
      expect(r.status).toBe(PutMessageStatus.PUT_OK);
    }
    const got = await waitForMessages(s, 'TD', 3, 3000, 2);
    expect(got.map((m) => m.body.toString())).toEqual(['after 300', 'after 500', 'after 700']);
    got.forEach((m, i) => {
      const due = sent[i]!;
      expect(m.storeTimestamp).toBeGreaterThanOrEqual(due - 5);
      // At most one slot (100 ms) late, plus scheduling slack.
      expect(m.storeTimestamp).toBeLessThanOrEqual(due + 100 + 150);
      expect(m.queueId).toBe(2);
      expect(m.flag).toBe(7);
      expect(m.properties.get('TAGS')).toBe('TagA');
      expect(m.properties.get('UNIQ_KEY')).toBe(`UNIQ${[300, 500, 700][i]}`);
      expect(m.properties.has('REAL_TOPIC')).toBe(false);
      expect(m.properties.has('REAL_QID')).toBe(false);
      expect(m.properties.has('TIMER_OUT_MS')).toBe(true);
      expect(Number(m.properties.get('TIMER_ENQUEUE_MS'))).toBeGreaterThan(0);
      expect(Number(m.properties.get('TIMER_DEQUEUE_MS'))).toBeGreaterThanOrEqual(due - 5);
    });
    // Found by key as a message of its real topic.
    const q = await s.queryMessage('TD', 'k500', 10, 0, Date.now() + 1);
    expect(q.messageBuffers.length).toBeGreaterThanOrEqual(1);
    expect(s.timerMessageStore!.status().pending).toBe(0);
  });

  it('rolls a timer beyond timerRollWindowSlot through the timer topic until it is due (TIMER_ROLL_TIMES)', async () => {
    const s = await open(newDir(), { timerRollWindowSlot: 3 });
    const due = Date.now() + 1200;
    await s.putMessage(msg('TR', { TIMER_DELIVER_MS: String(due) }));
    const [m] = await waitForMessages(s, 'TR', 1, 4000);
    expect(m).toBeDefined();
    expect(m!.storeTimestamp).toBeGreaterThanOrEqual(due - 5);
    expect(m!.storeTimestamp).toBeLessThanOrEqual(due + 350);
    expect(Number(m!.properties.get('TIMER_ROLL_TIMES'))).toBeGreaterThanOrEqual(2);
    // Every roll is a copy in the timer topic.
    expect(s.getMaxOffsetInQueue(TIMER_TOPIC, 0)).toBeGreaterThanOrEqual(3);
  });

  it('a delete marker (TIMER_DEL_UNIQKEY) in the same slot cancels the timer', async () => {
    const s = await open(newDir());
    const due = Date.now() + 400;
    await s.putMessage(msg('TX', { TIMER_DELIVER_MS: String(due), UNIQ_KEY: 'CANCELME' }));
    await s.putMessage(msg('TX', { TIMER_DELIVER_MS: String(due), UNIQ_KEY: 'KEEPME' }));
    await s.putMessage(msg('TX', { TIMER_DELIVER_MS: String(due), TIMER_DEL_UNIQKEY: 'TX+CANCELME' }));
    const got = await waitForMessages(s, 'TX', 1, 2000);
    await sleep(200);
    expect((await messagesOf(s, 'TX')).map((m) => m.properties.get('UNIQ_KEY'))).toEqual(['KEEPME']);
    expect(got).toHaveLength(1);
  });

  it('no delivery without startDequeue (a slave); the enqueue still files the timers', async () => {
    const s = await open(newDir(), {}, false);
    await s.putMessage(msg('TS', { TIMER_DELAY_MS: '150' }));
    await sleep(500);
    expect(await messagesOf(s, 'TS')).toHaveLength(0);
    expect(s.timerMessageStore!.status().pending).toBe(1);
    s.timerMessageStore!.startDequeue();
    expect(await waitForMessages(s, 'TS', 1, 2000)).toHaveLength(1);
  });
});

describe('recovery', () => {
  it('a crash copy taken before any flush (no units, no wheel, no checkpoint progress) delivers every timer once, on time', async () => {
    const dir = newDir();
    const s = await open(dir, { timerFlushIntervalMs: 3_600_000 });
    const due = Date.now() + 1500;
    for (let i = 0; i < 50; i++) await s.putMessage(msg('TC', { TIMER_DELIVER_MS: String(due + (i % 5) * 100) }, 1, `c${i}`));
    await waitUntil(() => s.timerMessageStore!.status().currQueueOffset === 50);
    const copy = copyAsCrashed(dir);
    dirs.push(copy);
    await s.shutdown();
    stores.splice(stores.indexOf(s), 1);
    const s2 = await open(copy);
    // The units were still in the timer log's in-memory tail: all 50 are enqueued again from the queue.
    expect(s2.recoveryReport?.timer?.timerLogUnitsChecked).toBe(0);
    expect(s2.recoveryReport?.timer?.timerQueueOffset).toBe(0);
    const got = await waitForMessages(s2, 'TC', 50, 4000);
    expect(new Set(got.map((m) => m.body.toString())).size).toBe(50);
    expect(got).toHaveLength(50);
    for (const m of got) expect(m.storeTimestamp).toBeGreaterThanOrEqual(due - 5);
  });

  it('timers found due when the enqueue reaches them (after a crash) go out in queue order', async () => {
    const dir = newDir();
    const s = await open(dir, { timerFlushIntervalMs: 3_600_000 });
    const due = Date.now() + 300;
    for (let i = 0; i < 20; i++) await s.putMessage(msg('TO', { TIMER_DELIVER_MS: String(due) }, 1, `o${i}`));
    const copy = copyAsCrashed(dir);
    dirs.push(copy);
    await s.shutdown();
    stores.splice(stores.indexOf(s), 1);
    await sleep(Math.max(0, due + 200 - Date.now()));
    const s2 = await open(copy);
    const got = await waitForMessages(s2, 'TO', 20, 3000);
    expect(got.map((m) => m.body.toString())).toEqual(Array.from({ length: 20 }, (_, i) => `o${i}`));
    expect(got[0]!.properties.get('TIMER_ENQUEUE_MS')).toBe('9223372036854775807');
  });

  it('a torn timer-log tail is cut; timers whose units were lost are enqueued again from the queue', async () => {
    const dir = newDir();
    const s = await open(dir);
    const due = Date.now() + 1500;
    for (let i = 0; i < 20; i++) await s.putMessage(msg('TT', { TIMER_DELIVER_MS: String(due) }, 1, `t${i}`));
    await waitUntil(() => s.timerMessageStore!.status().currQueueOffset === 20);
    await s.timerMessageStore!.flush();
    const copy = copyAsCrashed(dir);
    dirs.push(copy);
    await s.shutdown();
    stores.splice(stores.indexOf(s), 1);
    // The last 5 units never reached the disk, and garbage follows the 15th.
    const f = path.join(copy, 'timerlog', '00000000000000000000');
    const fd = fs.openSync(f, 'r+');
    fs.writeSync(fd, Buffer.alloc(5 * 52, 0), 0, 5 * 52, 15 * 52);
    const junk = Buffer.alloc(16, 7);
    junk.writeInt32BE(52, 0);
    junk.writeInt32BE(0x12345678, 12);
    fs.writeSync(fd, junk, 0, junk.length, 15 * 52);
    fs.closeSync(fd);
    // ...and the checkpoint claims nothing: the whole log is replayed.
    fs.writeFileSync(path.join(copy, 'config', 'timercheck'), Buffer.alloc(4096));
    const s2 = await open(copy);
    const rep = s2.recoveryReport!.timer!;
    expect(rep.timerLogUnitsChecked).toBe(15);
    expect(rep.timerLogEnd).toBe(15 * 52);
    expect(rep.timerLogStopReason).toMatch(/bad unit/);
    // The wheel (flushed with all 20) pointed past the end: that slot is rebuilt from the 15 units.
    expect(rep.slotsRepaired).toBe(1);
    const got = await waitForMessages(s2, 'TT', 20, 4000);
    expect(new Set(got.map((m) => m.body.toString())).size).toBe(20);
  });

  it('a stale wheel is rebuilt from the timer log (replay from the checkpoint)', async () => {
    const dir = newDir();
    const s = await open(dir);
    const due = Date.now() + 1200;
    for (let i = 0; i < 10; i++) await s.putMessage(msg('TW', { TIMER_DELIVER_MS: String(due + i * 100) }, 1, `w${i}`));
    await waitUntil(() => s.timerMessageStore!.status().currQueueOffset === 10);
    await s.timerMessageStore!.flush();
    const copy = copyAsCrashed(dir);
    dirs.push(copy);
    await s.shutdown();
    stores.splice(stores.indexOf(s), 1);
    fs.writeFileSync(path.join(copy, 'timerwheel'), Buffer.alloc(TIMER_WHEEL_LENGTH));
    const s2 = await open(copy);
    expect(s2.timerMessageStore!.status().pending).toBe(10);
    expect(await waitForMessages(s2, 'TW', 10, 4000)).toHaveLength(10);
  });

  it('timers due while the store was closed are delivered at start (catch-up)', async () => {
    const dir = newDir();
    const s = await open(dir, {}, false);
    const due = Date.now() + 300;
    for (let i = 0; i < 5; i++) await s.putMessage(msg('TK', { TIMER_DELIVER_MS: String(due + i * 100) }, 1, `k${i}`));
    await waitUntil(() => s.timerMessageStore!.status().currQueueOffset === 5);
    await s.shutdown();
    stores.splice(stores.indexOf(s), 1);
    await sleep(1000);
    const t0 = Date.now();
    const s2 = await open(dir);
    const got = await waitForMessages(s2, 'TK', 5, 3000);
    expect(got.map((m) => m.body.toString())).toEqual(['k0', 'k1', 'k2', 'k3', 'k4']);
    expect(Date.now() - t0).toBeLessThan(1500);
  });

  it('a clock offset (timerClockOffsetMs) makes a restarted store see a 1 h timer as due', async () => {
    const dir = newDir();
    const s = await open(dir, { timerRollWindowSlot: 600 });
    await s.putMessage(msg('TH', { TIMER_DELAY_SEC: '3600' }));
    await waitUntil(() => s.timerMessageStore!.status().currQueueOffset === 1);
    await sleep(300);
    expect(await messagesOf(s, 'TH')).toHaveLength(0);
    await s.shutdown();
    stores.splice(stores.indexOf(s), 1);
    const s2 = await open(dir, { timerRollWindowSlot: 600, timerClockOffsetMs: 3_600_000 + 500 });
    const [m] = await waitForMessages(s2, 'TH', 1, 8000);
    expect(m).toBeDefined();
    expect(Number(m!.properties.get('TIMER_ROLL_TIMES'))).toBeGreaterThanOrEqual(1);
  });
});

async function waitUntil(f: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!f()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}
