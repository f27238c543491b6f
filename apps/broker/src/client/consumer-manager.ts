import { RemotingCommand, RequestCode, type ConsumerData, type HeartbeatData, type SubscriptionData } from '@rocketmq-ts/protocol';

export type { ConsumerData, HeartbeatData, SubscriptionData };
import type { ClientChannel, ClientChannelInfo } from './channel.js';

export class ConsumerGroupInfo {
  readonly channels = new Map<ClientChannel, ClientChannelInfo>();
  readonly subscriptions = new Map<string, SubscriptionData>();
  consumeType = 'CONSUME_PASSIVELY';
  messageModel = 'CLUSTERING';
  consumeFromWhere = 'CONSUME_FROM_LAST_OFFSET';
  lastUpdateTimestamp = Date.now();
  constructor(readonly groupName: string) {}

  clientIds(): string[] {
    return [...this.channels.values()].map((c) => c.clientId);
  }
}

export type ConsumerGroupEvent = 'change' | 'register' | 'unregister';
export type ConsumerGroupListener = (event: ConsumerGroupEvent, group: string) => void;

/**
 * Consumer groups as learnt from heartbeats: who is connected, what they subscribe. Membership
 * changes are pushed to the group's members (NOTIFY_CONSUMER_IDS_CHANGED) so they rebalance.
 */
export class ConsumerManager {
  readonly groups = new Map<string, ConsumerGroupInfo>();
  private readonly listeners: ConsumerGroupListener[] = [];

  constructor(private readonly channelExpiredTimeoutMs: number) {}

  onEvent(l: ConsumerGroupListener): void {
    this.listeners.push(l);
  }

  get(group: string): ConsumerGroupInfo | undefined {
    return this.groups.get(group);
  }

  findSubscription(group: string, topic: string): SubscriptionData | undefined {
    return this.groups.get(group)?.subscriptions.get(topic);
  }

  /**
   * Registers or refreshes a consumer; returns true when membership or subscriptions changed
   * (the caller then notifies the group when the group allows it).
   */
  register(data: ConsumerData, info: ClientChannelInfo, notify: boolean): boolean {
    let g = this.groups.get(data.groupName);
    const isNew = !g;
    if (!g) this.groups.set(data.groupName, (g = new ConsumerGroupInfo(data.groupName)));
    g.consumeType = data.consumeType;
    g.messageModel = data.messageModel;
    g.consumeFromWhere = data.consumeFromWhere;
    g.lastUpdateTimestamp = Date.now();
    const prev = g.channels.get(info.channel);
    let changed = false;
    if (!prev || prev.clientId !== info.clientId) changed = true;
    g.channels.set(info.channel, info);
    // Subscriptions: take the heartbeat's set; a newer subVersion replaces, removed topics go.
    const seen = new Set<string>();
    for (const s of data.subscriptionDataSet) {
      seen.add(s.topic);
      const old = g.subscriptions.get(s.topic);
      if (!old || old.subString !== s.subString || old.expressionType !== s.expressionType) changed = true;
      if (!old || old.subVersion <= s.subVersion || old.subString !== s.subString) g.subscriptions.set(s.topic, s);
    }
    for (const t of [...g.subscriptions.keys()]) {
      if (!seen.has(t)) {
        g.subscriptions.delete(t);
        changed = true;
      }
    }
    if (isNew) this.emit('register', data.groupName);
    if (changed && notify) this.notifyIdsChanged(g);
    if (changed) this.emit('change', data.groupName);
    return changed;
  }

  unregister(group: string, channel: ClientChannel, notify: boolean): void {
    const g = this.groups.get(group);
    if (!g || !g.channels.delete(channel)) return;
    if (g.channels.size === 0) {
      this.groups.delete(group);
      this.emit('unregister', group);
    } else if (notify) {
      this.notifyIdsChanged(g);
    }
    this.emit('change', group);
  }

  /** A connection closed or expired: remove it everywhere and tell the remaining members. */
  channelClosed(channel: ClientChannel, notifyFor: (group: string) => boolean): void {
    for (const g of [...this.groups.values()]) {
      if (g.channels.has(channel)) this.unregister(g.groupName, channel, notifyFor(g.groupName));
    }
  }

  /** Drops channels silent for longer than channelExpiredTimeout; returns them so the caller can close them. */
  scanNotActive(now = Date.now()): ClientChannel[] {
    const expired: ClientChannel[] = [];
    for (const g of this.groups.values()) {
      for (const [ch, info] of g.channels) {
        if (now - info.lastUpdateTimestamp > this.channelExpiredTimeoutMs || ch.isClosed) expired.push(ch);
      }
    }
    return expired;
  }

  notifyIdsChanged(g: ConsumerGroupInfo): void {
    for (const ch of g.channels.keys()) {
      if (ch.isClosed) continue;
      const cmd = RemotingCommand.request(RequestCode.NOTIFY_CONSUMER_IDS_CHANGED, { consumerGroup: g.groupName });
      cmd.markOneway();
      try {
        ch.invokeOneway(cmd);
      } catch {
        // the connection is going away; its close event cleans up
      }
    }
  }

  /** Groups subscribing to a topic. */
  groupsOfTopic(topic: string): string[] {
    const out: string[] = [];
    for (const g of this.groups.values()) if (g.subscriptions.has(topic)) out.push(g.groupName);
    return out;
  }

  private emit(e: ConsumerGroupEvent, group: string): void {
    for (const l of this.listeners) l(e, group);
  }
}
