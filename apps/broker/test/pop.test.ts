// POP consumption on the wire as RocketMQ 5 clients speak it (string extFields): POP_MESSAGE with
// the reply's startOffsetInfo/msgOffsetInfo from which clients build receipt handles, ACK_MESSAGE,
// BATCH_ACK_MESSAGE, CHANGE_MESSAGE_INVISIBLETIME, long polling, redelivery through the pop retry
// topic after the invisible time, and a kill -9 with pops pending.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RequestCode, ResponseCode, buildExtraInfo, realTopicOf, type DecodedMessage, type RemotingCommand } from '@rocketmq-ts/protocol';
import { removeTempDirs, startNode, stopAllProcesses } from '@rocketmq-ts/testing';
import { BROKER_MAIN, JavaClient, records, startBroker, type BrokerHandle } from './harness.js';

let broker: BrokerHandle;
let c: JavaClient;

beforeAll(async () => {
  broker = await startBroker({ autoCreateTopicEnable: true, reviveInterval: 200, reviveQueueNum: 2, popFromRetryProbability: 100 });
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
  /** Receipt handle of each message, built as the Java client builds it. */
  handles: string[];
}

async function pop(
  topic: string,
  group: string,
  o: { queueId?: number; max?: number; invisibleTime?: number; pollTime?: number; exp?: string } = {},
): Promise<Popped> {
  const res = await c.call(
    RequestCode.POP_MESSAGE,
    {
      consumerGroup: group,
      topic,
      queueId: String(o.queueId ?? -1),
      maxMsgNums: String(o.max ?? 32),
      invisibleTime: String(o.invisibleTime ?? 60_000),
      pollTime: String(o.pollTime ?? 0),
      bornTime: String(Date.now()),
      initMode: '0',
      expType: 'TAG',
      exp: o.exp ?? '*',
      order: 'false',
    },
    null,
    (o.pollTime ?? 0) + 5_000,
  );
  const msgs = res.code === ResponseCode.SUCCESS ? records(res) : [];
  // The client's receipt handle: from POP_CK when the broker set one, else from the header's info strings.
  const start = new Map<string, number>();
  for (const e of (res.ext('startOffsetInfo') ?? '').split(';').filter(Boolean)) {
    const [flag, q, off] = e.split(' ');
    start.set(`${flag}@${q}`, Number(off));
  }
  const handles = msgs.map((m) => {
    const ck = m.properties.get('POP_CK');
    if (ck !== undefined) return ck;
    return `${buildExtraInfo({
      ckQueueOffset: start.get(`0@${m.queueId}`)!,
      popTime: Number(res.ext('popTime')),
      invisibleTime: Number(res.ext('invisibleTime')),
      reviveQid: Number(res.ext('reviveQid')),
      flag: '0',
      brokerName: broker.brokerName,
      queueId: m.queueId,
    })} ${m.queueOffset}`;
  });
  return { res, msgs, handles };
}

function ack(topic: string, group: string, handle: string): Promise<RemotingCommand> {
  const f = handle.split(' ');
  return c.call(RequestCode.ACK_MESSAGE, {
    consumerGroup: group,
    topic: realTopicOf(f[4]!, topic, group),
    queueId: f[6]!,
    extraInfo: handle,
    offset: f[7]!,
  });
}

async function sendN(topic: string, n: number, prefix: string): Promise<void> {
  for (let i = 0; i < n; i++) expect((await c.send(topic, `${prefix}${i}`, { queueId: i % 2 })).code).toBe(ResponseCode.SUCCESS);
}

const bodies = (p: Popped): string[] => p.msgs.map((m) => m.body.toString()).sort();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Pops until `want` messages came back or `ms` passed. */
async function popUntil(topic: string, group: string, want: number, ms: number, invisibleTime = 60_000): Promise<Popped[]> {
  const got: Popped[] = [];
  const t0 = Date.now();
  let n = 0;
  for (let i = 0; i < 200 && Date.now() - t0 < ms && n < want; i++) {
    const p = await pop(topic, group, { invisibleTime });
    if (p.msgs.length > 0) {
      got.push(p);
      n += p.msgs.length;
    } else {
      await sleep(200);
    }
  }
  return got;
}

describe('POP', () => {
  it('pops every queue once, with the offset info clients build receipt handles from; an empty pop times out', async () => {
    expect((await c.createTopic('POP_A', 2)).code).toBe(ResponseCode.SUCCESS);
    await sendN('POP_A', 6, 'a');
    const p = await pop('POP_A', 'G_POP_A');
    expect(p.res.code).toBe(ResponseCode.SUCCESS);
    expect(bodies(p)).toEqual(['a0', 'a1', 'a2', 'a3', 'a4', 'a5']);
    expect(p.res.ext('restNum')).toBe('0');
    expect(Number(p.res.ext('popTime'))).toBeGreaterThan(Date.now() - 5000);
    expect(p.res.ext('invisibleTime')).toBe('60000');
    expect(p.res.ext('startOffsetInfo')!.split(';').sort()).toEqual(['0 0 0', '0 1 0']);
    expect(p.res.ext('msgOffsetInfo')!.split(';').sort()).toEqual(['0 0 0,1,2', '0 1 0,1,2']);
    // Hidden now: nothing left to pop, and the group's offsets moved past them.
    const again = await pop('POP_A', 'G_POP_A');
    expect(again.res.code).toBe(ResponseCode.POLLING_TIMEOUT);
    // Another group has its own progress.
    expect(bodies(await pop('POP_A', 'G_POP_A2', { queueId: 1 }))).toEqual(['a1', 'a3', 'a5']);
  });

  it('un-acked messages come back after the invisible time through the retry topic, acked ones never', async () => {
    expect((await c.createTopic('POP_B', 2)).code).toBe(ResponseCode.SUCCESS);
    await sendN('POP_B', 4, 'b');
    const p = await pop('POP_B', 'G_POP_B', { invisibleTime: 1000 });
    expect(p.msgs).toHaveLength(4);
    const keep = new Set(['b0', 'b3']);
    for (let i = 0; i < p.msgs.length; i++) {
      if (!keep.has(p.msgs[i]!.body.toString())) expect((await ack('POP_B', 'G_POP_B', p.handles[i]!)).code).toBe(ResponseCode.SUCCESS);
    }
    const back = await popUntil('POP_B', 'G_POP_B', 2, 15_000);
    const msgs = back.flatMap((x) => x.msgs);
    expect(msgs.map((m) => m.body.toString()).sort()).toEqual(['b0', 'b3']);
    for (const m of msgs) {
      expect(m.topic).toBe('POP_B');
      expect(m.reconsumeTimes).toBe(1);
      expect(m.properties.get('1ST_POP_TIME')).toBe(p.res.ext('popTime'));
      expect(m.properties.get('POP_CK')!.split(' ')[4]).toBe('1'); // from the v1 retry topic
    }
    // Acking the redelivered copies ends them.
    for (const x of back) for (const h of x.handles) expect((await ack('POP_B', 'G_POP_B', h)).code).toBe(ResponseCode.SUCCESS);
    await sleep(2500);
    expect((await popUntil('POP_B', 'G_POP_B', 1, 2000)).flatMap((x) => x.msgs)).toEqual([]);
  });

  it('CHANGE_MESSAGE_INVISIBLETIME brings one message back early; BATCH_ACK_MESSAGE acks by bit set', async () => {
    expect((await c.createTopic('POP_C', 1)).code).toBe(ResponseCode.SUCCESS);
    for (let i = 0; i < 4; i++) expect((await c.send('POP_C', `c${i}`, { queueId: 0 })).code).toBe(ResponseCode.SUCCESS);
    const p = await pop('POP_C', 'G_POP_C', { invisibleTime: 60_000 });
    expect(bodies(p)).toEqual(['c0', 'c1', 'c2', 'c3']);
    // c0: visible again in 500 ms.
    const f = p.handles[0]!.split(' ');
    const ch = await c.call(RequestCode.CHANGE_MESSAGE_INVISIBLETIME, {
      consumerGroup: 'G_POP_C',
      topic: 'POP_C',
      queueId: f[6]!,
      extraInfo: p.handles[0]!,
      offset: f[7]!,
      invisibleTime: '500',
    });
    expect(ch.code).toBe(ResponseCode.SUCCESS);
    expect(Number(ch.ext('popTime'))).toBeGreaterThanOrEqual(Number(p.res.ext('popTime')));
    expect(ch.ext('invisibleTime')).toBe('500');
    // c1, c2: batch-acked (bits 1 and 2 from the checkpoint's start offset 0).
    const body = {
      brokerName: broker.brokerName,
      acks: [
        {
          c: 'G_POP_C',
          t: 'POP_C',
          r: '0',
          so: Number(f[0]),
          q: 0,
          rq: Number(p.res.ext('reviveQid')),
          pt: Number(p.res.ext('popTime')),
          it: 60_000,
          b: Buffer.from([0b110]).toString('base64'),
        },
      ],
    };
    expect((await c.call(RequestCode.BATCH_ACK_MESSAGE, null, Buffer.from(JSON.stringify(body)))).code).toBe(ResponseCode.SUCCESS);
    const back = (await popUntil('POP_C', 'G_POP_C', 1, 10_000)).flatMap((x) => x.msgs);
    expect(back.map((m) => m.body.toString())).toEqual(['c0']);
    // c3 keeps its 60 s.
    await sleep(1500);
    expect((await pop('POP_C', 'G_POP_C')).msgs).toEqual([]);
  });

  it('long polling: a parked pop is answered when a message arrives; otherwise POLLING_TIMEOUT after pollTime', async () => {
    expect((await c.createTopic('POP_D', 2)).code).toBe(ResponseCode.SUCCESS);
    const t0 = Date.now();
    const empty = await pop('POP_D', 'G_POP_D', { pollTime: 600 });
    expect(empty.res.code).toBe(ResponseCode.POLLING_TIMEOUT);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(400);
    const waiting = pop('POP_D', 'G_POP_D', { pollTime: 10_000 });
    await sleep(300);
    const t1 = Date.now();
    expect((await c.send('POP_D', 'd0', { queueId: 1 })).code).toBe(ResponseCode.SUCCESS);
    const got = await waiting;
    expect(bodies(got)).toEqual(['d0']);
    expect(Date.now() - t1).toBeLessThan(3000);
  });

  it('bad requests get RocketMQ codes', async () => {
    expect((await c.createTopic('POP_E', 1)).code).toBe(ResponseCode.SUCCESS);
    await sendN('POP_E', 1, 'e');
    expect((await pop('POP_E', 'G_POP_E', { max: 33 })).res.code).toBe(ResponseCode.INVALID_PARAMETER);
    expect((await pop('POP_E', 'G_POP_E', { invisibleTime: -1 })).res.code).toBe(ResponseCode.INVALID_PARAMETER);
    expect((await pop('POP_E', 'G_POP_E', { queueId: 5 })).res.code).toBe(ResponseCode.INVALID_PARAMETER);
    expect((await pop('NO_SUCH_TOPIC_POP', 'G_POP_E')).res.code).toBe(ResponseCode.TOPIC_NOT_EXIST);
    // An unknown group, where groups are not created on demand.
    expect((await c.call(RequestCode.UPDATE_BROKER_CONFIG, null, Buffer.from('autoCreateSubscriptionGroup=false'))).code).toBe(ResponseCode.SUCCESS);
    try {
      expect((await pop('POP_E', 'G_POP_NOBODY')).res.code).toBe(ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST);
    } finally {
      expect((await c.call(RequestCode.UPDATE_BROKER_CONFIG, null, Buffer.from('autoCreateSubscriptionGroup=true'))).code).toBe(ResponseCode.SUCCESS);
    }
    const bad = await c.call(RequestCode.ACK_MESSAGE, { consumerGroup: 'G_POP_E', topic: 'POP_E', queueId: '0', extraInfo: 'not a handle', offset: '0' });
    expect(bad.code).toBe(ResponseCode.INVALID_PARAMETER);
    const p = await pop('POP_E', 'G_POP_E');
    const f = p.handles[0]!.split(' ');
    const beyond = await c.call(RequestCode.ACK_MESSAGE, { consumerGroup: 'G_POP_E', topic: 'POP_E', queueId: '0', extraInfo: p.handles[0]!, offset: '99' });
    expect(beyond.code).toBe(ResponseCode.NO_MESSAGE);
    const wrongQueue = await c.call(RequestCode.ACK_MESSAGE, {
      consumerGroup: 'G_POP_E',
      topic: 'POP_E',
      queueId: '7',
      extraInfo: p.handles[0]!,
      offset: f[7]!,
    });
    expect(wrongQueue.code).toBe(ResponseCode.MESSAGE_ILLEGAL);
    // A repeated ack is fine.
    expect((await ack('POP_E', 'G_POP_E', p.handles[0]!)).code).toBe(ResponseCode.SUCCESS);
    expect((await ack('POP_E', 'G_POP_E', p.handles[0]!)).code).toBe(ResponseCode.SUCCESS);
  });

  it('/metrics counts revive records and revived messages', async () => {
    const m = await broker.metrics();
    const value = (name: string, label: string): number => {
      const line = m.split('\n').find((l) => l.startsWith(name + '{') && l.includes(label));
      return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
    };
    expect(value('rocketmq_pop_revive_retry_messages_total', 'topic="POP_B"')).toBe(2);
    expect(value('rocketmq_pop_revive_in_message_total', 'revive_message_type="ck"')).toBeGreaterThanOrEqual(3);
    expect(value('rocketmq_pop_revive_in_message_total', 'revive_message_type="ack"')).toBeGreaterThanOrEqual(2);
    expect(m).toMatch(/rocketmq_pop_revive_lag\{[^}]*queue_id="0"[^}]*\} \d+/);
  });

  it('kill -9 with pops pending: un-acked messages come back after the restart, acked ones do not, unpopped ones are still there', async () => {
    expect((await c.createTopic('POP_F', 1)).code).toBe(ResponseCode.SUCCESS);
    for (let i = 0; i < 5; i++) expect((await c.send('POP_F', `f${i}`, { queueId: 0 })).code).toBe(ResponseCode.SUCCESS);
    const p = await pop('POP_F', 'G_POP_F', { max: 3, invisibleTime: 2000 });
    expect(bodies(p)).toEqual(['f0', 'f1', 'f2']);
    expect((await ack('POP_F', 'G_POP_F', p.handles[1]!)).code).toBe(ResponseCode.SUCCESS);
    c.close();
    process.kill(broker.proc.pid, 'SIGKILL');
    await broker.proc.exited;
    broker.proc = await startNode(BROKER_MAIN, ['-c', broker.confPath], { name: 'broker-pop', readyPattern: /broker \S+ started at/, timeoutMs: 20_000 });
    c = new JavaClient(broker.addr);
    const all = (await popUntil('POP_F', 'G_POP_F', 4, 15_000)).flatMap((x) => x.msgs.map((m) => m.body.toString()));
    expect(all.sort()).toEqual(['f0', 'f2', 'f3', 'f4']);
  });
});
