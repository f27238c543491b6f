import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { repoRoot, waitFor, startCluster, type TestCluster } from '@rocketmq-ts/testing';
import { Message, Producer, PushConsumer, type ClientLogger } from '@rocketmq-ts/client';
import { runCli, parseTimestamp } from '../src/index.js';

const quiet: ClientLogger = { log: () => undefined };
let c: TestCluster;
const closers: Array<{ shutdown(): Promise<void> }> = [];
let n = 0;
const uniq = (p: string): string => `${p}_${process.pid}_${++n}`;

beforeAll(async () => {
  c = await startCluster('admin');
});

afterAll(async () => {
  for (const k of closers.reverse()) await k.shutdown().catch(() => undefined);
  await c?.stop();
});

/** Runs mqadmin in-process against the test cluster. */
async function mq(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli([...args, '-n', c.namesrvAddr], { out: (s) => (out += s), err: (s) => (err += s), env: {} });
  return { code, out, err };
}

async function mqJson<T = unknown>(...args: string[]): Promise<T> {
  const r = await mq(...args, '--json');
  if (r.code !== 0) throw new Error(`mqadmin ${args.join(' ')} failed: ${r.err}`);
  return JSON.parse(r.out) as T;
}

describe('mqadmin', () => {
  it('prints help and rejects unknown commands and missing options', async () => {
    let out = '';
    expect(await runCli([], { out: (s) => (out += s), err: () => undefined, env: {} })).toBe(0);
    for (const name of [
      'updateTopic',
      'deleteTopic',
      'topicList',
      'topicRoute',
      'topicStatus',
      'clusterList',
      'brokerStatus',
      'timerStatus',
      'updateSubGroup',
      'deleteSubGroup',
      'consumerProgress',
      'consumerConnection',
      'consumerStatus',
      'producerConnection',
      'halfMessageList',
      'queryMsgById',
      'queryMsgByKey',
      'queryMsgByUniqueKey',
      'whereIsMessage',
      'resetOffsetByTime',
      'sendMessage',
      'consumeMessage',
      'getBrokerConfig',
      'updateBrokerConfig',
      'getNamesrvConfig',
    ]) {
      expect(out).toContain(name);
    }
    const bad = await mq('noSuchCommand');
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('does not exist');
    const missing = await mq('updateTopic', '-c', 'TestCluster');
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('missing required option -t');
    expect(parseTimestamp('2026-11-26#10:00:00:000')).toBe(new Date(2026, 10, 26, 10, 0, 0, 0).getTime());
  });

  it('clusterList, brokerStatus, getBrokerConfig, updateBrokerConfig, getNamesrvConfig show what the servers hold', async () => {
    const cl = await mq('clusterList');
    expect(cl.code).toBe(0);
    expect(cl.out).toMatch(/#Cluster Name\s+#Broker Name\s+#BID\s+#Addr/);
    expect(cl.out).toContain(c.brokerAddr);
    const clj = await mqJson<Array<{ cluster: string; brokerName: string; addr: string; activated: string }>>('clusterList');
    expect(clj).toEqual([expect.objectContaining({ cluster: 'TestCluster', brokerName: c.brokerName, addr: c.brokerAddr, activated: 'true' })]);

    const bs = await mqJson<Record<string, string>>('brokerStatus', '-b', c.brokerAddr);
    expect(bs['brokerVersionDesc']).toBeDefined();
    expect(Number(bs['msgPutTotalTodayNow'])).toBeGreaterThanOrEqual(0);

    const cfg = await mqJson<Record<string, string>>('getBrokerConfig', '-b', c.brokerAddr);
    expect(cfg['brokerName']).toBe(c.brokerName);
    expect(cfg['longPollingEnable']).toBe('true');
    expect((await mq('updateBrokerConfig', '-c', 'TestCluster', '-k', 'longPollingEnable', '-v', 'false')).code).toBe(0);
    expect((await mqJson<Record<string, string>>('getBrokerConfig', '-c', 'TestCluster'))['longPollingEnable']).toBe('false');
    await mq('updateBrokerConfig', '-b', c.brokerAddr, '-k', 'longPollingEnable', '-v', 'true');
    const unreachable = await mq('getBrokerConfig', '-b', '127.0.0.1:1');
    expect(unreachable.code).toBe(1);
    expect(unreachable.err).toMatch(/getBrokerConfig command failed: .*127\.0\.0\.1:1/);

    const ns = await mq('getNamesrvConfig');
    expect(ns.code).toBe(0);
    expect(ns.out).toContain(`============${c.namesrvAddr}============`);
    expect(ns.out).toMatch(/listenPort\s+=\s+\d+/);
  });

  it('timerStatus and brokerStatus show pending timer messages', async () => {
    const topic = uniq('AdminTimer');
    const p = new Producer({ group: uniq('PG_TIMER'), namesrvAddr: c.namesrvAddr, logger: quiet });
    await p.start();
    closers.push(p);
    for (let i = 0; i < 3; i++) await p.send(new Message(topic, Buffer.from(`t${i}`), { deliveryTimestamp: Date.now() + 3_600_000 }));
    await waitFor(async () => (await mqJson<{ pending: number }>('timerStatus', '-b', c.brokerAddr)).pending >= 3, {
      timeoutMs: 10_000,
      message: 'pending timers',
    });
    const ts = await mqJson<{ pending: number; topics: Record<string, number>; offsetBehind: number }>('timerStatus', '-b', c.brokerAddr);
    expect(ts.topics[topic]).toBe(3);
    expect(ts.offsetBehind).toBe(0);
    const text = await mq('timerStatus', '-c', 'TestCluster');
    expect(text.code).toBe(0);
    expect(text.out).toMatch(/Pending Timers\s+: \d+/);
    expect(text.out).toMatch(new RegExp(`${topic}\\s+3`));
    const bs = await mqJson<Record<string, string>>('brokerStatus', '-b', c.brokerAddr);
    expect(Number(bs['timerCongestNum'])).toBeGreaterThanOrEqual(3);
    expect(bs['timerReadBehind']).toBeDefined();
  });

  it('updateTopic, topicList, topicRoute, topicStatus and deleteTopic', async () => {
    const topic = uniq('AdminTopic');
    const up = await mq('updateTopic', '-c', 'TestCluster', '-t', topic, '-r', '3', '-w', '3');
    expect(up.code).toBe(0);
    expect(up.out).toContain(`create topic to ${c.brokerAddr} success.`);
    await waitFor(async () => (await mqJson<string[]>('topicList')).includes(topic), { timeoutMs: 10_000 });
    const route = await mqJson<{ queueDatas: Array<{ brokerName: string; readQueueNums: number; writeQueueNums: number; perm: number }> }>(
      'topicRoute',
      '-t',
      topic,
    );
    expect(route.queueDatas).toEqual([expect.objectContaining({ brokerName: c.brokerName, readQueueNums: 3, writeQueueNums: 3, perm: 6 })]);
    expect((await mq('topicRoute', '-t', topic, '-l')).out).toMatch(/#ClusterName\s+#BrokerName\s+#BrokerAddr/);
    const listed = await mq('topicList', '-c');
    expect(listed.out).toMatch(new RegExp(`TestCluster\\s+${topic}`));

    const producer = new Producer({ group: uniq('PG'), namesrvAddr: c.namesrvAddr, logger: quiet });
    await producer.start();
    closers.push(producer);
    for (let i = 0; i < 5; i++) await producer.send(new Message(topic, Buffer.from(`s${i}`)), { queue: { topic, brokerName: c.brokerName, queueId: 1 } });
    const st = await mqJson<Array<{ queueId: number; minOffset: number; maxOffset: number }>>('topicStatus', '-t', topic);
    expect(st.map((s) => [s.queueId, s.maxOffset])).toEqual([
      [0, 0],
      [1, 5],
      [2, 0],
    ]);
    expect((await mq('topicStatus', '-t', topic)).out).toMatch(/#Broker Name\s+#QID\s+#Min Offset\s+#Max Offset\s+#Last Updated\n.*\n\S+\s+1\s+0\s+5/);

    // producerConnection sees the producer (it heartbeats once it knows the broker)
    await waitFor(async () => (await mq('producerConnection', '-g', producer.group, '-t', topic)).code === 0, { timeoutMs: 10_000 });
    expect((await mq('producerConnection', '-g', producer.group, '-t', topic)).out).toContain(producer.clientId!);

    const del = await mq('deleteTopic', '-t', topic, '-c', 'TestCluster');
    expect(del.code).toBe(0);
    await waitFor(async () => !(await mqJson<string[]>('topicList')).includes(topic), { timeoutMs: 10_000 });
    const gone = await mq('topicRoute', '-t', topic);
    expect(gone.code).toBe(1);
    expect(gone.err).toContain('No route info of this topic');
  });

  it('sendMessage, queryMsgById, queryMsgByKey, queryMsgByUniqueKey and consumeMessage', async () => {
    const topic = uniq('AdminMsg');
    expect((await mq('updateTopic', '-b', c.brokerAddr, '-t', topic, '-r', '2', '-w', '2')).code).toBe(0);
    await waitFor(async () => (await mq('topicRoute', '-t', topic)).code === 0, { timeoutMs: 10_000 });
    const sent = await mqJson<{ msgId: string; offsetMsgId: string; sendStatus: string; queueId: number }>(
      'sendMessage',
      '-t',
      topic,
      '-p',
      'hello admin',
      '-k',
      'order-42',
      '-c',
      'TagA',
      '-b',
      c.brokerName,
      '-i',
      '1',
    );
    expect(sent.sendStatus).toBe('SEND_OK');
    expect(sent.queueId).toBe(1);
    const plain = await mq('sendMessage', '-t', topic, '-p', 'second');
    expect(plain.out).toMatch(/#Broker Name\s+#QID\s+#Send Result\s+#MsgId\n\S+\s+\d\s+SEND_OK\s+[0-9A-F]{32}/);

    const byOffsetId = await mq('queryMsgById', '-i', sent.offsetMsgId);
    expect(byOffsetId.code).toBe(0);
    expect(byOffsetId.out).toMatch(/Topic\s+: /);
    expect(byOffsetId.out).toContain('hello admin');
    expect(byOffsetId.out).toMatch(/Tags\s+: \[TagA\]/);

    await waitFor(async () => (await mqJson<unknown[]>('queryMsgByKey', '-t', topic, '-k', 'order-42')).length === 1, {
      timeoutMs: 10_000,
      message: 'index has the key',
    });
    const byKey = await mq('queryMsgByKey', '-t', topic, '-k', 'order-42');
    expect(byKey.out).toMatch(new RegExp(`#Message ID\\s+#QID\\s+#Offset\\n${sent.msgId}\\s+1\\s+0`));
    const byUniq = await mqJson<Array<{ body: string; msgId: string }>>('queryMsgByUniqueKey', '-i', sent.msgId, '-t', topic);
    expect(byUniq.map((m) => m.body)).toEqual(['hello admin']);
    // the client id is not an offset id: with -t it is looked up as a unique key
    expect((await mq('queryMsgById', '-i', sent.msgId, '-t', topic)).out).toContain('hello admin');

    const consumed = await mqJson<Array<{ body: string }>>('consumeMessage', '-t', topic);
    expect(consumed.map((m) => m.body).sort()).toEqual(['hello admin', 'second']);
    const one = await mqJson<Array<{ body: string }>>('consumeMessage', '-t', topic, '-b', c.brokerName, '-i', '1', '-o', '0', '-c', '1');
    expect(one.map((m) => m.body)).toEqual(['hello admin']);
  });

  it('updateSubGroup, consumerConnection, consumerProgress (lag per queue), resetOffsetByTime, deleteSubGroup', async () => {
    const topic = uniq('AdminProg');
    const group = uniq('AdminGroup');
    await mq('updateTopic', '-c', 'TestCluster', '-t', topic, '-r', '2', '-w', '2');
    const sg = await mq('updateSubGroup', '-c', 'TestCluster', '-g', group, '-r', '3');
    expect(sg.code).toBe(0);
    expect(sg.out).toContain('create subscription group to');
    await waitFor(async () => (await mq('topicRoute', '-t', topic)).code === 0, { timeoutMs: 10_000 });

    const producer = new Producer({ group: uniq('PG'), namesrvAddr: c.namesrvAddr, logger: quiet });
    await producer.start();
    closers.push(producer);
    for (let i = 0; i < 10; i++) await producer.send(new Message(topic, Buffer.from(`p${i}`)));
    const t0 = Date.now();

    let consumed = 0;
    let paused = false;
    const k = new PushConsumer({
      group,
      namesrvAddr: c.namesrvAddr,
      logger: quiet,
      consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
      persistConsumerOffsetIntervalMs: 300,
      brokerSuspendMaxTimeMillis: 1000,
    });
    closers.push(k);
    k.subscribe(topic, '*');
    k.registerMessageListener(() => {
      if (paused) return 'RECONSUME_LATER';
      consumed++;
      return 'CONSUME_SUCCESS';
    });
    await k.start();
    await waitFor(() => consumed >= 10, { timeoutMs: 15_000 });

    const conn = await mq('consumerConnection', '-g', group);
    expect(conn.code).toBe(0);
    expect(conn.out).toContain(k.clientId!);
    expect(conn.out).toMatch(new RegExp(`${topic}\\s+\\*`));
    expect(conn.out).toContain('MessageModel: CLUSTERING');

    await waitFor(
      async () => {
        const p = await mqJson<{ diffTotal: number; queues: Array<{ topic: string; consumerOffset: number }> }>('consumerProgress', '-g', group, '-t', topic);
        return p.diffTotal === 0 && p.queues.reduce((s, q) => s + q.consumerOffset, 0) === 10;
      },
      { timeoutMs: 10_000, message: 'progress caught up' },
    );
    // stop consuming, send more: the lag shows per queue
    k.suspend();
    for (let i = 0; i < 6; i++) await producer.send(new Message(topic, Buffer.from(`lag${i}`)));
    const prog = await mqJson<{ diffTotal: number; queues: Array<{ queueId: number; brokerOffset: number; consumerOffset: number; diff: number }> }>(
      'consumerProgress',
      '-g',
      group,
      '-t',
      topic,
    );
    expect(prog.diffTotal).toBe(6);
    for (const q of prog.queues) expect(q.diff).toBe(q.brokerOffset - q.consumerOffset);
    const text = await mq('consumerProgress', '-g', group, '-t', topic);
    expect(text.out).toMatch(/#Topic\s+#Broker Name\s+#QID\s+#Broker Offset\s+#Consumer Offset\s+#Diff\s+#LastTime/);
    expect(text.out).toContain('Diff Total: 6');
    // Without -t: every topic of the group, the same lag.
    const noTopic = await mqJson<{ diffTotal: number; queues: Array<{ topic: string }> }>('consumerProgress', '-g', group);
    expect(noTopic.diffTotal).toBe(6);
    expect(noTopic.queues.map((q) => q.topic)).toContain(topic);
    const all = await mqJson<Array<{ group: string; count: number }>>('consumerProgress');
    expect(all).toEqual(expect.arrayContaining([expect.objectContaining({ group, count: 1 })]));

    // --dryRun while suspended: the committed offsets (10 over both queues), the 10 consumed again; nothing moved.
    const dry = await mqJson<{ replayed: number; skipped: number; queues: Array<{ consumerOffset: number; targetOffset: number; delta: number }> }>(
      'resetOffsetByTime',
      '-g',
      group,
      '-t',
      topic,
      '-s',
      String(t0 - 60_000),
      '--dryRun',
    );
    expect(dry.queues.map((q) => q.targetOffset)).toEqual([0, 0]);
    expect(dry.queues.reduce((n, q) => n + q.consumerOffset, 0)).toBe(10);
    expect([dry.skipped, dry.replayed]).toEqual([0, 10]);
    expect(
      (await mqJson<{ queues: Array<{ consumerOffset: number }> }>('consumerProgress', '-g', group, '-t', topic)).queues.reduce(
        (n, q) => n + q.consumerOffset,
        0,
      ),
    ).toBe(10);
    // rewind to before the first sends: the running consumer is told to move and gets everything again
    paused = true;
    const before = consumed;
    k.resume();
    paused = false;
    const reset = await mqJson<Array<{ queueId: number; offset: number }>>('resetOffsetByTime', '-g', group, '-t', topic, '-s', String(t0 - 60_000));
    expect(reset.map((r) => r.offset)).toEqual([0, 0]);
    await waitFor(() => consumed >= before + 16, { timeoutMs: 20_000, message: 'consumed again after the reset' });

    await k.shutdown();
    const del = await mq('deleteSubGroup', '-c', 'TestCluster', '-g', group, '-r', 'true');
    expect(del.code).toBe(0);
    expect(del.out).toContain(`delete subscription group [${group}]`);
  });

  it('the built bin runs as a process', async () => {
    const bin = join(repoRoot(), 'packages', 'admin', 'dist', 'cli.js');
    if (!existsSync(bin)) return; // built by `pnpm test` / turbo before the suites run
    const { stdout } = await promisify(execFile)(process.execPath, [bin, 'clusterList', '-n', c.namesrvAddr, '--json'], { timeout: 20_000 });
    expect(JSON.parse(stdout)).toEqual([expect.objectContaining({ addr: c.brokerAddr })]);
  });
});
