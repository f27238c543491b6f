// Send and pull end to end against a broker process, as the Java client speaks.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RequestCode, ResponseCode, decodeMessageRecords, decodeOffsetMsgId, encodeBatchBody, javaStringHashCode } from '@rocketmq-ts/protocol';
import { RawClient, jsonFrame, removeTempDirs, stopAllProcesses } from '@rocketmq-ts/testing';
import { JavaClient, PULL, records, startBroker, uniqKey, type BrokerHandle } from './harness.js';

let broker: BrokerHandle;
let c: JavaClient;

beforeAll(async () => {
  broker = await startBroker({ enablePropertyFilter: true, maxMessageSize: 65536, defaultTopicQueueNums: 8 });
  c = new JavaClient(broker.addr);
});

afterAll(async () => {
  c?.close();
  await stopAllProcesses();
  removeTempDirs();
});

describe('send', () => {
  it('SEND_MESSAGE_V2 to a new topic auto-creates it from TBW102 and replies msgId, queueId, queueOffset', async () => {
    const key = uniqKey();
    const res = await c.send('SP_AUTO', 'hello', { tags: 'TagA', keys: 'k1 k2', queueId: 2, extraProps: { UNIQ_KEY: key } });
    expect(res.code).toBe(ResponseCode.SUCCESS);
    expect(res.flag & 1).toBe(1);
    expect(res.version).toBeGreaterThanOrEqual(401);
    expect(res.ext('queueId')).toBe('2');
    expect(res.ext('queueOffset')).toBe('0');
    expect(res.ext('MSG_REGION')).toBe('DefaultRegion');
    expect(res.ext('TRACE_ON')).toBe('true');
    const id = decodeOffsetMsgId(res.ext('msgId')!);
    expect(res.ext('msgId')).toMatch(/^[0-9A-F]{32}$/);
    expect(id?.port).toBe(broker.port);
    // The created topic has min(client default 4, template 8) queues.
    const tc = await c.call(RequestCode.GET_TOPIC_CONFIG, { topic: 'SP_AUTO' });
    expect(tc.code).toBe(ResponseCode.SUCCESS);
    expect(JSON.parse(tc.body!.toString()).topicConfig).toMatchObject({ topicName: 'SP_AUTO', readQueueNums: 4, writeQueueNums: 4, perm: 6 });

    // Pull it back: record intact, UNIQ_KEY kept, broker's CLUSTER added.
    const pull = await c.pull({ group: 'CG_SP', topic: 'SP_AUTO', queueId: 2, offset: 0, sysFlag: PULL.SUBSCRIPTION, subscription: '*' });
    expect(pull.code).toBe(ResponseCode.SUCCESS);
    const [m] = records(pull);
    expect(m!.body.toString()).toBe('hello');
    expect(m!.properties.get('UNIQ_KEY')).toBe(key);
    expect(m!.properties.get('TAGS')).toBe('TagA');
    expect(m!.properties.get('KEYS')).toBe('k1 k2');
    expect(m!.properties.get('CLUSTER')).toBe('TestCluster');
    expect(m!.msgId).toBe(res.ext('msgId'));
    expect(m!.queueOffset).toBe(0);
    expect(m!.storeHost).toEqual({ address: '127.0.0.1', port: broker.port });
    // The record is written with MAGIC V1 and IPv4 hosts.
    expect(pull.body!.readInt32BE(4)).toBe(0xdaa320a7 | 0);
  });

  it('SEND_MESSAGE (V1 header) and extFields as JSON numbers/booleans are accepted', async () => {
    const a = await c.send('SP_V1', 'v1', { v1: true, queueId: 0 });
    expect(a.code).toBe(ResponseCode.SUCCESS);
    const b = await c.send('SP_V1', 'typed', { queueId: 0, typed: true });
    expect(b.code).toBe(ResponseCode.SUCCESS);
    expect(b.ext('queueOffset')).toBe('1');
    const d = await c.send('SP_V1', 'typed-v1', { v1: true, queueId: 0, typed: true });
    expect(d.ext('queueOffset')).toBe('2');
    const p = await c.pull({ group: 'CG_SP', topic: 'SP_V1', offset: 0, sysFlag: PULL.SUBSCRIPTION, subscription: '*', typed: true });
    expect(records(p).map((m) => m.body.toString())).toEqual(['v1', 'typed', 'typed-v1']);
  });

  it('a message without UNIQ_KEY gets one; queueId -1 picks a writable queue; transactionId is echoed', async () => {
    const r = await c.sendRaw('SP_MISC', Buffer.from('x'), 'TAGS\u0001t\u0002', { queueId: -1 });
    expect(r.code).toBe(ResponseCode.SUCCESS);
    const q = Number(r.ext('queueId'));
    expect(q).toBeGreaterThanOrEqual(0);
    expect(q).toBeLessThan(4);
    const p = await c.pull({ group: 'CG_SP', topic: 'SP_MISC', queueId: q, offset: 0, sysFlag: PULL.SUBSCRIPTION, subscription: '*' });
    expect(records(p)[0]!.properties.get('UNIQ_KEY')).toMatch(/^[0-9A-F]{32}$/);

    const tx = await c.send('SP_MISC', 'tx', { extraProps: { __transactionId__: 'TX-1' } });
    expect(tx.ext('transactionId')).toBe('TX-1');
    const plain = await c.send('SP_MISC', 'plain');
    expect(plain.ext('transactionId')).toBeUndefined();
  });

  it('SEND_BATCH_MESSAGE stores each message with its own record and replies the joined msgIds', async () => {
    const entries = [0, 1, 2].map((i) => ({
      flag: 0,
      body: Buffer.from(`b${i}`),
      properties: new Map([
        ['UNIQ_KEY', uniqKey()],
        ['TAGS', 'B'],
      ]),
    }));
    const res = await c.sendRaw('SP_BATCH', encodeBatchBody(entries), 'WAIT\u0001true\u0002', { queueId: 1 }, RequestCode.SEND_BATCH_MESSAGE);
    expect(res.code).toBe(ResponseCode.SUCCESS);
    expect(res.ext('msgId')!.split(',')).toHaveLength(3);
    expect(res.ext('queueOffset')).toBe('0');
    const p = await c.pull({ group: 'CG_SP', topic: 'SP_BATCH', queueId: 1, offset: 0, sysFlag: PULL.SUBSCRIPTION, subscription: '*' });
    const ms = records(p);
    expect(ms.map((m) => m.body.toString())).toEqual(['b0', 'b1', 'b2']);
    expect(ms.map((m) => m.queueOffset)).toEqual([0, 1, 2]);
    expect(ms.map((m) => m.properties.get('UNIQ_KEY'))).toEqual(entries.map((e) => e.properties.get('UNIQ_KEY')));
  });
});

describe('pull', () => {
  const T = 'SP_PULL';

  beforeAll(async () => {
    for (let i = 0; i < 6; i++) {
      const r = await c.send(T, `m${i}`, { tags: i % 2 === 0 ? 'even' : 'odd', queueId: 0, extraProps: { n: String(i), color: i < 3 ? 'red' : 'blue' } });
      expect(r.code).toBe(ResponseCode.SUCCESS);
    }
  });

  it('FOUND replies carry nextBeginOffset, minOffset, maxOffset, suggestWhichBrokerId and the status remark', async () => {
    const p = await c.pull({ group: 'CG_P', topic: T, offset: 1, maxMsgNums: 2, sysFlag: PULL.SUBSCRIPTION | PULL.SUSPEND, subscription: '*' });
    expect(p.code).toBe(ResponseCode.SUCCESS);
    expect(p.remark).toBe('FOUND');
    expect(p.ext('nextBeginOffset')).toBe('3');
    expect(p.ext('minOffset')).toBe('0');
    expect(p.ext('maxOffset')).toBe('6');
    expect(p.ext('suggestWhichBrokerId')).toBe('0');
    expect(records(p).map((m) => m.body.toString())).toEqual(['m1', 'm2']);
  });

  it('filters by tag hash from the subscription in the request', async () => {
    const p = await c.pull({ group: 'CG_P', topic: T, offset: 0, sysFlag: PULL.SUBSCRIPTION, subscription: 'odd' });
    expect(records(p).map((m) => m.body.toString())).toEqual(['m1', 'm3', 'm5']);
    expect(p.ext('nextBeginOffset')).toBe('6');
    const both = await c.pull({ group: 'CG_P', topic: T, offset: 0, sysFlag: PULL.SUBSCRIPTION, subscription: 'odd || even' });
    expect(records(both)).toHaveLength(6);
    const none = await c.pull({ group: 'CG_P', topic: T, offset: 0, sysFlag: PULL.SUBSCRIPTION, subscription: 'nope' });
    expect(none.code).toBe(ResponseCode.PULL_RETRY_IMMEDIATELY);
    expect(none.ext('nextBeginOffset')).toBe('6');
  });

  it('uses the subscription learnt from HEART_BEAT when the request carries none', async () => {
    const hb = await c.heartbeat({ consumerGroup: 'CG_HB', subscriptions: [{ topic: T, subString: 'even', subVersion: 100 }] });
    expect(hb.code).toBe(ResponseCode.SUCCESS);
    const p = await c.pull({ group: 'CG_HB', topic: T, offset: 0, sysFlag: PULL.SUSPEND, subVersion: 100 });
    expect(p.code).toBe(ResponseCode.SUCCESS);
    expect(records(p).map((m) => m.properties.get('TAGS'))).toEqual(['even', 'even', 'even']);
    // A newer subVersion than the broker knows → SUBSCRIPTION_NOT_LATEST; unknown group info → SUBSCRIPTION_NOT_EXIST.
    expect((await c.pull({ group: 'CG_HB', topic: T, offset: 0, sysFlag: 0, subVersion: 200 })).code).toBe(ResponseCode.SUBSCRIPTION_NOT_LATEST);
    expect((await c.pull({ group: 'CG_NO_HB', topic: T, offset: 0, sysFlag: 0 })).code).toBe(ResponseCode.SUBSCRIPTION_NOT_EXIST);
    expect((await c.pull({ group: 'CG_HB', topic: 'SP_AUTO', offset: 0, sysFlag: 0 })).code).toBe(ResponseCode.SUBSCRIPTION_NOT_EXIST);
  });

  it('SQL92 filters on properties, inline and from the heartbeat; a bad expression is SUBSCRIPTION_PARSE_FAILED', async () => {
    const p = await c.pull({
      group: 'CG_SQL',
      topic: T,
      offset: 0,
      sysFlag: PULL.SUBSCRIPTION,
      expressionType: 'SQL92',
      subscription: "color = 'blue' AND n > 3",
    });
    expect(p.code).toBe(ResponseCode.SUCCESS);
    expect(records(p).map((m) => m.body.toString())).toEqual(['m4', 'm5']);
    const tags = await c.pull({
      group: 'CG_SQL',
      topic: T,
      offset: 0,
      sysFlag: PULL.SUBSCRIPTION,
      expressionType: 'SQL92',
      subscription: "TAGS = 'odd' AND n BETWEEN 0 AND 3",
    });
    expect(records(tags).map((m) => m.body.toString())).toEqual(['m1', 'm3']);
    await c.heartbeat({ consumerGroup: 'CG_SQL_HB', subscriptions: [{ topic: T, subString: 'n IN (0, 5)', expressionType: 'SQL92', subVersion: 1 }] });
    const hb = await c.pull({ group: 'CG_SQL_HB', topic: T, offset: 0, sysFlag: 0, subVersion: 1 });
    expect(records(hb).map((m) => m.body.toString())).toEqual(['m0', 'm5']);
    const bad = await c.pull({ group: 'CG_SQL', topic: T, offset: 0, sysFlag: PULL.SUBSCRIPTION, expressionType: 'SQL92', subscription: 'n >>> (' });
    expect(bad.code).toBe(ResponseCode.SUBSCRIPTION_PARSE_FAILED);
  });

  it('maps offsets outside the queue: too big → OFFSET_MOVED to max, at max → NOT_FOUND, empty queue', async () => {
    const over = await c.pull({ group: 'CG_P', topic: T, offset: 100, sysFlag: PULL.SUBSCRIPTION, subscription: '*' });
    expect(over.code).toBe(ResponseCode.PULL_OFFSET_MOVED);
    expect(over.ext('nextBeginOffset')).toBe('6');
    expect(over.ext('maxOffset')).toBe('6');
    const atMax = await c.pull({ group: 'CG_P', topic: T, offset: 6, sysFlag: PULL.SUBSCRIPTION, subscription: '*' });
    expect(atMax.code).toBe(ResponseCode.PULL_NOT_FOUND);
    expect(atMax.ext('nextBeginOffset')).toBe('6');
    expect(atMax.ext('minOffset')).toBe('0');
    // Queue 3 of the topic holds nothing: offset 0 → NOT_FOUND, offset 5 → OFFSET_MOVED to 0.
    const empty0 = await c.pull({ group: 'CG_P', topic: T, queueId: 3, offset: 0, sysFlag: PULL.SUBSCRIPTION, subscription: '*' });
    expect(empty0.code).toBe(ResponseCode.PULL_NOT_FOUND);
    const empty5 = await c.pull({ group: 'CG_P', topic: T, queueId: 3, offset: 5, sysFlag: PULL.SUBSCRIPTION, subscription: '*' });
    expect(empty5.code).toBe(ResponseCode.PULL_OFFSET_MOVED);
    expect(empty5.ext('nextBeginOffset')).toBe('0');
  });

  it('commits the offset carried in the pull (COMMIT_OFFSET flag), never moving it back with a negative one', async () => {
    await c.pull({ group: 'CG_COMMIT', topic: T, offset: 2, sysFlag: PULL.SUBSCRIPTION | PULL.COMMIT_OFFSET, subscription: '*', commitOffset: 2 });
    const q = await c.call(RequestCode.QUERY_CONSUMER_OFFSET, { consumerGroup: 'CG_COMMIT', topic: T, queueId: '0' });
    expect(q.ext('offset')).toBe('2');
    await c.pull({ group: 'CG_COMMIT', topic: T, offset: 2, sysFlag: PULL.SUBSCRIPTION | PULL.COMMIT_OFFSET, subscription: '*', commitOffset: -1 });
    expect((await c.call(RequestCode.QUERY_CONSUMER_OFFSET, { consumerGroup: 'CG_COMMIT', topic: T, queueId: '0' })).ext('offset')).toBe('2');
    // Without the flag the offset is not stored.
    await c.pull({ group: 'CG_COMMIT', topic: T, offset: 4, sysFlag: PULL.SUBSCRIPTION, subscription: '*', commitOffset: 4 });
    expect((await c.call(RequestCode.QUERY_CONSUMER_OFFSET, { consumerGroup: 'CG_COMMIT', topic: T, queueId: '0' })).ext('offset')).toBe('2');
  });

  it('LITE_PULL_MESSAGE is served like PULL_MESSAGE', async () => {
    const p = await c.pull({
      code: RequestCode.LITE_PULL_MESSAGE,
      group: 'CG_LITE',
      topic: T,
      offset: 4,
      sysFlag: PULL.SUBSCRIPTION | 0x10,
      subscription: '*',
    });
    expect(p.code).toBe(ResponseCode.SUCCESS);
    expect(records(p).map((m) => m.body.toString())).toEqual(['m4', 'm5']);
  });
});

describe('long polling', () => {
  it('holds a pull at the end of the queue until a message for that queue arrives', async () => {
    const T = 'SP_LP';
    await c.send(T, 'first', { queueId: 0 });
    const t0 = Date.now();
    const held = c.pull({
      group: 'CG_LP',
      topic: T,
      offset: 1,
      sysFlag: PULL.SUSPEND | PULL.SUBSCRIPTION,
      subscription: '*',
      suspendTimeoutMillis: 10_000,
      timeoutMs: 15_000,
    });
    await new Promise((r) => setTimeout(r, 300));
    // A message to another queue does not wake it.
    await c.send(T, 'other-queue', { queueId: 1 });
    await new Promise((r) => setTimeout(r, 300));
    await c.send(T, 'second', { queueId: 0 });
    const res = await held;
    const took = Date.now() - t0;
    expect(res.code).toBe(ResponseCode.SUCCESS);
    expect(records(res).map((m) => m.body.toString())).toEqual(['second']);
    expect(res.ext('nextBeginOffset')).toBe('2');
    expect(took).toBeGreaterThanOrEqual(550);
    expect(took).toBeLessThan(3_000);
  });

  it('a held pull only wakes for a message its tag filter matches, and times out after suspendTimeoutMillis', async () => {
    const T = 'SP_LP_TAG';
    await c.send(T, 'a0', { queueId: 0, tags: 'a' });
    const held = c.pull({
      group: 'CG_LP',
      topic: T,
      offset: 1,
      sysFlag: PULL.SUSPEND | PULL.SUBSCRIPTION,
      subscription: 'b',
      suspendTimeoutMillis: 10_000,
      timeoutMs: 15_000,
    });
    await new Promise((r) => setTimeout(r, 200));
    await c.send(T, 'a1', { queueId: 0, tags: 'a' });
    await new Promise((r) => setTimeout(r, 300));
    await c.send(T, 'b2', { queueId: 0, tags: 'b' });
    const res = await held;
    expect(res.code).toBe(ResponseCode.SUCCESS);
    expect(records(res).map((m) => m.body.toString())).toEqual(['b2']);

    const t0 = Date.now();
    const timeout = await c.pull({
      group: 'CG_LP',
      topic: T,
      offset: 3,
      sysFlag: PULL.SUSPEND | PULL.SUBSCRIPTION,
      subscription: '*',
      suspendTimeoutMillis: 1_000,
    });
    const took = Date.now() - t0;
    expect(timeout.code).toBe(ResponseCode.PULL_NOT_FOUND);
    expect(timeout.ext('nextBeginOffset')).toBe('3');
    expect(timeout.ext('maxOffset')).toBe('3');
    expect(took).toBeGreaterThanOrEqual(950);
    expect(took).toBeLessThan(2_500);
  });

  it('holds a pull on an empty queue at offset 0 and wakes on the first message', async () => {
    const T = 'SP_LP_EMPTY';
    await c.createTopic(T, 2);
    const held = c.pull({
      group: 'CG_LP',
      topic: T,
      offset: 0,
      sysFlag: PULL.SUSPEND | PULL.SUBSCRIPTION,
      subscription: '*',
      suspendTimeoutMillis: 10_000,
      timeoutMs: 15_000,
    });
    await new Promise((r) => setTimeout(r, 200));
    await c.send(T, 'hello', { queueId: 0 });
    const res = await held;
    expect(records(res).map((m) => m.body.toString())).toEqual(['hello']);
  });

  it("many held pulls are all answered, and the tag hash is Java's String.hashCode", async () => {
    expect(javaStringHashCode('TagA')).toBe(2598919);
    const T = 'SP_LP_MANY';
    await c.send(T, 'x', { queueId: 0 });
    const pulls = Array.from({ length: 20 }, (_, i) =>
      c.pull({
        group: `CG_MANY_${i}`,
        topic: T,
        offset: 1,
        sysFlag: PULL.SUSPEND | PULL.SUBSCRIPTION,
        subscription: '*',
        suspendTimeoutMillis: 10_000,
        timeoutMs: 15_000,
      }),
    );
    await new Promise((r) => setTimeout(r, 300));
    await c.send(T, 'y', { queueId: 0 });
    const all = await Promise.all(pulls);
    expect(all.every((r) => r.code === ResponseCode.SUCCESS && records(r)[0]!.body.toString() === 'y')).toBe(true);
  });
});

describe('pull replies from reused read buffers', () => {
  it("a consumer that does not read holds its replies' records intact while other pulls go on", async () => {
    // The broker reads pulls into buffers it reuses once a reply's bytes are written to the socket.
    // A consumer that stops reading leaves megabytes of replies waiting; pulls of other queues
    // meanwhile must get other buffers, and every reply must carry exactly its own records.
    const T = 'SP_LENT';
    const PER_QUEUE = 96;
    const bodyOf = (q: number, off: number): string => `q${q}-o${off}-`.padEnd(1800, String.fromCharCode(97 + ((q * 7 + off) % 26)));
    for (let q = 0; q < 4; q++) {
      for (let from = 0; from < PER_QUEUE; from += 16) {
        const sent = await Promise.all(Array.from({ length: 16 }, (_, k) => c.send(T, bodyOf(q, from + k), { queueId: q })));
        expect(sent.map((r) => r.code)).toEqual(sent.map(() => ResponseCode.SUCCESS));
      }
    }
    // Sends in flight together may land in any order: map each stored offset to what it holds.
    const stored = new Map<string, string>();
    for (let q = 0; q < 4; q++) {
      for (let off = 0; off < PER_QUEUE; off += 32) {
        const r = await c.pull({ group: 'CG_LENT', topic: T, queueId: q, offset: off, sysFlag: PULL.SUBSCRIPTION, subscription: '*' });
        for (const m of records(r)) stored.set(`${q}/${m.queueOffset}`, m.body.toString());
      }
    }
    expect(stored.size).toBe(4 * PER_QUEUE);
    for (const [k, b] of stored) expect(b.startsWith(`q${k.split('/')[0]}-`)).toBe(true);

    const raw = await RawClient.open(broker.port);
    raw.socket.pause();
    // ~62 KiB a reply, 600 of them: ~37 MiB, more than the socket buffers take (loopback may hold
    // 30 MiB). Each slow pull is followed by a pull of another queue on another connection, which
    // the broker serves after it: that pull's read would land in the slow reply's buffer if the
    // buffer were taken back before the socket wrote it.
    const PULLS = 600;
    for (let i = 0; i < PULLS; i++) {
      const offset = (i % 3) * 32;
      const ext = {
        consumerGroup: 'CG_LENT',
        topic: T,
        queueId: '0',
        queueOffset: String(offset),
        maxMsgNums: '32',
        sysFlag: '4',
        commitOffset: '0',
        suspendTimeoutMillis: '0',
        subscription: '*',
        subVersion: '0',
      };
      raw.write(
        jsonFrame({
          code: RequestCode.PULL_MESSAGE,
          language: 'JAVA',
          version: 401,
          opaque: 10_000 + i,
          flag: 0,
          extFields: ext,
          serializeTypeCurrentRPC: 'JSON',
        }),
      );
      const q = 1 + (i % 3);
      const r = await c.pull({ group: 'CG_LENT', topic: T, queueId: q, offset: ((i + 1) % 3) * 32, sysFlag: PULL.SUBSCRIPTION, subscription: '*' });
      const got = records(r);
      expect(got).toHaveLength(32);
      for (const m of got) expect(m.body.toString()).toBe(stored.get(`${q}/${m.queueOffset}`));
    }
    raw.socket.resume();
    const frames = await raw.waitFrames(PULLS, 30_000);
    raw.socket.destroy();
    expect(frames).toHaveLength(PULLS);
    for (const f of frames) {
      expect(f.cmd.code).toBe(ResponseCode.SUCCESS);
      const i = f.cmd.opaque - 10_000;
      const got = decodeMessageRecords(f.cmd.body!);
      expect(got.map((m) => m.queueOffset)).toEqual(Array.from({ length: 32 }, (_, k) => (i % 3) * 32 + k));
      for (const m of got) {
        if (m.queueId !== 0 || m.body.toString() !== stored.get(`0/${m.queueOffset}`)) {
          throw new Error(`reply ${i}: record at offset ${m.queueOffset} is not what queue 0 holds there`);
        }
      }
    }
  }, 60_000);
});
