// Recalling a delay (timer) message before it is due, with our SDK against a real name server and
// broker: the send result carries a recall handle, Producer.recallMessage cancels the message (it
// is never delivered, its neighbour is), and the broker refuses handles that cannot be honoured
// with RocketMQ's ILLEGAL_OPERATION: another topic, a time already past, a handle of another broker.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { decodeRecallHandle, encodeRecallHandle } from '@rocketmq-ts/common';
import { ResponseCode } from '@rocketmq-ts/protocol';
import { startCluster, type TestCluster } from '@rocketmq-ts/testing';
import { MQBrokerError, Message, Producer, type LitePullConsumer } from '../src/index.js';
import { captureLogger, createTopic, pollFor, pollUntil, readerOf, uniqueName } from './helpers.js';

let c: TestCluster;
let producer: Producer;
let reader: LitePullConsumer | undefined;
const logger = captureLogger();

beforeAll(async () => {
  c = await startCluster('recall');
  producer = new Producer({ group: uniqueName('PG'), namesrvAddr: c.namesrvAddr, logger });
  await producer.start();
}, 60_000);

afterAll(async () => {
  await reader?.shutdown().catch(() => undefined);
  await producer?.shutdown().catch(() => undefined);
  await c?.stop();
});

function delayed(topic: string, body: string, ms: number): Message {
  const m = new Message(topic, Buffer.from(body));
  m.setDelayTimeMs(ms);
  return m;
}

async function brokerCode(p: Promise<unknown>): Promise<number | string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return e instanceof MQBrokerError ? e.code : String(e);
  }
}

describe('recall of delay messages', () => {
  it('a recalled message is never delivered; the one beside it is; a normal send has no handle', async () => {
    const topic = uniqueName('RECALL');
    await createTopic(producer, c.brokerAddr, topic, 2);
    const normal = await producer.send(new Message(topic, Buffer.from('now')));
    expect(normal.recallHandle).toBeUndefined();

    const keep = await producer.send(delayed(topic, 'keep', 2_500));
    const drop = await producer.send(delayed(topic, 'drop', 2_500));
    expect(drop.recallHandle).toBeDefined();
    const h = decodeRecallHandle(drop.recallHandle!);
    expect(h).not.toBeInstanceOf(Error);
    if (h instanceof Error) return;
    expect(h.topic).toBe(topic);
    expect(h.brokerName).toBe(c.brokerName);
    expect(h.messageId).toBe(drop.msgId);
    expect(Number(h.timestamp)).toBeGreaterThan(Date.now());

    expect(await producer.recallMessage(topic, drop.recallHandle!)).toBe(drop.msgId);
    expect(keep.recallHandle).toBeDefined();

    reader = await readerOf(c.namesrvAddr, topic, logger);
    const got = await pollUntil(reader, 2, 10_000);
    // After 'keep' arrived, wait past another timer slot: 'drop' must not follow.
    got.push(...(await pollFor(reader, 2_500)));
    expect(got.map((m) => m.body.toString()).sort()).toEqual(['keep', 'now']);
  }, 30_000);

  it('handles of another topic, of a past time, or of another broker are ILLEGAL_OPERATION; a malformed one fails in the client', async () => {
    const topic = uniqueName('RECALL_BAD');
    const other = uniqueName('RECALL_OTHER');
    await createTopic(producer, c.brokerAddr, topic, 1);
    await createTopic(producer, c.brokerAddr, other, 1);
    const r = await producer.send(delayed(topic, 'x', 60_000));
    const h = decodeRecallHandle(r.recallHandle!);
    if (h instanceof Error) throw h;

    // The handle names `topic`; asking on `other` is refused by the broker.
    expect(
      await brokerCode(producer.clientInstance.api.recallMessage(c.brokerAddr, { topic: other, recallHandle: r.recallHandle!, producerGroup: 'PG' })),
    ).toBe(ResponseCode.ILLEGAL_OPERATION);
    const past = encodeRecallHandle(topic, h.brokerName, Date.now() - 1_000, h.messageId);
    expect(await brokerCode(producer.recallMessage(topic, past))).toBe(ResponseCode.ILLEGAL_OPERATION);
    const elsewhere = encodeRecallHandle(topic, 'no-such-broker', h.timestamp, h.messageId);
    expect(await brokerCode(producer.clientInstance.api.recallMessage(c.brokerAddr, { topic, recallHandle: elsewhere }))).toBe(ResponseCode.ILLEGAL_OPERATION);
    await expect(producer.recallMessage(topic, 'not a handle!')).rejects.toThrow(/base64/);
    // The real one still works.
    expect(await producer.recallMessage(topic, r.recallHandle!)).toBe(r.msgId);
  });
});
