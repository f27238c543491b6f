import { createHash } from 'node:crypto';

/**
 * Queue allocation for clustering consumers: every member of a group computes, from the same
 * sorted lists of queues and consumer ids, which queues are its own. Strategies match RocketMQ's
 * by name and result, so a TypeScript consumer and a Java consumer in one group agree.
 */
export interface MessageQueueRef {
  topic: string;
  brokerName: string;
  queueId: number;
}

export interface AllocateStrategy<Q extends MessageQueueRef = MessageQueueRef> {
  readonly name: string;
  /** `all` and `cids` must be sorted (see sortQueues / sortConsumerIds). */
  allocate(group: string, self: string, all: readonly Q[], cids: readonly string[]): Q[];
}

export function compareQueues(a: MessageQueueRef, b: MessageQueueRef): number {
  if (a.topic !== b.topic) return a.topic < b.topic ? -1 : 1;
  if (a.brokerName !== b.brokerName) return a.brokerName < b.brokerName ? -1 : 1;
  return a.queueId - b.queueId;
}

export function sortQueues<Q extends MessageQueueRef>(qs: readonly Q[]): Q[] {
  return [...qs].sort(compareQueues);
}

/** Java's String.compareTo order (UTF-16 code units), which is what JS's default sort uses. */
export function sortConsumerIds(ids: readonly string[]): string[] {
  return [...ids].sort();
}

/** Contiguous blocks; the first `queues % consumers` consumers take one extra ("AVG"). */
export const allocateAveragely: AllocateStrategy = {
  name: 'AVG',
  allocate(_group, self, all, cids) {
    const index = cids.indexOf(self);
    if (index < 0 || all.length === 0) return [];
    const mod = all.length % cids.length;
    const size = all.length <= cids.length ? 1 : mod > 0 && index < mod ? Math.floor(all.length / cids.length) + 1 : Math.floor(all.length / cids.length);
    const start = mod > 0 && index < mod ? index * size : index * size + mod;
    const range = Math.min(size, all.length - start);
    const out = [];
    for (let i = 0; i < range; i++) out.push(all[(start + i) % all.length]!);
    return out;
  },
};

/** Round robin: queue i goes to consumer i % n ("AVG_BY_CIRCLE"). */
export const allocateAveragelyByCircle: AllocateStrategy = {
  name: 'AVG_BY_CIRCLE',
  allocate(_group, self, all, cids) {
    const index = cids.indexOf(self);
    if (index < 0) return [];
    return all.filter((_q, i) => i % cids.length === index);
  },
};

/**
 * Consistent hashing over a ring of consumer ids with virtual nodes (default 10). Keys and hash
 * follow RocketMQ's router so mixed Java/TypeScript groups agree: virtual node key
 * `<clientId>-<i>`, queue key `MessageQueue [topic=T, brokerName=B, queueId=N]`, hash = the first
 * four MD5 bytes read big-endian; a key belongs to the first node at or after its hash, wrapping.
 * A consumer joining or leaving moves only the queues next to it on the ring.
 */
export function allocateConsistentHash(virtualNodes = 10): AllocateStrategy {
  return {
    name: 'CONSISTENT_HASH',
    allocate(_group, self, all, cids) {
      if (!cids.includes(self)) return [];
      // Later nodes with an equal hash replace earlier ones, as in a sorted map.
      const byHash = new Map<number, string>();
      for (const cid of cids) {
        for (let i = 0; i < virtualNodes; i++) byHash.set(md5Prefix(`${cid}-${i}`), cid);
      }
      const ring = [...byHash.entries()].sort((a, b) => a[0] - b[0]);
      const out = [];
      for (const q of all) {
        const h = md5Prefix(`MessageQueue [topic=${q.topic}, brokerName=${q.brokerName}, queueId=${q.queueId}]`);
        let lo = 0;
        let hi = ring.length;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if (ring[mid]![0] < h) lo = mid + 1;
          else hi = mid;
        }
        if (ring[lo === ring.length ? 0 : lo]![1] === self) out.push(q);
      }
      return out;
    },
  };
}

function md5Prefix(key: string): number {
  return createHash('md5').update(key, 'utf8').digest().readUInt32BE(0);
}

export const ALLOCATE_STRATEGIES: Record<string, AllocateStrategy> = {
  AVG: allocateAveragely,
  AVG_BY_CIRCLE: allocateAveragelyByCircle,
  CONSISTENT_HASH: allocateConsistentHash(),
};
