import { Counter, Gauge, Histogram, type Metric, type Registry } from 'prom-client';

/**
 * Get-or-create helpers, so a probe can ask for a family by name without caring who registered it
 * first. Asking for an existing name with another type or other label names is a programming
 * error and throws.
 */
export interface FamilySpec {
  name: string;
  help: string;
  labelNames?: readonly string[];
}

/**
 * A counter; with `collect`, called at scrape time before the values are read (e.g. to hand over
 * counts kept in plain numbers on a hot path).
 */
export function counter(registry: Registry, spec: FamilySpec & { collect?: (c: Counter<string>) => void | Promise<void> }): Counter<string> {
  const { collect, ...rest } = spec;
  return getOrCreate(
    registry,
    rest,
    Counter,
    () =>
      new Counter({
        ...rest,
        labelNames: [...(rest.labelNames ?? [])],
        registers: [registry],
        ...(collect
          ? {
              collect(this: Counter<string>) {
                return collect(this);
              },
            }
          : {}),
      }),
  );
}

/**
 * A gauge; with `collect`, its value is computed at scrape time (called with the gauge, may be
 * async), for figures that are cheaper to read on demand than to keep current.
 */
export function gauge(registry: Registry, spec: FamilySpec & { collect?: (g: Gauge<string>) => void | Promise<void> }): Gauge<string> {
  const { collect, ...rest } = spec;
  return getOrCreate(
    registry,
    rest,
    Gauge,
    () =>
      new Gauge({
        ...rest,
        labelNames: [...(rest.labelNames ?? [])],
        registers: [registry],
        ...(collect
          ? {
              collect(this: Gauge<string>) {
                return collect(this);
              },
            }
          : {}),
      }),
  );
}

export function histogram(registry: Registry, spec: FamilySpec & { buckets?: number[] }): Histogram<string> {
  return getOrCreate(
    registry,
    spec,
    Histogram,
    () => new Histogram({ ...spec, labelNames: [...(spec.labelNames ?? [])], registers: [registry], ...(spec.buckets ? { buckets: spec.buckets } : {}) }),
  );
}

function getOrCreate<M extends Metric<string>>(registry: Registry, spec: FamilySpec, type: abstract new (...args: never[]) => M, create: () => M): M {
  const existing = registry.getSingleMetric(spec.name);
  if (existing === undefined) return create();
  if (!(existing instanceof type)) throw new Error(`metric ${spec.name} is already registered as another type`);
  const have = [...((existing as unknown as { labelNames?: string[] }).labelNames ?? [])].sort().join(',');
  const want = [...(spec.labelNames ?? [])].sort().join(',');
  if (have !== want) throw new Error(`metric ${spec.name} is already registered with labels [${have}], not [${want}]`);
  return existing;
}

/**
 * Removes, from every family in the registry, each series whose labels include all of `labels`
 * (e.g. `{ topic: 'T' }` when topic T is deleted, `{ consumer_group: 'G' }` for a group).
 * Returns how many series were removed.
 */
export async function removeSeries(registry: Registry, labels: Record<string, string>): Promise<number> {
  const wanted = Object.entries(labels);
  if (wanted.length === 0) return 0;
  let removed = 0;
  for (const metric of registry.getMetricsAsArray() as unknown as Metric<string>[]) {
    const names = (metric as unknown as { labelNames?: string[] }).labelNames ?? [];
    if (!wanted.every(([k]) => names.includes(k))) continue;
    const snapshot = await metric.get();
    const seen = new Set<string>();
    for (const v of snapshot.values) {
      // Histogram buckets carry an extra `le`; a series is identified by the family's own labels.
      const own: Record<string, string | number> = {};
      for (const n of names) {
        const val = (v.labels as Record<string, string | number | undefined>)[n];
        if (val !== undefined) own[n] = val;
      }
      if (!wanted.every(([k, val]) => String(own[k]) === val)) continue;
      const key = JSON.stringify(own);
      if (seen.has(key)) continue;
      seen.add(key);
      (metric as unknown as { remove(l: Record<string, string | number>): void }).remove(own);
      removed++;
    }
  }
  return removed;
}
