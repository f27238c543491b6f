import { METRIC, counter, createMetricsRegistry, gauge, histogram, type Registry } from '@rocketmq-ts/metrics';
import { codeName } from './grpc/status.js';
import { MessageType } from './grpc/types.js';

interface Observer {
  observe(v: number): void;
}
interface Incrementer {
  inc(v?: number): void;
}

const TYPE_NAMES: Record<number, string> = {
  [MessageType.NORMAL]: 'Normal',
  [MessageType.FIFO]: 'Fifo',
  [MessageType.DELAY]: 'Delay',
  [MessageType.TRANSACTION]: 'Transaction',
};

/**
 * The proxy's metrics with RocketMQ 5 names: rocketmq_rpc_latency by gRPC method and v2 code (its
 * _count is the request count), messages and bytes in and out, connected clients. Label values
 * are bounded: methods come from the service definition, codes from the v2 table.
 */
export class ProxyMetrics {
  readonly registry: Registry;
  private readonly latency;
  private readonly inMsgs;
  private readonly inBytes;
  private readonly outMsgs;
  private readonly outBytes;
  private readonly clients;
  private readonly routed;
  private readonly ackBatches;
  private readonly batchedAcks;
  private readonly rpcChildren = new Map<string, Observer>();
  private readonly inChildren = new Map<string, { m: Incrementer; b: Incrementer }>();
  private readonly outChildren = new Map<string, { m: Incrementer; b: Incrementer }>();

  constructor(labels: Record<string, string>) {
    this.registry = createMetricsRegistry(labels);
    this.latency = histogram(this.registry, { ...METRIC.rpcLatency, buckets: [1, 5, 10, 50, 100, 500, 1000, 5000, 20000, 60000] });
    this.inMsgs = counter(this.registry, METRIC.messagesInTotal);
    this.inBytes = counter(this.registry, METRIC.throughputInTotal);
    this.outMsgs = counter(this.registry, METRIC.messagesOutTotal);
    this.outBytes = counter(this.registry, METRIC.throughputOutTotal);
    this.routed = counter(this.registry, {
      name: 'rocketmq_proxy_routed_commands_total',
      help: 'Telemetry commands passed between proxies through the shared state (sent: to the proxy holding the stream; received: written here for another proxy)',
      labelNames: ['direction'],
    });
    this.ackBatches = counter(this.registry, {
      name: 'rocketmq_proxy_ack_batches_total',
      help: 'BATCH_ACK_MESSAGE requests sent to brokers (acks of one broker, group and topic coalesced within an event-loop turn)',
      labelNames: [],
    });
    this.batchedAcks = counter(this.registry, {
      name: 'rocketmq_proxy_batched_acks_total',
      help: 'Acks carried by BATCH_ACK_MESSAGE requests',
      labelNames: [],
    });
    this.clients = gauge(this.registry, {
      name: 'rocketmq_proxy_clients',
      help: 'Clients with an open telemetry stream to this proxy',
      labelNames: ['client_type'],
    });
  }

  /** One BATCH_ACK_MESSAGE carrying `entries` acks went out. */
  ackBatch(entries: number): void {
    this.ackBatches.inc();
    this.batchedAcks.inc(entries);
  }

  rpcDone(method: string, code: number, elapsedMs: number): void {
    const key = `${method}:${code}`;
    let h = this.rpcChildren.get(key);
    if (h === undefined) {
      h = this.latency.labels({ protocol_type: 'grpc', request_code: method, response_code: codeName(code).toLowerCase() });
      this.rpcChildren.set(key, h);
    }
    h.observe(elapsedMs);
  }

  messagesIn(topic: string, type: number, bytes: number): void {
    const key = `${topic}\u0000${type}`;
    let c = this.inChildren.get(key);
    if (c === undefined) {
      c = { m: this.inMsgs.labels({ topic, message_type: TYPE_NAMES[type] ?? 'Normal' }), b: this.inBytes.labels({ topic }) };
      this.inChildren.set(key, c);
    }
    c.m.inc();
    c.b.inc(bytes);
  }

  messagesOut(topic: string, group: string, n: number, bytes: number): void {
    const key = `${topic}\u0000${group}`;
    let c = this.outChildren.get(key);
    if (c === undefined) {
      c = { m: this.outMsgs.labels({ topic, consumer_group: group }), b: this.outBytes.labels({ topic, consumer_group: group }) };
      this.outChildren.set(key, c);
    }
    c.m.inc(n);
    c.b.inc(bytes);
  }

  commandRouted(direction: 'sent' | 'received'): void {
    this.routed.labels({ direction }).inc();
  }

  setClients(byKind: ReadonlyMap<string, number>): void {
    this.clients.reset();
    for (const [k, n] of byKind) this.clients.labels({ client_type: k }).set(n);
  }
}
