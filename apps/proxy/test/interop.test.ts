// The official RocketMQ 5.x Node.js client (rocketmq-client-nodejs, unmodified) against our proxy
// in front of a real name server and broker, plus raw v2 requests for what that client never sends.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Message, Producer as RemotingProducer, PushConsumer as RemotingPushConsumer } from '@rocketmq-ts/client';
import { iterateMessageRecords } from '@rocketmq-ts/protocol';
import { waitFor, type TestCluster } from '@rocketmq-ts/testing';
import { ConsumeResult, Producer, PushConsumer, SimpleConsumer, type MessageView } from 'rocketmq-client-nodejs';
import { MQAdmin, RawGrpc, createTopic, quietLogger, startCluster, startProxy, uniqueName, type ProxyHandle } from './harness.js';

let c: TestCluster;
let proxy: ProxyHandle;
let admin: MQAdmin;
let raw: RawGrpc;
const logger = quietLogger();
const closers: Array<() => Promise<unknown>> = [];
const COMMIT = 1 as never;
const ROLLBACK = 2 as never;

beforeAll(async () => {
  c = await startCluster('proxy', { broker: { reviveInterval: 200, transactionTimeOut: 1000, transactionCheckInterval: 500 } });
  // Auto-renewed receives get 4 s of invisibility, renewed 2 s before it ends: a slow listener shows renewal quickly.
  proxy = await startProxy(c, 'proxy-a', {
    minInvisibleTimeMillsForRecv: 1000,
    defaultInvisibleTimeMills: 4000,
    renewAheadTimeMillis: 2000,
    renewSchedulePeriodMillis: 500,
  });
  admin = new MQAdmin({ namesrvAddr: c.namesrvAddr });
  raw = new RawGrpc(proxy.endpoints);
});

afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
  raw?.close();
  await admin?.shutdown();
  await proxy?.process.stop('SIGTERM', 5000);
  await c?.stop();
});

async function producer(topics: string[], extra: Record<string, unknown> = {}): Promise<Producer> {
  const p = new Producer({ endpoints: proxy.endpoints, namespace: '', topics, logger, requestTimeout: 3000, ...extra });
  await p.startup();
  closers.push(() => p.shutdown());
  return p;
}

async function simpleConsumer(topic: string, group = uniqueName('G_PX'), tag = '*'): Promise<SimpleConsumer> {
  const sc = new SimpleConsumer({
    endpoints: proxy.endpoints,
    namespace: '',
    consumerGroup: group,
    subscriptions: new Map([[topic, tag]]),
    awaitDuration: 5000,
    logger,
  });
  await sc.startup();
  closers.push(() => sc.shutdown());
  return sc;
}

/** Receives until `n` messages came or `ms` passed; acks each when `ack`. */
async function receiveUntil(sc: SimpleConsumer, n: number, ms: number, o: { ack?: boolean; invisibleMs?: number } = {}): Promise<MessageView[]> {
  const out: MessageView[] = [];
  const deadline = Date.now() + ms;
  while (out.length < n && Date.now() < deadline) {
    for (const m of await sc.receive(16, o.invisibleMs ?? 15_000)) {
      expect(m.corrupted).not.toBe(true);
      out.push(m);
      if (o.ack !== false) await sc.ack(m);
    }
  }
  return out;
}

const route = (topic: string): Record<string, unknown> => ({
  topic: { name: topic },
  endpoints: { scheme: 1, addresses: [{ host: '127.0.0.1', port: proxy.grpcPort }] },
});

describe('official 5.x client through the proxy', () => {
  it('Producer sends, SimpleConsumer receives and acks; acked messages never come back', async () => {
    const topic = uniqueName('T_PX');
    await createTopic(admin, c, topic);
    const p = await producer([topic]);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await p.send({ topic, tag: 'A', keys: [`k${i}`], body: Buffer.from(`hello ${i}`), properties: new Map([['p', String(i)]]) });
      ids.push(r.messageId);
    }
    const sc = await simpleConsumer(topic);
    const got = await receiveUntil(sc, 5, 30_000);
    expect(got.map((m) => m.messageId).sort()).toEqual([...ids].sort());
    expect(got.map((m) => m.body.toString()).sort()).toEqual([0, 1, 2, 3, 4].map((i) => `hello ${i}`));
    for (const m of got) {
      expect(m.tag).toBe('A');
      expect(m.keys).toEqual([`k${m.body.toString().slice(-1)}`]);
      expect(m.properties.get('p')).toBe(m.body.toString().slice(-1));
      expect(m.deliveryAttempt).toBe(1);
    }
    // Acked: nothing more within a while (the invisible time was 15 s, so a missed ack would not show; use 1 s).
    expect(await receiveUntil(sc, 1, 3000, { invisibleMs: 1000 })).toEqual([]);
  });

  it('an un-acked message comes back with its delivery attempt counted; changeInvisibleDuration gives a handle the ack accepts', async () => {
    const topic = uniqueName('T_INV');
    await createTopic(admin, c, topic, 1);
    const p = await producer([topic]);
    await p.send({ topic, body: Buffer.from('again') });
    await p.send({ topic, body: Buffer.from('changed') });
    const sc = await simpleConsumer(topic);
    const first = await receiveUntil(sc, 2, 20_000, { ack: false, invisibleMs: 1000 });
    expect(first.map((m) => m.body.toString()).sort()).toEqual(['again', 'changed']);
    const changed = first.find((m) => m.body.toString() === 'changed')!;
    const before = changed.receiptHandle;
    await sc.changeInvisibleDuration(changed, 30_000);
    expect(changed.receiptHandle).not.toBe(before);
    await sc.ack(changed);
    const again = await receiveUntil(sc, 1, 20_000, { invisibleMs: 1000 });
    expect(again.map((m) => m.body.toString())).toEqual(['again']);
    expect(again[0]!.deliveryAttempt).toBe(2);
    // 'changed' was acked with the renewed handle: it does not come back.
    expect(await receiveUntil(sc, 1, 3000, { invisibleMs: 1000 })).toEqual([]);
  });

  it('FIFO: messages of one group arrive in order to an orderly group', async () => {
    const topic = uniqueName('T_FIFO');
    await createTopic(admin, c, topic, 4, undefined, 'FIFO');
    const group = uniqueName('G_FIFO');
    await admin.createOrUpdateSubGroup(c.brokerAddr, { groupName: group, consumeMessageOrderly: true });
    const p = await producer([topic]);
    for (let i = 0; i < 10; i++) await p.send({ topic, messageGroup: i % 2 === 0 ? 'even' : 'odd', body: Buffer.from(String(i)) });
    const sc = await simpleConsumer(topic, group);
    const got = await receiveUntil(sc, 10, 30_000);
    const seq = (g: string): number[] => got.filter((m) => m.messageGroup === g).map((m) => Number(m.body.toString()));
    expect(seq('even')).toEqual([0, 2, 4, 6, 8]);
    expect(seq('odd')).toEqual([1, 3, 5, 7, 9]);
  });

  it('delay: a message with a delivery timestamp is not received before it', async () => {
    const topic = uniqueName('T_DELAY');
    await createTopic(admin, c, topic, 1, undefined, 'DELAY');
    const p = await producer([topic]);
    const at = Date.now() + 3000;
    await p.send({ topic, body: Buffer.from('later'), deliveryTimestamp: new Date(at) });
    const sc = await simpleConsumer(topic);
    const got = await receiveUntil(sc, 1, 20_000);
    expect(got.map((m) => m.body.toString())).toEqual(['later']);
    expect(Date.now()).toBeGreaterThanOrEqual(at - 50);
    expect(got[0]!.deliveryTimestamp?.getTime()).toBe(at);
  });

  it('RecallMessage: a recalled delay message is never received, its neighbour is; a handle of another topic is BAD_REQUEST', async () => {
    const topic = uniqueName('T_RECALL');
    await createTopic(admin, c, topic, 1, undefined, 'DELAY');
    const p = await producer([topic]);
    const at = new Date(Date.now() + 2500);
    const keep = await p.send({ topic, body: Buffer.from('keep'), deliveryTimestamp: at });
    const drop = await p.send({ topic, body: Buffer.from('drop'), deliveryTimestamp: at });
    expect(drop.recallHandle).toBeTruthy();
    const recalled = await p.recallMessage(topic, drop.recallHandle);
    expect(recalled.messageId).toBe(drop.messageId);
    expect(keep.recallHandle).toBeTruthy();
    // The handle names T_RECALL: asked on another topic, the proxy refuses it.
    const other = uniqueName('T_RECALL_OTHER');
    await createTopic(admin, c, other, 1, undefined, 'DELAY');
    const p2 = await producer([other]);
    await expect(p2.recallMessage(other, keep.recallHandle)).rejects.toThrow(/40000|topic not match/);
    const sc = await simpleConsumer(topic);
    const got = await receiveUntil(sc, 2, 8_000);
    expect(got.map((m) => m.body.toString())).toEqual(['keep']);
  });

  it('message.type: a FIFO message to a NORMAL topic is refused with MESSAGE_PROPERTY_CONFLICT_WITH_TYPE and not stored; a MIXED topic takes every type', async () => {
    const normal = uniqueName('T_NORMAL');
    const mixed = uniqueName('T_MIXED');
    await createTopic(admin, c, normal, 1);
    await createTopic(admin, c, mixed, 1, undefined, 'MIXED');
    const p = await producer([normal, mixed]);
    await expect(p.send({ topic: normal, messageGroup: 'g', body: Buffer.from('fifo') })).rejects.toThrow(/40014|message\.type/);
    await expect(p.send({ topic: normal, body: Buffer.from('later'), deliveryTimestamp: new Date(Date.now() + 60_000) })).rejects.toThrow(
      /40014|message\.type/,
    );
    await p.send({ topic: normal, body: Buffer.from('plain') });
    await p.send({ topic: mixed, messageGroup: 'g', body: Buffer.from('fifo') });
    await p.send({ topic: mixed, body: Buffer.from('plain') });
    const stats = await admin.topicStats(normal);
    expect(stats.reduce((n, q) => n + q.maxOffset - q.minOffset, 0)).toBe(1);
    const mixedStats = await admin.topicStats(mixed);
    expect(mixedStats.reduce((n, q) => n + q.maxOffset - q.minOffset, 0)).toBe(2);
  });

  it('transactions: commit is delivered, rollback is not, an unknown one is settled by the checker', async () => {
    const topic = uniqueName('T_TX');
    await createTopic(admin, c, topic, 1, undefined, 'TRANSACTION');
    const checked: string[] = [];
    const p = await producer([topic], {
      checker: {
        async check(m: MessageView) {
          checked.push(m.body.toString());
          return m.body.toString() === 'orphan-commit' ? COMMIT : ROLLBACK;
        },
      },
    });
    const send = async (body: string): Promise<{ commit(): Promise<void>; rollback(): Promise<void> }> => {
      const tx = p.beginTransaction();
      await p.send({ topic, body: Buffer.from(body) }, tx);
      return tx;
    };
    await (await send('committed')).commit();
    await (await send('rolled-back')).rollback();
    await send('orphan-commit'); // never ended by the client: the broker checks back
    await send('orphan-rollback');
    const sc = await simpleConsumer(topic);
    const got = await receiveUntil(sc, 2, 30_000);
    expect(got.map((m) => m.body.toString()).sort()).toEqual(['committed', 'orphan-commit']);
    expect(checked).toEqual(expect.arrayContaining(['orphan-commit', 'orphan-rollback']));
    expect(await receiveUntil(sc, 1, 3000, { invisibleMs: 1000 })).toEqual([]);
  });

  it('PushConsumer consumes with a listener; a message that keeps failing ends in the DLQ', async () => {
    const topic = uniqueName('T_PUSH');
    await createTopic(admin, c, topic, 2);
    const group = uniqueName('G_PUSH');
    await admin.createOrUpdateSubGroup(c.brokerAddr, { groupName: group, retryMaxTimes: 1 });
    const p = await producer([topic]);
    const seen = new Map<string, number>();
    const pc = new PushConsumer({
      endpoints: proxy.endpoints,
      namespace: '',
      consumerGroup: group,
      subscriptions: new Map([[topic, '*']]),
      logger,
      requestTimeout: 3000,
      messageListener: {
        consume(m: MessageView) {
          const b = m.body.toString();
          seen.set(b, (seen.get(b) ?? 0) + 1);
          return b === 'poison' ? ConsumeResult.FAILURE : ConsumeResult.SUCCESS;
        },
      },
    });
    await pc.startup();
    closers.push(() => pc.shutdown());
    for (let i = 0; i < 5; i++) await p.send({ topic, body: Buffer.from(`ok${i}`) });
    await p.send({ topic, body: Buffer.from('poison') });
    await waitFor(() => [0, 1, 2, 3, 4].every((i) => seen.has(`ok${i}`)), { timeoutMs: 30_000, message: 'push consumer got the messages' });
    // retryMaxTimes 1: two deliveries, then %DLQ%group.
    const dlq = `%DLQ%${group}`;
    await waitFor(async () => ((await admin.api.getTopicRouteInfo(dlq)) !== undefined ? true : undefined), { timeoutMs: 40_000, message: 'DLQ topic created' });
    const inDlq = await waitFor(
      async () => {
        const r = await admin.queryMessageByKey(dlq, 'poison').catch(() => []);
        const all = await admin.topicStats(dlq).catch(() => []);
        return all.some((q) => q.maxOffset > 0) ? all : r.length > 0 ? all : undefined;
      },
      { timeoutMs: 40_000, message: 'message in the DLQ' },
    );
    expect(inDlq.reduce((n, q) => n + q.maxOffset, 0)).toBe(1);
    expect(seen.get('poison')).toBe(2);
    for (let i = 0; i < 5; i++) expect(seen.get(`ok${i}`)).toBe(1);
  });

  it('PushConsumer: a message that takes longer than its invisible time is renewed by the proxy, consumed once, and the ack settles it', async () => {
    const topic = uniqueName('T_RENEW');
    await createTopic(admin, c, topic, 1);
    const p = await producer([topic]);
    const calls: Array<{ body: string; attempt: number | undefined }> = [];
    const pc = new PushConsumer({
      endpoints: proxy.endpoints,
      namespace: '',
      consumerGroup: uniqueName('G_RENEW'),
      subscriptions: new Map([[topic, '*']]),
      logger,
      requestTimeout: 3000,
      messageListener: {
        async consume(m: MessageView) {
          calls.push({ body: m.body.toString(), attempt: m.deliveryAttempt });
          if (m.body.toString() === 'slow') await new Promise((r) => setTimeout(r, 9000));
          return ConsumeResult.SUCCESS;
        },
      },
    });
    await pc.startup();
    closers.push(() => pc.shutdown());
    await p.send({ topic, body: Buffer.from('slow') });
    await waitFor(() => calls.length > 0, { timeoutMs: 20_000, message: 'the slow message arrived' });
    // 9 s of work against 4 s of invisibility: without renewal it would have come back twice meanwhile.
    await new Promise((r) => setTimeout(r, 14_000));
    expect(calls).toEqual([{ body: 'slow', attempt: 1 }]);
  });

  it('operator endpoints reach a client through its telemetry stream: list, thread stack, verify', async () => {
    const topic = uniqueName('T_OPS');
    await createTopic(admin, c, topic, 1);
    const group = uniqueName('G_OPS');
    await simpleConsumer(topic, group);
    const http = `http://127.0.0.1:${proxy.httpPort}`;
    const clients = (await (await fetch(`${http}/clients`)).json()) as Array<{ clientId: string; kind: string; group: string; topics: string[] }>;
    const mine = clients.find((x) => x.group === group);
    expect(mine).toMatchObject({ kind: 'SIMPLE_CONSUMER', topics: [topic] });
    const stack = (await (await fetch(`${http}/clients/${encodeURIComponent(mine!.clientId)}/stack`)).json()) as { threadStackTrace: string };
    expect(typeof stack.threadStackTrace).toBe('string');
    expect(stack.threadStackTrace.length).toBeGreaterThan(0);
    const p = await producer([topic]);
    await p.send({ topic, body: Buffer.from('verify me') });
    const stats = await admin.topicStats(topic);
    expect(stats.reduce((n, q) => n + q.maxOffset, 0)).toBe(1);
    const found = await admin.api.pullMessage(
      c.brokerAddr,
      {
        consumerGroup: 'G_OPS_READ',
        mq: { topic, brokerName: c.brokerName, queueId: 0 },
        queueOffset: 0,
        maxMsgNums: 1,
        sysFlag: 4,
        commitOffset: 0,
        suspendTimeoutMillis: 0,
        subscription: '*',
        subVersion: 0,
      },
      3000,
    );
    const offsetMsgId = iterateMessageRecords(found.body!).next().value!.msgId;
    const verify = await fetch(`${http}/clients/${encodeURIComponent(mine!.clientId)}/verify?offsetMsgId=${offsetMsgId}&topic=${topic}`, { method: 'POST' });
    expect(verify.status).toBe(201);
    // The official Node.js client does not verify messages: it answers NOT_IMPLEMENTED, which the proxy passes on.
    expect(((await verify.json()) as { status: { name: string } }).status.name).toBe('NOT_IMPLEMENTED');
    expect((await fetch(`${http}/clients/nobody/stack`)).status).toBe(404);
  });

  it('a 4.x remoting producer and a 5.x consumer share a topic, and the other way round', async () => {
    const topic = uniqueName('T_MIX');
    await createTopic(admin, c, topic, 2);
    const rp = new RemotingProducer({ group: uniqueName('PG_MIX'), namesrvAddr: c.namesrvAddr });
    await rp.start();
    closers.push(() => rp.shutdown());
    await rp.send(new Message(topic, Buffer.from('from-4x'), { tags: 'X', keys: 'k4', properties: { origin: '4x' } }));
    const sc = await simpleConsumer(topic);
    const got = await receiveUntil(sc, 1, 20_000);
    expect(got.map((m) => [m.body.toString(), m.tag, m.keys, m.properties.get('origin')])).toEqual([['from-4x', 'X', ['k4'], '4x']]);

    const received: string[] = [];
    const pc = new RemotingPushConsumer({ group: uniqueName('CG_MIX'), namesrvAddr: c.namesrvAddr, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' })
      .subscribe(topic, 'Y')
      .registerMessageListener((msgs) => {
        for (const m of msgs) received.push(`${m.body.toString()}|${m.tags ?? ''}|${m.properties.get('origin') ?? ''}`);
        return 'CONSUME_SUCCESS';
      });
    await pc.start();
    closers.push(() => pc.shutdown());
    const p = await producer([topic]);
    await p.send({ topic, tag: 'Y', body: Buffer.from('from-5x'), properties: new Map([['origin', '5x']]) });
    await waitFor(() => received.length > 0, { timeoutMs: 30_000, message: '4.x consumer got the 5.x message' });
    expect(received).toEqual(['from-5x|Y|5x']);
  });
});

describe('bad input gets the status RocketMQ proxy gives', () => {
  it('unknown topic: QueryRoute answers TOPIC_NOT_FOUND', async () => {
    const r = await raw.unary<{ status: { code: number } }>('QueryRoute', route(uniqueName('NOPE')));
    expect(r.status.code).toBe(40402);
  });

  it('malformed and expired receipt handles: INVALID_RECEIPT_HANDLE', async () => {
    const topic = uniqueName('T_BAD');
    await createTopic(admin, c, topic, 1);
    const r = await raw.unary<{ status: { code: number }; entries: Array<{ status: { code: number } }> }>('AckMessage', {
      group: { name: 'G_BAD' },
      topic: { name: topic },
      entries: [{ messageId: 'x', receiptHandle: 'not a handle' }],
    });
    expect(r.status.code).toBe(40013);
    expect(r.entries[0]!.status.code).toBe(40013);
    const expired = `0 ${Date.now() - 60_000} 1000 0 0 broker 0 0 0`;
    const ch = await raw.unary<{ status: { code: number; message: string } }>('ChangeInvisibleDuration', {
      group: { name: 'G_BAD' },
      topic: { name: topic },
      receiptHandle: expired,
      invisibleDuration: { seconds: 5 },
      messageId: 'x',
    });
    expect(ch.status.code).toBe(40013);
    expect(ch.status.message).toMatch(/expired/);
  });

  it('oversized body, empty body, bad tag, reserved property, digest mismatch: each its own code, nothing stored', async () => {
    const topic = uniqueName('T_SIZE');
    await createTopic(admin, c, topic, 1);
    const msg = (o: Record<string, unknown>, body = Buffer.from('x')): Record<string, unknown> => ({
      topic: { name: topic },
      body,
      systemProperties: { messageId: `01${Date.now()}`, messageType: 1, bodyEncoding: 1, ...o },
    });
    const send = async (m: Record<string, unknown>): Promise<number> =>
      (await raw.unary<{ status: { code: number } }>('SendMessage', { messages: [m] })).status.code;
    expect(await send(msg({}, Buffer.alloc(4 * 1024 * 1024 + 1)))).toBe(41301);
    expect(await send(msg({}, Buffer.alloc(0)))).toBe(41302);
    expect(await send(msg({ tag: 'a|b' }))).toBe(40004);
    expect(await send({ ...msg({}), userProperties: { UNIQ_KEY: 'x' } })).toBe(40007);
    expect(await send(msg({ bodyDigest: { type: 1, checksum: '123' } }))).toBe(40016);
    expect(await send(msg({ messageType: 3 }))).toBe(40012);
    expect(await send(msg({ messageType: 2 }))).toBe(40006);
    const stats = await admin.topicStats(topic);
    expect(stats.reduce((n, q) => n + q.maxOffset, 0)).toBe(0);
    // And a well-formed one goes through.
    expect(await send(msg({ bodyDigest: { type: 1, checksum: '907060870' } }, Buffer.from('hello')))).toBe(20000);
  });

  it('receive with an illegal invisible duration or no client id is refused; a client that leaves mid-poll loses nothing', async () => {
    const topic = uniqueName('T_RECV');
    await createTopic(admin, c, topic, 1);
    const group = uniqueName('G_RECV');
    const req = {
      group: { name: group },
      messageQueue: { topic: { name: topic }, id: 0, broker: { name: c.brokerName } },
      filterExpression: { type: 1, expression: '*' },
      batchSize: 4,
      invisibleDuration: { seconds: 0, nanos: 1 },
      autoRenew: false,
      longPollingTimeout: { seconds: 5 },
    };
    const bad = await raw.stream<{ status?: { code: number } }>('ReceiveMessage', req);
    expect(bad.find((r) => r.status)?.status?.code).toBe(40011);
    const anon = new RawGrpc(proxy.endpoints, '');
    const noId = await anon.stream<{ status?: { code: number } }>('ReceiveMessage', { ...req, invisibleDuration: { seconds: 20 } });
    anon.close();
    expect(noId.find((r) => r.status)?.status?.code).toBe(40017);

    // A receive that is abandoned by its client while it long-polls: the message that arrives meanwhile is not lost.
    const leaving = new RawGrpc(proxy.endpoints);
    const call = leaving.open('ReceiveMessage', { ...req, invisibleDuration: { seconds: 60 } }, 8000);
    const ended = new Promise((r) => {
      call.on('error', r);
      call.on('end', r);
    });
    await new Promise((r) => setTimeout(r, 500));
    call.cancel();
    await ended;
    leaving.close();
    const p = await producer([topic]);
    await p.send({ topic, body: Buffer.from('not lost') });
    const sc = await simpleConsumer(topic, group);
    const got = await receiveUntil(sc, 1, 40_000);
    expect(got.map((m) => m.body.toString())).toEqual(['not lost']);
  });

  it('offsets and pull for a pull-style client', async () => {
    const topic = uniqueName('T_PULL');
    await createTopic(admin, c, topic, 1);
    const p = await producer([topic]);
    for (let i = 0; i < 3; i++) await p.send({ topic, body: Buffer.from(`p${i}`) });
    const mq = { topic: { name: topic }, id: 0, broker: { name: c.brokerName } };
    const end = await raw.unary<{ status: { code: number }; offset: number }>('QueryOffset', { messageQueue: mq, queryOffsetPolicy: 1 });
    expect(end.offset).toBe(3);
    const pulled = await raw.stream<{ message?: { body: Buffer }; nextOffset?: number; status?: { code: number } }>('PullMessage', {
      group: { name: 'G_PULL' },
      messageQueue: mq,
      offset: 1,
      batchSize: 10,
      filterExpression: { type: 1, expression: '*' },
      longPollingTimeout: { seconds: 1 },
    });
    expect(pulled.filter((r) => r.message).map((r) => r.message!.body.toString())).toEqual(['p1', 'p2']);
    expect(pulled.find((r) => r.nextOffset !== undefined)?.nextOffset).toBe(3);
    // An unknown group's offset: the broker answers 0 while the queue still starts at 0 (as RocketMQ's does).
    const none = await raw.unary<{ status: { code: number }; offset?: number }>('GetOffset', { group: { name: uniqueName('G_NEW') }, messageQueue: mq });
    expect([none.status.code, none.offset ?? 0]).toEqual([20000, 0]);
    expect((await raw.unary<{ status: { code: number } }>('UpdateOffset', { group: { name: 'G_PULL' }, messageQueue: mq, offset: 2 })).status.code).toBe(20000);
    const got = await raw.unary<{ status: { code: number }; offset: number }>('GetOffset', { group: { name: 'G_PULL' }, messageQueue: mq });
    expect(got.offset).toBe(2);
  });

  it('acks arriving in one turn for one broker go as one BATCH_ACK_MESSAGE; each entry gets its own result, a bad handle its own error', async () => {
    const metric = async (name: string): Promise<number> => {
      const text = await (await fetch(`http://127.0.0.1:${proxy.httpPort}/metrics`)).text();
      const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
      return m ? Number(m[1]) : 0;
    };
    const topic = uniqueName('T_BACK');
    await createTopic(admin, c, topic, 2);
    const p = await producer([topic]);
    for (let i = 0; i < 6; i++) await p.send({ topic, tag: 'A', body: Buffer.from(`b${i}`) });
    const group = uniqueName('G_BACK');
    const sc = await simpleConsumer(topic, group);
    const got = await receiveUntil(sc, 6, 30_000, { ack: false, invisibleMs: 3000 });
    expect(got).toHaveLength(6);
    const [batches0, acks0] = [await metric('rocketmq_proxy_ack_batches_total'), await metric('rocketmq_proxy_batched_acks_total')];
    type AckAnswer = { status: { code: number }; entries: Array<{ messageId: string; status: { code: number; message: string } }> };
    const entry = (m: MessageView): { messageId: string; receiptHandle: string } => ({ messageId: m.messageId, receiptHandle: m.receiptHandle });
    const bad = { messageId: 'bad', receiptHandle: 'not a handle' };
    const [a, b] = await Promise.all([
      raw.unary<AckAnswer>('AckMessage', { group: { name: group }, topic: { name: topic }, entries: [...got.slice(0, 4).map(entry), bad] }),
      raw.unary<AckAnswer>('AckMessage', { group: { name: group }, topic: { name: topic }, entries: got.slice(4).map(entry) }),
    ]);
    expect(a.status.code).toBe(30000);
    expect(a.entries.map((e) => [e.messageId, e.status.code])).toEqual([...got.slice(0, 4).map((m) => [m.messageId, 20000]), ['bad', 40013]]);
    expect(b.status.code).toBe(20000);
    expect(b.entries.map((e) => e.status.code)).toEqual([20000, 20000]);
    const batches = (await metric('rocketmq_proxy_ack_batches_total')) - batches0;
    const batched = (await metric('rocketmq_proxy_batched_acks_total')) - acks0;
    expect(batches).toBeGreaterThanOrEqual(1);
    expect(batches).toBeLessThan(6);
    expect(batched).toBeGreaterThanOrEqual(4);
    // The batch acked for real: nothing comes back once the 3 s invisibility has passed.
    await new Promise((r) => setTimeout(r, 3500));
    expect(await receiveUntil(sc, 1, 3000, { invisibleMs: 1000 })).toEqual([]);
  });

  it('/metrics has rpc latency by method and code, /health and /ready answer', async () => {
    const text = await (await fetch(`http://127.0.0.1:${proxy.httpPort}/metrics`)).text();
    expect(text).toMatch(/rocketmq_rpc_latency_count\{[^}]*protocol_type="grpc"[^}]*request_code="SendMessage"[^}]*response_code="ok"/);
    expect(text).toMatch(/rocketmq_messages_in_total\{[^}]*topic="T_/);
    expect((await fetch(`http://127.0.0.1:${proxy.httpPort}/health`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${proxy.httpPort}/ready`)).status).toBe(200);
  });
});
