import { METRIC, counter, createMetricsRegistry, gauge, histogram, type Registry } from '@rocketmq-ts/metrics';
import { requestCodeName } from '@rocketmq-ts/protocol';
import type { RemotingProbe } from '@rocketmq-ts/remoting';

interface Observer {
  observe(v: number): void;
}
interface Incrementer {
  inc(v?: number): void;
}

/**
 * The name server's metrics: request counts and latency by code (RocketMQ 5's
 * rocketmq_rpc_latency), live brokers, topics, connections. Label values are bounded: codes we
 * do not know are counted as "other", so random traffic cannot grow the series without limit.
 */
export class NamesrvMetrics implements RemotingProbe {
  readonly registry: Registry;
  private readonly latency;
  private readonly requests;
  private readonly brokersLive;
  private readonly topics;
  private readonly connections;
  private readonly children = new Map<number, { h: Observer; c: Incrementer }>();

  constructor(labels: Record<string, string>) {
    this.registry = createMetricsRegistry(labels);
    this.latency = histogram(this.registry, { ...METRIC.rpcLatency, buckets: [0.1, 0.5, 1, 5, 10, 50, 100, 500, 1000] });
    this.requests = counter(this.registry, {
      name: 'rocketmq_namesrv_requests_total',
      help: 'Requests handled by the name server',
      labelNames: ['request_code'],
    });
    this.brokersLive = gauge(this.registry, { name: 'rocketmq_namesrv_brokers_live', help: 'Brokers currently registered and alive' });
    this.topics = gauge(this.registry, { name: 'rocketmq_namesrv_topics', help: 'Topics with at least one broker group' });
    this.connections = gauge(this.registry, { name: 'rocketmq_namesrv_connections', help: 'Open remoting connections' });
  }

  requestDone(requestCode: number, responseCode: number, elapsedMs: number): void {
    const key = requestCode * 100000 + responseCode;
    let ch = this.children.get(key);
    if (ch === undefined) {
      const name = requestCodeName(requestCode);
      const code = name.startsWith('UNKNOWN') ? 'other' : String(requestCode);
      const rkey = code === 'other' ? -20 - responseCode : key;
      ch = this.children.get(rkey);
      if (ch === undefined) {
        ch = {
          h: this.latency.labels({ protocol_type: 'remoting', request_code: code, response_code: String(responseCode) }),
          c: this.requests.labels({ request_code: code }),
        };
        this.children.set(rkey, ch);
      }
      if (code !== 'other') this.children.set(key, ch);
    }
    ch.h.observe(elapsedMs);
    ch.c.inc();
  }

  setRouteCounts(brokersLive: number, topics: number): void {
    this.brokersLive.set(brokersLive);
    this.topics.set(topics);
  }

  setConnections(n: number): void {
    this.connections.set(n);
  }
}
