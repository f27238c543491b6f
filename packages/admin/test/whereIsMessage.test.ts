// whereIsMessage (MQAdmin and mqadmin) against a real name server and broker: a message consumed by
// one group (after one RECONSUME_LATER, so a retry copy exists) and not by another, and a timer
// message still waiting in the wheel.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FAST_DELAY_LEVELS, startCluster, waitFor, type TestCluster } from '@rocketmq-ts/testing';
import { Message, Producer, PushConsumer, TransactionProducer, type ClientLogger } from '@rocketmq-ts/client';
import { MQAdmin, runCli, type WhereIsMessageResult } from '../src/index.js';

const quiet: ClientLogger = { log: () => undefined };
const uniq = (p: string): string => `${p}_${process.pid}_${Date.now().toString(36)}`;

let c: TestCluster;
let admin: MQAdmin;
const closers: Array<{ shutdown(): Promise<void> }> = [];

async function mq(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli([...args, '-n', c.namesrvAddr], { out: (s) => (out += s), err: (s) => (err += s), env: {} });
  return { code, out, err };
}

beforeAll(async () => {
  // No transaction checks while the test runs: an UNKNOWN transaction stays open.
  c = await startCluster('admin-where', { broker: { messageDelayLevel: FAST_DELAY_LEVELS, transactionCheckInterval: 3_600_000 } });
  admin = new MQAdmin({ namesrvAddr: [c.namesrvAddr], logger: quiet });
});

afterAll(async () => {
  for (const k of closers.reverse()) await k.shutdown().catch(() => undefined);
  await admin?.shutdown();
  await c?.stop();
});

describe('whereIsMessage', () => {
  it('reports the store location, the groups past it and not, and the retry copy with its reconsume times', async () => {
    const topic = uniq('WhereT');
    const done = uniq('WhereDone');
    const idle = uniq('WhereIdle');
    expect((await mq('updateTopic', '-b', c.brokerAddr, '-t', topic, '-r', '1', '-w', '1')).code).toBe(0);
    for (const g of [done, idle]) expect((await mq('updateSubGroup', '-b', c.brokerAddr, '-g', g)).code).toBe(0);
    await waitFor(async () => (await mq('topicRoute', '-t', topic)).code === 0, { timeoutMs: 10_000 });

    const producer = new Producer({ group: uniq('PG_WHERE'), namesrvAddr: c.namesrvAddr, logger: quiet });
    await producer.start();
    closers.push(producer);
    const before = Date.now();
    const sent = await producer.send(new Message(topic, Buffer.from('where am i'), { keys: ['order-7'], tags: 'TagW' }));
    await producer.send(new Message(topic, Buffer.from('next')));

    // The idle group has an offset on the queue, at the message (not past it).
    const mq0 = { topic, brokerName: c.brokerName, queueId: 0 };
    await admin.api.updateConsumerOffset(c.brokerAddr, idle, mq0, sent.queueOffset);

    // The other group fails the message once (a retry copy), then consumes everything.
    let failures = 0;
    let retried = 0;
    const k = new PushConsumer({
      group: done,
      namesrvAddr: c.namesrvAddr,
      logger: quiet,
      consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
      persistConsumerOffsetIntervalMs: 200,
      brokerSuspendMaxTimeMillis: 1000,
    });
    closers.push(k);
    k.subscribe(topic, '*');
    k.registerMessageListener((msgs) => {
      for (const m of msgs) {
        if (m.msgId !== sent.msgId) continue;
        if (m.reconsumeTimes > 0) retried++;
        else if (failures++ === 0) return 'RECONSUME_LATER';
      }
      return 'CONSUME_SUCCESS';
    });
    await k.start();
    await waitFor(() => retried > 0, { timeoutMs: 20_000, message: 'the retry came back' });
    await waitFor(async () => (await admin.api.queryConsumerOffset(c.brokerAddr, done, mq0, false)) > sent.queueOffset, {
      timeoutMs: 10_000,
      message: 'offset committed past the message',
    });

    const r = await waitFor(
      async () => {
        const x = await admin.whereIsMessage(topic, sent.msgId);
        return x.found && x.retries.some((y) => y.kind === 'retry') ? x : undefined;
      },
      { timeoutMs: 10_000, message: 'found with its retry copy' },
    );
    expect(r.idKind).toBe('unique');
    expect(r.topic).toBe(topic);
    expect(r.uniqKey).toBe(sent.msgId);
    expect(r.keys).toEqual(['order-7']);
    expect(r.tags).toBe('TagW');
    expect(r.location).toEqual(
      expect.objectContaining({
        brokerName: c.brokerName,
        brokerAddr: c.brokerAddr,
        topic,
        queueId: 0,
        queueOffset: sent.queueOffset,
        offsetMsgId: sent.offsetMsgId,
      }),
    );
    expect(r.location!.storeTimestamp).toBeGreaterThanOrEqual(before - 1_000);
    expect(r.location!.bornTimestamp).toBeGreaterThanOrEqual(before - 1_000);
    const byGroup = Object.fromEntries(r.groups.map((g) => [g.group, g]));
    expect(byGroup[done]?.state).toBe('consumed');
    expect(byGroup[idle]).toEqual({ group: idle, state: 'not consumed yet', consumerOffset: sent.queueOffset });
    const retry = r.retries.find((y) => y.kind === 'retry')!;
    expect(retry).toEqual(expect.objectContaining({ group: done, topic: `%RETRY%${done}`, reconsumeTimes: 1 }));
    expect(r.retries.every((y) => y.group === done)).toBe(true);
    expect(r.transaction).toBeUndefined();
    expect(r.timer).toBeUndefined();

    // The offset msgId finds the same message without a topic.
    const byOffset = await admin.whereIsMessage(undefined, sent.offsetMsgId);
    expect(byOffset.idKind).toBe('offset');
    expect(byOffset.uniqKey).toBe(sent.msgId);
    expect(byOffset.location?.commitLogOffset).toBe(r.location!.commitLogOffset);
    expect(byOffset.groups.map((g) => g.state).sort()).toEqual(r.groups.map((g) => g.state).sort());

    // mqadmin: JSON and text.
    const json = await mq('whereIsMessage', '-i', sent.msgId, '-t', topic, '--json');
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.out) as WhereIsMessageResult;
    expect(parsed.location?.queueOffset).toBe(sent.queueOffset);
    expect(parsed.groups.find((g) => g.group === idle)?.state).toBe('not consumed yet');
    expect(parsed.retries.find((y) => y.kind === 'retry')?.reconsumeTimes).toBe(1);
    const text = await mq('whereIsMessage', '-i', sent.msgId, '-t', topic);
    expect(text.code).toBe(0);
    expect(text.out).toMatch(/Queue Offset\s+: \d+/);
    expect(text.out).toMatch(new RegExp(`${done}\\s+consumed`));
    expect(text.out).toMatch(new RegExp(`${idle}\\s+not consumed yet`));
    expect(text.out).toMatch(new RegExp(`${done}\\s+retry\\s+%RETRY%${done}\\s+1`));
  }, 60_000);

  it('reports a timer message due in the future as pending, in the timer topic', async () => {
    const topic = uniq('WhereTimer');
    expect((await mq('updateTopic', '-b', c.brokerAddr, '-t', topic, '-r', '1', '-w', '1')).code).toBe(0);
    await waitFor(async () => (await mq('topicRoute', '-t', topic)).code === 0, { timeoutMs: 10_000 });
    const producer = new Producer({ group: uniq('PG_WHERE_TIMER'), namesrvAddr: c.namesrvAddr, logger: quiet });
    await producer.start();
    closers.push(producer);
    const at = Date.now() + 3_600_000;
    const sent = await producer.send(new Message(topic, Buffer.from('later'), { deliveryTimestamp: at }));
    const r = await waitFor(
      async () => {
        const x = await admin.whereIsMessage(topic, sent.msgId);
        return x.found ? x : undefined;
      },
      { timeoutMs: 10_000, message: 'timer message found' },
    );
    expect(r.location?.topic).toBe('rmq_sys_wheel_timer');
    expect(r.location?.realTopic).toBe(topic);
    expect(r.timer?.state).toBe('pending');
    expect(Math.abs(r.timer!.deliverAtMs - at)).toBeLessThan(2_000);
    const json = await mq('whereIsMessage', '-i', sent.msgId, '-t', topic, '--json');
    expect((JSON.parse(json.out) as WhereIsMessageResult).timer?.state).toBe('pending');
    const missing = await mq('whereIsMessage', '-i', sent.msgId);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('give the topic');
  }, 30_000);

  it('reports a transactional message as committed, rolled back or open', async () => {
    const topic = uniq('WhereTx');
    expect((await mq('updateTopic', '-b', c.brokerAddr, '-t', topic, '-r', '1', '-w', '1')).code).toBe(0);
    await waitFor(async () => (await mq('topicRoute', '-t', topic)).code === 0, { timeoutMs: 10_000 });
    const p = new TransactionProducer({ group: uniq('PG_WHERE_TX'), namesrvAddr: c.namesrvAddr, logger: quiet, checker: () => 'UNKNOWN' });
    await p.start();
    closers.push(p);
    const send = (state: 'COMMIT' | 'ROLLBACK' | 'UNKNOWN') => p.sendInTransaction(new Message(topic, Buffer.from(state)), () => state);
    const [commit, rollback, open] = [await send('COMMIT'), await send('ROLLBACK'), await send('UNKNOWN')];
    const stateOf = async (id: string, want: string): Promise<WhereIsMessageResult> =>
      waitFor(
        async () => {
          const x = await admin.whereIsMessage(topic, id);
          return x.transaction?.state === want ? x : undefined;
        },
        { timeoutMs: 10_000, message: `transaction ${want}` },
      );
    const committed = await stateOf(commit.msgId, 'committed');
    expect(committed.location?.topic).toBe(topic);
    expect(committed.copies.map((x) => x.topic).sort()).toEqual(['RMQ_SYS_TRANS_HALF_TOPIC', topic].sort());
    const rolledBack = await stateOf(rollback.msgId, 'rolled back');
    expect(rolledBack.location).toEqual(expect.objectContaining({ topic: 'RMQ_SYS_TRANS_HALF_TOPIC', realTopic: topic }));
    const stillOpen = await stateOf(open.msgId, 'open');
    expect(stillOpen.transaction?.checkTimes).toBe(0);
    expect(stillOpen.groups.every((g) => g.state === 'not in the topic yet')).toBe(true);
    const text = await mq('whereIsMessage', '-i', open.msgId, '-t', topic);
    expect(text.out).toContain('Transaction: open');
  }, 30_000);
});
