import { parse as parseYaml } from 'yaml';
import { AddressPatternError, addressMatcher, type AddressMatcher } from './remote-address.js';
import { groupResource, parsePerm } from './permission.js';

/** One account of plain_acl.yml, ready for checks. */
export interface AclAccount {
  readonly accessKey: string;
  readonly secretKey: string;
  /** Requests from these addresses skip the signature and permission checks (they still name the account). */
  readonly whiteRemoteAddress: AddressMatcher;
  readonly admin: boolean;
  readonly defaultTopicPerm: number;
  readonly defaultGroupPerm: number;
  /** Topic names and group resources (`%RETRY%group`) → permission bits. */
  readonly resourcePerms: ReadonlyMap<string, number>;
}

/** The rules of one plain_acl.yml. */
export interface AclRules {
  /** Requests from these addresses skip every check, signed or not. */
  readonly globalWhiteRemoteAddresses: readonly AddressMatcher[];
  readonly accounts: ReadonlyMap<string, AclAccount>;
}

export class AclConfigError extends Error {}

function text(v: unknown, what: string): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new AclConfigError(`${what} must be a string`);
}

function list(v: unknown, what: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) return v as unknown[];
  if (typeof v === 'string') return v === '' ? [] : [v];
  throw new AclConfigError(`${what} must be a list`);
}

function matcher(pattern: string, what: string): AddressMatcher {
  try {
    return addressMatcher(pattern);
  } catch (e) {
    if (e instanceof AddressPatternError) throw new AclConfigError(`${what}: ${e.message}`);
    throw e;
  }
}

function perms(v: unknown, what: string, group: boolean, into: Map<string, number>): void {
  for (const item of list(v, what)) {
    const line = text(item, what);
    const eq = line.indexOf('=');
    if (eq <= 0) throw new AclConfigError(`${what}: "${line}" is not name=PERM`);
    const name = line.slice(0, eq).trim();
    into.set(group ? groupResource(name) : name, parsePerm(line.slice(eq + 1)));
  }
}

/**
 * Reads plain_acl.yml text (fields as RocketMQ names them: globalWhiteRemoteAddresses,
 * accounts[].accessKey / secretKey / whiteRemoteAddress / admin / defaultTopicPerm /
 * defaultGroupPerm / topicPerms / groupPerms). Throws AclConfigError on anything it cannot
 * use, so a broken file never replaces working rules.
 */
export function parsePlainAcl(yamlText: string): AclRules {
  let doc: unknown;
  try {
    // Every scalar as text: keys such as 00123456 keep their leading zeros.
    doc = parseYaml(yamlText, { schema: 'failsafe' });
  } catch (e) {
    throw new AclConfigError(`not valid YAML: ${(e as Error).message}`);
  }
  if (doc === null || doc === undefined) doc = {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new AclConfigError('the top level must be a mapping');
  const o = doc as Record<string, unknown>;
  const globalWhiteRemoteAddresses = list(o['globalWhiteRemoteAddresses'], 'globalWhiteRemoteAddresses')
    .map((a) => text(a, 'globalWhiteRemoteAddresses'))
    .filter((a) => a.trim() !== '')
    .map((a) => matcher(a, 'globalWhiteRemoteAddresses'));
  const accounts = new Map<string, AclAccount>();
  list(o['accounts'], 'accounts').forEach((raw, i) => {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new AclConfigError(`accounts[${i}] must be a mapping`);
    const a = raw as Record<string, unknown>;
    const accessKey = text(a['accessKey'], `accounts[${i}].accessKey`);
    const secretKey = text(a['secretKey'], `accounts[${i}].secretKey`);
    // RocketMQ refuses keys of 5 characters or fewer.
    if (accessKey.length < 6) throw new AclConfigError(`accounts[${i}].accessKey must have at least 6 characters`);
    if (secretKey.length < 6) throw new AclConfigError(`accounts[${i}].secretKey of ${accessKey} must have at least 6 characters`);
    if (accounts.has(accessKey)) throw new AclConfigError(`accessKey ${accessKey} appears twice`);
    const resourcePerms = new Map<string, number>();
    perms(a['topicPerms'], `accounts[${i}].topicPerms`, false, resourcePerms);
    perms(a['groupPerms'], `accounts[${i}].groupPerms`, true, resourcePerms);
    const admin = a['admin'];
    accounts.set(accessKey, {
      accessKey,
      secretKey,
      whiteRemoteAddress: matcher(text(a['whiteRemoteAddress'], `accounts[${i}].whiteRemoteAddress`), `accounts[${i}].whiteRemoteAddress`),
      admin: admin === true || (typeof admin === 'string' && admin.toLowerCase() === 'true'),
      defaultTopicPerm: parsePerm(text(a['defaultTopicPerm'], `accounts[${i}].defaultTopicPerm`)),
      defaultGroupPerm: parsePerm(text(a['defaultGroupPerm'], `accounts[${i}].defaultGroupPerm`)),
      resourcePerms,
    });
  });
  return { globalWhiteRemoteAddresses, accounts };
}
