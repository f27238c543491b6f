// Classic HA between two stores over real TCP: a slave copies the master's log (through segment rolls
// and cut frames), SYNC_MASTER puts are acknowledged only once the slave reported their end, and the
// statuses RocketMQ answers when the slave is missing or slow.
import net from 'node:net';
import { afterAll, describe, expect, it } from '@jest/globals';
import { decodeMessageRecord } from '@rocketmq-ts/protocol';
import { PutMessageStatus, type DefaultMessageStore } from '../src/index.js';
import { body, openStore, rmDir, tmpDir } from './helpers.js';

const dirs: string[] = [];
const stores: DefaultMessageStore[] = [];
afterAll(async () => {
  for (const s of stores) await s.shutdown().catch(() => undefined);
  dirs.forEach(rmDir);
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address() as net.AddressInfo;
      s.close(() => resolve(a.port));
    });
  });
}

async function pair(
  role: 'SYNC_MASTER' | 'ASYNC_MASTER',
  over: Record<string, unknown> = {},
): Promise<{ master: DefaultMessageStore; slave: DefaultMessageStore; port: number }> {
  const port = await freePort();
  const md = tmpDir('rmq-ha-master-');
  const sd = tmpDir('rmq-ha-slave-');
  dirs.push(md, sd);
  const master = await openStore(md, { brokerRole: role, haListenPort: port, ...over }, { haBindAddress: '127.0.0.1' });
  stores.push(master);
  const slave = await openStore(sd, { brokerRole: 'SLAVE', haMasterAddress: `127.0.0.1:${port}`, ...over });
  stores.push(slave);
  return { master, slave, port };
}

async function until(f: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function sameQueue(master: DefaultMessageStore, slave: DefaultMessageStore, topic: string, queueId: number): Promise<number> {
  const max = master.getMaxOffsetInQueue(topic, queueId);
  expect(slave.getMaxOffsetInQueue(topic, queueId)).toBe(max);
  let n = 0;
  for (let off = master.getMinOffsetInQueue(topic, queueId); off < max;) {
    const a = await master.getMessage('g', topic, queueId, off, 64);
    const b = await slave.getMessage('g', topic, queueId, off, 64);
    expect(b.messageBuffers.length).toBe(a.messageBuffers.length);
    for (let i = 0; i < a.messageBuffers.length; i++) expect(Buffer.compare(b.messageBuffers[i]!, a.messageBuffers[i]!)).toBe(0);
    n += a.messageBuffers.length;
    off = a.nextBeginOffset;
  }
  return n;
}

describe('classic HA between two stores', () => {
  it('SYNC_MASTER: every put is acknowledged after the slave reported it; the slave holds the same records, queues and keys', async () => {
    const { master, slave } = await pair('SYNC_MASTER');
    await until(() => master.getHaStatus().slaves.some((s) => s.ackOffset >= 0));
    // 64 KiB segments: many rolls, blanks and frames cut inside records.
    for (let i = 0; i < 600; i++) {
      const r = await master.putMessage({ topic: 'HA_T', queueId: i % 3, body: body(i, 200 + (i % 700)), properties: { KEYS: `k${i}` } });
      expect(r.status).toBe(PutMessageStatus.PUT_OK);
      const end = r.appendResult!.wroteOffset + r.appendResult!.wroteBytes;
      expect(master.getHaStatus().slaves[0]!.ackOffset).toBeGreaterThanOrEqual(end);
    }
    expect(slave.getMaxPhyOffset()).toBe(master.getMaxPhyOffset());
    let total = 0;
    for (const q of [0, 1, 2]) total += await sameQueue(master, slave, 'HA_T', q);
    expect(total).toBe(600);
    const byKey = await slave.queryMessage('HA_T', 'k599', 10, 0, Date.now() + 1000);
    expect(byKey.messageBuffers.map((b) => decodeMessageRecord(b).properties.get('KEYS'))).toEqual(['k599']);
    expect(slave.getHaStatus().master).toMatchObject({ connected: true, behindBytes: 0 });
    // A slave takes no local writes.
    expect((await slave.putMessage({ topic: 'HA_T', queueId: 0, body: body(1) })).status).toBe(PutMessageStatus.SERVICE_NOT_AVAILABLE);
  });

  it('SYNC_MASTER without a slave answers SLAVE_NOT_AVAILABLE at once; the message is still stored', async () => {
    const port = await freePort();
    const md = tmpDir('rmq-ha-alone-');
    dirs.push(md);
    const master = await openStore(md, { brokerRole: 'SYNC_MASTER', haListenPort: port }, { haBindAddress: '127.0.0.1' });
    stores.push(master);
    const t0 = Date.now();
    const r = await master.putMessage({ topic: 'HA_ALONE', queueId: 0, body: body(1) });
    expect(r.status).toBe(PutMessageStatus.SLAVE_NOT_AVAILABLE);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(master.getMaxOffsetInQueue('HA_ALONE', 0)).toBe(1);
    // WAIT=false does not wait for anything.
    expect((await master.putMessage({ topic: 'HA_ALONE', queueId: 0, body: body(2), waitStoreMsgOK: false })).status).toBe(PutMessageStatus.PUT_OK);
  });

  it("a slave gone makes SYNC_MASTER puts answer SLAVE_NOT_AVAILABLE; a new, empty slave starts at the master's oldest segment", async () => {
    const { master, slave } = await pair('SYNC_MASTER', { slaveTimeout: 300, fileReservedTime: 0 });
    await until(() => master.getHaStatus().slaves.some((s) => s.ackOffset >= 0));
    for (let i = 0; i < 400; i++) expect((await master.putMessage({ topic: 'HA_TO', queueId: 0, body: body(i, 1000) })).status).toBe(PutMessageStatus.PUT_OK);
    // The slave's store stops taking bytes (as if its disk hung): its reports stop moving.
    await slave.shutdown();
    stores.splice(stores.indexOf(slave), 1);
    await until(() => master.getHaStatus().slaves.length === 0);
    expect((await master.putMessage({ topic: 'HA_TO', queueId: 0, body: body(99) })).status).toBe(PutMessageStatus.SLAVE_NOT_AVAILABLE);

    // Retention removed the oldest segments: a fresh, empty slave gets everything the master still holds.
    await master.flushLogics();
    await master.runCleanup({ force: true });
    const minPhy = master.getMinPhyOffset();
    expect(minPhy).toBeGreaterThan(0);
    const sd = tmpDir('rmq-ha-fresh-');
    dirs.push(sd);
    const fresh = await openStore(sd, { brokerRole: 'SLAVE', haMasterAddress: `127.0.0.1:${master.getHaStatus().haPort}`, slaveTimeout: 300 });
    stores.push(fresh);
    await until(() => fresh.getMaxPhyOffset() === master.getMaxPhyOffset());
    expect(fresh.getMinPhyOffset()).toBe(minPhy);
    const held = master.getMaxOffsetInQueue('HA_TO', 0) - master.getMinOffsetInQueue('HA_TO', 0);
    expect(held).toBeLessThan(401);
    expect(await sameQueue(master, fresh, 'HA_TO', 0)).toBe(held);
    expect((await master.putMessage({ topic: 'HA_TO', queueId: 0, body: body(100) })).status).toBe(PutMessageStatus.PUT_OK);
  });

  it('ASYNC_MASTER replies at once and the slave follows; a restarted slave resumes from its own end', async () => {
    const { master, slave } = await pair('ASYNC_MASTER');
    for (let i = 0; i < 300; i++) expect((await master.putMessage({ topic: 'HA_A', queueId: i % 2, body: body(i, 500) })).status).toBe(PutMessageStatus.PUT_OK);
    await until(() => slave.getMaxPhyOffset() === master.getMaxPhyOffset());
    const dir = slave.config.storePathRootDir;
    await slave.shutdown();
    stores.splice(stores.indexOf(slave), 1);
    for (let i = 300; i < 400; i++) await master.putMessage({ topic: 'HA_A', queueId: i % 2, body: body(i, 500) });
    const again = await openStore(dir, { brokerRole: 'SLAVE', haMasterAddress: `127.0.0.1:${master.getHaStatus().haPort}` });
    stores.push(again);
    expect(again.recoveryReport?.mode).toBe('normal');
    await until(() => again.getMaxPhyOffset() === master.getMaxPhyOffset());
    expect((await sameQueue(master, again, 'HA_A', 0)) + (await sameQueue(master, again, 'HA_A', 1))).toBe(400);
  });
});
