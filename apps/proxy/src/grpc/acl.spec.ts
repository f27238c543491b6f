import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { createLogger } from '@rocketmq-ts/remoting';
import { AclFile } from '@rocketmq-ts/remoting/acl';
import { ProxyAcl, neededPermsOf, peerIp } from './acl.js';

// printf '20261203T052000Z' | openssl dgst -sha1 -hmac 12345678, upper-cased (computed apart from our code)
const DATE = '20261203T052000Z';
const SIG = 'F1FD154F2FD6E3EC4ECB4DB678E2B6B08E87B550';

describe('proxy ACL', () => {
  let dir: string;
  let acl: ProxyAcl;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'proxy-acl-'));
    const path = join(dir, 'plain_acl.yml');
    writeFileSync(path, 'accounts:\n  - accessKey: rocketmq2\n    secretKey: 12345678\n    defaultTopicPerm: SUB\n    topicPerms: [T_PUB=PUB]\n');
    acl = new ProxyAcl(new AclFile(path, createLogger('proxy-acl-test')));
  });

  afterAll(() => {
    acl.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function md(sig: string | null, date = DATE): grpc.Metadata {
    const m = new grpc.Metadata();
    m.set('x-mq-date-time', date);
    if (sig !== null) m.set('authorization', `MQv2-HMAC-SHA1 Credential=rocketmq2, SignedHeaders=x-mq-date-time, Signature=${sig}`);
    return m;
  }

  it('reads the peer address grpc-js reports', () => {
    expect(peerIp('127.0.0.1:5000')).toBe('127.0.0.1');
    expect(peerIp('ipv4:10.0.0.1:5000')).toBe('10.0.0.1');
    expect(peerIp('[::1]:5000')).toBe('::1');
    expect(peerIp('[::ffff:127.0.0.1]:5000')).toBe('127.0.0.1');
  });

  it('accepts the uppercase hex HMAC-SHA1 of x-mq-date-time and refuses anything else with UNAUTHORIZED', () => {
    const send = { messages: [{ topic: { name: 'T_PUB' } }] };
    expect(acl.check('SendMessage', md(SIG), '10.0.0.9:1', send)).toBeNull();
    expect(acl.check('SendMessage', md(SIG.toLowerCase()), '10.0.0.9:1', send)).toBeNull();
    expect(acl.check('SendMessage', md(SIG, '20261203T052001Z'), '10.0.0.9:1', send)?.code).toBe(40100);
    expect(acl.check('SendMessage', md(null), '10.0.0.9:1', send)?.code).toBe(40100);
    const bad = new grpc.Metadata();
    bad.set('authorization', 'Basic abc');
    expect(acl.check('SendMessage', bad, '10.0.0.9:1', send)).toMatchObject({ code: 40100, message: /malformed/ });
  });

  it('applies topic and group permissions per call with FORBIDDEN', () => {
    expect(acl.check('SendMessage', md(SIG), '10.0.0.9:1', { messages: [{ topic: { name: 'OTHER' } }] })?.code).toBe(40300);
    expect(acl.check('ReceiveMessage', md(SIG), '10.0.0.9:1', { group: { name: 'G' }, messageQueue: { topic: { name: 'T_PUB' } } })?.code).toBe(40300);
    // Default group permission is DENY (absent) in this file.
    expect(acl.check('ReceiveMessage', md(SIG), '10.0.0.9:1', { group: { name: 'G' }, messageQueue: { topic: { name: 'OTHER' } } })?.code).toBe(40300);
    expect(acl.check('QueryRoute', md(SIG), '10.0.0.9:1', { topic: { name: 'T_PUB' } })).toBeNull();
    expect(neededPermsOf('AckMessage', { group: { name: 'G', resourceNamespace: 'ns' }, topic: { name: 'T' } })).toEqual([
      ['T', 8],
      ['%RETRY%ns%G', 8],
    ]);
  });
});
