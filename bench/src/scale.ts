/**
 * `pnpm bench --scale [--quick] [--scale-only size,queues,groups,stored] [--max-stored-gib N] [--no-lock]`
 * (`--scale-redraw`: charts and BENCHMARKS.md again from the newest JSON, nothing measured; SIGUSR2 to a
 * run: no more points, the curves are saved with the points measured so far)
 *
 * How the broker's cost grows with the work it is given. Real name server and broker processes, our
 * remoting client, one curve at a time:
 * - size: message body 128 B → 256 KiB (one topic, 4 queues, 256 sends in flight);
 * - queues: queues written at once 1 → 10,000 (topics × queues), with topic create time, broker RSS,
 *   clean start-up time and kill -9 recovery time at each point;
 * - groups: 1 → 100 consumer groups pulling the same topic (total and per-group delivery);
 * - stored: 1 → 20 GiB in the commit log: send rate, lookup by key (an early and a late key) and
 *   start-up / kill -9 recovery time at each point.
 * Every point: msgs/s, MB/s, broker CPU µs per message (utime + stime of the broker process), broker
 * RSS. The machine-wide bench lock (/tmp/rmq-bench.lock) is held per point, not for the whole run.
 * Writes bench/results/scale/<curve>.svg, bench/results/scale-<date>.json and (full runs of every
 * curve only) the scale section of BENCHMARKS.md.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statfsSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { encodeBatchBody, nextOpaque, RemotingCommand, RequestCode, ResponseCode, SerializeType } from '@rocketmq-ts/protocol';
import { RemotingClient } from '@rocketmq-ts/remoting';
import {
  appMain,
  freePort,
  makeTempDir,
  removeTempDir,
  removeTempDirs,
  repoRoot,
  startNode,
  stopAllProcesses,
  writeConf,
  type NodeProcess,
} from '@rocketmq-ts/testing';
import { machineInfo, type BenchReport } from './report.js';
import { LatencyRecorder, processCpuMicros, processRss, RssSampler } from './stats.js';
import { renderChart, type ChartSpec } from './svg-chart.js';
import { runWindow } from './window.js';

const LOCK = '/tmp/rmq-bench.lock';
const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const CURVES = ['size', 'queues', 'groups', 'stored'] as const;
type CurveKey = (typeof CURVES)[number];

export interface ScaleOptions {
  quick: boolean;
  only: Set<CurveKey>;
  maxStoredGiB: number;
}

export function parseScaleArgs(argv: readonly string[]): ScaleOptions {
  const val = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const onlyArg = val('--scale-only');
  const only = new Set<CurveKey>();
  for (const c of (onlyArg ?? CURVES.join(',')).split(',').map((s) => s.trim())) {
    if (!(CURVES as readonly string[]).includes(c)) throw new Error(`--scale-only takes ${CURVES.join(',')}; got ${c}`);
    only.add(c as CurveKey);
  }
  const cap = Number(val('--max-stored-gib') ?? 20);
  if (!Number.isFinite(cap) || cap <= 0) throw new Error(`--max-stored-gib needs a positive number, got ${val('--max-stored-gib')}`);
  return { quick: argv.includes('--quick'), only, maxStoredGiB: cap };
}

// ------------------------------------------------------------------ results

export interface Column {
  key: string;
  label: string;
  digits?: number;
}
export type Cell = number | string | undefined;
export type ScaleRow = Record<string, Cell>;

export interface CurveResult {
  key: CurveKey;
  title: string;
  setup: string;
  columns: Column[];
  rows: ScaleRow[];
  /** SVG files, relative to bench/results/scale. */
  charts: string[];
  /** Where the main metric changes slope most, computed from the rows. */
  bends: string[];
  seconds: number;
  lockWaitSec?: number;
  /** When the curve finished (curves can come from separate runs of the same day). */
  finishedAt?: string;
  error?: string;
}

export interface ScaleReport {
  date: string;
  quick: boolean;
  only?: string;
  machine: BenchReport['machine'];
  curves: CurveResult[];
  /** Time spent waiting for the machine-wide bench lock (other helpers' runs). */
  lockWaitSec: number;
  durationSec: number;
}

// ------------------------------------------------------------------ machinery

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const log = (s: string): void => {
  process.stderr.write(`[scale ${new Date().toISOString().slice(11, 19)}] ${s}\n`);
};

let lockWaitMs = 0;
/** Set by SIGUSR2: no more points (a wait for the lock is given up); the curves end with what they have. */
let stopRequested = false;
const stopListeners = new Set<() => void>();
/** `--no-lock`: a functional check only (the figures then mean nothing on a shared machine). */
const noLock = process.argv.includes('--no-lock');

/**
 * Runs `f` holding the machine-wide bench lock: `flock` holds it while its `cat` child waits on our
 * pipe; closing the pipe (or our exit) lets it go.
 */
export async function withBenchLock<T>(what: string, f: () => Promise<T>): Promise<T | undefined> {
  if (stopRequested) return undefined;
  if (noLock) return f();
  const t0 = performance.now();
  const child = spawn('flock', [LOCK, 'sh', '-c', 'echo locked; exec cat >/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const got = await new Promise<boolean>((resolve, reject) => {
    const onStop = (): void => {
      child.kill();
      resolve(false);
    };
    stopListeners.add(onStop);
    child.stdout.once('data', () => {
      stopListeners.delete(onStop);
      resolve(true);
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      stopListeners.delete(onStop);
      reject(new Error(`flock ${LOCK} exited with ${code}`));
    });
  });
  const waited = performance.now() - t0;
  lockWaitMs += waited;
  if (!got) return undefined;
  if (waited > 1000) log(`${what}: waited ${(waited / 1000).toFixed(0)} s for the bench lock`);
  try {
    return await f();
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    child.stdin.end();
    await Promise.race([exited, sleep(5_000)]);
  }
}

/** A name server and a broker on one store, restartable (clean or after kill -9) on the same ports. */
class ScaleBroker {
  namesrv: NodeProcess | undefined;
  proc: NodeProcess | undefined;
  addr = '';
  readonly dir: string;
  private conf = '';

  constructor(private readonly label: string) {
    this.dir = makeTempDir(`rmqts-scale-${label}-`);
  }

  get pid(): number {
    return this.proc!.pid;
  }

  async start(extra: Record<string, string | number | boolean> = {}): Promise<number> {
    const [nsPort, port] = [await freePort(), await freePort()];
    const nsConf = writeConf(this.dir, 'namesrv.conf', {
      listenPort: nsPort,
      bindAddress: '127.0.0.1',
      metricsPromExporterPort: 0,
      kvConfigPath: join(this.dir, 'namesrv', 'kvConfig.json'),
    });
    this.namesrv = await startNode(appMain('nameserver'), ['-c', nsConf], {
      name: `scale-namesrv-${this.label}`,
      readyPattern: /name server started/,
      timeoutMs: 30_000,
    });
    this.conf = writeConf(this.dir, 'broker.conf', {
      brokerClusterName: 'ScaleCluster',
      brokerName: 'scale-broker',
      brokerIP1: '127.0.0.1',
      bindAddress: '127.0.0.1',
      listenPort: port,
      haListenPort: await freePort(),
      metricsPromExporterPort: 0,
      namesrvAddr: `127.0.0.1:${nsPort}`,
      storePathRootDir: join(this.dir, 'store'),
      flushDiskType: 'ASYNC_FLUSH',
      autoCreateTopicEnable: true,
      defaultTopicQueueNums: 4,
      mappedFileSizeCommitLog: GiB,
      preallocateMode: 'truncate',
      ...extra,
    });
    this.addr = `127.0.0.1:${port}`;
    return this.launch();
  }

  /** Starts the broker process; ms from spawn to its "started" line (store recovered, registered). */
  async launch(): Promise<number> {
    const t0 = performance.now();
    this.proc = await startNode(appMain('broker'), ['-c', this.conf], {
      name: `scale-broker-${this.label}`,
      readyPattern: /broker \S+ started at/,
      timeoutMs: 600_000,
      nodeArgs: (process.env['BENCH_BROKER_NODE_ARGS'] ?? '').split(' ').filter(Boolean),
    });
    return performance.now() - t0;
  }

  /** The store's own recovery time (ms) from the broker's log, and whether it was abnormal. */
  storeRecovery(): { ms: number; mode: string } {
    const m = /store recovered \((\w+)\):[^\n]*?, (\d+) ms/.exec(this.proc?.output() ?? '');
    return { ms: Number(m?.[2] ?? NaN), mode: m?.[1] ?? '?' };
  }

  /** SIGTERM, then start again: the clean start-up time. */
  async restartClean(): Promise<number> {
    await this.proc?.stop('SIGTERM', 60_000);
    return this.launch();
  }

  /** SIGKILL, then start again: the recovery time. */
  async restartAfterKill(): Promise<number> {
    await this.proc?.kill();
    return this.launch();
  }

  async stop(): Promise<void> {
    await this.proc?.stop('SIGTERM', 30_000);
    await this.namesrv?.stop('SIGTERM', 5_000);
    removeTempDir(this.dir);
  }
}

function request(code: number, ext: Record<string, string>, body: Buffer | null = null): RemotingCommand {
  const cmd = RemotingCommand.request(code, ext, body);
  cmd.serializeType = SerializeType.ROCKETMQ;
  return cmd;
}

async function createTopics(client: RemotingClient, addr: string, topics: string[], queues: number, inflight = 16): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: inflight }, async () => {
      while (next < topics.length) {
        const topic = topics[next++]!;
        const r = await client.invoke(
          addr,
          request(RequestCode.UPDATE_AND_CREATE_TOPIC, {
            topic,
            defaultTopic: 'TBW102',
            readQueueNums: String(queues),
            writeQueueNums: String(queues),
            perm: '6',
            topicFilterType: 'SINGLE_TAG',
            topicSysFlag: '0',
            order: 'false',
          }),
          60_000,
        );
        if (r.code !== ResponseCode.SUCCESS) throw new Error(`create ${topic}: ${r.code} ${r.remark ?? ''}`);
      }
    }),
  );
  return performance.now() - t0;
}

interface Target {
  topic: string;
  queueId: number;
  queueNums: number;
}

/**
 * SEND_MESSAGE_V2 (binary header) with one reused command, re-stamped per call like the main bench's
 * sender; `target(i)` picks topic and queue, `key(i)` (optional) sets a KEYS property.
 */
function sender(
  client: RemotingClient,
  addr: string,
  body: Buffer,
  target: (i: number) => Target,
  key?: (i: number) => string,
): (i: number) => Promise<unknown> {
  const ext: Record<string, string> = {
    a: 'scale-producer',
    b: '',
    c: 'TBW102',
    d: '4',
    e: '0',
    f: '0',
    g: '0',
    h: '0',
    i: 'TAGS\u0001scale\u0002',
    j: '0',
    k: 'false',
    m: 'false',
  };
  const cmd = RemotingCommand.request(RequestCode.SEND_MESSAGE_V2, ext, body);
  cmd.serializeType = SerializeType.ROCKETMQ;
  return (i: number) => {
    const t = target(i);
    ext['b'] = t.topic;
    ext['d'] = String(t.queueNums);
    ext['e'] = String(t.queueId);
    ext['g'] = String(Date.now());
    if (key) ext['i'] = `TAGS\u0001scale\u0002KEYS\u0001${key(i)}\u0002`;
    cmd.opaque = nextOpaque();
    cmd.flag = 0;
    return client.invoke(addr, cmd, 30_000).then((r) => {
      if (r.code !== ResponseCode.SUCCESS) throw new Error(`send failed: ${r.code} ${r.remark ?? ''}`);
    });
  };
}

interface Measured {
  messages: number;
  seconds: number;
  msgsPerSec: number;
  mbPerSec: number;
  cpuUsPerMsg: number;
  rssMB: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

async function measureSends(
  pid: number,
  bytesPerMsg: number,
  opts: { inflight: number; requests: number; perRequest?: number; maxMs: number; send: (i: number) => Promise<unknown> },
): Promise<Measured> {
  const rss = new RssSampler(pid);
  rss.start();
  const cpu0 = processCpuMicros(pid);
  const r = await runWindow({ inflight: opts.inflight, requests: opts.requests, perRequest: opts.perRequest ?? 1, maxMs: opts.maxMs, send: opts.send });
  const cpu = processCpuMicros(pid) - cpu0;
  const peak = rss.stop();
  const secs = r.elapsedMs / 1000;
  const [p50, p99] = r.latency.percentiles([50, 99]);
  if (r.errors > 0) log(`  ${r.errors} errors, first: ${r.firstError}`);
  return {
    messages: r.messages,
    seconds: secs,
    msgsPerSec: r.messages / secs,
    mbPerSec: (r.messages * bytesPerMsg) / secs / 1e6,
    cpuUsPerMsg: cpu / Math.max(1, r.messages),
    rssMB: peak / 1e6,
    p50Ms: (p50 ?? NaN) / 1000,
    p99Ms: (p99 ?? NaN) / 1000,
    errors: r.errors,
  };
}

function rssMB(pid: number): number {
  try {
    return processRss(pid) / 1e6;
  } catch {
    return NaN;
  }
}

// ------------------------------------------------------------------ bends

const fmtX = (x: number): string => Number(x.toPrecision(3)).toLocaleString('en-US', { maximumFractionDigits: 2 });

/**
 * Where a metric changes slope most, read on log axes (each step's ratio of y against its ratio of x):
 * "flat" within ±15 % overall, else the point between the two steps whose exponents differ most.
 */
export function describeBend(metric: string, xs: readonly number[], ys: ReadonlyArray<number | undefined>, xUnit: string): string {
  const pts = xs
    .map((x, i) => [x, ys[i]] as const)
    .filter((p): p is readonly [number, number] => p[1] !== undefined && Number.isFinite(p[1]) && p[1] > 0 && p[0] > 0);
  if (pts.length < 2) return `${metric}: too few points to tell.`;
  const first = pts[0]!;
  const last = pts[pts.length - 1]!;
  const values = pts.map((p) => p[1]);
  const spread = Math.max(...values) / Math.min(...values);
  const range = `${fmtX(first[1])} at ${fmtX(first[0])}${xUnit} → ${fmtX(last[1])} at ${fmtX(last[0])}${xUnit}`;
  if (spread < 1.15) return `${metric}: flat (within ${((spread - 1) * 100).toFixed(0)} %) across the range, ${range}.`;
  const slopes: number[] = [];
  for (let i = 1; i < pts.length; i++) slopes.push(Math.log(pts[i]![1] / pts[i - 1]![1]) / Math.log(pts[i]![0] / pts[i - 1]![0]));
  if (slopes.length === 1) return `${metric}: ${range} (${slopes[0]! >= 0 ? '+' : ''}${slopes[0]!.toFixed(2)} log-log slope).`;
  let at = 1;
  let best = -1;
  for (let i = 1; i < slopes.length; i++) {
    const d = Math.abs(slopes[i]! - slopes[i - 1]!);
    if (d > best) {
      best = d;
      at = i;
    }
  }
  const s = (v: number): string => `${v >= 0 ? '+' : ''}${v.toFixed(2)}`;
  return `${metric}: ${range}; bends at ${fmtX(pts[at]![0])}${xUnit} (log-log slope ${s(slopes[at - 1]!)} before, ${s(slopes[at]!)} after).`;
}

// ------------------------------------------------------------------ curves

interface Ctx {
  opts: ScaleOptions;
  outDir: string;
}

const num = (row: ScaleRow, k: string): number | undefined => {
  const v = row[k];
  return typeof v === 'number' ? v : undefined;
};
const col = (rows: ScaleRow[], k: string): (number | undefined)[] => rows.map((r) => num(r, k));

interface Figures {
  charts: [string, ChartSpec][];
  bends: string[];
}

/** Draws a curve's charts into the output directory; returns their file names and the bend sentences. */
function draw(ctx: { outDir: string }, key: CurveKey, rows: ScaleRow[]): { charts: string[]; bends: string[] } {
  if (rows.length === 0) return { charts: [], bends: [] };
  const f = FIGURES[key](rows);
  for (const [file, spec] of f.charts) writeFileSync(join(ctx.outDir, file), renderChart(spec));
  return { charts: f.charts.map(([file]) => file), bends: f.bends };
}

function sizeLabel(b: number): string {
  return b >= MiB ? `${b / MiB} MiB` : b >= KiB ? `${b / KiB} KiB` : `${b} B`;
}

/** Message size: a fresh broker per point, one topic of 4 queues, 256 sends in flight. */
async function sizeCurve(ctx: Ctx): Promise<Omit<CurveResult, 'seconds'>> {
  const sizes = ctx.opts.quick ? [128, 4 * KiB, 256 * KiB] : [128, KiB, 4 * KiB, 16 * KiB, 64 * KiB, 256 * KiB];
  const maxMs = ctx.opts.quick ? 2_000 : 8_000;
  const rows: ScaleRow[] = [];
  for (const size of sizes) {
    const row = await withBenchLock(`size ${size}`, async () => {
      const b = new ScaleBroker('size');
      const client = new RemotingClient();
      try {
        await b.start();
        await createTopics(client, b.addr, ['ScaleSize'], 4);
        const body = Buffer.alloc(size, 0x61);
        const send = sender(client, b.addr, body, (i) => ({ topic: 'ScaleSize', queueId: i % 4, queueNums: 4 }));
        for (let i = 0; i < 1000; i++) await send(i); // warm-up: JIT and first segment
        // Bounded by bytes as well as time: at most 4 GiB per point.
        const m = await measureSends(b.pid, size, { inflight: 256, requests: Math.min(3_000_000, Math.ceil((4 * GiB) / size)), maxMs, send });
        return { size, label: sizeLabel(size), ...m, cpuUsPerKiB: m.cpuUsPerMsg / (size / KiB), load1: loadavg()[0] } as ScaleRow;
      } finally {
        client.close();
        await b.stop();
      }
    });
    if (row === undefined) break;
    log(
      `size ${sizeLabel(size)}: ${Math.round(num(row, 'msgsPerSec')!)} msgs/s, ${num(row, 'mbPerSec')!.toFixed(1)} MB/s, ${num(row, 'cpuUsPerMsg')!.toFixed(1)} µs/msg`,
    );
    rows.push(row);
  }
  return {
    key: 'size',
    title: 'Message size',
    setup: `A fresh broker (ASYNC_FLUSH, 1 GiB commit-log segments) per point, one topic of 4 queues, single-message SEND_MESSAGE_V2 with 256 in flight for ${maxMs / 1000} s (or 4 GiB) after 1,000 warm-up sends.`,
    columns: [
      { key: 'label', label: 'body' },
      { key: 'msgsPerSec', label: 'msgs/s' },
      { key: 'mbPerSec', label: 'MB/s', digits: 1 },
      { key: 'cpuUsPerMsg', label: 'broker CPU µs/msg', digits: 1 },
      { key: 'cpuUsPerKiB', label: 'broker CPU µs/KiB', digits: 2 },
      { key: 'p50Ms', label: 'p50 ms', digits: 2 },
      { key: 'p99Ms', label: 'p99 ms', digits: 2 },
      { key: 'rssMB', label: 'peak RSS MB' },
      { key: 'errors', label: 'send errors' },
      { key: 'load1', label: 'load avg (1 min)', digits: 1 },
    ],
    rows,
    ...draw(ctx, 'size', rows),
  };
}

/** How many topics of how many queues make `q` queues: one topic up to 10, then topics of 10 queues. */
export function topicLayout(q: number): { topics: number; perTopic: number } {
  return q <= 10 ? { topics: 1, perTopic: q } : { topics: Math.ceil(q / 10), perTopic: 10 };
}

/** Queues written at once: topics created, 1 KiB sends spread round-robin over every queue, restarts. */
async function queuesCurve(ctx: Ctx): Promise<Omit<CurveResult, 'seconds'>> {
  const counts = ctx.opts.quick ? [1, 100, 1_000] : [1, 10, 100, 1_000, 10_000];
  const maxMs = ctx.opts.quick ? 2_000 : 8_000;
  const rows: ScaleRow[] = [];
  for (const q of counts) {
    const row = await withBenchLock(`queues ${q}`, async () => {
      const b = new ScaleBroker('queues');
      const client = new RemotingClient();
      try {
        const firstStartMs = await b.start();
        const { topics, perTopic } = topicLayout(q);
        const names = Array.from({ length: topics }, (_, t) => `ScaleQ_${t}`);
        const createMs = await createTopics(client, b.addr, names, perTopic);
        const rssIdle = rssMB(b.pid);
        const body = Buffer.alloc(KiB, 0x61);
        // Consecutive sends walk every queue of every topic in turn.
        const send = sender(client, b.addr, body, (i) => {
          const k = i % (topics * perTopic);
          return { topic: names[Math.floor(k / perTopic)]!, queueId: k % perTopic, queueNums: perTopic };
        });
        for (let i = 0; i < Math.min(2_000, topics * perTopic); i++) await send(i);
        const m = await measureSends(b.pid, KiB, { inflight: 256, requests: 3_000_000, maxMs, send });
        const rssAfterSend = rssMB(b.pid);
        const cleanStartMs = await b.restartClean();
        await sleep(500);
        const rssAfterStart = rssMB(b.pid);
        const recoveryMs = await b.restartAfterKill();
        const store = b.storeRecovery();
        return {
          queues: q,
          layout: `${topics.toLocaleString('en-US')} × ${perTopic}`,
          createMs,
          firstStartMs,
          ...m,
          rssIdleMB: rssIdle,
          rssAfterSendMB: rssAfterSend,
          cleanStartMs,
          rssAfterStartMB: rssAfterStart,
          recoveryMs,
          storeRecoveryMs: store.ms,
          load1: loadavg()[0],
        } as ScaleRow;
      } finally {
        client.close();
        await b.stop();
      }
    });
    if (row === undefined) break;
    log(
      `queues ${q}: create ${Math.round(num(row, 'createMs')!)} ms, ${Math.round(num(row, 'msgsPerSec')!)} msgs/s, ${num(row, 'cpuUsPerMsg')!.toFixed(1)} µs/msg, start ${Math.round(num(row, 'cleanStartMs')!)} ms, recovery ${Math.round(num(row, 'recoveryMs')!)} ms`,
    );
    rows.push(row);
  }
  return {
    key: 'queues',
    title: 'Queues written at once',
    setup: `A fresh name server + broker per point; the topics are created with UPDATE_AND_CREATE_TOPIC (16 in flight), then 1 KiB messages go round-robin over every queue, 256 in flight, for ${maxMs / 1000} s. Then the broker is stopped (SIGTERM) and started (clean start-up), then killed (SIGKILL) and started (recovery); start-up is spawn to the "broker … started" line, which comes after store recovery and registration with the name server.`,
    columns: [
      { key: 'queues', label: 'queues' },
      { key: 'layout', label: 'topics × queues' },
      { key: 'createMs', label: 'create ms' },
      { key: 'msgsPerSec', label: 'msgs/s' },
      { key: 'cpuUsPerMsg', label: 'broker CPU µs/msg', digits: 1 },
      { key: 'p99Ms', label: 'p99 ms', digits: 1 },
      { key: 'rssIdleMB', label: 'RSS after create MB' },
      { key: 'rssAfterSendMB', label: 'RSS after sends MB' },
      { key: 'cleanStartMs', label: 'clean start ms' },
      { key: 'rssAfterStartMB', label: 'RSS after start MB' },
      { key: 'recoveryMs', label: 'kill -9 restart ms' },
      { key: 'storeRecoveryMs', label: 'store recovery ms' },
      { key: 'errors', label: 'send errors' },
      { key: 'load1', label: 'load avg (1 min)', digits: 1 },
    ],
    rows,
    ...draw(ctx, 'queues', rows),
  };
}

/** Pulls one queue from offset 0 for one group until the end, `stop`, or the deadline. */
async function pullQueue(
  client: RemotingClient,
  addr: string,
  group: string,
  topic: string,
  q: number,
  deadline: number,
  count: (n: number) => void,
): Promise<void> {
  let offset = 0;
  while (performance.now() < deadline) {
    const r = await client.invoke(
      addr,
      request(RequestCode.PULL_MESSAGE, {
        consumerGroup: group,
        topic,
        queueId: String(q),
        queueOffset: String(offset),
        maxMsgNums: '32',
        sysFlag: String(0x1 | 0x4),
        commitOffset: String(offset),
        suspendTimeoutMillis: '0',
        subscription: '*',
        subVersion: '0',
        expressionType: 'TAG',
      }),
      30_000,
    );
    if (r.code !== ResponseCode.SUCCESS) return;
    const next = Number(r.ext('nextBeginOffset'));
    if (!(next > offset)) return;
    count(next - offset);
    offset = next;
  }
}

/** Consumer groups: a topic filled once, then 1, 10, 100 groups each pull all of it at once. */
async function groupsCurve(ctx: Ctx): Promise<Omit<CurveResult, 'seconds'>> {
  const counts = ctx.opts.quick ? [1, 10] : [1, 10, 100];
  const fill = ctx.opts.quick ? 20_000 : 100_000;
  const capMs = ctx.opts.quick ? 5_000 : 30_000;
  const QUEUES = 4;
  const topic = 'ScaleGroups';
  const rows: ScaleRow[] = [];
  const b = new ScaleBroker('groups');
  const admin = new RemotingClient();
  try {
    await b.start();
    await createTopics(admin, b.addr, [topic], QUEUES);
    let filled = false;
    // The fill runs inside the first point's lock hold.
    const fillTopic = async (): Promise<void> => {
      if (filled) return;
      filled = true;
      const batchBody = encodeBatchBody(
        Array.from({ length: 64 }, () => ({ flag: 0, body: Buffer.alloc(KiB, 0x62), properties: new Map([['TAGS', 'scale']]) })),
      );
      const ext: Record<string, string> = {
        a: 'scale-producer',
        b: topic,
        c: 'TBW102',
        d: String(QUEUES),
        e: '0',
        f: '0',
        g: '0',
        h: '0',
        i: '',
        j: '0',
        k: 'false',
        m: 'true',
      };
      await runWindow({
        inflight: 8,
        requests: Math.ceil(fill / 64),
        perRequest: 64,
        maxMs: 120_000,
        send: async (i) => {
          const r = await admin.invoke(
            b.addr,
            request(RequestCode.SEND_BATCH_MESSAGE, { ...ext, e: String(i % QUEUES), g: String(Date.now()) }, batchBody),
            30_000,
          );
          if (r.code !== ResponseCode.SUCCESS) throw new Error(`batch send: ${r.code} ${r.remark ?? ''}`);
        },
      });
    };
    for (const g of counts) {
      const row = await withBenchLock(`groups ${g}`, async () => {
        await fillTopic();
        const clients = Array.from({ length: g }, () => new RemotingClient());
        const perGroup = new Array<number>(g).fill(0);
        try {
          const rss = new RssSampler(b.pid);
          rss.start();
          const cpu0 = processCpuMicros(b.pid);
          const t0 = performance.now();
          const deadline = t0 + capMs;
          const runId = Date.now();
          await Promise.all(
            clients.flatMap((c, gi) =>
              Array.from({ length: QUEUES }, (_, q) =>
                pullQueue(c, b.addr, `scale-g${runId}-${gi}`, topic, q, deadline, (n) => {
                  perGroup[gi]! += n;
                }),
              ),
            ),
          );
          const secs = (performance.now() - t0) / 1000;
          const total = perGroup.reduce((a, v) => a + v, 0);
          const cpu = processCpuMicros(b.pid) - cpu0;
          const peak = rss.stop();
          return {
            groups: g,
            delivered: total,
            seconds: secs,
            msgsPerSec: total / secs,
            mbPerSec: (total * KiB) / secs / 1e6,
            perGroupMsgsPerSec: total / secs / g,
            slowestGroupShare: Math.min(...perGroup) / Math.max(1, Math.max(...perGroup)),
            finished: perGroup.filter((n) => n >= fill).length,
            cpuUsPerMsg: cpu / Math.max(1, total),
            rssMB: peak / 1e6,
            load1: loadavg()[0],
          } as ScaleRow;
        } finally {
          for (const c of clients) c.close();
        }
      });
      if (row === undefined) break;
      log(`groups ${g}: ${Math.round(num(row, 'msgsPerSec')!)} msgs/s delivered, ${num(row, 'cpuUsPerMsg')!.toFixed(2)} µs/msg`);
      rows.push(row);
    }
  } finally {
    admin.close();
    await b.stop();
  }
  return {
    key: 'groups',
    title: 'Consumer groups reading the same topic',
    setup: `One broker, one topic of ${QUEUES} queues filled with ${fill.toLocaleString('en-US')} messages of 1 KiB (batch sends). Each point starts that many new groups, each with its own connection, pulling every queue from offset 0 (one PULL_MESSAGE of 32 in flight per queue per group, committing its offset as it goes) until the end or ${capMs / 1000} s.`,
    columns: [
      { key: 'groups', label: 'groups' },
      { key: 'delivered', label: 'delivered' },
      { key: 'seconds', label: 's', digits: 1 },
      { key: 'msgsPerSec', label: 'total msgs/s' },
      { key: 'mbPerSec', label: 'MB/s', digits: 1 },
      { key: 'perGroupMsgsPerSec', label: 'per group msgs/s' },
      { key: 'finished', label: 'groups that read it all' },
      { key: 'slowestGroupShare', label: 'slowest / fastest group', digits: 2 },
      { key: 'cpuUsPerMsg', label: 'broker CPU µs/msg', digits: 2 },
      { key: 'rssMB', label: 'peak RSS MB' },
      { key: 'load1', label: 'load avg (1 min)', digits: 1 },
    ],
    rows,
    ...draw(ctx, 'groups', rows),
  };
}

async function queryByKey(client: RemotingClient, addr: string, topic: string, key: string): Promise<{ found: number; ms: number }> {
  const t0 = performance.now();
  const r = await client.invoke(
    addr,
    request(RequestCode.QUERY_MESSAGE, { topic, key, maxNum: '32', beginTimestamp: '0', endTimestamp: String(Number.MAX_SAFE_INTEGER) }),
    30_000,
  );
  const ms = performance.now() - t0;
  if (r.code === ResponseCode.QUERY_NOT_FOUND) return { found: 0, ms };
  if (r.code !== ResponseCode.SUCCESS) throw new Error(`query ${key}: ${r.code} ${r.remark ?? ''}`);
  let found = 0;
  const body = r.body ?? Buffer.alloc(0);
  for (let pos = 0; pos + 4 <= body.length && body.readInt32BE(pos) > 0; pos += body.readInt32BE(pos)) found++;
  return { found, ms };
}

async function lookupLatency(
  client: RemotingClient,
  addr: string,
  topic: string,
  key: string,
  n: number,
): Promise<{ p50: number; max: number; found: number }> {
  const rec = new LatencyRecorder(n);
  let found = 0;
  for (let i = 0; i < n; i++) {
    const r = await queryByKey(client, addr, topic, key);
    rec.record(r.ms * 1000);
    found = r.found;
  }
  const [p50, max] = rec.percentiles([50, 100]);
  return { p50: (p50 ?? NaN) / 1000, max: (max ?? NaN) / 1000, found };
}

async function runtimeTable(client: RemotingClient, addr: string): Promise<Record<string, string>> {
  const r = await client.invoke(addr, RemotingCommand.request(RequestCode.GET_BROKER_RUNTIME_INFO, null, null), 10_000);
  return (JSON.parse(r.body!.toString('utf8')) as { table: Record<string, string> }).table;
}

function freeDiskBytes(path: string): number {
  const s = statfsSync(path);
  return s.bavail * s.bsize;
}

/** Stored size: one broker filled in steps; at each step send rate, lookup by key, start-up and recovery. */
async function storedCurve(ctx: Ctx): Promise<Omit<CurveResult, 'seconds'>> {
  let targets = ctx.opts.quick ? [0.1, 0.2] : [1, 2, 5, 10, 20];
  targets = targets.filter((t) => t <= ctx.opts.maxStoredGiB);
  if (targets.length === 0) targets = [ctx.opts.maxStoredGiB];
  const QUEUES = 8;
  const topic = 'ScaleStored';
  const FILL_BODY = 4 * KiB;
  const BATCH = 32;
  const windowMs = ctx.opts.quick ? 1_500 : 5_000;
  const lookups = ctx.opts.quick ? 10 : 30;
  const rows: ScaleRow[] = [];
  const b = new ScaleBroker('stored');
  const client = new RemotingClient();
  const notes: string[] = [];
  let seq = 0;
  const body = Buffer.alloc(FILL_BODY, 0x63);
  const fillOnce = async (): Promise<number> => {
    const first = seq;
    seq += BATCH;
    const entries = Array.from({ length: BATCH }, (_, j) => ({
      flag: 0,
      body,
      properties: new Map([
        ['TAGS', 'scale'],
        ['KEYS', `k-${first + j}`],
      ]),
    }));
    const r = await client.invoke(
      b.addr,
      request(
        RequestCode.SEND_BATCH_MESSAGE,
        {
          a: 'scale-producer',
          b: topic,
          c: 'TBW102',
          d: String(QUEUES),
          e: String((first / BATCH) % QUEUES),
          f: '0',
          g: String(Date.now()),
          h: '0',
          i: '',
          j: '0',
          k: 'false',
          m: 'true',
        },
        encodeBatchBody(entries),
      ),
      30_000,
    );
    if (r.code !== ResponseCode.SUCCESS) throw new Error(`batch send: ${r.code} ${r.remark ?? ''}`);
    return BATCH;
  };
  const stored = async (): Promise<number> => Number((await runtimeTable(client, b.addr))['commitLogMaxOffset'] ?? 0);
  try {
    // Starting the broker is not measured here (the queues curve has start-up times): no lock.
    await b.start({ mappedFileSizeConsumeQueue: 300_000 * 20 });
    await createTopics(client, b.addr, [topic], QUEUES);
    for (const gib of targets) {
      // One lock hold per point: fill up to the target, then measure.
      const row = await withBenchLock(`stored ${gib} GiB`, async () => {
        let fillBytes = 0;
        let fillMs = 0;
        let fillCpu = 0;
        let fillMsgs = 0;
        for (;;) {
          const have = await stored();
          if (have >= gib * GiB) break;
          const free = freeDiskBytes(b.dir);
          if (free < 8 * GiB) {
            notes.push(`stopped filling at ${(have / GiB).toFixed(1)} GiB: ${(free / GiB).toFixed(1)} GiB free on the disk`);
            break;
          }
          const chunk = Math.min(2 * GiB, gib * GiB - have);
          const cpu0 = processCpuMicros(b.pid);
          const perMsg = FILL_BODY + 120;
          const r = await runWindow({ inflight: 16, requests: Math.ceil(chunk / perMsg / BATCH), perRequest: BATCH, maxMs: 200_000, send: () => fillOnce() });
          fillMs += r.elapsedMs;
          fillMsgs += r.messages;
          fillBytes += r.messages * FILL_BODY;
          fillCpu += processCpuMicros(b.pid) - cpu0;
          if (r.errors > 0) log(`  fill: ${r.errors} errors, first: ${r.firstError}`);
        }
        const have = await stored();
        const lateKey = `k-${seq - 1}`;
        // Wait until the index has the newest key (dispatch runs behind the append).
        for (let i = 0; i < 100 && (await queryByKey(client, b.addr, topic, lateKey)).found === 0; i++) await sleep(100);
        const early = await lookupLatency(client, b.addr, topic, 'k-0', lookups);
        const late = await lookupLatency(client, b.addr, topic, lateKey, lookups);
        const missing = await lookupLatency(client, b.addr, topic, `absent-${gib}`, lookups);
        // Send rate now: 1 KiB single sends with a key each, 256 in flight.
        let sendSeq = 0;
        const send = sender(
          client,
          b.addr,
          Buffer.alloc(KiB, 0x64),
          (i) => ({ topic, queueId: i % QUEUES, queueNums: QUEUES }),
          () => `s-${gib}-${sendSeq++}`,
        );
        const m = await measureSends(b.pid, KiB, { inflight: 256, requests: 3_000_000, maxMs: windowMs, send });
        const rssBefore = rssMB(b.pid);
        const recoveryMs = await b.restartAfterKill();
        const rec = b.storeRecovery();
        const rssAfterRecovery = rssMB(b.pid);
        const cleanStartMs = await b.restartClean();
        const clean = b.storeRecovery();
        await sleep(500);
        const rssAfterStart = rssMB(b.pid);
        // After the restarts the early key must still be found.
        const again = await queryByKey(client, b.addr, topic, 'k-0');
        return {
          targetGiB: gib,
          storedGiB: have / GiB,
          fillMBps: fillBytes / Math.max(1, fillMs) / 1e3,
          fillCpuUsPerMsg: fillCpu / Math.max(1, fillMsgs),
          msgsPerSec: m.msgsPerSec,
          mbPerSec: m.mbPerSec,
          cpuUsPerMsg: m.cpuUsPerMsg,
          p99Ms: m.p99Ms,
          earlyP50Ms: early.p50,
          earlyMaxMs: early.max,
          earlyFound: early.found,
          lateP50Ms: late.p50,
          lateMaxMs: late.max,
          lateFound: late.found,
          missP50Ms: missing.p50,
          rssMB: rssBefore,
          recoveryMs,
          storeRecoveryMs: rec.ms,
          recoveryMode: rec.mode,
          rssAfterRecoveryMB: rssAfterRecovery,
          cleanStartMs,
          storeCleanMs: clean.ms,
          rssAfterStartMB: rssAfterStart,
          foundAfterRestart: again.found,
          load1: loadavg()[0],
        } as ScaleRow;
      });
      if (row === undefined) break;
      log(
        `stored ${num(row, 'storedGiB')!.toFixed(2)} GiB: fill ${num(row, 'fillMBps')!.toFixed(0)} MB/s, send ${Math.round(num(row, 'msgsPerSec')!)} msgs/s, lookup early ${num(row, 'earlyP50Ms')!.toFixed(2)} ms late ${num(row, 'lateP50Ms')!.toFixed(2)} ms, recovery ${Math.round(num(row, 'recoveryMs')!)} ms, start ${Math.round(num(row, 'cleanStartMs')!)} ms`,
      );
      rows.push(row);
      if (notes.length > 0) break;
    }
  } finally {
    client.close();
    await b.stop();
  }
  return {
    key: 'stored',
    title: 'Amount stored',
    setup:
      `One broker (ASYNC_FLUSH, 1 GiB segments, index on), one topic of ${QUEUES} queues, filled with ${FILL_BODY / KiB} KiB messages carrying a unique KEYS value (batches of ${BATCH}, 16 in flight). ` +
      `At each point: QUERY_MESSAGE by key ${lookups}× each for the first key stored, the newest key and an absent key; ${windowMs / 1000} s of 1 KiB single sends (256 in flight, a key each); ` +
      `then kill -9 and start (recovery), then SIGTERM and start (clean start-up).` +
      (notes.length ? ` ${notes.join('; ')}.` : ''),
    columns: [
      { key: 'storedGiB', label: 'stored GiB', digits: 2 },
      { key: 'fillMBps', label: 'fill MB/s (batches)' },
      { key: 'msgsPerSec', label: 'send msgs/s' },
      { key: 'cpuUsPerMsg', label: 'broker CPU µs/msg', digits: 1 },
      { key: 'p99Ms', label: 'send p99 ms', digits: 1 },
      { key: 'earlyP50Ms', label: 'lookup early key ms', digits: 2 },
      { key: 'lateP50Ms', label: 'lookup late key ms', digits: 2 },
      { key: 'missP50Ms', label: 'lookup absent key ms', digits: 2 },
      { key: 'recoveryMs', label: 'kill -9 restart ms' },
      { key: 'storeRecoveryMs', label: 'store recovery ms' },
      { key: 'cleanStartMs', label: 'clean start ms' },
      { key: 'rssMB', label: 'RSS before restart MB' },
      { key: 'rssAfterStartMB', label: 'RSS after start MB' },
      { key: 'load1', label: 'load avg (1 min)', digits: 1 },
    ],
    rows,
    ...draw(ctx, 'stored', rows),
  };
}

// ------------------------------------------------------------------ figures

function sizeFigures(rows: ScaleRow[]): Figures {
  const xs = col(rows, 'size').map((v) => v ?? NaN);
  const labels = xs.map(sizeLabel);
  const charts: [string, ChartSpec][] = [
    [
      'size.svg',
      {
        title: 'Send throughput vs message size',
        xLabel: 'message body size',
        x: xs,
        xTickLabels: labels,
        left: { label: 'msgs/s', series: [{ name: 'msgs/s', values: col(rows, 'msgsPerSec') }] },
        right: { label: 'broker CPU µs/msg', series: [{ name: 'broker CPU µs/msg', values: col(rows, 'cpuUsPerMsg') }] },
      },
    ],
    [
      'size-bytes.svg',
      {
        title: 'Bytes per second and broker RSS vs message size',
        xLabel: 'message body size',
        x: xs,
        xTickLabels: labels,
        left: { label: 'MB/s', series: [{ name: 'MB/s', values: col(rows, 'mbPerSec') }] },
        right: { label: 'broker RSS MB', series: [{ name: 'peak RSS MB', values: col(rows, 'rssMB') }] },
      },
    ],
  ];
  const bends = [
    describeBend('msgs/s', xs, col(rows, 'msgsPerSec'), ' B'),
    describeBend('MB/s', xs, col(rows, 'mbPerSec'), ' B'),
    describeBend('broker CPU µs/msg', xs, col(rows, 'cpuUsPerMsg'), ' B'),
  ];
  return { charts, bends };
}

function queuesFigures(rows: ScaleRow[]): Figures {
  const counts = col(rows, 'queues').map((v) => v ?? NaN);
  const labels = counts.map((c) => c.toLocaleString('en-US'));
  const charts: [string, ChartSpec][] = [
    [
      'queues.svg',
      {
        title: 'Send throughput vs queues written at once',
        xLabel: 'queues (topics × queues per topic)',
        x: counts,
        xTickLabels: labels,
        left: { label: 'msgs/s', series: [{ name: 'msgs/s', values: col(rows, 'msgsPerSec') }] },
        right: { label: 'broker CPU µs/msg', series: [{ name: 'broker CPU µs/msg', values: col(rows, 'cpuUsPerMsg') }] },
      },
    ],
    [
      'queues-startup.svg',
      {
        title: 'Broker start-up, recovery and topic creation vs queues',
        xLabel: 'queues (topics × queues per topic)',
        x: counts,
        xTickLabels: labels,
        left: {
          label: 'ms',
          log: true,
          series: [
            { name: 'clean start-up ms', values: col(rows, 'cleanStartMs') },
            { name: 'kill -9 recovery ms', values: col(rows, 'recoveryMs') },
            { name: 'create all topics ms', values: col(rows, 'createMs') },
          ],
        },
        right: {
          label: 'broker RSS MB',
          series: [
            { name: 'RSS after sends MB', values: col(rows, 'rssAfterSendMB') },
            { name: 'RSS after restart MB', values: col(rows, 'rssAfterStartMB') },
          ],
        },
        height: 430,
      },
    ],
  ];
  const bends = [
    describeBend('msgs/s', counts, col(rows, 'msgsPerSec'), ' queues'),
    describeBend('broker CPU µs/msg', counts, col(rows, 'cpuUsPerMsg'), ' queues'),
    describeBend('topic create time', counts, col(rows, 'createMs'), ' queues'),
    describeBend('clean start-up time', counts, col(rows, 'cleanStartMs'), ' queues'),
    describeBend('RSS after sends', counts, col(rows, 'rssAfterSendMB'), ' queues'),
  ];
  return { charts, bends };
}

function groupsFigures(rows: ScaleRow[]): Figures {
  const counts = col(rows, 'groups').map((v) => v ?? NaN);
  const charts: [string, ChartSpec][] = [
    [
      'groups.svg',
      {
        title: 'Delivery vs consumer groups reading one topic',
        xLabel: 'consumer groups',
        x: counts,
        left: {
          label: 'msgs/s',
          series: [
            { name: 'total delivered msgs/s', values: col(rows, 'msgsPerSec') },
            { name: 'per group msgs/s', values: col(rows, 'perGroupMsgsPerSec') },
          ],
        },
        right: { label: 'broker CPU µs/msg', series: [{ name: 'broker CPU µs per delivered msg', values: col(rows, 'cpuUsPerMsg') }] },
      },
    ],
  ];
  const bends = [
    describeBend('total msgs/s', counts, col(rows, 'msgsPerSec'), ' groups'),
    describeBend('broker CPU µs/msg', counts, col(rows, 'cpuUsPerMsg'), ' groups'),
  ];
  return { charts, bends };
}

function storedFigures(rows: ScaleRow[]): Figures {
  const xs = col(rows, 'storedGiB').map((v) => v ?? NaN);
  const labels = xs.map((v) => (v >= 1 ? `${v.toFixed(v < 10 ? 1 : 0)} GiB` : `${Math.round(v * 1024)} MiB`));
  const charts: [string, ChartSpec][] = [
    [
      'stored.svg',
      {
        title: 'Send rate vs amount stored',
        xLabel: 'commit log size',
        x: xs,
        xTickLabels: labels,
        logX: false,
        left: { label: 'msgs/s', series: [{ name: 'send msgs/s (1 KiB, 256 in flight)', values: col(rows, 'msgsPerSec') }] },
        right: { label: 'broker CPU µs/msg', series: [{ name: 'broker CPU µs/msg', values: col(rows, 'cpuUsPerMsg') }] },
      },
    ],
    [
      'stored-lookup.svg',
      {
        title: 'Lookup by key (QUERY_MESSAGE) vs amount stored',
        xLabel: 'commit log size',
        x: xs,
        xTickLabels: labels,
        logX: false,
        left: {
          label: 'ms (median)',
          series: [
            { name: 'early key', values: col(rows, 'earlyP50Ms') },
            { name: 'late key', values: col(rows, 'lateP50Ms') },
            { name: 'absent key', values: col(rows, 'missP50Ms') },
          ],
        },
      },
    ],
    [
      'stored-startup.svg',
      {
        title: 'Start-up and kill -9 recovery vs amount stored',
        xLabel: 'commit log size',
        x: xs,
        xTickLabels: labels,
        logX: false,
        left: {
          label: 'ms',
          series: [
            { name: 'kill -9 restart ms', values: col(rows, 'recoveryMs') },
            { name: 'clean start ms', values: col(rows, 'cleanStartMs') },
          ],
        },
        right: { label: 'broker RSS MB', series: [{ name: 'RSS after start MB', values: col(rows, 'rssAfterStartMB') }] },
      },
    ],
  ];
  const bends = [
    describeBend('send msgs/s', xs, col(rows, 'msgsPerSec'), ' GiB'),
    describeBend('lookup (early key)', xs, col(rows, 'earlyP50Ms'), ' GiB'),
    describeBend('lookup (late key)', xs, col(rows, 'lateP50Ms'), ' GiB'),
    describeBend('kill -9 restart', xs, col(rows, 'recoveryMs'), ' GiB'),
    describeBend('clean start-up', xs, col(rows, 'cleanStartMs'), ' GiB'),
  ];
  return { charts, bends };
}

const FIGURES: Record<CurveKey, (rows: ScaleRow[]) => Figures> = { size: sizeFigures, queues: queuesFigures, groups: groupsFigures, stored: storedFigures };

// ------------------------------------------------------------------ report

function fmtCell(v: Cell, digits = 0): string {
  if (v === undefined) return '-';
  if (typeof v === 'string') return v;
  if (!Number.isFinite(v)) return '-';
  return v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export function curveTable(c: CurveResult): string[] {
  const head = `| ${c.columns.map((k) => k.label).join(' | ')} |`;
  const sep = `|${c.columns.map(() => '---').join('|')}|`;
  return [head, sep, ...c.rows.map((r) => `| ${c.columns.map((k) => fmtCell(r[k.key], k.digits)).join(' | ')} |`)];
}

const BEGIN = '<!-- scale:begin (written by pnpm bench --scale) -->';
const END = '<!-- scale:end -->';

export function scaleSection(rep: ScaleReport, jsonName: string): string {
  const m = rep.machine;
  // What else ran: judged from the load average each point ended with (2 cores: above ~3 means
  // something besides the broker and the bench client wanted the CPU).
  const loads = rep.curves.flatMap((c) => c.rows.map((r) => r['load1'])).filter((x): x is number => typeof x === 'number');
  const maxLoad = loads.length > 0 ? Math.max(...loads) : 0;
  const conditions =
    maxLoad <= 3
      ? `and nothing else ran (1-minute load average ${Math.min(...loads).toFixed(1)}–${maxLoad.toFixed(1)} at the points' ends), so expect ±10 % on throughput between runs`
      : `and the machine was shared with other work (1-minute load average up to ${maxLoad.toFixed(1)}): the bench lock was held per point (${rep.lockWaitSec.toFixed(0)} s spent waiting for it), but unrelated builds and tests still ran alongside, so expect ±15 % on throughput (more where noted)`;
  const lines = [
    BEGIN,
    `## How cost grows (\`pnpm bench --scale\`, ${rep.date})`,
    '',
    `Machine: ${m.cores} cores (${m.cpuModel}), ${m.memoryGiB} GiB, Node.js ${m.node}, ${m.platform}; local VM disk. The bench client, name server and broker share the machine, ` +
      `${conditions}; CPU µs per message (the broker process's utime + stime over the messages) is the steadier figure. The "load avg (1 min)" column is the machine's 1-minute load average when the point ended: on 2 cores, anything well above 2 means the broker and the bench client got a share of the CPU only. The curves took ${rep.durationSec.toFixed(0)} s in all. Raw figures: \`bench/results/${jsonName}\`.`,
    '',
  ];
  for (const c of rep.curves) {
    const when =
      c.finishedAt !== undefined
        ? ` Measured ${c.finishedAt.slice(0, 16).replace('T', ' ')} UTC in ${c.seconds.toFixed(0)} s (${(c.lockWaitSec ?? 0).toFixed(0)} s of it waiting for the lock).`
        : '';
    lines.push(`### ${c.title}`, '', c.setup + when, '');
    if (c.error !== undefined) lines.push(`**Failed:** ${c.error}`, '');
    if (c.rows.length > 0) lines.push(...curveTable(c), '');
    for (const f of c.charts) lines.push(`![${c.title}: ${f}](bench/results/scale/${f})`, '');
    if (c.bends.length > 0) lines.push('Where it bends (computed from the rows):', '', ...c.bends.map((s) => `- ${s}`), '');
  }
  lines.push(END);
  return lines.join('\n');
}

/**
 * Writes bench/results/scale-<date>.json and, for full (not --quick) runs, the scale section of
 * BENCHMARKS.md. A run of some curves (--scale-only) replaces those curves in the day's file and
 * keeps the others, so the curves can be run one at a time on a busy machine.
 */
function saveScale(rep: ScaleReport, root: string): { name: string; merged: ScaleReport } {
  const dir = join(root, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const name = `scale-${rep.date}${rep.quick ? '-quick' : ''}.json`;
  const file = join(dir, name);
  let merged = rep;
  if (existsSync(file)) {
    const old = JSON.parse(readFileSync(file, 'utf8')) as ScaleReport;
    const byKey = new Map<CurveKey, CurveResult>(old.curves.map((c) => [c.key, c]));
    // A curve stopped before its first point does not replace one measured earlier.
    for (const c of rep.curves) if (c.rows.length > 0 || !byKey.has(c.key)) byKey.set(c.key, c);
    const curves = CURVES.flatMap((k) => (byKey.has(k) ? [byKey.get(k)!] : []));
    merged = {
      ...rep,
      curves,
      lockWaitSec: curves.reduce((a, c) => a + (c.lockWaitSec ?? 0), 0),
      durationSec: curves.reduce((a, c) => a + c.seconds, 0),
    };
  }
  writeFileSync(file, JSON.stringify(merged, null, 2) + '\n');
  if (!rep.quick) writeSection(root, scaleSection(merged, name));
  return { name, merged };
}

/**
 * `--scale-redraw`: draws the charts and rewrites the BENCHMARKS.md section again from the newest
 * bench/results/scale-<date>.json, without measuring anything.
 */
function redraw(root: string): void {
  const dir = join(root, 'bench', 'results');
  const name = readdirSync(dir)
    .filter((f) => /^scale-\d{4}-\d{2}-\d{2}\.json$/.test(f))
    .sort()
    .pop();
  if (name === undefined) throw new Error(`no scale-<date>.json in ${dir}; run pnpm bench --scale first`);
  const rep = JSON.parse(readFileSync(join(dir, name), 'utf8')) as ScaleReport;
  const outDir = join(dir, 'scale');
  mkdirSync(outDir, { recursive: true });
  for (const c of rep.curves) if (c.rows.length > 0) Object.assign(c, draw({ outDir }, c.key, c.rows));
  writeFileSync(join(dir, name), JSON.stringify(rep, null, 2) + '\n');
  writeSection(root, scaleSection(rep, name));
  console.log(`redrawn from bench/results/${name}: ${outDir} and BENCHMARKS.md`);
}

function writeSection(root: string, section: string): void {
  const md = join(root, 'BENCHMARKS.md');
  let text = existsSync(md) ? readFileSync(md, 'utf8') : '# Benchmarks\n\n';
  const a = text.indexOf(BEGIN);
  const b = text.indexOf(END);
  text = a >= 0 && b > a ? text.slice(0, a) + section + text.slice(b + END.length) : text.trimEnd() + '\n\n' + section + '\n';
  writeFileSync(md, text);
}

export async function runScale(argv: readonly string[]): Promise<void> {
  if (argv.includes('--scale-redraw')) return redraw(repoRoot());
  const opts = parseScaleArgs(argv);
  process.on('SIGUSR2', () => {
    stopRequested = true;
    log('SIGUSR2: no more points; saving the points measured so far');
    for (const l of stopListeners) l();
  });
  // Interrupted: stop the servers this run started and delete their stores before leaving.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      log(`${sig}: stopping the servers and removing their data`);
      void stopAllProcesses(3_000).finally(() => {
        removeTempDirs();
        process.exit(130);
      });
    });
  }
  const root = repoRoot();
  // Quick and partial runs draw apart, so they never overwrite the committed pictures.
  const outDir = join(root, 'bench', 'results', opts.quick ? 'scale-scratch' : 'scale');
  mkdirSync(outDir, { recursive: true });
  const ctx: Ctx = { opts, outDir };
  const t0 = performance.now();
  const runners: Record<CurveKey, (c: Ctx) => Promise<Omit<CurveResult, 'seconds'>>> = {
    size: sizeCurve,
    queues: queuesCurve,
    groups: groupsCurve,
    stored: storedCurve,
  };
  const curves: CurveResult[] = [];
  for (const key of CURVES) {
    if (!opts.only.has(key) || stopRequested) continue;
    log(`curve ${key} ...`);
    const c0 = performance.now();
    const w0 = lockWaitMs;
    try {
      curves.push({
        ...(await runners[key](ctx)),
        seconds: (performance.now() - c0) / 1000,
        lockWaitSec: (lockWaitMs - w0) / 1000,
        finishedAt: new Date().toISOString(),
      });
    } catch (e) {
      log(`curve ${key} failed: ${(e as Error).stack ?? String(e)}`);
      curves.push({
        key,
        title: key,
        setup: '',
        columns: [],
        rows: [],
        charts: [],
        bends: [],
        seconds: (performance.now() - c0) / 1000,
        error: (e as Error).message,
      });
    }
    log(`curve ${key} done in ${((performance.now() - c0) / 1000).toFixed(0)} s`);
  }
  const rep: ScaleReport = {
    date: new Date().toISOString().slice(0, 10),
    quick: opts.quick,
    ...(opts.only.size < CURVES.length ? { only: [...opts.only].join(',') } : {}),
    machine: machineInfo(),
    curves,
    lockWaitSec: lockWaitMs / 1000,
    durationSec: (performance.now() - t0) / 1000,
  };
  for (const c of curves) {
    console.log(`\n## ${c.title}${c.error !== undefined ? ` (failed: ${c.error})` : ''}`);
    for (const l of curveTable(c)) console.log(l);
    for (const s of c.bends) console.log(`- ${s}`);
  }
  const { name } = saveScale(rep, root);
  console.log(`\nresults: bench/results/${name}, charts in ${outDir}${rep.quick ? '' : ', and BENCHMARKS.md'}`);
  if (curves.some((c) => c.error !== undefined)) process.exitCode = 1;
}
