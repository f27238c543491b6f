import { collectDefaultMetrics, Registry } from 'prom-client';

export type { Registry } from 'prom-client';

export interface MetricsRegistryOptions {
  /** Process metrics (CPU, memory, event-loop lag, GC, handles); on by default. */
  collectDefaults?: boolean;
}

/**
 * One registry per process. Default labels (e.g. `{ cluster, node_type: 'broker', node_id }`) go
 * on every series; process metrics keep their usual names (no prefix) so stock dashboards read them.
 */
export function createMetricsRegistry(defaultLabels: Record<string, string> = {}, opts: MetricsRegistryOptions = {}): Registry {
  const registry = new Registry();
  registry.setDefaultLabels(defaultLabels);
  if (opts.collectDefaults ?? true) collectDefaultMetrics({ register: registry });
  return registry;
}
