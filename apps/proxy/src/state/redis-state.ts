/**
 * SharedState in Redis, for several proxies behind one address (DESIGN.md §7). A standalone Redis
 * is assumed (the Lua scripts touch index keys they derive from the session, so Redis Cluster
 * slotting is not respected).
 *
 * Keys, all under `keyPrefix` and all with an expiry:
 *   s:<clientId>             hash {json, idx, seen, proxy}     PX = session ttl
 *   tp:<topic>               zset producer clientId → expiry    PEXPIRE = longest member ttl
 *   gc:<group>               zset clientId → expiry             PEXPIRE = longest member ttl
 *   tel:<clientId>           owning proxyId                     PX = claim ttl
 *   tx:<topic>:<txId>        list of TransactionData JSON, newest first, at most 15
 *   rl:<key>                 hash {tokens, at} of a token bucket, expires once it would be full
 *   channel cmd:<proxyId>    commands for that proxy (pub/sub)
 * Session indexes are written by the same script as the session, with scores taken from Redis
 * TIME, so index and session expire together whatever the proxies' clocks say. Topic names never
 * contain ':' (RocketMQ allows [%|a-zA-Z0-9_-]), so tx keys are unambiguous.
 *
 * Redis outage: the connections keep reconnecting (backoff up to maxReconnectDelayMs). Meanwhile
 * calls fail fast instead of queueing: the offline queue is off, a command in flight when the
 * connection drops is rejected at once (maxRetriesPerRequest 0, not re-sent later), and every
 * command has a timeout (opTimeoutMs) for a connection that hangs without closing. So each call
 * settles within about opTimeoutMs, and a call that failed never runs later behind the caller's
 * back (a late PUBLISH or claim could undo something newer). When the connection is back, the
 * state first re-writes what this proxy holds for its live clients (Redis here keeps nothing on
 * disk, so a restarted Redis is empty): the sessions it put or touched and the telemetry claims
 * it holds, each with its remaining ttl and only where no newer value exists. Calls that arrive
 * during that re-write wait for it. ioredis re-subscribes the command channel by itself; the state
 * subscribes once more on every (re)connect and counts itself ready only after Redis confirmed it.
 */
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Redis, type RedisOptions } from 'ioredis';
import {
  MAX_TRANSACTIONS_PER_KEY,
  SharedStateError,
  newProxyId,
  type ClientKind,
  type ClientSession,
  type ProxyCommand,
  type SharedState,
  type StateLog,
  type TransactionData,
} from './shared-state.js';

export interface RedisStateOptions {
  /** "host:port", "[v6addr]:port" or "host" (port 6379). */
  redisAddr: string;
  /** Prefix of every key and channel (default 'rmqts:proxy:'). */
  keyPrefix?: string;
  proxyId?: string;
  log?: StateLog;
  /** Bound on one Redis command, queued or sent (default 1 000 ms). */
  opTimeoutMs?: number;
  /** Longest pause between reconnect attempts (default 1 000 ms). */
  maxReconnectDelayMs?: number;
  /** How often this proxy's expired local copies are dropped (default 5 000 ms). */
  sweepIntervalMs?: number;
}

export const DEFAULT_KEY_PREFIX = 'rmqts:proxy:';

/** What this proxy wrote for one of its clients, to write again into an emptied Redis. */
interface LocalSession {
  session: ClientSession;
  /** Monotonic ms when the session expires unless renewed. */
  deadline: number;
}

interface LuaScript {
  readonly lua: string;
  readonly sha: string;
}

function lua(text: string): LuaScript {
  return { lua: text, sha: createHash('sha1').update(text).digest('hex') };
}

// Scripts read TIME before writing: fine on Redis 5+, and replicate_commands makes it so on 3.2/4.
const NOW_MS = `if redis.replicate_commands then redis.replicate_commands() end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function extend(key, ttl)
  if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end
end
`;

/**
 * KEYS[1] session hash, KEYS[2..] the index sets it belongs to now.
 * ARGV: clientId, session JSON, ttl ms, lastSeen, proxyId, '1' = only if absent, JSON of KEYS[2..].
 * Leaves the index sets of the previous version of the session. Returns 1, or 0 when skipped.
 */
const PUT_SESSION = lua(`${NOW_MS}
if ARGV[6] == '1' and redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local id, ttl = ARGV[1], tonumber(ARGV[3])
local keep = {}
for i = 2, #KEYS do keep[KEYS[i]] = true end
local old = redis.call('HGET', KEYS[1], 'idx')
if old then
  for _, k in ipairs(cjson.decode(old)) do
    if not keep[k] then redis.call('ZREM', k, id) end
  end
end
local expiry = now_ms() + ttl
for i = 2, #KEYS do
  redis.call('ZADD', KEYS[i], expiry, id)
  extend(KEYS[i], ttl)
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'json', ARGV[2], 'idx', ARGV[7], 'seen', ARGV[4], 'proxy', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ttl)
return 1
`);

/** KEYS[1] session hash. ARGV: clientId, ttl ms, lastSeen, proxyId. 1 when renewed, 0 when gone. */
const TOUCH_SESSION = lua(`${NOW_MS}
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local id, ttl = ARGV[1], tonumber(ARGV[2])
local expiry = now_ms() + ttl
local idx = redis.call('HGET', KEYS[1], 'idx')
if idx then
  for _, k in ipairs(cjson.decode(idx)) do
    redis.call('ZADD', k, expiry, id)
    extend(k, ttl)
  end
end
redis.call('HSET', KEYS[1], 'seen', ARGV[3], 'proxy', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ttl)
return 1
`);

/** KEYS[1] session hash. ARGV: clientId. */
const REMOVE_SESSION = lua(`
local idx = redis.call('HGET', KEYS[1], 'idx')
if idx then
  for _, k in ipairs(cjson.decode(idx)) do redis.call('ZREM', k, ARGV[1]) end
end
redis.call('DEL', KEYS[1])
return 1
`);

/** KEYS[1] index set. Drops the expired members and returns the rest. */
const LIVE_MEMBERS = lua(`${NOW_MS}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms())
return redis.call('ZRANGE', KEYS[1], 0, -1)
`);

/** KEYS[1] owner key. ARGV: proxyId. Deletes only the caller's own claim. */
const RELEASE_CLAIM = lua(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);

/** KEYS[1] list. ARGV: entry JSON, ttl ms, max entries. */
const PUT_TRANSACTION = lua(`${NOW_MS}
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[3]) - 1)
extend(KEYS[1], tonumber(ARGV[2]))
return 1
`);

/**
 * KEYS[1] list. ARGV: the caller's epoch ms. Walks from the newest entry, removing each one it
 * passes (expired or unreadable ones too), and returns the first unexpired one, or nil.
 */
const TAKE_TRANSACTION = lua(`
local now = tonumber(ARGV[1])
for _, e in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  redis.call('LREM', KEYS[1], 1, e)
  local ok, d = pcall(cjson.decode, e)
  if ok and type(d) == 'table' then
    local exp = tonumber(d['expireAt'])
    if exp and exp > now then return e end
  end
end
return false
`);

/**
 * KEYS[1] bucket hash. ARGV: permits, rate per second, burst. 1 when granted. The clock is Redis
 * TIME, so proxies with skewed clocks share one notion of refill; a bucket that would be full is
 * deleted (it is the same as a missing one), so the key lives only while it is short of tokens.
 */
const TAKE_TOKENS = lua(`
if redis.replicate_commands then redis.replicate_commands() end
local permits, rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(b[1]), tonumber(b[2])
if tokens == nil or at == nil then
  tokens = burst
elseif rate > 0 and now > at then
  tokens = math.min(burst, tokens + (now - at) * rate / 1000)
end
local granted = 0
if permits <= tokens then
  tokens = tokens - permits
  granted = 1
end
local deficit = burst - tokens
if deficit <= 0 then
  redis.call('DEL', KEYS[1])
else
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
  local idle = 3600000
  if rate > 0 then idle = math.ceil(deficit * 1000 / rate) end
  redis.call('PEXPIRE', KEYS[1], idle + 1000)
end
return granted
`);

const now = (): number => performance.now();

/** Splits "host:port", "[v6]:port" or "host"; undefined when it is none of these. */
export function parseRedisAddr(addr: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(addr.trim());
  if (m === null) return undefined;
  const host = m[1] ?? m[2];
  const port = m[3] === undefined ? 6379 : Number(m[3]);
  if (host === undefined || host === '' || port < 1 || port > 65535) return undefined;
  return { host, port };
}

export class RedisState implements SharedState {
  readonly proxyId: string;
  readonly keyPrefix: string;
  private readonly log: StateLog | undefined;
  private readonly addr: string;
  /** Commands. */
  private readonly cmd: Redis;
  /** The command channel subscription (a subscribed connection takes no other commands). */
  private readonly sub: Redis;
  private readonly channel: string;
  private readonly handlers: Array<(cmd: ProxyCommand) => void> = [];
  private readonly localSessions = new Map<string, LocalSession>();
  /** clientId → monotonic deadline of this proxy's telemetry claim. */
  private readonly localClaims = new Map<string, number>();
  private readonly sweepTimer: NodeJS.Timeout;

  private cmdUp = false;
  private subUp = false;
  /** Bumped when a connection closes, so a late ready handler of an older connection does nothing. */
  private cmdEpoch = 0;
  private subEpoch = 0;
  /** The re-write after a (re)connect; calls wait for it. */
  private restoring: Promise<void> | undefined;
  private everReady = false;
  private outageLogged = false;
  private closed = false;
  private readonly readyWaiters = new Set<() => void>();

  constructor(opts: RedisStateOptions) {
    const parsed = parseRedisAddr(opts.redisAddr);
    if (parsed === undefined) throw new SharedStateError(`bad redisAddr "${opts.redisAddr}": expected host:port`);
    this.addr = opts.redisAddr;
    this.proxyId = opts.proxyId ?? newProxyId();
    this.keyPrefix = opts.keyPrefix ?? DEFAULT_KEY_PREFIX;
    this.log = opts.log;
    this.channel = this.commandChannel(this.proxyId);
    const opTimeoutMs = opts.opTimeoutMs ?? 1_000;
    const maxDelay = opts.maxReconnectDelayMs ?? 1_000;
    const base: RedisOptions = {
      host: parsed.host,
      port: parsed.port,
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      autoResubscribe: true,
      commandTimeout: opTimeoutMs,
      connectTimeout: Math.max(opTimeoutMs, 2_000),
      // close(): how long a socket that does not close by itself may linger.
      disconnectTimeout: Math.min(opTimeoutMs, 500),
      retryStrategy: (attempt: number) => Math.min(50 * 2 ** Math.min(attempt - 1, 10), maxDelay),
    };
    this.cmd = new Redis({ ...base, connectionName: 'rmqts-proxy-state' });
    this.sub = new Redis({ ...base, connectionName: 'rmqts-proxy-commands' });
    this.wire();
    this.sweepTimer = setInterval(() => this.sweepLocal(), opts.sweepIntervalMs ?? 5_000);
    this.sweepTimer.unref();
  }

  /** Creates the state and waits until it is ready; closes it and rejects if that takes longer than timeoutMs. */
  static async connect(opts: RedisStateOptions, timeoutMs = 10_000): Promise<RedisState> {
    const s = new RedisState(opts);
    try {
      await s.start(timeoutMs);
      return s;
    } catch (e) {
      await s.close();
      throw e;
    }
  }

  /**
   * Opens both connections and resolves once commands can run and the channel is subscribed.
   * On timeout it rejects but keeps trying to connect in the background (calls fail until then).
   */
  async start(timeoutMs = 10_000): Promise<void> {
    if (this.closed) throw new SharedStateError('shared state is closed');
    for (const c of [this.cmd, this.sub]) {
      if (c.status === 'wait') c.connect().catch(() => undefined);
    }
    await this.whenReady(timeoutMs);
  }

  isReady(): boolean {
    return !this.closed && this.cmdUp && this.subUp && this.restoring === undefined;
  }

  /** Resolves once isReady(); rejects after timeoutMs or on close. */
  whenReady(timeoutMs = 10_000): Promise<void> {
    if (this.isReady()) return Promise.resolve();
    if (this.closed) return Promise.reject(new SharedStateError('shared state is closed'));
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.readyWaiters.delete(done);
        if (this.isReady()) resolve();
        else reject(new SharedStateError('shared state is closed'));
      };
      const timer = setTimeout(() => {
        this.readyWaiters.delete(done);
        reject(new SharedStateError(`redis ${this.addr} not ready within ${timeoutMs} ms`));
      }, timeoutMs);
      this.readyWaiters.add(done);
    });
  }

  // ---- sessions

  async putSession(s: ClientSession, ttlMs: number): Promise<void> {
    const session = copySession(s);
    this.localSessions.set(s.clientId, { session, deadline: now() + ttlMs });
    await this.run('putSession', () => this.writeSession(session, ttlMs, false));
  }

  async getSession(clientId: string): Promise<ClientSession | undefined> {
    const h = await this.run('getSession', () => this.cmd.hgetall(this.sessionKey(clientId)));
    return decodeSession(h);
  }

  async touchSession(clientId: string, ttlMs: number): Promise<boolean> {
    const seen = Date.now();
    const local = this.localSessions.get(clientId);
    if (local !== undefined) {
      local.deadline = now() + ttlMs;
      local.session.lastSeen = seen;
      local.session.proxyId = this.proxyId;
    }
    const r = await this.run('touchSession', () => this.script(TOUCH_SESSION, [this.sessionKey(clientId)], [clientId, ms(ttlMs), seen, this.proxyId]));
    if (r === 1) return true;
    // Gone for everyone (expired, or removed by another proxy): stop keeping it alive here.
    this.localSessions.delete(clientId);
    return false;
  }

  async removeSession(clientId: string): Promise<void> {
    this.localSessions.delete(clientId);
    await this.run('removeSession', () => this.script(REMOVE_SESSION, [this.sessionKey(clientId)], [clientId]));
  }

  async producersOfTopic(topic: string): Promise<string[]> {
    return this.liveMembers('producersOfTopic', this.topicKey(topic));
  }

  async clientsOfGroup(group: string): Promise<string[]> {
    return this.liveMembers('clientsOfGroup', this.groupKey(group));
  }

  // ---- telemetry ownership

  async claimTelemetry(clientId: string, ttlMs: number): Promise<void> {
    this.localClaims.set(clientId, now() + ttlMs);
    await this.run('claimTelemetry', () => this.cmd.set(this.claimKey(clientId), this.proxyId, 'PX', ms(ttlMs)));
  }

  async releaseTelemetry(clientId: string): Promise<void> {
    this.localClaims.delete(clientId);
    await this.run('releaseTelemetry', () => this.script(RELEASE_CLAIM, [this.claimKey(clientId)], [this.proxyId]));
  }

  async telemetryOwner(clientId: string): Promise<string | undefined> {
    const v = await this.run('telemetryOwner', () => this.cmd.get(this.claimKey(clientId)));
    return v ?? undefined;
  }

  // ---- commands

  async sendCommand(proxyId: string, cmd: ProxyCommand): Promise<void> {
    const copy: ProxyCommand = { clientId: cmd.clientId, payload: cmd.payload };
    if (this.closed) throw new SharedStateError('shared state is closed');
    if (proxyId === this.proxyId) {
      // Our own stream: no need for Redis (and it works during an outage).
      setImmediate(() => this.deliver(copy));
      return;
    }
    const receivers = await this.run('sendCommand', () => this.cmd.publish(this.commandChannel(proxyId), JSON.stringify(copy)));
    if (receivers === 0) this.log?.debug(`command for ${cmd.clientId}: proxy ${proxyId} is not listening; dropped`);
  }

  onCommand(handler: (cmd: ProxyCommand) => void): void {
    this.handlers.push(handler);
  }

  // ---- transactions

  async putTransaction(data: TransactionData): Promise<void> {
    const ttl = Math.ceil(data.expireAt - Date.now());
    if (ttl <= 0) return;
    const entry = JSON.stringify(transactionFields(data));
    await this.run('putTransaction', () =>
      this.script(PUT_TRANSACTION, [this.transactionKey(data.topic, data.transactionId)], [entry, ttl, MAX_TRANSACTIONS_PER_KEY]),
    );
  }

  async takeTransaction(topic: string, transactionId: string): Promise<TransactionData | undefined> {
    const r = await this.run('takeTransaction', () => this.script(TAKE_TRANSACTION, [this.transactionKey(topic, transactionId)], [Date.now()]));
    if (typeof r !== 'string') return undefined;
    const d = decodeTransaction(r);
    if (d === undefined) this.log?.warn(`unreadable transaction data for ${topic}/${transactionId} dropped`);
    return d;
  }

  // ---- rate limits

  async tryAcquire(key: string, permits: number, ratePerSec: number, burst: number): Promise<boolean> {
    const r = await this.run('tryAcquire', () => this.script(TAKE_TOKENS, [this.bucketKey(key)], [permits, ratePerSec, burst]));
    return r === 1;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweepTimer);
    for (const w of [...this.readyWaiters]) w();
    await Promise.all([quit(this.cmd), quit(this.sub)]);
  }

  // ---- keys

  private sessionKey(clientId: string): string {
    return `${this.keyPrefix}s:${clientId}`;
  }
  private topicKey(topic: string): string {
    return `${this.keyPrefix}tp:${topic}`;
  }
  private groupKey(group: string): string {
    return `${this.keyPrefix}gc:${group}`;
  }
  private claimKey(clientId: string): string {
    return `${this.keyPrefix}tel:${clientId}`;
  }
  private transactionKey(topic: string, transactionId: string): string {
    return `${this.keyPrefix}tx:${topic}:${transactionId}`;
  }
  private bucketKey(key: string): string {
    return `${this.keyPrefix}rl:${key}`;
  }
  private commandChannel(proxyId: string): string {
    return `${this.keyPrefix}cmd:${proxyId}`;
  }

  private indexKeys(s: ClientSession): string[] {
    const keys = s.kind === 'PRODUCER' ? [...new Set(s.topics)].map((t) => this.topicKey(t)) : [];
    if (s.group !== undefined) keys.push(this.groupKey(s.group));
    return keys;
  }

  // ---- internals

  private writeSession(s: ClientSession, ttlMs: number, onlyIfAbsent: boolean): Promise<unknown> {
    const idx = this.indexKeys(s);
    return this.script(
      PUT_SESSION,
      [this.sessionKey(s.clientId), ...idx],
      [s.clientId, JSON.stringify(s), ms(ttlMs), s.lastSeen, s.proxyId, onlyIfAbsent ? '1' : '0', JSON.stringify(idx)],
    );
  }

  private async liveMembers(op: string, key: string): Promise<string[]> {
    const r = await this.run(op, () => this.script(LIVE_MEMBERS, [key], []));
    return Array.isArray(r) ? r.filter((x): x is string => typeof x === 'string') : [];
  }

  /** EVALSHA, and EVAL when Redis does not know the script (a restarted or flushed script cache). */
  private async script(s: LuaScript, keys: string[], args: Array<string | number>): Promise<unknown> {
    try {
      return await this.cmd.evalsha(s.sha, keys.length, ...keys, ...args);
    } catch (e) {
      if (!(e instanceof Error) || !e.message.includes('NOSCRIPT')) throw e;
      return await this.cmd.eval(s.lua, keys.length, ...keys, ...args);
    }
  }

  /** Runs one call once any re-write is over; fails fast while Redis is away. */
  private async run<T>(op: string, fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw new SharedStateError('shared state is closed');
    if (this.restoring !== undefined) await this.restoring;
    if (!this.cmdUp) throw new SharedStateError(`${op}: redis ${this.addr} unavailable`);
    try {
      return await fn();
    } catch (e) {
      throw new SharedStateError(`${op}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
  }

  private wire(): void {
    this.cmd.on('ready', () => this.onCmdReady());
    this.cmd.on('close', () => {
      this.cmdEpoch++;
      if (this.cmdUp && !this.closed && !this.outageLogged) {
        this.outageLogged = true;
        this.log?.warn(`lost redis ${this.addr}; shared-state calls fail until it is back`);
      }
      this.cmdUp = false;
    });
    this.sub.on('ready', () => this.onSubReady());
    this.sub.on('close', () => {
      this.subEpoch++;
      this.subUp = false;
    });
    this.sub.on('message', (channel: string, message: string) => {
      if (channel === this.channel) this.onMessage(message);
    });
    // ioredis prints unhandled 'error' events; reconnects report through 'close' above.
    const onError = (e: Error): void => this.log?.debug(`redis ${this.addr}: ${e.message}`);
    this.cmd.on('error', onError);
    this.sub.on('error', onError);
  }

  private onCmdReady(): void {
    if (this.closed) return;
    const epoch = this.cmdEpoch;
    const restoring = this.restore().finally(() => {
      if (this.restoring === restoring) this.restoring = undefined;
      if (epoch === this.cmdEpoch && !this.closed) this.cmdUp = true;
      this.notifyIfReady();
    });
    this.restoring = restoring;
  }

  private onSubReady(): void {
    if (this.closed) return;
    const epoch = this.subEpoch;
    // ioredis re-subscribes after a reconnect by itself; subscribing again is harmless and tells us when it holds.
    this.sub.subscribe(this.channel).then(
      () => {
        if (epoch !== this.subEpoch || this.closed) return;
        this.subUp = true;
        this.notifyIfReady();
      },
      (e: unknown) => this.log?.warn(`subscribe ${this.channel} failed: ${e instanceof Error ? e.message : String(e)}`),
    );
  }

  private notifyIfReady(): void {
    if (!this.isReady()) return;
    if (!this.everReady) {
      this.everReady = true;
      this.log?.info(`shared state on redis ${this.addr} (prefix ${this.keyPrefix}, proxy ${this.proxyId})`);
    } else if (this.outageLogged) {
      this.outageLogged = false;
      this.log?.info(`redis ${this.addr} is back`);
    }
    for (const w of [...this.readyWaiters]) w();
  }

  /**
   * Writes this proxy's live sessions and claims again, each only where Redis has no value (after a
   * Redis restart it has none; after a mere reconnect it keeps what it has, maybe newer than ours).
   */
  private async restore(): Promise<void> {
    this.sweepLocal();
    const t = now();
    const writes: Array<() => Promise<unknown>> = [];
    for (const l of this.localSessions.values()) {
      const ttl = l.deadline - t;
      if (ttl > 0) writes.push(() => this.writeSession(l.session, ttl, true));
    }
    for (const [clientId, deadline] of this.localClaims) {
      const ttl = deadline - t;
      if (ttl > 0) writes.push(() => this.cmd.set(this.claimKey(clientId), this.proxyId, 'PX', ms(ttl), 'NX'));
    }
    if (writes.length === 0) return;
    let written = 0;
    let failed = 0;
    let lastError: unknown;
    for (let i = 0; i < writes.length; i += 256) {
      const results = await Promise.allSettled(writes.slice(i, i + 256).map((w) => w()));
      for (const r of results) {
        if (r.status === 'rejected') {
          failed++;
          lastError = r.reason;
        } else if (r.value === 1 || r.value === 'OK') {
          written++;
        }
      }
    }
    if (written > 0 || failed > 0) {
      const why = failed > 0 ? `; ${failed} failed: ${lastError instanceof Error ? lastError.message : String(lastError)}` : '';
      this.log?.info(`re-wrote ${written} of ${writes.length} sessions/claims this proxy holds${why}`);
    }
  }

  private onMessage(message: string): void {
    const cmd = decodeCommand(message);
    if (cmd === undefined) {
      this.log?.warn(`malformed command on ${this.channel} ignored`);
      return;
    }
    this.deliver(cmd);
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

  private sweepLocal(): void {
    const t = now();
    for (const [id, l] of this.localSessions) if (l.deadline <= t) this.localSessions.delete(id);
    for (const [id, d] of this.localClaims) if (d <= t) this.localClaims.delete(id);
  }
}

async function quit(c: Redis): Promise<void> {
  if (c.status === 'ready') {
    try {
      await c.quit();
      return;
    } catch {
      // fall through: drop the socket
    }
  }
  c.disconnect();
}

/** A positive whole number of milliseconds, as PX/PEXPIRE want. */
function ms(v: number): number {
  return Math.max(1, Math.ceil(v));
}

function copySession(s: ClientSession): ClientSession {
  return { ...s, topics: [...s.topics] };
}

const KINDS: ReadonlySet<string> = new Set<ClientKind>(['PRODUCER', 'PUSH_CONSUMER', 'SIMPLE_CONSUMER', 'PULL_CONSUMER', 'LITE_PUSH_CONSUMER']);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function decodeSession(h: Record<string, string>): ClientSession | undefined {
  const json = h['json'];
  if (json === undefined) return undefined;
  const v = parseJson(json);
  if (!isRecord(v)) return undefined;
  const { clientId, kind, group, topics, settings } = v;
  if (typeof clientId !== 'string' || typeof kind !== 'string' || !KINDS.has(kind) || typeof settings !== 'string') return undefined;
  if (!Array.isArray(topics) || !topics.every((t): t is string => typeof t === 'string')) return undefined;
  const seen = Number(h['seen']);
  return {
    clientId,
    kind: kind as ClientKind,
    ...(typeof group === 'string' ? { group } : {}),
    topics,
    settings,
    proxyId: h['proxy'] ?? (typeof v['proxyId'] === 'string' ? v['proxyId'] : ''),
    lastSeen: Number.isFinite(seen) ? seen : typeof v['lastSeen'] === 'number' ? v['lastSeen'] : 0,
  };
}

function transactionFields(d: TransactionData): TransactionData {
  return {
    brokerName: d.brokerName,
    topic: d.topic,
    producerGroup: d.producerGroup,
    tranStateTableOffset: d.tranStateTableOffset,
    commitLogOffset: d.commitLogOffset,
    transactionId: d.transactionId,
    messageId: d.messageId,
    expireAt: d.expireAt,
  };
}

function decodeTransaction(text: string): TransactionData | undefined {
  const v = parseJson(text);
  if (!isRecord(v)) return undefined;
  const { brokerName, topic, producerGroup, tranStateTableOffset, commitLogOffset, transactionId, messageId, expireAt } = v;
  if (typeof brokerName !== 'string' || typeof topic !== 'string' || typeof producerGroup !== 'string') return undefined;
  if (typeof transactionId !== 'string' || typeof messageId !== 'string') return undefined;
  if (typeof tranStateTableOffset !== 'number' || typeof commitLogOffset !== 'number' || typeof expireAt !== 'number') return undefined;
  return { brokerName, topic, producerGroup, tranStateTableOffset, commitLogOffset, transactionId, messageId, expireAt };
}

function decodeCommand(text: string): ProxyCommand | undefined {
  const v = parseJson(text);
  if (!isRecord(v)) return undefined;
  const { clientId, payload } = v;
  if (typeof clientId !== 'string' || typeof payload !== 'string') return undefined;
  return { clientId, payload };
}
