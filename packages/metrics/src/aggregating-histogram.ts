import { Histogram, type Registry } from 'prom-client';
import type { FamilySpec } from './families.js';

/** One labelled series of an AggregatingHistogram: plain numbers, no label hashing per observation. */
export class HistogramSeries {
  /** Per-bucket (non-cumulative) counts; the last slot is above the highest bound (+Inf). */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Readonly<Record<string, string | number>>,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(v: number): void {
    if (!Number.isFinite(v)) return;
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]!) i++;
    this.counts[i]!++;
    this.sum += v;
    this.count++;
  }

  clear(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}

interface ExportValue {
  labels: Record<string, string | number>;
  sharedLabels?: Record<string, string | number>;
  value: number;
  metricName: string;
  exemplar?: null;
}

/**
 * A prom-client Histogram for hot paths: callers take a series once (`series(labels)`) and
 * observe into plain numbers; the exposition is built at scrape time in exactly prom-client's
 * layout. prom-client's own `observe` (which hashes the labels on every call, even through a
 * cached `labels()` child) keeps working for other callers and is merged into the output.
 */
export class AggregatingHistogram extends Histogram<string> {
  private readonly seriesByKey = new Map<string, HistogramSeries>();
  private readonly bounds: readonly number[];
  private readonly familyName: string;
  private readonly labelList: readonly string[];

  constructor(config: ConstructorParameters<typeof Histogram<string>>[0]) {
    super(config);
    this.bounds = [...(this as unknown as { upperBounds: number[] }).upperBounds];
    this.familyName = config.name;
    this.labelList = [...(config.labelNames ?? [])];
  }

  /** The series for `labels` (created on first use; keep the handle). */
  series(labels: Record<string, string | number>): HistogramSeries {
    const key = seriesKey(labels);
    let s = this.seriesByKey.get(key);
    if (s === undefined) {
      for (const k of Object.keys(labels)) {
        if (!this.labelList.includes(k)) throw new Error(`Added label "${k}" is not included in initial labelset: ${JSON.stringify(this.labelList)}`);
      }
      s = new HistogramSeries({ ...labels }, this.bounds);
      this.seriesByKey.set(key, s);
    }
    return s;
  }

  private exportValues(): ExportValue[] {
    const out: ExportValue[] = [];
    const bucket = `${this.familyName}_bucket`;
    for (const s of this.seriesByKey.values()) {
      if (s.count === 0) continue;
      let acc = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        acc += s.counts[i]!;
        out.push({ labels: { le: this.bounds[i]! }, value: acc, metricName: bucket, exemplar: null, sharedLabels: s.labels });
      }
      out.push({ labels: { le: '+Inf' }, value: s.count, metricName: bucket, exemplar: null, sharedLabels: s.labels });
      out.push({ labels: {}, value: s.sum, metricName: `${this.familyName}_sum`, sharedLabels: s.labels });
      out.push({ labels: {}, value: s.count, metricName: `${this.familyName}_count`, sharedLabels: s.labels });
    }
    return out;
  }

  /** What the registry formats (prom-client's histogram layout, series labels as shared labels). */
  async getForPromString(): Promise<Awaited<ReturnType<Histogram<string>['get']>>> {
    const data = await (
      Histogram.prototype as unknown as { getForPromString(this: Histogram<string>): Promise<Awaited<ReturnType<Histogram<string>['get']>>> }
    ).getForPromString.call(this as unknown as Histogram<string>);
    data.values = [...data.values, ...(this.exportValues() as unknown as typeof data.values)];
    return data;
  }

  // get() is prom-client's: it calls getForPromString() above and splays the shared labels.

  override reset(): void {
    super.reset();
    // prom-client's constructor calls reset() before this class's fields exist.
    if ((this.seriesByKey as Map<string, HistogramSeries> | undefined) === undefined) return;
    // Keep the objects: callers hold series handles.
    for (const s of this.seriesByKey.values()) s.clear();
  }

  override remove(...args: string[] | [Partial<Record<string, string | number>>]): void {
    (super.remove as (...a: unknown[]) => void).apply(this, args);
    const first = args[0];
    const labels: Record<string, string | number> | undefined =
      typeof first === 'string'
        ? Object.fromEntries(this.labelList.map((n, i) => [n, (args as string[])[i] ?? '']))
        : (first as Record<string, string | number> | undefined);
    if (labels !== undefined && labels !== null && typeof labels === 'object') {
      const s = this.seriesByKey.get(seriesKey(labels));
      // A removed series disappears from the output until it is observed again.
      s?.clear();
    }
  }
}

function seriesKey(labels: Record<string, string | number>): string {
  return JSON.stringify(
    Object.keys(labels)
      .sort()
      .map((k) => [k, String(labels[k])]),
  );
}

/** Get-or-create, like `histogram()`, for an AggregatingHistogram. */
export function aggregatingHistogram(registry: Registry, spec: FamilySpec & { buckets?: number[] }): AggregatingHistogram {
  const existing = registry.getSingleMetric(spec.name);
  if (existing !== undefined) {
    if (!(existing instanceof AggregatingHistogram)) throw new Error(`metric ${spec.name} is already registered as another type`);
    return existing;
  }
  return new AggregatingHistogram({
    ...spec,
    labelNames: [...(spec.labelNames ?? [])],
    registers: [registry],
    ...(spec.buckets ? { buckets: spec.buckets } : {}),
  });
}
