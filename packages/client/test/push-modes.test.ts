import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { makeTempDir, waitFor, FAST_DELAY_LEVELS, startCluster, type TestCluster } from '@rocketmq-ts/testing';
import { LitePullConsumer, Message, Producer, PushConsumer, dlqTopic, mqKey, type PushConsumerOptions, type ReceivedMessage } from '../src/index.js';
import { captureLogger, createTopic as createTopicAndWait, sleep, uniqueName } from './helpers.js';

let c: TestCluster;
let producer: Producer;
const logger = captureLogger();
const closers: Array<{ shutdown(): Promise<void> }> = [];

beforeAll(async () => {
  c = await startCluster('modes', { broker: { messageDelayLevel: FAST_DELAY_LEVELS } });
  producer = new Producer({ group: uniqueName('PG'), namesrvAddr: c.namesrvAddr, logger });
  await producer.start();
});

afterAll(async () => {
  for (const k of closers.reverse()) await k.shutdown().catch(() => undefined);
  await producer?.shutdown().catch(() => undefined);
  await c?.stop();
});

function createTopic(topic: string, queues: number): Promise<void> {
  return createTopicAndWait(producer, c.brokerAddr, topic, queues);
}

function push(o: Partial<PushConsumerOptions> & { group: string }): PushConsumer {
  const k = new PushConsumer({ namesrvAddr: c.namesrvAddr, logger, brokerSuspendMaxTimeMillis: 2000, persistConsumerOffsetIntervalMs: 1000, ...o });
  closers.push(k);
  return k;
}

describe('broadcasting', () => {
  it('every consumer of the group gets every message; offsets live in a local file', async () => {
    const topic = uniqueName('T_BC');
    const group = uniqueName('BG');
    const dir = makeTempDir('offsets');
    await createTopic(topic, 4);
    const got = [new Set<string>(), new Set<string>(), new Set<string>()];
    const ks = got.map((set, i) => {
      const k = push({ group, messageModel: 'BROADCASTING', offsetStoreDir: dir, instanceName: `bc-${process.pid}-${i}` });
      k.subscribe(topic);
      k.registerMessageListener((msgs) => {
        for (const m of msgs) set.add(m.body.toString());
        return 'CONSUME_SUCCESS';
      });
      return k;
    });
    for (const k of ks) await k.start();
    await waitFor(() => ks.every((k) => k.assignment().filter((q) => q.topic === topic).length === 4), {
      timeoutMs: 15_000,
      message: 'each broadcast consumer owns all queues',
    });
    for (let i = 0; i < 20; i++) await producer.send(new Message(topic, Buffer.from(`b${i}`)));
    await waitFor(() => got.every((s) => s.size === 20), { timeoutMs: 15_000, message: 'every consumer has all 20' });

    await ks[0]!.shutdown();
    const file = join(dir, `${ks[0]!.clientId!}`.replace(/[^\w.@#-]/g, '_'), group, 'offsets.json');
    expect(existsSync(file)).toBe(true);
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('"offsetTable":{{"brokerName"');

    // restart with the same identity: it resumes from the file and sees only the new messages
    for (let i = 20; i < 25; i++) await producer.send(new Message(topic, Buffer.from(`b${i}`)));
    const again = new Set<string>();
    const k2 = push({
      group,
      messageModel: 'BROADCASTING',
      offsetStoreDir: dir,
      instanceName: `bc-${process.pid}-0`,
      consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
    });
    k2.subscribe(topic);
    k2.registerMessageListener((msgs) => {
      for (const m of msgs) again.add(m.body.toString());
      return 'CONSUME_SUCCESS';
    });
    await k2.start();
    await waitFor(() => again.size >= 5, { timeoutMs: 15_000 });
    await sleep(300);
    expect([...again].sort()).toEqual(['b20', 'b21', 'b22', 'b23', 'b24']);
  });
});

describe('orderly', () => {
  it('keeps per-queue order through suspends, retries and a consumer leaving', async () => {
    const topic = uniqueName('T_ORD');
    const group = uniqueName('OG');
    await createTopic(topic, 4);
    const keys = ['k0', 'k1', 'k2', 'k3', 'k4', 'k5'];
    const perKey = new Map<string, number[]>(keys.map((k) => [k, []]));
    const attempts = new Map<string, number>();
    const mk = (): PushConsumer => {
      const k = push({ group, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', suspendCurrentQueueTimeMillis: 100 });
      k.subscribe(topic);
      k.registerMessageListenerOrderly((msgs) => {
        for (const m of msgs) {
          const body = m.body.toString();
          const n = (attempts.get(body) ?? 0) + 1;
          attempts.set(body, n);
          const [key, i] = body.split(':');
          // every 7th message fails twice before it goes through
          if (Number(i) % 7 === 3 && n <= 2) return 'SUSPEND_CURRENT_QUEUE_A_MOMENT';
          if (Number(i) % 11 === 5 && n === 1) throw new Error('boom');
          perKey.get(key!)!.push(Number(i));
        }
        return 'SUCCESS';
      });
      return k;
    };
    const a = mk();
    const b = mk();
    await a.start();
    await b.start();
    await waitFor(() => a.assignment().filter((q) => q.topic === topic).length + b.assignment().filter((q) => q.topic === topic).length === 4, {
      timeoutMs: 15_000,
    });
    const N = 40;
    for (let i = 0; i < N; i++) {
      for (const key of keys) await producer.send(new Message(topic, Buffer.from(`${key}:${i}`)), { shardingKey: key });
      if (i === 20) await a.shutdown(); // a member leaves: its queues move to b, after b locks them
    }
    await waitFor(() => keys.every((k) => new Set(perKey.get(k)).size === N), { timeoutMs: 40_000, message: 'every key fully consumed' });
    for (const key of keys) {
      const seq = perKey.get(key)!;
      // first deliveries are in send order; a replay after the queue moved restarts from the committed offset
      const firsts: number[] = [];
      for (const i of seq) if (!firsts.includes(i)) firsts.push(i);
      expect(firsts).toEqual(Array.from({ length: N }, (_, i) => i));
      for (let j = 1; j < seq.length; j++) if (seq[j]! > seq[j - 1]!) expect(seq[j]).toBe(seq[j - 1]! + 1);
    }
    expect([...attempts.entries()].filter(([body]) => Number(body.split(':')[1]) % 7 === 3).every(([, n]) => n >= 3)).toBe(true);
  });
});

describe('retry and dead letters', () => {
  it('failed messages come back through the retry topic and, after maxReconsumeTimes, land in the DLQ', async () => {
    const topic = uniqueName('T_RETRY');
    const group = uniqueName('RG');
    await createTopic(topic, 2);
    const deliveries: ReceivedMessage[] = [];
    const k = push({ group, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', maxReconsumeTimes: 2 });
    k.subscribe(topic);
    k.registerMessageListener((msgs, ctx) => {
      const m = msgs[0]!;
      deliveries.push(m);
      const body = m.body.toString();
      if (body === 'poison') return 'RECONSUME_LATER';
      if (body === 'once' && m.reconsumeTimes === 0) throw new Error('first attempt fails');
      if (body === 'level' && m.reconsumeTimes === 0) {
        ctx.delayLevelWhenNextConsume = 2;
        return 'RECONSUME_LATER';
      }
      return 'CONSUME_SUCCESS';
    });
    await k.start();
    const sent = new Map<string, string>();
    for (const body of ['ok-1', 'once', 'poison', 'level', 'ok-2']) {
      const r = await producer.send(new Message(topic, Buffer.from(body), { keys: body }));
      sent.set(body, r.msgId);
    }
    const count = (b: string): number => deliveries.filter((m) => m.body.toString() === b).length;
    await waitFor(() => count('once') === 2 && count('level') === 2 && count('poison') === 3, { timeoutMs: 30_000, message: 'retries delivered' });
    const once = deliveries.filter((m) => m.body.toString() === 'once');
    expect(once[1]!.reconsumeTimes).toBe(1);
    expect(once[1]!.topic).toBe(topic); // restored from RETRY_TOPIC
    expect(once[1]!.msgId).toBe(sent.get('once'));
    expect(deliveries.filter((m) => m.body.toString() === 'poison').map((m) => m.reconsumeTimes)).toEqual([0, 1, 2]);
    expect(count('ok-1')).toBe(1);

    // the poison message is in %DLQ%<group>
    const dlq = dlqTopic(group);
    await waitFor(async () => (await producer.clientInstance.api.getTopicRouteInfo(dlq)) !== undefined, { timeoutMs: 10_000, message: 'DLQ route' });
    const lc = new LitePullConsumer({
      group: uniqueName('DLQ_READER'),
      namesrvAddr: c.namesrvAddr,
      logger,
      consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
      brokerSuspendMaxTimeMillis: 1000,
    });
    closers.push(lc);
    await lc.start();
    await lc.assign([{ topic: dlq, brokerName: c.brokerName, queueId: 0 }]);
    const dead: ReceivedMessage[] = [];
    const deadline = Date.now() + 15_000;
    while (dead.length === 0 && Date.now() < deadline) dead.push(...(await lc.poll(500)));
    expect(dead.map((m) => m.body.toString())).toEqual(['poison']);
    expect(dead[0]!.msgId).toBe(sent.get('poison'));
    await sleep(1500);
    expect(count('poison')).toBe(3);
    expect(
      k
        .assignment()
        .map(mqKey)
        .some((q) => q.includes('%RETRY%')),
    ).toBe(true);
  });
});
