/**
 * `pnpm bench --soak [--minutes 30] [--quick] [--rate 200]`: a long mixed run against one name
 * server and one broker, at a fixed moderate rate (not flat out), watching the broker's memory,
 * event-loop lag and GC pauses, and checking at the end that every message sent arrived.
 *
 * Load: two producers on three topics (keys, tags; one message in twenty on a delay level, one in
 * twenty a timer message); group SOAK_PUSH (push consumer, SoakA + SoakB) fails a share of messages
 * once (retry topic) and a smaller share always (DLQ after maxReconsumeTimes); group SOAK_LITE (lite
 * pull consumer, SoakB + SoakC with a tag filter); group SOAK_POP (simple consumer, POP, SoakC) leaves
 * a share un-acked once (redelivered after the invisible time); an admin client queries by key and by
 * id and asks for consume stats, topic lists and runtime info. Every 5 s the broker's /metrics
 * (prom-client's process metrics) is sampled; GC pauses come from the broker's --trace-gc lines.
 *
 * Writes bench/results/soak-<date>[-quick].json and .svg; a full run (not --quick) also replaces the
 * soak section of BENCHMARKS.md. Exits 1 when a message was lost.
 */
import { mkdirSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MQAdmin } from '@rocketmq-ts/admin';
import { APP_NODE_ARGS } from '@rocketmq-ts/launcher';
import { LitePullConsumer, Message, Producer, PushConsumer, SimpleConsumer, type ClientLogger, type ReceivedMessage } from '@rocketmq-ts/client';
import { decodeMessageRecord, RemotingCommand, RequestCode, ResponseCode, SerializeType } from '@rocketmq-ts/protocol';
import { RemotingClient } from '@rocketmq-ts/remoting';
import { appMain, FAST_DELAY_LEVELS, freePort, makeTempDir, removeTempDir, repoRoot, startNode, type NodeProcess } from '@rocketmq-ts/testing';
import { machineInfo, type BenchReport } from './report.js';
import { processCpuMicros } from './stats.js';

const TOPICS = ['SoakA', 'SoakB', 'SoakC'] as const;
type Topic = (typeof TOPICS)[number];
const QUEUES = 4;
const PUSH = 'SOAK_PUSH';
const LITE = 'SOAK_LITE';
const POP = 'SOAK_POP';
/** Which topics each group reads, and which tags of them (undefined: all). */
const GROUPS: Record<string, { topics: Topic[]; tags?: string[] }> = {
  [PUSH]: { topics: ['SoakA', 'SoakB'] },
  [LITE]: { topics: ['SoakB', 'SoakC'], tags: ['t0', 't1'] },
  [POP]: { topics: ['SoakC'] },
};
const PUSH_MAX_RECONSUME = 2;
const SAMPLE_MS = 5_000;

export interface SoakOptions {
  minutes: number;
  quick: boolean;
  /** Messages per second, all producers together. */
  rate: number;
}

export interface SoakSample {
  /** Seconds since the load started. */
  t: number;
  rssMB: number;
  /** RSS split from /proc: anonymous memory (heap, Buffers, malloc) and mapped files (the node binary's pages). */
  rssAnonMB: number;
  rssFileMB: number;
  heapUsedMB: number;
  heapTotalMB: number;
  externalMB: number;
  /** Event-loop lag over the last window (prom-client resets its histogram at each scrape), ms. */
  lagP50Ms: number;
  lagP99Ms: number;
  lagMaxMs: number;
  /** GC pauses in the window (from --trace-gc): count, total and longest, ms. */
  gcCount: number;
  gcTotalMs: number;
  gcMaxMs: number;
  /** Broker CPU over the window, % of one core. */
  cpuPct: number;
  sent: number;
  consumed: number;
}

interface GroupResult {
  expected: number;
  delivered: number;
  inDlq: number;
  lost: number;
  /** Deliveries beyond the first successful one (at-least-once copies). */
  duplicates: number;
  lostIds: string[];
}

export interface SoakReport {
  date: string;
  quick: boolean;
  machine: BenchReport['machine'];
  options: SoakOptions;
  durationSec: number;
  warmupSec: number;
  samples: SoakSample[];
  summary: SoakSummary;
  sends: { acked: number; failed: number; delayed: number; timer: number };
  queries: { byKey: number; byKeyMissed: number; byId: number; byIdMissed: number; admin: number; adminFailed: number };
  groups: Record<string, GroupResult>;
  verdict: string;
}

export interface SoakSummary {
  rssWarmMB: number;
  rssEndMB: number;
  rssMaxMB: number;
  rssSlopeMBPerMin: number;
  rssAnonSlopeMBPerMin: number;
  rssFileWarmMB: number;
  rssFileEndMB: number;
  heapUsedWarmMB: number;
  heapUsedEndMB: number;
  heapSlopeMBPerMin: number;
  externalSlopeMBPerMin: number;
  lagP99Ms: number;
  lagMaxMs: number;
  gcCount: number;
  gcTotalMs: number;
  gcMaxMs: number;
  cpuPctMean: number;
  flat: boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function hashOf(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  return h >>> 0;
}

/** What the consumers do with message `id`: fail once (retry), always fail (DLQ, push group only), or succeed. */
function fateOf(id: string): 'once' | 'always' | 'ok' {
  const h = hashOf(id) % 100;
  if (h < 5) return 'once';
  if (h === 5) return 'always';
  return 'ok';
}

const quietLogger: ClientLogger = {
  log(level, event, message) {
    if (level === 'error') process.stderr.write(`[soak client] ${event}: ${message}\n`);
  },
};

/** Metric value from a Prometheus text page: the sum over all series of `name` (NaN when absent). */
function metric(text: string, name: string): number {
  const re = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+|NaN)$`, 'gm');
  let sum = NaN;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) sum = (Number.isNaN(sum) ? 0 : sum) + Number(m[1]);
  return sum;
}

/** Pauses (ms) of the --trace-gc lines in `text`: `... ms: Scavenge 3.8 (4.0) -> 3.4 (5.0) MB, 4.13 / 0.00 ms ...`. */
export function gcPauses(text: string): number[] {
  const out: number[] = [];
  const re = /ms: (?:Scavenge|Mark-Compact|Mark-sweep|Minor Mark-Compact|Mark-Compact \(reduce\))[^\n]*?MB, ([0-9.]+) \/ [0-9.]+ ms/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) out.push(Number(m[1]));
  return out;
}

/** RssAnon and RssFile of a process in MB (Linux /proc). */
function rssSplit(pid: number): { rssAnonMB: number; rssFileMB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string): number => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN);
  return { rssAnonMB: (kb('RssAnon') * 1024) / 1e6, rssFileMB: (kb('RssFile') * 1024) / 1e6 };
}

/** Least-squares slope of y over x. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

class SoakCluster {
  namesrv: NodeProcess | undefined;
  broker: NodeProcess | undefined;
  namesrvAddr = '';
  brokerAddr = '';
  metricsUrl = '';
  readonly dir = makeTempDir('rmqts-soak-mixed-');

  async start(): Promise<void> {
    const [nsPort, port, http, ha] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const nsConf = join(this.dir, 'namesrv.conf');
    writeFileSync(
      nsConf,
      `listenPort=${nsPort}\nbindAddress=127.0.0.1\nmetricsPromExporterPort=0\nkvConfigPath=${join(this.dir, 'namesrv', 'kvConfig.json')}\n`,
    );
    this.namesrv = await startNode(appMain('nameserver'), ['-c', nsConf], { name: 'soak-namesrv', readyPattern: /name server started/, timeoutMs: 30_000 });
    this.namesrvAddr = `127.0.0.1:${nsPort}`;
    const props: Record<string, string | number | boolean> = {
      brokerClusterName: 'SoakCluster',
      brokerName: 'soak-mixed',
      brokerIP1: '127.0.0.1',
      bindAddress: '127.0.0.1',
      listenPort: port,
      haListenPort: ha,
      metricsPromExporterPort: http,
      namesrvAddr: this.namesrvAddr,
      storePathRootDir: join(this.dir, 'store'),
      mappedFileSizeCommitLog: 64 * 1024 * 1024,
      preallocateMode: 'truncate',
      autoCreateTopicEnable: true,
      defaultTopicQueueNums: QUEUES,
      messageDelayLevel: FAST_DELAY_LEVELS,
    };
    const conf = join(this.dir, 'broker.conf');
    writeFileSync(
      conf,
      Object.entries(props)
        .map(([k, v]) => `${k}=${String(v)}\n`)
        .join(''),
    );
    this.broker = await startNode(appMain('broker'), ['-c', conf], {
      name: 'soak-broker',
      readyPattern: /broker \S+ started at/,
      timeoutMs: 60_000,
      env: { HOME: this.dir },
      nodeArgs: [...APP_NODE_ARGS['broker']!, '--trace-gc', ...(process.env['BENCH_BROKER_NODE_ARGS'] ?? '').split(' ').filter(Boolean)],
    });
    this.brokerAddr = `127.0.0.1:${port}`;
    this.metricsUrl = `http://127.0.0.1:${http}/metrics`;
  }

  async stop(): Promise<void> {
    await this.broker?.stop('SIGTERM', 15_000);
    await this.namesrv?.stop('SIGTERM', 5_000);
    removeTempDir(this.dir);
  }
}

/** The record of what was sent and what each group saw. */
class Ledger {
  /** Acked id → topic and tag. */
  readonly acked = new Map<string, { topic: Topic; tag: string }>();
  readonly recentMsgIds: Array<{ id: string; msgId: string; topic: Topic; at: number }> = [];
  failed = 0;
  delayed = 0;
  timer = 0;
  /** Group → id → successful deliveries. */
  readonly ok = new Map<string, Map<string, number>>(Object.keys(GROUPS).map((g) => [g, new Map<string, number>()]));
  /** Group → id → failed deliveries so far. */
  readonly failures = new Map<string, Map<string, number>>(Object.keys(GROUPS).map((g) => [g, new Map<string, number>()]));
  consumed = 0;

  succeed(group: string, id: string): void {
    const m = this.ok.get(group)!;
    m.set(id, (m.get(id) ?? 0) + 1);
    this.consumed++;
  }
  /** Whether this delivery of `id` should fail, by its fate and how often it failed before. */
  shouldFail(group: string, id: string, alwaysAllowed: boolean): boolean {
    const fate = fateOf(id);
    if (fate === 'ok') return false;
    const f = this.failures.get(group)!;
    const n = f.get(id) ?? 0;
    if (fate === 'always' && alwaysAllowed) {
      f.set(id, n + 1);
      return true;
    }
    if (n === 0) {
      f.set(id, 1);
      return true;
    }
    return false;
  }
}

const idOf = (m: ReceivedMessage): string | undefined => m.keys[0];

async function producerLoop(
  p: number,
  namesrvAddr: string,
  topics: readonly Topic[],
  perSecond: number,
  ledger: Ledger,
  stop: { now: boolean },
): Promise<void> {
  const producer = new Producer({ group: `SOAK_PG_${p}`, namesrvAddr, logger: quietLogger, sendMsgTimeoutMs: 5_000 });
  await producer.start();
  let seq = 0;
  const inflight = new Set<Promise<void>>();
  const tickMs = 100;
  let carry = 0;
  try {
    while (!stop.now) {
      const t0 = Date.now();
      carry += (perSecond * tickMs) / 1000;
      for (; carry >= 1; carry--) {
        const i = seq++;
        const id = `p${p}-${i}`;
        const topic = topics[i % topics.length]!;
        const tag = `t${Math.floor(i / topics.length) % 3}`;
        const body = Buffer.alloc(256 + (hashOf(id) % 1792), 0x62);
        body.write(id, 0);
        const msg = new Message(topic, body, { tags: tag, keys: id });
        const kind = i % 20 === 7 ? 'delay' : i % 20 === 13 ? 'timer' : 'plain';
        if (kind === 'delay') msg.setDelayTimeLevel(1 + (i % 3));
        if (kind === 'timer') msg.deliverAt(Date.now() + 1_000 + (hashOf(id) % 4_000));
        const s = producer.send(msg).then(
          (r) => {
            ledger.acked.set(id, { topic, tag });
            if (kind === 'delay') ledger.delayed++;
            if (kind === 'timer') ledger.timer++;
            if (i % 50 === 0) {
              ledger.recentMsgIds.push({ id, msgId: r.offsetMsgId, topic, at: Date.now() });
              if (ledger.recentMsgIds.length > 200) ledger.recentMsgIds.shift();
            }
          },
          () => {
            ledger.failed++;
          },
        );
        const tracked = s.finally(() => inflight.delete(tracked));
        inflight.add(tracked);
        // Bounded: a stalled broker slows the producer instead of piling up sends.
        if (inflight.size >= 256) await Promise.race(inflight);
      }
      const wait = tickMs - (Date.now() - t0);
      if (wait > 0) await sleep(wait);
    }
    await Promise.all(inflight);
  } finally {
    await producer.shutdown();
  }
}

async function startPush(namesrvAddr: string, ledger: Ledger): Promise<PushConsumer> {
  const c = new PushConsumer({
    group: PUSH,
    namesrvAddr,
    logger: quietLogger,
    consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
    maxReconsumeTimes: PUSH_MAX_RECONSUME,
  });
  for (const t of GROUPS[PUSH]!.topics) c.subscribe(t, '*');
  c.registerMessageListener((msgs) => {
    // One message a call (the default batch size); a failed call sends it back.
    let fail = false;
    for (const m of msgs) {
      const id = idOf(m);
      if (id !== undefined && ledger.shouldFail(PUSH, id, true)) fail = true;
    }
    if (fail) return 'RECONSUME_LATER';
    for (const m of msgs) {
      const id = idOf(m);
      if (id !== undefined) ledger.succeed(PUSH, id);
    }
    return 'CONSUME_SUCCESS';
  });
  await c.start();
  return c;
}

async function liteLoop(namesrvAddr: string, ledger: Ledger, stop: { now: boolean }, ready: (c: LitePullConsumer) => void): Promise<void> {
  const c = new LitePullConsumer({ group: LITE, namesrvAddr, logger: quietLogger, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', pullBatchSize: 32 });
  const spec = GROUPS[LITE]!;
  for (const t of spec.topics) c.subscribe(t, t === 'SoakC' ? (spec.tags ?? ['*']).join(' || ') : '*');
  await c.start();
  ready(c);
  try {
    while (!stop.now) {
      for (const m of await c.poll(1_000)) {
        const id = idOf(m);
        if (id !== undefined) ledger.succeed(LITE, id);
      }
    }
  } finally {
    await c.shutdown();
  }
}

async function popLoop(namesrvAddr: string, ledger: Ledger, stop: { now: boolean }): Promise<void> {
  const c = new SimpleConsumer({
    group: POP,
    namesrvAddr,
    logger: quietLogger,
    subscriptions: { SoakC: '*' },
    awaitDuration: 2_000,
    invisibleDuration: 5_000,
    initMode: 'MIN',
  });
  await c.start();
  try {
    while (!stop.now) {
      let got;
      try {
        got = await c.receive(32, 5_000);
      } catch {
        await sleep(200);
        continue;
      }
      await Promise.all(
        got.map(async (m) => {
          const id = idOf(m);
          // Not acked: it comes back after the invisible time (POP's retry).
          if (id !== undefined && ledger.shouldFail(POP, id, false)) return;
          try {
            await c.ack(m);
            if (id !== undefined) ledger.succeed(POP, id);
          } catch {
            // the handle expired meanwhile: the message comes back and is acked then
          }
        }),
      );
    }
  } finally {
    await c.shutdown();
  }
}

/** Queries by key and id and admin calls, one round every two seconds. */
async function adminLoop(admin: MQAdmin, brokerAddr: string, ledger: Ledger, stats: SoakReport['queries'], stop: { now: boolean }): Promise<void> {
  let round = 0;
  while (!stop.now) {
    await sleep(2_000);
    round++;
    // Old enough to be indexed (the index is built after the write).
    const pick = ledger.recentMsgIds.find((r) => Date.now() - r.at > 5_000 && (hashOf(r.id) + round) % 7 === 0) ?? ledger.recentMsgIds[0];
    try {
      if (pick !== undefined && Date.now() - pick.at > 5_000) {
        stats.byKey++;
        const byKey = await admin.queryMessageByKey(pick.topic, pick.id);
        if (!byKey.some((m) => m.keys.includes(pick.id))) stats.byKeyMissed++;
        stats.byId++;
        const byId = await admin.viewMessage(pick.msgId, pick.topic);
        if (!byId.some((m) => m.keys.includes(pick.id))) stats.byIdMissed++;
      }
      stats.admin++;
      if (round % 3 === 0) await admin.consumeStats(PUSH);
      else if (round % 3 === 1) await admin.topicList();
      else await admin.brokerRuntimeInfo(brokerAddr);
    } catch (e) {
      stats.adminFailed++;
      if (stats.adminFailed <= 5) process.stderr.write(`[soak] admin call failed: ${(e as Error).message}\n`);
    }
  }
}

/** Ids (KEYS) of every record in `topic`'s queues, read from offset 0 with plain pulls. */
async function readTopicIds(addr: string, topic: string, queues: number): Promise<string[]> {
  const client = new RemotingClient({ name: 'soak-verify' });
  const ids: string[] = [];
  try {
    for (let q = 0; q < queues; q++) {
      let offset = 0;
      for (let guard = 0; guard < 100_000; guard++) {
        const cmd = RemotingCommand.request(RequestCode.PULL_MESSAGE, {
          consumerGroup: 'SOAK_VERIFY',
          topic,
          queueId: String(q),
          queueOffset: String(offset),
          maxMsgNums: '32',
          sysFlag: String(0x4),
          commitOffset: '0',
          suspendTimeoutMillis: '0',
          subscription: '*',
          subVersion: '0',
          expressionType: 'TAG',
        });
        cmd.serializeType = SerializeType.ROCKETMQ;
        const r = await client.invoke(addr, cmd, 5_000);
        if (r.code !== ResponseCode.SUCCESS || r.body === null) break;
        for (let pos = 0; pos + 8 <= r.body.length;) {
          const size = r.body.readInt32BE(pos);
          if (size <= 0 || pos + size > r.body.length) break;
          const keys = decodeMessageRecord(r.body.subarray(pos, pos + size)).properties.get('KEYS');
          if (keys !== undefined) ids.push(keys.split(' ')[0]!);
          pos += size;
        }
        const next = Number(r.ext('nextBeginOffset'));
        if (!(next > offset)) break;
        offset = next;
      }
    }
  } finally {
    client.close();
  }
  return ids;
}

function expectedFor(group: string, ledger: Ledger): string[] {
  const spec = GROUPS[group]!;
  const out: string[] = [];
  for (const [id, m] of ledger.acked) {
    if (!spec.topics.includes(m.topic)) continue;
    if (group === LITE && m.topic === 'SoakC' && spec.tags !== undefined && !spec.tags.includes(m.tag)) continue;
    out.push(id);
  }
  return out;
}

function groupResult(group: string, ledger: Ledger, dlq: Set<string>): GroupResult {
  const ok = ledger.ok.get(group)!;
  let delivered = 0;
  let inDlq = 0;
  let duplicates = 0;
  const lostIds: string[] = [];
  const expected = expectedFor(group, ledger);
  for (const id of expected) {
    const n = ok.get(id) ?? 0;
    if (n > 0) {
      delivered++;
      duplicates += n - 1;
    } else if (dlq.has(id)) {
      inDlq++;
    } else {
      lostIds.push(id);
    }
  }
  return { expected: expected.length, delivered, inDlq, lost: lostIds.length, duplicates, lostIds: lostIds.slice(0, 20) };
}

/** Whether every group has what it should: each expected id consumed, or (push group) in its DLQ. */
function missing(ledger: Ledger): number {
  let n = 0;
  for (const g of Object.keys(GROUPS)) {
    const ok = ledger.ok.get(g)!;
    for (const id of expectedFor(g, ledger)) {
      if ((ok.get(id) ?? 0) > 0) continue;
      // The push group's always-failing ids end in the DLQ once they failed maxReconsumeTimes + 1 times.
      if (g === PUSH && fateOf(id) === 'always' && (ledger.failures.get(g)!.get(id) ?? 0) > PUSH_MAX_RECONSUME) continue;
      n++;
    }
  }
  return n;
}

// ---------------------------------------------------------------- a tiny SVG line chart

interface Series {
  name: string;
  color: string;
  ys: number[];
}

function svgPanel(x0: number, y0: number, w: number, h: number, title: string, unit: string, xs: number[], series: Series[]): string {
  const all = series.flatMap((s) => s.ys).filter((v) => Number.isFinite(v));
  const yMax = Math.max(1, ...all) * 1.1;
  const xMax = Math.max(1, ...xs);
  const px = (x: number): number => x0 + 50 + (x / xMax) * (w - 70);
  const py = (y: number): number => y0 + h - 30 - (y / yMax) * (h - 60);
  const parts: string[] = [];
  parts.push(`<text x="${x0 + 50}" y="${y0 + 18}" font-size="13" font-weight="bold">${title}</text>`);
  parts.push(`<line x1="${px(0)}" y1="${py(0)}" x2="${px(xMax)}" y2="${py(0)}" stroke="#888"/>`);
  parts.push(`<line x1="${px(0)}" y1="${py(0)}" x2="${px(0)}" y2="${py(yMax)}" stroke="#888"/>`);
  for (let i = 0; i <= 4; i++) {
    const v = (yMax * i) / 4;
    parts.push(`<text x="${x0 + 45}" y="${py(v) + 4}" font-size="10" text-anchor="end">${v.toFixed(v < 10 ? 1 : 0)}</text>`);
    parts.push(`<line x1="${px(0)}" y1="${py(v)}" x2="${px(xMax)}" y2="${py(v)}" stroke="#eee"/>`);
    const t = (xMax * i) / 4;
    parts.push(`<text x="${px(t)}" y="${py(0) + 14}" font-size="10" text-anchor="middle">${(t / 60).toFixed(1)} min</text>`);
  }
  parts.push(`<text x="${x0 + 8}" y="${y0 + h / 2}" font-size="10" transform="rotate(-90 ${x0 + 8} ${y0 + h / 2})">${unit}</text>`);
  series.forEach((s, k) => {
    const pts = s.ys.map((y, i) => (Number.isFinite(y) ? `${px(xs[i]!).toFixed(1)},${py(y).toFixed(1)}` : '')).filter(Boolean);
    parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="1.5" points="${pts.join(' ')}"/>`);
    parts.push(`<text x="${x0 + 60 + k * 120}" y="${y0 + 34}" font-size="11" fill="${s.color}">${s.name}</text>`);
  });
  return parts.join('\n');
}

export function soakSvg(samples: SoakSample[], title: string): string {
  const xs = samples.map((s) => s.t);
  const w = 900;
  const h = 300;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${2 * h + 30}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="18" font-size="14">${title}</text>`,
    svgPanel(0, 20, w, h, 'broker memory', 'MB', xs, [
      { name: 'RSS', color: '#d62728', ys: samples.map((s) => s.rssMB) },
      { name: 'RSS anon', color: '#8c564b', ys: samples.map((s) => s.rssAnonMB) },
      { name: 'heap total', color: '#ff7f0e', ys: samples.map((s) => s.heapTotalMB) },
      { name: 'heap used', color: '#1f77b4', ys: samples.map((s) => s.heapUsedMB) },
      { name: 'external', color: '#2ca02c', ys: samples.map((s) => s.externalMB) },
    ]),
    svgPanel(0, 20 + h, w, h, 'broker event-loop lag and GC (per 5 s window)', 'ms', xs, [
      { name: 'lag p99', color: '#1f77b4', ys: samples.map((s) => s.lagP99Ms) },
      { name: 'lag max', color: '#d62728', ys: samples.map((s) => s.lagMaxMs) },
      { name: 'longest GC pause', color: '#9467bd', ys: samples.map((s) => s.gcMaxMs) },
    ]),
    '</svg>',
    '',
  ].join('\n');
}

// ---------------------------------------------------------------- the run

function summarize(samples: SoakSample[], warmupSec: number): SoakSummary {
  const after = samples.filter((s) => s.t >= warmupSec);
  const base = after.length >= 2 ? after : samples;
  const mins = base.map((s) => s.t / 60);
  const first = base[0];
  const last = base[base.length - 1];
  const rssSlope = slope(
    mins,
    base.map((s) => s.rssMB),
  );
  const heapSlope = slope(
    mins,
    base.map((s) => s.heapUsedMB),
  );
  const extSlope = slope(
    mins,
    base.map((s) => s.externalMB),
  );
  return {
    rssWarmMB: first?.rssMB ?? NaN,
    rssEndMB: last?.rssMB ?? NaN,
    rssMaxMB: Math.max(...samples.map((s) => s.rssMB)),
    rssSlopeMBPerMin: rssSlope,
    rssAnonSlopeMBPerMin: slope(
      mins,
      base.map((s) => s.rssAnonMB),
    ),
    rssFileWarmMB: first?.rssFileMB ?? NaN,
    rssFileEndMB: last?.rssFileMB ?? NaN,
    heapUsedWarmMB: first?.heapUsedMB ?? NaN,
    heapUsedEndMB: last?.heapUsedMB ?? NaN,
    heapSlopeMBPerMin: heapSlope,
    externalSlopeMBPerMin: extSlope,
    lagP99Ms: percentile(
      samples.map((s) => s.lagP99Ms),
      99,
    ),
    lagMaxMs: Math.max(...samples.map((s) => s.lagMaxMs)),
    gcCount: samples.reduce((a, s) => a + s.gcCount, 0),
    gcTotalMs: samples.reduce((a, s) => a + s.gcTotalMs, 0),
    gcMaxMs: Math.max(0, ...samples.map((s) => s.gcMaxMs)),
    cpuPctMean: samples.reduce((a, s) => a + s.cpuPct, 0) / Math.max(1, samples.length),
    // Flat: under 1 MB/min of RSS and 0.5 MB/min of heap after warm-up.
    flat: rssSlope < 1 && heapSlope < 0.5,
  };
}

const f1 = (v: number): string => (Number.isFinite(v) ? v.toFixed(1) : '-');
const f0 = (v: number): string => (Number.isFinite(v) ? v.toFixed(0) : '-');

export function soakMarkdown(rep: SoakReport, file: string): string {
  const s = rep.summary;
  const m = rep.machine;
  const lines = [
    SOAK_BEGIN,
    `## Soak (\`pnpm bench --soak\`, ${rep.date})`,
    '',
    `Machine: ${m.cores} cores (${m.cpuModel}), ${m.memoryGiB} GiB, Node.js ${m.node}, ${m.platform}, shared with other work while it ran. ` +
      `${(rep.durationSec / 60).toFixed(1)} minutes of mixed load at ${rep.options.rate} msgs/s (two producers, three topics, keys and tags, 1 in 20 on a delay level and 1 in 20 a timer message; ` +
      `a push group failing 5 % once and 1 % always (DLQ after ${PUSH_MAX_RECONSUME} retries), a lite pull group with a tag filter, a POP group leaving 5 % un-acked once; queries by key and id and admin calls every 2 s). ` +
      `One name server and one broker (64 MiB commit-log segments, delay levels of 1 s, \`--trace-gc\`); samples every ${SAMPLE_MS / 1000} s from the broker's /metrics. ` +
      `Warm-up: the first ${(rep.warmupSec / 60).toFixed(1)} minutes. Raw samples: \`${file}\`, chart: \`${file.replace(/\.json$/, '.svg')}\`.`,
    '',
    '| | value |',
    '|---|---|',
    `| broker RSS after warm-up → at the end (max) | ${f0(s.rssWarmMB)} → ${f0(s.rssEndMB)} MB (${f0(s.rssMaxMB)} MB) |`,
    `| RSS slope after warm-up (anonymous part) | ${s.rssSlopeMBPerMin.toFixed(2)} MB/min (${s.rssAnonSlopeMBPerMin.toFixed(2)} MB/min) |`,
    `| file-backed RSS (the node binary's pages) after warm-up → at the end | ${f0(s.rssFileWarmMB)} → ${f0(s.rssFileEndMB)} MB |`,
    `| heap used after warm-up → at the end, slope | ${f0(s.heapUsedWarmMB)} → ${f0(s.heapUsedEndMB)} MB, ${s.heapSlopeMBPerMin.toFixed(2)} MB/min |`,
    `| external (Buffers) slope | ${s.externalSlopeMBPerMin.toFixed(2)} MB/min |`,
    `| event-loop lag: p99 of the 5 s windows' p99, worst max | ${f1(s.lagP99Ms)} ms, ${f1(s.lagMaxMs)} ms |`,
    `| GC pauses: count, total, longest | ${s.gcCount}, ${f0(s.gcTotalMs)} ms, ${f1(s.gcMaxMs)} ms |`,
    `| broker CPU (mean, % of one core) | ${f0(s.cpuPctMean)} % |`,
    `| sends acked / failed (delayed, timer) | ${rep.sends.acked} / ${rep.sends.failed} (${rep.sends.delayed}, ${rep.sends.timer}) |`,
    `| queries by key / by id (missed) | ${rep.queries.byKey} (${rep.queries.byKeyMissed}) / ${rep.queries.byId} (${rep.queries.byIdMissed}); admin calls ${rep.queries.admin} (${rep.queries.adminFailed} failed) |`,
    ...Object.entries(rep.groups).map(
      ([g, r]) => `| group ${g}: expected, consumed, in DLQ, lost, duplicates | ${r.expected}, ${r.delivered}, ${r.inDlq}, **${r.lost}**, ${r.duplicates} |`,
    ),
    '',
    `Verdict: ${rep.verdict}`,
    SOAK_END,
  ];
  return lines.join('\n');
}

const SOAK_BEGIN = '<!-- soak:begin (written by pnpm bench --soak) -->';
const SOAK_END = '<!-- soak:end -->';

export async function runSoak(o: SoakOptions): Promise<number> {
  const t0 = Date.now();
  const cluster = new SoakCluster();
  const stop = { now: false };
  const ledger = new Ledger();
  const queries: SoakReport['queries'] = { byKey: 0, byKeyMissed: 0, byId: 0, byIdMissed: 0, admin: 0, adminFailed: 0 };
  const samples: SoakSample[] = [];
  const durationMs = o.minutes * 60_000;
  const warmupSec = Math.min(300, (o.minutes * 60) / 5);
  let admin: MQAdmin | undefined;
  let push: PushConsumer | undefined;
  try {
    await cluster.start();
    const broker = cluster.broker!;
    process.stderr.write(`[soak] broker pid ${broker.pid} at ${cluster.brokerAddr}, metrics ${cluster.metricsUrl}; ${o.minutes} min at ${o.rate} msgs/s\n`);
    admin = new MQAdmin({ namesrvAddr: cluster.namesrvAddr, logger: quietLogger });
    for (const topic of TOPICS) await admin.createOrUpdateTopic(cluster.brokerAddr, { topic, readQueueNums: QUEUES, writeQueueNums: QUEUES });
    // Routes reach the name server with the next registration: wait until every topic has one.
    for (const topic of TOPICS) {
      for (let i = 0; i < 100; i++) {
        try {
          await admin.topicRoute(topic);
          break;
        } catch {
          await sleep(300);
        }
      }
    }
    push = await startPush(cluster.namesrvAddr, ledger);
    const loops: Promise<void>[] = [];
    loops.push(liteLoop(cluster.namesrvAddr, ledger, stop, () => undefined));
    loops.push(popLoop(cluster.namesrvAddr, ledger, stop));
    const prodStop = { now: false };
    const producers = [
      producerLoop(0, cluster.namesrvAddr, ['SoakA', 'SoakB'], o.rate / 2, ledger, prodStop),
      producerLoop(1, cluster.namesrvAddr, ['SoakC', 'SoakB'], o.rate / 2, ledger, prodStop),
    ];
    loops.push(adminLoop(admin, cluster.brokerAddr, ledger, queries, stop));

    // Sampling.
    const start = Date.now();
    let outSeen = 0;
    let cpuPrev = processCpuMicros(broker.pid);
    let tPrev = performance.now();
    const sample = async (): Promise<void> => {
      const text = await (await fetch(cluster.metricsUrl)).text();
      const out = broker.output();
      const pauses = gcPauses(out.slice(outSeen));
      outSeen = out.length;
      const cpu = processCpuMicros(broker.pid);
      const now = performance.now();
      const s: SoakSample = {
        t: (Date.now() - start) / 1000,
        rssMB: metric(text, 'process_resident_memory_bytes') / 1e6,
        ...rssSplit(broker.pid),
        heapUsedMB: metric(text, 'nodejs_heap_size_used_bytes') / 1e6,
        heapTotalMB: metric(text, 'nodejs_heap_size_total_bytes') / 1e6,
        externalMB: metric(text, 'nodejs_external_memory_bytes') / 1e6,
        lagP50Ms: metric(text, 'nodejs_eventloop_lag_p50_seconds') * 1000,
        lagP99Ms: metric(text, 'nodejs_eventloop_lag_p99_seconds') * 1000,
        lagMaxMs: metric(text, 'nodejs_eventloop_lag_max_seconds') * 1000,
        gcCount: pauses.length,
        gcTotalMs: pauses.reduce((a, b) => a + b, 0),
        gcMaxMs: Math.max(0, ...pauses),
        cpuPct: ((cpu - cpuPrev) / ((now - tPrev) * 1000)) * 100,
        sent: ledger.acked.size,
        consumed: ledger.consumed,
      };
      cpuPrev = cpu;
      tPrev = now;
      samples.push(s);
      if (samples.length % (o.quick ? 3 : 12) === 0) {
        process.stderr.write(
          `[soak] ${(s.t / 60).toFixed(1)} min: rss ${f0(s.rssMB)} MB, heap ${f0(s.heapUsedMB)}/${f0(s.heapTotalMB)} MB, external ${f0(s.externalMB)} MB, ` +
            `lag p99 ${f1(s.lagP99Ms)} ms max ${f1(s.lagMaxMs)} ms, gc ${s.gcCount} (max ${f1(s.gcMaxMs)} ms), cpu ${f0(s.cpuPct)} %, sent ${s.sent}, consumed ${s.consumed}\n`,
        );
      }
    };
    // A first scrape as the baseline: it resets the lag histogram and skips the start-up GCs.
    await sample().catch(() => undefined);
    samples.length = 0;
    while (Date.now() - start < durationMs) {
      await sleep(SAMPLE_MS - ((Date.now() - start) % SAMPLE_MS));
      try {
        await sample();
      } catch (e) {
        process.stderr.write(`[soak] sample failed: ${(e as Error).message}\n`);
      }
    }
    const durationSec = (Date.now() - start) / 1000;
    prodStop.now = true;
    await Promise.all(producers);
    // Delays, timers and retries are a few seconds behind: wait (bounded) until everything arrived.
    const settleUntil = Date.now() + (o.quick ? 60_000 : 120_000);
    while (missing(ledger) > 0 && Date.now() < settleUntil) await sleep(1_000);
    stop.now = true;
    await Promise.all(loops);
    await push.shutdown();
    push = undefined;
    const dlq = new Set(await readTopicIds(cluster.brokerAddr, `%DLQ%${PUSH}`, 1));
    const groups: Record<string, GroupResult> = {};
    for (const g of Object.keys(GROUPS)) groups[g] = groupResult(g, ledger, g === PUSH ? dlq : new Set());
    const summary = summarize(samples, warmupSec);
    const lost = Object.values(groups).reduce((a, g) => a + g.lost, 0);
    const verdict =
      (summary.flat
        ? `memory flat after warm-up (RSS ${summary.rssSlopeMBPerMin.toFixed(2)} MB/min, heap used ${summary.heapSlopeMBPerMin.toFixed(2)} MB/min).`
        : `memory NOT flat after warm-up (RSS ${summary.rssSlopeMBPerMin.toFixed(2)} MB/min, heap used ${summary.heapSlopeMBPerMin.toFixed(2)} MB/min).`) +
      (lost === 0 ? ' No message lost.' : ` ${lost} messages lost.`);
    const date = new Date().toISOString().slice(0, 10);
    const rep: SoakReport = {
      date,
      quick: o.quick,
      machine: machineInfo(),
      options: o,
      durationSec,
      warmupSec,
      samples,
      summary,
      sends: { acked: ledger.acked.size, failed: ledger.failed, delayed: ledger.delayed, timer: ledger.timer },
      queries,
      groups,
      verdict,
    };
    const root = repoRoot();
    const dir = join(root, 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    const base = `soak-${date}${o.quick ? '-quick' : ''}`;
    writeFileSync(join(dir, `${base}.json`), JSON.stringify(rep, null, 2) + '\n');
    writeFileSync(join(dir, `${base}.svg`), soakSvg(samples, `rocketmq-ts broker soak ${date}: ${(durationSec / 60).toFixed(1)} min at ${o.rate} msgs/s`));
    const md = soakMarkdown(rep, `bench/results/${base}.json`);
    console.log(md);
    if (!o.quick) {
      const mdFile = join(root, 'BENCHMARKS.md');
      let text = existsSync(mdFile) ? readFileSync(mdFile, 'utf8') : '# Benchmarks\n\n';
      const a = text.indexOf(SOAK_BEGIN);
      const b = text.indexOf(SOAK_END);
      text = a >= 0 && b > a ? text.slice(0, a) + md + text.slice(b + SOAK_END.length) : text.trimEnd() + '\n\n' + md + '\n';
      writeFileSync(mdFile, text);
    }
    console.log(
      `\nresults: bench/results/${base}.json, bench/results/${base}.svg${o.quick ? '' : ' and BENCHMARKS.md'} (${((Date.now() - t0) / 60_000).toFixed(1)} min in all)`,
    );
    for (const [g, r] of Object.entries(groups)) if (r.lost > 0) console.log(`${g}: lost ids (first 20): ${r.lostIds.join(' ')}`);
    return lost > 0 ? 1 : 0;
  } finally {
    stop.now = true;
    await push?.shutdown().catch(() => undefined);
    await admin?.shutdown().catch(() => undefined);
    await cluster.stop();
  }
}

export function soakOptions(argv: string[]): SoakOptions {
  const val = (name: string): number | undefined => {
    const i = argv.indexOf(name);
    if (i < 0) return undefined;
    const n = Number(argv[i + 1]);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} needs a positive number, got ${argv[i + 1]}`);
    return n;
  };
  const quick = argv.includes('--quick');
  return { quick, minutes: val('--minutes') ?? (quick ? 2 : 30), rate: val('--rate') ?? 200 };
}
