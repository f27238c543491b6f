// SimpleConsumer against a real name server and broker: receive + ack, redelivery of what is not
// acked after the invisible duration, changeInvisibleDuration, long polling, filtering, and two
// consumers of one group sharing the messages.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startCluster, type TestCluster } from '@rocketmq-ts/testing';
import { MQClientError, MQError, Message, Producer, ResponseCode, SimpleConsumer, type MessageView, type SimpleConsumerOptions } from '../src/index.js';
import { captureLogger, createTopic, sleep, uniqueName } from './helpers.js';

let c: TestCluster;
let producer: Producer;
const logger = captureLogger();
const closers: Array<() => Promise<void>> = [];

beforeAll(async () => {
  // Revive passes every 200 ms: un-acked messages come back soon after their invisible time.
  c = await startCluster('simple', { broker: { reviveInterval: 200, enablePropertyFilter: true } });
  producer = new Producer({ group: uniqueName('PG'), namesrvAddr: c.namesrvAddr, logger });
  await producer.start();
  closers.push(() => producer.shutdown());
});

afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
  await c?.stop();
});

async function consumer(o: Partial<SimpleConsumerOptions> & { group: string }): Promise<SimpleConsumer> {
  const sc = new SimpleConsumer({ namesrvAddr: c.namesrvAddr, logger, awaitDuration: 1000, invisibleDuration: 1000, ...o });
  closers.push(() => sc.shutdown());
  await sc.start();
  return sc;
}

async function topicWith(queues: number): Promise<string> {
  const topic = uniqueName('T_SIMPLE');
  await createTopic(producer, c.brokerAddr, topic, queues);
  return topic;
}

/** Receives (acking at once what `ack` says) until `n` messages came or `ms` passed. */
async function receiveUntil(
  sc: SimpleConsumer,
  n: number,
  ms: number,
  o: { ack?: boolean | ((m: MessageView) => boolean); invisible?: number; max?: number } = {},
): Promise<MessageView[]> {
  const out: MessageView[] = [];
  const deadline = Date.now() + ms;
  while (out.length < n && Date.now() < deadline) {
    const got = await sc.receive(o.max ?? 32, o.invisible ?? 1000);
    for (const m of got) if (o.ack === true || (typeof o.ack === 'function' && o.ack(m))) await sc.ack(m);
    out.push(...got);
  }
  return out;
}

/** Everything received within `ms` (acked, so nothing counts twice). */
async function receiveFor(sc: SimpleConsumer, ms: number): Promise<MessageView[]> {
  const out: MessageView[] = [];
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const got = await sc.receive(32, 1000);
    for (const m of got) await sc.ack(m);
    out.push(...got);
  }
  return out;
}

const bodies = (ms: readonly MessageView[]): string[] => ms.map((m) => m.body.toString()).sort();

describe('SimpleConsumer', () => {
  it('receives messages with their receipt handles; acked ones never come back', async () => {
    const topic = await topicWith(4);
    const sc = await consumer({ group: uniqueName('G_ACK'), subscriptions: { [topic]: '*' } });
    const sent = new Map<string, string>();
    for (let i = 0; i < 6; i++) {
      const r = await producer.send(new Message(topic, Buffer.from(`m${i}`), { tags: 'T', keys: `k${i}`, properties: { p: String(i) } }));
      sent.set(`m${i}`, r.msgId);
    }
    // A control message left un-acked shows how long an un-acked message takes to come back.
    await producer.send(new Message(topic, Buffer.from('control'), { tags: 'T', keys: 'k', properties: { p: '' } }));
    const got = await receiveUntil(sc, 7, 10_000, { ack: (m) => m.body.toString() !== 'control' });
    expect(bodies(got)).toEqual(['control', 'm0', 'm1', 'm2', 'm3', 'm4', 'm5']);
    for (const m of got.filter((x) => x.body.toString() !== 'control')) {
      const body = m.body.toString();
      expect(m.topic).toBe(topic);
      expect(m.msgId).toBe(sent.get(body));
      expect(m.tags).toBe('T');
      expect(m.keys).toEqual([`k${body.slice(1)}`]);
      expect(m.properties.get('p')).toBe(body.slice(1));
      expect(m.deliveryAttempt).toBe(1);
      expect(m.brokerName).toBe(c.brokerName);
      const f = m.receiptHandle.split(' ');
      expect(f).toHaveLength(8);
      expect(f.slice(2, 7)).toEqual(['1000', f[3], '0', c.brokerName, String(m.queueId)]);
      expect(Number(f[7])).toBe(m.queueOffset);
      expect(m.nextVisibleTime).toBe(Number(f[1]) + 1000);
    }
    // By the time the control came back (and a while longer), none of the acked ones did.
    const back = await receiveUntil(sc, 1, 15_000, { ack: true });
    back.push(...(await receiveFor(sc, 1500)));
    expect(bodies(back)).toEqual(['control']);
  });

  it('a message left un-acked comes back after the invisible duration, deliveryAttempt 2, and its new handle acks it', async () => {
    const topic = await topicWith(2);
    const sc = await consumer({ group: uniqueName('G_REDO'), subscriptions: { [topic]: '*' } });
    for (const b of ['ok', 'fail']) await producer.send(new Message(topic, Buffer.from(b)));
    const first = await receiveUntil(sc, 2, 10_000, { invisible: 1000 });
    expect(bodies(first)).toEqual(['fail', 'ok']);
    const ok = first.find((m) => m.body.toString() === 'ok')!;
    const fail = first.find((m) => m.body.toString() === 'fail')!;
    await sc.ack(ok);
    const t0 = Date.now();
    const back = await receiveUntil(sc, 1, 15_000);
    logger.log('info', 'test.redelivered', `redelivered after ${Date.now() - t0} ms`);
    expect(bodies(back)).toEqual(['fail']);
    const again = back[0]!;
    expect(again.deliveryAttempt).toBe(2);
    expect(again.reconsumeTimes).toBe(1);
    expect(again.topic).toBe(topic);
    expect(again.msgId).toBe(fail.msgId);
    expect(again.receiptHandle).not.toBe(fail.receiptHandle);
    expect(again.receiptHandle.split(' ')[4]).toBe('1'); // from the group's pop retry topic
    await sc.ack(again);
    // Un-acked, it would be back within about as long as it took the first time.
    expect(await receiveFor(sc, Math.max(4000, Date.now() - t0 + 1500))).toEqual([]);
  });

  it('changeInvisibleDuration brings a message back early; the new handle acks it', async () => {
    const topic = await topicWith(1);
    const sc = await consumer({ group: uniqueName('G_CHANGE'), subscriptions: { [topic]: '*' } });
    for (const b of ['early', 'done']) await producer.send(new Message(topic, Buffer.from(b)));
    const got = await receiveUntil(sc, 2, 10_000, { invisible: 60_000 });
    expect(bodies(got)).toEqual(['done', 'early']);
    const early = got.find((m) => m.body.toString() === 'early')!;
    const done = got.find((m) => m.body.toString() === 'done')!;
    const oldHandle = early.receiptHandle;
    const changed = await sc.changeInvisibleDuration(early, 500);
    expect(changed).toBe(early);
    expect(early.receiptHandle).not.toBe(oldHandle);
    const f = early.receiptHandle.split(' ');
    expect([f[0], f[2], f[7]]).toEqual([String(early.queueOffset), '500', String(early.queueOffset)]);
    expect(early.nextVisibleTime).toBe(Number(f[1]) + 500);
    // "done": hidden for 1 s more, then acked with the handle the change returned.
    await sc.changeInvisibleDuration(done, 1000);
    await sc.ack(done);
    const back = await receiveUntil(sc, 1, 15_000);
    expect(bodies(back)).toEqual(['early']);
    expect(back[0]!.deliveryAttempt).toBe(2);
    await sc.ack(back[0]!);
    expect(await receiveFor(sc, 4000)).toEqual([]);
  });

  it('long polling: a waiting receive gets a message as it arrives; an empty one returns [] after awaitDuration', async () => {
    const topic = await topicWith(2);
    const waiting = await consumer({ group: uniqueName('G_LP'), subscriptions: { [topic]: '*' }, awaitDuration: 10_000 });
    const pending = waiting.receive(10, 5000);
    await sleep(300);
    const t0 = Date.now();
    await producer.send(new Message(topic, Buffer.from('wake')));
    const got = await pending;
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(bodies(got)).toEqual(['wake']);
    await waiting.ack(got[0]!);

    const idle = await consumer({ group: uniqueName('G_LP'), subscriptions: { [topic]: '*' }, awaitDuration: 1000, initMode: 'MAX' });
    await receiveFor(idle, 1); // the new group starts behind "wake" or at it: drain
    const t1 = Date.now();
    expect(await idle.receive(10, 5000)).toEqual([]);
    const waited = Date.now() - t1;
    expect(waited).toBeGreaterThanOrEqual(800);
    expect(waited).toBeLessThan(3000);

    // A receive waiting when the consumer shuts down ends with [].
    const pendingAtShutdown = waiting.receive(10, 5000);
    await sleep(200);
    const t2 = Date.now();
    await waiting.shutdown();
    expect(await pendingAtShutdown).toEqual([]);
    expect(Date.now() - t2).toBeLessThan(3000);
  });

  it('filters by tags and by SQL92', async () => {
    const topic = await topicWith(2);
    const byTag = await consumer({ group: uniqueName('G_TAG'), subscriptions: new Map([[topic, 'A || B']]) });
    const bySql = await consumer({ group: uniqueName('G_SQL'), subscriptions: { [topic]: { type: 'SQL92', expression: 'n > 1' } } });
    const tagsOf = ['A', 'B', 'C', 'A', 'C'];
    for (let i = 0; i < tagsOf.length; i++) {
      await producer.send(new Message(topic, Buffer.from(`${tagsOf[i]}${i}`), { tags: tagsOf[i]!, properties: { n: String(i) } }));
    }
    const tagged = await receiveUntil(byTag, 3, 10_000, { ack: true });
    tagged.push(...(await receiveFor(byTag, 1500)));
    expect(bodies(tagged)).toEqual(['A0', 'A3', 'B1']);
    const sql = await receiveUntil(bySql, 3, 10_000, { ack: true });
    sql.push(...(await receiveFor(bySql, 1500)));
    expect(bodies(sql)).toEqual(['A3', 'C2', 'C4']);
    // Changing the expression while running.
    await byTag.subscribe(topic, 'C');
    expect(byTag.subscriptionExpressions().get(topic)).toBe('C');
    await producer.send(new Message(topic, Buffer.from('C9'), { tags: 'C' }));
    await producer.send(new Message(topic, Buffer.from('A9'), { tags: 'A' }));
    expect(bodies(await receiveUntil(byTag, 1, 10_000, { ack: true }))).toEqual(['C9']);
  });

  it('two consumers of one group share the messages without duplicates while they ack', async () => {
    const topic = await topicWith(4);
    const group = uniqueName('G_SHARE');
    const a = await consumer({ group, subscriptions: { [topic]: '*' }, invisibleDuration: 20_000 });
    const b = await consumer({ group, subscriptions: { [topic]: '*' }, invisibleDuration: 20_000 });
    expect(a.clientId).not.toBe(b.clientId);
    // Their heartbeats made the broker know both.
    expect((await producer.clientInstance.api.getConsumerIdList(c.brokerAddr, group)).sort()).toEqual([a.clientId, b.clientId].sort());
    const n = 24;
    for (let i = 0; i < n; i++) await producer.send(new Message(topic, Buffer.from(`s${i}`)));
    const seen: string[] = [];
    const per = new Map<SimpleConsumer, number>([
      [a, 0],
      [b, 0],
    ]);
    const deadline = Date.now() + 20_000;
    const loop = async (sc: SimpleConsumer): Promise<void> => {
      while (seen.length < n && Date.now() < deadline) {
        const got = await sc.receive(3);
        for (const m of got) {
          seen.push(m.body.toString());
          await sc.ack(m);
        }
        per.set(sc, per.get(sc)! + got.length);
      }
    };
    await Promise.all([loop(a), loop(b)]);
    expect(seen).toHaveLength(n);
    expect(new Set(seen).size).toBe(n);
    expect(per.get(a)).toBeGreaterThan(0);
    expect(per.get(b)).toBeGreaterThan(0);
  });

  it('FIFO: one batch of a queue at a time; a batch not acked comes back in place, counted', async () => {
    const topic = await topicWith(1);
    const sc = await consumer({ group: uniqueName('G_FIFO'), subscriptions: { [topic]: '*' }, order: true });
    for (let i = 0; i < 3; i++) await producer.send(new Message(topic, Buffer.from(`f${i}`)));
    const first = await receiveUntil(sc, 2, 10_000, { max: 2 });
    expect(first.map((m) => m.body.toString())).toEqual(['f0', 'f1']);
    expect(first.map((m) => m.deliveryAttempt)).toEqual([1, 1]);
    expect(first[0]!.receiptHandle.split(' ')[3]).toBe('999');
    // Still out (1 s): the queue is blocked, f2 is not handed out; then f0 and f1 come again.
    const again = await receiveUntil(sc, 2, 10_000, { max: 2 });
    expect(again.map((m) => m.body.toString())).toEqual(['f0', 'f1']);
    expect(again.map((m) => m.deliveryAttempt)).toEqual([2, 2]);
    for (const m of again) await sc.ack(m);
    expect(bodies(await receiveUntil(sc, 1, 10_000, { ack: true }))).toEqual(['f2']);
  });

  it('errors are MQErrors with codes', async () => {
    const idle = new SimpleConsumer({ group: uniqueName('G_ERR'), namesrvAddr: c.namesrvAddr, logger, subscriptions: { NO_SUCH_TOPIC_SIMPLE: '*' } });
    await expect(idle.receive()).rejects.toMatchObject({ code: ResponseCode.SERVICE_NOT_AVAILABLE });
    const sc = await consumer({ group: uniqueName('G_ERR'), subscriptions: { NO_SUCH_TOPIC_SIMPLE: '*' } });
    const noRoute = await sc.receive().catch((e: unknown) => e);
    expect(noRoute).toBeInstanceOf(MQError);
    expect((noRoute as MQError).code).toBe(ResponseCode.TOPIC_NOT_EXIST);
    const bad = await sc.ack({ topic: 'X', receiptHandle: 'not a handle' }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(MQClientError);
    expect((bad as MQError).code).toBe(ResponseCode.INVALID_PARAMETER);
    await expect(sc.receive(0)).rejects.toMatchObject({ code: ResponseCode.INVALID_PARAMETER });
    // A well-formed handle for an offset the queue never had: the broker's NO_MESSAGE.
    const topic = await topicWith(1);
    await producer.send(new Message(topic, Buffer.from('x')));
    const beyond = await sc.ack({ topic, receiptHandle: `0 ${Date.now()} 1000 0 0 ${c.brokerName} 0 99` }).catch((e: unknown) => e);
    expect(beyond).toBeInstanceOf(MQError);
    expect((beyond as MQError).code).toBe(ResponseCode.NO_MESSAGE);
  });
});
