// TLS end to end with real processes: a name server and a broker that both enforce TLS, the
// broker registering over TLS, SDK clients and mqadmin with useTLS, plaintext refused.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Message, Producer, PushConsumer, type ClientLogger } from '@rocketmq-ts/client';
import {
  makeTempDir,
  makeTestCertificates,
  removeTempDirs,
  repoRoot,
  startCluster,
  waitFor,
  type TestCertificates,
  type TestCluster,
} from '@rocketmq-ts/testing';
import { MQAdmin, runCli } from '../src/index.js';

const quiet: ClientLogger = { log: () => undefined };
let c: TestCluster;
let certs: TestCertificates;
const closers: Array<{ shutdown(): Promise<void> }> = [];

beforeAll(async () => {
  certs = makeTestCertificates(makeTempDir('rmqts-tls-certs-'));
  const server = { 'tls.server.mode': 'enforcing', 'tls.server.certPath': certs.serverCert, 'tls.server.keyPath': certs.serverKey };
  c = await startCluster('tls', {
    namesrv: server,
    // The broker's own connections (registration with the name server) use TLS too.
    broker: { ...server, 'tls.enable': true, 'tls.client.trustCertPath': certs.caCert },
  });
});

afterAll(async () => {
  for (const k of closers.reverse()) await k.shutdown().catch(() => undefined);
  await c?.stop();
  removeTempDirs();
});

const tls = (): { useTLS: true; tls: { trustCertPath: string } } => ({ useTLS: true, tls: { trustCertPath: certs.caCert } });

async function mq(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli([...args, '-n', c.namesrvAddr], { out: (s) => (out += s), err: (s) => (err += s), env: {} });
  return { code, out, err };
}

describe('TLS enforcing name server and broker', () => {
  it('the broker registers with the name server over TLS', async () => {
    const admin = new MQAdmin({ namesrvAddr: c.namesrvAddr, logger: quiet, ...tls() });
    closers.push(admin);
    await waitFor(async () => (await admin.clusterInfo()).brokerAddrTable.has(c.brokerName), { timeoutMs: 15_000, message: 'broker registered' });
  });

  it('mqadmin clusterList --useTLS lists the broker; without TLS it fails', async () => {
    const ok = await mq('clusterList', '--useTLS', '--tlsTrustCertPath', certs.caCert, '--json');
    expect(ok.err).toBe('');
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.out)).toEqual([expect.objectContaining({ brokerName: c.brokerName, addr: c.brokerAddr })]);
    const plain = await mq('clusterList');
    expect(plain.code).toBe(1);
    // Test mode: TLS without verifying the server.
    expect((await mq('clusterList', '--tlsTestMode')).code).toBe(0);
    // A CA that did not sign the server certificate.
    expect((await mq('clusterList', '--tlsTrustCertPath', certs.otherCaCert)).code).toBe(1);
  });

  it('the mqadmin bin takes TLS from ROCKETMQ_TLS_* environment variables', async () => {
    const bin = join(repoRoot(), 'packages', 'admin', 'dist', 'cli.js');
    if (!existsSync(bin)) return; // built before the suites run
    const env = { ...process.env, ROCKETMQ_TLS_ENABLE: 'true', ROCKETMQ_TLS_CLIENT_TRUST_CERT_PATH: certs.caCert };
    const { stdout } = await promisify(execFile)(process.execPath, [bin, 'clusterList', '-n', c.namesrvAddr, '--json'], { timeout: 20_000, env });
    expect(JSON.parse(stdout)).toEqual([expect.objectContaining({ addr: c.brokerAddr })]);
  });

  it('a producer and a push consumer with useTLS send and receive', async () => {
    const topic = `TLS_TOPIC_${process.pid}`;
    const admin = new MQAdmin({ namesrvAddr: c.namesrvAddr, logger: quiet, ...tls() });
    closers.push(admin);
    await admin.createOrUpdateTopic(c.brokerAddr, { topic, readQueueNums: 2, writeQueueNums: 2, perm: 6 });
    await waitFor(async () => (await admin.api.getTopicRouteInfo(topic))?.queueDatas.length === 1, { timeoutMs: 10_000, message: 'route' });

    const producer = new Producer({ group: `PG_TLS_${process.pid}`, namesrvAddr: c.namesrvAddr, logger: quiet, ...tls() });
    await producer.start();
    closers.push(producer);
    const sent = new Set<string>();
    for (let i = 0; i < 10; i++) {
      const r = await producer.send(new Message(topic, Buffer.from(`tls-${i}`)));
      expect(r.sendStatus).toBe('SEND_OK');
      sent.add(`tls-${i}`);
    }

    const got = new Set<string>();
    const consumer = new PushConsumer({
      group: `CG_TLS_${process.pid}`,
      namesrvAddr: c.namesrvAddr,
      logger: quiet,
      consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
      ...tls(),
    });
    closers.push(consumer);
    consumer.subscribe(topic, '*');
    consumer.registerMessageListener((msgs) => {
      for (const m of msgs) got.add(m.body.toString());
      return 'CONSUME_SUCCESS';
    });
    await consumer.start();
    await waitFor(() => got.size === sent.size, { timeoutMs: 20_000, message: 'all 10 messages consumed over TLS' });
    expect([...got].sort()).toEqual([...sent].sort());
  });

  it('a broker without tls.enable cannot register with the TLS-only name server', async () => {
    const plain = await c.addBroker('broker-plain', { 'tls.enable': false });
    await plain.process.waitForOutput(/registered with 0 of 1 name servers/, 15_000);
    const admin = new MQAdmin({ namesrvAddr: c.namesrvAddr, logger: quiet, ...tls() });
    closers.push(admin);
    expect((await admin.clusterInfo()).brokerAddrTable.has('broker-plain')).toBe(false);
  });

  it('a plaintext producer cannot reach the cluster', async () => {
    const producer = new Producer({ group: `PG_PLAIN_${process.pid}`, namesrvAddr: c.namesrvAddr, logger: quiet, mqClientApiTimeoutMs: 1000 });
    await producer.start();
    closers.push(producer);
    await expect(producer.send(new Message(`TLS_TOPIC_${process.pid}`, Buffer.from('x')))).rejects.toThrow();
  });
});
