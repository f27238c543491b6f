import { join } from 'node:path';
import { appMain, makeTempDir, removeTempDir, writeConf } from './files.js';
import { freePort, retryOnPortClash } from './ports.js';
import { startNode, type NodeProcess } from './process.js';

/** A name server and one broker started as processes on free ports, in a temp dir. */
export interface TestCluster {
  namesrvAddr: string;
  brokerAddr: string;
  brokerName: string;
  clusterName: string;
  dir: string;
  namesrv: NodeProcess;
  broker: NodeProcess;
  /** Starts one more broker (another broker group of the same cluster). */
  addBroker(brokerName: string, extra?: Record<string, string | number | boolean>): Promise<{ addr: string; process: NodeProcess }>;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  /** Extra broker properties (e.g. a short messageDelayLevel). */
  broker?: Record<string, string | number | boolean>;
  /** Extra name server properties (e.g. TLS settings, aclEnable). */
  namesrv?: Record<string, string | number | boolean>;
  brokerName?: string;
  /** Prefix of the temp dir name (default "cluster-"). */
  dirPrefix?: string;
}

/** Delay levels of 1 s each: retries and delayed messages come back after a second. */
export const FAST_DELAY_LEVELS = Array.from({ length: 18 }, () => '1s').join(' ');

export async function startCluster(name: string, o: ClusterOptions = {}): Promise<TestCluster> {
  const dir = makeTempDir(`${o.dirPrefix ?? 'cluster-'}${name}`);
  // Each start picks its ports afresh and is retried when another test process took one first.
  const { namesrv, nsPort } = await retryOnPortClash(async () => {
    const [nsPort, nsHttp] = [await freePort(), await freePort()];
    const nsConf = writeConf(dir, 'namesrv.conf', {
      listenPort: nsPort,
      bindAddress: '127.0.0.1',
      metricsPromExporterPort: nsHttp,
      kvConfigPath: join(dir, 'namesrv', 'kvConfig.json'),
      configStorePath: join(dir, 'namesrv', 'namesrv.properties'),
      ...(o.namesrv ?? {}),
    });
    const proc = await startNode(appMain('nameserver'), ['-c', nsConf], { name: `${name}-namesrv`, readyPattern: /name server started/, timeoutMs: 20_000 });
    return { namesrv: proc, nsPort };
  });
  const namesrvAddr = `127.0.0.1:${nsPort}`;
  const brokerName = o.brokerName ?? `broker-${name}`;
  const extraBrokers: NodeProcess[] = [];
  const launch = (
    bName: string,
    conf: string,
    storeDir: string,
    extra: Record<string, string | number | boolean>,
  ): Promise<{ addr: string; process: NodeProcess }> =>
    retryOnPortClash(async () => {
      const [port, http, ha] = [await freePort(), await freePort(), await freePort()];
      const path = writeConf(dir, conf, {
        haListenPort: ha,
        brokerClusterName: 'TestCluster',
        brokerName: bName,
        brokerIP1: '127.0.0.1',
        bindAddress: '127.0.0.1',
        listenPort: port,
        metricsPromExporterPort: http,
        namesrvAddr,
        storePathRootDir: storeDir,
        mappedFileSizeCommitLog: 67108864,
        preallocateMode: 'truncate',
        ...extra,
      });
      const process = await startNode(appMain('broker'), ['-c', path], {
        name: `${name}-${bName}`,
        readyPattern: /broker .* started at/,
        timeoutMs: 30_000,
        env: { HOME: dir },
      });
      return { addr: `127.0.0.1:${port}`, process };
    });
  const first = await launch(brokerName, 'broker.conf', join(dir, 'store'), o.broker ?? {});
  const broker = first.process;
  return {
    namesrvAddr,
    brokerAddr: first.addr,
    brokerName,
    clusterName: 'TestCluster',
    dir,
    namesrv,
    broker,
    async addBroker(bName, extra = {}) {
      const b = await launch(bName, `${bName}.conf`, join(dir, bName), { ...(o.broker ?? {}), ...extra });
      extraBrokers.push(b.process);
      return b;
    },
    async stop() {
      await Promise.all([broker, ...extraBrokers].map((p) => p.stop('SIGTERM', 5_000)));
      await namesrv.stop('SIGTERM', 5_000);
      removeTempDir(dir);
    },
  };
}
