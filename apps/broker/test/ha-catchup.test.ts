// A slave started from empty next to a master that already holds more than 1 GiB catches up over HA,
// and serves the oldest and the newest messages byte for byte.
import { afterAll, describe, expect, it } from '@jest/globals';
import { RequestCode, ResponseCode, parseLenientJson } from '@rocketmq-ts/protocol';
import { freePort, removeTempDirs, stopAllProcesses, waitFor } from '@rocketmq-ts/testing';
import { JavaClient, PULL, records, startBroker } from './harness.js';

afterAll(async () => {
  await stopAllProcesses();
  removeTempDirs();
});

const MiB = 1024 * 1024;

async function maxPhy(c: JavaClient): Promise<number> {
  const t = (parseLenientJson((await c.call(RequestCode.GET_BROKER_RUNTIME_INFO, null)).body!.toString()) as { table: Record<string, string> }).table;
  return Number(t['commitLogMaxOffset']);
}

function bodyOf(i: number): Buffer {
  const b = Buffer.alloc(MiB, i & 0xff);
  b.write(`message ${i};`, 0);
  return b;
}

describe('a slave started from empty', () => {
  it('catches up with a master 1.1 GiB ahead', async () => {
    const haPort = await freePort();
    const common = {
      brokerName: 'broker-catchup',
      mappedFileSizeCommitLog: 256 * MiB,
      maxMessageSize: 2 * MiB,
      autoCreateTopicEnable: true,
      slaveReadEnable: true,
    };
    const master = await startBroker({ ...common, brokerRole: 'ASYNC_MASTER', haListenPort: haPort }, { name: 'catchup-master' });
    const mc = new JavaClient(master.addr);
    const count = 1100;
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < count) {
          const i = next++;
          const r = await mc.send('CATCHUP', bodyOf(i), { queueId: 0 });
          expect(r.code).toBe(ResponseCode.SUCCESS);
        }
      }),
    );
    const target = await maxPhy(mc);
    expect(target).toBeGreaterThan(1024 * MiB);

    const slave = await startBroker({ ...common, brokerRole: 'SLAVE', brokerId: 1, haMasterAddress: `127.0.0.1:${haPort}` }, { name: 'catchup-slave' });
    const sc = new JavaClient(slave.addr);
    const t0 = Date.now();
    await waitFor(async () => (await maxPhy(sc)) === target, { timeoutMs: 180_000, intervalMs: 500, message: `slave at ${target}` });
    const seconds = (Date.now() - t0) / 1000;
    console.log(`slave caught up ${(target / MiB).toFixed(0)} MiB in ${seconds.toFixed(1)} s (${(target / MiB / seconds).toFixed(0)} MiB/s)`);

    for (const offset of [0, count - 1]) {
      const r = await sc.pull({ group: 'CATCHUP_G', topic: 'CATCHUP', queueId: 0, offset, maxMsgNums: 1, sysFlag: PULL.SUBSCRIPTION, subscription: '*' });
      expect(r.code).toBe(ResponseCode.SUCCESS);
      expect(records(r)[0]!.body.equals(bodyOf(offset))).toBe(true);
    }
    mc.close();
    sc.close();
  }, 300_000);
});
