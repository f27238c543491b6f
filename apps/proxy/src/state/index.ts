// The proxies' shared state: in memory for a lone proxy, in Redis when several share one address.
import { MemoryState } from './memory-state.js';
import { RedisState } from './redis-state.js';
import type { SharedState, StateLog } from './shared-state.js';

export * from './shared-state.js';
export { MemoryState, type MemoryStateOptions } from './memory-state.js';
export { RedisState, DEFAULT_KEY_PREFIX, parseRedisAddr, type RedisStateOptions } from './redis-state.js';

export interface CreateSharedStateOptions {
  /** "host:port" of the Redis the proxies share; unset or empty for a lone proxy (state in memory). */
  redisAddr?: string | undefined;
  keyPrefix?: string | undefined;
  proxyId?: string | undefined;
  log?: StateLog | undefined;
  /** How long to wait for Redis at start (default 10 000 ms); it rejects after that. */
  connectTimeoutMs?: number | undefined;
}

/** Redis-backed state when redisAddr is set (connected and ready when this resolves), memory otherwise. */
export async function createSharedState(opts: CreateSharedStateOptions = {}): Promise<SharedState> {
  if (opts.redisAddr !== undefined && opts.redisAddr !== '') {
    return RedisState.connect({ redisAddr: opts.redisAddr, keyPrefix: opts.keyPrefix, proxyId: opts.proxyId, log: opts.log }, opts.connectTimeoutMs);
  }
  return new MemoryState({ proxyId: opts.proxyId, log: opts.log });
}
