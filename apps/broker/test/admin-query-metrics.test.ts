// Admin codes (mqadmin / dashboard), message queries, and the /metrics the traffic produces.
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MQVersion, RequestCode, ResponseCode, decodeOffsetMsgId, mqVersionName, parseLenientJson } from '@rocketmq-ts/protocol';
import { removeTempDirs, stopAllProcesses, waitFor } from '@rocketmq-ts/testing';
import { JavaClient, PULL, records, startBroker, uniqKey, type BrokerHandle } from './harness.js';

let broker: BrokerHandle;
let c: JavaClient;

const createTopic = (topic: string, queues = 2, extra: Record<string, string> = {}) => c.createTopic(topic, queues, extra);

const json = (b: Buffer | null): Record<string, unknown> => parseLenientJson(b!.toString('utf8')) as Record<string, unknown>;

beforeAll(async () => {
  broker = await startBroker({ enablePropertyFilter: true });
  c = new JavaClient(broker.addr);
});

afterAll(async () => {
  c?.close();
  await stopAllProcesses();
  removeTempDirs();
});

describe('topics and groups', () => {
  it('UPDATE_AND_CREATE_TOPIC, GET_ALL_TOPIC_CONFIG, GET_TOPIC_STATS_INFO, DELETE_TOPIC_IN_BROKER', async () => {
    expect((await createTopic('AD_T', 2, { attributes: '+message.type=NORMAL' })).code).toBe(ResponseCode.SUCCESS);
    expect((await createTopic('bad name')).code).toBe(ResponseCode.INVALID_PARAMETER);
    const all = await c.call(RequestCode.GET_ALL_TOPIC_CONFIG, null);
    expect(all.code).toBe(ResponseCode.SUCCESS);
    const table = json(all.body)['topicConfigTable'] as Record<string, Record<string, unknown>>;
    expect(table['AD_T']).toMatchObject({ topicName: 'AD_T', readQueueNums: 2, writeQueueNums: 2, perm: 6, attributes: { 'message.type': 'NORMAL' } });
    expect(Object.keys(table)).toEqual(expect.arrayContaining(['TBW102', 'SCHEDULE_TOPIC_XXXX', 'TestCluster', 'broker-t', 'SELF_TEST_TOPIC']));
    for (let i = 0; i < 3; i++) await c.send('AD_T', `s${i}`, { queueId: 0 });
    const stats = await c.call(RequestCode.GET_TOPIC_STATS_INFO, { topic: 'AD_T' });
    const text = stats.body!.toString();
    // fastjson writes MessageQueue keys as objects.
    expect(text).toMatch(/\{"brokerName":"broker-t","queueId":0,"topic":"AD_T"\}:\{"lastUpdateTimestamp":\d+,"maxOffset":3,"minOffset":0\}/);
    expect(text).toContain('{"brokerName":"broker-t","queueId":1,"topic":"AD_T"}:{"lastUpdateTimestamp":0,"maxOffset":0,"minOffset":0}');
    expect((await c.call(RequestCode.GET_TOPIC_STATS_INFO, { topic: 'AD_NOPE' })).code).toBe(ResponseCode.TOPIC_NOT_EXIST);

    await createTopic('AD_DEL');
    await c.send('AD_DEL', 'x', { queueId: 0 });
    await c.call(RequestCode.UPDATE_CONSUMER_OFFSET, { consumerGroup: 'CG_DEL', topic: 'AD_DEL', queueId: '0', commitOffset: '1' });
    expect((await c.call(RequestCode.DELETE_TOPIC_IN_BROKER, { topic: 'AD_DEL' })).code).toBe(ResponseCode.SUCCESS);
    expect((await c.call(RequestCode.GET_TOPIC_CONFIG, { topic: 'AD_DEL' })).code).toBe(ResponseCode.TOPIC_NOT_EXIST);
    expect((await c.call(RequestCode.GET_ALL_CONSUMER_OFFSET, null)).body!.toString()).not.toContain('AD_DEL@');
    expect(readFileSync(`${broker.storeDir}/config/topics.json`, 'utf8')).not.toContain('"AD_DEL"');
    // The consume queues went too: created again, the topic starts empty.
    expect(existsSync(`${broker.storeDir}/consumequeue/AD_DEL`)).toBe(false);
    await createTopic('AD_DEL');
    expect((await c.call(RequestCode.GET_MAX_OFFSET, { topic: 'AD_DEL', queueId: '0' })).ext('offset')).toBe('0');
    expect((await c.call(RequestCode.DELETE_TOPIC_IN_BROKER, { topic: 'SCHEDULE_TOPIC_XXXX' })).code).toBe(ResponseCode.NO_PERMISSION);
  });

  it('subscription groups: create, list, delete (with offsets)', async () => {
    const cfg = {
      groupName: 'CG_ADMIN',
      consumeEnable: true,
      consumeBroadcastEnable: true,
      retryQueueNums: 2,
      retryMaxTimes: 5,
      brokerId: 0,
      whichBrokerWhenConsumeSlowly: 1,
    };
    expect((await c.call(RequestCode.UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, null, Buffer.from(JSON.stringify(cfg)))).code).toBe(ResponseCode.SUCCESS);
    const all = json((await c.call(RequestCode.GET_ALL_SUBSCRIPTIONGROUP_CONFIG, null)).body);
    expect((all['subscriptionGroupTable'] as Record<string, unknown>)['CG_ADMIN']).toMatchObject({ retryQueueNums: 2, retryMaxTimes: 5, consumeEnable: true });
    await c.call(RequestCode.UPDATE_CONSUMER_OFFSET, { consumerGroup: 'CG_ADMIN', topic: 'AD_T', queueId: '0', commitOffset: '1' });
    expect((await c.call(RequestCode.DELETE_SUBSCRIPTIONGROUP, { groupName: 'CG_ADMIN', cleanOffset: 'true' })).code).toBe(ResponseCode.SUCCESS);
    const after = json((await c.call(RequestCode.GET_ALL_SUBSCRIPTIONGROUP_CONFIG, null)).body);
    expect(Object.keys(after['subscriptionGroupTable'] as object)).not.toContain('CG_ADMIN');
    expect((await c.call(RequestCode.GET_ALL_CONSUMER_OFFSET, null)).body!.toString()).not.toContain('@CG_ADMIN"');
  });

  it('GET_CONSUME_STATS, QUERY_TOPIC_CONSUME_BY_WHO, GET_ALL_CONSUMER_OFFSET', async () => {
    await c.heartbeat({ consumerGroup: 'CG_STATS', subscriptions: [{ topic: 'AD_T', subString: '*' }] });
    await c.call(RequestCode.UPDATE_CONSUMER_OFFSET, { consumerGroup: 'CG_STATS', topic: 'AD_T', queueId: '0', commitOffset: '1' });
    const cs = await c.call(RequestCode.GET_CONSUME_STATS, { consumerGroup: 'CG_STATS', topic: 'AD_T' });
    expect(cs.code).toBe(ResponseCode.SUCCESS);
    expect(cs.body!.toString()).toMatch(
      /\{"brokerName":"broker-t","queueId":0,"topic":"AD_T"\}:\{"brokerOffset":3,"consumerOffset":1,"lastTimestamp":\d+,"pullOffset":1\}/,
    );
    const who = json((await c.call(RequestCode.QUERY_TOPIC_CONSUME_BY_WHO, { topic: 'AD_T' })).body);
    expect(who['groupList']).toContain('CG_STATS');
    expect((await c.call(RequestCode.GET_ALL_CONSUMER_OFFSET, null)).body!.toString()).toContain('"AD_T@CG_STATS":{0:1}');
  });

  it('GET_CONSUME_STATS without a topic covers every topic of the group; consumeTps and topicPutTps follow the traffic', async () => {
    expect((await createTopic('AD_TPS', 1)).code).toBe(ResponseCode.SUCCESS);
    await c.call(RequestCode.UPDATE_CONSUMER_OFFSET, { consumerGroup: 'CG_TPS', topic: 'AD_TPS', queueId: '0', commitOffset: '0' });
    // About 2 s of sends and pulls: the rates are taken over the last 10 s, sampled every second.
    let offset = 0;
    const until = Date.now() + 2_500;
    while (Date.now() < until) {
      for (let i = 0; i < 20; i++) await c.send('AD_TPS', `t${i}`, { queueId: 0 });
      const p = await c.pull({ group: 'CG_TPS', topic: 'AD_TPS', offset, maxMsgNums: 10, sysFlag: PULL.SUBSCRIPTION, subscription: '*' });
      offset = Number(p.ext('nextBeginOffset'));
      await new Promise((r) => setTimeout(r, 50));
    }
    await c.call(RequestCode.UPDATE_CONSUMER_OFFSET, { consumerGroup: 'CG_TPS', topic: 'AD_TPS', queueId: '0', commitOffset: String(offset) });
    await new Promise((r) => setTimeout(r, 1_100)); // one more sample
    const cs = await c.call(RequestCode.GET_CONSUME_STATS, { consumerGroup: 'CG_TPS' });
    expect(cs.code).toBe(ResponseCode.SUCCESS);
    const text = cs.body!.toString();
    const stored = Number((await c.call(RequestCode.GET_MAX_OFFSET, { topic: 'AD_TPS', queueId: '0' })).ext('offset'));
    expect(text).toContain(`{"brokerName":"broker-t","queueId":0,"topic":"AD_TPS"}:{"brokerOffset":${stored},"consumerOffset":${offset},`);
    expect(stored - offset).toBeGreaterThan(0); // the lag mqadmin consumerProgress shows
    expect(Number(/"consumeTps":([\d.]+)/.exec(text)?.[1])).toBeGreaterThan(0);
    const ts = await c.call(RequestCode.GET_TOPIC_STATS_INFO, { topic: 'AD_TPS' });
    expect(Number(/"topicPutTps":([\d.]+)/.exec(ts.body!.toString())?.[1])).toBeGreaterThan(0);
  });

  it('INVOKE_BROKER_TO_RESET_OFFSET by time moves the offsets and tells online consumers', async () => {
    const resets: string[] = [];
    c.client.registerHandler(RequestCode.RESET_CONSUMER_CLIENT_OFFSET, (cmd) => {
      resets.push(cmd.body!.toString());
      return null;
    });
    await c.heartbeat({ consumerGroup: 'CG_STATS', subscriptions: [{ topic: 'AD_T', subString: '*' }] });
    const r = await c.call(RequestCode.INVOKE_BROKER_TO_RESET_OFFSET, { topic: 'AD_T', group: 'CG_STATS', timestamp: '0', isForce: 'true' }, null, 15_000);
    expect(r.code).toBe(ResponseCode.SUCCESS);
    expect((await c.call(RequestCode.QUERY_CONSUMER_OFFSET, { consumerGroup: 'CG_STATS', topic: 'AD_T', queueId: '0' })).ext('offset')).toBe('0');
    await waitFor(() => resets.length > 0, { timeoutMs: 3_000 });
    expect(resets[0]).toContain('{"brokerName":"broker-t","queueId":0,"topic":"AD_T"}:0');
    // To "now": the end of the queue.
    await c.call(
      RequestCode.INVOKE_BROKER_TO_RESET_OFFSET,
      { topic: 'AD_T', group: 'CG_STATS', timestamp: String(Date.now() + 1000), isForce: 'true' },
      null,
      15_000,
    );
    expect((await c.call(RequestCode.QUERY_CONSUMER_OFFSET, { consumerGroup: 'CG_STATS', topic: 'AD_T', queueId: '0' })).ext('offset')).toBe('3');
  });

  it('LOCK_BATCH_MQ / UNLOCK_BATCH_MQ for orderly consumers', async () => {
    const mq = (queueId: number) => ({ brokerName: 'broker-t', queueId, topic: 'AD_T' });
    const lock = (clientId: string, ids: number[]) =>
      c.call(RequestCode.LOCK_BATCH_MQ, null, Buffer.from(JSON.stringify({ consumerGroup: 'CG_ORDER', clientId, onlyThisBroker: false, mqSet: ids.map(mq) })));
    const a = json((await lock('client-a', [0, 1])).body);
    expect(a['lockOKMQSet']).toEqual([mq(0), mq(1)]);
    expect(json((await lock('client-b', [0, 1])).body)['lockOKMQSet']).toEqual([]);
    expect(json((await lock('client-a', [0])).body)['lockOKMQSet']).toEqual([mq(0)]); // renewal
    const u = await c.call(RequestCode.UNLOCK_BATCH_MQ, null, Buffer.from(JSON.stringify({ consumerGroup: 'CG_ORDER', clientId: 'client-a', mqSet: [mq(1)] })));
    expect(u.code).toBe(ResponseCode.SUCCESS);
    expect(json((await lock('client-b', [0, 1])).body)['lockOKMQSet']).toEqual([mq(1)]);
  });
});

describe('broker info and config', () => {
  it('GET_BROKER_RUNTIME_INFO is a KVTable with the keys dashboards read', async () => {
    const r = await c.call(RequestCode.GET_BROKER_RUNTIME_INFO, null);
    const t = json(r.body)['table'] as Record<string, string>;
    for (const k of [
      'brokerVersionDesc',
      'msgPutTotalTodayNow',
      'msgGetTotalTodayNow',
      'putTps',
      'getTransferredTps',
      'commitLogMaxOffset',
      'dispatchBehindBytes',
      'bootTimestamp',
    ]) {
      expect(t).toHaveProperty(k);
    }
    expect(Number(t['msgPutTotalTodayNow'])).toBeGreaterThan(0);
    expect(t['putTps']).toMatch(/^\d+\.\d{2} \d+\.\d{2} \d+\.\d{2}$/);
    expect([t['brokerVersionDesc'], t['brokerVersion']]).toEqual([mqVersionName(MQVersion.CURRENT), String(MQVersion.CURRENT)]);
  });

  it('GET_BROKER_CONFIG returns properties; UPDATE_BROKER_CONFIG applies runtime ones at once and persists to the conf file', async () => {
    const g = await c.call(RequestCode.GET_BROKER_CONFIG, null);
    expect(g.body!.toString()).toMatch(/^brokerName=broker-t$/m);
    expect(g.body!.toString()).toMatch(/^mappedFileSizeCommitLog=67108864$/m);
    expect(g.ext('version')).toContain('counter');

    const off = await c.call(RequestCode.UPDATE_BROKER_CONFIG, null, Buffer.from('autoCreateTopicEnable=false\nfileReservedTime=24\n'));
    expect(off.code).toBe(ResponseCode.SUCCESS);
    expect(off.remark).toContain('fileReservedTime');
    expect((await c.send('AD_AUTO_OFF', 'x')).code).toBe(ResponseCode.TOPIC_NOT_EXIST);
    const conf = readFileSync(broker.confPath, 'utf8');
    expect(conf).toMatch(/^autoCreateTopicEnable=false$/m);
    expect(conf).toMatch(/^fileReservedTime=24$/m);
    expect((await c.call(RequestCode.UPDATE_BROKER_CONFIG, null, Buffer.from('autoCreateTopicEnable=true'))).code).toBe(ResponseCode.SUCCESS);
    expect((await c.send('AD_AUTO_ON', 'x')).code).toBe(ResponseCode.SUCCESS);
    expect((await c.call(RequestCode.UPDATE_BROKER_CONFIG, null, Buffer.from('noSuchProperty=1'))).code).toBe(ResponseCode.INVALID_PARAMETER);
    expect((await c.call(RequestCode.UPDATE_BROKER_CONFIG, null, Buffer.from('pullBatchMaxMessageCount=abc'))).code).toBe(ResponseCode.INVALID_PARAMETER);
    // The same rules as at start-up: ranges and enums, and nothing of a refused request is applied.
    const low = await c.call(RequestCode.UPDATE_BROKER_CONFIG, null, Buffer.from('autoCreateTopicEnable=false\npullBatchMaxMessageCount=0'));
    expect([low.code, low.remark]).toEqual([ResponseCode.INVALID_PARAMETER, 'pullBatchMaxMessageCount: 0 is below the minimum 1']);
    const role = await c.call(RequestCode.UPDATE_BROKER_CONFIG, null, Buffer.from('flushDiskType=SOMETIMES'));
    expect([role.code, role.remark]).toEqual([ResponseCode.INVALID_PARAMETER, 'flushDiskType: expected one of ASYNC_FLUSH, SYNC_FLUSH, got "SOMETIMES"']);
    const delays = await c.call(RequestCode.UPDATE_BROKER_CONFIG, null, Buffer.from('messageDelayLevel=1s 5x'));
    expect(delays.code).toBe(ResponseCode.INVALID_PARAMETER);
    expect(delays.remark).toContain('messageDelayLevel');
    expect((await c.send('AD_AUTO_STILL_ON', 'x')).code).toBe(ResponseCode.SUCCESS);
    expect(readFileSync(broker.confPath, 'utf8')).not.toMatch(/pullBatchMaxMessageCount|SOMETIMES/);
  });
});

describe('queries', () => {
  it('QUERY_MESSAGE by key, by UNIQ_KEY, and VIEW_MESSAGE_BY_ID by offset msgId', async () => {
    const key = uniqKey();
    const s = await c.send('AD_Q', 'findme', { keys: 'order-42 customer-7', extraProps: { UNIQ_KEY: key } });
    await c.send('AD_Q', 'other', { keys: 'order-43' });
    const begin = Date.now() - 60_000;
    const end = Date.now() + 60_000;
    const byKey = await c.call(RequestCode.QUERY_MESSAGE, {
      topic: 'AD_Q',
      key: 'customer-7',
      maxNum: '32',
      beginTimestamp: String(begin),
      endTimestamp: String(end),
    });
    expect(byKey.code).toBe(ResponseCode.SUCCESS);
    expect(Number(byKey.ext('indexLastUpdatePhyoffset'))).toBeGreaterThan(0);
    expect(byKey.ext('indexLastUpdateTimestamp')).toBeDefined();
    expect(records(byKey).map((m) => m.body.toString())).toEqual(['findme']);

    const byUniq = await c.call(RequestCode.QUERY_MESSAGE, {
      topic: 'AD_Q',
      key,
      maxNum: '32',
      beginTimestamp: '0',
      endTimestamp: String(Number.MAX_SAFE_INTEGER),
      _UNIQUE_KEY_QUERY: 'true',
    });
    expect(records(byUniq).map((m) => m.properties.get('UNIQ_KEY'))).toEqual([key]);

    const none = await c.call(RequestCode.QUERY_MESSAGE, { topic: 'AD_Q', key: 'nope', maxNum: 32, beginTimestamp: begin, endTimestamp: end });
    expect(none.code).toBe(ResponseCode.QUERY_NOT_FOUND);

    const id = decodeOffsetMsgId(s.ext('msgId')!)!;
    const view = await c.call(RequestCode.VIEW_MESSAGE_BY_ID, { topic: 'AD_Q', offset: String(id.commitLogOffset) });
    expect(view.code).toBe(ResponseCode.SUCCESS);
    const [m] = records(view);
    expect(m!.body.toString()).toBe('findme');
    expect(m!.msgId).toBe(s.ext('msgId'));
    expect((await c.call(RequestCode.VIEW_MESSAGE_BY_ID, { offset: '123456789' })).code).toBe(ResponseCode.SYSTEM_ERROR);
  });
});

describe('metrics', () => {
  it('/metrics reflects the traffic with RocketMQ 5 names; deleted topics and groups lose their series', async () => {
    for (let i = 0; i < 4; i++) await c.send('MT_T', Buffer.alloc(100, 1), { queueId: 0 });
    await createTopic('MT_GONE', 1);
    await c.send('MT_GONE', 'x', { queueId: 0 });
    await c.heartbeat({
      consumerGroup: 'CG_MT',
      subscriptions: [
        { topic: 'MT_T', subString: '*' },
        { topic: 'MT_GONE', subString: '*' },
      ],
    });
    await c.pull({ group: 'CG_MT', topic: 'MT_T', offset: 0, maxMsgNums: 3, sysFlag: PULL.SUSPEND });
    await c.pull({ group: 'CG_MT', topic: 'MT_GONE', offset: 0, sysFlag: PULL.SUSPEND });
    await c.call(RequestCode.UPDATE_CONSUMER_OFFSET, { consumerGroup: 'CG_MT', topic: 'MT_T', queueId: '0', commitOffset: '1' });
    await c.call(RequestCode.UPDATE_CONSUMER_OFFSET, { consumerGroup: 'CG_MT', topic: 'MT_GONE', queueId: '0', commitOffset: '0' });
    await c.heartbeat({ consumerGroup: 'CG_MT_OLD', subscriptions: [{ topic: 'MT_T', subString: '*' }] });
    await c.call(RequestCode.UPDATE_CONSUMER_OFFSET, { consumerGroup: 'CG_MT_OLD', topic: 'MT_T', queueId: '0', commitOffset: '0' });

    let m = await broker.metrics();
    expect(m).toMatch(/rocketmq_messages_in_total\{topic="MT_T",message_type="normal"[^}]*\} 4/);
    expect(m).toMatch(/rocketmq_throughput_in_total\{topic="MT_T"[^}]*\} 400/);
    expect(m).toMatch(/rocketmq_messages_out_total\{topic="MT_T",consumer_group="CG_MT"[^}]*\} 3/);
    expect(m).toMatch(/rocketmq_throughput_out_total\{topic="MT_T",consumer_group="CG_MT"[^}]*\} \d{3,}/);
    expect(m).toMatch(/rocketmq_consumer_lag_messages\{topic="MT_T",consumer_group="CG_MT",queue_id="0"[^}]*\} 3/);
    expect(m).toMatch(/rocketmq_consumer_lag_latency\{topic="MT_T",consumer_group="CG_MT",queue_id="0"[^}]*\} \d+/);
    expect(m).toMatch(/rocketmq_rpc_latency_count\{[^}]*protocol_type="remoting",request_code="send_message_v2",response_code="0"[^}]*\} \d+/);
    expect(m).toMatch(/rocketmq_rpc_latency_count\{[^}]*protocol_type="remoting",request_code="pull_message",response_code="0"[^}]*\} [1-9]/);
    expect(m).not.toMatch(/request_code="pull_message",response_code="none"/);
    expect(m).toMatch(/rocketmq_storage_size\{[^}]*\} [1-9]\d*/);
    expect(m).toMatch(/rocketmq_storage_flush_behind_bytes\{[^}]*\} \d+/);
    expect(m).toContain('topic="MT_GONE"');
    expect(m).toMatch(/rocketmq_consumer_lag_messages\{topic="MT_T",consumer_group="CG_MT_OLD",queue_id="0"[^}]*\} 4/);

    expect((await c.call(RequestCode.DELETE_TOPIC_IN_BROKER, { topic: 'MT_GONE' })).code).toBe(ResponseCode.SUCCESS);
    expect((await c.call(RequestCode.DELETE_SUBSCRIPTIONGROUP, { groupName: 'CG_MT_OLD', cleanOffset: 'true' })).code).toBe(ResponseCode.SUCCESS);
    m = await broker.metrics();
    expect(m).not.toContain('topic="MT_GONE"');
    expect(m).not.toContain('consumer_group="CG_MT_OLD"');
    expect(m).toContain('topic="MT_T"');
  });

  it('/health and /ready answer 200 while running', async () => {
    const h = await fetch(`http://127.0.0.1:${broker.httpPort}/health`);
    expect(h.status).toBe(200);
    expect(await h.json()).toMatchObject({ role: 'ASYNC_MASTER', brokerName: 'broker-t', state: 'running' });
    expect((await fetch(`http://127.0.0.1:${broker.httpPort}/ready`)).status).toBe(200);
  });
});
