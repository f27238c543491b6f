// Delay levels (all 18 on a short table, the first ones of the default table, across a restart),
// consumer send-back through the retry topic, and dead letters.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RequestCode, ResponseCode, type RemotingCommand } from '@rocketmq-ts/protocol';
import { removeTempDirs, stopAllProcesses } from '@rocketmq-ts/testing';
import { JavaClient, PULL, records, sleep, startBroker, type BrokerHandle } from './harness.js';

/** Level L waits ((L - 1) % 9) + 1 seconds: all 18 levels run within 9 s. */
const SHORT_TABLE = Array.from({ length: 18 }, (_, i) => `${(i % 9) + 1}s`).join(' ');
const shortDelayMs = (level: number): number => (((level - 1) % 9) + 1) * 1000;

let short: BrokerHandle;
let dflt: BrokerHandle;
let cs: JavaClient;
let cd: JavaClient;

const createTopic = (c: JavaClient, topic: string, queues: number) => c.createTopic(topic, queues);

/** Long-polls one queue from `offset` until a message arrives (or `ms` pass). */
async function awaitMessage(c: JavaClient, topic: string, queueId: number, offset: number, ms: number): Promise<RemotingCommand> {
  const deadline = Date.now() + ms;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`nothing arrived on ${topic}/${queueId} at ${offset} within ${ms} ms`);
    const res = await c.pull({
      group: 'CG_DELAY_WATCH',
      topic,
      queueId,
      offset,
      sysFlag: PULL.SUSPEND | PULL.SUBSCRIPTION,
      subscription: '*',
      suspendTimeoutMillis: Math.min(left, 15_000),
      timeoutMs: left + 5_000,
    });
    if (res.code === ResponseCode.SUCCESS) return res;
    if (res.code !== ResponseCode.PULL_NOT_FOUND) throw new Error(`pull ${topic}/${queueId}: ${res.code} ${res.remark}`);
  }
}

beforeAll(async () => {
  [short, dflt] = await Promise.all([
    startBroker({ messageDelayLevel: SHORT_TABLE, brokerName: 'broker-short' }),
    startBroker({ brokerName: 'broker-default' }),
  ]);
  cs = new JavaClient(short.addr);
  cd = new JavaClient(dflt.addr);
  expect((await createTopic(cs, 'DLY', 18)).code).toBe(ResponseCode.SUCCESS);
  expect((await createTopic(cd, 'DLY', 4)).code).toBe(ResponseCode.SUCCESS);
});

afterAll(async () => {
  cs?.close();
  cd?.close();
  await stopAllProcesses();
  removeTempDirs();
});

describe('delay levels', () => {
  it('every one of the 18 levels of a short table, and levels 1-3 of the default table, are delivered on time', async () => {
    const shortRuns = Array.from({ length: 18 }, async (_, i) => {
      const level = i + 1;
      const sent = Date.now();
      const r = await cs.send('DLY', `level-${level}`, { queueId: i, extraProps: { DELAY: String(level) } });
      expect(r.code).toBe(ResponseCode.SUCCESS);
      const got = await awaitMessage(cs, 'DLY', i, 0, 15_000);
      const [m] = records(got);
      return { level, sent, storedAgain: m!.storeTimestamp, body: m!.body.toString(), m: m! };
    });
    const defaultRuns = [1, 2, 3].map(async (level) => {
      const sent = Date.now();
      const r = await cd.send('DLY', `default-${level}`, { queueId: level - 1, extraProps: { DELAY: String(level) } });
      expect(r.code).toBe(ResponseCode.SUCCESS);
      const got = await awaitMessage(cd, 'DLY', level - 1, 0, 15_000);
      return { level, sent, storedAgain: records(got)[0]!.storeTimestamp };
    });
    const [s, d] = await Promise.all([Promise.all(shortRuns), Promise.all(defaultRuns)]);
    for (const x of s) {
      const waited = x.storedAgain - x.sent;
      expect(x.body).toBe(`level-${x.level}`);
      expect(waited).toBeGreaterThanOrEqual(shortDelayMs(x.level) - 50);
      expect(waited).toBeLessThan(shortDelayMs(x.level) + 700);
      // Delivered under its real topic and queue, without the scheduling properties.
      expect(x.m.topic).toBe('DLY');
      expect(x.m.queueId).toBe(x.level - 1);
      expect(x.m.properties.has('DELAY')).toBe(false);
      // RocketMQ keeps where the message was bound for.
      expect(x.m.properties.get('REAL_TOPIC')).toBe('DLY');
      expect(x.m.properties.get('REAL_QID')).toBe(String(x.level - 1));
    }
    const defaultMs = [1000, 5000, 10_000];
    for (const x of d) {
      const waited = x.storedAgain - x.sent;
      expect(waited).toBeGreaterThanOrEqual(defaultMs[x.level - 1]! - 50);
      expect(waited).toBeLessThan(defaultMs[x.level - 1]! + 700);
    }
    // Progress per level is visible to slaves/admin (GET_ALL_DELAY_OFFSET) in fastjson's form.
    const offs = await cs.call(RequestCode.GET_ALL_DELAY_OFFSET, null);
    expect(offs.body!.toString()).toMatch(/"offsetTable":\{1:1,2:1,/);
  }, 40_000);

  it('the send reply names the queue the producer chose, not the schedule queue', async () => {
    // Level 1 is parked in schedule queue 0; the producer chose queue 5.
    const r = await cs.send('DLY', 'reply-queue', { queueId: 5, extraProps: { DELAY: '1' } });
    expect(r.code).toBe(ResponseCode.SUCCESS);
    expect(r.extFields?.['queueId']).toBe('5');
    const got = await awaitMessage(cs, 'DLY', 5, 1, 15_000);
    const m = records(got)[0]!;
    expect([m.body.toString(), m.queueId, m.properties.get('REAL_QID')]).toEqual(['reply-queue', 5, '5']);
  }, 20_000);

  it('a level above the table is clamped to the last level; 0 or garbage means no delay', async () => {
    const t0 = Date.now();
    await cs.send('DLY', 'none', { queueId: 0, extraProps: { DELAY: '0' } });
    await cs.send('DLY', 'garbage', { queueId: 0, extraProps: { DELAY: 'x' } });
    const now = await cs.pull({ group: 'CG_D', topic: 'DLY', queueId: 0, offset: 1, sysFlag: PULL.SUBSCRIPTION, subscription: '*' });
    expect(records(now).map((m) => m.body.toString())).toEqual(['none', 'garbage']);
    await cs.send('DLY', 'clamped', { queueId: 17, extraProps: { DELAY: '99' } });
    const got = await awaitMessage(cs, 'DLY', 17, 1, 15_000);
    expect(records(got)[0]!.body.toString()).toBe('clamped');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(shortDelayMs(18) - 50);
  }, 20_000);

  it('delayed messages are delivered on time after a restart, and delayOffset.json is written', async () => {
    // Default table: level 2 = 5 s. Stop the broker in the middle of the wait.
    const sent = Date.now();
    expect((await cd.send('DLY', 'across-restart', { queueId: 3, extraProps: { DELAY: '2' } })).code).toBe(ResponseCode.SUCCESS);
    expect((await cd.send('DLY', 'due-while-down', { queueId: 2, extraProps: { DELAY: '1' } })).code).toBe(ResponseCode.SUCCESS);
    await sleep(300);
    cd.close();
    await dflt.stop();
    await sleep(1_500);
    await dflt.restart();
    cd = new JavaClient(dflt.addr);
    const a = await awaitMessage(cd, 'DLY', 2, 1, 10_000);
    expect(records(a)[0]!.body.toString()).toBe('due-while-down');
    const b = await awaitMessage(cd, 'DLY', 3, 0, 10_000);
    const m = records(b)[0]!;
    expect(m.body.toString()).toBe('across-restart');
    expect(m.storeTimestamp - sent).toBeGreaterThanOrEqual(5_000 - 50);
    expect(m.storeTimestamp - sent).toBeLessThan(5_000 + 1_000);
    const text = readFileSync(join(dflt.storeDir, 'config', 'delayOffset.json'), 'utf8');
    expect(text).toMatch(/"offsetTable":\{1:\d+,2:\d+/);
  }, 30_000);
});

describe('retry and dead letters', () => {
  it('CONSUMER_SEND_MSG_BACK goes to %RETRY% via level 3 + reconsumeTimes, then to %DLQ% after maxReconsumeTimes', async () => {
    const c = cs;
    await c.heartbeat({
      consumerGroup: 'CG_RETRY',
      subscriptions: [
        { topic: 'RT_T', subString: '*' },
        { topic: '%RETRY%CG_RETRY', subString: '*' },
      ],
    });
    const s = await c.send('RT_T', 'fail-me', { queueId: 0, tags: 'T1', keys: 'order-1' });
    expect(s.code).toBe(ResponseCode.SUCCESS);
    const first = records(await c.pull({ group: 'CG_RETRY', topic: 'RT_T', offset: 0, sysFlag: 0 }))[0]!;
    const uniq = first.properties.get('UNIQ_KEY')!;

    const back = (offset: number, extra: Record<string, string> = {}) =>
      c.call(RequestCode.CONSUMER_SEND_MSG_BACK, {
        offset: String(offset),
        group: 'CG_RETRY',
        delayLevel: '0',
        originMsgId: uniq,
        originTopic: 'RT_T',
        unitMode: 'false',
        maxReconsumeTimes: '2',
        ...extra,
      });

    let t = Date.now();
    expect((await back(first.commitLogOffset)).code).toBe(ResponseCode.SUCCESS);
    const r1 = records(await awaitMessage(c, '%RETRY%CG_RETRY', 0, 0, 10_000))[0]!;
    expect(r1.storeTimestamp - t).toBeGreaterThanOrEqual(shortDelayMs(3) - 50); // level 3 + 0
    expect(r1.reconsumeTimes).toBe(1);
    expect(r1.topic).toBe('%RETRY%CG_RETRY');
    expect(r1.body.toString()).toBe('fail-me');
    expect(r1.properties.get('RETRY_TOPIC')).toBe('RT_T');
    expect(r1.properties.get('ORIGIN_MESSAGE_ID')).toBe(first.msgId);
    expect(r1.properties.get('UNIQ_KEY')).toBe(uniq);
    expect(r1.properties.get('TAGS')).toBe('T1');

    t = Date.now();
    expect((await back(r1.commitLogOffset)).code).toBe(ResponseCode.SUCCESS);
    const r2 = records(await awaitMessage(c, '%RETRY%CG_RETRY', 0, 1, 10_000))[0]!;
    expect(r2.storeTimestamp - t).toBeGreaterThanOrEqual(shortDelayMs(4) - 50); // level 3 + 1
    expect(r2.reconsumeTimes).toBe(2);
    expect(r2.properties.get('ORIGIN_MESSAGE_ID')).toBe(first.msgId);

    // reconsumeTimes 2 >= maxReconsumeTimes 2: dead letter, at once.
    expect((await back(r2.commitLogOffset)).code).toBe(ResponseCode.SUCCESS);
    const dlq = await c.pull({ group: 'CG_RETRY', topic: '%DLQ%CG_RETRY', offset: 0, sysFlag: PULL.SUBSCRIPTION, subscription: '*' });
    expect(dlq.code).toBe(ResponseCode.SUCCESS);
    const d = records(dlq)[0]!;
    expect(d.body.toString()).toBe('fail-me');
    expect(d.reconsumeTimes).toBe(3);
    expect(d.properties.get('RETRY_TOPIC')).toBe('RT_T');
    expect(d.properties.get('DLQ_ORIGIN_TOPIC')).toBe('RT_T');
    expect(d.properties.get('DLQ_ORIGIN_MESSAGE_ID')).toBe(uniq);
    const dlqTopic = JSON.parse((await c.call(RequestCode.GET_TOPIC_CONFIG, { topic: '%DLQ%CG_RETRY' })).body!.toString()).topicConfig;
    expect(dlqTopic).toMatchObject({ readQueueNums: 1, writeQueueNums: 1 });
  }, 30_000);

  it('delayLevel -1 sends straight to the DLQ; the group default is 16 retries; a bad offset is refused', async () => {
    const c = cs;
    const s = await c.send('RT_T', 'poison', { queueId: 1 });
    const m = records(
      await c.pull({ group: 'CG_RETRY2', topic: 'RT_T', queueId: 1, offset: Number(s.ext('queueOffset')), sysFlag: PULL.SUBSCRIPTION, subscription: '*' }),
    )[0]!;
    expect(
      (
        await c.call(RequestCode.CONSUMER_SEND_MSG_BACK, {
          offset: String(m.commitLogOffset),
          group: 'CG_RETRY2',
          delayLevel: '-1',
          originMsgId: 'x',
          originTopic: 'RT_T',
        })
      ).code,
    ).toBe(ResponseCode.SUCCESS);
    const dlq = await c.pull({ group: 'CG_RETRY2', topic: '%DLQ%CG_RETRY2', offset: 0, sysFlag: PULL.SUBSCRIPTION, subscription: '*' });
    expect(records(dlq)[0]!.body.toString()).toBe('poison');

    // A message already retried 15 times goes to retry once more (16 is the default limit), typed extFields.
    const r = await c.sendRaw('%RETRY%CG_RETRY3', Buffer.from('r15'), 'RETRY_TOPIC\u0001RT_T\u0002', { queueId: 0, reconsumeTimes: 15 });
    expect(r.code).toBe(ResponseCode.SUCCESS);
    const rm = records(await c.pull({ group: 'CG_RETRY3', topic: '%RETRY%CG_RETRY3', offset: 0, sysFlag: PULL.SUBSCRIPTION, subscription: '*' }))[0]!;
    expect(rm.reconsumeTimes).toBe(15);
    // Level 3 + 15 = 18: it waits in SCHEDULE_TOPIC_XXXX queue 17, not in the DLQ.
    const level18 = async () => Number((await c.call(RequestCode.GET_MAX_OFFSET, { topic: 'SCHEDULE_TOPIC_XXXX', queueId: '17' })).ext('offset'));
    const before = await level18();
    expect((await c.call(RequestCode.CONSUMER_SEND_MSG_BACK, { offset: rm.commitLogOffset, group: 'CG_RETRY3', delayLevel: 0 })).code).toBe(
      ResponseCode.SUCCESS,
    );
    expect(await level18()).toBe(before + 1);
    expect((await c.call(RequestCode.GET_MAX_OFFSET, { topic: '%DLQ%CG_RETRY3', queueId: '0' })).ext('offset')).toBe('0');

    expect((await c.call(RequestCode.CONSUMER_SEND_MSG_BACK, { offset: '999999999', group: 'CG_RETRY', delayLevel: '0' })).code).toBe(
      ResponseCode.SYSTEM_ERROR,
    );
  });

  it('a client-side retry send to %RETRY% past maxReconsumeTimes lands in the DLQ', async () => {
    const r = await cs.sendRaw('%RETRY%CG_FALLBACK', Buffer.from('fallback'), 'RETRY_TOPIC\u0001RT_T\u0002DELAY\u00015\u0002', {
      queueId: 0,
      reconsumeTimes: 3,
      maxReconsumeTimes: 2,
    });
    expect(r.code).toBe(ResponseCode.SUCCESS);
    const dlq = await cs.pull({ group: 'CG_FALLBACK', topic: '%DLQ%CG_FALLBACK', offset: 0, sysFlag: PULL.SUBSCRIPTION, subscription: '*' });
    expect(records(dlq)[0]!.body.toString()).toBe('fallback');
    expect(records(dlq)[0]!.properties.has('DELAY')).toBe(false);
  });
});
