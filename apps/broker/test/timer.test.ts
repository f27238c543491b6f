// Timer messages (RocketMQ 5: TIMER_DELAY_SEC / TIMER_DELAY_MS / TIMER_DELIVER_MS, and 4.x's
// __STARTDELIVERTIME) on real broker processes: delivery time at the default 1 s precision, the
// send reply, refusals with RocketMQ's codes, delay levels beside the timer, a 1 h timer by
// configuration (a small roll window, then a restart whose timer clock is 1 h ahead:
// timerClockOffsetMs), kill -9 with timers pending and due during the downtime, the admin codes,
// runtime info and metrics, and a master/slave pair.
import { appendFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RequestCode, ResponseCode, parseLenientJson, type DecodedMessage } from '@rocketmq-ts/protocol';
import { decodeTimerCheckpoint } from '@rocketmq-ts/store';
import { removeTempDirs, startNode, stopAllProcesses, waitFor } from '@rocketmq-ts/testing';
import { BROKER_MAIN, JavaClient, PULL, records, sleep, startBroker, startNamesrv, uniqKey, type BrokerHandle } from './harness.js';

let b: BrokerHandle;
let c: JavaClient;

beforeAll(async () => {
  b = await startBroker({ brokerName: 'broker-timer' }, { name: 'broker-timer' });
  c = new JavaClient(b.addr);
  expect((await c.createTopic('TMR', 4)).code).toBe(ResponseCode.SUCCESS);
});

afterAll(async () => {
  c?.close();
  await stopAllProcesses();
  removeTempDirs();
});

async function runtimeInfo(cl: JavaClient): Promise<Record<string, string>> {
  const r = await cl.call(RequestCode.GET_BROKER_RUNTIME_INFO, null);
  return (parseLenientJson(r.body!.toString('utf8')) as { table: Record<string, string> }).table;
}

/** Every message of a queue from offset 0. */
async function drain(cl: JavaClient, topic: string, queueId: number): Promise<DecodedMessage[]> {
  const out: DecodedMessage[] = [];
  let offset = 0;
  for (let i = 0; i < 1000; i++) {
    const r = await cl.pull({ group: 'TMR_G', topic, queueId, offset, maxMsgNums: 32, sysFlag: PULL.SUBSCRIPTION, subscription: '*' });
    if (r.code !== ResponseCode.SUCCESS) break;
    out.push(...records(r));
    offset = Number(r.ext('nextBeginOffset'));
  }
  return out;
}

/** Long-polls one queue from `offset` until a message arrives; returns it and when it arrived. */
async function awaitOne(cl: JavaClient, topic: string, queueId: number, offset: number, ms: number): Promise<{ m: DecodedMessage; at: number }> {
  const deadline = Date.now() + ms;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`nothing arrived on ${topic}/${queueId} at ${offset} within ${ms} ms`);
    const res = await cl.pull({
      group: 'TMR_WATCH',
      topic,
      queueId,
      offset,
      maxMsgNums: 1,
      sysFlag: PULL.SUSPEND | PULL.SUBSCRIPTION,
      subscription: '*',
      suspendTimeoutMillis: Math.min(left, 15_000),
      timeoutMs: left + 5_000,
    });
    if (res.code === ResponseCode.SUCCESS) return { m: records(res)[0]!, at: Date.now() };
    if (res.code !== ResponseCode.PULL_NOT_FOUND) throw new Error(`pull ${topic}/${queueId}: ${res.code} ${res.remark}`);
  }
}

describe('timer messages on a broker (timerPrecisionMs 1000)', () => {
  it('TIMER_DELAY_SEC=1 arrives after at least 1 s and at most one precision (+ slack) later; the reply names the timer queue offset', async () => {
    const sent = Date.now();
    const key = uniqKey();
    const r = await c.send('TMR', 'one second', { queueId: 1, tags: 'TagT', extraProps: { TIMER_DELAY_SEC: '1', UNIQ_KEY: key } });
    expect(r.code).toBe(ResponseCode.SUCCESS);
    expect(r.ext('queueId')).toBe('1');
    expect(Number(r.ext('queueOffset'))).toBeGreaterThanOrEqual(0);
    const { m, at } = await awaitOne(c, 'TMR', 1, 0, 5_000);
    expect(m.body.toString()).toBe('one second');
    expect(m.storeTimestamp - sent).toBeGreaterThanOrEqual(995);
    expect(at - sent).toBeLessThanOrEqual(1000 + 1000 + 400);
    expect(m.properties.get('UNIQ_KEY')).toBe(key);
    expect(m.properties.get('TAGS')).toBe('TagT');
    expect(m.properties.get('TIMER_DELAY_SEC')).toBe('1');
    expect(m.properties.has('TIMER_OUT_MS')).toBe(true);
    expect(m.properties.has('REAL_TOPIC')).toBe(false);
    // The offset msgId of the stored copy is new; the client's id (UNIQ_KEY) stays.
    expect(m.queueId).toBe(1);
  });

  it('TIMER_DELIVER_MS (3 s ahead) and TIMER_DELAY_MS arrive on time, in order of their times', async () => {
    const base = Date.now();
    const at = base + 3_000;
    const r1 = await c.send('TMR', 'deliver-ms', { queueId: 2, extraProps: { TIMER_DELIVER_MS: String(at) } });
    const r2 = await c.send('TMR', 'delay-ms', { queueId: 2, extraProps: { TIMER_DELAY_MS: '1500' } });
    expect([r1.code, r2.code]).toEqual([ResponseCode.SUCCESS, ResponseCode.SUCCESS]);
    const first = await awaitOne(c, 'TMR', 2, 0, 6_000);
    const second = await awaitOne(c, 'TMR', 2, 1, 6_000);
    expect(first.m.body.toString()).toBe('delay-ms');
    expect(first.m.storeTimestamp - base).toBeGreaterThanOrEqual(1495);
    expect(second.m.body.toString()).toBe('deliver-ms');
    expect(second.m.storeTimestamp).toBeGreaterThanOrEqual(at - 5);
    expect(second.at - at).toBeLessThanOrEqual(1000 + 400);
  });

  it('the 4.x __STARTDELIVERTIME (ms since the epoch) is scheduled like TIMER_DELIVER_MS', async () => {
    expect((await c.createTopic('TMR_START', 1)).code).toBe(ResponseCode.SUCCESS);
    const at = Date.now() + 2_000;
    const r = await c.send('TMR_START', 'start-deliver', { queueId: 0, extraProps: { __STARTDELIVERTIME: String(at) } });
    expect(r.code).toBe(ResponseCode.SUCCESS);
    const { m, at: arrived } = await awaitOne(c, 'TMR_START', 0, 0, 6_000);
    expect(m.body.toString()).toBe('start-deliver');
    expect(m.storeTimestamp).toBeGreaterThanOrEqual(at - 5);
    expect(arrived - at).toBeLessThanOrEqual(1000 + 400);
    expect(m.properties.get('__STARTDELIVERTIME')).toBe(String(at));
    expect(m.properties.has('TIMER_OUT_MS')).toBe(true);
  });

  it('bad timer properties and delays beyond timerMaxDelaySec are MESSAGE_ILLEGAL (13)', async () => {
    for (const p of <Record<string, string>[]>[
      { TIMER_DELAY_SEC: 'x' },
      { TIMER_DELIVER_MS: '12.5' },
      { TIMER_DELAY_MS: '' },
      { TIMER_DELAY_SEC: String(259_200 + 10) },
    ]) {
      const r = await c.send('TMR', 'bad', { queueId: 3, extraProps: p });
      expect(r.code).toBe(ResponseCode.MESSAGE_ILLEGAL);
      expect(r.remark).toMatch(/^timer message illegal, the delay time should not be bigger than the max delay 259200000ms/);
    }
    // Due already: an ordinary message at once.
    const r = await c.send('TMR', 'past', { queueId: 3, extraProps: { TIMER_DELIVER_MS: String(Date.now() - 1000) } });
    expect(r.code).toBe(ResponseCode.SUCCESS);
    const got = await drain(c, 'TMR', 3);
    expect(got.map((m) => m.body.toString())).toEqual(['past']);
  });

  it('a delay level still goes through SCHEDULE_TOPIC_XXXX (its timer properties dropped)', async () => {
    const sent = Date.now();
    const r = await c.send('TMR', 'level 1', { queueId: 0, extraProps: { DELAY: '1', TIMER_DELAY_SEC: '100' } });
    expect(r.code).toBe(ResponseCode.SUCCESS);
    const { m } = await awaitOne(c, 'TMR', 0, 0, 5_000);
    expect(m.body.toString()).toBe('level 1');
    expect(m.storeTimestamp - sent).toBeGreaterThanOrEqual(995);
    expect(m.storeTimestamp - sent).toBeLessThan(5_000);
    expect(m.properties.has('TIMER_DELAY_SEC')).toBe(false);
  });

  it('GET_TIMER_CHECK_POINT, GET_TIMER_METRICS, runtime info keys and rocketmq_timer_* metrics', async () => {
    // One far timer stays pending.
    expect((await c.send('FAR', 'later', { extraProps: { TIMER_DELAY_SEC: '3600' } })).code).toBe(ResponseCode.SUCCESS);
    await waitFor(async () => (await runtimeInfo(c))['timerCongestNum'] === '1', { timeoutMs: 5_000, message: 'one pending timer' });
    const info = await runtimeInfo(c);
    for (const k of ['timerReadBehind', 'timerOffsetBehind', 'timerCongestNum', 'timerEnqueueTps', 'timerDequeueTps']) expect(info[k]).toBeDefined();
    expect(Number(info['timerReadBehind'])).toBeLessThanOrEqual(2);
    expect(info['timerOffsetBehind']).toBe('0');
    await sleep(1200); // a flush
    const cp = await c.call(RequestCode.GET_TIMER_CHECK_POINT, null);
    expect(cp.code).toBe(ResponseCode.SUCCESS);
    expect(cp.body!.length).toBe(56);
    const d = decodeTimerCheckpoint(cp.body!);
    expect(Date.now() - d.lastReadTimeMs).toBeLessThan(5_000);
    expect(d.lastTimerQueueOffset).toBeGreaterThanOrEqual(4);
    expect(d.masterTimerQueueOffset).toBe(d.lastTimerQueueOffset);
    const tm = await c.call(RequestCode.GET_TIMER_METRICS, null);
    expect(tm.code).toBe(ResponseCode.SUCCESS);
    const metricsBody = JSON.parse(tm.body!.toString('utf8')) as { timingCount: Record<string, { count: number }> };
    expect(metricsBody.timingCount['FAR']?.count).toBe(1);
    const text = await b.metrics();
    expect(text).toMatch(/rocketmq_timing_messages\{[^}]*topic="FAR"[^}]*\} 1/);
    expect(text).toMatch(/rocketmq_timer_enqueue_total\{[^}]*topic="TMR"[^}]*\} [1-9]/);
    expect(text).toMatch(/rocketmq_timer_dequeue_total\{[^}]*topic="TMR"[^}]*\} [1-9]/);
    expect(text).toMatch(/rocketmq_timer_dequeue_lag\{[^}]*\} 1/);
    expect(text).toMatch(/rocketmq_messages_in_total\{[^}]*message_type="delay"/);
    // Producers may not write to the timer topic themselves.
    expect((await c.send('rmq_sys_wheel_timer', 'x')).code).toBe(ResponseCode.NO_PERMISSION);
  });
});

describe('timerWheelEnable=false', () => {
  it('refuses timer messages with SYSTEM_ERROR "accurate timer message is not enabled", answers 60/61 with SYSTEM_ERROR; POP still works', async () => {
    const off = await startBroker({ brokerName: 'broker-no-timer', timerWheelEnable: false }, { name: 'broker-no-timer' });
    const oc = new JavaClient(off.addr);
    try {
      const r = await oc.send('NT', 'x', { extraProps: { TIMER_DELAY_SEC: '5' } });
      expect(r.code).toBe(ResponseCode.SYSTEM_ERROR);
      expect(r.remark).toBe('accurate timer message is not enabled, timerWheelEnable is false');
      expect((await oc.send('NT', 'plain')).code).toBe(ResponseCode.SUCCESS);
      expect((await oc.call(RequestCode.GET_TIMER_CHECK_POINT, null)).code).toBe(ResponseCode.SYSTEM_ERROR);
      expect((await runtimeInfo(oc))['timerCongestNum']).toBeUndefined();
      // POP still works: its checkpoint goes to the revive topic without TIMER_DELIVER_MS.
      const popped = await oc.call(RequestCode.POP_MESSAGE, {
        consumerGroup: 'G_NT_POP',
        topic: 'NT',
        queueId: '-1',
        maxMsgNums: '32',
        invisibleTime: '60000',
        pollTime: '0',
        bornTime: String(Date.now()),
        initMode: '0',
        expType: 'TAG',
        exp: '*',
        order: 'false',
      });
      expect(popped.code).toBe(ResponseCode.SUCCESS);
      expect(records(popped).map((m) => m.body.toString())).toEqual(['plain']);
    } finally {
      oc.close();
      await off.stop();
    }
  });
});

describe('restarts', () => {
  it('kill -9 with timers pending: none lost; the ones due during the downtime arrive at start', async () => {
    const k = await startBroker({ brokerName: 'broker-timer-kill' }, { name: 'broker-timer-kill' });
    let kc = new JavaClient(k.addr);
    const keys = new Set<string>();
    try {
      expect((await kc.createTopic('TK', 2)).code).toBe(ResponseCode.SUCCESS);
      const t0 = Date.now();
      // 40 due within 2 s (during the downtime), 40 due 6-7 s after the start (after the restart).
      const sends: Promise<unknown>[] = [];
      for (let i = 0; i < 80; i++) {
        const key = uniqKey();
        const due = i < 40 ? t0 + 1500 + (i % 5) * 100 : t0 + 6000 + (i % 10) * 100;
        sends.push(
          kc.send('TK', `k${i}`, { queueId: i % 2, extraProps: { TIMER_DELIVER_MS: String(due), UNIQ_KEY: key } }).then((r) => {
            if (r.code === ResponseCode.SUCCESS) keys.add(key);
          }),
        );
      }
      await Promise.all(sends);
      expect(keys.size).toBe(80);
      process.kill(k.proc.pid, 'SIGKILL');
      await k.proc.exited;
      kc.close();
      await sleep(Math.max(0, t0 + 3000 - Date.now()));
      const restarted = Date.now();
      k.proc = await startNode(BROKER_MAIN, ['-c', k.confPath], { name: 'broker-timer-kill', readyPattern: /broker \S+ started at/, timeoutMs: 20_000 });
      kc = new JavaClient(k.addr);
      // The first 40 were due while the broker was down: they come at start.
      await waitFor(async () => (await drain(kc, 'TK', 0)).length + (await drain(kc, 'TK', 1)).length >= 40, {
        timeoutMs: 5_000,
        message: 'timers due during the downtime',
      });
      expect(Date.now() - restarted).toBeLessThan(5_000);
      await waitFor(async () => (await drain(kc, 'TK', 0)).length + (await drain(kc, 'TK', 1)).length >= 80, { timeoutMs: 12_000, message: 'all timers' });
      const got = [...(await drain(kc, 'TK', 0)), ...(await drain(kc, 'TK', 1))];
      const gotKeys = new Set(got.map((m) => m.properties.get('UNIQ_KEY')));
      expect([...keys].filter((x) => !gotKeys.has(x))).toEqual([]);
      for (const m of got) {
        if (Number(m.body.toString().slice(1)) >= 40) expect(m.storeTimestamp).toBeGreaterThanOrEqual(t0 + 6000 - 5);
      }
    } finally {
      kc.close();
      await k.stop();
    }
  });

  it('a 1 h timer by configuration: rolled within a 60-slot window, delivered when a restart sees the clock 1 h later', async () => {
    const h = await startBroker({ brokerName: 'broker-timer-hour', timerRollWindowSlot: 60 }, { name: 'broker-timer-hour' });
    const hc = new JavaClient(h.addr);
    try {
      expect((await hc.createTopic('TH', 1)).code).toBe(ResponseCode.SUCCESS);
      const r = await hc.send('TH', 'an hour later', { extraProps: { TIMER_DELAY_SEC: '3600' } });
      expect(r.code).toBe(ResponseCode.SUCCESS);
      await sleep(1500);
      expect(await drain(hc, 'TH', 0)).toHaveLength(0);
      // Test-only: the restarted broker's timer reads the wall clock + 1 h.
      appendFileSync(h.confPath, 'timerClockOffsetMs=3601000\n');
      await h.restart();
      const { m } = await awaitOne(hc, 'TH', 0, 0, 10_000);
      expect(m.body.toString()).toBe('an hour later');
      expect(Number(m.properties.get('TIMER_ROLL_TIMES'))).toBeGreaterThanOrEqual(1);
    } finally {
      hc.close();
      await h.stop();
    }
  });
});

describe('a master and its slave', () => {
  it('the master delivers, the slave replicates the delivered copy and follows the read time without delivering', async () => {
    const ns = await startNamesrv();
    const haProps = { brokerName: 'broker-timer-ha', registerNameServerPeriod: 10_000, autoCreateTopicEnable: true, slaveReadEnable: true };
    const m = await startBroker({ ...haProps, brokerRole: 'ASYNC_MASTER' }, { name: 'timer-master', args: ['-n', ns.addr] });
    const s = await startBroker({ ...haProps, brokerRole: 'SLAVE', brokerId: 1 }, { name: 'timer-slave', args: ['-n', ns.addr] });
    const mc = new JavaClient(m.addr);
    const sc = new JavaClient(s.addr);
    try {
      expect((await mc.createTopic('THA', 1)).code).toBe(ResponseCode.SUCCESS);
      await waitFor(async () => (await runtimeInfo(mc))['haSlaveCount'] === '1', { timeoutMs: 15_000, message: 'slave connected' });
      for (let i = 0; i < 10; i++) {
        expect((await mc.send('THA', `h${i}`, { extraProps: { TIMER_DELAY_MS: String(1000 + i * 100) } })).code).toBe(ResponseCode.SUCCESS);
      }
      await waitFor(async () => (await drain(mc, 'THA', 0)).length === 10, { timeoutMs: 8_000, message: 'delivered on the master' });
      await waitFor(async () => (await drain(sc, 'THA', 0)).length === 10, { timeoutMs: 8_000, message: 'replicated to the slave' });
      // The slave copies the master's timer checkpoint (every 3 s): its read time follows.
      await waitFor(
        async () => {
          const t = await runtimeInfo(sc);
          return Number(t['timerReadBehind']) <= 5 && t['timerCongestNum'] === '0';
        },
        { timeoutMs: 10_000, message: 'slave read time follows the master' },
      );
      await sleep(1500);
      expect(await drain(mc, 'THA', 0)).toHaveLength(10);
      expect(await drain(sc, 'THA', 0)).toHaveLength(10);
    } finally {
      mc.close();
      sc.close();
      await s.stop();
      await m.stop();
      await ns.proc.stop('SIGTERM', 5_000);
    }
  });
});
