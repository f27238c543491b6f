// TEMPORARY STUB (not committed): replaced by the helper's memory/redis implementation.
import { randomUUID } from 'node:crypto';
import type { ClientSession, ProxyCommand, SharedState, TransactionData } from './shared-state.js';
export * from './shared-state.js';
class StubState implements SharedState {
  readonly proxyId = randomUUID();
  private s = new Map<string, { v: ClientSession; exp: number }>();
  private tel = new Map<string, string>();
  private tx = new Map<string, TransactionData[]>();
  private h: ((c: ProxyCommand) => void) | undefined;
  async putSession(s: ClientSession, ttl: number) {
    this.s.set(s.clientId, { v: s, exp: Date.now() + ttl });
  }
  async getSession(id: string) {
    const e = this.s.get(id);
    return e && e.exp > Date.now() ? e.v : undefined;
  }
  async touchSession(id: string, ttl: number) {
    const e = this.s.get(id);
    if (!e) return false;
    e.exp = Date.now() + ttl;
    return true;
  }
  async removeSession(id: string) {
    this.s.delete(id);
  }
  async producersOfTopic(t: string) {
    return [...this.s.values()].filter((e) => e.exp > Date.now() && e.v.kind === 'PRODUCER' && e.v.topics.includes(t)).map((e) => e.v.clientId);
  }
  async clientsOfGroup(g: string) {
    return [...this.s.values()].filter((e) => e.v.group === g).map((e) => e.v.clientId);
  }
  async claimTelemetry(id: string) {
    this.tel.set(id, this.proxyId);
  }
  async releaseTelemetry(id: string) {
    this.tel.delete(id);
  }
  async telemetryOwner(id: string) {
    return this.tel.get(id);
  }
  async sendCommand(p: string, c: ProxyCommand) {
    if (p === this.proxyId) setImmediate(() => this.h?.(c));
  }
  onCommand(h: (c: ProxyCommand) => void) {
    this.h = h;
  }
  async putTransaction(d: TransactionData) {
    const k = d.topic + '@' + d.transactionId;
    this.tx.set(k, [d, ...(this.tx.get(k) ?? [])].slice(0, 15));
  }
  async takeTransaction(t: string, id: string) {
    const l = this.tx.get(t + '@' + id) ?? [];
    const i = l.findIndex((d) => d.expireAt > Date.now());
    if (i < 0) return undefined;
    return l.splice(i, 1)[0];
  }
  async tryAcquire() {
    return true;
  }
  async close() {}
}
export async function createSharedState(_o: { redisAddr?: string; keyPrefix?: string }): Promise<SharedState> {
  return new StubState();
}
