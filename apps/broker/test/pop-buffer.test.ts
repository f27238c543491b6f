// POP's merge buffer (enablePopBufferMerge, on by default): checkpoints stay in memory for
// popCkStayBufferTime while acks set bits on them. Fully acked in time → nothing reaches the timer
// or the revive topic; partly acked → written once the time is up, only the un-acked come back;
// the committed pop offset never passes a checkpoint that is only in memory, so a kill -9 brings
// those messages back (popped again), and a clean stop writes them first.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RequestCode, ResponseCode, buildExtraInfo, realTopicOf, type DecodedMessage, type RemotingCommand } from '@rocketmq-ts/protocol';
import { removeTempDirs, startNode, stopAllProcesses } from '@rocketmq-ts/testing';
import { BROKER_MAIN, JavaClient, records, sleep, startBroker, type BrokerHandle } from './harness.js';

const STAY_MS = 2_000;
const TIMER_TOPIC = 'rmq_sys_wheel_timer';
const REVIVE_TOPIC = 'rmq_sys_REVIVE_LOG_TestCluster';

let broker: BrokerHandle;
let c: JavaClient;

beforeAll(async () => {
  broker = await startBroker({
    autoCreateTopicEnable: true,
    reviveInterval: 200,
    reviveQueueNum: 2,
    popFromRetryProbability: 100,
    popCkStayBufferTime: STAY_MS,
  });
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
}

async function pop(topic: string, group: string, o: { queueId?: number; max?: number; invisibleTime?: number } = {}): Promise<Popped> {
  const res = await c.call(RequestCode.POP_MESSAGE, {
    consumerGroup: group,
    topic,
    queueId: String(o.queueId ?? -1),
    maxMsgNums: String(o.max ?? 32),
    invisibleTime: String(o.invisibleTime ?? 60_000),
    pollTime: '0',
    bornTime: String(Date.now()),
    initMode: '0',
    expType: 'TAG',
    exp: '*',
    order: 'false',
  });
  const msgs = res.code === ResponseCode.SUCCESS ? records(res) : [];
  const start = new Map<string, number>();
  for (const e of (res.ext('startOffsetInfo') ?? '').split(';').filter(Boolean)) {
    const [flag, q, off] = e.split(' ');
    start.set(`${flag}@${q}`, Number(off));
  }
  const handles = msgs.map(
    (m) =>
      m.properties.get('POP_CK') ??
      `${buildExtraInfo({
        ckQueueOffset: start.get(`0@${m.queueId}`)!,
        popTime: Number(res.ext('popTime')),
        invisibleTime: Number(res.ext('invisibleTime')),
        reviveQid: Number(res.ext('reviveQid')),
        flag: '0',
        brokerName: broker.brokerName,
        queueId: m.queueId,
      })} ${m.queueOffset}`,
  );
  return { res, msgs, handles };
}

async function ack(topic: string, group: string, handle: string): Promise<void> {
  const f = handle.split(' ');
  const r = await c.call(RequestCode.ACK_MESSAGE, {
    consumerGroup: group,
    topic: realTopicOf(f[4]!, topic, group),
    queueId: f[6]!,
    extraInfo: handle,
    offset: f[7]!,
  });
  expect(r.code).toBe(ResponseCode.SUCCESS);
}

async function maxOffset(topic: string, queueId: number): Promise<number> {
  const r = await c.call(RequestCode.GET_MAX_OFFSET, { topic, queueId: String(queueId) });
  return Number(r.ext('offset'));
}

/** Records that went to the timer (checkpoints and acks wait there) or straight into the revive queues. */
async function reviveRecords(): Promise<number> {
  return (await maxOffset(TIMER_TOPIC, 0)) + (await maxOffset(REVIVE_TOPIC, 0)) + (await maxOffset(REVIVE_TOPIC, 1));
}

async function committed(group: string, topic: string, queueId = 0): Promise<number> {
  const r = await c.call(RequestCode.QUERY_CONSUMER_OFFSET, { consumerGroup: group, topic, queueId: String(queueId) });
  return r.code === ResponseCode.SUCCESS ? Number(r.ext('offset')) : -1;
}

async function send(topic: string, bodies: string[]): Promise<void> {
  for (const b of bodies) expect((await c.send(topic, b, { queueId: 0 })).code).toBe(ResponseCode.SUCCESS);
}

const names = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const bodiesOf = (msgs: DecodedMessage[]): string[] => msgs.map((m) => m.body.toString()).sort();

/** Pops (any queue, retry topic included) until `want` messages came or `ms` passed; acks none. */
async function popUntil(topic: string, group: string, want: number, ms: number): Promise<Popped[]> {
  const got: Popped[] = [];
  const t0 = Date.now();
  let n = 0;
  while (Date.now() - t0 < ms && n < want) {
    const p = await pop(topic, group);
    if (p.msgs.length > 0) {
      got.push(p);
      n += p.msgs.length;
    } else {
      await sleep(200);
    }
  }
  return got;
}

async function waitFor(f: () => Promise<boolean>, ms: number): Promise<boolean> {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    if (await f()) return true;
    await sleep(100);
  }
  return f();
}

async function kill9AndStart(): Promise<void> {
  c.close();
  process.kill(broker.proc.pid, 'SIGKILL');
  await broker.proc.exited;
  broker.proc = await startNode(BROKER_MAIN, ['-c', broker.confPath], { name: 'broker-pop-buffer', readyPattern: /broker \S+ started at/, timeoutMs: 20_000 });
  c = new JavaClient(broker.addr);
}

describe('POP merge buffer', () => {
  it('a checkpoint fully acked within the stay time writes nothing: no checkpoint, no ack record; the offset moves on the last ack', async () => {
    expect((await c.createTopic('PB_A', 1)).code).toBe(ResponseCode.SUCCESS);
    await send('PB_A', names('a', 8));
    const before = await reviveRecords();
    const p = await pop('PB_A', 'G_PB_A', { queueId: 0, max: 8, invisibleTime: 8_000 });
    expect(bodiesOf(p.msgs)).toEqual(names('a', 8));
    // In flight: the next pop reads past them, the committed offset waits for them.
    expect((await pop('PB_A', 'G_PB_A', { queueId: 0 })).msgs).toEqual([]);
    expect(await committed('G_PB_A', 'PB_A')).toBe(0);
    for (const h of p.handles.slice(0, 7)) await ack('PB_A', 'G_PB_A', h);
    expect(await committed('G_PB_A', 'PB_A')).toBe(0);
    await ack('PB_A', 'G_PB_A', p.handles[7]!);
    expect(await committed('G_PB_A', 'PB_A')).toBe(8);
    await sleep(STAY_MS + 500);
    expect(await reviveRecords()).toBe(before);

    // Off at run time: the checkpoint and each ack are written at once again.
    expect((await c.call(RequestCode.UPDATE_BROKER_CONFIG, null, Buffer.from('enablePopBufferMerge=false'))).code).toBe(ResponseCode.SUCCESS);
    try {
      await send('PB_A', ['a8', 'a9']);
      const q = await pop('PB_A', 'G_PB_A', { queueId: 0, invisibleTime: 8_000 });
      expect(bodiesOf(q.msgs)).toEqual(['a8', 'a9']);
      expect(await committed('G_PB_A', 'PB_A')).toBe(10);
      expect(await reviveRecords()).toBe(before + 1);
      await ack('PB_A', 'G_PB_A', q.handles[0]!);
      await ack('PB_A', 'G_PB_A', q.handles[1]!);
      expect(await reviveRecords()).toBe(before + 3);
    } finally {
      expect((await c.call(RequestCode.UPDATE_BROKER_CONFIG, null, Buffer.from('enablePopBufferMerge=true'))).code).toBe(ResponseCode.SUCCESS);
    }
  });

  it('a checkpoint partly acked is written when its stay time ends, with its acked bits: only the un-acked messages come back', async () => {
    expect((await c.createTopic('PB_B', 1)).code).toBe(ResponseCode.SUCCESS);
    await send('PB_B', names('b', 6));
    const before = await reviveRecords();
    const p = await pop('PB_B', 'G_PB_B', { queueId: 0, invisibleTime: 6_000 });
    expect(bodiesOf(p.msgs)).toEqual(names('b', 6));
    await ack('PB_B', 'G_PB_B', p.handles[1]!);
    await ack('PB_B', 'G_PB_B', p.handles[3]!);
    // b5 by BATCH_ACK_MESSAGE (bit 5 from the checkpoint's start offset 0).
    const batch = {
      brokerName: broker.brokerName,
      acks: [
        {
          c: 'G_PB_B',
          t: 'PB_B',
          r: '0',
          so: 0,
          q: 0,
          rq: Number(p.res.ext('reviveQid')),
          pt: Number(p.res.ext('popTime')),
          it: 6_000,
          b: Buffer.from([0b100000]).toString('base64'),
        },
      ],
    };
    expect((await c.call(RequestCode.BATCH_ACK_MESSAGE, null, Buffer.from(JSON.stringify(batch)))).code).toBe(ResponseCode.SUCCESS);
    expect(await committed('G_PB_B', 'PB_B')).toBe(0);
    expect(await reviveRecords()).toBe(before);
    // Stay time over: one record (the checkpoint, acked bits inside), and the offset moves past it.
    expect(await waitFor(async () => (await committed('G_PB_B', 'PB_B')) === 6, STAY_MS + 2_000)).toBe(true);
    expect(await reviveRecords()).toBe(before + 1);
    const back = (await popUntil('PB_B', 'G_PB_B', 3, 12_000)).flatMap((x) => x.msgs);
    expect(bodiesOf(back)).toEqual(['b0', 'b2', 'b4']);
    for (const m of back) expect(m.reconsumeTimes).toBe(1);
    await sleep(1_500);
    expect((await popUntil('PB_B', 'G_PB_B', 1, 1_000)).flatMap((x) => x.msgs)).toEqual([]);
  });

  it('kill -9 with checkpoints only in memory: their messages are popped again; the offset is not raised past them; fully acked pops stay done', async () => {
    expect((await c.createTopic('PB_K', 1)).code).toBe(ResponseCode.SUCCESS);
    await send('PB_K', names('k', 10));
    // k0..k3: acked in full, the offset committed and persisted (flushConsumerOffsetInterval 500 ms).
    const a = await pop('PB_K', 'G_PB_K', { queueId: 0, max: 4 });
    for (const h of a.handles) await ack('PB_K', 'G_PB_K', h);
    expect(await committed('G_PB_K', 'PB_K')).toBe(4);
    await sleep(1_500);
    // k4..k6: buffered, k5 acked. k7, k8: a short invisible time, so written at once, behind the buffered one.
    const b = await pop('PB_K', 'G_PB_K', { queueId: 0, max: 3 });
    expect(bodiesOf(b.msgs)).toEqual(['k4', 'k5', 'k6']);
    await ack('PB_K', 'G_PB_K', b.handles[1]!);
    const cc = await pop('PB_K', 'G_PB_K', { queueId: 0, max: 2, invisibleTime: 3_000 });
    expect(bodiesOf(cc.msgs)).toEqual(['k7', 'k8']);
    expect(await committed('G_PB_K', 'PB_K')).toBe(4);
    await sleep(700); // the offsets file is written again (still 4)
    await kill9AndStart();
    // The restart raises pop offsets from the stored checkpoints, but not past the lost one.
    expect(await committed('G_PB_K', 'PB_K')).toBe(4);
    const got = (await popUntil('PB_K', 'G_PB_K', 8, 15_000)).flatMap((x) => x.msgs.map((m) => m.body.toString()));
    // At least once: k4..k9 popped again (k5 too: its checkpoint was not done), k7/k8 also revived.
    expect([...new Set(got)].sort()).toEqual(['k4', 'k5', 'k6', 'k7', 'k8', 'k9']);
    expect(got.filter((x) => x === 'k7' || x === 'k8').length).toBe(4);
    expect(got.some((x) => ['k0', 'k1', 'k2', 'k3'].includes(x))).toBe(false);
  });

  it('a clean stop writes the buffered checkpoints: after the restart only their un-acked messages come back, nothing is popped twice', async () => {
    expect((await c.createTopic('PB_S', 1)).code).toBe(ResponseCode.SUCCESS);
    await send('PB_S', names('s', 4));
    const p = await pop('PB_S', 'G_PB_S', { queueId: 0, invisibleTime: 6_000 });
    expect(bodiesOf(p.msgs)).toEqual(names('s', 4));
    await ack('PB_S', 'G_PB_S', p.handles[0]!);
    await ack('PB_S', 'G_PB_S', p.handles[2]!);
    expect(await committed('G_PB_S', 'PB_S')).toBe(0);
    c.close();
    await broker.restart();
    c = new JavaClient(broker.addr);
    expect(await committed('G_PB_S', 'PB_S')).toBe(4);
    const back = (await popUntil('PB_S', 'G_PB_S', 2, 12_000)).flatMap((x) => x.msgs);
    expect(bodiesOf(back)).toEqual(['s1', 's3']);
    for (const m of back) expect(m.reconsumeTimes).toBe(1);
  });
});
