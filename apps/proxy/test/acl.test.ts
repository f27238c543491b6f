// ACL 1.0 through the proxy: the official 5.x client (rocketmq-client-nodejs) with good and bad
// sessionCredentials against a proxy, broker and name server that all have aclEnable. The proxy
// and the broker reach the others with their own (admin) account.
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { makeTempDir, type TestCluster } from '@rocketmq-ts/testing';
import { Producer, SimpleConsumer } from 'rocketmq-client-nodejs';
import { MQAdmin, RawGrpc, createTopic, join, quietLogger, startCluster, startProxy, uniqueName, type ProxyHandle } from './harness.js';

const ADMIN = { accessKey: 'admin123', secretKey: 'admin-secret' };
const USER = { accessKey: 'user1234', accessSecret: 'user-secret' };
const TOPIC = uniqueName('ACL_PX');
const SUB_ONLY = uniqueName('ACL_PX_SUB');

const YAML = [
  'accounts:',
  '  - accessKey: user1234',
  '    secretKey: user-secret',
  '    defaultTopicPerm: DENY',
  '    defaultGroupPerm: SUB',
  '    topicPerms:',
  `      - ${TOPIC}=PUB|SUB`,
  `      - ${SUB_ONLY}=SUB`,
  '  - accessKey: admin123',
  '    secretKey: admin-secret',
  '    admin: true',
  '',
].join('\n');

let c: TestCluster;
let proxy: ProxyHandle;
let admin: MQAdmin;
const logger = quietLogger();
const closers: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  const dir = makeTempDir('acl-proxy');
  const aclFilePath = join(dir, 'plain_acl.yml');
  writeFileSync(aclFilePath, YAML);
  const inner = JSON.stringify(ADMIN);
  c = await startCluster('acl-proxy', {
    namesrv: { aclEnable: true, aclFilePath },
    broker: { aclEnable: true, aclFilePath, innerClientAuthenticationCredentials: inner },
  });
  proxy = await startProxy(c, 'proxy-acl', { aclEnable: true, aclFilePath, innerClientAuthenticationCredentials: inner });
  admin = new MQAdmin({ namesrvAddr: c.namesrvAddr, ...ADMIN });
  await createTopic(admin, c, TOPIC, 2);
  await createTopic(admin, c, SUB_ONLY, 2);
});

afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
  await admin?.shutdown();
  await proxy?.process.stop('SIGTERM', 5000);
  await c?.stop();
});

async function producer(topics: string[], sessionCredentials?: { accessKey: string; accessSecret: string }): Promise<Producer> {
  const p = new Producer({
    endpoints: proxy.endpoints,
    namespace: '',
    topics,
    logger,
    requestTimeout: 3000,
    ...(sessionCredentials ? { sessionCredentials } : {}),
  });
  closers.push(() => p.shutdown());
  await p.startup();
  return p;
}

/** The v2 code in an error or its causes (startup wraps the route failure twice). */
async function failureCode(p: Promise<unknown>): Promise<number | undefined> {
  try {
    await p;
  } catch (e) {
    for (let x: unknown = e; x !== undefined && x !== null; x = (x as { cause?: unknown }).cause) {
      const code = (x as { code?: unknown }).code;
      if (typeof code === 'number') return code;
    }
    throw e;
  }
  return undefined;
}

describe('proxy with aclEnable and the official 5.x client', () => {
  it('sends and receives with good credentials', async () => {
    const p = await producer([TOPIC], USER);
    const r = await p.send({ topic: TOPIC, body: Buffer.from('acl hello'), tag: 'T' });
    expect(r.messageId).toBeTruthy();
    const sc = new SimpleConsumer({
      endpoints: proxy.endpoints,
      namespace: '',
      consumerGroup: uniqueName('G_ACL'),
      subscriptions: new Map([[TOPIC, '*']]),
      awaitDuration: 3000,
      logger,
      sessionCredentials: USER,
    });
    closers.push(() => sc.shutdown());
    await sc.startup();
    // The group was made at the first pop: what was sent before is read from the start.
    let got = '';
    const deadline = Date.now() + 20_000;
    while (got === '' && Date.now() < deadline) {
      const p2 = await producer([TOPIC], USER);
      await p2.send({ topic: TOPIC, body: Buffer.from('acl again'), tag: 'T' });
      for (const m of await sc.receive(16, 15_000)) {
        got = m.body.toString();
        await sc.ack(m);
      }
    }
    expect(got).toMatch(/^acl (hello|again)$/);
  });

  it('answers UNAUTHORIZED (40100) to a wrong secret and to no credentials', async () => {
    expect(await failureCode(producer([TOPIC], { accessKey: USER.accessKey, accessSecret: 'wrong-secret' }))).toBe(40100);
    expect(await failureCode(producer([TOPIC]))).toBe(40100);
    expect(await failureCode(producer([TOPIC], { accessKey: 'nobody99', accessSecret: 'whatever1' }))).toBe(40100);
  });

  it('answers FORBIDDEN (40300) to a send without PUB on the topic', async () => {
    const p = await producer([SUB_ONLY], USER);
    expect(await failureCode(p.send({ topic: SUB_ONLY, body: Buffer.from('x') }))).toBe(40300);
  });

  it('checks raw calls too: an unsigned QueryRoute is refused', async () => {
    const raw = new RawGrpc(proxy.endpoints);
    try {
      const res = await raw.unary<{ status: { code: number } }>('QueryRoute', {
        topic: { name: TOPIC },
        endpoints: { scheme: 1, addresses: [{ host: '127.0.0.1', port: proxy.grpcPort }] },
      });
      expect(res.status.code).toBe(40100);
    } finally {
      raw.close();
    }
  });
});
