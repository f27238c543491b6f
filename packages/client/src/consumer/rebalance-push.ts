// The push consumer's share of the queues: allocation, the process-queue table, and orderly queue locks.
import { setTimeout as sleep } from 'node:timers/promises';
import { MixAll } from '@rocketmq-ts/protocol';
import { mqKey, type MessageQueue } from '../message-queue.js';
import type { AllocateStrategy } from './allocate.js';
import type { ConsumeService } from './consume-service.js';
import { ProcessQueue } from './process-queue.js';
import type { PullMessageService } from './pull-message-service.js';
import type { PushContext } from './push-context.js';
import { PUSH_CONSUMER_DEFAULTS } from './push-options.js';
import { allocateQueues } from './rebalance.js';

/** An owned queue and what has been pulled from it. */
export interface QueueEntry {
  mq: MessageQueue;
  pq: ProcessQueue;
}

function byBroker<T>(items: Iterable<T>, brokerName: (t: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const t of items) {
    const name = brokerName(t);
    out.set(name, [...(out.get(name) ?? []), t]);
  }
  return out;
}

/**
 * Broker locks for orderly clustering: only the client holding a queue's lock consumes it, so
 * order holds across a rebalance. The broker's lease is 60 s; the rebalance service renews.
 */
export class QueueLocks {
  constructor(private readonly ctx: PushContext) {}

  /** Locks one queue; on success marks `pq` locked. */
  async lock(mq: MessageQueue, pq: ProcessQueue): Promise<boolean> {
    const { instance: inst, group, log } = this.ctx;
    const addr = inst.findBrokerAddressInPublish(mq.brokerName);
    if (addr === undefined) return false;
    try {
      const locked = await inst.api.lockBatchMQ(addr, group, inst.clientId, [mq]);
      if (!locked.some((q) => q.queueId === mq.queueId && q.topic === mq.topic && q.brokerName === mq.brokerName)) return false;
    } catch (e) {
      log.warn('lock.failed', 'LOCK_BATCH_MQ failed', { topic: mq.topic, brokerName: mq.brokerName, queueId: mq.queueId }, e);
      return false;
    }
    pq.locked = true;
    pq.lastLockTimestamp = Date.now();
    return true;
  }

  /** Relocks the entries broker by broker and marks each locked or not; `onLocked` runs for each one that is. */
  async renew(entries: Iterable<QueueEntry>, onLocked: (e: QueueEntry) => void): Promise<void> {
    const { instance: inst, group, log } = this.ctx;
    for (const [brokerName, list] of byBroker(entries, (e) => e.mq.brokerName)) {
      const addr = inst.findBrokerAddressInPublish(brokerName);
      if (addr === undefined) continue;
      try {
        const ok = new Set(
          (
            await inst.api.lockBatchMQ(
              addr,
              group,
              inst.clientId,
              list.map((e) => e.mq),
            )
          ).map(mqKey),
        );
        const now = Date.now();
        for (const e of list) {
          e.pq.locked = ok.has(mqKey(e.mq));
          if (!e.pq.locked) continue;
          e.pq.lastLockTimestamp = now;
          onLocked(e);
        }
      } catch (e) {
        log.warn('lock.failed', 'renewing queue locks failed', { brokerName }, e);
      }
    }
  }

  async unlock(mqs: readonly MessageQueue[]): Promise<void> {
    const { instance: inst, group, log } = this.ctx;
    for (const [brokerName, list] of byBroker(mqs, (q) => q.brokerName)) {
      const addr = inst.findBrokerAddressInPublish(brokerName);
      if (addr === undefined) continue;
      await inst.api
        .unlockBatchMQ(addr, group, inst.clientId, list)
        .catch((e: unknown) => log.debug('unlock.failed', `unlock on ${brokerName} failed: ${(e as Error).message}`));
    }
  }
}

/**
 * Keeps the process-queue table equal to this client's share of each subscribed topic (RocketMQ's
 * RebalancePushImpl): new queues start pulling where the group left off, released queues commit
 * their offset first. Orderly clustering takes a queue only with its broker lock.
 */
export class RebalancePushService {
  private readonly table = new Map<string, QueueEntry>();

  constructor(
    private readonly ctx: PushContext,
    private readonly strategy: AllocateStrategy,
    /** Every queue of each topic, as the client core last read the routes. */
    private readonly subscribeInfo: ReadonlyMap<string, MessageQueue[]>,
    private readonly pull: PullMessageService,
    private readonly consume: ConsumeService,
    private readonly locks: QueueLocks,
  ) {}

  /** Orderly clustering: queues are consumed under a broker lock. */
  private get locking(): boolean {
    return this.consume.orderly && this.ctx.messageModel === 'CLUSTERING';
  }

  /** Starts renewing the locks (orderly clustering). */
  start(): void {
    if (this.locking) this.ctx.timers.every(PUSH_CONSUMER_DEFAULTS.lockIntervalMs, () => void this.lockAll());
  }

  assignment(): MessageQueue[] {
    return [...this.table.values()].map((e) => e.mq);
  }

  entries(): IterableIterator<QueueEntry> {
    return this.table.values();
  }

  /** An orderly consume loop is running on some queue. */
  get consuming(): boolean {
    return [...this.table.values()].some((e) => e.pq.consumeRunning);
  }

  async doRebalance(): Promise<void> {
    const { ctx } = this;
    if (!ctx.isRunning()) return;
    for (const [topic] of ctx.subs) {
      const all = this.subscribeInfo.get(topic);
      if (!all) {
        ctx.log.debug('rebalance.noroute', 'no route for a subscribed topic yet', { topic, group: ctx.group });
        continue;
      }
      const mine = await allocateQueues(ctx.instance, ctx.group, ctx.messageModel, this.strategy, topic, all);
      if (mine === undefined) continue;
      await this.updateProcessQueueTable(topic, mine);
    }
    // Queues of topics no longer subscribed.
    for (const [k, e] of [...this.table]) {
      if (!ctx.subs.has(e.mq.topic)) {
        e.pq.dropped = true;
        this.table.delete(k);
        await this.removeUnnecessaryQueue(e.mq, e.pq);
      }
    }
  }

  private async updateProcessQueueTable(topic: string, mine: readonly MessageQueue[]): Promise<void> {
    const { ctx } = this;
    const want = new Map(mine.map((q) => [mqKey(q), q]));
    let changed = false;
    for (const [k, e] of [...this.table]) {
      if (e.mq.topic !== topic || want.has(k)) continue;
      e.pq.dropped = true;
      this.table.delete(k);
      changed = true;
      await this.removeUnnecessaryQueue(e.mq, e.pq);
    }
    for (const [k, mq] of want) {
      if (this.table.has(k) || !ctx.isRunning()) continue;
      const pq = new ProcessQueue();
      if (this.locking && !(await this.locks.lock(mq, pq))) {
        ctx.log.info('rebalance.lock.failed', 'queue is locked by another consumer; will try later', { topic, brokerName: mq.brokerName, queueId: mq.queueId });
        continue;
      }
      ctx.offsetStore.removeOffset(mq);
      const next = await this.computePullFromWhere(mq);
      if (next < 0) {
        ctx.log.warn('rebalance.offset.unknown', 'could not compute where to pull from; will retry at the next rebalance', {
          topic,
          brokerName: mq.brokerName,
          queueId: mq.queueId,
        });
        if (pq.locked) void this.locks.unlock([mq]);
        continue;
      }
      if (this.table.has(k) || !ctx.isRunning()) continue;
      ctx.offsetStore.updateOffset(mq, next, false);
      this.table.set(k, { mq, pq });
      changed = true;
      void this.pullQueue(mq, pq, next);
    }
    if (changed) {
      ctx.log.info('rebalance.changed', 'queue assignment changed', {
        topic,
        group: ctx.group,
        clientId: ctx.instance.clientId,
        queues: [...this.table.values()]
          .filter((e) => e.mq.topic === topic)
          .map((e) => `${e.mq.brokerName}:${e.mq.queueId}`)
          .join(','),
      });
    }
  }

  /** Pulls until the queue is dropped; an offset the broker calls illegal restarts the queue at the one it suggests. */
  private async pullQueue(mq: MessageQueue, pq: ProcessQueue, offset: number): Promise<void> {
    const suggested = await this.pull.pullQueue(mq, pq, offset);
    if (suggested === undefined) return;
    const store = this.ctx.offsetStore;
    const k = mqKey(mq);
    if (this.table.get(k)?.pq === pq) this.table.delete(k);
    store.updateOffset(mq, suggested, false);
    await store.persist(mq).catch(() => undefined);
    store.removeOffset(mq);
    this.ctx.instance.rebalanceImmediately();
  }

  private async removeUnnecessaryQueue(mq: MessageQueue, pq: ProcessQueue): Promise<void> {
    const store = this.ctx.offsetStore;
    if (this.locking) {
      // Let the running listener call finish so its offset is committed before another client takes over.
      const deadline = Date.now() + 1_000;
      while (pq.consumeRunning && Date.now() < deadline) await sleep(10);
    }
    try {
      await store.persist(mq);
    } catch (e) {
      this.ctx.log.warn(
        'offset.persist.failed',
        'could not commit the offset of a released queue',
        { topic: mq.topic, brokerName: mq.brokerName, queueId: mq.queueId },
        e,
      );
    }
    store.removeOffset(mq);
    if (this.locking) await this.locks.unlock([mq]);
  }

  /** Where a newly owned queue starts: its committed offset, else per consumeFromWhere; -1 when unknown. */
  private async computePullFromWhere(mq: MessageQueue): Promise<number> {
    const { instance: inst, offsetStore: store } = this.ctx;
    const last = await store.readOffset(mq, 'READ_FROM_STORE');
    if (last >= 0) return last;
    if (last === -2) return -1;
    const addr = inst.findBrokerAddressInPublish(mq.brokerName) ?? inst.findBrokerAddressInSubscribe(mq.brokerName)?.addr;
    const isRetry = mq.topic.startsWith(MixAll.RETRY_GROUP_TOPIC_PREFIX);
    try {
      switch (this.ctx.consumeFromWhere) {
        case 'CONSUME_FROM_FIRST_OFFSET':
          return 0;
        case 'CONSUME_FROM_TIMESTAMP':
          if (addr === undefined) return -1;
          return isRetry ? await inst.api.getMaxOffset(addr, mq) : await inst.api.searchOffset(addr, mq, this.ctx.o.consumeTimestamp);
        default:
          if (isRetry) return 0;
          if (addr === undefined) return -1;
          return await inst.api.getMaxOffset(addr, mq);
      }
    } catch (e) {
      this.ctx.log.warn('offset.compute.failed', 'could not read the queue offsets', { topic: mq.topic, brokerName: mq.brokerName, queueId: mq.queueId }, e);
      return -1;
    }
  }

  /** The broker moved the group's offsets: drop the topic's queues, store the offsets, take the queues again. */
  async resetOffset(topic: string, offsets: ReadonlyArray<[MessageQueue, number]>): Promise<void> {
    // Only the queues the broker named start over: a reset of one queue leaves the others pulling
    // (dropping them too would have their next pull commit the old in-memory offset, which may
    // land after the broker reset them next).
    const named = new Set(offsets.map(([mq]) => mqKey(mq)));
    for (const [k, e] of [...this.table]) {
      if (e.mq.topic !== topic || !named.has(k)) continue;
      e.pq.dropped = true;
      e.pq.clear();
      this.table.delete(k);
    }
    const store = this.ctx.offsetStore;
    for (const [mq, off] of offsets) store.updateOffset(mq, off, false);
    await store.persistAll(offsets.map(([mq]) => mq)).catch(() => undefined);
    for (const [mq] of offsets) store.removeOffset(mq);
    this.ctx.instance.rebalanceImmediately();
  }

  /** Renews the locks of every owned queue; a relocked queue with messages waiting resumes consuming. */
  private async lockAll(): Promise<void> {
    if (!this.ctx.isRunning()) return;
    await this.locks.renew(this.table.values(), (e) => {
      if (!e.pq.consumeRunning && e.pq.msgCount > 0) this.consume.submit([], e.pq, e.mq);
    });
  }

  /** At shutdown: gives every queue up (unlocking them when orderly); `mqs` had their offsets committed. */
  async releaseAll(mqs: readonly MessageQueue[]): Promise<void> {
    if (this.locking) await this.locks.unlock(mqs);
    for (const e of this.table.values()) e.pq.dropped = true;
    this.table.clear();
  }
}
