// FIFO POP (order=true) as RocketMQ 5 clients use it: one batch of a queue out at a time, the next
// only after the previous is acked or visible again; a failed message is handed out again in
// place with its count in orderCountInfo, and goes to the DLQ when the client sends it there; two
// consumers of one group never interleave a queue.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RequestCode, ResponseCode, type DecodedMessage, type RemotingCommand } from '@rocketmq-ts/protocol';
import { removeTempDirs, stopAllProcesses } from '@rocketmq-ts/testing';
import { JavaClient, PULL, records, startBroker, type BrokerHandle } from './harness.js';

let broker: BrokerHandle;
let c: JavaClient;

beforeAll(async () => {
  broker = await startBroker({ autoCreateTopicEnable: true, reviveInterval: 200 });
  c = new JavaClient(broker.addr);
});

afterAll(async () => {
  c?.close();
  await stopAllProcesses();
  removeTempDirs();
});

interface Popped {
  res: RemotingCommand;
  msgs: DecodedMessage[];
  handles: string[];
  /** Offset → count from orderCountInfo. */
  counts: Map<number, number>;
}

async function popFifo(topic: string, group: string, o: { queueId?: number; max?: number; invisibleTime?: number; attemptId?: string } = {}): Promise<Popped> {
  const res = await c.call(RequestCode.POP_MESSAGE, {
    consumerGroup: group,
    topic,
    queueId: String(o.queueId ?? -1),
    maxMsgNums: String(o.max ?? 2),
    invisibleTime: String(o.invisibleTime ?? 60_000),
    pollTime: '0',
    bornTime: String(Date.now()),
    initMode: '0',
    expType: 'TAG',
    exp: '*',
    order: 'true',
    ...(o.attemptId !== undefined ? { attemptId: o.attemptId } : {}),
  });
  const msgs = res.code === ResponseCode.SUCCESS ? records(res) : [];
  const start = new Map<number, number>();
  for (const e of (res.ext('startOffsetInfo') ?? '').split(';').filter(Boolean)) {
    const [, q, off] = e.split(' ');
    start.set(Number(q), Number(off));
  }
  const counts = new Map<number, number>();
  for (const e of (res.ext('orderCountInfo') ?? '').split(';').filter(Boolean)) {
    const [, key, n] = e.split(' ');
    if (key!.startsWith('qo')) counts.set(Number(key!.split('%')[1]), Number(n));
  }
  const handles = msgs.map(
    (m) =>
      `${start.get(m.queueId)} ${res.ext('popTime')} ${res.ext('invisibleTime')} ${res.ext('reviveQid')} 0 ${broker.brokerName} ${m.queueId} ${m.queueOffset}`,
  );
  return { res, msgs, handles, counts };
}

function ack(topic: string, group: string, handle: string): Promise<RemotingCommand> {
  const f = handle.split(' ');
  return c.call(RequestCode.ACK_MESSAGE, { consumerGroup: group, topic, queueId: f[6]!, extraInfo: handle, offset: f[7]! });
}

const bodies = (p: Popped): string[] => p.msgs.map((m) => m.body.toString());
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('FIFO POP', () => {
  it('one batch of a queue at a time: the next only after the whole batch is acked', async () => {
    expect((await c.createTopic('FIFO_A', 1)).code).toBe(ResponseCode.SUCCESS);
    for (let i = 0; i < 6; i++) expect((await c.send('FIFO_A', `a${i}`, { queueId: 0 })).code).toBe(ResponseCode.SUCCESS);
    const first = await popFifo('FIFO_A', 'G_FIFO_A', { attemptId: 'att-1' });
    expect(bodies(first)).toEqual(['a0', 'a1']);
    expect(first.res.ext('reviveQid')).toBe('999');
    expect(first.res.ext('orderCountInfo')).toBe('0 0 0');
    // Blocked while a0/a1 are out, for any consumer of the group.
    expect((await popFifo('FIFO_A', 'G_FIFO_A')).res.code).toBe(ResponseCode.POLLING_TIMEOUT);
    expect((await ack('FIFO_A', 'G_FIFO_A', first.handles[0]!)).code).toBe(ResponseCode.SUCCESS);
    expect((await popFifo('FIFO_A', 'G_FIFO_A')).res.code).toBe(ResponseCode.POLLING_TIMEOUT);
    // The same attempt (a client retrying its request) is not blocked: it reads from the first message not acked.
    expect(bodies(await popFifo('FIFO_A', 'G_FIFO_A', { attemptId: 'att-1' }))).toEqual(['a1', 'a2']);
  });

  it('a batch not acked in time is handed out again in place, counted; the client sends a poison message to the DLQ', async () => {
    expect((await c.createTopic('FIFO_B', 1)).code).toBe(ResponseCode.SUCCESS);
    for (let i = 0; i < 3; i++) expect((await c.send('FIFO_B', `b${i}`, { queueId: 0 })).code).toBe(ResponseCode.SUCCESS);
    let p = await popFifo('FIFO_B', 'G_FIFO_B', { invisibleTime: 800 });
    expect(bodies(p)).toEqual(['b0', 'b1']);
    for (let attempt = 1; attempt <= 2; attempt++) {
      await sleep(1000);
      p = await popFifo('FIFO_B', 'G_FIFO_B', { invisibleTime: 800 });
      expect(bodies(p)).toEqual(['b0', 'b1']);
      expect(p.counts.get(p.msgs[0]!.queueOffset)).toBe(attempt);
    }
    // b0 is poison: the client forwards it to the DLQ (delayLevel -1) and acks it; b1 succeeds.
    const b0 = p.msgs[0]!;
    const back = await c.call(RequestCode.CONSUMER_SEND_MSG_BACK, {
      offset: String(b0.commitLogOffset),
      group: 'G_FIFO_B',
      delayLevel: '-1',
      originMsgId: b0.properties.get('UNIQ_KEY')!,
      originTopic: 'FIFO_B',
      unitMode: 'false',
      maxReconsumeTimes: '0',
    });
    expect(back.code).toBe(ResponseCode.SUCCESS);
    expect((await ack('FIFO_B', 'G_FIFO_B', p.handles[0]!)).code).toBe(ResponseCode.SUCCESS);
    expect((await ack('FIFO_B', 'G_FIFO_B', p.handles[1]!)).code).toBe(ResponseCode.SUCCESS);
    expect(bodies(await popFifo('FIFO_B', 'G_FIFO_B'))).toEqual(['b2']);
    const dlq = await c.pull({ group: 'G_DLQ_READER', topic: '%DLQ%G_FIFO_B', queueId: 0, offset: 0, sysFlag: PULL.SUBSCRIPTION, subscription: '*' });
    expect(records(dlq).map((m) => m.body.toString())).toEqual(['b0']);
  });

  it('an ack naming an offset outside the batch is MESSAGE_ILLEGAL; an ack of an older batch changes nothing', async () => {
    expect((await c.createTopic('FIFO_C', 1)).code).toBe(ResponseCode.SUCCESS);
    for (let i = 0; i < 4; i++) expect((await c.send('FIFO_C', `c${i}`, { queueId: 0 })).code).toBe(ResponseCode.SUCCESS);
    const p = await popFifo('FIFO_C', 'G_FIFO_C', { invisibleTime: 500 });
    const f = p.handles[0]!.split(' ');
    const outside = await c.call(RequestCode.ACK_MESSAGE, { consumerGroup: 'G_FIFO_C', topic: 'FIFO_C', queueId: '0', extraInfo: p.handles[0]!, offset: '3' });
    expect(outside.code).toBe(ResponseCode.MESSAGE_ILLEGAL);
    await sleep(700);
    const again = await popFifo('FIFO_C', 'G_FIFO_C', { invisibleTime: 60_000 });
    expect(bodies(again)).toEqual(['c0', 'c1']);
    // Acks carrying the first batch's pop time are stale now.
    expect((await ack('FIFO_C', 'G_FIFO_C', p.handles[0]!)).code).toBe(ResponseCode.SUCCESS);
    expect((await ack('FIFO_C', 'G_FIFO_C', p.handles[1]!)).code).toBe(ResponseCode.SUCCESS);
    expect((await popFifo('FIFO_C', 'G_FIFO_C')).res.code).toBe(ResponseCode.POLLING_TIMEOUT);
    expect(f[3]).toBe('999');
  });

  it('two consumers of a group over two queues: every message once, each queue in order, never two batches of a queue at once', async () => {
    expect((await c.createTopic('FIFO_D', 2)).code).toBe(ResponseCode.SUCCESS);
    const N = 20;
    for (let i = 0; i < N; i++) expect((await c.send('FIFO_D', `${i % 2}:${i}`, { queueId: i % 2 })).code).toBe(ResponseCode.SUCCESS);
    const seen: string[][] = [[], []];
    const inFlight = [false, false];
    let overlap = false;
    const consumer = async (): Promise<void> => {
      const t0 = Date.now();
      while (seen[0]!.length + seen[1]!.length < N && Date.now() - t0 < 20_000) {
        const p = await popFifo('FIFO_D', 'G_FIFO_D', { max: 3 });
        if (p.msgs.length === 0) {
          await sleep(20);
          continue;
        }
        const queues = new Set(p.msgs.map((m) => m.queueId));
        for (const q of queues) {
          if (inFlight[q]) overlap = true;
          inFlight[q] = true;
        }
        for (const m of p.msgs) seen[m.queueId]!.push(m.body.toString());
        await sleep(10); // processing
        for (const q of queues) inFlight[q] = false;
        for (const h of p.handles) expect((await ack('FIFO_D', 'G_FIFO_D', h)).code).toBe(ResponseCode.SUCCESS);
      }
    };
    await Promise.all([consumer(), consumer()]);
    expect(overlap).toBe(false);
    for (const q of [0, 1]) {
      const want = Array.from({ length: N / 2 }, (_, k) => `${q}:${2 * k + q}`);
      expect(seen[q]).toEqual(want);
    }
  });

  it('pop groups side by side with pull: consume stats show the lag, a reset moves a FIFO group back and forgets its batch', async () => {
    expect((await c.createTopic('FIFO_E', 1)).code).toBe(ResponseCode.SUCCESS);
    for (let i = 0; i < 5; i++) expect((await c.send('FIFO_E', `e${i}`, { queueId: 0 })).code).toBe(ResponseCode.SUCCESS);
    const p = await popFifo('FIFO_E', 'G_FIFO_E', { max: 2 });
    expect(bodies(p)).toEqual(['e0', 'e1']);
    expect((await ack('FIFO_E', 'G_FIFO_E', p.handles[0]!)).code).toBe(ResponseCode.SUCCESS);
    const stats = await c.call(RequestCode.GET_CONSUME_STATS, { consumerGroup: 'G_FIFO_E', topic: 'FIFO_E' });
    expect(stats.code).toBe(ResponseCode.SUCCESS);
    const text = stats.body!.toString();
    expect(text).toContain('"brokerOffset":5');
    expect(text).toContain('"consumerOffset":1');
    // Reset to the beginning: the batch still out (e1) no longer blocks, everything comes again in order.
    const r = await c.call(RequestCode.INVOKE_BROKER_TO_RESET_OFFSET, { topic: 'FIFO_E', group: 'G_FIFO_E', timestamp: '0', isForce: 'true' }, null, 15_000);
    expect(r.code).toBe(ResponseCode.SUCCESS);
    expect(bodies(await popFifo('FIFO_E', 'G_FIFO_E', { max: 3 }))).toEqual(['e0', 'e1', 'e2']);
  });
});
