// brokerIP1 as a host name (docker-compose passes service names): the broker resolves it at start-up
// and uses the address in routes, msgIds and records.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RequestCode, ResponseCode, decodeOffsetMsgId, decodeTopicRouteData } from '@rocketmq-ts/protocol';
import { removeTempDirs, stopAllProcesses, waitFor } from '@rocketmq-ts/testing';
import { JavaClient, PULL, records, startBroker, startNamesrv, type BrokerHandle } from './harness.js';

let ns: Awaited<ReturnType<typeof startNamesrv>>;
let nsClient: JavaClient;
let broker: BrokerHandle;
let bc: JavaClient;

beforeAll(async () => {
  ns = await startNamesrv();
  nsClient = new JavaClient(ns.addr);
  broker = await startBroker({ brokerName: 'broker-host-name', brokerIP1: 'localhost' }, { args: ['-n', ns.addr] });
  bc = new JavaClient(broker.addr);
});

afterAll(async () => {
  bc?.close();
  nsClient?.close();
  await stopAllProcesses();
  removeTempDirs();
});

describe('brokerIP1=localhost', () => {
  it('logs the resolution once and registers 127.0.0.1 with the name server', async () => {
    expect(broker.proc.output().match(/resolved to/g)).toHaveLength(1);
    expect(broker.proc.output()).toContain('brokerIP1 and brokerIP2 localhost resolved to 127.0.0.1');
    expect(broker.proc.output()).toContain(`started at 127.0.0.1:${broker.port}`);
    const route = await waitFor(
      async () => {
        const r = await nsClient.call(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic: 'TBW102' });
        return r.code === ResponseCode.SUCCESS ? decodeTopicRouteData(r.body!) : null;
      },
      { timeoutMs: 5_000 },
    );
    expect(route.brokerDatas[0]!.brokerName).toBe('broker-host-name');
    expect(route.brokerDatas[0]!.brokerAddrs.get(0)).toBe(`127.0.0.1:${broker.port}`);
  });

  it('writes 127.0.0.1 as the store host into msgIds and records, and reports it in its config', async () => {
    const res = await bc.send('HOST_NAME_T', 'hello', { queueId: 0 });
    expect(res.code).toBe(ResponseCode.SUCCESS);
    expect(decodeOffsetMsgId(res.ext('msgId')!)).toMatchObject({ address: '127.0.0.1', port: broker.port });
    const pull = await bc.pull({ group: 'CG_HOST_NAME', topic: 'HOST_NAME_T', queueId: 0, offset: 0, sysFlag: PULL.SUBSCRIPTION, subscription: '*' });
    expect(pull.code).toBe(ResponseCode.SUCCESS);
    const [m] = records(pull);
    expect(m!.storeHost).toEqual({ address: '127.0.0.1', port: broker.port });
    const conf = await bc.call(RequestCode.GET_BROKER_CONFIG, null);
    expect(conf.body!.toString()).toMatch(/^brokerIP1=127\.0\.0\.1$/m);
  });
});
