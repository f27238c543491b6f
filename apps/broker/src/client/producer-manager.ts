import type { ClientChannel, ClientChannelInfo } from './channel.js';

/** Producer groups and their connections (for GET_PRODUCER_CONNECTION_LIST and transaction check-backs). */
export class ProducerManager {
  readonly groups = new Map<string, Map<ClientChannel, ClientChannelInfo>>();

  constructor(private readonly channelExpiredTimeoutMs: number) {}

  register(group: string, info: ClientChannelInfo): void {
    let m = this.groups.get(group);
    if (!m) this.groups.set(group, (m = new Map()));
    m.set(info.channel, info);
  }

  unregister(group: string, channel: ClientChannel): void {
    const m = this.groups.get(group);
    if (!m) return;
    m.delete(channel);
    if (m.size === 0) this.groups.delete(group);
  }

  channelClosed(channel: ClientChannel): void {
    for (const [g, m] of [...this.groups]) {
      m.delete(channel);
      if (m.size === 0) this.groups.delete(g);
    }
  }

  scanNotActive(now = Date.now()): ClientChannel[] {
    const out: ClientChannel[] = [];
    for (const m of this.groups.values()) {
      for (const [ch, info] of m) if (now - info.lastUpdateTimestamp > this.channelExpiredTimeoutMs || ch.isClosed) out.push(ch);
    }
    return out;
  }

  /** Some live connection of the group, rotating, for a check-back. */
  availableChannel(group: string): ClientChannel | undefined {
    const m = this.groups.get(group);
    if (!m) return undefined;
    const live = [...m.keys()].filter((ch) => !ch.isClosed);
    if (live.length === 0) return undefined;
    return live[this.turn++ % live.length];
  }

  private turn = 0;
}
