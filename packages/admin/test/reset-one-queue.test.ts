// A reset of one queue's offset with a push consumer online: the broker tells the client, which
// starts that queue over from the new offset and leaves the topic's other queues as they were
// (no redelivery there, their committed offsets untouched).
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { Message, Producer, PushConsumer, type ClientLogger } from '@rocketmq-ts/client';
import { startCluster, waitFor, type TestCluster } from '@rocketmq-ts/testing';
import { MQAdmin } from '../src/index.js';

const quiet: ClientLogger = { log: () => undefined };
const TOPIC = 'ResetOneQueue';
const GROUP = 'ResetOneQueueGroup';
let c: TestCluster;
let admin: MQAdmin;
let producer: Producer | undefined;
let consumer: PushConsumer | undefined;
let release: () => void = () => undefined;
const held = new Promise<void>((r) => (release = r));

beforeAll(async () => {
  c = await startCluster('reset1q');
  admin = new MQAdmin({ namesrvAddr: c.namesrvAddr, logger: quiet });
  await admin.createOrUpdateTopic(c.brokerAddr, { topic: TOPIC, readQueueNums: 2, writeQueueNums: 2 });
  await waitFor(async () => (await admin.topicRoute(TOPIC).catch(() => undefined)) !== undefined, { timeoutMs: 10_000 });
}, 60_000);

afterAll(async () => {
  release();
  await consumer?.shutdown().catch(() => undefined);
  await producer?.shutdown().catch(() => undefined);
  await admin?.shutdown();
  await c?.stop();
}, 30_000);

it('resetting queue 0 replays queue 0 only; queue 1 is not delivered again and keeps its committed offset', async () => {
  producer = new Producer({ namesrvAddr: c.namesrvAddr, group: 'ResetOneQueueProducer', logger: quiet });
  await producer.start();
  for (let i = 0; i < 6; i++) {
    await producer.send(new Message(TOPIC, Buffer.from(`m${i}`)), { queue: { topic: TOPIC, brokerName: c.brokerName, queueId: i % 2 } });
  }
  const q = (queueId: number) => ({ topic: TOPIC, brokerName: c.brokerName, queueId });
  await admin.createOrUpdateSubGroup(c.brokerAddr, { groupName: GROUP });
  for (const id of [0, 1]) await admin.api.updateConsumerOffset(c.brokerAddr, GROUP, q(id), 0);
  const seen: string[] = [];
  consumer = new PushConsumer({
    namesrvAddr: c.namesrvAddr,
    group: GROUP,
    logger: quiet,
    persistConsumerOffsetIntervalMs: 200,
    brokerSuspendMaxTimeMillis: 1000,
  });
  // Every message stays in the listener until the end: nothing completes, so committed offsets
  // move only by the reset.
  consumer.subscribe(TOPIC, '*').registerMessageListener(async (msgs) => {
    for (const m of msgs) seen.push(`${m.queueId}/${m.queueOffset}`);
    await held;
    return 'CONSUME_SUCCESS' as const;
  });
  await consumer.start();
  await waitFor(() => seen.length === 6, { timeoutMs: 20_000, message: 'all six delivered once' });

  expect(await admin.resetQueueOffset(c.brokerAddr, GROUP, q(0), 1)).toBe(1);
  await waitFor(() => seen.filter((s) => s === '0/1').length === 2, { timeoutMs: 20_000, message: 'queue 0 replayed from offset 1' });
  // Long enough for several pulls (1 s long polls) and offset persists (every 200 ms).
  await new Promise((r) => setTimeout(r, 2_500));
  const count = (s: string) => seen.filter((x) => x === s).length;
  expect(['1/0', '1/1', '1/2'].map(count)).toEqual([1, 1, 1]);
  expect(['0/0', '0/1', '0/2'].map(count)).toEqual([1, 2, 2]);
  const committed = (await admin.consumeStats(GROUP, TOPIC)).map((s) => [s.mq.queueId, s.consumerOffset]);
  expect(committed).toEqual([
    [0, 1],
    [1, 0],
  ]);
}, 60_000);
