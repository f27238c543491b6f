export { createMetricsRegistry, type MetricsRegistryOptions, type Registry } from './registry.js';
export { counter, gauge, histogram, removeSeries, type FamilySpec } from './families.js';
export { METRIC } from './catalogue.js';
export { MetricsModule, MetricsController, METRICS_MODULE_OPTIONS, type MetricsModuleOptions } from './metrics.module.js';
export { AggregatingHistogram, HistogramSeries, aggregatingHistogram } from './aggregating-histogram.js';
