import {
  METRIC,
  aggregatingHistogram,
  counter,
  createMetricsRegistry,
  gauge,
  histogram,
  removeSeries,
  type HistogramSeries,
  type Registry,
} from '@rocketmq-ts/metrics';
import { RequestCode, requestCodeName } from '@rocketmq-ts/protocol';
import type { RemotingProbe } from '@rocketmq-ts/remoting';
import type { StoreProbe } from '@rocketmq-ts/store';
import type { BrokerConfig } from '../config.js';
import type { ConsumerLagRow } from './consumer-lag.service.js';

/** The timer's numbers, read at scrape time (bindTimer). */
export interface TimerMetricsSource {
  /** Messages in rmq_sys_wheel_timer not yet enqueued, timers pending from the read time on, read-time lag (ms). */
  status(): { enqueueBehindMessages: number; pending: number; dequeueBehindMs: number };
  timingCounts(): ReadonlyMap<string, number>;
  readonly enqueueTotal: ReadonlyMap<string, number>;
  readonly dequeueTotal: ReadonlyMap<string, number>;
  /** Age (ms) of the oldest message not yet enqueued; 0 when none. */
  enqueueBehindMs(): Promise<number>;
}

/** What the gauges read at scrape time; bound once the store and managers exist. */
export interface MetricsSources {
  storeSizeBytes(): number;
  /** Replication lag in bytes and this broker's role (see METRIC.replicationBehindBytes). */
  replication(): { role: string; behindBytes: number };
  flushBehindBytes(): number;
  consumerLag(): Promise<ConsumerLagRow[]>;
}

type Inc = { inc(v?: number): void };

/** message_type of rocketmq_messages_in_total (RocketMQ's TopicMessageType metrics values). */
export type MessageType = 'normal' | 'fifo' | 'delay' | 'transaction';

/** Counts since the last scrape for one series pair; handed to prom-client when it collects. */
interface Pending {
  msgs: number;
  bytes: number;
  readonly msgsChild: Inc;
  readonly bytesChild: Inc;
}

/**
 * Request codes whose handlers write their own replies (found pulls and queries go out with
 * record slices, held pulls later); they report to `rpcDone` themselves, so the connection's
 * "no reply" report for them is not counted.
 */
const SELF_REPORTED = new Set<number>([RequestCode.PULL_MESSAGE, RequestCode.LITE_PULL_MESSAGE, RequestCode.QUERY_MESSAGE]);
const KNOWN_REQUEST_CODES = new Set<number>(Object.values(RequestCode as Record<string, number>));
/** Stands for every request code the protocol does not name (not a code of its own). */
const UNKNOWN_CODE = -7;

/**
 * The broker's metrics under RocketMQ 5's names. On the hot paths a send or pull adds to plain
 * numbers (per topic, per topic and group, per request/response code); prom-client gets them when
 * Prometheus scrapes (its `collect` hooks), because prom-client hashes the label set on every
 * inc/observe, even through a cached child. Consumer lag is computed at scrape time too.
 */
export class BrokerMetrics {
  readonly registry: Registry;
  private readonly inMsgs;
  private readonly inBytes;
  private readonly outMsgs;
  private readonly outBytes;
  private readonly rpc;
  private readonly inPending = new Map<string, Pending>();
  private readonly outPending = new Map<string, Pending>();
  private readonly rpcSeries = new Map<number, HistogramSeries>();
  private sources: MetricsSources | null = null;
  private halfMessagesSource: (() => Map<string, number>) | null = null;
  private reviveLagSource: (() => number[]) | null = null;
  private readonly reviveIn;
  private readonly reviveRetry;
  private timer: TimerMetricsSource | undefined;
  private readonly commits;
  private readonly rollbacks;
  private readonly checks;
  private readonly discards;
  readonly storeProbe: StoreProbe;
  readonly remotingProbe: RemotingProbe;

  constructor(c: BrokerConfig) {
    this.registry = createMetricsRegistry({ cluster: c.brokerClusterName, node_type: 'broker', node_id: `${c.brokerName}-${c.brokerId}` });
    const r = this.registry;
    this.inMsgs = counter(r, { ...METRIC.messagesInTotal, collect: () => drain(this.inPending, 'msgs') });
    this.inBytes = counter(r, { ...METRIC.throughputInTotal, collect: () => drain(this.inPending, 'bytes') });
    this.outMsgs = counter(r, { ...METRIC.messagesOutTotal, collect: () => drain(this.outPending, 'msgs') });
    this.outBytes = counter(r, { ...METRIC.throughputOutTotal, collect: () => drain(this.outPending, 'bytes') });
    this.rpc = aggregatingHistogram(r, { ...METRIC.rpcLatency, buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 1000, 5000] });
    gauge(r, { ...METRIC.storageSize, collect: (g) => g.set(this.sources?.storeSizeBytes() ?? 0) });
    gauge(r, {
      ...METRIC.replicationBehindBytes,
      collect: (g) => {
        const x = this.sources?.replication();
        g.reset();
        if (x !== undefined) g.set({ role: x.role }, x.behindBytes);
      },
    });
    gauge(r, { ...METRIC.storageFlushBehindBytes, collect: (g) => g.set(Math.max(0, this.sources?.flushBehindBytes() ?? 0)) });
    gauge(r, {
      ...METRIC.halfMessages,
      collect: (g) => {
        g.reset();
        for (const [topic, n] of this.halfMessagesSource?.() ?? []) g.set({ topic }, n);
      },
    });
    this.reviveIn = counter(r, METRIC.popReviveInMessageTotal);
    this.reviveRetry = counter(r, METRIC.popReviveRetryMessagesTotal);
    gauge(r, {
      ...METRIC.popReviveLag,
      collect: (g) => {
        g.reset();
        (this.reviveLagSource?.() ?? []).forEach((n, q) => g.set({ queue_id: String(q) }, n));
      },
    });
    // Timer: cumulative per-topic counts kept by the store, handed over as increments at scrape time.
    const seenEnq = new Map<string, number>();
    const seenDeq = new Map<string, number>();
    const handOver = (c: { labels(l: Record<string, string>): Inc }, now: ReadonlyMap<string, number> | undefined, seen: Map<string, number>): void => {
      for (const [topic, v] of now ?? []) {
        const d = v - (seen.get(topic) ?? 0);
        if (d > 0) c.labels({ topic }).inc(d);
        seen.set(topic, v);
      }
    };
    counter(r, { ...METRIC.timerEnqueueTotal, collect: (c) => handOver(c, this.timer?.enqueueTotal, seenEnq) });
    counter(r, { ...METRIC.timerDequeueTotal, collect: (c) => handOver(c, this.timer?.dequeueTotal, seenDeq) });
    gauge(r, {
      ...METRIC.timingMessages,
      collect: (g) => {
        g.reset();
        for (const [topic, n] of this.timer?.timingCounts() ?? []) g.set({ topic }, n);
      },
    });
    gauge(r, { ...METRIC.timerEnqueueLag, collect: (g) => g.set(this.timer?.status().enqueueBehindMessages ?? 0) });
    gauge(r, { ...METRIC.timerEnqueueLatency, collect: async (g) => g.set(Math.floor((await (this.timer?.enqueueBehindMs() ?? Promise.resolve(0))) / 1000)) });
    gauge(r, { ...METRIC.timerDequeueLag, collect: (g) => g.set(this.timer?.status().pending ?? 0) });
    gauge(r, { ...METRIC.timerDequeueLatency, collect: (g) => g.set(Math.floor((this.timer?.status().dequeueBehindMs ?? 0) / 1000)) });
    this.commits = counter(r, METRIC.commitMessagesTotal);
    this.rollbacks = counter(r, METRIC.rollbackMessagesTotal);
    this.checks = counter(r, METRIC.transactionChecksTotal);
    this.discards = counter(r, METRIC.transactionDiscardsTotal);
    const lagLabels = ['topic', 'consumer_group', 'queue_id'];
    gauge(r, { ...METRIC.consumerLagMessages, labelNames: lagLabels, collect: async (g) => this.fillLag(g, 'lagMessages') });
    gauge(r, { ...METRIC.consumerLagLatency, labelNames: lagLabels, collect: async (g) => this.fillLag(g, 'lagMs') });
    // The store reports flushes and disk checks as they happen (prom-client's cost is per flush, not per message).
    const flush = histogram(r, { ...METRIC.storageFlushLatency, buckets: [0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 1000, 5000] });
    const diskUsed = gauge(r, METRIC.storageDiskUsedRatio);
    const flushByKind = {
      commitlog: flush.labels({ file_kind: 'commitlog' }),
      consumequeue: flush.labels({ file_kind: 'consumequeue' }),
      index: flush.labels({ file_kind: 'index' }),
    };
    this.storeProbe = {
      onFlush: (kind, _bytes, ms) => flushByKind[kind].observe(ms),
      onDiskUsage: (ratio) => diskUsed.set(ratio),
    };
    this.remotingProbe = {
      requestDone: (req, res, ms) => {
        if (res === -1 && SELF_REPORTED.has(req)) return;
        this.rpcDone(req, res, ms);
      },
    };
  }

  /** One request answered (`res` -1: no reply, oneway). */
  rpcDone(req: number, res: number, ms: number): void {
    // Codes come from the peer: any it makes up share one label value, or a client sending random
    // codes would grow the series (and the memory) without bound.
    if (!KNOWN_REQUEST_CODES.has(req)) req = UNKNOWN_CODE;
    const key = req * 100_000 + (res + 1);
    let series = this.rpcSeries.get(key);
    if (!series) {
      series = this.rpc.series({
        protocol_type: 'remoting',
        request_code: req === UNKNOWN_CODE ? 'unknown' : requestCodeName(req).toLowerCase(),
        response_code: res < 0 ? 'none' : String(res),
      });
      this.rpcSeries.set(key, series);
    }
    series.observe(ms);
  }

  /** Called once the store and the managers exist (the metrics exist before them: the store takes their probe). */
  bindSources(s: MetricsSources): void {
    this.sources = s;
  }

  private lagCache: { at: number; rows: Promise<ConsumerLagRow[]> } | null = null;

  /** Both lag gauges of one scrape share one computation. */
  private async fillLag(g: { reset(): void; set(labels: Record<string, string>, v: number): void }, field: 'lagMessages' | 'lagMs'): Promise<void> {
    const now = Date.now();
    // prom-client collects the message gauge first: it always computes; the latency gauge of the
    // same scrape reuses that result (a later scrape, or one after a deletion, sees fresh offsets).
    if (this.sources === null) return;
    if (field === 'lagMessages' || !this.lagCache || now - this.lagCache.at > 1000) this.lagCache = { at: now, rows: this.sources.consumerLag() };
    const rows = await this.lagCache.rows;
    g.reset();
    for (const l of rows) g.set({ topic: l.topic, consumer_group: l.group, queue_id: String(l.queueId) }, l[field]);
  }

  /** The timer's numbers (absent when timerWheelEnable is off). */
  bindTimer(t: TimerMetricsSource): void {
    this.timer = t;
  }

  /** Open transactions per topic, read at scrape time. */
  bindHalfMessages(f: () => Map<string, number>): void {
    this.halfMessagesSource = f;
  }

  bindReviveLag(f: () => number[]): void {
    this.reviveLagSource = f;
  }

  /** Revive records read for the first time, by tag (ck, ack, bAck). */
  reviveRead(type: string, n: number): void {
    if (n > 0) this.reviveIn.labels({ revive_message_type: type }).inc(n);
  }

  revivedToRetry(topic: string, group: string): void {
    this.reviveRetry.labels({ topic, consumer_group: group }).inc();
  }

  transactionEnded(topic: string, how: 'commit' | 'rollback'): void {
    (how === 'commit' ? this.commits : this.rollbacks).labels({ topic }).inc();
  }

  transactionChecked(topic: string): void {
    this.checks.labels({ topic }).inc();
  }

  transactionDiscarded(topic: string): void {
    this.discards.labels({ topic }).inc();
  }

  messagesIn(topic: string, n: number, bytes: number, type: MessageType = 'normal'): void {
    const key = type === 'normal' ? topic : topic + '\u0001' + type;
    let p = this.inPending.get(key);
    if (!p) {
      p = { msgs: 0, bytes: 0, msgsChild: this.inMsgs.labels({ topic, message_type: type }), bytesChild: this.inBytes.labels({ topic }) };
      this.inPending.set(key, p);
    }
    p.msgs += n;
    p.bytes += bytes;
  }

  messagesOut(topic: string, group: string, n: number, bytes: number): void {
    const key = topic + '\u0001' + group;
    let p = this.outPending.get(key);
    if (!p) {
      p = {
        msgs: 0,
        bytes: 0,
        msgsChild: this.outMsgs.labels({ topic, consumer_group: group }),
        bytesChild: this.outBytes.labels({ topic, consumer_group: group }),
      };
      this.outPending.set(key, p);
    }
    p.msgs += n;
    p.bytes += bytes;
  }

  removeTopic(topic: string): void {
    this.lagCache = null;
    for (const k of [...this.inPending.keys()]) if (k === topic || k.startsWith(topic + '\u0001')) this.inPending.delete(k);
    for (const k of [...this.outPending.keys()]) if (k.startsWith(topic + '\u0001')) this.outPending.delete(k);
    void removeSeries(this.registry, { topic });
  }

  removeGroup(group: string): void {
    this.lagCache = null;
    for (const k of [...this.outPending.keys()]) if (k.endsWith('\u0001' + group)) this.outPending.delete(k);
    void removeSeries(this.registry, { consumer_group: group });
  }
}

/** Hands one field of the pending counts to prom-client (scrape time). */
function drain(pending: Map<string, Pending>, field: 'msgs' | 'bytes'): void {
  for (const p of pending.values()) {
    const v = p[field];
    if (v === 0) continue;
    p[field] = 0;
    (field === 'msgs' ? p.msgsChild : p.bytesChild).inc(v);
  }
}
