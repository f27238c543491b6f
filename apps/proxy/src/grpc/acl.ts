import { createHmac } from 'node:crypto';
import type * as grpc from '@grpc/grpc-js';
import { AclFile, Perm, PlainAclValidator, groupResource, normalizeIp, type NeededPerm } from '@rocketmq-ts/remoting/acl';
import { resourceName } from '../messaging/convert.js';
import { Code, type Status } from './status.js';
import type { MessageQueue, Resource } from './types.js';

/** What the 5.x clients send: `MQv2-HMAC-SHA1 Credential=<AK>, SignedHeaders=x-mq-date-time, Signature=<hex>`. */
const AUTH_RE = /^MQv2-HMAC-SHA1\s+Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9A-Fa-f]+)\s*$/;

const NO_ADMIN_CODES: ReadonlySet<number> = new Set();

function header(md: grpc.Metadata, name: string): string | undefined {
  const v = md.get(name)[0];
  return v === undefined ? undefined : typeof v === 'string' ? v : v.toString('utf8');
}

/** "127.0.0.1:5000", "ipv4:127.0.0.1:5000", "[::1]:5000" → the address. */
export function peerIp(peer: string): string {
  let p = peer.replace(/^ipv[46]:/, '');
  if (p.startsWith('[')) return normalizeIp(p.slice(1, p.indexOf(']')));
  const colon = p.lastIndexOf(':');
  if (colon > 0 && p.indexOf(':') === colon) p = p.slice(0, colon);
  return normalizeIp(p);
}

/** The request's resources (proto-loader objects, camelCase). */
type Req = {
  topic?: Resource;
  group?: Resource;
  messageQueue?: MessageQueue;
  messages?: { topic?: Resource }[];
};

function topicOf(r: Req): string {
  return resourceName(r.topic ?? r.messageQueue?.topic);
}

function pushTopic(out: NeededPerm[], topic: string, perm: number): void {
  if (topic !== '') out.push([topic, perm]);
}

function pushGroup(out: NeededPerm[], group: Resource | undefined): void {
  const g = resourceName(group);
  if (g !== '') out.push([groupResource(g), Perm.SUB]);
}

/**
 * What each v2 call needs, as RocketMQ's proxy reads it for plain ACL: SendMessage and
 * EndTransaction (and RecallMessage) PUB on the topic; QueryRoute any permission on it; the consuming calls SUB on
 * the group and the topic; Heartbeat and NotifyClientTermination SUB on the group if they name one.
 */
export function neededPermsOf(method: string, req: unknown): NeededPerm[] {
  const r = (req ?? {}) as Req;
  const out: NeededPerm[] = [];
  switch (method) {
    case 'SendMessage':
      for (const m of r.messages ?? []) pushTopic(out, resourceName(m.topic), Perm.PUB);
      break;
    case 'EndTransaction':
    case 'RecallMessage':
      pushTopic(out, topicOf(r), Perm.PUB);
      break;
    case 'QueryRoute':
      pushTopic(out, topicOf(r), Perm.ANY);
      break;
    case 'ReceiveMessage':
    case 'AckMessage':
    case 'ChangeInvisibleDuration':
    case 'ForwardMessageToDeadLetterQueue':
    case 'QueryAssignment':
    case 'PullMessage':
    case 'UpdateOffset':
    case 'GetOffset':
    case 'QueryOffset':
      pushTopic(out, topicOf(r), Perm.SUB);
      pushGroup(out, r.group);
      break;
    case 'Heartbeat':
    case 'NotifyClientTermination':
      pushGroup(out, r.group);
      break;
    default:
      break;
  }
  return out;
}

/**
 * ACL 1.0 for the gRPC front door: the `authorization` header is checked against the
 * plain_acl.yml accounts (HMAC-SHA1 of x-mq-date-time, hex), then the call's topic and group
 * permissions. Authentication failures answer UNAUTHORIZED (40100), permission failures
 * FORBIDDEN (40300), as RocketMQ 5's proxy does.
 */
export class ProxyAcl {
  private readonly validator: PlainAclValidator;

  constructor(readonly file: AclFile) {
    this.validator = new PlainAclValidator(() => file.rules, NO_ADMIN_CODES);
  }

  /** Null = allowed; else the status to answer with. */
  check(method: string, md: grpc.Metadata, peer: string, req: unknown): Status | null {
    const auth = header(md, 'authorization');
    const m = auth === undefined ? null : AUTH_RE.exec(auth);
    const accessKey = m?.[1];
    const result = this.validator.authenticate(peerIp(peer), accessKey, (account) => {
      if (m === null || m[2]!.toLowerCase() !== 'x-mq-date-time') return false;
      const dateTime = header(md, 'x-mq-date-time');
      if (dateTime === undefined) return false;
      const want = createHmac('sha1', account.secretKey).update(dateTime).digest('hex');
      return want.toLowerCase() === m[3]!.toLowerCase();
    });
    if (result.kind === 'whitelisted') return null;
    if (result.kind === 'denied') {
      const reason = auth !== undefined && m === null ? 'malformed authorization header' : result.reason;
      return { code: Code.UNAUTHORIZED, message: reason };
    }
    const why = this.validator.authorize(result.account, false, neededPermsOf(method, req), method);
    return why === null ? null : { code: Code.FORBIDDEN, message: why };
  }

  close(): void {
    this.file.close();
  }
}
