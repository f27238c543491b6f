// A push consumer keeps consuming from the slave when its master dies (kill -9): the client passes over
// the unreachable master and reads the slave's copy, which SYNC_MASTER made complete before each ack.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startCluster, waitFor, type TestCluster } from '@rocketmq-ts/testing';
import { Message, Producer, PushConsumer } from '../src/index.js';
import { captureLogger, createTopic, uniqueName } from './helpers.js';

let c: TestCluster;
let producer: Producer;
let consumer: PushConsumer | undefined;
const logger = captureLogger();

beforeAll(async () => {
  c = await startCluster('failover', { broker: { brokerRole: 'SYNC_MASTER', slaveReadEnable: true, slaveTimeout: 2000 } });
  await c.addBroker(c.brokerName, { brokerRole: 'SLAVE', brokerId: 1, slaveReadEnable: true });
  producer = new Producer({ group: uniqueName('PG'), namesrvAddr: c.namesrvAddr, logger });
  await producer.start();
}, 60_000);

afterAll(async () => {
  await consumer?.shutdown().catch(() => undefined);
  await producer?.shutdown().catch(() => undefined);
  await c?.stop();
});

describe('master loss', () => {
  it('a push consumer consumes every acknowledged message with the master killed halfway', async () => {
    const topic = uniqueName('FAILOVER');
    await createTopic(producer, c.brokerAddr, topic, 2);
    // SEND_OK only once the slave is connected and has the bytes.
    await waitFor(async () => (await producer.send(new Message(topic, Buffer.from('probe')))).sendStatus === 'SEND_OK', {
      timeoutMs: 20_000,
      message: 'slave connected',
    });
    const sent = new Set<string>(['probe']);
    for (let i = 0; i < 300; i++) {
      const r = await producer.send(new Message(topic, Buffer.from(`m${i}`)));
      expect(r.sendStatus).toBe('SEND_OK');
      sent.add(`m${i}`);
    }

    const got = new Set<string>();
    let killed = false;
    consumer = new PushConsumer({
      group: uniqueName('CG'),
      namesrvAddr: c.namesrvAddr,
      logger,
      consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
      pullBatchSize: 8,
      pullThresholdForQueue: 16,
    });
    // Little cached ahead: most messages are pulled after the kill, from the slave.
    consumer.subscribe(topic, '*');
    let afterKill = 0;
    consumer.registerMessageListener(async (msgs): Promise<'CONSUME_SUCCESS'> => {
      for (const m of msgs) got.add(m.body.toString());
      if (killed) afterKill += msgs.length;
      await new Promise((r) => setTimeout(r, 5));
      if (!killed && got.size >= 60) {
        killed = true;
        await c.broker.kill();
      }
      return 'CONSUME_SUCCESS';
    });
    await consumer.start();
    await waitFor(() => killed, { timeoutMs: 30_000, message: 'master killed' });
    await waitFor(() => [...sent].every((b) => got.has(b)), { timeoutMs: 45_000, message: `all ${sent.size} consumed (have ${got.size})` });
    expect(got.size).toBe(sent.size);
    expect(afterKill).toBeGreaterThan(150);
  }, 120_000);
});
