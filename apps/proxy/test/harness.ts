// A name server, broker(s) and proxies on free ports for the proxy's tests, plus the official
// 5.x client's options (quiet logger, short timeouts).
import { join } from 'node:path';
import { MQAdmin } from '@rocketmq-ts/admin';
import { appMain, freePort, startCluster, startNode, waitFor, writeConf, type NodeProcess, type TestCluster } from '@rocketmq-ts/testing';

export interface ProxyHandle {
  endpoints: string;
  grpcPort: number;
  httpPort: number;
  process: NodeProcess;
}

export async function startProxy(c: TestCluster, name: string, extra: Record<string, string | number | boolean> = {}): Promise<ProxyHandle> {
  const [grpcPort, httpPort] = [await freePort(), await freePort()];
  const conf = writeConf(c.dir, `${name}.conf`, {
    grpcServerPort: grpcPort,
    metricsPromExporterPort: httpPort,
    bindAddress: '127.0.0.1',
    namesrvAddr: c.namesrvAddr,
    rocketMQClusterName: c.clusterName,
    ...extra,
  });
  const process = await startNode(appMain('proxy'), ['-c', conf], { name, readyPattern: /proxy started/, timeoutMs: 20_000 });
  return { endpoints: `127.0.0.1:${grpcPort}`, grpcPort, httpPort, process };
}

/** Creates `topic` on the brokers with the `message.type` attribute the proxy checks sends against (RocketMQ's default NORMAL). */
export async function createTopic(
  admin: MQAdmin,
  c: TestCluster,
  topic: string,
  queues = 4,
  brokerAddrs: string[] = [c.brokerAddr],
  messageType: 'NORMAL' | 'FIFO' | 'DELAY' | 'TRANSACTION' | 'MIXED' = 'NORMAL',
): Promise<void> {
  for (const addr of brokerAddrs) {
    await admin.createOrUpdateTopic(addr, { topic, readQueueNums: queues, writeQueueNums: queues, perm: 6, attributes: `+message.type=${messageType}` });
  }
  await waitFor(async () => (await admin.api.getTopicRouteInfo(topic))?.queueDatas.length === brokerAddrs.length, {
    timeoutMs: 10_000,
    message: `route of ${topic}`,
  });
}

let seq = 0;
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${++seq}`;
}

/** The official client's logger, kept quiet (errors are collected for assertions). */
export function quietLogger(): { info: () => void; warn: () => void; debug: () => void; error: (...a: unknown[]) => void; errors: unknown[][] } {
  const errors: unknown[][] = [];
  return { info: () => undefined, warn: () => undefined, debug: () => undefined, error: (...a: unknown[]) => void errors.push(a), errors };
}

export { join, MQAdmin, startCluster };

import * as grpc from '@grpc/grpc-js';
import { loadMessagingService } from '../src/grpc/proto.js';

/** A raw v2 client for requests the official client never makes (bad input, pull, offsets). */
export class RawGrpc {
  private readonly client: grpc.Client & Record<string, (...a: unknown[]) => unknown>;
  constructor(
    endpoints: string,
    private readonly clientId = `raw-${process.pid}-${Date.now()}`,
  ) {
    const Ctor = loadMessagingService().pkg['MessagingService'] as grpc.ServiceClientConstructor;
    this.client = new Ctor(endpoints, grpc.credentials.createInsecure()) as unknown as grpc.Client & Record<string, (...a: unknown[]) => unknown>;
  }
  private md(): grpc.Metadata {
    const m = new grpc.Metadata();
    m.set('x-mq-client-id', this.clientId);
    m.set('x-mq-protocol', 'v2');
    return m;
  }
  unary<T = Record<string, unknown>>(method: string, req: unknown, timeoutMs = 5000): Promise<T> {
    return new Promise((resolve, reject) => {
      const fn = this.client[method]!.bind(this.client);
      fn(req, this.md(), { deadline: Date.now() + timeoutMs }, (err: Error | null, res: T) => (err ? reject(err) : resolve(res)));
    });
  }
  stream<T = Record<string, unknown>>(method: string, req: unknown, timeoutMs = 10_000): Promise<T[]> {
    return new Promise((resolve, reject) => {
      const fn = this.client[method]!.bind(this.client);
      const call = fn(req, this.md(), { deadline: Date.now() + timeoutMs }) as grpc.ClientReadableStream<T>;
      const out: T[] = [];
      call.on('data', (d: T) => out.push(d));
      call.on('error', reject);
      call.on('end', () => resolve(out));
    });
  }
  /** A server stream the caller can cancel. */
  open(method: string, req: unknown, timeoutMs = 10_000): grpc.ClientReadableStream<unknown> {
    const fn = this.client[method]!.bind(this.client);
    const call = fn(req, this.md(), { deadline: Date.now() + timeoutMs }) as grpc.ClientReadableStream<unknown>;
    call.on('data', () => undefined);
    return call;
  }
  close(): void {
    this.client.close();
  }
}
