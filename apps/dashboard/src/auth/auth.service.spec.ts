import { describe, expect, it } from '@jest/globals';
import { ACL_DENIED_REMARK_PREFIX } from '@rocketmq-ts/remoting/acl';
import { isAclRefusal, maskSecret } from './auth.service.js';

describe('isAclRefusal', () => {
  it("recognises the servers' ACL refusal text (the guard's own prefix), nothing else", () => {
    expect(isAclRefusal(`SYSTEM_ERROR: ${ACL_DENIED_REMARK_PREFIX}No acl config for x (broker 127.0.0.1:10911)`)).toBe(true);
    expect(isAclRefusal('connect ECONNREFUSED 127.0.0.1:9876')).toBe(false);
  });

  it('masks a secret whatever it is', () => {
    expect(maskSecret('s3cr3t')).toBe('******');
    expect(maskSecret('')).toBe('');
  });
});
