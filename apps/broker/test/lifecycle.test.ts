// Start-up and shutdown: name-server registration, the store lock, port checks, -p, a RocketMQ
// user's broker.conf, unregistering on SIGTERM.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RequestCode, ResponseCode, decodeTopicRouteData } from '@rocketmq-ts/protocol';
import { freePort, makeTempDir, removeTempDirs, startNode, stopAllProcesses, waitFor, writeConf } from '@rocketmq-ts/testing';
import { BROKER_MAIN, JavaClient, brokerProps, startBroker, startNamesrv, type BrokerHandle } from './harness.js';

let ns: Awaited<ReturnType<typeof startNamesrv>>;
let ns2: Awaited<ReturnType<typeof startNamesrv>>;
let nsClient: JavaClient;
let ns2Client: JavaClient;
let broker: BrokerHandle;
let bc: JavaClient;

async function route(topic: string, client = nsClient) {
  const r = await client.call(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic });
  return r.code === ResponseCode.SUCCESS ? decodeTopicRouteData(r.body!) : null;
}

/** Runs the broker to completion (it is expected to exit) and returns its exit code and output. */
async function runToExit(args: string[]): Promise<{ code: number | null; out: string }> {
  const p = await startNode(BROKER_MAIN, args, { name: 'broker-expected-to-exit' });
  const st = await Promise.race([p.exited, new Promise<null>((r) => setTimeout(() => r(null), 15_000))]);
  if (st === null) {
    await p.stop('SIGKILL', 100);
    throw new Error(`broker did not exit:\n${p.output()}`);
  }
  return { code: st.code, out: p.output() };
}

beforeAll(async () => {
  [ns, ns2] = await Promise.all([startNamesrv(), startNamesrv()]);
  nsClient = new JavaClient(ns.addr);
  ns2Client = new JavaClient(ns2.addr);
  broker = await startBroker({ brokerName: 'broker-life', registerNameServerPeriod: 10_000 }, { args: ['-n', `${ns.addr};${ns2.addr}`] });
  bc = new JavaClient(broker.addr);
});

afterAll(async () => {
  bc?.close();
  nsClient?.close();
  ns2Client?.close();
  await stopAllProcesses();
  removeTempDirs();
});

describe('name server registration', () => {
  it("registers at start with every name server of the list: they route the broker's topics to it", async () => {
    expect((await waitFor(() => route('TBW102', ns2Client), { timeoutMs: 5_000 })).brokerDatas[0]!.brokerAddrs.get(0)).toBe(broker.addr);
    const r = await waitFor(() => route('TBW102'), { timeoutMs: 5_000 });
    expect(r.brokerDatas[0]!.brokerName).toBe('broker-life');
    expect(r.brokerDatas[0]!.cluster).toBe('TestCluster');
    expect(r.brokerDatas[0]!.brokerAddrs.get(0)).toBe(broker.addr);
    expect(r.queueDatas[0]).toMatchObject({ brokerName: 'broker-life', readQueueNums: 8, writeQueueNums: 8, perm: 7 });
  });

  it('re-registers at once when topics change (admin create, auto-create on send)', async () => {
    const t0 = Date.now();
    await bc.createTopic('LC_NEW', 3);
    const r = await waitFor(() => route('LC_NEW'), { timeoutMs: 5_000 });
    expect(r.queueDatas[0]).toMatchObject({ readQueueNums: 3, writeQueueNums: 3, perm: 6 });
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect((await bc.send('LC_AUTO', 'x')).code).toBe(ResponseCode.SUCCESS);
    const a = await waitFor(() => route('LC_AUTO'), { timeoutMs: 5_000 });
    expect(a.queueDatas[0]).toMatchObject({ readQueueNums: 4, writeQueueNums: 4 });
    expect(await route('LC_AUTO', ns2Client)).not.toBeNull();
  });

  it('registers again periodically: a name server that restarted empty learns the routes within registerNameServerPeriod', async () => {
    ns2Client.close();
    await ns2.proc.stop();
    ns2 = await startNamesrv(ns2.port);
    ns2Client = new JavaClient(ns2.addr);
    const t0 = Date.now();
    expect(await route('LC_AUTO', ns2Client)).toBeNull();
    await waitFor(() => route('LC_AUTO', ns2Client), { timeoutMs: 12_000, intervalMs: 200 });
    expect(Date.now() - t0).toBeLessThan(11_000);
  }, 20_000);
});

describe('start-up guards', () => {
  it('a second broker on the same store refuses to start, naming the holder', async () => {
    const conf = writeConf(
      makeTempDir('broker-2nd'),
      'broker.conf',
      await brokerProps(broker.dir, { storePathRootDir: broker.storeDir, storePathCommitLog: join(broker.storeDir, 'commitlog') }),
    );
    const { code, out } = await runToExit(['-c', conf]);
    expect(code).toBe(1);
    expect(out).toContain(`in use by another broker (pid ${broker.proc.pid}`);
    expect(readFileSync(join(broker.storeDir, 'lock'), 'utf8').trim()).toBe(String(broker.proc.pid));
    // The first broker is unharmed.
    expect((await bc.send('LC_AUTO', 'still here')).code).toBe(ResponseCode.SUCCESS);
  });

  it('a taken listen port is reported before the store is touched', async () => {
    const dir = makeTempDir('broker-port');
    const conf = writeConf(dir, 'broker.conf', await brokerProps(dir, { listenPort: broker.port }));
    const { code, out } = await runToExit(['-c', conf]);
    expect(code).toBe(1);
    expect(out).toContain(`listenPort ${broker.port} is already in use`);
    expect(existsSync(join(dir, 'store'))).toBe(false);
  });

  it('a bad store property stops start-up with one clear line naming it, no stack trace', async () => {
    const dir = makeTempDir('broker-badconf');
    const conf = writeConf(dir, 'broker.conf', await brokerProps(dir, { messageDelayLevel: '1s 5x 10s' }));
    const { code, out } = await runToExit(['-c', conf]);
    expect(code).toBe(1);
    expect(out).toMatch(/invalid configuration: messageDelayLevel/);
    expect(out).not.toMatch(/\n\s+at /);
    expect(existsSync(join(dir, 'store'))).toBe(false);
  });

  it('a stale lock (dead pid) is taken over', async () => {
    const dir = makeTempDir('broker-stale');
    const props = await brokerProps(dir);
    const { mkdirSync } = await import('node:fs');
    mkdirSync(String(props['storePathRootDir']), { recursive: true });
    writeFileSync(join(String(props['storePathRootDir']), 'lock'), '999999\n');
    const b = await startBroker(props, { dir, name: 'broker-stale' });
    expect(readFileSync(join(b.storeDir, 'lock'), 'utf8').trim()).toBe(String(b.proc.pid));
    expect(await b.stop()).toBe(0);
    expect(existsSync(join(b.storeDir, 'lock'))).toBe(false);
  });

  it('-p prints the effective configuration and exits', async () => {
    const dir = makeTempDir('broker-p');
    const conf = writeConf(dir, 'broker.conf', await brokerProps(dir, { brokerName: 'broker-print', fileReservedTime: 12 }));
    const { code, out } = await runToExit(['-c', conf, '-p', '-n', '127.0.0.1:1;127.0.0.1:2']);
    expect(code).toBe(0);
    expect(out).toMatch(/^brokerName=broker-print$/m);
    expect(out).toMatch(/^fileReservedTime=12$/m);
    expect(out).toMatch(/^namesrvAddr=127\.0\.0\.1:1;127\.0\.0\.1:2$/m);
    expect(out).toMatch(/^messageDelayLevel=1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h$/m);
    expect(existsSync(join(dir, 'store'))).toBe(false);
  });

  it("a RocketMQ user's broker.conf works unchanged (Java-only properties are accepted)", async () => {
    const dir = makeTempDir('broker-java-conf');
    const port = await freePort();
    const text = [
      '# Licensed to the Apache Software Foundation (ASF) ...',
      'brokerClusterName = DefaultCluster',
      'brokerName = broker-a',
      'brokerId = 0',
      'deleteWhen = 04',
      'fileReservedTime = 48',
      'brokerRole = ASYNC_MASTER',
      'flushDiskType = ASYNC_FLUSH',
      `listenPort=${port}`,
      'brokerIP1=127.0.0.1',
      `namesrvAddr=${ns.addr}`,
      `storePathRootDir=${join(dir, 'store')}`,
      `storePathCommitLog=${join(dir, 'store', 'commitlog')}`,
      'mappedFileSizeCommitLog=67108864',
      'preallocateMode=truncate',
      `metricsPromExporterPort=${await freePort()}`,
      'autoCreateTopicEnable=true',
      'defaultTopicQueueNums=4',
      'maxMessageSize=65536',
      'sendMessageThreadPoolNums=128',
      'useReentrantLockWhenPutMessage=true',
      'waitTimeMillsInSendQueue=200',
      'transientStorePoolEnable=false',
      'aclEnable=false',
      '',
    ].join('\n');
    writeFileSync(join(dir, 'broker.conf'), text);
    const p = await startNode(BROKER_MAIN, ['-c', join(dir, 'broker.conf')], {
      name: 'broker-java-conf',
      readyPattern: /broker \S+ started at/,
      timeoutMs: 20_000,
    });
    expect(p.output()).not.toMatch(/WARN.*sendMessageThreadPoolNums/);
    expect(p.output()).toMatch(/without effect here: .*sendMessageThreadPoolNums/);
    const c = new JavaClient(`127.0.0.1:${port}`);
    try {
      const s = await c.send('JAVA_CONF_T', 'x');
      expect(s.code).toBe(ResponseCode.SUCCESS);
      expect((await c.send('JAVA_CONF_T', Buffer.alloc(65537))).code).toBe(ResponseCode.MESSAGE_ILLEGAL);
      await waitFor(() => route('JAVA_CONF_T'), { timeoutMs: 5_000 });
    } finally {
      c.close();
    }
    expect(await p.stop('SIGTERM', 10_000)).toBe(0);
  });
});

describe('shutdown', () => {
  it('SIGTERM unregisters from the name server, releases the lock and exits 0', async () => {
    expect(await route('LC_AUTO')).not.toBeNull();
    bc.close();
    const code = await broker.stop();
    expect(code).toBe(0);
    expect(broker.proc.output()).toContain('unregistering from name servers');
    await waitFor(async () => (await route('LC_AUTO')) === null && (await route('LC_AUTO', ns2Client)) === null, { timeoutMs: 3_000 });
    expect(existsSync(join(broker.storeDir, 'lock'))).toBe(false);
    expect(existsSync(join(broker.storeDir, 'abort'))).toBe(false);
  });
});
