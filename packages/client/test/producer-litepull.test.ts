import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { waitFor, startCluster, type TestCluster } from '@rocketmq-ts/testing';
import { decodeOffsetMsgId, PermName } from '@rocketmq-ts/protocol';
import {
  LatencyFaultTolerance,
  LitePullConsumer,
  MQClientError,
  MQError,
  Message,
  Producer,
  ResponseCode,
  mqKey,
  type MessageQueue,
  type ReceivedMessage,
  type SendResult,
} from '../src/index.js';
import { captureLogger, createTopic, uniqueName } from './helpers.js';

let c: TestCluster;
let producer: Producer;
const logger = captureLogger();
const closers: Array<() => Promise<void>> = [];

beforeAll(async () => {
  c = await startCluster('prod');
  producer = new Producer({ group: uniqueName('PG'), namesrvAddr: c.namesrvAddr, logger });
  await producer.start();
  closers.push(() => producer.shutdown());
});

afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
  await c?.stop();
});

/** Waits until the name server has the topic's route (brokers register new topics asynchronously). */
async function waitRoute(topic: string): Promise<void> {
  await waitFor(async () => (await producer.clientInstance.api.getTopicRouteInfo(topic)) !== undefined, { timeoutMs: 10_000, message: `route of ${topic}` });
}

async function liteConsumer(extra: Partial<ConstructorParameters<typeof LitePullConsumer>[0]> = {}): Promise<LitePullConsumer> {
  const lc = new LitePullConsumer({
    group: uniqueName('LG'),
    namesrvAddr: c.namesrvAddr,
    logger,
    consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
    brokerSuspendMaxTimeMillis: 1000,
    ...extra,
  });
  closers.push(() => lc.shutdown());
  return lc;
}

/** Polls until `n` messages came (or the deadline passes). */
async function pollN(lc: LitePullConsumer, n: number, timeoutMs = 15_000): Promise<ReceivedMessage[]> {
  const out: ReceivedMessage[] = [];
  const deadline = Date.now() + timeoutMs;
  while (out.length < n && Date.now() < deadline) out.push(...(await lc.poll(500)));
  return out;
}

describe('producer', () => {
  it('sends sync, async, oneway and batch; a lite pull consumer reads every message once', async () => {
    const topic = uniqueName('T_SEND');
    const sync: SendResult[] = [];
    for (let i = 0; i < 8; i++) sync.push(await producer.send(new Message(topic, Buffer.from(`sync-${i}`), { tags: 'A', keys: [`k${i}`, 'common'] })));
    for (const r of sync) {
      expect(r.sendStatus).toBe('SEND_OK');
      expect(r.msgId).toMatch(/^[0-9A-F]{32}$/);
      const off = decodeOffsetMsgId(r.offsetMsgId)!;
      expect(`${off.address}:${off.port}`).toBe(c.brokerAddr);
      expect(r.messageQueue.topic).toBe(topic);
    }
    // round robin over the 4 auto-created queues
    expect(new Set(sync.map((r) => r.messageQueue.queueId)).size).toBe(4);

    const asyncResults = await Promise.all(
      [0, 1, 2, 3].map(
        (i) =>
          new Promise<SendResult>((resolve, reject) =>
            producer.sendAsync(new Message(topic, Buffer.from(`async-${i}`)), { onSuccess: resolve, onException: reject }),
          ),
      ),
    );
    expect(asyncResults.every((r) => r.sendStatus === 'SEND_OK')).toBe(true);
    for (let i = 0; i < 3; i++) await producer.sendOneway(new Message(topic, Buffer.from(`oneway-${i}`)));
    const batch = [0, 1, 2, 3, 4].map((i) => new Message(topic, Buffer.from(`batch-${i}`), { keys: `bk${i}` }));
    const br = await producer.send(batch);
    expect(br.msgId.split(',')).toEqual(batch.map((m) => m.getUniqKey()));
    expect(br.offsetMsgId.split(',')).toHaveLength(5);

    await waitRoute(topic);
    const lc = await liteConsumer();
    await lc.start();
    const mqs = await lc.fetchMessageQueues(topic);
    expect(mqs).toHaveLength(4);
    await lc.assign(mqs);
    const got = await pollN(lc, 20);
    const bodies = got.map((m) => m.body.toString()).sort();
    const expected = [
      ...[0, 1, 2, 3, 4, 5, 6, 7].map((i) => `sync-${i}`),
      ...[0, 1, 2, 3].map((i) => `async-${i}`),
      ...[0, 1, 2].map((i) => `oneway-${i}`),
      ...[0, 1, 2, 3, 4].map((i) => `batch-${i}`),
    ].sort();
    expect(bodies).toEqual(expected);
    // ids, keys and tags survive the trip
    const s0 = got.find((m) => m.body.toString() === 'sync-0')!;
    expect(s0.msgId).toBe(sync[0]!.msgId);
    expect(s0.offsetMsgId).toBe(sync[0]!.offsetMsgId);
    expect(s0.tags).toBe('A');
    expect(s0.keys).toEqual(['k0', 'common']);
    expect(got.find((m) => m.body.toString() === 'batch-3')!.msgId).toBe(batch[3]!.getUniqKey());
    // nothing more arrives
    expect(await lc.poll(700)).toEqual([]);
  });

  it('sends to a chosen queue and through a selector (ordered by sharding key)', async () => {
    const topic = uniqueName('T_ORDER');
    await producer.send(new Message(topic, Buffer.from('warm-up')));
    const mqs = await producer.fetchPublishMessageQueues(topic);
    const target = mqs[2]!;
    const r = await producer.send(new Message(topic, Buffer.from('chosen')), { queue: target });
    expect(r.messageQueue).toEqual(target);
    const byKey = new Map<string, Set<number>>();
    for (let i = 0; i < 30; i++) {
      const key = `order-${i % 5}`;
      const res = await producer.send(new Message(topic, Buffer.from(`${key}:${i}`)), { shardingKey: key });
      if (!byKey.has(key)) byKey.set(key, new Set());
      byKey.get(key)!.add(res.messageQueue.queueId);
    }
    for (const qs of byKey.values()) expect(qs.size).toBe(1);
    const custom = await producer.send(new Message(topic, Buffer.from('custom')), { selector: (all, _m, arg) => all[Number(arg) % all.length]!, arg: 5 });
    expect(custom.messageQueue.queueId).toBe(5 % mqs.length);

    // Per queue the consumer sees each key's messages in send order.
    await waitRoute(topic);
    const lc = await liteConsumer();
    await lc.start();
    await lc.assign(await lc.fetchMessageQueues(topic));
    const got = await pollN(lc, 33);
    const seq = new Map<string, number[]>();
    for (const m of got.sort((a, b) => a.queueId - b.queueId || a.queueOffset - b.queueOffset)) {
      const [key, i] = m.body.toString().split(':');
      if (i === undefined) continue;
      seq.set(key!, [...(seq.get(key!) ?? []), Number(i)]);
    }
    for (const list of seq.values()) expect(list).toEqual([...list].sort((a, b) => a - b));
  });

  it('keeps user properties, compresses big bodies, and delays by level', async () => {
    const topic = uniqueName('T_PROPS');
    const big = Buffer.from('rocketmq '.repeat(2000)); // 18 000 bytes, compresses well
    await producer.send(new Message(topic, big, { tags: 'BIG', properties: { color: 'blue', 'x-trace': '42' } }));
    const delayed = new Message(topic, Buffer.from('later'), { tags: 'DELAYED' });
    delayed.setDelayTimeLevel(1); // 1 s with the default levels
    const sentAt = Date.now();
    await producer.send(delayed);
    await waitRoute(topic);
    const lc = await liteConsumer();
    await lc.start();
    await lc.assign(await lc.fetchMessageQueues(topic));
    const got = await pollN(lc, 2, 20_000);
    const b = got.find((m) => m.tags === 'BIG')!;
    expect(b.body.equals(big)).toBe(true);
    expect(b.storeSize).toBeLessThan(big.length); // stored compressed
    expect(b.properties.get('color')).toBe('blue');
    expect(b.properties.get('x-trace')).toBe('42');
    const d = got.find((m) => m.tags === 'DELAYED')!;
    expect(d.body.toString()).toBe('later');
    expect(d.storeTimestamp - sentAt).toBeGreaterThanOrEqual(800);
  });

  it('deliverAt / deliveryTimestamp: timer messages arrive at their time, in the queue the send reply named', async () => {
    const topic = uniqueName('T_TIMER');
    const sentAt = Date.now();
    const at = new Message(topic, Buffer.from('at'), { tags: 'AT', deliveryTimestamp: new Date(sentAt + 2000) });
    expect(at.deliveryTimestamp).toBe(sentAt + 2000);
    const viaSetter = new Message(topic, Buffer.from('setter'), { tags: 'SET' });
    viaSetter.deliveryTimestamp = sentAt + 1500;
    const sec = new Message(topic, Buffer.from('sec'), { tags: 'SEC' }).setDelayTimeSec(1);
    const results = [await producer.send(at), await producer.send(viaSetter), await producer.send(sec)];
    for (const r of results) expect(r.sendStatus).toBe('SEND_OK');
    expect(() => new Message(topic).deliverAt(Number.NaN)).toThrow(RangeError);
    await waitRoute(topic);
    const lc = await liteConsumer();
    await lc.start();
    await lc.assign(await lc.fetchMessageQueues(topic));
    const got = await pollN(lc, 3, 20_000);
    expect(got.map((m) => m.tags).sort()).toEqual(['AT', 'SEC', 'SET']);
    for (const m of got) {
      const due = m.tags === 'AT' ? sentAt + 2000 : m.tags === 'SET' ? sentAt + 1500 : sentAt + 1000;
      expect(m.storeTimestamp).toBeGreaterThanOrEqual(due - 5);
      expect(m.storeTimestamp - due).toBeLessThan(2500);
      // Delivered into the queue the producer chose, with the id the send returned.
      const r = results[['AT', 'SET', 'SEC'].indexOf(m.tags!)]!;
      expect(m.queueId).toBe(r.messageQueue.queueId);
      expect(m.msgId).toBe(r.msgId);
    }
  });

  it('fails over between name servers and explains the usual mistakes with typed errors', async () => {
    // first name server address is dead: the client moves on to the live one
    const p2 = new Producer({ group: uniqueName('PG2'), namesrvAddr: `127.0.0.1:1;${c.namesrvAddr}`, logger, mqClientApiTimeoutMs: 1000 });
    await expect(p2.send(new Message('T', Buffer.from('x')))).rejects.toBeInstanceOf(MQClientError);
    await p2.start();
    closers.push(() => p2.shutdown());
    const r = await p2.send(new Message(uniqueName('T_FAILOVER'), Buffer.from('x')));
    expect(r.sendStatus).toBe('SEND_OK');

    // no route: the template topic does not exist either
    const p3 = new Producer({ group: uniqueName('PG3'), namesrvAddr: c.namesrvAddr, logger, createTopicKey: 'NO_SUCH_TEMPLATE' });
    await p3.start();
    closers.push(() => p3.shutdown());
    const noRoute = await p3.send(new Message(uniqueName('T_NOROUTE'), Buffer.from('x'))).catch((e: unknown) => e);
    expect(noRoute).toBeInstanceOf(MQError);
    expect((noRoute as MQError).code).toBe(ResponseCode.TOPIC_NOT_EXIST);
    expect((noRoute as MQError).message).toMatch(/No route info of this topic.*updateTopic/);

    const bad = await producer.send(new Message('bad topic!', Buffer.from('x'))).catch((e: unknown) => e);
    expect((bad as MQError).code).toBe(ResponseCode.INVALID_PARAMETER);
    expect((bad as MQError).retriable).toBe(false);
    await expect(producer.send(new Message('T', Buffer.alloc(0)))).rejects.toThrow(/body is empty/);

    // a read-only topic: no writable queue, so no route for producers
    const ro = uniqueName('T_RO');
    await createTopic(producer, c.brokerAddr, ro, 2, PermName.PERM_READ);
    const roErr = await producer.send(new Message(ro, Buffer.from('x'))).catch((e: unknown) => e);
    expect((roErr as MQError).code).toBe(ResponseCode.TOPIC_NOT_EXIST);
  });

  it('retries on another broker when one dies and then avoids it', async () => {
    const topic = uniqueName('T_FAIL');
    const b2 = await c.addBroker('broker-prod-2');
    const retriesBefore = logger.events.filter((e) => e.event === 'send.retry').length;
    const p = new Producer({ group: uniqueName('PGF'), namesrvAddr: c.namesrvAddr, logger, sendMsgTimeoutMs: 5000 });
    await p.start();
    closers.push(() => p.shutdown());
    // create the topic on both brokers
    const api = p.clientInstance.api;
    for (const addr of [c.brokerAddr, b2.addr]) await createTopic(p, addr, topic, 2);
    await waitFor(async () => ((await api.getTopicRouteInfo(topic))?.brokerDatas.length ?? 0) === 2, {
      timeoutMs: 15_000,
      message: 'both brokers in the route',
    });
    const mqs = await p.fetchPublishMessageQueues(topic);
    expect(new Set(mqs.map((q) => q.brokerName)).size).toBe(2);
    await b2.process.kill();
    const results: SendResult[] = [];
    for (let i = 0; i < 10; i++) results.push(await p.send(new Message(topic, Buffer.from(`f${i}`))));
    expect(results.every((r) => r.sendStatus === 'SEND_OK' && r.messageQueue.brokerName === c.brokerName)).toBe(true);
    const retries = logger.events.filter((e) => e.event === 'send.retry').length - retriesBefore;
    expect(retries).toBeGreaterThanOrEqual(1);
    // after the first failure the dead broker is avoided: one retry, not one per send
    expect(retries).toBe(1);
  });
});

describe('LatencyFaultTolerance', () => {
  it('avoids slow and failed brokers for a while', () => {
    let now = 1_000_000;
    const f = new LatencyFaultTolerance(() => now);
    f.update('a', 10, false);
    f.update('b', 600, false);
    f.update('c', 5, true);
    expect(f.isAvailable('a')).toBe(true);
    expect(f.isAvailable('b')).toBe(false);
    expect(f.isAvailable('c')).toBe(false);
    now += 30_001;
    expect(f.isAvailable('b')).toBe(true);
    expect(f.isAvailable('c')).toBe(true);
  });
});

describe('lite pull consumer', () => {
  it('seeks, commits, and a new consumer of the group resumes from the commit', async () => {
    const topic = uniqueName('T_LITE');
    const group = uniqueName('LG_RESUME');
    const q: MessageQueue = { topic, brokerName: c.brokerName, queueId: 0 };
    await producer.send(new Message(topic, Buffer.from('init')), { queue: q }).catch(async () => {
      await producer.send(new Message(topic, Buffer.from('init')));
    });
    const mqs = await producer.fetchPublishMessageQueues(topic);
    const q0 = mqs.find((m) => m.queueId === 0)!;
    for (let i = 0; i < 10; i++) await producer.send(new Message(topic, Buffer.from(`m${i}`)), { queue: q0 });

    const lc = await liteConsumer({ group, autoCommit: false });
    await lc.start();
    await lc.assign([q0]);
    const first = await pollN(lc, 11);
    expect(first.map((m) => m.body.toString())).toEqual(['init', ...[0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => `m${i}`)].slice(0, first.length));
    expect(first).toHaveLength(11);
    const base = first[0]!.queueOffset;

    await lc.seek(q0, base + 5);
    const again = await pollN(lc, 6);
    expect(again.map((m) => m.queueOffset)).toEqual([0, 1, 2, 3, 4, 5].map((i) => base + 5 + i));
    await expect(lc.seek(q0, base + 100)).rejects.toThrow(/outside the queue's range/);

    // commit: everything poll() returned so far counts as consumed
    await lc.seek(q0, base + 6);
    const tail = await pollN(lc, 5);
    expect(tail.map((m) => m.queueOffset)).toEqual([6, 7, 8, 9, 10].map((i) => base + i));
    await lc.commitSync();
    expect(await lc.committed(q0)).toBe(base + 11);
    await lc.shutdown();

    for (let i = 0; i < 2; i++) await producer.send(new Message(topic, Buffer.from(`after${i}`)), { queue: q0 });
    const lc2 = await liteConsumer({ group });
    await lc2.start();
    await lc2.assign([q0]);
    const rest = await pollN(lc2, 2, 10_000);
    expect(rest.map((m) => m.body.toString())).toEqual(['after0', 'after1']);
    expect(rest[0]!.queueOffset).toBe(base + 11);
  });

  it('subscribe mode shares the queues of a topic among the group', async () => {
    const topic = uniqueName('T_LITE_SUB');
    for (let i = 0; i < 8; i++) await producer.send(new Message(topic, Buffer.from(`s${i}`)));
    const group = uniqueName('LG_SUB');
    const a = await liteConsumer({ group });
    const b = await liteConsumer({ group });
    a.subscribe(topic, '*');
    b.subscribe(topic, '*');
    await a.start();
    await b.start();
    await waitFor(() => a.assignment().length === 2 && b.assignment().length === 2, { timeoutMs: 15_000, message: 'queues split 2/2' });
    const keys = new Set([...a.assignment(), ...b.assignment()].map(mqKey));
    expect(keys.size).toBe(4);
    const got: ReceivedMessage[] = [];
    const deadline = Date.now() + 15_000;
    while (got.length < 8 && Date.now() < deadline) got.push(...(await a.poll(200)), ...(await b.poll(200)));
    expect(got.map((m) => m.body.toString()).sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((i) => `s${i}`).sort());
  });
});
