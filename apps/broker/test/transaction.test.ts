// Transactional messages on the wire as RocketMQ's Java TransactionMQProducer sends them (string
// extFields): the half message is invisible, END_TRANSACTION commits it once or rolls it back, and a
// finished transaction stays finished across a kill -9 of the broker.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RequestCode, ResponseCode, decodeOffsetMsgId, type RemotingCommand } from '@rocketmq-ts/protocol';
import { removeTempDirs, startNode, stopAllProcesses } from '@rocketmq-ts/testing';
import { BROKER_MAIN, JavaClient, PULL, records, startBroker, type BrokerHandle } from './harness.js';

let broker: BrokerHandle;
let c: JavaClient;
const TOPIC = 'TX_T';
const GROUP = 'PG_TX';

beforeAll(async () => {
  broker = await startBroker({ autoCreateTopicEnable: true });
  c = new JavaClient(broker.addr);
});

afterAll(async () => {
  c?.close();
  await stopAllProcesses();
  removeTempDirs();
});

interface Half {
  msgId: string;
  transactionId: string;
  queueOffset: number;
  commitLogOffset: number;
}

/** A half message as TransactionMQProducer sends it: TRAN_MSG, PGROUP and the PREPARED sysFlag. */
async function sendHalf(body: string): Promise<Half> {
  const r = await c.send(TOPIC, body, { queueId: 1, group: GROUP, sysFlag: 0x4, extraProps: { TRAN_MSG: 'true', PGROUP: GROUP } });
  expect(r.code).toBe(ResponseCode.SUCCESS);
  const msgId = r.ext('msgId')!;
  return {
    msgId,
    transactionId: r.ext('transactionId')!,
    queueOffset: Number(r.ext('queueOffset')),
    commitLogOffset: decodeOffsetMsgId(msgId)!.commitLogOffset,
  };
}

/** END_TRANSACTION as the Java producer's endTransaction sends it. */
function end(h: Half, commitOrRollback: number, o: { group?: string; oneway?: boolean } = {}): Promise<RemotingCommand | void> {
  const ext = {
    topic: TOPIC,
    producerGroup: o.group ?? GROUP,
    tranStateTableOffset: String(h.queueOffset),
    commitLogOffset: String(h.commitLogOffset),
    commitOrRollback: String(commitOrRollback),
    fromTransactionCheck: 'false',
    msgId: h.transactionId,
    transactionId: h.transactionId,
  };
  return o.oneway ? c.oneway(RequestCode.END_TRANSACTION, ext) : c.call(RequestCode.END_TRANSACTION, ext);
}

async function delivered(): Promise<string[]> {
  const r = await c.pull({ group: 'CG_TX', topic: TOPIC, queueId: 1, offset: 0, sysFlag: PULL.SUBSCRIPTION, subscription: '*' });
  return r.code === ResponseCode.SUCCESS ? records(r).map((m) => m.body.toString()) : [];
}

describe('transactional messages', () => {
  it('a half message is invisible and carries its transaction id; COMMIT delivers it once, with the half properties gone', async () => {
    const h = await sendHalf('tx-commit');
    expect(h.transactionId).toMatch(/^[0-9A-F]{24,}$/);
    expect(await delivered()).toEqual([]);
    const r = (await end(h, 8)) as RemotingCommand;
    expect([r.code, r.remark]).toEqual([ResponseCode.SUCCESS, null]);
    const pulled = await c.pull({ group: 'CG_TX', topic: TOPIC, queueId: 1, offset: 0, sysFlag: PULL.SUBSCRIPTION, subscription: '*' });
    const [m] = records(pulled);
    expect(m!.body.toString()).toBe('tx-commit');
    expect(m!.sysFlag & 0xc).toBe(0x8);
    expect(m!.preparedTransactionOffset).toBe(h.commitLogOffset);
    expect(m!.properties.has('TRAN_MSG')).toBe(false);
    expect(m!.properties.has('REAL_TOPIC')).toBe(false);
    expect(m!.properties.get('__transactionId__')).toBe(h.transactionId);
    // A second verdict (a retry, a late check answer) stores nothing again.
    expect(((await end(h, 8)) as RemotingCommand).code).toBe(ResponseCode.SUCCESS);
    expect(await delivered()).toEqual(['tx-commit']);
  });

  it('ROLLBACK never delivers; UNKNOWN gets no answer and changes nothing; a wrong group or offset is refused', async () => {
    const h = await sendHalf('tx-rollback');
    expect(((await end(h, 8, { group: 'SOMEONE_ELSE' })) as RemotingCommand).code).toBe(ResponseCode.SYSTEM_ERROR);
    expect(((await end({ ...h, queueOffset: h.queueOffset + 100 }, 8)) as RemotingCommand).code).toBe(ResponseCode.SYSTEM_ERROR);
    await end(h, 0, { oneway: true });
    expect(((await end(h, 12)) as RemotingCommand).code).toBe(ResponseCode.SUCCESS);
    expect(((await end(h, 8)) as RemotingCommand).code).toBe(ResponseCode.SUCCESS); // already finished: no effect
    expect(await delivered()).toEqual(['tx-commit']);
    // The op record that finished it is in the op topic.
    const ops = await c.pull({
      group: 'CG_TX_OPS',
      topic: 'RMQ_SYS_TRANS_OP_HALF_TOPIC',
      queueId: 0,
      offset: 0,
      sysFlag: PULL.SUBSCRIPTION,
      subscription: '*',
    });
    expect(records(ops).map((m) => [m.properties.get('TAGS'), m.body.toString()])).toEqual([
      ['d', '0,'],
      ['d', `${h.queueOffset},`],
    ]);
  });

  it('after kill -9 the broker still knows finished transactions: a commit repeated after the restart stores nothing', async () => {
    const h = await sendHalf('tx-after-crash');
    expect(((await end(h, 8)) as RemotingCommand).code).toBe(ResponseCode.SUCCESS);
    c.close();
    process.kill(broker.proc.pid, 'SIGKILL');
    await broker.proc.exited;
    broker.proc = await startNode(BROKER_MAIN, ['-c', broker.confPath], { name: 'broker-tx', readyPattern: /broker \S+ started at/, timeoutMs: 20_000 });
    c = new JavaClient(broker.addr);
    expect(((await end(h, 8)) as RemotingCommand).code).toBe(ResponseCode.SUCCESS);
    expect(await delivered()).toEqual(['tx-commit', 'tx-after-crash']);
  });
});
