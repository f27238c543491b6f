// mqadmin halfMessageList against a real name server and broker: half messages sent on the wire as
// RocketMQ's Java TransactionMQProducer sends them (SEND_MESSAGE_V2 with sysFlag PREPARED, TRAN_MSG
// and PGROUP; END_TRANSACTION 8 commit / 12 rollback), then listed with standard requests only.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RemotingCommand, RequestCode, ResponseCode, createUniqId, decodeOffsetMsgId } from '@rocketmq-ts/protocol';
import { RemotingClient } from '@rocketmq-ts/remoting';
import { startCluster, waitFor, type TestCluster } from '@rocketmq-ts/testing';
import { MQAdmin, runCli } from '../src/index.js';

const quiet = { log: () => undefined };

interface Half {
  topic: string;
  group: string;
  offsetMsgId: string;
  transactionId: string;
  queueOffset: number;
  commitLogOffset: number;
}

interface Row {
  brokerName: string;
  topic: string;
  queueId: number;
  transactionId: string;
  producerGroup: string;
  bornTimestamp: number;
  checkTimes: number;
  halfOffset: number;
  commitLogOffset: number;
}

/** A producer speaking raw remoting as the Java client does (language JAVA, version 479, string extFields). */
class JavaTxProducer {
  private readonly client = new RemotingClient({ name: 'half-test-producer' });

  constructor(private readonly addr: string) {}

  private async call(code: number, ext: Record<string, string>, body: Buffer | null = null): Promise<RemotingCommand> {
    const cmd = RemotingCommand.request(code, ext, body);
    cmd.language = 'JAVA';
    cmd.version = 479;
    return this.client.invoke(this.addr, cmd, 5_000);
  }

  /** SEND_MESSAGE_V2 of a half message (DefaultMQProducerImpl.sendMessageInTransaction). */
  async sendHalf(topic: string, group: string, queueId: number, body: string): Promise<Half> {
    const props = { TRAN_MSG: 'true', PGROUP: group, UNIQ_KEY: createUniqId(), WAIT: 'true' };
    const properties = Object.entries(props)
      .map(([k, v]) => `${k}\u0001${v}\u0002`)
      .join('');
    const r = await this.call(
      RequestCode.SEND_MESSAGE_V2,
      // producerGroup, topic, defaultTopic, defaultTopicQueueNums, queueId, sysFlag, bornTimestamp, flag, properties, reconsumeTimes, unitMode, -, batch
      { a: group, b: topic, c: 'TBW102', d: '4', e: String(queueId), f: '4', g: String(Date.now()), h: '0', i: properties, j: '0', k: 'false', m: 'false' },
      Buffer.from(body),
    );
    expect([r.code, r.remark]).toEqual([ResponseCode.SUCCESS, null]);
    const offsetMsgId = r.ext('msgId')!;
    return {
      topic,
      group,
      offsetMsgId,
      transactionId: r.ext('transactionId')!,
      queueOffset: Number(r.ext('queueOffset')),
      commitLogOffset: decodeOffsetMsgId(offsetMsgId)!.commitLogOffset,
    };
  }

  /** END_TRANSACTION as DefaultMQProducerImpl.endTransaction sends it: 8 commit, 12 rollback. */
  async end(h: Half, commitOrRollback: 8 | 12, at: { queueOffset: number; commitLogOffset: number } = h): Promise<void> {
    const r = await this.call(RequestCode.END_TRANSACTION, {
      topic: h.topic,
      producerGroup: h.group,
      tranStateTableOffset: String(at.queueOffset),
      commitLogOffset: String(at.commitLogOffset),
      commitOrRollback: String(commitOrRollback),
      fromTransactionCheck: 'false',
      msgId: h.transactionId,
      transactionId: h.transactionId,
    });
    expect([r.code, r.remark]).toEqual([ResponseCode.SUCCESS, null]);
  }

  close(): void {
    this.client.close();
  }
}

async function mq(c: TestCluster, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli([...args, '-n', c.namesrvAddr], { out: (s) => (out += s), err: (s) => (err += s), env: {} });
  return { code, out, err };
}

async function rows(c: TestCluster, ...args: string[]): Promise<Row[]> {
  const r = await mq(c, 'halfMessageList', ...args, '--json');
  if (r.code !== 0) throw new Error(`halfMessageList ${args.join(' ')} failed: ${r.err}`);
  return JSON.parse(r.out) as Row[];
}

const ids = (list: readonly Row[]): string[] => list.map((r) => r.transactionId).sort();
const uniq = (p: string): string => `${p}_${process.pid}_${Date.now().toString(36)}`;

describe('halfMessageList', () => {
  let c: TestCluster;
  let p: JavaTxProducer;

  beforeAll(async () => {
    // No checks while this test runs: the check counts stay 0.
    c = await startCluster('admin-half', { broker: { transactionCheckInterval: 3_600_000 } });
    p = new JavaTxProducer(c.brokerAddr);
  });

  afterAll(async () => {
    p?.close();
    await c?.stop();
  });

  it('lists the open transactions: a committed and a rolled-back half are gone, -t filters by topic, nothing is committed', async () => {
    const topic = uniq('HalfT');
    const other = uniq('HalfOther');
    const group = uniq('PG_HALF');
    for (const t of [topic, other]) expect((await mq(c, 'updateTopic', '-b', c.brokerAddr, '-t', t, '-r', '4', '-w', '4')).code).toBe(0);
    const before = Date.now();
    const halves: Half[] = [];
    for (let i = 0; i < 4; i++) halves.push(await p.sendHalf(topic, group, i, `half-${i}`));
    const otherHalf = await p.sendHalf(other, group, 2, 'other');
    await p.end(halves[0]!, 8);
    await p.end(halves[1]!, 12);
    const open = [halves[2]!, halves[3]!];

    // (the op records are written before END_TRANSACTION answers; the wait only covers queue dispatch)
    const listed = await waitFor(
      async () => {
        const r = await rows(c, '-b', c.brokerAddr, '-t', topic);
        return r.length === 2 ? r : undefined;
      },
      { timeoutMs: 10_000, message: 'two open transactions listed' },
    );
    expect(listed).toEqual(
      open.map((h, i) => ({
        brokerName: c.brokerName,
        brokerAddr: c.brokerAddr,
        topic,
        queueId: i + 2,
        transactionId: h.transactionId,
        producerGroup: group,
        bornTimestamp: expect.any(Number),
        checkTimes: 0,
        halfOffset: h.queueOffset,
        storeTimestamp: expect.any(Number),
        commitLogOffset: h.commitLogOffset,
        offsetMsgId: h.offsetMsgId,
      })),
    );
    for (const r of listed) expect(r.bornTimestamp).toBeGreaterThanOrEqual(before - 1_000);

    // Without -t: the other topic's half too; -c: every master of the cluster.
    expect(ids(await rows(c, '-b', c.brokerAddr))).toEqual([...open, otherHalf].map((h) => h.transactionId).sort());
    expect(ids(await rows(c, '-c', c.clusterName, '-t', topic))).toEqual(ids(listed));
    expect(await rows(c, '-c', c.clusterName, '-t', uniq('NoSuchTopic'))).toEqual([]);

    const text = await mq(c, 'halfMessageList', '-b', c.brokerAddr, '-t', topic);
    expect(text.code).toBe(0);
    const lines = text.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^#Broker Name\s+#Topic\s+#QID\s+#Transaction Id\s+#Producer Group\s+#Born Time\s+#Check Times\s+#Half Offset$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/))).toEqual(
      open.map((h, i) => [c.brokerName, topic, String(i + 2), h.transactionId, group, expect.any(String), expect.any(String), '0', String(h.queueOffset)]),
    );

    // The reads committed no offset (they pull as TOOLS_CONSUMER, without the commit flag).
    const admin = new MQAdmin({ namesrvAddr: [c.namesrvAddr], logger: quiet });
    try {
      const halfMq = { topic: 'RMQ_SYS_TRANS_HALF_TOPIC', brokerName: c.brokerName, queueId: 0 };
      const opMq = { ...halfMq, topic: 'RMQ_SYS_TRANS_OP_HALF_TOPIC' };
      expect(await admin.api.queryConsumerOffset(c.brokerAddr, 'TOOLS_CONSUMER', halfMq, false)).toBe(-1);
      expect(await admin.api.queryConsumerOffset(c.brokerAddr, 'TOOLS_CONSUMER', opMq, false)).toBe(-1);
    } finally {
      await admin.shutdown();
    }
  });

  it('help lists it; a missing -b / -c is a usage error', async () => {
    const help = await mq(c, 'help');
    expect(help.out).toMatch(/halfMessageList\s+List the half messages/);
    const one = await mq(c, 'help', 'halfMessageList');
    expect(one.out).toContain('-b,--brokerAddr');
    expect(one.out).toContain('-c,--clusterName');
    expect(one.out).toContain('-t,--topic');
    const bad = await mq(c, 'halfMessageList', '-t', 'x');
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('give a broker address (-b) or a cluster name (-c)');
  });
});

describe('halfMessageList with the broker checking', () => {
  let c: TestCluster;
  let p: JavaTxProducer;

  beforeAll(async () => {
    // Checked after 1 s, every second; no producer of the group is connected, so nobody answers.
    c = await startCluster('admin-half-check', { broker: { transactionTimeOut: 1_000, transactionCheckInterval: 1_000, transactionCheckMax: 1_000 } });
    p = new JavaTxProducer(c.brokerAddr);
  });

  afterAll(async () => {
    p?.close();
    await c?.stop();
  });

  it('shows the check count of the newest copy, one row per transaction; a verdict on any copy ends it', async () => {
    const topic = uniq('HalfChecked');
    const group = uniq('PG_SILENT');
    expect((await mq(c, 'updateTopic', '-b', c.brokerAddr, '-t', topic, '-r', '2', '-w', '2')).code).toBe(0);
    const halves = [await p.sendHalf(topic, group, 0, 'a'), await p.sendHalf(topic, group, 1, 'b'), await p.sendHalf(topic, group, 0, 'c')];
    const sent = halves.map((h) => h.transactionId).sort();
    const admin = new MQAdmin({ namesrvAddr: [c.namesrvAddr], logger: quiet });
    try {
      // Checked at least once, and the broker's progress is past the originals (they have copies now).
      const scan = await waitFor(
        async () => {
          const s = await admin.openHalfMessages(c.brokerAddr, c.brokerName, { topic });
          const done = s.open.length === 3 && s.open.every((r) => r.checkTimes >= 1) && s.checkOffset > Math.max(...halves.map((h) => h.queueOffset));
          return done ? s : undefined;
        },
        { timeoutMs: 20_000, intervalMs: 250, message: 'every half checked at least once' },
      );
      expect(ids(scan.open)).toEqual(sent);
      for (const r of scan.open) expect(r.halfOffset).toBeGreaterThan(Math.max(...halves.map((h) => h.queueOffset)));

      const listed = await rows(c, '-b', c.brokerAddr, '-t', topic);
      expect(ids(listed)).toEqual(sent);
      for (const r of listed) expect(r.checkTimes).toBeGreaterThanOrEqual(1);

      // A late first-phase commit names the original half (below the progress now): the transaction
      // ends all the same. A rollback naming the newest copy (a check's answer) ends the second.
      const [a, b, rest] = halves as [Half, Half, Half];
      await p.end(a, 8);
      // (the broker may have made a newer copy meanwhile: a verdict on an older one counts as well)
      const copyOfB = listed.find((r) => r.transactionId === b.transactionId)!;
      await p.end(b, 12, { queueOffset: copyOfB.halfOffset, commitLogOffset: copyOfB.commitLogOffset });
      const left = await waitFor(
        async () => {
          const r = await rows(c, '-b', c.brokerAddr, '-t', topic);
          return r.length === 1 ? r : undefined;
        },
        { timeoutMs: 10_000, message: 'one open transaction listed' },
      );
      expect(ids(left)).toEqual([rest.transactionId]);
      expect(left[0]!.checkTimes).toBeGreaterThanOrEqual(1);
    } finally {
      await admin.shutdown();
    }
  });
});
