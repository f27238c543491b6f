import { METRIC, counter, createMetricsRegistry, gauge, histogram, removeSeries, type Registry } from '@rocketmq-ts/metrics';
import { RequestCode, requestCodeName } from '@rocketmq-ts/protocol';
import type { RemotingProbe } from '@rocketmq-ts/remoting';
import type { StoreProbe } from '@rocketmq-ts/store';
import type { BrokerRuntime } from '../broker-runtime.js';

type Inc = { inc(v?: number): void };

/**
 * Request codes whose handlers write their own replies (found pulls and queries go out with
 * record slices, held pulls later); they report to `rpcDone` themselves, so the connection's
 * "no reply" report for them is not counted.
 */
const SELF_REPORTED = new Set<number>([RequestCode.PULL_MESSAGE, RequestCode.LITE_PULL_MESSAGE, RequestCode.QUERY_MESSAGE]);
type Obs = { observe(v: number): void };

/**
 * The broker's metrics under RocketMQ 5's names. Hot-path counters cache their labelled child
 * per topic (and group) so a send costs two increments, no label hashing. Consumer lag is
 * computed when Prometheus scrapes, from committed offsets and the store.
 */
export class BrokerMetrics {
  readonly registry: Registry;
  private readonly inMsgs;
  private readonly inBytes;
  private readonly outMsgs;
  private readonly outBytes;
  private readonly rpc;
  private readonly inChildren = new Map<string, [Inc, Inc]>();
  private readonly outChildren = new Map<string, [Inc, Inc]>();
  private readonly rpcChildren = new Map<number, Obs>();
  private flushBehind = 0;
  readonly storeProbe: StoreProbe;
  readonly remotingProbe: RemotingProbe;

  constructor(private readonly rt: BrokerRuntime) {
    const c = rt.config;
    this.registry = createMetricsRegistry({ cluster: c.brokerClusterName, node_type: 'broker', node_id: `${c.brokerName}-${c.brokerId}` });
    const r = this.registry;
    this.inMsgs = counter(r, METRIC.messagesInTotal);
    this.inBytes = counter(r, METRIC.throughputInTotal);
    this.outMsgs = counter(r, METRIC.messagesOutTotal);
    this.outBytes = counter(r, METRIC.throughputOutTotal);
    this.rpc = histogram(r, { ...METRIC.rpcLatency, buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 1000, 5000] });
    gauge(r, { ...METRIC.storageSize, collect: async (g) => g.set(await this.rt.storeSizeBytes()) });
    gauge(r, {
      ...METRIC.storageFlushBehindBytes,
      collect: (g) => {
        const behind = Number(this.rt.store.getRuntimeInfo()['flushBehindBytes']);
        g.set(Number.isFinite(behind) ? Math.max(0, behind) : this.flushBehind);
      },
    });
    const lagLabels = ['topic', 'consumer_group', 'queue_id'];
    gauge(r, { ...METRIC.consumerLagMessages, labelNames: lagLabels, collect: async (g) => this.fillLag(g, 'lagMessages') });
    gauge(r, { ...METRIC.consumerLagLatency, labelNames: lagLabels, collect: async (g) => this.fillLag(g, 'lagMs') });
    this.storeProbe = {
      onFlush: () => undefined,
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
    const key = req * 100_000 + (res + 1);
    let child = this.rpcChildren.get(key);
    if (!child) {
      child = this.rpc.labels({ protocol_type: 'remoting', request_code: requestCodeName(req).toLowerCase(), response_code: res < 0 ? 'none' : String(res) });
      this.rpcChildren.set(key, child);
    }
    child.observe(ms);
  }

  private lagCache: { at: number; rows: Promise<Awaited<ReturnType<BrokerRuntime['consumerLag']>>> } | null = null;

  /** Both lag gauges of one scrape share one computation. */
  private async fillLag(g: { reset(): void; set(labels: Record<string, string>, v: number): void }, field: 'lagMessages' | 'lagMs'): Promise<void> {
    const now = Date.now();
    // prom-client collects the message gauge first: it always computes; the latency gauge of the
    // same scrape reuses that result (a later scrape, or one after a deletion, sees fresh offsets).
    if (field === 'lagMessages' || !this.lagCache || now - this.lagCache.at > 1000) this.lagCache = { at: now, rows: this.rt.consumerLag() };
    const rows = await this.lagCache.rows;
    g.reset();
    for (const l of rows) g.set({ topic: l.topic, consumer_group: l.group, queue_id: String(l.queueId) }, l[field]);
  }

  setFlushBehind(bytes: number): void {
    this.flushBehind = bytes;
  }

  messagesIn(topic: string, n: number, bytes: number): void {
    let c = this.inChildren.get(topic);
    if (!c) {
      c = [this.inMsgs.labels({ topic, message_type: 'normal' }), this.inBytes.labels({ topic })];
      this.inChildren.set(topic, c);
    }
    c[0].inc(n);
    c[1].inc(bytes);
  }

  messagesOut(topic: string, group: string, n: number, bytes: number): void {
    const key = topic + '\u0001' + group;
    let c = this.outChildren.get(key);
    if (!c) {
      c = [this.outMsgs.labels({ topic, consumer_group: group }), this.outBytes.labels({ topic, consumer_group: group })];
      this.outChildren.set(key, c);
    }
    c[0].inc(n);
    c[1].inc(bytes);
  }

  removeTopic(topic: string): void {
    this.lagCache = null;
    this.inChildren.delete(topic);
    for (const k of [...this.outChildren.keys()]) if (k.startsWith(topic + '\u0001')) this.outChildren.delete(k);
    void removeSeries(this.registry, { topic });
  }

  removeGroup(group: string): void {
    this.lagCache = null;
    for (const k of [...this.outChildren.keys()]) if (k.endsWith('\u0001' + group)) this.outChildren.delete(k);
    void removeSeries(this.registry, { consumer_group: group });
  }
}
