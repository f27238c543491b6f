import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RemotingCommand, RequestCode, signRequest } from '@rocketmq-ts/protocol';
import { createLogger } from '../logger.js';
import { AclFile } from './acl-file.js';
import { BROKER_ADMIN_CODES, Perm, parsePerm, permits } from './permission.js';
import { AclConfigError, parsePlainAcl } from './plain-acl-config.js';
import { addressMatcher } from './remote-address.js';
import { PlainAclValidator, neededPerms } from './validator.js';

const YAML = `
globalWhiteRemoteAddresses:
  - 10.10.103.*
accounts:
  - accessKey: RocketMQ
    secretKey: 12345678
    whiteRemoteAddress:
    admin: false
    defaultTopicPerm: DENY
    defaultGroupPerm: SUB
    topicPerms:
      - topicA=DENY
      - topicB=PUB|SUB
      - topicC=SUB
    groupPerms:
      - groupA=DENY
      - groupB=PUB|SUB
  - accessKey: rocketmq2
    secretKey: "12345678"
    whiteRemoteAddress: 192.168.1.*
    admin: true
`;

describe('plain_acl.yml', () => {
  it('reads RocketMQ field names; numbers become text; groups are keyed by retry topic', () => {
    const r = parsePlainAcl(YAML);
    expect(r.globalWhiteRemoteAddresses).toHaveLength(1);
    const a = r.accounts.get('RocketMQ')!;
    expect(a.secretKey).toBe('12345678');
    expect(a.admin).toBe(false);
    expect(a.defaultTopicPerm).toBe(Perm.DENY);
    expect(a.defaultGroupPerm).toBe(Perm.SUB);
    expect(a.resourcePerms.get('topicB')).toBe(Perm.PUB | Perm.SUB);
    expect(a.resourcePerms.get('%RETRY%groupA')).toBe(Perm.DENY);
    expect(r.accounts.get('rocketmq2')!.admin).toBe(true);
    expect(parsePlainAcl('accounts:\n  - accessKey: abcdef\n    secretKey: 00123456\n').accounts.get('abcdef')!.secretKey).toBe('00123456');
  });

  it('refuses what it cannot use', () => {
    expect(() => parsePlainAcl('accounts: [')).toThrow(AclConfigError);
    expect(() => parsePlainAcl('accounts:\n  - accessKey: abc\n    secretKey: 12345678\n')).toThrow(/at least 6/);
    expect(() => parsePlainAcl('accounts:\n  - accessKey: abcdef\n    secretKey: 12345678\n    topicPerms: [nope]\n')).toThrow(/name=PERM/);
    expect(() => parsePlainAcl('globalWhiteRemoteAddresses: [1.2.3]\n')).toThrow(AclConfigError);
    expect(parsePlainAcl('').accounts.size).toBe(0);
  });
});

describe('permissions and addresses', () => {
  it('parses and checks permission bits as RocketMQ does', () => {
    expect(parsePerm('PUB|SUB')).toBe(Perm.PUB | Perm.SUB);
    expect(parsePerm('bogus')).toBe(Perm.DENY);
    expect(parsePerm(undefined)).toBe(Perm.DENY);
    expect(permits(Perm.PUB, Perm.PUB | Perm.SUB)).toBe(true);
    expect(permits(Perm.PUB, Perm.SUB)).toBe(false);
    expect(permits(Perm.ANY, Perm.SUB)).toBe(true);
    expect(permits(Perm.SUB, Perm.DENY | Perm.SUB)).toBe(false);
  });

  it('matches address patterns', () => {
    expect(addressMatcher('*')('1.2.3.4')).toBe(true);
    expect(addressMatcher('')('1.2.3.4')).toBe(false);
    expect(addressMatcher('127.0.0.1')('::ffff:127.0.0.1')).toBe(true);
    expect(addressMatcher('192.168.*.*')('192.168.9.1')).toBe(true);
    expect(addressMatcher('192.168.1-10.*')('192.168.11.1')).toBe(false);
    expect(addressMatcher('192.168.1-10.*')('192.168.10.1')).toBe(true);
    expect(addressMatcher('192.168.0.{1,2}')('192.168.0.2')).toBe(true);
    expect(addressMatcher('192.168.0.{1,2}')('192.168.0.3')).toBe(false);
    expect(() => addressMatcher('300.1.1.1')).toThrow();
  });
});

function send(topic: string, ak?: string, sk = '12345678'): RemotingCommand {
  const cmd = RemotingCommand.request(RequestCode.SEND_MESSAGE_V2, { a: 'PG', b: topic, c: 'TBW102', d: 4, e: -1, f: 0, g: 1, h: 0 }, Buffer.from('x'));
  if (ak !== undefined) signRequest(cmd, { accessKey: ak, secretKey: sk });
  return cmd;
}

describe('PlainAclValidator', () => {
  const v = new PlainAclValidator(() => parsePlainAcl(YAML), BROKER_ADMIN_CODES);
  const ip = '172.16.0.1';

  it('authenticates', () => {
    expect(v.checkRequest(send('topicB', 'RocketMQ'), ip)).toBeNull();
    expect(v.checkRequest(send('topicB'), ip)).toMatch(/No accessKey/);
    expect(v.checkRequest(send('topicB', 'nobody1'), ip)).toMatch(/No acl config for nobody1/);
    expect(v.checkRequest(send('topicB', 'RocketMQ', 'wrong-secret'), ip)).toMatch(/signature/);
    const tampered = send('topicB', 'RocketMQ');
    tampered.body = Buffer.from('y');
    expect(v.checkRequest(tampered, ip)).toMatch(/signature/);
  });

  it('lets white addresses through: global ones unsigned, an account one with its AccessKey only', () => {
    expect(v.checkRequest(send('topicA'), '10.10.103.7')).toBeNull();
    const c = send('anything');
    c.extFields!['AccessKey'] = 'rocketmq2';
    expect(v.checkRequest(c, '192.168.1.20')).toBeNull();
    expect(v.checkRequest(c, '192.168.2.20')).toMatch(/signature/);
  });

  it('authorizes topics, groups, defaults and admin codes', () => {
    expect(v.checkRequest(send('topicA', 'RocketMQ'), ip)).toMatch(/No permission for topic topicA/);
    expect(v.checkRequest(send('topicC', 'RocketMQ'), ip)).toMatch(/topicC/);
    expect(v.checkRequest(send('other', 'RocketMQ'), ip)).toMatch(/No default permission/);
    // A retry topic is its group's resource: SUB (default group perm) is enough to send back.
    expect(v.checkRequest(send('%RETRY%groupX', 'RocketMQ'), ip)).toBeNull();
    expect(v.checkRequest(send('%RETRY%groupA', 'RocketMQ'), ip)).toMatch(/group groupA/);
    const pull = RemotingCommand.request(RequestCode.PULL_MESSAGE, { consumerGroup: 'groupA', topic: 'topicC' });
    signRequest(pull, { accessKey: 'RocketMQ', secretKey: '12345678' });
    expect(v.checkRequest(pull, ip)).toMatch(/group groupA/);
    const pull2 = RemotingCommand.request(RequestCode.PULL_MESSAGE, { consumerGroup: 'groupB', topic: 'topicC' });
    signRequest(pull2, { accessKey: 'RocketMQ', secretKey: '12345678' });
    expect(v.checkRequest(pull2, ip)).toBeNull();
    const create = RemotingCommand.request(RequestCode.UPDATE_AND_CREATE_TOPIC, { topic: 'T' });
    signRequest(create, { accessKey: 'RocketMQ', secretKey: '12345678' });
    expect(v.checkRequest(create, ip)).toMatch(/Need admin permission/);
    signRequest(create, { accessKey: 'rocketmq2', secretKey: '12345678' });
    expect(v.checkRequest(create, ip)).toBeNull();
    // An admin without explicit permissions may send anywhere.
    expect(v.checkRequest(send('topicA', 'rocketmq2'), ip)).toBeNull();
  });

  it('reads groups and topics from a heartbeat body', () => {
    const hb = RemotingCommand.request(
      RequestCode.HEART_BEAT,
      null,
      Buffer.from(
        JSON.stringify({
          clientID: 'c',
          producerDataSet: [],
          consumerDataSet: [{ groupName: 'g1', subscriptionDataSet: [{ topic: 't1' }, { topic: '%RETRY%g1' }] }],
        }),
      ),
    );
    expect(neededPerms(hb)).toEqual([
      ['%RETRY%g1', Perm.SUB],
      ['t1', Perm.SUB],
    ]);
  });
});

describe('AclFile', () => {
  it('reloads a changed file and keeps the old rules when the new one is broken', () => {
    const dir = mkdtempSync(join(tmpdir(), 'acl-'));
    try {
      const path = join(dir, 'plain_acl.yml');
      writeFileSync(path, 'accounts:\n  - accessKey: first1\n    secretKey: 12345678\n');
      const f = new AclFile(path, createLogger('acl-test'));
      expect([...f.rules.accounts.keys()]).toEqual(['first1']);
      writeFileSync(path, 'accounts:\n  - accessKey: second2\n    secretKey: 12345678\n    admin: true\n');
      f.poll();
      expect([...f.rules.accounts.keys()]).toEqual(['second2']);
      writeFileSync(path, 'accounts: [ {');
      f.poll();
      expect([...f.rules.accounts.keys()]).toEqual(['second2']);
      rmSync(path);
      f.poll();
      expect(f.rules.accounts.size).toBe(1);
      f.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
