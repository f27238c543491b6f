// The broker's transaction check on the wire as RocketMQ's Java TransactionMQProducer sees it: a
// half message nobody ends is re-appended and CHECK_TRANSACTION_STATE goes to a live producer of
// its group (oneway, body = the message with its real topic); the answer (END_TRANSACTION with
// fromTransactionCheck) commits or rolls back once; UNKNOWN answers are asked again up to
// transactionCheckMax, then the half goes to TRANS_CHECK_MAX_TIME_TOPIC; a kill -9 in the middle
// resumes the checks where they were.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  CheckTransactionStateRequestHeader,
  RequestCode,
  ResponseCode,
  decodeMessageRecord,
  decodeOffsetMsgId,
  type DecodedMessage,
  type RemotingCommand,
} from '@rocketmq-ts/protocol';
import { removeTempDirs, startNode, stopAllProcesses } from '@rocketmq-ts/testing';
import { BROKER_MAIN, JavaClient, PULL, records, startBroker, type BrokerHandle } from './harness.js';

const TOPIC = 'TXC_T';
const CHECK_MAX = 4;
let broker: BrokerHandle;
const clients: JavaClient[] = [];

beforeAll(async () => {
  broker = await startBroker({
    autoCreateTopicEnable: true,
    transactionTimeOut: 1000,
    transactionCheckInterval: 400,
    transactionCheckMax: CHECK_MAX,
  });
});

afterAll(async () => {
  for (const c of clients) c.close();
  await stopAllProcesses();
  removeTempDirs();
});

interface Half {
  msgId: string;
  transactionId: string;
  queueOffset: number;
  commitLogOffset: number;
}

interface Check {
  header: ReturnType<typeof CheckTransactionStateRequestHeader.decode>;
  message: DecodedMessage;
  at: number;
}

type Verdict = 8 | 12 | 0 | 'silent';

/** A producer of `group` that answers checks as the Java client does (END_TRANSACTION oneway, fromTransactionCheck). */
async function producer(group: string, answer: (c: Check) => Verdict): Promise<{ c: JavaClient; checks: Check[] }> {
  const c = new JavaClient(broker.addr);
  clients.push(c);
  const checks: Check[] = [];
  c.client.registerHandler(RequestCode.CHECK_TRANSACTION_STATE, (cmd) => {
    const check: Check = { header: CheckTransactionStateRequestHeader.decode(cmd.extFields), message: decodeMessageRecord(cmd.body!), at: Date.now() };
    checks.push(check);
    const v = answer(check);
    if (v !== 'silent') {
      void c.oneway(RequestCode.END_TRANSACTION, {
        topic: String(check.header.topic),
        producerGroup: group,
        tranStateTableOffset: String(check.header.tranStateTableOffset),
        commitLogOffset: String(check.header.commitLogOffset),
        commitOrRollback: String(v),
        fromTransactionCheck: 'true',
        msgId: check.message.properties.get('UNIQ_KEY') ?? '',
        transactionId: String(check.header.transactionId),
        bname: String(check.header.bname),
      });
    }
    return null;
  });
  expect((await c.heartbeat({ producerGroup: group })).code).toBe(ResponseCode.SUCCESS);
  return { c, checks };
}

async function sendHalf(c: JavaClient, group: string, body: string, extraProps: Record<string, string> = {}): Promise<Half> {
  const r = await c.send(TOPIC, body, { queueId: 2, group, sysFlag: 0x4, extraProps: { TRAN_MSG: 'true', PGROUP: group, ...extraProps } });
  expect(r.code).toBe(ResponseCode.SUCCESS);
  const msgId = r.ext('msgId')!;
  return {
    msgId,
    transactionId: r.ext('transactionId')!,
    queueOffset: Number(r.ext('queueOffset')),
    commitLogOffset: decodeOffsetMsgId(msgId)!.commitLogOffset,
  };
}

function end(c: JavaClient, group: string, h: Half, commitOrRollback: number): Promise<RemotingCommand> {
  return c.call(RequestCode.END_TRANSACTION, {
    topic: TOPIC,
    producerGroup: group,
    tranStateTableOffset: String(h.queueOffset),
    commitLogOffset: String(h.commitLogOffset),
    commitOrRollback: String(commitOrRollback),
    fromTransactionCheck: 'false',
    msgId: h.transactionId,
    transactionId: h.transactionId,
  });
}

async function pullAll(c: JavaClient, topic: string, queueId: number): Promise<DecodedMessage[]> {
  const r = await c.pull({ group: 'CG_TXC', topic, queueId, offset: 0, maxMsgNums: 256, sysFlag: PULL.SUBSCRIPTION, subscription: '*' });
  return r.code === ResponseCode.SUCCESS ? records(r) : [];
}

async function delivered(c: JavaClient, body: string): Promise<number> {
  return (await pullAll(c, TOPIC, 2)).filter((m) => m.body.toString() === body).length;
}

async function until(what: string, f: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const t0 = Date.now();
  for (let i = 0; i < 1000; i++) {
    if (await f()) return;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`gave up waiting for ${what}`);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const of = (checks: Check[], h: Half): Check[] => checks.filter((c) => c.header.transactionId === h.transactionId);

describe('transaction check', () => {
  it('a producer that dies after the half send: the broker asks its successor in the group, whose COMMIT delivers once', async () => {
    const group = 'PG_TXC_SUCCESSOR';
    const first = await producer(group, () => 'silent');
    const h = await sendHalf(first.c, group, 'tx-successor');
    first.c.close(); // dies before ending the transaction
    const next = await producer(group, () => 8);
    await until('the check', () => of(next.checks, h).length > 0);
    const [check] = of(next.checks, h);
    // The header names the re-appended copy; the body is the message as the producer sent it.
    expect(check!.header.topic).toBe('RMQ_SYS_TRANS_HALF_TOPIC');
    expect(check!.header.bname).toBe(broker.brokerName);
    expect(check!.header.msgId).toBe(h.transactionId);
    expect(check!.header.tranStateTableOffset).toBeGreaterThan(h.queueOffset);
    expect(check!.header.commitLogOffset).toBeGreaterThan(h.commitLogOffset);
    expect(decodeOffsetMsgId(String(check!.header.offsetMsgId))!.commitLogOffset).toBe(check!.header.commitLogOffset);
    expect(check!.message.topic).toBe(TOPIC);
    expect(check!.message.queueId).toBe(2);
    expect(check!.message.body.toString()).toBe('tx-successor');
    expect(check!.message.properties.get('PGROUP')).toBe(group);
    expect(check!.message.properties.get('TRANSACTION_CHECK_TIMES')).toBe('1');
    expect(check!.message.properties.get('UNIQ_KEY')).toBe(h.transactionId);
    // Its age had passed transactionTimeOut.
    expect(check!.at - check!.message.bornTimestamp).toBeGreaterThanOrEqual(1000);
    await until('the commit', async () => (await delivered(next.c, 'tx-successor')) === 1);
    await sleep(1500);
    expect(await delivered(next.c, 'tx-successor')).toBe(1);
    expect(of(next.checks, h)).toHaveLength(1);
  });

  it('UNKNOWN answers are asked again, transactionCheckMax times, then the half goes to TRANS_CHECK_MAX_TIME_TOPIC', async () => {
    const group = 'PG_TXC_UNKNOWN';
    const p = await producer(group, () => 0);
    const h = await sendHalf(p.c, group, 'tx-unknown');
    await until('the discard', async () => (await pullAll(p.c, 'TRANS_CHECK_MAX_TIME_TOPIC', 0)).some((m) => m.properties.get('UNIQ_KEY') === h.transactionId));
    const checks = of(p.checks, h);
    expect(checks.map((c) => c.message.properties.get('TRANSACTION_CHECK_TIMES'))).toEqual(['1', '2', '3', '4'].slice(0, CHECK_MAX));
    // Each check names a newer copy.
    const offsets = checks.map((c) => Number(c.header.tranStateTableOffset));
    expect([...offsets].sort((a, b) => a - b)).toEqual(offsets);
    expect(new Set(offsets).size).toBe(CHECK_MAX);
    const [discarded] = (await pullAll(p.c, 'TRANS_CHECK_MAX_TIME_TOPIC', 0)).filter((m) => m.properties.get('UNIQ_KEY') === h.transactionId);
    expect(discarded!.properties.get('REAL_TOPIC')).toBe(TOPIC);
    expect(discarded!.body.toString()).toBe('tx-unknown');
    await sleep(1500);
    expect(of(p.checks, h)).toHaveLength(CHECK_MAX);
    expect(await delivered(p.c, 'tx-unknown')).toBe(0);
  });

  it('a ROLLBACK answer: never delivered, never asked again', async () => {
    const group = 'PG_TXC_ROLLBACK';
    const p = await producer(group, () => 12);
    const h = await sendHalf(p.c, group, 'tx-check-rollback');
    await until('the check', () => of(p.checks, h).length > 0);
    await sleep(2000);
    expect(of(p.checks, h)).toHaveLength(1);
    expect(await delivered(p.c, 'tx-check-rollback')).toBe(0);
  });

  it('a late first-phase COMMIT and the answer to a check of a copy commit once between them', async () => {
    const group = 'PG_TXC_BOTH';
    const p = await producer(group, () => 'silent');
    const h = await sendHalf(p.c, group, 'tx-both');
    await until('the check', () => of(p.checks, h).length > 0);
    expect((await end(p.c, group, h, 8)).code).toBe(ResponseCode.SUCCESS);
    const check = of(p.checks, h)[0]!;
    const copy: Half = { ...h, queueOffset: Number(check.header.tranStateTableOffset), commitLogOffset: Number(check.header.commitLogOffset) };
    expect((await end(p.c, group, copy, 8)).code).toBe(ResponseCode.SUCCESS);
    await until('the commit', async () => (await delivered(p.c, 'tx-both')) >= 1);
    const n = of(p.checks, h).length;
    await sleep(1500);
    expect(await delivered(p.c, 'tx-both')).toBe(1);
    expect(of(p.checks, h)).toHaveLength(n);
  });

  it('CHECK_IMMUNITY_TIME_IN_SECONDS holds the check off; past it, a first-phase verdict is refused with ILLEGAL_OPERATION', async () => {
    const group = 'PG_TXC_IMMUNE';
    const p = await producer(group, () => 'silent');
    const h = await sendHalf(p.c, group, 'tx-immune', { CHECK_IMMUNITY_TIME_IN_SECONDS: '3' });
    await sleep(2000); // past transactionTimeOut, within the immunity
    expect(of(p.checks, h)).toHaveLength(0);
    await until('the check', () => of(p.checks, h).length > 0);
    expect(of(p.checks, h)[0]!.at - of(p.checks, h)[0]!.message.bornTimestamp).toBeGreaterThanOrEqual(3000);
    const r = await end(p.c, group, h, 8);
    expect(r.code).toBe(ResponseCode.ILLEGAL_OPERATION);
    expect(await delivered(p.c, 'tx-immune')).toBe(0);
  });

  it('the metrics count open halves, commits, rollbacks, checks and discards', async () => {
    const m = await broker.metrics();
    const value = (name: string): number => {
      const line = m.split('\n').find((l) => l.startsWith(name + '{') && l.includes(`topic="${TOPIC}"`));
      return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
    };
    expect(value('rocketmq_commit_messages_total')).toBe(2);
    expect(value('rocketmq_rollback_messages_total')).toBe(1);
    expect(value('rocketmq_transaction_discards_total')).toBe(1);
    expect(value('rocketmq_transaction_checks_total')).toBeGreaterThanOrEqual(1 + CHECK_MAX + 1 + 1 + 1);
    // The immune one is still open (its verdict was refused).
    expect(value('rocketmq_half_messages')).toBe(1);
  });

  it('kill -9 mid-transaction: checks resume after the restart with their count, a rolled-back message is never delivered', async () => {
    const group = 'PG_TXC_CRASH';
    let p = await producer(group, () => 0);
    const rolledBack = await sendHalf(p.c, group, 'tx-crash-rolled-back');
    const open = await sendHalf(p.c, group, 'tx-crash-open');
    expect((await end(p.c, group, rolledBack, 12)).code).toBe(ResponseCode.SUCCESS);
    await until('a check', () => of(p.checks, open).length >= 1);
    process.kill(broker.proc.pid, 'SIGKILL');
    await broker.proc.exited;
    const before = Number(of(p.checks, open).at(-1)!.message.properties.get('TRANSACTION_CHECK_TIMES'));
    broker.proc = await startNode(BROKER_MAIN, ['-c', broker.confPath], { name: 'broker-txc', readyPattern: /broker \S+ started at/, timeoutMs: 20_000 });
    p = await producer(group, () => 8);
    await until('a check after the restart', () => of(p.checks, open).length > 0);
    const times = Number(of(p.checks, open)[0]!.message.properties.get('TRANSACTION_CHECK_TIMES'));
    expect(times).toBeGreaterThan(before);
    expect(times).toBeLessThanOrEqual(CHECK_MAX);
    await until('the commit', async () => (await delivered(p.c, 'tx-crash-open')) === 1);
    await sleep(1500);
    expect(await delivered(p.c, 'tx-crash-open')).toBe(1);
    expect(await delivered(p.c, 'tx-crash-rolled-back')).toBe(0);
    expect(p.checks.filter((c) => c.header.transactionId === rolledBack.transactionId)).toHaveLength(0);
  });
});
