// gRPC over TLS: the official 5.x client with sslEnabled, in its own process (it trusts the test
// CA through GRPC_DEFAULT_SSL_ROOTS_FILE_PATH), through a TLS-enforcing proxy that itself reaches a
// TLS-enforcing name server and broker over TLS.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { makeTempDir, makeTestCertificates, removeTempDirs, repoRoot, type TestCertificates, type TestCluster } from '@rocketmq-ts/testing';
import { MQAdmin, RawGrpc, createTopic, startCluster, startProxy, uniqueName, type ProxyHandle } from './harness.js';

let c: TestCluster;
let proxy: ProxyHandle;
let admin: MQAdmin;
let certs: TestCertificates;

beforeAll(async () => {
  certs = makeTestCertificates(makeTempDir('rmqts-proxy-tls-'));
  const server = { 'tls.server.mode': 'enforcing', 'tls.server.certPath': certs.serverCert, 'tls.server.keyPath': certs.serverKey };
  const client = { 'tls.enable': true, 'tls.client.trustCertPath': certs.caCert };
  c = await startCluster('proxy-tls', { namesrv: server, broker: { ...server, ...client } });
  proxy = await startProxy(c, 'proxy-tls', { 'tls.server.mode': 'enforcing', tlsCertPath: certs.serverCert, tlsKeyPath: certs.serverKey, ...client });
  admin = new MQAdmin({ namesrvAddr: c.namesrvAddr, useTLS: true, tls: { trustCertPath: certs.caCert } });
});

afterAll(async () => {
  await admin?.shutdown();
  await proxy?.process.stop('SIGTERM', 5000);
  await c?.stop();
  removeTempDirs();
});

describe('proxy gRPC over TLS', () => {
  it('the official client with sslEnabled sends and receives one message', async () => {
    const topic = uniqueName('T_TLS');
    await createTopic(admin, c, topic);
    const script = join(repoRoot(), 'apps', 'proxy', 'test', 'fixtures', 'official-tls-client.mjs');
    const { stdout } = await promisify(execFile)(process.execPath, [script, proxy.endpoints, topic, uniqueName('G_TLS')], {
      timeout: 60_000,
      env: { ...process.env, GRPC_DEFAULT_SSL_ROOTS_FILE_PATH: certs.caCert },
    });
    const r = JSON.parse(stdout) as { messageId: string; received: string[]; errors: string[] };
    expect(r.messageId).toMatch(/^[0-9A-F]+$/);
    expect(r.received).toEqual(['over TLS']);
  }, 90_000);

  it('a plaintext gRPC client gets no answer', async () => {
    const raw = new RawGrpc(proxy.endpoints);
    try {
      await expect(raw.unary('QueryRoute', { topic: { name: 'TBW102' } }, 3000)).rejects.toThrow();
    } finally {
      raw.close();
    }
  });
});
