import { RequestCode } from '@rocketmq-ts/protocol';

/** Permission bits of ACL 1.0 (RocketMQ's values). */
export const Perm = { DENY: 1, ANY: 2, PUB: 4, SUB: 8 } as const;

/** Prefix that turns a group into its resource name (RocketMQ keys groups by their retry topic). */
export const RETRY_GROUP_TOPIC_PREFIX = '%RETRY%';

/** The resource name of a consumer group. */
export function groupResource(group: string): string {
  return RETRY_GROUP_TOPIC_PREFIX + group;
}

export function isGroupResource(resource: string): boolean {
  return resource.startsWith(RETRY_GROUP_TOPIC_PREFIX);
}

/** "PUB", "SUB", "PUB|SUB" / "SUB|PUB", "DENY"; anything else (or nothing) is DENY, as RocketMQ reads it. */
export function parsePerm(text: string | undefined | null): number {
  switch ((text ?? '').trim().toUpperCase()) {
    case 'PUB':
      return Perm.PUB;
    case 'SUB':
      return Perm.SUB;
    case 'PUB|SUB':
    case 'SUB|PUB':
      return Perm.PUB | Perm.SUB;
    default:
      return Perm.DENY;
  }
}

/** Whether `owned` grants `needed`: DENY wins; ANY needs PUB or SUB; otherwise the bit itself. */
export function permits(needed: number, owned: number): boolean {
  if ((owned & Perm.DENY) !== 0) return false;
  if ((needed & Perm.ANY) !== 0) return (owned & (Perm.PUB | Perm.SUB)) !== 0;
  return (needed & owned) !== 0;
}

/**
 * Broker request codes only admin accounts may send: RocketMQ's five (create/update topic,
 * update broker config, delete topic, create/update and delete subscription group), plus the
 * list forms of the create calls and the ACL-management codes, which change the same things.
 */
export const BROKER_ADMIN_CODES: ReadonlySet<number> = new Set<number>([
  RequestCode.UPDATE_AND_CREATE_TOPIC,
  RequestCode.UPDATE_AND_CREATE_TOPIC_LIST,
  RequestCode.UPDATE_BROKER_CONFIG,
  RequestCode.DELETE_TOPIC_IN_BROKER,
  RequestCode.UPDATE_AND_CREATE_SUBSCRIPTIONGROUP,
  RequestCode.UPDATE_AND_CREATE_SUBSCRIPTIONGROUP_LIST,
  RequestCode.DELETE_SUBSCRIPTIONGROUP,
  RequestCode.UPDATE_AND_CREATE_ACL_CONFIG,
  RequestCode.DELETE_ACL_CONFIG,
  RequestCode.GET_BROKER_CLUSTER_ACL_INFO,
  RequestCode.UPDATE_GLOBAL_WHITE_ADDRS_CONFIG,
]);

/**
 * Name server request codes only admin accounts may send when its ACL is on: the ones that
 * change routes or KV config, and broker registration (only trusted brokers publish routes).
 */
export const NAMESRV_ADMIN_CODES: ReadonlySet<number> = new Set<number>([
  RequestCode.PUT_KV_CONFIG,
  RequestCode.DELETE_KV_CONFIG,
  RequestCode.REGISTER_BROKER,
  RequestCode.UNREGISTER_BROKER,
  RequestCode.BROKER_HEARTBEAT,
  RequestCode.QUERY_DATA_VERSION,
  RequestCode.DELETE_TOPIC_IN_NAMESRV,
  RequestCode.REGISTER_TOPIC_IN_NAMESRV,
  RequestCode.WIPE_WRITE_PERM_OF_BROKER,
  RequestCode.ADD_WRITE_PERM_OF_BROKER,
  RequestCode.UPDATE_NAMESRV_CONFIG,
]);
