// Transaction check-back: a half message whose producer never told the broker the outcome is checked
// by the broker (CHECK_TRANSACTION_STATE to a live producer of the group), and the checker's answer
// commits or rolls it back. The broker checks halves older than 1 s every second here.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startCluster, startNode, waitFor, type TestCluster } from '@rocketmq-ts/testing';
import {
  Message,
  MessageConst,
  Producer,
  TransactionProducer,
  TransactionState,
  type EndTransactionRequest,
  type LitePullConsumer,
  type TransactionCheckMessage,
  type TransactionCheckRequest,
} from '../src/index.js';
import { captureLogger, createTopic, pollFor, pollUntil, readerOf, uniqueName } from './helpers.js';

let c: TestCluster;
let admin: Producer;
const logger = captureLogger();
const closers: Array<() => Promise<void>> = [];

beforeAll(async () => {
  c = await startCluster('txcheck', { broker: { transactionTimeOut: 1000, transactionCheckInterval: 1000 } });
  admin = new Producer({ group: uniqueName('PG_ADMIN'), namesrvAddr: c.namesrvAddr, logger });
  await admin.start();
  closers.push(() => admin.shutdown());
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

async function txProducer(group: string, checker: (m: TransactionCheckMessage) => TransactionState | Promise<TransactionState>): Promise<TransactionProducer> {
  const p = new TransactionProducer({ group, namesrvAddr: c.namesrvAddr, logger, checker });
  await p.start();
  closers.push(() => p.shutdown());
  return p;
}

/** Sends a half whose local transaction ends UNKNOWN, then shuts the producer down: only a check can settle it. */
async function orphanHalf(group: string, topic: string, body: string): Promise<string> {
  const p = await txProducer(group, () => TransactionState.UNKNOWN);
  const r = await p.sendInTransaction(new Message(topic, Buffer.from(body)), () => TransactionState.UNKNOWN);
  expect(r.localTransactionState).toBe('UNKNOWN');
  await p.shutdown();
  return r.transactionId;
}

/** Records the check-backs a producer takes and the END_TRANSACTION answers it sends (both still run for real). */
function spy(p: TransactionProducer): { checks: TransactionCheckRequest[]; ends: Array<{ header: EndTransactionRequest; remark: string | undefined }> } {
  const checks: TransactionCheckRequest[] = [];
  const ends: Array<{ header: EndTransactionRequest; remark: string | undefined }> = [];
  const take = p.checkTransactionState.bind(p);
  p.checkTransactionState = (req) => {
    checks.push(req);
    take(req);
  };
  const api = p.clientInstance.api;
  const send = api.endTransactionOneway.bind(api);
  api.endTransactionOneway = (target, header, remark, timeoutMs) => {
    ends.push({ header, remark });
    return send(target, header, remark, timeoutMs);
  };
  return { checks, ends };
}

describe('transaction check-back', () => {
  it('the producer dies (kill -9) in its local transaction; a new producer of the group commits on the check and the message is delivered once', async () => {
    const topic = uniqueName('TX_CHECK_COMMIT');
    const group = uniqueName('PG_CHECK');
    await createTopic(admin, c.brokerAddr, topic, 2);
    const lc = await reader(topic);

    // A producer process that stores the half and then hangs in its local transaction.
    const entry = pathToFileURL(join(import.meta.dirname, '..', 'dist', 'index.js')).href;
    const script = `
      const { Message, TransactionProducer } = await import(${JSON.stringify(entry)});
      const p = new TransactionProducer({ group: ${JSON.stringify(group)}, namesrvAddr: ${JSON.stringify(c.namesrvAddr)},
        logger: { log() {} }, checker: () => 'UNKNOWN' });
      await p.start();
      await p.sendInTransaction(new Message(${JSON.stringify(topic)}, Buffer.from('orphan')), (m, sent) => {
        console.log('HALF ' + sent.msgId);
        return new Promise(() => {});
      });`;
    const child = await startNode('-e', [script], {
      name: 'tx-producer',
      nodeArgs: ['--input-type=module'],
      readyPattern: /HALF [0-9A-F]+/,
      timeoutMs: 20_000,
    });
    closers.push(async () => void (await child.kill()));
    const transactionId = /HALF ([0-9A-F]+)/.exec(child.output())![1]!;
    await child.kill();
    expect(await pollFor(lc, 1_000)).toEqual([]);

    const asked: TransactionCheckMessage[] = [];
    const p = await txProducer(group, (m) => {
      asked.push(m);
      return TransactionState.COMMIT;
    });
    const s = spy(p);
    const got = await pollUntil(lc, 1, 30_000);
    expect(got.map((m) => m.body.toString())).toEqual(['orphan']);
    expect(got[0]!.msgId).toBe(transactionId);
    // The checker saw the message as it was sent: real topic, body, ids, group.
    expect(asked.length).toBeGreaterThanOrEqual(1);
    const m = asked[0]!;
    expect([m.topic, m.body.toString(), m.transactionId, m.msgId]).toEqual([topic, 'orphan', transactionId, transactionId]);
    expect(m.properties.get(MessageConst.PROPERTY_PRODUCER_GROUP)).toBe(group);
    expect(m.properties.get(MessageConst.PROPERTY_TRANSACTION_PREPARED)).toBe('true');
    // The answer: END_TRANSACTION from the check, offsets and broker name echoed from the check's header.
    const req = s.checks[0]!;
    const end = s.ends[0]!;
    expect(end.header).toEqual({
      topic: req.header.topic,
      producerGroup: group,
      tranStateTableOffset: req.header.tranStateTableOffset,
      commitLogOffset: req.header.commitLogOffset,
      commitOrRollback: 8,
      fromTransactionCheck: true,
      msgId: transactionId,
      transactionId: req.header.transactionId ?? transactionId,
      bname: req.header.bname,
    });
    expect(end.remark).toBeUndefined();
    // Exactly once, however many checks were in flight.
    expect(await pollFor(lc, 3_000)).toEqual([]);
  }, 90_000);

  it('a checker answering UNKNOWN is asked again and again, and a slow one holds up neither sends nor the connection', async () => {
    const topic = uniqueName('TX_CHECK_UNKNOWN');
    const group = uniqueName('PG_CHECK');
    await createTopic(admin, c.brokerAddr, topic, 2);
    const lc = await reader(topic);
    const transactionId = await orphanHalf(group, topic, 'undecided');

    let calls = 0;
    const askedFor = new Set<string | undefined>();
    let releaseFirst!: () => void;
    const firstHeld = new Promise<void>((r) => (releaseFirst = r));
    const p = await txProducer(group, async (m) => {
      askedFor.add(m.transactionId);
      if (++calls === 1) await firstHeld; // a slow checker: the first answer waits for the test
      return TransactionState.UNKNOWN;
    });
    await waitFor(() => calls >= 1, { timeoutMs: 30_000, message: 'the first check' });
    // While the checker hangs, the same producer (same client, same broker connection) still sends.
    const t0 = Date.now();
    const other = uniqueName('TX_CHECK_OTHER');
    await createTopic(admin, c.brokerAddr, other, 1);
    const sent = await p.send(new Message(other, Buffer.from('plain')));
    expect(sent.sendStatus).toBe('SEND_OK');
    expect(Date.now() - t0).toBeLessThan(5_000);
    releaseFirst();
    await waitFor(() => calls >= 2, { timeoutMs: 30_000, message: 'a second check' });
    await waitFor(() => calls >= 3, { timeoutMs: 15_000, message: 'a third check' });
    expect(askedFor).toEqual(new Set([transactionId]));
    expect(await pollFor(lc, 1_000)).toEqual([]);
  }, 90_000);

  it('a checker answering ROLLBACK: the message is never delivered; a checker that throws counts as UNKNOWN', async () => {
    const topic = uniqueName('TX_CHECK_ROLLBACK');
    const group = uniqueName('PG_CHECK');
    await createTopic(admin, c.brokerAddr, topic, 2);
    const lc = await reader(topic);
    await orphanHalf(group, topic, 'doomed');

    let calls = 0;
    const p = await txProducer(group, () => {
      if (++calls === 1) throw new Error('ledger unreachable');
      return TransactionState.ROLLBACK;
    });
    const s = spy(p);
    await waitFor(() => s.ends.length >= 2, { timeoutMs: 30_000, message: 'a failed check, then a rollback' });
    expect(s.ends[0]).toMatchObject({ header: { commitOrRollback: 0, fromTransactionCheck: true }, remark: 'ledger unreachable' });
    expect(s.ends[1]).toMatchObject({ header: { commitOrRollback: 12, fromTransactionCheck: true }, remark: undefined });
    // Several check intervals later: still nothing.
    expect(await pollFor(lc, 4_000)).toEqual([]);
  }, 90_000);

  it('a check for a group whose producer here is not a TransactionProducer is logged and ignored', async () => {
    const topic = uniqueName('TX_CHECK_PLAIN');
    const group = uniqueName('PG_PLAIN');
    const events = captureLogger();
    const plain = new Producer({ group, namesrvAddr: c.namesrvAddr, logger: events });
    await plain.start();
    closers.push(() => plain.shutdown());
    await createTopic(plain, c.brokerAddr, topic, 1);
    // A half message by hand: TRAN_MSG makes it PREPARED; nobody ever ends it.
    const half = new Message(topic, Buffer.from('by-hand'), { properties: { TRAN_MSG: 'true', PGROUP: group } });
    expect((await plain.send(half)).sendStatus).toBe('SEND_OK');
    await waitFor(() => events.events.some((e) => e.event === 'transaction.check.noProducer'), { timeoutMs: 30_000, message: 'the ignored check' });
    expect(events.events.find((e) => e.event === 'transaction.check.noProducer')!.level).toBe('warn');
    const lc = await reader(topic);
    expect(await pollFor(lc, 1_000)).toEqual([]);
  }, 90_000);
});
