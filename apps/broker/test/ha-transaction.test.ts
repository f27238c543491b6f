// Transactions on a master/slave pair: half and op records replicate like any others, the slave
// refuses verdicts and never checks, and a master killed with -9 (classic HA: nobody takes over)
// resumes its checks after the restart where it stopped.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  CheckTransactionStateRequestHeader,
  RequestCode,
  ResponseCode,
  decodeMessageRecord,
  decodeOffsetMsgId,
  type DecodedMessage,
} from '@rocketmq-ts/protocol';
import { removeTempDirs, startNode, stopAllProcesses, waitFor } from '@rocketmq-ts/testing';
import { BROKER_MAIN, JavaClient, PULL, records, startBroker, startNamesrv, type BrokerHandle } from './harness.js';

const TOPIC = 'HATX_T';
const GROUP = 'PG_HATX';
let ns: Awaited<ReturnType<typeof startNamesrv>>;
let master: BrokerHandle;
let slave: BrokerHandle;
const clients: JavaClient[] = [];

interface Half {
  transactionId: string;
  queueOffset: number;
  commitLogOffset: number;
}

interface Check {
  transactionId: string;
  times: number;
}

function client(addr: string): JavaClient {
  const c = new JavaClient(addr);
  clients.push(c);
  return c;
}

/** A producer connection to one broker that records the checks it gets and answers with `verdict()`. */
async function producer(addr: string, verdict: () => number): Promise<{ c: JavaClient; checks: Check[] }> {
  const c = client(addr);
  const checks: Check[] = [];
  c.client.registerHandler(RequestCode.CHECK_TRANSACTION_STATE, (cmd) => {
    const h = CheckTransactionStateRequestHeader.decode(cmd.extFields);
    const m: DecodedMessage = decodeMessageRecord(cmd.body!);
    checks.push({ transactionId: String(h.transactionId), times: Number(m.properties.get('TRANSACTION_CHECK_TIMES')) });
    void c.oneway(RequestCode.END_TRANSACTION, {
      topic: String(h.topic),
      producerGroup: GROUP,
      tranStateTableOffset: String(h.tranStateTableOffset),
      commitLogOffset: String(h.commitLogOffset),
      commitOrRollback: String(verdict()),
      fromTransactionCheck: 'true',
      msgId: String(h.msgId),
      transactionId: String(h.transactionId),
    });
    return null;
  });
  expect((await c.heartbeat({ producerGroup: GROUP })).code).toBe(ResponseCode.SUCCESS);
  return { c, checks };
}

async function sendHalf(c: JavaClient, body: string): Promise<Half> {
  const r = await c.send(TOPIC, body, { queueId: 0, group: GROUP, sysFlag: 0x4, extraProps: { TRAN_MSG: 'true', PGROUP: GROUP } });
  expect(r.code).toBe(ResponseCode.SUCCESS);
  return {
    transactionId: r.ext('transactionId')!,
    queueOffset: Number(r.ext('queueOffset')),
    commitLogOffset: decodeOffsetMsgId(r.ext('msgId')!)!.commitLogOffset,
  };
}

function end(c: JavaClient, h: Half, commitOrRollback: number) {
  return c.call(RequestCode.END_TRANSACTION, {
    topic: TOPIC,
    producerGroup: GROUP,
    tranStateTableOffset: String(h.queueOffset),
    commitLogOffset: String(h.commitLogOffset),
    commitOrRollback: String(commitOrRollback),
    fromTransactionCheck: 'false',
    msgId: h.transactionId,
    transactionId: h.transactionId,
  });
}

async function pullAll(c: JavaClient, topic: string): Promise<DecodedMessage[]> {
  const r = await c.pull({ group: 'CG_HATX', topic, queueId: 0, offset: 0, maxMsgNums: 256, sysFlag: PULL.SUBSCRIPTION, subscription: '*' });
  return r.code === ResponseCode.SUCCESS ? records(r) : [];
}

const bodies = async (c: JavaClient, topic: string): Promise<string[]> => (await pullAll(c, topic)).map((m) => m.body.toString());
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function props(role: string): Record<string, string | number | boolean> {
  return {
    brokerName: 'broker-hatx',
    brokerRole: role,
    brokerId: role === 'SLAVE' ? 1 : 0,
    slaveReadEnable: true,
    autoCreateTopicEnable: true,
    transactionTimeOut: 1000,
    transactionCheckInterval: 400,
    transactionCheckMax: 30,
    flushConsumerOffsetInterval: 200,
  };
}

beforeAll(async () => {
  ns = await startNamesrv();
  master = await startBroker(props('ASYNC_MASTER'), { name: 'hatx-master', args: ['-n', ns.addr] });
  slave = await startBroker(props('SLAVE'), { name: 'hatx-slave', args: ['-n', ns.addr] });
  const mc = client(master.addr);
  expect((await mc.createTopic(TOPIC, 1)).code).toBe(ResponseCode.SUCCESS);
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await stopAllProcesses();
  removeTempDirs();
});

describe('transactions with a slave', () => {
  it('halves and ops replicate; the slave refuses verdicts and never checks; a master killed with -9 resumes its checks', async () => {
    let pm = await producer(master.addr, () => 0); // UNKNOWN until the restart
    const ps = await producer(slave.addr, () => 8);
    const committed = await sendHalf(pm.c, 'hatx-commit');
    const rolledBack = await sendHalf(pm.c, 'hatx-rollback');
    const open = await sendHalf(pm.c, 'hatx-open');
    expect((await end(ps.c, committed, 8)).code).toBe(ResponseCode.SLAVE_NOT_AVAILABLE);
    expect((await end(pm.c, committed, 8)).code).toBe(ResponseCode.SUCCESS);
    expect((await end(pm.c, rolledBack, 12)).code).toBe(ResponseCode.SUCCESS);

    // The half and op topics are on the slave like any other.
    await waitFor(async () => (await bodies(ps.c, 'RMQ_SYS_TRANS_OP_HALF_TOPIC')).length >= 2, { timeoutMs: 15_000, message: 'ops on the slave' });
    expect((await bodies(ps.c, 'RMQ_SYS_TRANS_OP_HALF_TOPIC')).slice(0, 2)).toEqual([`${committed.queueOffset},`, `${rolledBack.queueOffset},`]);
    expect((await bodies(ps.c, 'RMQ_SYS_TRANS_HALF_TOPIC')).slice(0, 3)).toEqual(['hatx-commit', 'hatx-rollback', 'hatx-open']);
    await waitFor(async () => (await bodies(ps.c, TOPIC)).includes('hatx-commit'), { timeoutMs: 15_000, message: 'commit on the slave' });

    // Only the master asks, and it keeps asking while the answer is UNKNOWN.
    await waitFor(() => pm.checks.filter((c) => c.transactionId === open.transactionId).length >= 2, { timeoutMs: 15_000, message: 'two checks' });
    const last = Math.max(...pm.checks.filter((c) => c.transactionId === open.transactionId).map((c) => c.times));
    await sleep(300); // the check progress reaches consumerOffset.json (flushConsumerOffsetInterval 200)
    process.kill(master.proc.pid, 'SIGKILL');
    await master.proc.exited;
    await sleep(1500);
    expect(ps.checks).toEqual([]);
    expect(await bodies(ps.c, TOPIC)).toEqual(['hatx-commit']);

    master.proc = await startNode(BROKER_MAIN, ['-c', master.confPath, '-n', ns.addr], {
      name: 'hatx-master-2',
      readyPattern: /broker \S+ started at/,
      timeoutMs: 30_000,
    });
    pm = await producer(master.addr, () => 8);
    await waitFor(() => pm.checks.some((c) => c.transactionId === open.transactionId), { timeoutMs: 15_000, message: 'a check after the restart' });
    const resumed = pm.checks.find((c) => c.transactionId === open.transactionId)!;
    expect(resumed.times).toBeGreaterThan(last);
    expect(pm.checks.map((c) => c.transactionId)).not.toContain(rolledBack.transactionId);
    expect(pm.checks.map((c) => c.transactionId)).not.toContain(committed.transactionId);
    await waitFor(async () => (await bodies(ps.c, TOPIC)).length === 2, { timeoutMs: 15_000, message: 'the commit replicated' });
    await sleep(1000);
    expect(await bodies(pm.c, TOPIC)).toEqual(['hatx-commit', 'hatx-open']);
    expect(await bodies(ps.c, TOPIC)).toEqual(['hatx-commit', 'hatx-open']);
    expect(ps.checks).toEqual([]);
  }, 90_000);
});
