// GET_CONSUMER_RUNNING_INFO and CONSUME_MESSAGE_DIRECTLY relayed by the broker to one client's
// connection: two push consumers of one group subscribing with different tag expressions report
// their own subscriptions (MQAdmin.consumerRunningInfo, mqadmin consumerStatus flags them), and a
// stored message is run through one client's listener by its offset msgId.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startCluster, waitFor, type TestCluster } from '@rocketmq-ts/testing';
import { Message, Producer, PushConsumer, type ClientLogger, type ReceivedMessage } from '@rocketmq-ts/client';
import { MQAdmin, runCli } from '../src/index.js';

const quiet: ClientLogger = { log: () => undefined };
const TOPIC = `StatusT_${process.pid}`;
const GROUP = `StatusG_${process.pid}`;

let c: TestCluster;
let admin: MQAdmin;
let producer: Producer;
const consumers: PushConsumer[] = [];
const seen: Array<{ client: number; msg: ReceivedMessage }> = [];

async function mq(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli([...args, '-n', c.namesrvAddr], { out: (s) => (out += s), err: (s) => (err += s), env: {} });
  return { code, out, err };
}

beforeAll(async () => {
  c = await startCluster('admin-status');
  admin = new MQAdmin({ namesrvAddr: [c.namesrvAddr], logger: quiet });
  await admin.createOrUpdateTopic(c.brokerAddr, { topic: TOPIC, readQueueNums: 2, writeQueueNums: 2 });
  await admin.createOrUpdateSubGroup(c.brokerAddr, { groupName: GROUP });
  await waitFor(async () => (await admin.topicRoute(TOPIC).catch(() => undefined)) !== undefined, { timeoutMs: 10_000 });
  for (const [i, expr] of ['TagA || TagB', 'TagC'].entries()) {
    const pc = new PushConsumer({ namesrvAddr: c.namesrvAddr, group: GROUP, instanceName: `status-${i}`, logger: quiet });
    pc.subscribe(TOPIC, expr).registerMessageListener(async (msgs) => {
      for (const msg of msgs) seen.push({ client: i, msg });
      return 'CONSUME_SUCCESS' as const;
    });
    await pc.start();
    consumers.push(pc);
  }
  await waitFor(async () => (await admin.consumerConnection(GROUP).catch(() => undefined))?.connections.length === 2, { timeoutMs: 15_000 });
  producer = new Producer({ namesrvAddr: c.namesrvAddr, group: `StatusP_${process.pid}`, logger: quiet });
  await producer.start();
}, 90_000);

afterAll(async () => {
  for (const k of [producer, ...consumers]) await k?.shutdown().catch(() => undefined);
  await admin?.shutdown();
  await c?.stop();
});

describe('consumer running info through the broker', () => {
  it("returns each client's own subscriptions and queues", async () => {
    const [a, b] = consumers.map((x) => x.clientId!);
    const ia = await admin.consumerRunningInfo(GROUP, a!);
    const ib = await admin.consumerRunningInfo(GROUP, b!);
    const sub = (i: typeof ia): string[] => i.subscriptions.filter((s) => s.topic === TOPIC).map((s) => s.subString);
    expect(sub(ia)).toEqual(['TagA || TagB']);
    expect(sub(ib)).toEqual(['TagC']);
    expect(ia.subscriptions.find((s) => s.topic === TOPIC)?.tags.sort()).toEqual(['TagA', 'TagB']);
    expect(ia.properties['consumerGroup']).toBe(GROUP);
    expect(ia.properties['messageModel']).toBe('CLUSTERING');
    // Between them the two clients hold the topic's two queues.
    await waitFor(
      async () => {
        const all = [...(await admin.consumerRunningInfo(GROUP, a!)).queues, ...(await admin.consumerRunningInfo(GROUP, b!)).queues];
        return all.filter((q) => q.topic === TOPIC).length === 2;
      },
      { timeoutMs: 15_000, message: 'two queues assigned' },
    );
  });

  it('refuses a client that is not connected, naming it', async () => {
    await expect(admin.consumerRunningInfo(GROUP, '10.0.0.1@nobody')).rejects.toThrow(/10\.0\.0\.1@nobody> not online/);
  });

  it('mqadmin consumerStatus lists both clients and flags the differing subscriptions', async () => {
    const r = await mq('consumerStatus', '-g', GROUP);
    expect(r.code).toBe(0);
    for (const x of consumers) expect(r.out).toContain(`Client ${x.clientId!}`);
    expect(r.out).toContain('TagA || TagB');
    expect(r.out).toContain(`WARNING: subscriptions differ between the clients of ${GROUP}`);
    const one = await mq('consumerStatus', '-g', GROUP, '-i', consumers[1]!.clientId!, '--json');
    expect(one.code).toBe(0);
    expect(JSON.parse(one.out)).toMatchObject({ subscriptionsConsistent: true, clients: [{ clientId: consumers[1]!.clientId }] });
  });

  it("runs a stored message through one client's listener (CONSUME_MESSAGE_DIRECTLY)", async () => {
    const sent = await producer.send(new Message(TOPIC, Buffer.from('direct'), { tags: 'TagZ' }));
    const before = seen.length;
    const r = await admin.consumeMessageDirectly(GROUP, consumers[0]!.clientId!, sent.offsetMsgId);
    expect(r.consumeResult).toBe('CR_SUCCESS');
    const got = seen.slice(before).find((x) => x.msg.body.toString() === 'direct');
    expect(got?.client).toBe(0);
    await expect(admin.consumeMessageDirectly(GROUP, '10.0.0.1@nobody', sent.offsetMsgId)).rejects.toThrow(/not online/);
  });
});
