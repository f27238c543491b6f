import { Inject, Injectable } from '@nestjs/common';
import type { BrokerConfig } from '../config.js';
import { SubscriptionGroupManager } from '../subscription/subscription-group-manager.js';
import { BROKER_CONFIG } from '../tokens.js';
import type { ClientChannel } from './channel.js';
import { ConsumerManager } from './consumer-manager.js';
import { ProducerManager } from './producer-manager.js';

/** Forgets clients whose connection closed or who stopped heartbeating (RocketMQ's ClientHousekeepingService). */
@Injectable()
export class ClientHousekeeping {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
    private readonly consumers: ConsumerManager,
    private readonly producers: ProducerManager,
    private readonly groups: SubscriptionGroupManager,
  ) {}

  start(): void {
    // RocketMQ scans every 10 s; a short channelExpiredTimeout (tests) is honoured more closely.
    const every = Math.max(100, Math.min(10_000, Math.floor(this.config.channelExpiredTimeout / 2)));
    this.timer ??= setInterval(() => this.scanNotActiveClients(), every);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  scanNotActiveClients(): void {
    const expired = new Set([...this.consumers.scanNotActive(), ...this.producers.scanNotActive()]);
    for (const ch of expired) this.clientGone(ch);
  }

  /** A client connection closed or expired: forget it everywhere. */
  clientGone(ch: ClientChannel): void {
    this.consumers.channelClosed(ch, (g) => this.notifyEnabled(g));
    this.producers.channelClosed(ch);
  }

  /** Whether the members of `group` are told when its membership changes. */
  notifyEnabled(group: string): boolean {
    return this.config.notifyConsumerIdsChangedEnable && (this.groups.table.get(group)?.notifyConsumerIdsChangedEnable ?? true);
  }
}
