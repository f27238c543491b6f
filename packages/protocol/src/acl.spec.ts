import { RemotingCommand } from './remoting-command.js';
import { ACL_ACCESS_KEY, ACL_SIGNATURE, aclSignature, aclSignatureContent, signRequest, signaturesEqual } from './acl.js';

// Vectors computed independently:
//   printf 'rocketmq2PGTopicAhello' | openssl dgst -sha1 -hmac 12345678 -binary | base64
//   printf 'rocketmq2TOKPGTopicA'   | openssl dgst -sha1 -hmac 12345678 -binary | base64
const SIG_WITH_BODY = 'mriPVCu1qwSax/YX1WngEgHo9AQ=';
const SIG_WITH_TOKEN = 'R+8ig3wMQsJMBNbkC9PSodywEIE=';

describe('ACL 1.0 signature', () => {
  it('covers extField values in key order (upper case first, as a Java TreeMap), then the body', () => {
    const content = aclSignatureContent({ b: 'TopicA', a: 'PG', AccessKey: 'rocketmq2', Signature: 'ignored' }, Buffer.from('hello'));
    expect(content.toString('utf8')).toBe('rocketmq2PGTopicAhello');
    expect(aclSignature('12345678', content)).toBe(SIG_WITH_BODY);
  });

  it('signRequest adds AccessKey (and SecurityToken) before signing', () => {
    const cmd = RemotingCommand.request(310, { b: 'TopicA', a: 'PG' }, Buffer.from('hello'));
    signRequest(cmd, { accessKey: 'rocketmq2', secretKey: '12345678' });
    expect(cmd.extFields![ACL_ACCESS_KEY]).toBe('rocketmq2');
    expect(cmd.extFields![ACL_SIGNATURE]).toBe(SIG_WITH_BODY);

    const t = RemotingCommand.request(310, { b: 'TopicA', a: 'PG' });
    signRequest(t, { accessKey: 'rocketmq2', secretKey: '12345678', securityToken: 'TOK' });
    expect(t.extFields!['SecurityToken']).toBe('TOK');
    expect(t.extFields![ACL_SIGNATURE]).toBe(SIG_WITH_TOKEN);
  });

  it('signs numbers and booleans as the text they travel as, and skips unset fields', () => {
    const a = aclSignatureContent({ x: 1, y: true, z: undefined as unknown as string }, null).toString();
    expect(a).toBe('1true');
    const cmd = RemotingCommand.request(11, null);
    signRequest(cmd, { accessKey: 'rocketmq2', secretKey: '12345678' });
    expect(cmd.extFields![ACL_SIGNATURE]).toBe(aclSignature('12345678', 'rocketmq2'));
  });

  it('re-signing replaces the old signature', () => {
    const cmd = RemotingCommand.request(310, { b: 'TopicA', a: 'PG' }, Buffer.from('hello'));
    signRequest(cmd, { accessKey: 'rocketmq2', secretKey: 'wrong-secret' });
    signRequest(cmd, { accessKey: 'rocketmq2', secretKey: '12345678' });
    expect(cmd.extFields![ACL_SIGNATURE]).toBe(SIG_WITH_BODY);
  });

  it('compares signatures', () => {
    expect(signaturesEqual(SIG_WITH_BODY, SIG_WITH_BODY)).toBe(true);
    expect(signaturesEqual(SIG_WITH_BODY, SIG_WITH_TOKEN)).toBe(false);
    expect(signaturesEqual('a', 'ab')).toBe(false);
  });
});
