// Overload is answered, and the producer backs off: a broker whose disk stalls answers SYSTEM_BUSY
// (flow control) at once; the producer treats the code as retriable, sends the message to the other
// broker and avoids the busy one for a while (sendLatencyFaultEnable), so every send succeeds.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RemotingCommand, RequestCode } from '@rocketmq-ts/protocol';
import { startCluster, waitFor, type TestCluster } from '@rocketmq-ts/testing';
import { Message, Producer } from '../src/index.js';
import { captureLogger, createTopic, uniqueName } from './helpers.js';

let c: TestCluster;
let producer: Producer;
let faults: string;
let bAddr: string;
const logger = captureLogger();

beforeAll(async () => {
  // Only the first broker reads the fault file (the variable is gone before the second starts).
  faults = join(process.env['TMPDIR'] ?? '/tmp', `busy-faults-${process.pid}.json`);
  writeFileSync(faults, '{}');
  process.env['ROCKETMQ_TS_FAULT_FILE'] = faults;
  try {
    c = await startCluster('busy', { broker: { flushDiskType: 'SYNC_FLUSH', osPageCacheBusyTimeOutMills: 300 } });
  } finally {
    delete process.env['ROCKETMQ_TS_FAULT_FILE'];
  }
  bAddr = (await c.addBroker('broker-busy-b', { flushDiskType: 'ASYNC_FLUSH' })).addr;
  producer = new Producer({ group: uniqueName('PG'), namesrvAddr: c.namesrvAddr, logger, sendLatencyFaultEnable: true });
  await producer.start();
}, 60_000);

afterAll(async () => {
  writeFileSync(faults, '{}');
  await producer?.shutdown().catch(() => undefined);
  await c?.stop();
});

describe('a busy broker', () => {
  it('sends succeed through the other broker while one answers SYSTEM_BUSY', async () => {
    const topic = uniqueName('BUSY');
    await createTopic(producer, c.brokerAddr, topic, 2);
    await createTopic(producer, bAddr, topic, 2);
    const api = producer.clientInstance.api;
    await waitFor(async () => ((await api.getTopicRouteInfo(topic))?.brokerDatas.length ?? 0) === 2, { timeoutMs: 20_000, message: 'route with both brokers' });
    // Both take sends while healthy.
    const before = new Set<string>();
    for (let i = 0; i < 8; i++) before.add((await producer.send(new Message(topic, Buffer.from(`pre${i}`)))).messageQueue.brokerName);
    expect(before.size).toBe(2);

    // The first broker's disk stalls: one send waits on its fdatasync, and past
    // osPageCacheBusyTimeOutMills the broker refuses further sends with SYSTEM_BUSY.
    writeFileSync(faults, JSON.stringify({ stall: { fsync: 4000 } }));
    await new Promise((r) => setTimeout(r, 300));
    const held = api
      .invoke(
        c.brokerAddr,
        RemotingCommand.request(RequestCode.SEND_MESSAGE_V2, {
          a: 'PG_HELD',
          b: topic,
          c: 'TBW102',
          d: '4',
          e: '0',
          f: '0',
          g: String(Date.now()),
          h: '0',
          i: 'WAIT\u0001true\u0002',
          j: '0',
          k: 'false',
        }),
        10_000,
      )
      .catch(() => undefined);
    await new Promise((r) => setTimeout(r, 600));

    const t0 = Date.now();
    const brokers = new Map<string, number>();
    for (let i = 0; i < 40; i++) {
      const r = await producer.send(new Message(topic, Buffer.from(`m${i}`)));
      expect(r.sendStatus).toBe('SEND_OK');
      brokers.set(r.messageQueue.brokerName, (brokers.get(r.messageQueue.brokerName) ?? 0) + 1);
    }
    const elapsed = Date.now() - t0;
    // All went to the healthy broker, quickly (no send waited on the stalled disk).
    expect([...brokers.keys()]).toEqual(['broker-busy-b']);
    expect(elapsed).toBeLessThan(3000);
    // At least one attempt met SYSTEM_BUSY and was retried; then the busy broker was avoided.
    const retries = logger.events.filter((e) => e.event === 'send.retry');
    expect(retries.length).toBeGreaterThanOrEqual(1);
    expect(retries.length).toBeLessThan(5);
    writeFileSync(faults, '{}');
    await held;
  });
});
