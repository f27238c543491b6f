// Two proxies behind the same clients, sharing their state in the real Redis (127.0.0.1:6379, keys
// under a prefix of this run): a transaction check-back that reaches the proxy which does not hold
// the producer's telemetry stream is routed to the one that does, and the producer's answer,
// sent through that other proxy, finds the transaction data the first one stored.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { waitFor, type TestCluster } from '@rocketmq-ts/testing';
import { Producer, SimpleConsumer, type MessageView } from 'rocketmq-client-nodejs';
import { MQAdmin, RawGrpc, createTopic, quietLogger, startCluster, startProxy, uniqueName, type ProxyHandle } from './harness.js';

const prefix = `rmqts:test:${randomUUID().slice(0, 8)}:`;
let c: TestCluster;
let a: ProxyHandle;
let b: ProxyHandle;
let admin: MQAdmin;
const logger = quietLogger();
const closers: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  // Groups must exist here (autoCreateSubscriptionGroup=false), so an unknown one can be refused.
  c = await startCluster('proxy2', {
    broker: { reviveInterval: 200, transactionTimeOut: 1000, transactionCheckInterval: 500, autoCreateSubscriptionGroup: false },
  });
  const shared = { redisAddr: '127.0.0.1:6379', redisKeyPrefix: prefix, minInvisibleTimeMillsForRecv: 1000 };
  a = await startProxy(c, 'proxy-a', shared);
  b = await startProxy(c, 'proxy-b', shared);
  admin = new MQAdmin({ namesrvAddr: c.namesrvAddr });
});

afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
  await admin?.shutdown();
  await Promise.all([a?.process.stop('SIGTERM', 5000), b?.process.stop('SIGTERM', 5000)]);
  await c?.stop();
  const r = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await r.connect();
    const keys = await r.keys(`${prefix}*`);
    if (keys.length > 0) await r.del(...keys);
  } finally {
    r.disconnect();
  }
});

async function metric(p: ProxyHandle, re: RegExp): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${p.httpPort}/metrics`)).text();
  const m = re.exec(text);
  return m ? Number(m[1]) : 0;
}

describe('two proxies sharing Redis', () => {
  it('both proxies say they use Redis', () => {
    for (const p of [a, b]) expect(p.process.output()).toMatch(/sharedState=redis 127\.0\.0\.1:6379/);
  });

  it('check-backs reach the producer through whichever proxy the broker asks, and its answers settle them', async () => {
    const topic = uniqueName('T_TX2');
    await createTopic(admin, c, topic, 1, undefined, 'MIXED');
    // A producer of the topic on proxy A makes A a producer of the topic's group at the broker too;
    // it leaves, so A holds no telemetry stream of any producer of the topic.
    const visitor = new Producer({ endpoints: a.endpoints, namespace: '', topics: [topic], logger, requestTimeout: 3000 });
    await visitor.startup();
    await visitor.send({ topic, body: Buffer.from('plain') });
    await visitor.shutdown();

    const checked = new Map<string, number>();
    const p = new Producer({
      endpoints: b.endpoints,
      namespace: '',
      topics: [topic],
      logger,
      requestTimeout: 3000,
      checker: {
        async check(m: MessageView) {
          const body = m.body.toString();
          checked.set(body, (checked.get(body) ?? 0) + 1);
          return (body.startsWith('commit') ? 1 : 2) as never;
        },
      },
    });
    await p.startup();
    closers.push(() => p.shutdown());
    const orphans = ['commit-1', 'commit-2', 'commit-3', 'rollback-1', 'rollback-2', 'rollback-3'];
    for (const body of orphans) await p.send({ topic, body: Buffer.from(body) }, p.beginTransaction());

    // The broker spreads its checks over both proxies' connections: some reach A and are routed to B.
    await waitFor(() => orphans.every((o) => checked.has(o)), { timeoutMs: 40_000, message: 'every orphan checked' });
    await waitFor(async () => ((await metric(a, /rocketmq_proxy_routed_commands_total\{direction="sent"[^}]*\} (\d+)/)) > 0 ? true : undefined), {
      timeoutMs: 40_000,
      message: 'a check-back routed from proxy A to proxy B',
    });
    expect(await metric(b, /rocketmq_proxy_routed_commands_total\{direction="received"[^}]*\} (\d+)/)).toBeGreaterThan(0);

    const txGroup = uniqueName('G_TX2');
    await admin.createOrUpdateSubGroup(c.brokerAddr, { groupName: txGroup });
    const sc = new SimpleConsumer({
      endpoints: a.endpoints,
      namespace: '',
      consumerGroup: txGroup,
      subscriptions: new Map([[topic, '*']]),
      awaitDuration: 5000,
      logger,
    });
    await sc.startup();
    closers.push(() => sc.shutdown());
    const got: string[] = [];
    const deadline = Date.now() + 30_000;
    while (got.length < 4 && Date.now() < deadline) {
      for (const m of await sc.receive(16, 15_000)) {
        got.push(m.body.toString());
        await sc.ack(m);
      }
    }
    expect(got.sort()).toEqual(['commit-1', 'commit-2', 'commit-3', 'plain']);
  });

  it('a message received through one proxy is acked through the other', async () => {
    const topic = uniqueName('T_ACK2');
    await createTopic(admin, c, topic, 1);
    const p = new Producer({ endpoints: a.endpoints, namespace: '', topics: [topic], logger, requestTimeout: 3000 });
    await p.startup();
    closers.push(() => p.shutdown());
    await p.send({ topic, body: Buffer.from('once') });
    const group = uniqueName('G_ACK2');
    await admin.createOrUpdateSubGroup(c.brokerAddr, { groupName: group });
    const ca = new SimpleConsumer({
      endpoints: a.endpoints,
      namespace: '',
      consumerGroup: group,
      subscriptions: new Map([[topic, '*']]),
      awaitDuration: 5000,
      logger,
    });
    const cb = new SimpleConsumer({
      endpoints: b.endpoints,
      namespace: '',
      consumerGroup: group,
      subscriptions: new Map([[topic, '*']]),
      awaitDuration: 5000,
      logger,
    });
    await ca.startup();
    await cb.startup();
    closers.push(
      () => ca.shutdown(),
      () => cb.shutdown(),
    );
    let m: MessageView | undefined;
    const deadline = Date.now() + 20_000;
    while (m === undefined && Date.now() < deadline) m = (await ca.receive(1, 1000))[0];
    expect(m?.body.toString()).toBe('once');
    // The receipt handle carries everything: proxy B acks what proxy A handed out.
    await cb.ack(m!);
    await new Promise((r) => setTimeout(r, 2500));
    expect([...(await ca.receive(1, 1000)), ...(await cb.receive(1, 1000))]).toEqual([]);
  });

  it('an unknown consumer group is refused with CONSUMER_GROUP_NOT_FOUND', async () => {
    const topic = uniqueName('T_NOGROUP');
    await createTopic(admin, c, topic, 1);
    const raw = new RawGrpc(a.endpoints);
    try {
      const r = await raw.stream<{ status?: { code: number } }>('ReceiveMessage', {
        group: { name: uniqueName('G_UNKNOWN') },
        messageQueue: { topic: { name: topic }, id: 0, broker: { name: c.brokerName } },
        filterExpression: { type: 1, expression: '*' },
        batchSize: 4,
        invisibleDuration: { seconds: 20 },
        longPollingTimeout: { seconds: 5 },
      });
      expect(r.find((x) => x.status)?.status?.code).toBe(40403);
    } finally {
      raw.close();
    }
  });

  it('sendRateLimitPerSecond is one budget for both proxies: past it sends get TOO_MANY_REQUESTS (42900) and nothing of them is stored', async () => {
    const topic = uniqueName('T_LIMIT');
    await createTopic(admin, c, topic, 2);
    // Two more proxies on the same Redis prefix, with a limit of 20 messages/s per topic for both together.
    const limited = { redisAddr: '127.0.0.1:6379', redisKeyPrefix: `${prefix}limit:`, sendRateLimitPerSecond: 20 };
    const [pc, pd] = await Promise.all([startProxy(c, 'proxy-c', limited), startProxy(c, 'proxy-d', limited)]);
    closers.push(
      () => pc.process.stop('SIGTERM', 5000),
      () => pd.process.stop('SIGTERM', 5000),
    );
    const raws = [new RawGrpc(pc.endpoints), new RawGrpc(pd.endpoints)];
    try {
      const codes: number[] = [];
      const t0 = Date.now();
      for (let i = 0; i < 60; i++) {
        const r = await raws[i % 2]!.unary<{ status: { code: number } }>('SendMessage', {
          messages: [
            {
              topic: { name: topic },
              body: Buffer.from(`m${i}`),
              systemProperties: { messageId: `01LIMIT${Date.now()}${i}`, messageType: 1, bodyEncoding: 1 },
            },
          ],
        });
        codes.push(r.status.code);
      }
      const seconds = (Date.now() - t0) / 1000;
      const ok = codes.filter((x) => x === 20000).length;
      const limitedOut = codes.filter((x) => x === 42900).length;
      expect(ok + limitedOut).toBe(60);
      expect(limitedOut).toBeGreaterThan(0);
      // The burst (20) plus what refills at 20/s while the loop ran: one budget, not one per proxy.
      expect(ok).toBeGreaterThanOrEqual(20);
      expect(ok).toBeLessThanOrEqual(20 + Math.ceil(20 * seconds) + 1);
      // Both proxies answered 42900: the budget was spent through either.
      expect(codes.filter((x, i) => x === 42900 && i % 2 === 0).length).toBeGreaterThan(0);
      expect(codes.filter((x, i) => x === 42900 && i % 2 === 1).length).toBeGreaterThan(0);
      const stats = await admin.topicStats(topic);
      expect(stats.reduce((n, q) => n + q.maxOffset - q.minOffset, 0)).toBe(ok);
    } finally {
      for (const r of raws) r.close();
    }
  });
});
