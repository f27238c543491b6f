// Bad input gets the right response code, and the broker keeps serving.
import { readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RequestCode, ResponseCode, SerializeType, encodeBatchBody } from '@rocketmq-ts/protocol';
import { removeTempDirs, stopAllProcesses } from '@rocketmq-ts/testing';
import { JavaClient, PULL, records, startBroker, type BrokerHandle } from './harness.js';

let broker: BrokerHandle;
let c: JavaClient;
const MAX = 4096;

const createTopic = (name: string, queues = 4, perm = 6) => c.createTopic(name, queues, { perm: String(perm) });

beforeAll(async () => {
  broker = await startBroker({ autoCreateTopicEnable: false, autoCreateSubscriptionGroup: false, maxMessageSize: MAX, enablePropertyFilter: false });
  c = new JavaClient(broker.addr);
  expect((await createTopic('BAD_T')).code).toBe(ResponseCode.SUCCESS);
  expect((await createTopic('BAD_RO', 2, 4)).code).toBe(ResponseCode.SUCCESS);
  const group = { groupName: 'CG_BAD', consumeEnable: true, retryQueueNums: 1, retryMaxTimes: 16 };
  expect((await c.call(RequestCode.UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, null, Buffer.from(JSON.stringify(group)))).code).toBe(ResponseCode.SUCCESS);
});

afterAll(async () => {
  c?.close();
  await stopAllProcesses();
  removeTempDirs();
});

async function stillServing(): Promise<void> {
  const r = await c.send('BAD_T', 'ok', { queueId: 0 });
  expect(r.code).toBe(ResponseCode.SUCCESS);
}

describe('send rejections', () => {
  it('unknown topic without auto-create → TOPIC_NOT_EXIST, with the send-reply extFields', async () => {
    const r = await c.send('BAD_NOPE', 'x');
    expect(r.code).toBe(ResponseCode.TOPIC_NOT_EXIST);
    expect(r.remark).toContain('BAD_NOPE');
    expect(r.ext('MSG_REGION')).toBe('DefaultRegion');
    expect(r.ext('TRACE_ON')).toBe('true');
    expect((await c.send('BAD_NOPE', 'x', { typed: true })).code).toBe(ResponseCode.TOPIC_NOT_EXIST);
    await stillServing();
  });

  it('body over maxMessageSize → MESSAGE_ILLEGAL (also inside a batch)', async () => {
    const r = await c.send('BAD_T', Buffer.alloc(MAX + 1, 1), { queueId: 0 });
    expect(r.code).toBe(ResponseCode.MESSAGE_ILLEGAL);
    expect(r.remark).toContain(String(MAX));
    const atMax = await c.send('BAD_T', Buffer.alloc(MAX, 1), { queueId: 0 });
    expect(atMax.code).toBe(ResponseCode.SUCCESS);
    const batch = encodeBatchBody([
      { flag: 0, body: Buffer.from('small'), properties: new Map() },
      { flag: 0, body: Buffer.alloc(MAX + 1), properties: new Map() },
    ]);
    const b = await c.sendRaw('BAD_T', batch, '', { queueId: 0 }, RequestCode.SEND_BATCH_MESSAGE);
    expect(b.code).toBe(ResponseCode.MESSAGE_ILLEGAL);
    await stillServing();
  });

  it('queue id beyond the topic → INVALID_PARAMETER, for send and pull', async () => {
    const r = await c.send('BAD_T', 'x', { queueId: 4 });
    expect(r.code).toBe(ResponseCode.INVALID_PARAMETER);
    expect(r.remark).toContain('queueId');
    const typed = await c.send('BAD_T', 'x', { queueId: 99, typed: true });
    expect(typed.code).toBe(ResponseCode.INVALID_PARAMETER);
    const p = await c.pull({ group: 'CG_BAD', topic: 'BAD_T', queueId: 7, offset: 0, sysFlag: PULL.SUBSCRIPTION, subscription: '*' });
    expect(p.code).toBe(ResponseCode.INVALID_PARAMETER);
    await stillServing();
  });

  it('malformed properties: oversized → MESSAGE_ILLEGAL; stray separators are stored and read back', async () => {
    const big = 'K\u0001' + 'v'.repeat(33_000) + '\u0002';
    const r = await c.sendRaw('BAD_T', Buffer.from('x'), big, { queueId: 1 });
    expect(r.code).toBe(ResponseCode.MESSAGE_ILLEGAL);
    // No separators at all, a key without value, a DELAY that is not a number: stored as sent.
    const odd = await c.sendRaw('BAD_T', Buffer.from('odd'), 'garbage\u0002\u0001novalue\u0002DELAY\u0001abc\u0002TAGS\u0001t\u0002', { queueId: 1 });
    expect(odd.code).toBe(ResponseCode.SUCCESS);
    const p = await c.pull({
      group: 'CG_BAD',
      topic: 'BAD_T',
      queueId: 1,
      offset: Number(odd.ext('queueOffset')),
      sysFlag: PULL.SUBSCRIPTION,
      subscription: 't',
    });
    expect(p.code).toBe(ResponseCode.SUCCESS);
    const [m] = records(p);
    expect(m!.body.toString()).toBe('odd');
    expect(m!.topic).toBe('BAD_T');
    expect(m!.properties.get('TAGS')).toBe('t');
    await stillServing();
  });

  it('invalid topic names → INVALID_PARAMETER; system topics → NO_PERMISSION; read-only topic → NO_PERMISSION', async () => {
    expect((await c.send('bad topic!', 'x')).code).toBe(ResponseCode.INVALID_PARAMETER);
    expect((await c.send('T'.repeat(128), 'x')).code).toBe(ResponseCode.INVALID_PARAMETER);
    expect((await c.send('SCHEDULE_TOPIC_XXXX', 'x')).code).toBe(ResponseCode.NO_PERMISSION);
    expect((await c.send('BAD_RO', 'x', { queueId: 0 })).code).toBe(ResponseCode.NO_PERMISSION);
    await stillServing();
  });

  it('a header that does not decode → SYSTEM_ERROR naming the field', async () => {
    const missing = await c.call(
      RequestCode.SEND_MESSAGE_V2,
      { a: 'PG', c: 'TBW102', d: '4', e: '0', f: '0', g: String(Date.now()), h: '0' },
      Buffer.from('x'),
    );
    expect(missing.code).toBe(ResponseCode.SYSTEM_ERROR);
    expect(missing.remark).toMatch(/\bb\b/);
    const notNumber = await c.call(
      RequestCode.SEND_MESSAGE_V2,
      { a: 'PG', b: 'BAD_T', c: 'TBW102', d: '4', e: 'zero', f: '0', g: String(Date.now()), h: '0' },
      Buffer.from('x'),
    );
    expect(notNumber.code).toBe(ResponseCode.SYSTEM_ERROR);
    expect(notNumber.ext('MSG_REGION')).toBe('DefaultRegion');
    const noExt = await c.call(RequestCode.PULL_MESSAGE, null);
    expect(noExt.code).toBe(ResponseCode.SYSTEM_ERROR);
    await stillServing();
  });

  it('a malformed batch body → MESSAGE_ILLEGAL', async () => {
    const r = await c.sendRaw('BAD_T', Buffer.from([0, 0, 0, 99, 1, 2, 3]), '', { queueId: 0 }, RequestCode.SEND_BATCH_MESSAGE);
    expect(r.code).toBe(ResponseCode.MESSAGE_ILLEGAL);
    await stillServing();
  });
});

describe('pull and other rejections', () => {
  it('unknown topic → TOPIC_NOT_EXIST; unknown group without auto-create → SUBSCRIPTION_GROUP_NOT_EXIST', async () => {
    expect((await c.pull({ group: 'CG_BAD', topic: 'BAD_NOPE', offset: 0, sysFlag: PULL.SUBSCRIPTION, subscription: '*' })).code).toBe(
      ResponseCode.TOPIC_NOT_EXIST,
    );
    expect((await c.pull({ group: 'CG_UNKNOWN', topic: 'BAD_T', offset: 0, sysFlag: PULL.SUBSCRIPTION, subscription: '*' })).code).toBe(
      ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST,
    );
  });

  it('SQL92 while enablePropertyFilter=false → SYSTEM_ERROR', async () => {
    const p = await c.pull({ group: 'CG_BAD', topic: 'BAD_T', offset: 0, sysFlag: PULL.SUBSCRIPTION, expressionType: 'SQL92', subscription: 'a > 1' });
    expect(p.code).toBe(ResponseCode.SYSTEM_ERROR);
    expect(p.remark).toContain('SQL92');
  });

  it('fuzz regression: DELETE_TOPIC_IN_BROKER with a path for a name → INVALID_PARAMETER; the store is untouched', async () => {
    for (const topic of ['../commitlog', '..', 'x'.repeat(300), 'a/b']) {
      const r = await c.call(RequestCode.DELETE_TOPIC_IN_BROKER, { topic });
      expect(r.code).toBe(ResponseCode.INVALID_PARAMETER);
    }
    expect(readdirSync(join(broker.storeDir, 'commitlog')).length).toBeGreaterThan(0);
    await stillServing();
  });

  it('fuzz regression: a request body that is not JSON → SYSTEM_ERROR naming the parse error, no warning logged', async () => {
    for (const code of [RequestCode.HEART_BEAT, RequestCode.LOCK_BATCH_MQ, RequestCode.UNLOCK_BATCH_MQ, RequestCode.CHECK_CLIENT_CONFIG]) {
      const r = await c.call(code, null, Buffer.from([0xff, 0x00, 0x7b]));
      expect(r.code).toBe(ResponseCode.SYSTEM_ERROR);
      expect(r.remark).toMatch(/^bad JSON at \d+/);
    }
    expect(broker.proc.output()).not.toMatch(/request code \d+ from \S+ failed: bad JSON/);
    await stillServing();
  });

  it('fuzz regression: made-up request codes share one rpc-latency series (they grew the metrics without bound)', async () => {
    for (let i = 0; i < 50; i++) expect((await c.call(100_000 + i, null)).code).toBe(ResponseCode.REQUEST_CODE_NOT_SUPPORTED);
    const text = await broker.metrics();
    expect(text).not.toMatch(/request_code="unknown_\d+"/);
    expect(text).toMatch(/rocketmq_rpc_latency_count\{[^}]*request_code="unknown",response_code="3"\} \d+/);
  });

  it('an unknown request code → REQUEST_CODE_NOT_SUPPORTED', async () => {
    const r = await c.call(9999, null);
    expect(r.code).toBe(ResponseCode.REQUEST_CODE_NOT_SUPPORTED);
    expect(r.remark).toBe(' request type 9999 not supported');
  });

  it('ROCKETMQ binary headers are answered in binary; send and pull work', async () => {
    const bin = new JavaClient(broker.addr, { serializeType: SerializeType.ROCKETMQ });
    try {
      const s = await bin.send('BAD_T', 'binary', { queueId: 2 });
      expect(s.code).toBe(ResponseCode.SUCCESS);
      expect(s.serializeType).toBe(SerializeType.ROCKETMQ);
      const p = await bin.pull({
        group: 'CG_BAD',
        topic: 'BAD_T',
        queueId: 2,
        offset: Number(s.ext('queueOffset')),
        sysFlag: PULL.SUBSCRIPTION,
        subscription: '*',
      });
      expect(p.serializeType).toBe(SerializeType.ROCKETMQ);
      expect(records(p)[0]!.body.toString()).toBe('binary');
    } finally {
      bin.close();
    }
  });

  it('a garbage frame closes that connection only; other clients are served', async () => {
    const closed = await new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port: broker.port }, () => {
        const f = Buffer.alloc(12);
        f.writeInt32BE(8, 0);
        f.writeInt32BE((7 << 24) | 4, 4); // serialize type 7 does not exist
        s.write(f);
      });
      const t = setTimeout(() => resolve(false), 3_000);
      s.on('error', () => undefined);
      s.on('close', () => {
        clearTimeout(t);
        resolve(true);
      });
    });
    expect(closed).toBe(true);
    await stillServing();
    expect(broker.proc.hasExited).toBe(false);
  });
});
