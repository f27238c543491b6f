// ACL 1.0 end to end: a broker and a name server with aclEnable, plain_acl.yml in a temp dir,
// requests signed (or not) as RocketMQ clients sign them.
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RequestCode, ResponseCode, type RemotingCommand } from '@rocketmq-ts/protocol';
import { makeTempDir, removeTempDirs, stopAllProcesses, waitFor } from '@rocketmq-ts/testing';
import { JavaClient, startBroker, startNamesrv, type BrokerHandle } from './harness.js';

const PRODUCER = { accessKey: 'producer1', secretKey: 'producer-secret' };
const ADMIN = { accessKey: 'admin123', secretKey: 'admin-secret' };

function aclYaml(o: { denyTopic?: string; globalWhite?: string[] } = {}): string {
  return [
    'globalWhiteRemoteAddresses:',
    ...(o.globalWhite ?? []).map((a) => `  - ${a}`),
    'accounts:',
    '  - accessKey: producer1',
    '    secretKey: producer-secret',
    '    admin: false',
    '    defaultTopicPerm: DENY',
    '    defaultGroupPerm: SUB',
    '    topicPerms:',
    '      - ACL_PUB=PUB',
    '      - ACL_SUB=SUB',
    '      - ACL_BOTH=PUB|SUB',
    `      - ACL_DENY=${o.denyTopic ?? 'DENY'}`,
    '    groupPerms:',
    '      - CG_DENIED=DENY',
    '  - accessKey: admin123',
    '    secretKey: admin-secret',
    '    admin: true',
    '  - accessKey: local-white',
    '    secretKey: not-used-secret',
    '    whiteRemoteAddress: 127.0.0.1',
    '    defaultTopicPerm: DENY',
    '',
  ].join('\n');
}

let dir: string;
let aclPath: string;
let broker: BrokerHandle;
let namesrv: { addr: string };
let producer: JavaClient;
let admin: JavaClient;
let unsigned: JavaClient;

/** Replaces the file in one step (a reader never sees half of it). */
function writeAcl(text: string): void {
  const tmp = `${aclPath}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, aclPath);
}

function expectRefused(res: RemotingCommand, why: RegExp): void {
  expect(res.code).toBe(ResponseCode.SYSTEM_ERROR);
  expect(res.remark).toMatch(/^AclException: /);
  expect(res.remark).toMatch(why);
}

async function maxOffset(topic: string): Promise<string | undefined> {
  const r = await admin.call(RequestCode.GET_MAX_OFFSET, { topic, queueId: '0' });
  expect(r.code).toBe(ResponseCode.SUCCESS);
  return r.ext('offset');
}

beforeAll(async () => {
  dir = makeTempDir('acl');
  aclPath = join(dir, 'plain_acl.yml');
  writeAcl(aclYaml());
  namesrv = await startNamesrv(undefined, { aclEnable: true, aclFilePath: aclPath });
  broker = await startBroker({
    aclEnable: true,
    aclFilePath: aclPath,
    namesrvAddr: namesrv.addr,
    innerClientAuthenticationCredentials: JSON.stringify(ADMIN),
  });
  producer = new JavaClient(broker.addr, { credentials: PRODUCER });
  admin = new JavaClient(broker.addr, { credentials: ADMIN });
  unsigned = new JavaClient(broker.addr);
  for (const t of ['ACL_PUB', 'ACL_SUB', 'ACL_BOTH', 'ACL_DENY']) expect((await admin.createTopic(t, 1)).code).toBe(ResponseCode.SUCCESS);
});

afterAll(async () => {
  producer?.close();
  admin?.close();
  unsigned?.close();
  await stopAllProcesses();
  removeTempDirs();
});

describe('broker with aclEnable', () => {
  it('stores a signed send to a topic the account may publish to', async () => {
    const res = await producer.send('ACL_PUB', 'signed', { queueId: 0 });
    expect(res.code).toBe(ResponseCode.SUCCESS);
    expect(await maxOffset('ACL_PUB')).toBe('1');
  });

  it('refuses unsigned, badly signed and unknown-key sends with SYSTEM_ERROR and stores nothing', async () => {
    expectRefused(await unsigned.send('ACL_BOTH', 'x', { queueId: 0 }), /No accessKey/);
    const wrong = new JavaClient(broker.addr, { credentials: { accessKey: 'producer1', secretKey: 'not-the-secret' } });
    const stranger = new JavaClient(broker.addr, { credentials: { accessKey: 'stranger', secretKey: 'whatever-secret' } });
    try {
      expectRefused(await wrong.send('ACL_BOTH', 'x', { queueId: 0 }), /signature/);
      expectRefused(await stranger.send('ACL_BOTH', 'x', { queueId: 0 }), /No acl config for stranger/);
    } finally {
      wrong.close();
      stranger.close();
    }
    expect(await maxOffset('ACL_BOTH')).toBe('0');
  });

  it('refuses a DENY topic and a topic with no permission (default DENY)', async () => {
    expectRefused(await producer.send('ACL_DENY', 'x', { queueId: 0 }), /ACL_DENY/);
    expectRefused(await producer.send('ACL_OTHER', 'x', { queueId: 0 }), /No default permission for topic ACL_OTHER/);
    expect(await maxOffset('ACL_DENY')).toBe('0');
  });

  it('tells PUB from SUB: no send to a SUB topic, no pull from a PUB topic, group permissions apply', async () => {
    expectRefused(await producer.send('ACL_SUB', 'x', { queueId: 0 }), /ACL_SUB/);
    const pullSub = await producer.pull({ group: 'CG_ACL', topic: 'ACL_SUB', offset: 0, sysFlag: 0 });
    expect(pullSub.code).not.toBe(ResponseCode.SYSTEM_ERROR);
    expectRefused(await producer.pull({ group: 'CG_ACL', topic: 'ACL_PUB', offset: 0, sysFlag: 0 }), /ACL_PUB/);
    expectRefused(await producer.pull({ group: 'CG_DENIED', topic: 'ACL_SUB', offset: 0, sysFlag: 0 }), /group CG_DENIED/);
    const both = await producer.pull({ group: 'CG_ACL', topic: 'ACL_BOTH', offset: 0, sysFlag: 0 });
    expect(both.code).not.toBe(ResponseCode.SYSTEM_ERROR);
    const offsets = await producer.call(RequestCode.QUERY_CONSUMER_OFFSET, { consumerGroup: 'CG_DENIED', topic: 'ACL_SUB', queueId: '0' });
    expectRefused(offsets, /CG_DENIED/);
  });

  it("GET_BROKER_CONFIG does not show the broker's own secret", async () => {
    const r = await producer.call(RequestCode.GET_BROKER_CONFIG, null);
    expect(r.code).toBe(ResponseCode.SUCCESS);
    const text = r.body!.toString();
    expect(text).toContain('aclEnable=true');
    expect(text).toContain('innerClientAuthenticationCredentials=***');
    expect(text).not.toContain(ADMIN.secretKey);
  });

  it('admin request codes need an admin account', async () => {
    expectRefused(await producer.createTopic('ACL_NEW', 1), /Need admin permission/);
    expectRefused(await producer.call(RequestCode.UPDATE_BROKER_CONFIG, null, Buffer.from('autoCreateTopicEnable=false\n')), /admin/);
    expect((await admin.createTopic('ACL_NEW', 1)).code).toBe(ResponseCode.SUCCESS);
  });

  it('an account whitelisted for 127.0.0.1 needs no signature (and no permissions)', async () => {
    const white = await unsigned.call(RequestCode.GET_MAX_OFFSET, { topic: 'ACL_PUB', queueId: '0', AccessKey: 'local-white' });
    expect(white.code).toBe(ResponseCode.SUCCESS);
    const send = await unsigned.sendRaw('ACL_DENY', Buffer.from('white'), '', { queueId: 0 });
    expectRefused(send, /No accessKey/);
  });

  it('reloads the file while running: permissions flip, a global white address applies, a broken file keeps the rules', async () => {
    writeAcl(aclYaml({ denyTopic: 'PUB' }));
    await waitFor(async () => (await producer.send('ACL_DENY', 'now allowed', { queueId: 0 })).code === ResponseCode.SUCCESS, {
      timeoutMs: 10_000,
      intervalMs: 200,
    });
    writeAcl(aclYaml({ denyTopic: 'PUB', globalWhite: ['127.0.0.1'] }));
    await waitFor(async () => (await unsigned.send('ACL_BOTH', 'white', { queueId: 0 })).code === ResponseCode.SUCCESS, { timeoutMs: 10_000, intervalMs: 200 });
    writeAcl('accounts: [ {\n');
    // Give the watcher several polls: the broken file must not replace the rules.
    await new Promise((r) => setTimeout(r, 1_500));
    expect((await unsigned.send('ACL_BOTH', 'still white', { queueId: 0 })).code).toBe(ResponseCode.SUCCESS);
    writeAcl(aclYaml());
    await waitFor(async () => (await unsigned.send('ACL_BOTH', 'x', { queueId: 0 })).code === ResponseCode.SYSTEM_ERROR, {
      timeoutMs: 10_000,
      intervalMs: 200,
    });
    expectRefused(await producer.send('ACL_DENY', 'x', { queueId: 0 }), /ACL_DENY/);
  });
});

describe('slave of an ACL master', () => {
  it('copies the master metadata, signing with its own account', async () => {
    const slave = await startBroker(
      {
        brokerRole: 'SLAVE',
        brokerId: 1,
        aclEnable: true,
        aclFilePath: aclPath,
        namesrvAddr: namesrv.addr,
        innerClientAuthenticationCredentials: JSON.stringify(ADMIN),
      },
      { name: 'acl-slave' },
    );
    const sc = new JavaClient(slave.addr, { credentials: ADMIN });
    try {
      await waitFor(
        async () => {
          const r = await sc.call(RequestCode.GET_ALL_TOPIC_CONFIG, null);
          return r.code === ResponseCode.SUCCESS && r.body!.toString().includes('ACL_NEW');
        },
        { timeoutMs: 20_000, intervalMs: 300, message: 'topics copied to the slave' },
      );
    } finally {
      sc.close();
      await slave.stop();
    }
  });
});

describe('name server with aclEnable', () => {
  it('has the broker registered (it signs with innerClientAuthenticationCredentials, an admin account)', async () => {
    const ns = new JavaClient(namesrv.addr, { credentials: PRODUCER });
    try {
      await waitFor(async () => (await ns.call(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic: 'ACL_PUB' })).code === ResponseCode.SUCCESS, {
        timeoutMs: 15_000,
        intervalMs: 300,
      });
      const route = await ns.call(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic: 'ACL_PUB' });
      expect(route.body!.toString()).toContain(broker.addr);
    } finally {
      ns.close();
    }
  });

  it('refuses unsigned requests and admin codes from non-admin accounts', async () => {
    const anon = new JavaClient(namesrv.addr);
    const user = new JavaClient(namesrv.addr, { credentials: PRODUCER });
    const root = new JavaClient(namesrv.addr, { credentials: ADMIN });
    try {
      expectRefused(await anon.call(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic: 'ACL_PUB' }), /No accessKey/);
      const kv = { namespace: 'ACL_NS', key: 'k', value: 'v' };
      expectRefused(await user.call(RequestCode.PUT_KV_CONFIG, kv), /Need admin permission/);
      expectRefused(await user.call(RequestCode.DELETE_TOPIC_IN_NAMESRV, { topic: 'ACL_PUB' }), /Need admin permission/);
      expect((await root.call(RequestCode.PUT_KV_CONFIG, kv)).code).toBe(ResponseCode.SUCCESS);
      const got = await user.call(RequestCode.GET_KV_CONFIG, { namespace: 'ACL_NS', key: 'k' });
      expect(got.code).toBe(ResponseCode.SUCCESS);
      expect(got.ext('value')).toBe('v');
    } finally {
      anon.close();
      user.close();
      root.close();
    }
  });
});
