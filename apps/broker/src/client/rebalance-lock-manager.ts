export interface MessageQueueKey {
  topic: string;
  brokerName: string;
  queueId: number;
}

interface LockEntry {
  clientId: string;
  lastUpdate: number;
}

/** Broker side of orderly consumption: which client holds which queue, for `lockMaxLiveTime` ms per renewal. */
export class RebalanceLockManager {
  private readonly table = new Map<string, Map<string, LockEntry>>();

  constructor(private readonly lockMaxLiveTimeMs = 60_000) {}

  private static key(mq: MessageQueueKey): string {
    return `${mq.topic}\u0001${mq.brokerName}\u0001${mq.queueId}`;
  }

  /** Locks (or renews) what is free or already ours; returns the queues now held by `clientId`. */
  tryLockBatch(group: string, mqs: readonly MessageQueueKey[], clientId: string, now = Date.now()): MessageQueueKey[] {
    let g = this.table.get(group);
    if (!g) this.table.set(group, (g = new Map()));
    const out: MessageQueueKey[] = [];
    for (const mq of mqs) {
      const k = RebalanceLockManager.key(mq);
      const e = g.get(k);
      if (!e || e.clientId === clientId || now - e.lastUpdate > this.lockMaxLiveTimeMs) {
        g.set(k, { clientId, lastUpdate: now });
        out.push(mq);
      }
    }
    return out;
  }

  unlockBatch(group: string, mqs: readonly MessageQueueKey[], clientId: string): void {
    const g = this.table.get(group);
    if (!g) return;
    for (const mq of mqs) {
      const k = RebalanceLockManager.key(mq);
      if (g.get(k)?.clientId === clientId) g.delete(k);
    }
  }

  isLocked(group: string, mq: MessageQueueKey, clientId: string, now = Date.now()): boolean {
    const e = this.table.get(group)?.get(RebalanceLockManager.key(mq));
    return e !== undefined && e.clientId === clientId && now - e.lastUpdate <= this.lockMaxLiveTimeMs;
  }
}
