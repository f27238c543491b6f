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

export async function createTopic(admin: MQAdmin, c: TestCluster, topic: string, queues = 4, brokerAddrs: string[] = [c.brokerAddr]): Promise<void> {
  for (const addr of brokerAddrs) await admin.createOrUpdateTopic(addr, { topic, readQueueNums: queues, writeQueueNums: queues, perm: 6 });
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
