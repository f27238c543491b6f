// The official RocketMQ 5.x Node.js client (rocketmq-client-nodejs, unmodified) against our proxy
// in front of a real name server and broker.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Producer, SimpleConsumer } from 'rocketmq-client-nodejs';
import { MQAdmin, createTopic, quietLogger, startCluster, startProxy, uniqueName, type ProxyHandle } from './harness.js';
import type { TestCluster } from '@rocketmq-ts/testing';

let c: TestCluster;
let proxy: ProxyHandle;
let admin: MQAdmin;
const logger = quietLogger();
const closers: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  c = await startCluster('proxy', { broker: { reviveInterval: 200 } });
  proxy = await startProxy(c, 'proxy-a');
  admin = new MQAdmin({ namesrvAddr: c.namesrvAddr });
});

afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
  await admin?.shutdown();
  await proxy?.process.stop('SIGTERM', 5000);
  await c?.stop();
});

describe('official 5.x client through the proxy', () => {
  it('Producer sends, SimpleConsumer receives and acks', async () => {
    const topic = uniqueName('T_PX');
    await createTopic(admin, c, topic);
    const producer = new Producer({ endpoints: proxy.endpoints, topics: [topic], logger, requestTimeout: 3000 });
    await producer.startup();
    closers.push(() => producer.shutdown());
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await producer.send({ topic, tag: 'A', keys: [`k${i}`], body: Buffer.from(`hello ${i}`), properties: new Map([['p', String(i)]]) });
      ids.push(r.messageId);
    }
    const group = uniqueName('G_PX');
    const consumer = new SimpleConsumer({
      endpoints: proxy.endpoints,
      consumerGroup: group,
      subscriptions: new Map([[topic, '*']]),
      awaitDuration: 5000,
      logger,
    });
    await consumer.startup();
    closers.push(() => consumer.shutdown());
    const got = new Map<string, string>();
    const deadline = Date.now() + 30_000;
    while (got.size < 5 && Date.now() < deadline) {
      for (const m of await consumer.receive(16, 15_000)) {
        expect(m.corrupted).not.toBe(true);
        expect(m.tag).toBe('A');
        got.set(m.messageId, m.body.toString());
        await consumer.ack(m);
      }
    }
    expect([...got.keys()].sort()).toEqual([...ids].sort());
    expect([...got.values()].sort()).toEqual([0, 1, 2, 3, 4].map((i) => `hello ${i}`));
  });
});
