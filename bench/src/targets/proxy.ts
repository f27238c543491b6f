import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { MQAdmin } from '@rocketmq-ts/admin';
import { appMain, freePort, startCluster, startNode, waitFor, writeConf, type NodeProcess, type TestCluster } from '@rocketmq-ts/testing';
import { Producer, SimpleConsumer } from 'rocketmq-client-nodejs';
import type { Row } from '../report.js';
import { PAYLOAD, SCENARIOS, medianRow, plan, rowFrom, wanted } from '../scenarios.js';
import { RssSampler, processCpuMicros } from '../stats.js';
import { profileNodeArgs } from '../profile.js';
import { runWindow } from '../window.js';

const TOPIC = 'BenchProxyTopic';
const QUEUES = 4;
const quietLogger = { info: () => undefined, warn: () => undefined, debug: () => undefined, error: () => undefined };

export function proxyTargetAvailable(): boolean {
  return existsSync(appMain('proxy'));
}

/** This process's own CPU (user + system) in microseconds: the official client runs in it. */
function selfCpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

interface ProxyRig {
  cluster: TestCluster;
  proxy: NodeProcess;
  endpoints: string;
}

async function startRig(): Promise<ProxyRig> {
  const cluster = await startCluster('bench-proxy', { dirPrefix: 'rmqts-bench-', broker: { mappedFileSizeCommitLog: 1024 * 1024 * 1024 } });
  const admin = new MQAdmin({ namesrvAddr: cluster.namesrvAddr });
  try {
    await admin.createOrUpdateTopic(cluster.brokerAddr, { topic: TOPIC, readQueueNums: QUEUES, writeQueueNums: QUEUES, perm: 6 });
    await waitFor(async () => ((await admin.api.getTopicRouteInfo(TOPIC))?.queueDatas.length ?? 0) > 0, { timeoutMs: 20_000, message: 'bench topic route' });
  } finally {
    await admin.shutdown();
  }
  const [grpcPort, httpPort] = [await freePort(), await freePort()];
  const conf = writeConf(cluster.dir, 'proxy.conf', {
    grpcServerPort: grpcPort,
    metricsPromExporterPort: httpPort,
    bindAddress: '127.0.0.1',
    namesrvAddr: cluster.namesrvAddr,
    rocketMQClusterName: cluster.clusterName,
  });
  const proxy = await startNode(appMain('proxy'), ['-c', conf], {
    name: 'bench-proxy',
    readyPattern: /proxy started/,
    timeoutMs: 30_000,
    nodeArgs: profileNodeArgs('proxy'),
  });
  return { cluster, proxy, endpoints: `127.0.0.1:${grpcPort}` };
}

async function stopRig(r: ProxyRig): Promise<void> {
  await r.proxy.stop('SIGTERM', 10_000);
  await r.cluster.stop();
}

/** CPU of the proxy, the broker and this process (the client) over one measured window. */
function cpuProbe(r: ProxyRig): () => { proxy: number; broker: number; client: number } {
  const p0 = processCpuMicros(r.proxy.pid);
  const b0 = processCpuMicros(r.cluster.broker.pid);
  const c0 = selfCpuMicros();
  return () => ({
    proxy: processCpuMicros(r.proxy.pid) - p0,
    broker: processCpuMicros(r.cluster.broker.pid) - b0,
    client: selfCpuMicros() - c0,
  });
}

const cpuNote = (c: { broker: number; client: number }, n: number): string =>
  `broker ${(c.broker / Math.max(1, n)).toFixed(1)} µs/msg, official client ${(c.client / Math.max(1, n)).toFixed(0)} µs/msg (same process as the bench)`;

async function sendRows(r: ProxyRig): Promise<Row[]> {
  const producer = new Producer({ endpoints: r.endpoints, namespace: '', topics: [TOPIC], logger: quietLogger, requestTimeout: 10_000 } as never);
  await producer.startup();
  try {
    const send = (): Promise<unknown> => producer.send({ topic: TOPIC, tag: 'bench', body: PAYLOAD });
    for (let i = 0; i < 2000; i++) await send(); // warm-up: routes, JIT
    const spec = SCENARIOS.proxySend;
    const row = await medianRow(async () => {
      const rss = new RssSampler(r.proxy.pid);
      rss.start();
      const cpu = cpuProbe(r);
      const w = await runWindow({ inflight: spec.inflight, requests: spec.requests, perRequest: 1, maxMs: plan.maxMs, send });
      const c = cpu();
      return rowFrom(
        spec.scenario,
        'rocketmq-ts proxy',
        'async (ASYNC_FLUSH)',
        w.messages,
        w.elapsedMs,
        w.latency.percentiles([50, 99, 99.9]),
        c.proxy / Math.max(1, w.messages),
        rss.stop(),
        [cpuNote(c, w.messages), w.errors ? `${w.errors} errors: ${w.firstError}` : ''].filter(Boolean).join('; '),
      );
    });
    return [row];
  } finally {
    await producer.shutdown();
  }
}

async function receiveRows(r: ProxyRig): Promise<Row[]> {
  const spec = SCENARIOS.proxyReceiveAck;
  // The 5.x proxy pops with initMode "newest": the group starts at the queues' ends, so it is created
  // (one empty receive visits every queue) before each repeat's messages are sent.
  const consumer = new SimpleConsumer({
    endpoints: r.endpoints,
    namespace: '',
    consumerGroup: `bench_proxy_group_${process.pid}`,
    subscriptions: new Map([[TOPIC, '*']]),
    awaitDuration: 5_000,
    logger: quietLogger,
  } as never);
  const producer = new Producer({ endpoints: r.endpoints, namespace: '', topics: [TOPIC], logger: quietLogger, requestTimeout: 10_000 } as never);
  await consumer.startup();
  await producer.startup();
  try {
    for (let i = 0; i < 3; i++) for (const v of await consumer.receive(spec.perRequest, 30_000)) await consumer.ack(v);
    const perRepeat = Math.max(10_000, Math.floor(plan.consumeMessages / 5));
    const row = await medianRow(async () => {
      const fill = await runWindow({
        inflight: 256,
        requests: perRepeat,
        perRequest: 1,
        maxMs: 300_000,
        send: () => producer.send({ topic: TOPIC, body: PAYLOAD }),
      });
      const target = fill.messages;
      const rss = new RssSampler(r.proxy.pid);
      rss.start();
      const cpu = cpuProbe(r);
      const t0 = performance.now();
      const deadline = t0 + plan.maxMs * 3;
      let got = 0;
      // Four receivers in parallel; each acks every message it got before receiving again.
      const lane = async (): Promise<void> => {
        while (got < target && performance.now() < deadline) {
          const views = await consumer.receive(spec.perRequest, 30_000);
          got += views.length;
          await Promise.all(views.map((v) => consumer.ack(v)));
        }
      };
      await Promise.all(Array.from({ length: spec.inflight }, lane));
      const el = performance.now() - t0;
      const c = cpu();
      const note = `${cpuNote(c, got)}; ${spec.inflight} receives in flight, ${got}/${target} messages`;
      return rowFrom(spec.scenario, 'rocketmq-ts proxy', 'async (ASYNC_FLUSH)', got, el, undefined, c.proxy / Math.max(1, got), rss.stop(), note);
    });
    return [row];
  } finally {
    await producer.shutdown();
    await consumer.shutdown();
  }
}

/** grpc-js alone, one process each side: what one unary call costs before any proxy work. */
async function floorRow(): Promise<Row> {
  const port = await freePort();
  const server = await startNode(fileURLToPath(new URL('../peers/grpc-floor-server.js', import.meta.url)), [String(port)], {
    name: 'grpc-floor',
    readyPattern: /grpc floor server listening/,
    timeoutMs: 20_000,
  });
  const Ctor = grpc.makeGenericClientConstructor(
    {
      echo: {
        path: '/bench.Floor/Echo',
        requestStream: false,
        responseStream: false,
        requestSerialize: (b: Buffer) => b,
        requestDeserialize: (b: Buffer) => b,
        responseSerialize: (b: Buffer) => b,
        responseDeserialize: (b: Buffer) => b,
      },
    },
    'Floor',
  );
  const client = new Ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
    echo: (req: Buffer, cb: (err: grpc.ServiceError | null, res?: Buffer) => void) => void;
  };
  try {
    const call = (): Promise<unknown> => new Promise((res, rej) => client.echo(PAYLOAD, (e, v) => (e ? rej(e) : res(v))));
    for (let i = 0; i < 2000; i++) await call();
    const spec = SCENARIOS.grpcFloor;
    return await medianRow(async () => {
      const s0 = processCpuMicros(server.pid);
      const c0 = selfCpuMicros();
      const w = await runWindow({ inflight: spec.inflight, requests: spec.requests, perRequest: 1, maxMs: plan.maxMs, send: call });
      const n = Math.max(1, w.messages);
      return rowFrom(
        spec.scenario,
        'grpc-js (bare server)',
        '-',
        w.messages,
        w.elapsedMs,
        w.latency.percentiles([50, 99, 99.9]),
        (processCpuMicros(server.pid) - s0) / n,
        undefined,
        `client ${((selfCpuMicros() - c0) / n).toFixed(0)} µs/call; 1 KiB request, 32 B reply`,
      );
    });
  } finally {
    client.close();
    await server.stop('SIGTERM', 5_000);
  }
}

/** The 5.x path: the official Node.js client through our gRPC proxy to a broker, plus the grpc-js floor. */
export async function runProxyScenarios(): Promise<Row[]> {
  const rows: Row[] = [];
  if (wanted('grpcFloor')) rows.push(await floorRow());
  if (!wanted('proxySend') && !wanted('proxyReceiveAck')) return rows;
  const rig = await startRig();
  try {
    if (wanted('proxySend')) rows.push(...(await sendRows(rig)));
    if (wanted('proxyReceiveAck')) rows.push(...(await receiveRows(rig)));
  } catch (e) {
    rows.push({ scenario: '-', system: 'rocketmq-ts proxy', durability: '-', msgsPerSec: NaN, mbPerSec: NaN, note: `failed: ${(e as Error).message}` });
  } finally {
    await stopRig(rig);
  }
  return rows;
}
