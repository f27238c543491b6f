/**
 * What several proxies behind one address share (DESIGN.md §7): client sessions and their
 * settings, which proxy holds each client's telemetry stream, commands routed to that proxy,
 * transaction data for EndTransaction, and cluster-wide rate limits. Redis backs it when
 * `redisAddr` is set; otherwise one proxy keeps it in memory. Both implementations pass the same
 * contract suite. Nothing here is on the durable message path: losing it loses no message.
 *
 * Failure model: any method may reject (with a `SharedStateError`) when the store cannot be
 * reached; no call hangs past a bounded time. A caller treats a rejected call as "unknown" and
 * goes on (for example, a heartbeat whose touchSession failed is still answered).
 */

import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';

export type ClientKind = 'PRODUCER' | 'PUSH_CONSUMER' | 'SIMPLE_CONSUMER' | 'PULL_CONSUMER' | 'LITE_PUSH_CONSUMER';

/** A 5.x client as the proxies know it, from its Settings and Heartbeats. */
export interface ClientSession {
  clientId: string;
  kind: ClientKind;
  /** Consumer group (consumers only). */
  group?: string | undefined;
  /** Publishing topics (producers) or subscribed topics (consumers). */
  topics: string[];
  /** The client's Settings as the proxy keeps them (opaque to the store: JSON text). */
  settings: string;
  /** Proxy that last saw the client (its heartbeat or settings). */
  proxyId: string;
  /** ms since epoch of the last heartbeat/settings. */
  lastSeen: number;
}

/** Transaction entries kept per (topic, transactionId); the newest win. */
export const MAX_TRANSACTIONS_PER_KEY = 15;

/** What a proxy needs to forward EndTransaction to the broker that holds the half message. */
export interface TransactionData {
  brokerName: string;
  topic: string;
  producerGroup: string;
  /** Consume-queue offset of the half (tranStateTableOffset). */
  tranStateTableOffset: number;
  commitLogOffset: number;
  transactionId: string;
  messageId: string;
  /** ms since epoch after which the data is gone. */
  expireAt: number;
}

/** A command for whichever proxy holds a client's telemetry stream. `payload` is opaque JSON text. */
export interface ProxyCommand {
  clientId: string;
  payload: string;
}

export interface SharedState {
  /** This proxy's id (unique per process). */
  readonly proxyId: string;

  // ---- sessions: every key expires; a heartbeat renews it.
  putSession(s: ClientSession, ttlMs: number): Promise<void>;
  getSession(clientId: string): Promise<ClientSession | undefined>;
  /**
   * Renews the TTL and marks the session as last seen now by this proxy (`lastSeen`, `proxyId`);
   * false when the session is gone (expired, removed or never put).
   */
  touchSession(clientId: string, ttlMs: number): Promise<boolean>;
  removeSession(clientId: string): Promise<void>;
  /** Live producer clients that publish `topic` (for transaction check-backs), in no particular order. */
  producersOfTopic(topic: string): Promise<string[]>;
  /** Live clients whose session names `group`, in no particular order. */
  clientsOfGroup(group: string): Promise<string[]>;

  // ---- telemetry ownership: the proxy holding the client's stream.
  /** Makes this proxy the owner for ttlMs (the newest claim wins: a client that reconnects elsewhere moves). */
  claimTelemetry(clientId: string, ttlMs: number): Promise<void>;
  /** Releases only when this proxy is still the owner. */
  releaseTelemetry(clientId: string): Promise<void>;
  telemetryOwner(clientId: string): Promise<string | undefined>;

  // ---- commands to the proxy that owns a client's stream.
  /**
   * Delivers to `proxyId`'s handlers (possibly this proxy's own), at most once and never
   * synchronously. Resolves once published; a command for a proxy that is not listening is dropped.
   */
  sendCommand(proxyId: string, cmd: ProxyCommand): Promise<void>;
  /** Adds a handler for commands sent to this proxy (every handler sees every command). */
  onCommand(handler: (cmd: ProxyCommand) => void): void;

  // ---- transaction data keyed by (topic, transactionId); up to 15 entries per key, newest wins.
  putTransaction(data: TransactionData): Promise<void>;
  /** Removes and returns the newest unexpired entry for (topic, transactionId). */
  takeTransaction(topic: string, transactionId: string): Promise<TransactionData | undefined>;

  // ---- rate limits: a token bucket per key shared by every proxy.
  /** Takes `permits` tokens from `key`'s bucket (refilled at `ratePerSec`, at most `burst`); false when empty. */
  tryAcquire(key: string, permits: number, ratePerSec: number, burst: number): Promise<boolean>;

  /** True while calls can reach the store (always, in memory; connected and restored, with Redis). */
  isReady(): boolean;

  /** Stops timers and connections; the state of other proxies is untouched. Later calls reject. */
  close(): Promise<void>;
}

/** Why a shared-state call failed: the store is unreachable, slow, closed or returned nonsense. */
export class SharedStateError extends Error {
  override readonly name = 'SharedStateError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The smallest logger the state needs (the remoting package's Logger fits). */
export interface StateLog {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string, err?: unknown): void;
}

/** A proxy id unique to this process: host, pid and a random part. */
export function newProxyId(): string {
  return `${hostname()}@${process.pid}@${randomUUID().slice(0, 8)}`;
}
