import type { MQAdmin } from '@rocketmq-ts/admin';
import { MixAll } from '@rocketmq-ts/common';
import { createLogger } from '@rocketmq-ts/remoting';
import type { DashboardConfig } from './config.js';
import { isSystemGroup, topicKind } from './console.service.js';
import type { ChartView } from './web/views.js';

const log = createLogger('dashboard');

/**
 * One look at the cluster: per topic the sum of its queues' max offsets (messages ever put), per
 * group and topic the sum of the committed consumer offsets (messages consumed), per group the lag.
 * Rates are the differences between two samples over the time between them; a counter that went
 * down (a topic deleted and created again, an offset reset) gives no point rather than a negative one.
 */
export interface ChartSample {
  t: number;
  put: Map<string, number>;
  consumed: Map<string, Map<string, number>>;
  lag: Map<string, number>;
}

/** A fixed-capacity ring: pushes past the capacity overwrite the oldest entry. */
export class RingBuffer<T> {
  private readonly items: Array<T | undefined>;
  private next = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`ring capacity ${capacity}`);
    this.items = new Array<T | undefined>(capacity);
  }

  push(item: T): void {
    this.items[this.next] = item;
    this.next = (this.next + 1) % this.capacity;
    this.count = Math.min(this.count + 1, this.capacity);
  }

  get size(): number {
    return this.count;
  }

  /** Oldest first. */
  toArray(): T[] {
    const out: T[] = [];
    const start = (this.next - this.count + this.capacity) % this.capacity;
    for (let i = 0; i < this.count; i++) out.push(this.items[(start + i) % this.capacity] as T);
    return out;
  }
}

/** Messages per second between two counters, null when either is missing or the counter went back. */
export function rate(prev: number | undefined, cur: number | undefined, dtMs: number): number | null {
  if (prev === undefined || cur === undefined || dtMs <= 0 || cur < prev) return null;
  return Math.round(((cur - prev) * 1000 * 100) / dtMs) / 100;
}

/** Where the sampler gets its admin client; a note instead when it must not sample (ACL without a service identity). */
export type SamplerIdentity = () => { admin: MQAdmin } | { note: string };

const CONCURRENCY = 4;

async function eachLimited<T>(items: readonly T[], fn: (item: T) => Promise<void>): Promise<void> {
  let i = 0;
  const worker = async (): Promise<void> => {
    while (i < items.length) await fn(items[i++]!);
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, items.length) }, worker));
}

/**
 * The charts' data: a timer samples the cluster through admin calls (topic stats and consume
 * stats, the same requests mqadmin's topicStatus and consumerProgress send), keeping
 * `chartHistoryMs` of samples in memory; the API turns them into series.
 */
export class ChartsService {
  private readonly ring: RingBuffer<ChartSample>;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private note: string | null = null;
  private lastError: string | null = null;

  constructor(
    private readonly config: Pick<DashboardConfig, 'chartSampleIntervalMs' | 'chartHistoryMs'>,
    private readonly identity: SamplerIdentity,
    /** Told of each failed sample's error text (the console learns of ACL this way too). */
    private readonly onError: (message: string) => void = () => undefined,
  ) {
    this.ring = new RingBuffer(Math.ceil(config.chartHistoryMs / config.chartSampleIntervalMs) + 1);
  }

  start(): void {
    if (this.timer) return;
    log.info(`chart sampler started: every ${this.config.chartSampleIntervalMs} ms, ${this.ring.capacity} samples kept`);
    void this.tick();
    this.timer = setInterval(() => void this.tick(), this.config.chartSampleIntervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (!this.timer) return;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
    log.info('chart sampler stopped');
  }

  /** One sample now, unless the previous one is still running. */
  tick(): Promise<void> {
    if (this.running) return this.running;
    this.running = this.sampleOnce()
      .catch((e: unknown) => {
        const msg = (e as Error).message;
        this.onError(msg);
        if (msg !== this.lastError) log.warn(`chart sample failed: ${msg}`);
        this.lastError = msg;
      })
      .finally(() => (this.running = undefined));
    return this.running;
  }

  private async sampleOnce(): Promise<void> {
    const id = this.identity();
    if ('note' in id) {
      if (this.note !== id.note) log.warn(`chart sampler idle: ${id.note}`);
      this.note = id.note;
      return;
    }
    this.note = null;
    const admin = id.admin;
    const t = Date.now();
    const sample: ChartSample = { t, put: new Map(), consumed: new Map(), lag: new Map() };
    const topics = [...new Set(await admin.topicList())].filter((x) => topicKind(x) === 'normal');
    await eachLimited(topics, async (topic) => {
      try {
        const stats = await admin.topicStats(topic);
        sample.put.set(
          topic,
          stats.reduce((n, s) => n + Math.max(0, s.maxOffset), 0),
        );
      } catch {
        // deleted meanwhile or no route: no point for it in this sample
      }
    });
    const groups = new Set<string>();
    for (const m of await admin.masterAddrs()) {
      for (const g of (await admin.subscriptionGroups(m.addr)).keys()) if (!isSystemGroup(g)) groups.add(g);
    }
    await eachLimited([...groups], async (group) => {
      try {
        const queues = await admin.consumeStats(group);
        const perTopic = new Map<string, number>();
        let lag = 0;
        for (const q of queues) {
          if (q.mq.topic.startsWith(MixAll.RETRY_GROUP_TOPIC_PREFIX)) continue;
          perTopic.set(q.mq.topic, (perTopic.get(q.mq.topic) ?? 0) + Math.max(0, q.consumerOffset));
          lag += q.lag;
        }
        sample.consumed.set(group, perTopic);
        sample.lag.set(group, lag);
      } catch {
        // a group without offsets anywhere: nothing to draw
      }
    });
    this.lastError = null;
    this.ring.push(sample);
  }

  samples(): ChartSample[] {
    return this.ring.toArray();
  }

  private frame(): Omit<ChartView, 't' | 'series'> {
    return { intervalMs: this.config.chartSampleIntervalMs, historyMs: this.config.chartHistoryMs, note: this.note ?? this.lastError };
  }

  /** In (put) per second, and out (consumed) per second by each group that consumes the topic. */
  topic(topic: string): ChartView {
    const s = this.samples();
    const groups = [...new Set(s.flatMap((x) => [...x.consumed].filter(([, m]) => m.has(topic)).map(([g]) => g)))].sort();
    const t: number[] = [];
    const put: Array<number | null> = [];
    const out = groups.map(() => [] as Array<number | null>);
    for (let i = 1; i < s.length; i++) {
      const a = s[i - 1]!;
      const b = s[i]!;
      t.push(b.t);
      put.push(rate(a.put.get(topic), b.put.get(topic), b.t - a.t));
      groups.forEach((g, k) => out[k]!.push(rate(a.consumed.get(g)?.get(topic), b.consumed.get(g)?.get(topic), b.t - a.t)));
    }
    return {
      ...this.frame(),
      t,
      series: [{ label: 'in (put/s)', values: put }, ...groups.map((g, k) => ({ label: `out: ${g} (/s)`, values: out[k]! }))],
    };
  }

  /** The group's lag (messages not yet consumed) at each sample, and its consume rate. */
  group(group: string): ChartView {
    const s = this.samples();
    const t: number[] = [];
    const lag: Array<number | null> = [];
    const consumed: Array<number | null> = [];
    const total = (x: ChartSample): number | undefined => {
      const m = x.consumed.get(group);
      return m ? [...m.values()].reduce((n, v) => n + v, 0) : undefined;
    };
    for (let i = 0; i < s.length; i++) {
      const b = s[i]!;
      t.push(b.t);
      lag.push(b.lag.get(group) ?? null);
      const a = s[i - 1];
      consumed.push(a ? rate(total(a), total(b), b.t - a.t) : null);
    }
    return {
      ...this.frame(),
      t,
      series: [
        { label: 'lag (messages)', values: lag },
        { label: 'consumed/s', values: consumed, axis: 'right' },
      ],
    };
  }

  /** Every topic's puts and every group's consumption, summed. */
  cluster(): ChartView {
    const s = this.samples();
    const t: number[] = [];
    const put: Array<number | null> = [];
    const got: Array<number | null> = [];
    const sum = (m: Map<string, number>, keys: Iterable<string>): number => [...keys].reduce((n, k) => n + (m.get(k) ?? 0), 0);
    for (let i = 1; i < s.length; i++) {
      const a = s[i - 1]!;
      const b = s[i]!;
      t.push(b.t);
      // Only names present in both samples: a topic or group that appears does not count its past.
      const topics = [...b.put.keys()].filter((k) => a.put.has(k));
      put.push(rate(sum(a.put, topics), sum(b.put, topics), b.t - a.t));
      let prev = 0;
      let cur = 0;
      for (const [g, m] of b.consumed) {
        const pm = a.consumed.get(g);
        if (!pm) continue;
        for (const [topic, v] of m) {
          const pv = pm.get(topic);
          if (pv === undefined || v < pv) continue;
          prev += pv;
          cur += v;
        }
      }
      got.push(rate(prev, cur, b.t - a.t));
    }
    return {
      ...this.frame(),
      t,
      series: [
        { label: 'in (put/s)', values: put },
        { label: 'out (consumed/s)', values: got },
      ],
    };
  }
}
