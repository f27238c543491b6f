// ACL 1.0 from the SDK side: mqadmin with --accessKey/--secretKey (and the env variables), and a
// producer and a push consumer with keys, against a name server and broker with aclEnable.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { makeTempDir, startCluster, waitFor, type TestCluster } from '@rocketmq-ts/testing';
import { Message, MQError, Producer, PushConsumer, TransactionProducer, TransactionState, resolveCredentials, type ClientLogger } from '@rocketmq-ts/client';
import { runCli } from '../src/index.js';

const quiet: ClientLogger = { log: () => undefined };
const ADMIN = { accessKey: 'admin123', secretKey: 'admin-secret' };
const USER = { accessKey: 'user1234', secretKey: 'user-secret' };
let c: TestCluster;
const closers: Array<{ shutdown(): Promise<void> }> = [];
let n = 0;
const uniq = (p: string): string => `${p}_${process.pid}_${++n}`;
const TOPIC = uniq('ACL_SDK');

beforeAll(async () => {
  const dir = makeTempDir('acl-sdk');
  const aclFilePath = join(dir, 'plain_acl.yml');
  writeFileSync(
    aclFilePath,
    [
      'accounts:',
      '  - accessKey: user1234',
      '    secretKey: user-secret',
      '    defaultTopicPerm: DENY',
      '    defaultGroupPerm: SUB',
      '    topicPerms:',
      `      - ${TOPIC}=PUB|SUB`,
      '  - accessKey: admin123',
      '    secretKey: admin-secret',
      '    admin: true',
      '',
    ].join('\n'),
  );
  c = await startCluster('acl-sdk', {
    namesrv: { aclEnable: true, aclFilePath },
    broker: {
      aclEnable: true,
      aclFilePath,
      innerClientAuthenticationCredentials: JSON.stringify(ADMIN),
      transactionTimeOut: 1000,
      transactionCheckInterval: 500,
    },
  });
});

afterAll(async () => {
  for (const k of closers.reverse()) await k.shutdown().catch(() => undefined);
  await c?.stop();
});

async function mq(env: Record<string, string>, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli([...args, '-n', c.namesrvAddr], { out: (s) => (out += s), err: (s) => (err += s), env });
  return { code, out, err };
}

describe('mqadmin with ACL', () => {
  it('creates a topic with an admin account given by flags; refuses without keys and for a non-admin account', async () => {
    const none = await mq({}, 'updateTopic', '-c', 'TestCluster', '-t', TOPIC);
    expect(none.code).toBe(1);
    expect(none.err).toMatch(/AclException/);
    const user = await mq({}, 'updateTopic', '-c', 'TestCluster', '-t', TOPIC, '--accessKey', USER.accessKey, '--secretKey', USER.secretKey);
    expect(user.code).toBe(1);
    expect(user.err).toMatch(/Need admin permission/);
    const ok = await mq(
      {},
      'updateTopic',
      '-c',
      'TestCluster',
      '-t',
      TOPIC,
      '-r',
      '2',
      '-w',
      '2',
      '--accessKey',
      ADMIN.accessKey,
      '--secretKey',
      ADMIN.secretKey,
    );
    expect(ok.code).toBe(0);
    expect(ok.out).toContain(`create topic to ${c.brokerAddr} success.`);
  });

  it('takes the keys from ROCKETMQ_ACCESS_KEY / ROCKETMQ_SECRET_KEY', async () => {
    const env = { ROCKETMQ_ACCESS_KEY: ADMIN.accessKey, ROCKETMQ_SECRET_KEY: ADMIN.secretKey };
    await waitFor(async () => (await mq(env, 'topicList')).out.includes(TOPIC), { timeoutMs: 10_000, message: 'topic listed' });
    expect((await mq(env, 'topicRoute', '-t', TOPIC)).code).toBe(0);
    expect((await mq({ ROCKETMQ_ACCESS_KEY: 'x' }, 'topicList')).err).toMatch(/both/);
  });
});

describe('SDK with ACL', () => {
  it('resolves keys from options first, then the environment', () => {
    expect(resolveCredentials({}, {})).toBeUndefined();
    expect(resolveCredentials({ accessKey: 'a' }, {})).toBeUndefined();
    expect(resolveCredentials({}, { ROCKETMQ_ACCESS_KEY: 'ak', ROCKETMQ_SECRET_KEY: 'sk', ROCKETMQ_SECURITY_TOKEN: 't' })).toEqual({
      accessKey: 'ak',
      secretKey: 'sk',
      securityToken: 't',
    });
    expect(resolveCredentials({ accessKey: 'o', secretKey: 's' }, { ROCKETMQ_ACCESS_KEY: 'ak', ROCKETMQ_SECRET_KEY: 'sk' })?.accessKey).toBe('o');
  });

  it('a producer and a push consumer with keys send and consume; without keys the send is refused', async () => {
    const p = new Producer({ group: uniq('PG_ACL'), namesrvAddr: c.namesrvAddr, logger: quiet, ...USER });
    closers.push(p);
    await p.start();
    for (let i = 0; i < 3; i++) await p.send(new Message(TOPIC, Buffer.from(`acl${i}`)));

    const got: string[] = [];
    const k = new PushConsumer({
      group: uniq('CG_ACL'),
      namesrvAddr: c.namesrvAddr,
      logger: quiet,
      consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
      brokerSuspendMaxTimeMillis: 1000,
      ...USER,
    });
    closers.push(k);
    k.subscribe(TOPIC, '*');
    k.registerMessageListener((msgs) => {
      for (const m of msgs) got.push(m.body.toString());
      return 'CONSUME_SUCCESS';
    });
    await k.start();
    await waitFor(() => got.length >= 3, { timeoutMs: 15_000, message: 'three messages consumed' });
    expect(got.sort()).toEqual(['acl0', 'acl1', 'acl2']);

    const anon = new Producer({ group: uniq('PG_ANON'), namesrvAddr: c.namesrvAddr, logger: quiet, mqClientApiTimeoutMs: 2000 });
    closers.push(anon);
    await anon.start();
    await expect(anon.send(new Message(TOPIC, Buffer.from('x')))).rejects.toBeInstanceOf(Error);
    const wrong = new Producer({ group: uniq('PG_WRONG'), namesrvAddr: c.namesrvAddr, logger: quiet, accessKey: USER.accessKey, secretKey: 'not-it' });
    closers.push(wrong);
    await wrong.start();
    await expect(wrong.send(new Message(TOPIC, Buffer.from('x')))).rejects.toBeInstanceOf(MQError);
  });

  it('a transaction settled by a check-back: the END_TRANSACTION written on the broker connection is signed too', async () => {
    let checks = 0;
    const p = new TransactionProducer({
      group: uniq('PG_TX_ACL'),
      namesrvAddr: c.namesrvAddr,
      logger: quiet,
      ...USER,
      checker: () => {
        checks++;
        return TransactionState.COMMIT;
      },
    });
    closers.push(p);
    await p.start();
    const r = await p.sendInTransaction(new Message(TOPIC, Buffer.from('tx-acl')), () => TransactionState.UNKNOWN);
    expect(r.localTransactionState).toBe('UNKNOWN');
    const got: string[] = [];
    const k = new PushConsumer({
      group: uniq('CG_TX_ACL'),
      namesrvAddr: c.namesrvAddr,
      logger: quiet,
      consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
      brokerSuspendMaxTimeMillis: 1000,
      ...USER,
    });
    closers.push(k);
    k.subscribe(TOPIC, '*');
    k.registerMessageListener((msgs) => {
      for (const m of msgs) got.push(m.body.toString());
      return 'CONSUME_SUCCESS';
    });
    await k.start();
    await waitFor(() => got.includes('tx-acl'), { timeoutMs: 20_000, message: 'committed by check-back' });
    expect(checks).toBeGreaterThanOrEqual(1);
  });
});
