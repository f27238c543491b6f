import { createHmac } from 'node:crypto';
import type { ExtFields, RemotingCommand } from './remoting-command.js';

/** extFields names of ACL 1.0 request signing (remoting.md §7.12). */
export const ACL_ACCESS_KEY = 'AccessKey';
export const ACL_SIGNATURE = 'Signature';
export const ACL_SECURITY_TOKEN = 'SecurityToken';

/** An account's keys, as RocketMQ's SessionCredentials. */
export interface SessionCredentials {
  accessKey: string;
  secretKey: string;
  securityToken?: string | undefined;
}

/**
 * The bytes a signature covers: the values of every extField except Signature, keys in
 * UTF-16 order (Java's TreeMap over String), as UTF-8, then the body. Fields with no value are
 * skipped, as the encoder skips them.
 */
export function aclSignatureContent(extFields: ExtFields | null, body: Buffer | null): Buffer {
  let text = '';
  if (extFields !== null) {
    const keys = Object.keys(extFields).sort();
    for (const k of keys) {
      if (k === ACL_SIGNATURE) continue;
      const v = extFields[k];
      if (v === undefined || v === null) continue;
      text += typeof v === 'string' ? v : String(v);
    }
  }
  const head = Buffer.from(text, 'utf8');
  return body === null || body.length === 0 ? head : Buffer.concat([head, body]);
}

/** Base64(HmacSHA1(secretKey, content)). */
export function aclSignature(secretKey: string, content: Buffer | string): string {
  return createHmac('sha1', secretKey).update(content).digest('base64');
}

/**
 * Signs a request in place: adds AccessKey (and SecurityToken) first, then Signature over
 * everything. Header fields the caller sets later would not be covered: sign last.
 */
export function signRequest(cmd: RemotingCommand, creds: SessionCredentials): void {
  const ext: ExtFields = cmd.extFields ?? (cmd.extFields = {});
  ext[ACL_ACCESS_KEY] = creds.accessKey;
  if (creds.securityToken !== undefined && creds.securityToken !== '') ext[ACL_SECURITY_TOKEN] = creds.securityToken;
  delete ext[ACL_SIGNATURE];
  ext[ACL_SIGNATURE] = aclSignature(creds.secretKey, aclSignatureContent(ext, cmd.body));
}

/** Constant-time comparison of two signatures (base64 text). */
export function signaturesEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
