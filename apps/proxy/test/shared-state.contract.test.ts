// One contract for both SharedState implementations: the same tests run against MemoryState and
// against RedisState on the machine's Redis (127.0.0.1:6379, or ROCKETMQ_TS_TEST_REDIS), under a
// key prefix of this run only, deleted at the end. Cases that need two proxies run for Redis only.
// The Redis-restart case runs its own redis-server on a free port and kills it by pid.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { freePort, waitFor, waitForPort } from '@rocketmq-ts/testing';
import {
  MAX_TRANSACTIONS_PER_KEY,
  MemoryState,
  RedisState,
  SharedStateError,
  createSharedState,
  parseRedisAddr,
  type ClientSession,
  type ProxyCommand,
  type RedisStateOptions,
  type SharedState,
  type StateLog,
  type TransactionData,
} from '../src/index.js';

const REDIS_ADDR = process.env['ROCKETMQ_TS_TEST_REDIS'] ?? '127.0.0.1:6379';
const RUN = randomBytes(4).toString('hex');
const PREFIX = `rmqts:test:${RUN}:`;
const quiet: StateLog = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

const opened: SharedState[] = [];
const servers = new Set<ChildProcess>();

afterAll(async () => {
  await Promise.all(opened.map((s) => s.close()));
  await Promise.all([...servers].map((p) => killServer(p)));
  await deleteKeys(REDIS_ADDR, PREFIX);
});

let seq = 0;
const uid = (what: string): string => `${what}-${++seq}-${RUN}`;

function redisOpts(proxyId: string | undefined, extra: Partial<RedisStateOptions> = {}): RedisStateOptions {
  return { redisAddr: REDIS_ADDR, keyPrefix: PREFIX, proxyId, log: quiet, ...extra };
}

async function track<T extends SharedState>(s: T | Promise<T>): Promise<T> {
  const state = await s;
  opened.push(state);
  return state;
}

interface Variant {
  name: string;
  /** A state on the variant's store; a second call with another proxyId shares the store (Redis). */
  make(proxyId?: string): Promise<SharedState>;
  /** Whether two proxies can share the store. */
  crossProxy: boolean;
}

const variants: Variant[] = [
  { name: 'MemoryState', make: (proxyId) => track(new MemoryState({ proxyId, log: quiet, sweepIntervalMs: 100 })), crossProxy: false },
  { name: 'RedisState', make: (proxyId) => track(RedisState.connect(redisOpts(proxyId), 5_000)), crossProxy: true },
];

function producer(clientId: string, topics: string[], extra: Partial<ClientSession> = {}): ClientSession {
  return { clientId, kind: 'PRODUCER', topics, settings: JSON.stringify({ clientId, v: 1 }), proxyId: 'p0', lastSeen: 1_000, ...extra };
}

function consumer(clientId: string, group: string, topics: string[]): ClientSession {
  return { clientId, kind: 'SIMPLE_CONSUMER', group, topics, settings: '{}', proxyId: 'p0', lastSeen: 2_000 };
}

function tx(topic: string, transactionId: string, n: number, expireAt = Date.now() + 60_000): TransactionData {
  return {
    brokerName: `broker-${n}`,
    topic,
    producerGroup: 'PG',
    tranStateTableOffset: n,
    commitLogOffset: 1_000 + n,
    transactionId,
    messageId: `msg-${n}`,
    expireAt,
  };
}

function sorted(xs: string[]): string[] {
  return [...xs].sort();
}

describe.each(variants)('SharedState contract: $name', ({ make, crossProxy }) => {
  const itCross = crossProxy ? it : it.skip;

  it('puts, gets and removes a session', async () => {
    const s = await make();
    const c = producer(uid('c'), ['T1', 'T2'], { group: undefined });
    expect(await s.getSession(c.clientId)).toBeUndefined();
    await s.putSession(c, 10_000);
    expect(await s.getSession(c.clientId)).toEqual(c);
    const k = consumer(uid('k'), 'G1', ['T1']);
    await s.putSession(k, 10_000);
    expect(await s.getSession(k.clientId)).toEqual(k);
    await s.removeSession(c.clientId);
    expect(await s.getSession(c.clientId)).toBeUndefined();
    await s.removeSession(uid('never')); // no-op
  });

  it('expires a session after its ttl unless touched; touch marks it seen by this proxy', async () => {
    const s = await make();
    const c = producer(uid('c'), ['T']);
    await s.putSession(c, 500);
    await sleep(250);
    const before = Date.now();
    expect(await s.touchSession(c.clientId, 500)).toBe(true);
    await sleep(350); // 600 ms after the put: alive only thanks to the touch
    const got = await s.getSession(c.clientId);
    expect(got).toBeDefined();
    expect(got?.proxyId).toBe(s.proxyId);
    expect(got?.lastSeen).toBeGreaterThanOrEqual(before);
    expect(got?.settings).toBe(c.settings);
    await waitFor(async () => (await s.getSession(c.clientId)) === undefined, { timeoutMs: 2_000, intervalMs: 20, message: 'session to expire' });
    expect(await s.touchSession(c.clientId, 300)).toBe(false);
    expect(await s.touchSession(uid('never'), 300)).toBe(false);
  });

  it('lists live producers of a topic and clients of a group, without expired or removed ones', async () => {
    const s = await make();
    const topic = uid('T');
    const group = uid('G');
    const p1 = producer(uid('p1'), [topic, 'other']);
    const p2 = producer(uid('p2'), [topic]);
    const p3 = producer(uid('p3'), [topic]);
    const c1 = consumer(uid('c1'), group, [topic]);
    const c2 = consumer(uid('c2'), group, [topic]);
    await s.putSession(p1, 10_000);
    await s.putSession(p2, 250);
    await s.putSession(p3, 10_000);
    await s.putSession(c1, 10_000);
    await s.putSession(c2, 250);
    expect(sorted(await s.producersOfTopic(topic))).toEqual(sorted([p1.clientId, p2.clientId, p3.clientId]));
    expect(sorted(await s.clientsOfGroup(group))).toEqual(sorted([c1.clientId, c2.clientId]));
    await s.removeSession(p3.clientId);
    expect(sorted(await s.producersOfTopic(topic))).toEqual(sorted([p1.clientId, p2.clientId]));
    await waitFor(async () => (await s.producersOfTopic(topic)).length === 1, { timeoutMs: 2_000, intervalMs: 20, message: 'p2 to expire' });
    expect(await s.producersOfTopic(topic)).toEqual([p1.clientId]);
    expect(await s.clientsOfGroup(group)).toEqual([c1.clientId]);
    expect(await s.producersOfTopic(uid('none'))).toEqual([]);
    expect(await s.clientsOfGroup(uid('none'))).toEqual([]);
  });

  it('moves a client between indexes when its session is put again', async () => {
    const s = await make();
    const [t1, t2, g1, g2] = [uid('T'), uid('T'), uid('G'), uid('G')];
    const id = uid('p');
    await s.putSession(producer(id, [t1]), 10_000);
    await s.putSession(producer(id, [t2]), 10_000);
    expect(await s.producersOfTopic(t1)).toEqual([]);
    expect(await s.producersOfTopic(t2)).toEqual([id]);
    const cid = uid('c');
    await s.putSession(consumer(cid, g1, [t1]), 10_000);
    await s.putSession(consumer(cid, g2, [t1]), 10_000);
    expect(await s.clientsOfGroup(g1)).toEqual([]);
    expect(await s.clientsOfGroup(g2)).toEqual([cid]);
    expect(await s.producersOfTopic(t1)).toEqual([]); // consumers are not producers
    // a touch keeps index membership alive with the session
    await s.putSession(producer(id, [t2]), 300);
    await sleep(150);
    expect(await s.touchSession(id, 600)).toBe(true);
    await sleep(250); // past the put's ttl, within the touch's
    expect(await s.producersOfTopic(t2)).toEqual([id]);
  });

  it('claims, reports and releases telemetry ownership; a claim expires', async () => {
    const s = await make();
    const id = uid('c');
    expect(await s.telemetryOwner(id)).toBeUndefined();
    await s.claimTelemetry(id, 10_000);
    expect(await s.telemetryOwner(id)).toBe(s.proxyId);
    await s.releaseTelemetry(id);
    expect(await s.telemetryOwner(id)).toBeUndefined();
    await s.releaseTelemetry(id); // no-op
    await s.claimTelemetry(id, 200);
    await waitFor(async () => (await s.telemetryOwner(id)) === undefined, { timeoutMs: 2_000, intervalMs: 20, message: 'claim to expire' });
  });

  itCross('lets only the owner release a telemetry claim; the newest claim wins', async () => {
    const a = await make(uid('proxyA'));
    const b = await make(uid('proxyB'));
    const id = uid('c');
    await a.claimTelemetry(id, 10_000);
    expect(await b.telemetryOwner(id)).toBe(a.proxyId);
    await b.releaseTelemetry(id);
    expect(await a.telemetryOwner(id)).toBe(a.proxyId);
    await b.claimTelemetry(id, 10_000);
    expect(await a.telemetryOwner(id)).toBe(b.proxyId);
    await a.releaseTelemetry(id);
    expect(await a.telemetryOwner(id)).toBe(b.proxyId);
    await b.releaseTelemetry(id);
    expect(await a.telemetryOwner(id)).toBeUndefined();
  });

  it("delivers a command to this proxy's own handlers asynchronously, and not one for an unknown proxy", async () => {
    const s = await make(uid('proxy'));
    const got: ProxyCommand[] = [];
    const also: ProxyCommand[] = [];
    s.onCommand((c) => got.push(c));
    s.onCommand((c) => also.push(c));
    const p = s.sendCommand(s.proxyId, { clientId: 'c1', payload: '{"x":1}' });
    expect(got).toEqual([]); // never synchronously
    await p;
    await s.sendCommand(uid('nobody'), { clientId: 'c2', payload: '{}' });
    await waitFor(() => got.length >= 1, { timeoutMs: 2_000, intervalMs: 10, message: 'own command' });
    await sleep(100);
    expect(got).toEqual([{ clientId: 'c1', payload: '{"x":1}' }]);
    expect(also).toEqual(got);
  });

  itCross('routes a command to the proxy it names, and only there', async () => {
    const a = await make(uid('proxyA'));
    const b = await make(uid('proxyB'));
    const atA: ProxyCommand[] = [];
    const atB: ProxyCommand[] = [];
    a.onCommand((c) => atA.push(c));
    b.onCommand((c) => atB.push(c));
    await a.sendCommand(b.proxyId, { clientId: 'cb', payload: 'to-b' });
    await b.sendCommand(a.proxyId, { clientId: 'ca', payload: 'to-a' });
    await waitFor(() => atA.length >= 1 && atB.length >= 1, { timeoutMs: 2_000, intervalMs: 10, message: 'both commands' });
    await sleep(100);
    expect(atB).toEqual([{ clientId: 'cb', payload: 'to-b' }]);
    expect(atA).toEqual([{ clientId: 'ca', payload: 'to-a' }]);
  });

  it('takes transaction data newest first, each entry once', async () => {
    const s = await make();
    const topic = uid('T');
    await s.putTransaction(tx(topic, 'tx1', 1));
    await s.putTransaction(tx(topic, 'tx1', 2));
    await s.putTransaction(tx(topic, 'tx2', 3));
    await s.putTransaction(tx(uid('T'), 'tx1', 4));
    expect(await s.takeTransaction(topic, 'tx1')).toEqual(tx(topic, 'tx1', 2, expect.any(Number) as unknown as number));
    expect((await s.takeTransaction(topic, 'tx1'))?.tranStateTableOffset).toBe(1);
    expect(await s.takeTransaction(topic, 'tx1')).toBeUndefined();
    expect((await s.takeTransaction(topic, 'tx2'))?.commitLogOffset).toBe(1_003);
    expect(await s.takeTransaction(uid('T'), 'tx1')).toBeUndefined();
  });

  it(`keeps at most ${MAX_TRANSACTIONS_PER_KEY} transaction entries per key, the newest`, async () => {
    const s = await make();
    const topic = uid('T');
    for (let n = 0; n < MAX_TRANSACTIONS_PER_KEY + 5; n++) await s.putTransaction(tx(topic, 'tx', n));
    const taken: number[] = [];
    for (;;) {
      const d = await s.takeTransaction(topic, 'tx');
      if (d === undefined) break;
      taken.push(d.tranStateTableOffset);
    }
    expect(taken).toEqual(Array.from({ length: MAX_TRANSACTIONS_PER_KEY }, (_, i) => MAX_TRANSACTIONS_PER_KEY + 4 - i));
  });

  it('never returns expired transaction data', async () => {
    const s = await make();
    const topic = uid('T');
    await s.putTransaction(tx(topic, 'tx', 1, Date.now() + 60_000));
    await s.putTransaction(tx(topic, 'tx', 2, Date.now() + 150));
    await s.putTransaction(tx(topic, 'tx', 3, Date.now() - 1)); // already expired: not kept
    await sleep(250);
    expect((await s.takeTransaction(topic, 'tx'))?.tranStateTableOffset).toBe(1);
    expect(await s.takeTransaction(topic, 'tx')).toBeUndefined();
    await s.putTransaction(tx(topic, 'short', 5, Date.now() + 150));
    await sleep(250);
    expect(await s.takeTransaction(topic, 'short')).toBeUndefined();
  });

  itCross('hands transaction data put by one proxy to another, once', async () => {
    const a = await make(uid('proxyA'));
    const b = await make(uid('proxyB'));
    const topic = uid('T');
    await a.putTransaction(tx(topic, 'tx', 7));
    const [x, y] = await Promise.all([b.takeTransaction(topic, 'tx'), a.takeTransaction(topic, 'tx')]);
    expect([x?.tranStateTableOffset, y?.tranStateTableOffset].filter((v) => v !== undefined)).toEqual([7]);
  });

  it('rate-limits with a token bucket: a burst, then refusal, then refill over time', async () => {
    const s = await make();
    const key = uid('rl');
    for (let i = 0; i < 3; i++) expect(await s.tryAcquire(key, 1, 5, 3)).toBe(true);
    expect(await s.tryAcquire(key, 1, 5, 3)).toBe(false);
    await sleep(250); // 5/s: one token back (a second one takes 400 ms)
    expect(await s.tryAcquire(key, 1, 5, 3)).toBe(true);
    expect(await s.tryAcquire(key, 1, 5, 3)).toBe(false);
    expect(await s.tryAcquire(uid('rl'), 4, 10, 3)).toBe(false); // more than the bucket holds
    expect(await s.tryAcquire(uid('rl'), 3, 10, 3)).toBe(true); // other keys have their own bucket
  });

  itCross('shares one token bucket between proxies', async () => {
    const a = await make(uid('proxyA'));
    const b = await make(uid('proxyB'));
    const key = uid('rl');
    expect(await a.tryAcquire(key, 1, 1, 3)).toBe(true);
    expect(await b.tryAcquire(key, 2, 1, 3)).toBe(true);
    expect(await a.tryAcquire(key, 1, 1, 3)).toBe(false);
    expect(await b.tryAcquire(key, 1, 1, 3)).toBe(false);
  });

  it('rejects calls after close', async () => {
    const s = await make();
    expect(s.isReady()).toBe(true);
    await s.close();
    expect(s.isReady()).toBe(false);
    await expect(s.getSession('x')).rejects.toBeInstanceOf(SharedStateError);
    await expect(s.tryAcquire('x', 1, 1, 1)).rejects.toBeInstanceOf(SharedStateError);
    await s.close(); // twice is fine
  });
});

describe('MemoryState', () => {
  it('sweeps expired entries on its timer', async () => {
    const s = await track(new MemoryState({ log: quiet, sweepIntervalMs: 50 }));
    await s.putSession(producer('p', ['T']), 100);
    await s.claimTelemetry('p', 100);
    await s.putTransaction(tx('T', 'tx', 1, Date.now() + 100));
    await s.tryAcquire('k', 1, 20, 2); // full again after 50 ms
    expect(s.entryCount()).toEqual({ sessions: 1, claims: 1, transactionKeys: 1, buckets: 1 });
    await waitFor(() => Object.values(s.entryCount()).every((n) => n === 0), { timeoutMs: 2_000, intervalMs: 20, message: 'the sweep' });
  });
});

describe('RedisState on Redis', () => {
  it('puts every key under the prefix, each with an expiry', async () => {
    const prefix = `${PREFIX}ttl:`;
    const s = await track(RedisState.connect(redisOpts('ttl-proxy', { keyPrefix: prefix }), 5_000));
    await s.putSession(producer('p', ['T']), 10_000);
    await s.putSession(consumer('c', 'G', ['T']), 10_000);
    await s.touchSession('c', 20_000);
    await s.claimTelemetry('p', 10_000);
    await s.putTransaction(tx('T', 'tx', 1));
    await s.tryAcquire('k', 1, 5, 10);
    const r = new Redis({ ...parseRedisAddr(REDIS_ADDR), lazyConnect: true });
    try {
      await r.connect();
      const keys = sorted(await scanKeys(r, prefix));
      expect(keys).toEqual(sorted(['s:p', 's:c', 'tp:T', 'gc:G', 'tel:p', 'tx:T:tx', 'rl:k'].map((k) => prefix + k)));
      for (const k of keys) {
        const pttl = await r.pttl(k);
        expect([k, pttl > 0]).toEqual([k, true]);
      }
      expect(await r.pttl(`${prefix}gc:G`)).toBeGreaterThan(10_000); // the longest member ttl
    } finally {
      r.disconnect();
    }
  });

  it('picks Redis in createSharedState when redisAddr is set, memory otherwise', async () => {
    const r = await track(createSharedState({ redisAddr: REDIS_ADDR, keyPrefix: PREFIX, log: quiet }));
    expect(r).toBeInstanceOf(RedisState);
    const m = await track(createSharedState({ log: quiet }));
    expect(m).toBeInstanceOf(MemoryState);
    expect(r.proxyId).not.toBe(m.proxyId);
  });

  it('fails to connect within the timeout when nothing listens', async () => {
    const port = await freePort();
    const t0 = Date.now();
    await expect(RedisState.connect({ redisAddr: `127.0.0.1:${port}`, log: quiet }, 500)).rejects.toBeInstanceOf(SharedStateError);
    expect(Date.now() - t0).toBeLessThan(3_000);
    expect(() => new RedisState({ redisAddr: 'host:notaport' })).toThrow(SharedStateError);
  });

  it('survives a Redis restart: calls fail fast meanwhile, then sessions, claims and commands are back', async () => {
    const port = await freePort();
    let server = await startServer(port);
    const opts = (proxyId: string): RedisStateOptions => ({
      redisAddr: `127.0.0.1:${port}`,
      keyPrefix: PREFIX,
      proxyId,
      log: quiet,
      opTimeoutMs: 500,
      maxReconnectDelayMs: 200,
    });
    const a = await track(RedisState.connect(opts(uid('proxyA')), 5_000));
    const b = await track(RedisState.connect(opts(uid('proxyB')), 5_000));
    const atA: ProxyCommand[] = [];
    a.onCommand((c) => atA.push(c));
    const topic = uid('T');
    const p = producer(uid('p'), [topic]);
    const c = consumer(uid('c'), uid('G'), [topic]);
    await a.putSession(p, 20_000);
    await b.putSession(c, 20_000);
    await a.claimTelemetry(p.clientId, 20_000);
    const gone = producer(uid('gone'), [topic]);
    await a.putSession(gone, 20_000);

    // A Redis that hangs without closing the connection: calls time out after opTimeoutMs.
    process.kill(server.pid!, 'SIGSTOP');
    try {
      const t0 = Date.now();
      await expect(a.telemetryOwner(p.clientId)).rejects.toThrow(/timed out/);
      expect(Date.now() - t0).toBeLessThan(1_500);
    } finally {
      process.kill(server.pid!, 'SIGCONT');
    }
    await waitFor(async () => (await a.telemetryOwner(p.clientId)) === a.proxyId, { timeoutMs: 3_000, intervalMs: 20, message: 'redis to answer again' });

    await killServer(server);
    await waitFor(() => !a.isReady() && !b.isReady(), { timeoutMs: 3_000, intervalMs: 10, message: 'states to see the outage' });
    const t0 = Date.now();
    await expect(a.getSession(p.clientId)).rejects.toBeInstanceOf(SharedStateError);
    await expect(b.sendCommand(a.proxyId, { clientId: 'x', payload: 'lost' })).rejects.toBeInstanceOf(SharedStateError);
    expect(Date.now() - t0).toBeLessThan(1_000);
    // Written during the outage: fails now, but A remembers it; removed during the outage: stays gone.
    const late = producer(uid('late'), [topic]);
    await expect(a.putSession(late, 20_000)).rejects.toBeInstanceOf(SharedStateError);
    await expect(a.removeSession(gone.clientId)).rejects.toBeInstanceOf(SharedStateError);

    await sleep(300);
    server = await startServer(port);
    await Promise.all([a.whenReady(10_000), b.whenReady(10_000)]);
    expect(a.isReady() && b.isReady()).toBe(true);

    expect(await b.getSession(p.clientId)).toEqual(p);
    expect(await a.getSession(c.clientId)).toEqual(c);
    expect(await b.getSession(late.clientId)).toEqual(late);
    expect(await b.getSession(gone.clientId)).toBeUndefined();
    expect(await b.telemetryOwner(p.clientId)).toBe(a.proxyId);
    expect(sorted(await b.producersOfTopic(topic))).toEqual(sorted([p.clientId, late.clientId]));
    expect(await a.clientsOfGroup(c.group ?? '')).toEqual([c.clientId]);

    await b.sendCommand(a.proxyId, { clientId: p.clientId, payload: 'after-restart' });
    await waitFor(() => atA.length > 0, { timeoutMs: 3_000, intervalMs: 10, message: 'command after the restart' });
    expect(atA).toEqual([{ clientId: p.clientId, payload: 'after-restart' }]);
    await killServer(server);
  });
});

// ---- helpers

async function startServer(port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1', '--daemonize', 'no'], {
    stdio: 'ignore',
  });
  servers.add(child);
  child.once('exit', () => servers.delete(child));
  await waitForPort(port, 5_000);
  return child;
}

async function killServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  if (child.pid !== undefined) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([exited, new Promise<void>((resolve) => (timer = setTimeout(resolve, 3_000)))]);
  clearTimeout(timer);
}

async function scanKeys(r: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
}

async function deleteKeys(addr: string, prefix: string): Promise<void> {
  const r = new Redis({ ...parseRedisAddr(addr), lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await r.connect();
    const keys = await scanKeys(r, prefix);
    for (let i = 0; i < keys.length; i += 500) await r.del(...keys.slice(i, i + 500));
  } finally {
    r.disconnect();
  }
}
