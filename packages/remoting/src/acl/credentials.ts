import type { SessionCredentials } from '@rocketmq-ts/protocol';
import { AclConfigError } from './plain-acl-config.js';

/**
 * A server's own account for its calls to ACL-enabled peers, written as RocketMQ 5's
 * `innerClientAuthenticationCredentials`: `{"accessKey":"…","secretKey":"…"}`. Empty text =
 * undefined (no signing); anything else that is not such an object throws AclConfigError.
 */
export function parseInnerCredentials(text: string): SessionCredentials | undefined {
  const t = text.trim();
  if (t === '') return undefined;
  let o: unknown;
  try {
    o = JSON.parse(t);
  } catch {
    throw new AclConfigError('innerClientAuthenticationCredentials must be JSON: {"accessKey":"…","secretKey":"…"}');
  }
  const r = o as Record<string, unknown> | null;
  if (r === null || typeof r !== 'object' || typeof r['accessKey'] !== 'string' || typeof r['secretKey'] !== 'string' || r['accessKey'] === '') {
    throw new AclConfigError('innerClientAuthenticationCredentials needs string accessKey and secretKey');
  }
  const token = r['securityToken'];
  return { accessKey: r['accessKey'], secretKey: r['secretKey'], securityToken: typeof token === 'string' && token !== '' ? token : undefined };
}
