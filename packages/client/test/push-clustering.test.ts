import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { waitFor, startCluster, type TestCluster } from '@rocketmq-ts/testing';
import { Message, Producer, PushConsumer, mqKey, type PushConsumerOptions, type ReceivedMessage } from '../src/index.js';
import { captureLogger, createTopic as createTopicAndWait, sleep, uniqueName } from './helpers.js';

let c: TestCluster;
let producer: Producer;
const logger = captureLogger();
const consumers: PushConsumer[] = [];

beforeAll(async () => {
  c = await startCluster('push');
  producer = new Producer({ group: uniqueName('PG'), namesrvAddr: c.namesrvAddr, logger });
  await producer.start();
});

afterAll(async () => {
  for (const k of consumers) await k.shutdown().catch(() => undefined);
  await producer?.shutdown().catch(() => undefined);
  await c?.stop();
});

function createTopic(topic: string, queues: number): Promise<void> {
  return createTopicAndWait(producer, c.brokerAddr, topic, queues);
}

function consumer(group: string, topic: string, sink: (m: ReceivedMessage, who: number) => void, extra: Partial<PushConsumerOptions> = {}): PushConsumer {
  const who = consumers.length;
  const k = new PushConsumer({
    group,
    namesrvAddr: c.namesrvAddr,
    logger,
    consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
    brokerSuspendMaxTimeMillis: 2000,
    persistConsumerOffsetIntervalMs: 1000,
    ...extra,
  });
  k.subscribe(topic, '*');
  k.registerMessageListener((msgs) => {
    for (const m of msgs) sink(m, who);
    return 'CONSUME_SUCCESS';
  });
  consumers.push(k);
  return k;
}

/** Waits until the consumers own every queue of `topic` exactly once between them. */
async function waitBalanced(ks: PushConsumer[], topic: string, queues: number): Promise<void> {
  await waitFor(
    () => {
      const owned = ks.flatMap((k) =>
        k
          .assignment()
          .filter((q) => q.topic === topic)
          .map(mqKey),
      );
      return owned.length === queues && new Set(owned).size === queues && ks.every((k) => k.assignment().some((q) => q.topic === topic));
    },
    { timeoutMs: 20_000, message: `${ks.length} consumers to share ${queues} queues` },
  );
}

describe('push consumer, clustering', () => {
  it('several consumers share the queues; sync, async, oneway and batch sends are consumed exactly once', async () => {
    const topic = uniqueName('T_CLU');
    const group = uniqueName('CG');
    await createTopic(topic, 8);
    const seen = new Map<string, number>();
    const perConsumer = new Map<number, number>();
    const sink = (m: ReceivedMessage, who: number): void => {
      const b = m.body.toString();
      seen.set(b, (seen.get(b) ?? 0) + 1);
      perConsumer.set(who, (perConsumer.get(who) ?? 0) + 1);
    };
    const ks = [consumer(group, topic, sink), consumer(group, topic, sink), consumer(group, topic, sink)];
    for (const k of ks) await k.start();
    await waitBalanced(ks, topic, 8);

    const expected: string[] = [];
    for (let i = 0; i < 20; i++) {
      await producer.send(new Message(topic, Buffer.from(`sync-${i}`)));
      expected.push(`sync-${i}`);
    }
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => {
        expected.push(`async-${i}`);
        return new Promise((resolve, reject) => producer.sendAsync(new Message(topic, Buffer.from(`async-${i}`)), { onSuccess: resolve, onException: reject }));
      }),
    );
    for (let i = 0; i < 10; i++) {
      await producer.sendOneway(new Message(topic, Buffer.from(`oneway-${i}`)));
      expected.push(`oneway-${i}`);
    }
    for (let b = 0; b < 2; b++) {
      const batch = Array.from({ length: 5 }, (_, i) => new Message(topic, Buffer.from(`batch-${b}-${i}`)));
      await producer.send(batch);
      expected.push(...batch.map((m) => m.body.toString()));
    }
    await waitFor(() => expected.every((e) => seen.has(e)), { timeoutMs: 20_000, message: 'every message consumed' });
    await sleep(1_000);
    expect([...seen.keys()].sort()).toEqual([...expected].sort());
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    expect(perConsumer.size).toBe(3);
  });

  it('a consumer joining and one leaving rebalance the queues with no message lost', async () => {
    const topic = uniqueName('T_REB');
    const group = uniqueName('CG_REB');
    await createTopic(topic, 6);
    const seen = new Set<string>();
    const sink = (m: ReceivedMessage): void => void seen.add(m.body.toString());
    const a = consumer(group, topic, sink);
    const b = consumer(group, topic, sink);
    await a.start();
    await b.start();
    await waitBalanced([a, b], topic, 6);

    const total = 240;
    let joined: PushConsumer | undefined;
    for (let i = 0; i < total; i++) {
      await producer.send(new Message(topic, Buffer.from(`m-${i}`)));
      if (i === 80) {
        joined = consumer(group, topic, sink);
        await joined.start();
      }
      if (i === 160) {
        await waitBalanced([a, b, joined!], topic, 6);
        await a.shutdown();
      }
      if (i % 20 === 0) await sleep(20);
    }
    await waitBalanced([b, joined!], topic, 6);
    await waitFor(() => seen.size === total, { timeoutMs: 30_000, message: `all ${total} messages (have ${seen.size})` });
    const changes = logger.events.filter((e) => e.event === 'rebalance.changed').length;
    expect(changes).toBeGreaterThanOrEqual(5);
  });

  it('consistent-hash allocation splits the queues too', async () => {
    const topic = uniqueName('T_HASH');
    const group = uniqueName('CG_HASH');
    await createTopic(topic, 8);
    const got: string[] = [];
    const ks = [0, 1].map(() => consumer(group, topic, (m) => void got.push(m.body.toString()), { allocateStrategy: 'CONSISTENT_HASH' }));
    for (const k of ks) await k.start();
    await waitFor(
      () => {
        const owned = ks.flatMap((k) =>
          k
            .assignment()
            .filter((q) => q.topic === topic)
            .map(mqKey),
        );
        return owned.length === 8 && new Set(owned).size === 8;
      },
      { timeoutMs: 20_000 },
    );
    for (let i = 0; i < 16; i++) await producer.send(new Message(topic, Buffer.from(`h${i}`)));
    await waitFor(() => got.length >= 16, { timeoutMs: 15_000 });
    expect(new Set(got).size).toBe(16);
  });

  it('starts where consumeFromWhere says, commits on shutdown, and resumes without duplicates', async () => {
    const topic = uniqueName('T_FROM');
    await createTopic(topic, 2);
    for (let i = 0; i < 6; i++) await producer.send(new Message(topic, Buffer.from(`old-${i}`)));
    await sleep(50);
    const mid = Date.now();
    await sleep(50);
    for (let i = 0; i < 4; i++) await producer.send(new Message(topic, Buffer.from(`mid-${i}`)));

    // a topic with history: LAST_OFFSET skips it, FIRST_OFFSET reads it all, TIMESTAMP starts at the time
    // (strictConsumeFromWhere: otherwise the broker starts a new group at 0 on a queue that still holds message 0)
    const last: string[] = [];
    const first: string[] = [];
    const ts: string[] = [];
    const kl = consumer(uniqueName('CG_LAST'), topic, (m) => void last.push(m.body.toString()), {
      consumeFromWhere: 'CONSUME_FROM_LAST_OFFSET',
      strictConsumeFromWhere: true,
    });
    const kf = consumer(uniqueName('CG_FIRST'), topic, (m) => void first.push(m.body.toString()), { consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' });
    const kt = consumer(uniqueName('CG_TS'), topic, (m) => void ts.push(m.body.toString()), {
      consumeFromWhere: 'CONSUME_FROM_TIMESTAMP',
      consumeTimestamp: mid,
      strictConsumeFromWhere: true,
    });
    for (const k of [kl, kf, kt]) await k.start();
    await waitBalanced([kl], topic, 2);
    await waitBalanced([kt], topic, 2);
    await waitFor(() => first.length >= 10 && ts.length >= 4, { timeoutMs: 15_000 });
    await producer.send(new Message(topic, Buffer.from('new-0')));
    await waitFor(() => last.includes('new-0') && first.includes('new-0'), { timeoutMs: 15_000 });
    // the broker starts a never-committed group at 0 while the queue's first message is still stored (RocketMQ's rule)
    expect(first.sort()).toEqual([...Array.from({ length: 6 }, (_, i) => `old-${i}`), ...Array.from({ length: 4 }, (_, i) => `mid-${i}`), 'new-0'].sort());
    expect(ts.filter((b) => b.startsWith('old'))).toEqual([]);
    expect(last.filter((b) => !b.startsWith('new'))).toEqual([]);

    // graceful shutdown commits; a restarted member of the group only sees new messages.
    // (The pause lets the broker finish the pull sent right after the last delivery: it carries
    // the commit offset from before that delivery, and the broker stores a pull's commit only
    // after its store read, so it could land after our shutdown commit. See the issue report.)
    await sleep(300);
    await kf.shutdown();
    await producer.send(new Message(topic, Buffer.from('after-restart')));
    const again: string[] = [];
    const kf2 = consumer(kf.group, topic, (m) => void again.push(m.body.toString()));
    await kf2.start();
    await waitFor(() => again.includes('after-restart'), { timeoutMs: 15_000 });
    await sleep(500);
    expect(again).toEqual(['after-restart']);
  });

  it('flow control: a slow listener keeps the cache per queue bounded', async () => {
    const topic = uniqueName('T_FLOW');
    await createTopic(topic, 1);
    for (let i = 0; i < 60; i++) await producer.send(new Message(topic, Buffer.from(`f${i}`)));
    let done = 0;
    const k = new PushConsumer({
      group: uniqueName('CG_FLOW'),
      namesrvAddr: c.namesrvAddr,
      logger,
      consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
      pullThresholdForQueue: 10,
      pullBatchSize: 5,
      consumeThreadMax: 1,
    });
    consumers.push(k);
    k.subscribe(topic);
    k.registerMessageListener(async (): Promise<'CONSUME_SUCCESS'> => {
      await sleep(20);
      done++;
      return 'CONSUME_SUCCESS';
    });
    await k.start();
    await waitFor(() => done >= 60, { timeoutMs: 20_000 });
    expect(logger.events.some((e) => e.event === 'flow.control')).toBe(true);
  });
});
