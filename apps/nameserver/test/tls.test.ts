// Start-up with TLS settings: a clear refusal when enforcing has no certificate, and a name server
// whose port serves TLS and plaintext clients side by side in permissive mode.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RemotingCommand, RequestCode, ResponseCode } from '@rocketmq-ts/protocol';
import { RemotingClient } from '@rocketmq-ts/remoting';
import { appMain, freePort, makeTempDir, makeTestCertificates, removeTempDirs, startNode, type NodeProcess, type TestCertificates } from '@rocketmq-ts/testing';

let certs: TestCertificates;
let dir: string;
let ns: NodeProcess | undefined;
const clients: RemotingClient[] = [];

beforeAll(() => {
  dir = makeTempDir('rmqts-ns-tls-');
  certs = makeTestCertificates(dir);
});

afterAll(async () => {
  for (const c of clients) c.close();
  await ns?.stop('SIGTERM', 5000);
  removeTempDirs();
});

async function run(args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [appMain('nameserver'), ...args], {
      timeout: 20_000,
      env: { ...process.env, HOME: dir },
    });
    return { code: 0, out: stdout + stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: x.code ?? -1, out: `${x.stdout ?? ''}${x.stderr ?? ''}` };
  }
}

describe('name server TLS settings', () => {
  it('refuses to start enforcing TLS without a certificate, or with an unreadable one', async () => {
    const port = String(await freePort());
    const none = await run([`--listenPort=${port}`, '--metricsPromExporterPort=0', '--tls.server.mode=enforcing']);
    expect(none.code).toBe(1);
    expect(none.out).toContain('tls.server.mode=enforcing needs tls.server.certPath and tls.server.keyPath');
    const missing = await run([
      `--listenPort=${port}`,
      '--metricsPromExporterPort=0',
      '--tls.server.mode=enforcing',
      `--tls.server.certPath=${join(dir, 'nope.crt')}`,
      `--tls.server.keyPath=${certs.serverKey}`,
    ]);
    expect(missing.code).toBe(1);
    expect(missing.out).toContain('cannot read tls.server.certPath');
  });

  it('-p prints the TLS properties with the key password masked', async () => {
    const r = await run(['-p', '--tls.server.keyPassword=secret']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('tls.server.mode=permissive');
    expect(r.out).not.toContain('secret');
  });

  it('permissive with a certificate serves TLS and plaintext clients on the listen port', async () => {
    const port = await freePort();
    ns = await startNode(
      appMain('nameserver'),
      [
        `--listenPort=${port}`,
        '--bindAddress=127.0.0.1',
        '--metricsPromExporterPort=0',
        `--kvConfigPath=${join(dir, 'kv.json')}`,
        `--tls.server.certPath=${certs.serverCert}`,
        `--tls.server.keyPath=${certs.serverKey}`,
      ],
      { name: 'ns-tls', readyPattern: /name server started/, timeoutMs: 20_000, env: { HOME: dir } },
    );
    const tls = new RemotingClient({ tls: { trustCertPath: certs.caCert } });
    const plain = new RemotingClient();
    clients.push(tls, plain);
    for (const c of [tls, plain]) {
      const res = await c.invoke(`127.0.0.1:${port}`, RemotingCommand.request(RequestCode.GET_BROKER_CLUSTER_INFO), 3000);
      expect(res.code).toBe(ResponseCode.SUCCESS);
    }
  });
});
