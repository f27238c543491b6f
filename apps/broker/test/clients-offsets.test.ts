// Heartbeats, group membership, notifications, idle expiry, and consumer offsets across a restart.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RequestCode, ResponseCode, parseLenientJson } from '@rocketmq-ts/protocol';
import { removeTempDirs, stopAllProcesses, waitFor } from '@rocketmq-ts/testing';
import { JavaClient, PULL, records, sleep, startBroker, type BrokerHandle } from './harness.js';

let broker: BrokerHandle;
const clients: JavaClient[] = [];

function client(): JavaClient {
  const c = new JavaClient(broker.addr);
  clients.push(c);
  return c;
}

async function consumerIds(c: JavaClient, group: string): Promise<string[] | null> {
  const r = await c.call(RequestCode.GET_CONSUMER_LIST_BY_GROUP, { consumerGroup: group });
  if (r.code !== ResponseCode.SUCCESS) return null;
  return (JSON.parse(r.body!.toString()) as { consumerIdList: string[] }).consumerIdList.sort();
}

beforeAll(async () => {
  broker = await startBroker({ channelExpiredTimeout: 1_500 });
});

afterAll(async () => {
  for (const c of clients) c.close();
  await stopAllProcesses();
  removeTempDirs();
});

describe('heartbeats and groups', () => {
  it('HEART_BEAT registers the group, auto-creates it and its retry topic, and answers like a 5.x broker', async () => {
    const a = client();
    const hb = await a.heartbeat({
      consumerGroup: 'CG_A',
      subscriptions: [
        { topic: 'CO_T', subString: 'x || y' },
        { topic: '%RETRY%CG_A', subString: '*' },
      ],
      producerGroup: 'PG_A',
    });
    expect(hb.code).toBe(ResponseCode.SUCCESS);
    expect(hb.ext('IS_SUPPORT_HEART_BEAT_V2')).toBe('true');
    expect(hb.version).toBeGreaterThanOrEqual(401);
    expect(await consumerIds(a, 'CG_A')).toEqual([a.clientId]);
    const retry = await a.call(RequestCode.GET_TOPIC_CONFIG, { topic: '%RETRY%CG_A' });
    expect(retry.code).toBe(ResponseCode.SUCCESS);
    expect(JSON.parse(retry.body!.toString()).topicConfig).toMatchObject({ readQueueNums: 1, writeQueueNums: 1, perm: 6 });
    const groups = await a.call(RequestCode.GET_ALL_SUBSCRIPTIONGROUP_CONFIG, null);
    expect(Object.keys(JSON.parse(groups.body!.toString()).subscriptionGroupTable)).toContain('CG_A');
    const conn = await a.call(RequestCode.GET_CONSUMER_CONNECTION_LIST, { consumerGroup: 'CG_A' });
    const body = parseLenientJson(conn.body!.toString()) as Record<string, unknown>;
    expect(body['messageModel']).toBe('CLUSTERING');
    expect((body['connectionSet'] as Array<{ clientId: string; language: string; version: number }>)[0]).toMatchObject({
      clientId: a.clientId,
      language: 'JAVA',
      version: 479,
    });
    const prod = await a.call(RequestCode.GET_PRODUCER_CONNECTION_LIST, { producerGroup: 'PG_A' });
    expect(prod.code).toBe(ResponseCode.SUCCESS);
    expect(prod.body!.toString()).toContain(a.clientId);
  });

  it('GET_CONSUMER_LIST_BY_GROUP for a group nobody is in → SYSTEM_ERROR "no consumer for this group"', async () => {
    const r = await client().call(RequestCode.GET_CONSUMER_LIST_BY_GROUP, { consumerGroup: 'CG_EMPTY' });
    expect(r.code).toBe(ResponseCode.SYSTEM_ERROR);
    expect(r.remark).toBe('no consumer for this group, CG_EMPTY');
  });

  it('members get NOTIFY_CONSUMER_IDS_CHANGED when someone joins, unregisters or disconnects', async () => {
    const a = client();
    const b = client();
    const sub = [{ topic: 'CO_T', subString: '*' }];
    await a.heartbeat({ consumerGroup: 'CG_N', subscriptions: sub });
    await b.heartbeat({ consumerGroup: 'CG_N', subscriptions: sub });
    await waitFor(() => a.notifications.length >= 1, { timeoutMs: 3_000 });
    expect(a.notifications[0]!.ext('consumerGroup')).toBe('CG_N');
    expect(a.notifications[0]!.isOneway).toBe(true);
    expect(await consumerIds(a, 'CG_N')).toEqual([a.clientId, b.clientId].sort());
    // A repeated heartbeat with nothing changed does not notify.
    const before = a.notifications.length;
    await b.heartbeat({ consumerGroup: 'CG_N', subscriptions: sub });
    await sleep(200);
    expect(a.notifications.length).toBe(before);

    const u = await b.call(RequestCode.UNREGISTER_CLIENT, { clientID: b.clientId, consumerGroup: 'CG_N' });
    expect(u.code).toBe(ResponseCode.SUCCESS);
    await waitFor(() => a.notifications.length > before, { timeoutMs: 3_000 });
    expect(await consumerIds(a, 'CG_N')).toEqual([a.clientId]);

    const c = client();
    await c.heartbeat({ consumerGroup: 'CG_N', subscriptions: sub });
    await waitFor(async () => (await consumerIds(a, 'CG_N'))?.length === 2, { timeoutMs: 3_000 });
    const n = a.notifications.length;
    c.close();
    await waitFor(async () => (await consumerIds(a, 'CG_N'))?.length === 1, { timeoutMs: 3_000 });
    await waitFor(() => a.notifications.length > n, { timeoutMs: 3_000 });
  });

  it('clients that stop heartbeating expire after channelExpiredTimeout', async () => {
    const live = client();
    const idle = client();
    const sub = [{ topic: 'CO_T', subString: '*' }];
    await live.heartbeat({ consumerGroup: 'CG_X', subscriptions: sub });
    await idle.heartbeat({ consumerGroup: 'CG_X', subscriptions: sub });
    expect(await consumerIds(live, 'CG_X')).toHaveLength(2);
    const t0 = Date.now();
    while (Date.now() - t0 < 3_000) {
      await live.heartbeat({ consumerGroup: 'CG_X', subscriptions: sub });
      if ((await consumerIds(live, 'CG_X'))?.length === 1) break;
      await sleep(250);
    }
    expect(await consumerIds(live, 'CG_X')).toEqual([live.clientId]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1_000);
  });
});

describe('consumer offsets', () => {
  const T = 'CO_OFF';
  let c: JavaClient;

  beforeAll(async () => {
    c = client();
    for (let i = 0; i < 5; i++) expect((await c.send(T, `m${i}`, { queueId: 0 })).code).toBe(ResponseCode.SUCCESS);
  });

  const query = (group: string, queueId = 0, extra: Record<string, string> = {}) =>
    c.call(RequestCode.QUERY_CONSUMER_OFFSET, { consumerGroup: group, topic: T, queueId: String(queueId), ...extra });

  it('a group that never committed starts at 0 while message 0 is stored; an empty queue → QUERY_NOT_FOUND', async () => {
    const q = await query('CG_NEW');
    expect(q.code).toBe(ResponseCode.SUCCESS);
    expect(q.ext('offset')).toBe('0');
    expect((await query('CG_NEW', 1)).code).toBe(ResponseCode.QUERY_NOT_FOUND);
    expect((await query('CG_NEW', 0, { setZeroIfNotFound: 'false' })).code).toBe(ResponseCode.QUERY_NOT_FOUND);
  });

  it('UPDATE_CONSUMER_OFFSET (also oneway, also typed) sets it; a negative commit never moves it back', async () => {
    expect((await c.call(RequestCode.UPDATE_CONSUMER_OFFSET, { consumerGroup: 'CG_O', topic: T, queueId: '0', commitOffset: '3' })).code).toBe(
      ResponseCode.SUCCESS,
    );
    expect((await query('CG_O')).ext('offset')).toBe('3');
    await c.oneway(RequestCode.UPDATE_CONSUMER_OFFSET, { consumerGroup: 'CG_O', topic: T, queueId: 0, commitOffset: 4 });
    await waitFor(async () => (await query('CG_O')).ext('offset') === '4', { timeoutMs: 2_000 });
    expect((await c.call(RequestCode.UPDATE_CONSUMER_OFFSET, { consumerGroup: 'CG_O', topic: T, queueId: '0', commitOffset: '-1' })).code).toBe(
      ResponseCode.SUCCESS,
    );
    expect((await query('CG_O')).ext('offset')).toBe('4');
  });

  it('GET_MAX_OFFSET, GET_MIN_OFFSET, SEARCH_OFFSET_BY_TIMESTAMP (lower and upper), GET_EARLIEST_MSG_STORETIME', async () => {
    expect((await c.call(RequestCode.GET_MAX_OFFSET, { topic: T, queueId: '0' })).ext('offset')).toBe('5');
    expect((await c.call(RequestCode.GET_MAX_OFFSET, { topic: T, queueId: 0, committed: true })).ext('offset')).toBe('5');
    expect((await c.call(RequestCode.GET_MIN_OFFSET, { topic: T, queueId: '0' })).ext('offset')).toBe('0');
    const p = await c.pull({ group: 'CG_O', topic: T, offset: 0, sysFlag: PULL.SUBSCRIPTION, subscription: '*' });
    const ms = records(p);
    const earliest = await c.call(RequestCode.GET_EARLIEST_MSG_STORETIME, { topic: T, queueId: '0' });
    expect(Number(earliest.ext('timestamp'))).toBe(ms[0]!.storeTimestamp);
    const at3 = await c.call(RequestCode.SEARCH_OFFSET_BY_TIMESTAMP, { topic: T, queueId: '0', timestamp: String(ms[3]!.storeTimestamp) });
    expect(Number(at3.ext('offset'))).toBeLessThanOrEqual(3);
    const future = await c.call(RequestCode.SEARCH_OFFSET_BY_TIMESTAMP, { topic: T, queueId: '0', timestamp: String(Date.now() + 60_000) });
    expect(future.ext('offset')).toBe('5');
    const past = await c.call(RequestCode.SEARCH_OFFSET_BY_TIMESTAMP, { topic: T, queueId: '0', timestamp: '0' });
    expect(past.ext('offset')).toBe('0');
    // boundaryType UPPER (Java sends the enum name): the last offset stored at or before the time
    for (const bt of ['UPPER', 'upper']) {
      const up = Number(
        (await c.call(RequestCode.SEARCH_OFFSET_BY_TIMESTAMP, { topic: T, queueId: '0', timestamp: String(ms[3]!.storeTimestamp), boundaryType: bt })).ext(
          'offset',
        ),
      );
      expect(up).toBeGreaterThanOrEqual(3);
      expect(ms[up]!.storeTimestamp).toBeLessThanOrEqual(ms[3]!.storeTimestamp);
      if (up + 1 < ms.length) expect(ms[up + 1]!.storeTimestamp).toBeGreaterThan(ms[3]!.storeTimestamp);
    }
    const upFuture = await c.call(RequestCode.SEARCH_OFFSET_BY_TIMESTAMP, {
      topic: T,
      queueId: '0',
      timestamp: String(Date.now() + 60_000),
      boundaryType: 'UPPER',
    });
    expect(upFuture.ext('offset')).toBe('4');
  });

  it('offsets, topics, groups and messages survive a restart; consumerOffset.json is fastjson-shaped', async () => {
    await c.call(RequestCode.UPDATE_CONSUMER_OFFSET, { consumerGroup: 'CG_R', topic: T, queueId: '0', commitOffset: '2' });
    await broker.restart();
    const fresh = client();
    const q = await fresh.call(RequestCode.QUERY_CONSUMER_OFFSET, { consumerGroup: 'CG_R', topic: T, queueId: '0' });
    expect(q.ext('offset')).toBe('2');
    expect((await fresh.call(RequestCode.QUERY_CONSUMER_OFFSET, { consumerGroup: 'CG_O', topic: T, queueId: '0' })).ext('offset')).toBe('4');
    const text = readFileSync(join(broker.storeDir, 'config', 'consumerOffset.json'), 'utf8');
    expect(text).toContain(`"${T}@CG_R":{0:2}`);
    const p = await fresh.pull({ group: 'CG_R', topic: T, offset: 2, sysFlag: PULL.SUBSCRIPTION, subscription: '*' });
    expect(records(p).map((m) => m.body.toString())).toEqual(['m2', 'm3', 'm4']);
    // New messages continue the queue offsets.
    expect((await fresh.send(T, 'm5', { queueId: 0 })).ext('queueOffset')).toBe('5');
    // The subscription group auto-created before the restart is still there.
    const groups = await fresh.call(RequestCode.GET_ALL_SUBSCRIPTIONGROUP_CONFIG, null);
    expect(Object.keys(JSON.parse(groups.body!.toString()).subscriptionGroupTable)).toContain('CG_A');
  });
});
