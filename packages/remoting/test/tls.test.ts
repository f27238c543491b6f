import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { connect as netConnect } from 'node:net';
import { MQError, RemotingCommand, ResponseCode } from '@rocketmq-ts/protocol';
import { RemotingClient, TlsConfigError, type TlsClientOptions, type TlsServerOptions } from '../src/index.js';
import { RemotingServer } from '../src/nest/index.js';
import { makeTempDir, makeTestCertificates, removeTempDirs, type TestCertificates } from '@rocketmq-ts/testing';

const ECHO = 1000;
let certs: TestCertificates;
const servers: RemotingServer[] = [];
const clients: RemotingClient[] = [];

async function startServer(tls: Omit<TlsServerOptions, 'certPath' | 'keyPath'> & Partial<TlsServerOptions>): Promise<RemotingServer> {
  const s = new RemotingServer({ port: 0, host: '127.0.0.1', tls: { certPath: certs.serverCert, keyPath: certs.serverKey, ...tls } });
  s.registerHandler(ECHO, (cmd) => RemotingCommand.responseTo(cmd, ResponseCode.SUCCESS, null, { echoed: cmd.ext('say') ?? '' }));
  await s.start();
  servers.push(s);
  return s;
}

function client(tls?: TlsClientOptions): RemotingClient {
  const c = new RemotingClient({ connectTimeoutMs: 2000, ...(tls ? { tls } : {}) });
  clients.push(c);
  return c;
}

const trusting = (): TlsClientOptions => ({ trustCertPath: certs.caCert });

async function echo(c: RemotingClient, s: RemotingServer, host = '127.0.0.1'): Promise<string | undefined> {
  const res = await c.invoke(`${host}:${s.port}`, RemotingCommand.request(ECHO, { say: 'hi' }), 3000);
  return res.ext('echoed');
}

beforeAll(() => {
  jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  certs = makeTestCertificates(makeTempDir('rmqts-tls-'));
});

afterAll(async () => {
  for (const c of clients) c.close();
  await Promise.all(servers.map((s) => s.close()));
  removeTempDirs();
});

describe('tls.server.mode=permissive', () => {
  it('serves plaintext and TLS clients on one port', async () => {
    const s = await startServer({ mode: 'permissive' });
    expect(s.tlsMode).toBe('permissive');
    await expect(echo(client(), s)).resolves.toBe('hi');
    await expect(echo(client(trusting()), s)).resolves.toBe('hi');
    await expect(echo(client(trusting()), s, 'localhost')).resolves.toBe('hi');
    expect(s.connectionCount).toBe(3);
  });

  it('many calls on one TLS connection keep their order and answers', async () => {
    const s = await startServer({ mode: 'permissive' });
    const c = client(trusting());
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) => c.invoke(`127.0.0.1:${s.port}`, RemotingCommand.request(ECHO, { say: `m${i}` }), 5000)),
    );
    expect(answers.map((a) => a.ext('echoed'))).toEqual(Array.from({ length: 200 }, (_, i) => `m${i}`));
  });

  it('closes a connection that sends nothing within the handshake timeout', async () => {
    const s = await startServer({ mode: 'permissive', handshakeTimeoutMs: 200 });
    const sock = netConnect({ host: '127.0.0.1', port: s.port });
    const closed = await new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), 3000);
      sock.on('close', () => {
        clearTimeout(t);
        resolve(true);
      });
      sock.on('error', () => undefined);
    });
    sock.destroy();
    expect(closed).toBe(true);
  });
});

describe('tls.server.mode=enforcing', () => {
  it('closes plaintext connections and serves TLS ones', async () => {
    const s = await startServer({ mode: 'enforcing' });
    const e = await echo(client(), s).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(MQError);
    expect((e as MQError).code).toBe(ResponseCode.RPC_SEND_TO_CHANNEL_FAILED);
    await expect(echo(client(trusting()), s)).resolves.toBe('hi');
  });

  it('refuses to start without a certificate', () => {
    expect(() => new RemotingServer({ port: 0, tls: { mode: 'enforcing' } })).toThrow(TlsConfigError);
  });
});

describe('tls.server.mode=disabled', () => {
  it('serves plaintext and fails TLS handshakes', async () => {
    const s = await startServer({ mode: 'disabled' });
    expect(s.tlsMode).toBe('disabled');
    await expect(echo(client(), s)).resolves.toBe('hi');
    await expect(echo(client(trusting()), s)).rejects.toBeInstanceOf(MQError);
  });
});

describe('client verification of the server', () => {
  it('fails against a CA that did not sign the server certificate', async () => {
    const s = await startServer({ mode: 'enforcing' });
    const e = await echo(client({ trustCertPath: certs.otherCaCert }), s).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(MQError);
    expect((e as MQError).message).toMatch(/certificate/i);
    // Node's default roots do not know the test CA either.
    await expect(echo(client({}), s)).rejects.toBeInstanceOf(MQError);
  });

  it('test mode and authServer=false skip verification', async () => {
    const s = await startServer({ mode: 'enforcing' });
    await expect(echo(client({ testMode: true }), s)).resolves.toBe('hi');
    await expect(echo(client({ authServer: false, trustCertPath: certs.otherCaCert }), s)).resolves.toBe('hi');
  });

  it('checks the name in the certificate unless told not to', async () => {
    // Signed by the CA but naming neither localhost nor 127.0.0.1.
    const s = await startServer({ mode: 'enforcing', certPath: certs.wrongNameCert, keyPath: certs.wrongNameKey });
    const e = await echo(client(trusting()), s).catch((x: unknown) => x);
    expect((e as MQError).message).toMatch(/altnames|does not match/i);
    await expect(echo(client({ ...trusting(), checkHostname: false }), s)).resolves.toBe('hi');
  });

  it('a missing CA file fails at construction', () => {
    expect(() => new RemotingClient({ tls: { trustCertPath: `${certs.dir}/nope.crt` } })).toThrow(TlsConfigError);
  });
});

describe('mutual TLS', () => {
  it('needClientAuth=require refuses a client without a certificate and serves one with', async () => {
    const s = await startServer({ mode: 'enforcing', needClientAuth: 'require', trustCertPath: certs.caCert });
    await expect(echo(client(trusting()), s)).rejects.toBeInstanceOf(MQError);
    await expect(echo(client({ ...trusting(), certPath: certs.clientCert, keyPath: certs.clientKey }), s)).resolves.toBe('hi');
  });

  it('refuses a client certificate its trusted CA did not sign, unless authClient=false', async () => {
    const strict = await startServer({ mode: 'enforcing', needClientAuth: 'require', trustCertPath: certs.otherCaCert });
    const withCert = (): TlsClientOptions => ({ ...trusting(), certPath: certs.clientCert, keyPath: certs.clientKey });
    await expect(echo(client(withCert()), strict)).rejects.toBeInstanceOf(MQError);
    const lax = await startServer({ mode: 'enforcing', needClientAuth: 'require', trustCertPath: certs.otherCaCert, authClient: false });
    await expect(echo(client(withCert()), lax)).resolves.toBe('hi');
    await expect(echo(client(trusting()), lax)).rejects.toBeInstanceOf(MQError);
  });

  it('needClientAuth=optional serves clients with and without a certificate', async () => {
    const s = await startServer({ mode: 'permissive', needClientAuth: 'optional', trustCertPath: certs.caCert });
    await expect(echo(client(trusting()), s)).resolves.toBe('hi');
    await expect(echo(client({ ...trusting(), certPath: certs.clientCert, keyPath: certs.clientKey }), s)).resolves.toBe('hi');
    await expect(echo(client(), s)).resolves.toBe('hi');
  });
});
