/**
 * SharedState for a proxy that runs alone: plain maps in this process. Expiry is checked on every
 * read, so an expired entry is never visible; a periodic sweep (an unref'd timer) frees the memory
 * of entries nobody reads again. TTLs run on the monotonic clock, so a wall-clock jump neither
 * expires nor revives a session; only TransactionData.expireAt, defined as epoch ms, is compared
 * with Date.now().
 */
import { performance } from 'node:perf_hooks';
import {
  MAX_TRANSACTIONS_PER_KEY,
  SharedStateError,
  newProxyId,
  type ClientSession,
  type ProxyCommand,
  type SharedState,
  type StateLog,
  type TransactionData,
} from './shared-state.js';

export interface MemoryStateOptions {
  proxyId?: string;
  log?: StateLog;
  /** How often expired entries are dropped (default 5 000 ms). */
  sweepIntervalMs?: number;
}

interface SessionEntry {
  session: ClientSession;
  /** Monotonic ms after which the session is gone. */
  deadline: number;
}

interface ClaimEntry {
  owner: string;
  deadline: number;
}

interface Bucket {
  tokens: number;
  /** Monotonic ms of the last refill. */
  at: number;
  /** Monotonic ms after which an idle bucket would be full again, so it can be forgotten. */
  idleUntil: number;
}

const now = (): number => performance.now();

export class MemoryState implements SharedState {
  readonly proxyId: string;
  private readonly log: StateLog | undefined;
  private readonly sessions = new Map<string, SessionEntry>();
  /** topic → producer client ids; holds ids whose session may have expired since (filtered on read). */
  private readonly topicProducers = new Map<string, Set<string>>();
  /** group → client ids, filtered on read in the same way. */
  private readonly groupClients = new Map<string, Set<string>>();
  private readonly claims = new Map<string, ClaimEntry>();
  private readonly transactions = new Map<string, TransactionData[]>();
  private readonly buckets = new Map<string, Bucket>();
  private readonly handlers: Array<(cmd: ProxyCommand) => void> = [];
  private readonly sweepTimer: NodeJS.Timeout;
  private closed = false;

  constructor(opts: MemoryStateOptions = {}) {
    this.proxyId = opts.proxyId ?? newProxyId();
    this.log = opts.log;
    this.sweepTimer = setInterval(() => this.sweep(), opts.sweepIntervalMs ?? 5_000);
    this.sweepTimer.unref();
  }

  // ---- sessions

  async putSession(s: ClientSession, ttlMs: number): Promise<void> {
    this.checkOpen();
    this.unindex(s.clientId);
    const session = copySession(s);
    this.sessions.set(s.clientId, { session, deadline: now() + ttlMs });
    if (session.kind === 'PRODUCER') for (const t of session.topics) addTo(this.topicProducers, t, s.clientId);
    if (session.group !== undefined) addTo(this.groupClients, session.group, s.clientId);
  }

  async getSession(clientId: string): Promise<ClientSession | undefined> {
    this.checkOpen();
    const e = this.liveSession(clientId);
    return e === undefined ? undefined : copySession(e.session);
  }

  async touchSession(clientId: string, ttlMs: number): Promise<boolean> {
    this.checkOpen();
    const e = this.liveSession(clientId);
    if (e === undefined) return false;
    e.deadline = now() + ttlMs;
    e.session.lastSeen = Date.now();
    e.session.proxyId = this.proxyId;
    return true;
  }

  async removeSession(clientId: string): Promise<void> {
    this.checkOpen();
    this.unindex(clientId);
    this.sessions.delete(clientId);
  }

  async producersOfTopic(topic: string): Promise<string[]> {
    this.checkOpen();
    return this.liveMembers(this.topicProducers, topic);
  }

  async clientsOfGroup(group: string): Promise<string[]> {
    this.checkOpen();
    return this.liveMembers(this.groupClients, group);
  }

  // ---- telemetry ownership

  async claimTelemetry(clientId: string, ttlMs: number): Promise<void> {
    this.checkOpen();
    this.claims.set(clientId, { owner: this.proxyId, deadline: now() + ttlMs });
  }

  async releaseTelemetry(clientId: string): Promise<void> {
    this.checkOpen();
    if (this.liveClaim(clientId)?.owner === this.proxyId) this.claims.delete(clientId);
  }

  async telemetryOwner(clientId: string): Promise<string | undefined> {
    this.checkOpen();
    return this.liveClaim(clientId)?.owner;
  }

  // ---- commands

  async sendCommand(proxyId: string, cmd: ProxyCommand): Promise<void> {
    this.checkOpen();
    if (proxyId !== this.proxyId) {
      // A lone proxy has no peers: whoever named another proxy holds a stale owner record.
      this.log?.debug(`command for ${cmd.clientId} to unknown proxy ${proxyId} dropped`);
      return;
    }
    const copy: ProxyCommand = { clientId: cmd.clientId, payload: cmd.payload };
    setImmediate(() => this.deliver(copy));
  }

  onCommand(handler: (cmd: ProxyCommand) => void): void {
    this.handlers.push(handler);
  }

  // ---- transactions

  async putTransaction(data: TransactionData): Promise<void> {
    this.checkOpen();
    if (data.expireAt <= Date.now()) return;
    const key = txKey(data.topic, data.transactionId);
    const list = this.transactions.get(key) ?? [];
    list.unshift({ ...data });
    if (list.length > MAX_TRANSACTIONS_PER_KEY) list.length = MAX_TRANSACTIONS_PER_KEY;
    this.transactions.set(key, list);
  }

  async takeTransaction(topic: string, transactionId: string): Promise<TransactionData | undefined> {
    this.checkOpen();
    const key = txKey(topic, transactionId);
    const list = this.transactions.get(key);
    if (list === undefined) return undefined;
    const t = Date.now();
    const live = list.filter((d) => d.expireAt > t);
    const taken = live.shift();
    if (live.length === 0) this.transactions.delete(key);
    else this.transactions.set(key, live);
    return taken;
  }

  // ---- rate limits

  async tryAcquire(key: string, permits: number, ratePerSec: number, burst: number): Promise<boolean> {
    this.checkOpen();
    const t = now();
    let b = this.buckets.get(key);
    if (b === undefined || b.idleUntil <= t) {
      b = { tokens: burst, at: t, idleUntil: t };
      this.buckets.set(key, b);
    } else {
      b.tokens = Math.min(burst, b.tokens + ((t - b.at) * Math.max(0, ratePerSec)) / 1000);
      b.at = t;
    }
    const ok = permits <= b.tokens;
    if (ok) b.tokens -= permits;
    b.idleUntil = t + bucketIdleMs(burst - b.tokens, ratePerSec);
    return ok;
  }

  isReady(): boolean {
    return !this.closed;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweepTimer);
  }

  /** How many entries the maps hold, expired ones not yet swept included (for metrics and tests). */
  entryCount(): { sessions: number; claims: number; transactionKeys: number; buckets: number } {
    return { sessions: this.sessions.size, claims: this.claims.size, transactionKeys: this.transactions.size, buckets: this.buckets.size };
  }

  /** Drops every expired entry (runs on the timer; public for tests). */
  sweep(): void {
    const t = now();
    for (const [id, e] of this.sessions) {
      if (e.deadline <= t) {
        this.unindex(id);
        this.sessions.delete(id);
      }
    }
    for (const [id, c] of this.claims) if (c.deadline <= t) this.claims.delete(id);
    for (const [k, b] of this.buckets) if (b.idleUntil <= t) this.buckets.delete(k);
    const wall = Date.now();
    for (const [k, list] of this.transactions) {
      const live = list.filter((d) => d.expireAt > wall);
      if (live.length === 0) this.transactions.delete(k);
      else if (live.length < list.length) this.transactions.set(k, live);
    }
  }

  private deliver(cmd: ProxyCommand): void {
    if (this.closed) return;
    if (this.handlers.length === 0) this.log?.debug(`command for ${cmd.clientId} arrived with no handler`);
    for (const h of this.handlers) {
      try {
        h(cmd);
      } catch (e) {
        this.log?.error(`command handler failed for ${cmd.clientId}`, e);
      }
    }
  }

  private liveSession(clientId: string): SessionEntry | undefined {
    const e = this.sessions.get(clientId);
    if (e === undefined) return undefined;
    if (e.deadline > now()) return e;
    this.unindex(clientId);
    this.sessions.delete(clientId);
    return undefined;
  }

  private liveClaim(clientId: string): ClaimEntry | undefined {
    const c = this.claims.get(clientId);
    if (c === undefined) return undefined;
    if (c.deadline > now()) return c;
    this.claims.delete(clientId);
    return undefined;
  }

  private liveMembers(index: Map<string, Set<string>>, name: string): string[] {
    const ids = index.get(name);
    if (ids === undefined) return [];
    return [...ids].filter((id) => this.liveSession(id) !== undefined);
  }

  /** Takes a client out of the indexes its current session put it in. */
  private unindex(clientId: string): void {
    const old = this.sessions.get(clientId)?.session;
    if (old === undefined) return;
    if (old.kind === 'PRODUCER') for (const t of old.topics) removeFrom(this.topicProducers, t, clientId);
    if (old.group !== undefined) removeFrom(this.groupClients, old.group, clientId);
  }

  private checkOpen(): void {
    if (this.closed) throw new SharedStateError('shared state is closed');
  }
}

/** How long until a bucket missing `deficit` tokens is full again (so forgetting it changes nothing). */
export function bucketIdleMs(deficit: number, ratePerSec: number): number {
  if (deficit <= 0) return 0;
  if (ratePerSec <= 0) return 3_600_000;
  return Math.ceil((deficit * 1000) / ratePerSec);
}

function txKey(topic: string, transactionId: string): string {
  return `${topic}\u0000${transactionId}`;
}

function copySession(s: ClientSession): ClientSession {
  return { ...s, topics: [...s.topics] };
}

function addTo(index: Map<string, Set<string>>, name: string, id: string): void {
  let set = index.get(name);
  if (set === undefined) index.set(name, (set = new Set()));
  set.add(id);
}

function removeFrom(index: Map<string, Set<string>>, name: string, id: string): void {
  const set = index.get(name);
  if (set === undefined) return;
  set.delete(id);
  if (set.size === 0) index.delete(name);
}
