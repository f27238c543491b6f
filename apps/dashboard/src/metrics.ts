import { counter, createMetricsRegistry, histogram, type Registry } from '@rocketmq-ts/metrics';

/**
 * The console's own metrics: API calls by route and outcome, and how long they took (most of it
 * is the admin calls to name servers and brokers behind them). Routes are the controller's fixed
 * names, so label values are bounded.
 */
export class DashboardMetrics {
  readonly registry: Registry;
  private readonly requests;
  private readonly latency;

  constructor(labels: Record<string, string>) {
    this.registry = createMetricsRegistry(labels);
    this.requests = counter(this.registry, {
      name: 'rocketmq_dashboard_api_requests_total',
      help: 'API requests answered by the console',
      labelNames: ['route', 'outcome'],
    });
    this.latency = histogram(this.registry, {
      name: 'rocketmq_dashboard_api_latency',
      help: 'Time to answer an API request (ms)',
      labelNames: ['route'],
      buckets: [5, 10, 50, 100, 500, 1000, 5000, 20000],
    });
  }

  done(route: string, outcome: 'ok' | 'bad_request' | 'not_found' | 'error', elapsedMs: number): void {
    this.requests.labels({ route, outcome }).inc();
    this.latency.labels({ route }).observe(elapsedMs);
  }
}
