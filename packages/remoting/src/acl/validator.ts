import {
  ACL_ACCESS_KEY,
  ACL_SIGNATURE,
  RequestCode,
  aclSignature,
  aclSignatureContent,
  decodeHeartbeatData,
  signaturesEqual,
  type RemotingCommand,
} from '@rocketmq-ts/protocol';
import type { AclAccount, AclRules } from './plain-acl-config.js';
import { Perm, groupResource, isGroupResource, permits } from './permission.js';

/** A resource (topic, or `%RETRY%group` for a group) and the permission a request needs on it. */
export type NeededPerm = readonly [resource: string, perm: number];

/** Outcome of authentication: an account to check permissions for, a whitelisted caller, or why not. */
export type AclAuthResult = { kind: 'account'; account: AclAccount } | { kind: 'whitelisted' } | { kind: 'denied'; reason: string };

const NO_RESOURCES: readonly NeededPerm[] = [];

function field(cmd: RemotingCommand, name: string): string | undefined {
  const v = cmd.extFields?.[name];
  return v === undefined || v === null ? undefined : String(v);
}

function push(out: NeededPerm[], resource: string | undefined, perm: number): void {
  if (resource !== undefined && resource !== '') out.push([resource, perm]);
}

function pushGroup(out: NeededPerm[], group: string | undefined): void {
  if (group !== undefined && group !== '') out.push([groupResource(group), Perm.SUB]);
}

/** A send's topic: PUB on it, or for a retry topic (a consumer sending back) SUB on its group. */
function pushSendTopic(out: NeededPerm[], topic: string | undefined): void {
  if (topic === undefined || topic === '') return;
  out.push(isGroupResource(topic) ? [topic, Perm.SUB] : [topic, Perm.PUB]);
}

/**
 * What a remoting request needs, by request code, as RocketMQ's plain ACL reads it: sends need
 * PUB on the topic (SUB on the group for retry topics), and so does a recall; pulls, pops, acks, offsets and
 * heartbeats need SUB on the group and the topic. Codes not listed need no resource.
 */
export function neededPerms(cmd: RemotingCommand): readonly NeededPerm[] {
  const out: NeededPerm[] = [];
  switch (cmd.code) {
    case RequestCode.SEND_MESSAGE:
    case RequestCode.SEND_REPLY_MESSAGE:
      pushSendTopic(out, field(cmd, 'topic'));
      break;
    case RequestCode.SEND_MESSAGE_V2:
    case RequestCode.SEND_BATCH_MESSAGE:
    case RequestCode.SEND_REPLY_MESSAGE_V2:
      pushSendTopic(out, field(cmd, 'b'));
      break;
    case RequestCode.RECALL_MESSAGE:
      push(out, field(cmd, 'topic'), Perm.PUB);
      break;
    case RequestCode.CONSUMER_SEND_MSG_BACK:
      pushGroup(out, field(cmd, 'group'));
      break;
    case RequestCode.PULL_MESSAGE:
    case RequestCode.LITE_PULL_MESSAGE:
    case RequestCode.POP_MESSAGE:
    case RequestCode.ACK_MESSAGE:
    case RequestCode.CHANGE_MESSAGE_INVISIBLETIME:
    case RequestCode.NOTIFICATION:
    case RequestCode.QUERY_CONSUMER_OFFSET:
    case RequestCode.UPDATE_CONSUMER_OFFSET:
      push(out, field(cmd, 'topic'), Perm.SUB);
      pushGroup(out, field(cmd, 'consumerGroup'));
      break;
    case RequestCode.QUERY_MESSAGE:
      push(out, field(cmd, 'topic'), Perm.SUB);
      break;
    case RequestCode.UNREGISTER_CLIENT:
    case RequestCode.GET_CONSUMER_LIST_BY_GROUP:
      pushGroup(out, field(cmd, 'consumerGroup'));
      break;
    case RequestCode.HEART_BEAT: {
      let hb;
      try {
        hb = decodeHeartbeatData(cmd.body);
      } catch {
        break; // the handler answers a broken body
      }
      for (const c of hb.consumerDataSet) {
        pushGroup(out, c.groupName);
        for (const s of c.subscriptionDataSet) if (!isGroupResource(s.topic)) push(out, s.topic, Perm.SUB);
      }
      break;
    }
    default:
      return NO_RESOURCES;
  }
  return out;
}

/**
 * ACL 1.0 checks over the rules of the moment (the provider is read per request, so a reloaded
 * file applies to the next request). Failures are reasons (text), never exceptions.
 */
export class PlainAclValidator {
  constructor(
    private readonly rules: () => AclRules,
    /** Request codes that need an admin account. */
    private readonly adminCodes: ReadonlySet<number>,
  ) {}

  /**
   * Global whitelist → pass; no or unknown AccessKey → denied; the account's whitelist → pass
   * without a signature; else `verify(secretKey)` decides.
   */
  authenticate(ip: string, accessKey: string | undefined, verify: (account: AclAccount) => boolean): AclAuthResult {
    const rules = this.rules();
    for (const m of rules.globalWhiteRemoteAddresses) if (m(ip)) return { kind: 'whitelisted' };
    if (accessKey === undefined || accessKey === '') return { kind: 'denied', reason: 'No accessKey is configured' };
    const account = rules.accounts.get(accessKey);
    if (account === undefined) return { kind: 'denied', reason: `No acl config for ${accessKey}` };
    if (account.whiteRemoteAddress(ip)) return { kind: 'whitelisted' };
    if (!verify(account)) return { kind: 'denied', reason: `Check signature failed for accessKey=${accessKey}` };
    return { kind: 'account', account };
  }

  /** Null when `account` may do it; else the reason. */
  authorize(account: AclAccount, needsAdmin: boolean, needed: readonly NeededPerm[], what: string): string | null {
    if (needsAdmin && !account.admin) return `Need admin permission for ${what}, but accessKey=${account.accessKey} is not`;
    if (needed.length === 0) return null;
    // An admin account without explicit permissions may do everything.
    if (account.admin && account.resourcePerms.size === 0) return null;
    for (const [resource, perm] of needed) {
      const explicit = account.resourcePerms.get(resource);
      const owned = explicit ?? (isGroupResource(resource) ? account.defaultGroupPerm : account.defaultTopicPerm);
      if (!permits(perm, owned)) {
        const name = isGroupResource(resource) ? `group ${resource.slice(7)}` : `topic ${resource}`;
        return `${explicit === undefined ? 'No default permission' : 'No permission'} for ${name} (accessKey=${account.accessKey})`;
      }
    }
    return null;
  }

  /** Checks a remoting request from `ip`: null = allowed, else the reason. */
  checkRequest(cmd: RemotingCommand, ip: string): string | null {
    const auth = this.authenticate(ip, field(cmd, ACL_ACCESS_KEY), (account) => {
      const given = field(cmd, ACL_SIGNATURE);
      if (given === undefined) return false;
      return signaturesEqual(given, aclSignature(account.secretKey, aclSignatureContent(cmd.extFields, cmd.body)));
    });
    if (auth.kind === 'whitelisted') return null;
    if (auth.kind === 'denied') return auth.reason;
    return this.authorize(auth.account, this.adminCodes.has(cmd.code), neededPerms(cmd), `request code=${cmd.code}`);
  }
}
