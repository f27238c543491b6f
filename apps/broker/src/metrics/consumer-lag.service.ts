import { Inject, Injectable } from '@nestjs/common';
import type { MessageStore } from '@rocketmq-ts/store';
import { ConsumerOffsetManager } from '../offset/consumer-offset-manager.js';
import { SubscriptionGroupManager } from '../subscription/subscription-group-manager.js';
import { TopicConfigManager } from '../topic/topic-config-manager.js';
import { MESSAGE_STORE } from '../tokens.js';

export interface ConsumerLagRow {
  topic: string;
  group: string;
  queueId: number;
  /** Messages stored but not yet committed by the group. */
  lagMessages: number;
  /** Age of the oldest uncommitted message, ms. */
  lagMs: number;
}

/** Consumer lag and store size, computed on demand (metrics scrape time, the dashboard). */
@Injectable()
export class ConsumerLagService {
  constructor(
    @Inject(MESSAGE_STORE) private readonly store: MessageStore,
    private readonly offsets: ConsumerOffsetManager,
    private readonly topics: TopicConfigManager,
    private readonly groups: SubscriptionGroupManager,
  ) {}

  /** Bytes of message data held (commit-log span). */
  storeSizeBytes(): number {
    return Math.max(0, this.store.getMaxPhyOffset() - this.store.getMinPhyOffset());
  }

  /** Lag of every group with committed offsets, per queue. */
  async consumerLag(): Promise<ConsumerLagRow[]> {
    const out: ConsumerLagRow[] = [];
    const now = Date.now();
    for (const [key, queues] of this.offsets.offsetTable) {
      const at = key.indexOf('@');
      const topic = key.slice(0, at);
      const group = key.slice(at + 1);
      // Only live topics and known groups: series of deleted ones must not come back.
      if (!this.topics.get(topic) || !this.groups.table.has(group)) continue;
      for (const [queueId, committed] of queues) {
        const max = this.store.getMaxOffsetInQueue(topic, queueId);
        const lag = Math.max(0, max - committed);
        let lagMs = 0;
        if (lag > 0) {
          const ts = await this.store.getMessageStoreTimeStamp(topic, queueId, Math.max(committed, this.store.getMinOffsetInQueue(topic, queueId)));
          if (ts > 0) lagMs = Math.max(0, now - ts);
        }
        out.push({ topic, group, queueId, lagMessages: lag, lagMs });
      }
    }
    return out;
  }
}
