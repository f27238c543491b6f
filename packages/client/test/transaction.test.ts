// TransactionProducer against our broker over real sockets: a half message stays invisible until its
// verdict; COMMIT delivers it once, ROLLBACK and UNKNOWN never. No check-back runs here: the broker checks
// halves only after 10 minutes (transaction-check.test.ts covers check-backs).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { decodeOffsetMsgId } from '@rocketmq-ts/protocol';
import { startCluster, waitFor, type TestCluster } from '@rocketmq-ts/testing';
import {
  MQClientError,
  Message,
  MessageConst,
  TransactionProducer,
  TransactionState,
  type EndTransactionRequest,
  type LitePullConsumer,
  type SendResult,
  type TransactionCheckMessage,
} from '../src/index.js';
import { captureLogger, createTopic, pollFor, pollUntil, readerOf, uniqueName } from './helpers.js';

let c: TestCluster;
let producer: TransactionProducer;
const logger = captureLogger();
const checked: TransactionCheckMessage[] = [];
const closers: Array<() => Promise<void>> = [];

beforeAll(async () => {
  c = await startCluster('tx', { broker: { transactionTimeOut: 600_000, transactionCheckInterval: 600_000 } });
  producer = new TransactionProducer({
    group: uniqueName('PG_TX'),
    namesrvAddr: c.namesrvAddr,
    logger,
    checker: (m) => {
      checked.push(m);
      return TransactionState.UNKNOWN;
    },
  });
  await producer.start();
  closers.push(() => producer.shutdown());
});

afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
  await c?.stop();
});

async function reader(topic: string): Promise<LitePullConsumer> {
  const lc = await readerOf(c.namesrvAddr, topic, logger);
  closers.push(() => lc.shutdown());
  return lc;
}

/** Sum of the consume-queue max offsets of the topic's queues: what a consumer could ever read. */
async function stored(topic: string): Promise<number> {
  const api = producer.clientInstance.api;
  let n = 0;
  for (const mq of await producer.fetchPublishMessageQueues(topic)) n += await api.getMaxOffset(c.brokerAddr, mq);
  return n;
}

describe('TransactionProducer', () => {
  it('COMMIT: the half is invisible while the local transaction runs, then the message is delivered exactly once', async () => {
    const topic = uniqueName('TX_COMMIT');
    await createTopic(producer, c.brokerAddr, topic, 2);
    const lc = await reader(topic);

    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let seen: { msg: Message; sent: SendResult; arg: unknown } | undefined;
    const msg = new Message(topic, Buffer.from('tx-commit'), { tags: 'TagT', keys: 'order-1' });
    msg.setDelayTimeLevel(3); // dropped: a half message is never delayed
    const pending = producer.sendInTransaction(
      msg,
      async (m, sent, arg) => {
        seen = { msg: m, sent, arg };
        await gate;
        return TransactionState.COMMIT;
      },
      { orderId: 1 },
    );
    await waitFor(() => seen, { timeoutMs: 10_000, message: 'the executor to run' });
    // The half is stored (SEND_OK) but nothing of the real topic is readable.
    expect(seen!.sent.sendStatus).toBe('SEND_OK');
    expect(seen!.arg).toEqual({ orderId: 1 });
    expect(seen!.msg.transactionId).toBe(seen!.sent.msgId);
    expect(seen!.msg.getProperty(MessageConst.PROPERTY_TRANSACTION_PREPARED)).toBe('true');
    expect(seen!.msg.getProperty(MessageConst.PROPERTY_PRODUCER_GROUP)).toBe(producer.group);
    expect(seen!.msg.getProperty(MessageConst.PROPERTY_DELAY_TIME_LEVEL)).toBeUndefined();
    expect(await pollFor(lc, 1_500)).toEqual([]);
    expect(await stored(topic)).toBe(0);

    release();
    const r = await pending;
    expect(r.localTransactionState).toBe('COMMIT');
    expect(r.sendStatus).toBe('SEND_OK');
    expect(r.transactionId).toBe(r.msgId);
    expect(r.msgId).toBe(msg.getUniqKey());

    const got = await pollUntil(lc, 1, 10_000);
    expect(got.map((m) => m.body.toString())).toEqual(['tx-commit']);
    const [m] = got;
    expect(m!.msgId).toBe(r.msgId);
    expect(m!.tags).toBe('TagT');
    expect(m!.keys).toEqual(['order-1']);
    expect(m!.sysFlag & 0xc).toBe(0x8); // TRANSACTION_COMMIT_TYPE
    expect(m!.properties.has(MessageConst.PROPERTY_TRANSACTION_PREPARED)).toBe(false);
    expect(m!.properties.has(MessageConst.PROPERTY_DELAY_TIME_LEVEL)).toBe(false);
    // Once: nothing more comes, and the topic holds one message.
    expect(await pollFor(lc, 1_500)).toEqual([]);
    expect(await stored(topic)).toBe(1);
  });

  it('ROLLBACK, UNKNOWN, a throwing and a rejecting executor deliver nothing; a later COMMIT on the same topic does', async () => {
    const topic = uniqueName('TX_NOT');
    await createTopic(producer, c.brokerAddr, topic, 2);
    const lc = await reader(topic);

    // Record each END_TRANSACTION on its way out (the real call still goes to the broker).
    const api = producer.clientInstance.api;
    const original = api.endTransactionOneway.bind(api);
    const ends: Array<{ target: unknown; header: EndTransactionRequest; remark: string | undefined }> = [];
    api.endTransactionOneway = (target, header, remark, timeoutMs) => {
      ends.push({ target, header, remark });
      return original(target, header, remark, timeoutMs);
    };
    closers.push(async () => void (api.endTransactionOneway = original));

    const rollback = await producer.sendInTransaction(new Message(topic, Buffer.from('rollback')), () => TransactionState.ROLLBACK);
    const unknown = await producer.sendInTransaction(new Message(topic, Buffer.from('unknown')), () => TransactionState.UNKNOWN);
    const thrown = await producer.sendInTransaction(new Message(topic, Buffer.from('thrown')), () => {
      throw new Error('database down');
    });
    const rejected = await producer.sendInTransaction(new Message(topic, Buffer.from('rejected')), () => Promise.reject(new Error('timeout')));
    // A plain-JS executor that returns something else counts as UNKNOWN too.
    const bogus = await producer.sendInTransaction(new Message(topic, Buffer.from('bogus')), () => 'commit' as unknown as TransactionState);
    expect([rollback, unknown, thrown, rejected, bogus].map((r) => [r.sendStatus, r.localTransactionState])).toEqual([
      ['SEND_OK', 'ROLLBACK'],
      ['SEND_OK', 'UNKNOWN'],
      ['SEND_OK', 'UNKNOWN'],
      ['SEND_OK', 'UNKNOWN'],
      ['SEND_OK', 'UNKNOWN'],
    ]);
    expect(new Set([rollback, unknown, thrown, rejected, bogus].map((r) => r.transactionId)).size).toBe(5);
    expect(logger.events.filter((e) => e.event === 'transaction.execute.failed').map((e) => e.level)).toEqual(['warn', 'warn']);

    // One END_TRANSACTION each, to the broker that has the half, as RocketMQ's producer sends it.
    expect(ends).toHaveLength(5);
    for (const [i, r] of [rollback, unknown, thrown, rejected, bogus].entries()) {
      const e = ends[i]!;
      expect(e.target).toBe(c.brokerAddr);
      expect(e.header).toEqual({
        topic,
        producerGroup: producer.group,
        tranStateTableOffset: r.queueOffset,
        commitLogOffset: decodeOffsetMsgId(r.offsetMsgId)!.commitLogOffset,
        commitOrRollback: i === 0 ? 12 : 0,
        fromTransactionCheck: false,
        msgId: r.msgId,
        transactionId: r.transactionId,
        bname: c.brokerName,
      });
    }
    expect(ends.map((e) => e.remark)).toEqual([undefined, undefined, 'database down', 'timeout', undefined]);

    expect(await pollFor(lc, 2_000)).toEqual([]);
    expect(await stored(topic)).toBe(0);

    await producer.sendInTransaction(new Message(topic, Buffer.from('commit')), () => TransactionState.COMMIT);
    expect(ends[5]!.header.commitOrRollback).toBe(8);
    const got = await pollUntil(lc, 1, 10_000);
    expect(got.map((m) => m.body.toString())).toEqual(['commit']);
    expect(await pollFor(lc, 1_000)).toEqual([]);
    // Nothing asked the checker: UNKNOWN stays UNKNOWN until the broker's check-back.
    expect(checked).toEqual([]);
  });

  it('refuses batches and checks its arguments', async () => {
    const topic = uniqueName('TX_BAD');
    const batch = [new Message(topic, Buffer.from('a')), new Message(topic, Buffer.from('b'))];
    await expect(producer.sendInTransaction(batch as unknown as Message, () => TransactionState.COMMIT)).rejects.toThrow(/batch/);
    await expect(producer.sendInTransaction(new Message(topic, Buffer.from('x')), undefined as never)).rejects.toBeInstanceOf(MQClientError);
    expect(() => new TransactionProducer({ group: 'PG_NO_CHECKER', namesrvAddr: c.namesrvAddr, checker: undefined as never })).toThrow(/checker/);
    const stopped = new TransactionProducer({ group: uniqueName('PG_TX_OFF'), namesrvAddr: c.namesrvAddr, logger, checker: () => 'COMMIT' });
    await expect(stopped.sendInTransaction(new Message(topic, Buffer.from('x')), () => 'COMMIT')).rejects.toThrow(/start\(\)/);
  });
});
