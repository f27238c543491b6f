import { join } from 'node:path';
import { appMain, makeTempDir, removeTempDir, writeConf } from './files.js';
import { freePort } from './ports.js';
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
  const [nsPort, nsHttp, brokerPort, brokerHttp, brokerHa] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  const nsConf = writeConf(dir, 'namesrv.conf', {
    listenPort: nsPort,
    bindAddress: '127.0.0.1',
    metricsPromExporterPort: nsHttp,
    kvConfigPath: join(dir, 'namesrv', 'kvConfig.json'),
    configStorePath: join(dir, 'namesrv', 'namesrv.properties'),
    ...(o.namesrv ?? {}),
  });
  const namesrv = await startNode(appMain('nameserver'), ['-c', nsConf], { name: `${name}-namesrv`, readyPattern: /name server started/, timeoutMs: 20_000 });
  const namesrvAddr = `127.0.0.1:${nsPort}`;
  const brokerName = o.brokerName ?? `broker-${name}`;
  const extraBrokers: NodeProcess[] = [];
  const launch = async (bName: string, extra: Record<string, string | number | boolean>): Promise<{ addr: string; process: NodeProcess }> => {
    const [port, http, ha] = [await freePort(), await freePort(), await freePort()];
    const conf = writeConf(dir, `${bName}.conf`, {
      haListenPort: ha,
      brokerClusterName: 'TestCluster',
      brokerName: bName,
      brokerIP1: '127.0.0.1',
      bindAddress: '127.0.0.1',
      listenPort: port,
      metricsPromExporterPort: http,
      namesrvAddr,
      storePathRootDir: join(dir, bName),
      mappedFileSizeCommitLog: 67108864,
      preallocateMode: 'truncate',
      ...extra,
    });
    const process = await startNode(appMain('broker'), ['-c', conf], {
      name: `${name}-${bName}`,
      readyPattern: /broker .* started at/,
      timeoutMs: 30_000,
      env: { HOME: dir },
    });
    return { addr: `127.0.0.1:${port}`, process };
  };
  const brokerConf = writeConf(dir, 'broker.conf', {
    haListenPort: brokerHa,
    brokerClusterName: 'TestCluster',
    brokerName,
    brokerIP1: '127.0.0.1',
    bindAddress: '127.0.0.1',
    listenPort: brokerPort,
    metricsPromExporterPort: brokerHttp,
    namesrvAddr,
    storePathRootDir: join(dir, 'store'),
    mappedFileSizeCommitLog: 67108864,
    preallocateMode: 'truncate',
    ...(o.broker ?? {}),
  });
  const broker = await startNode(appMain('broker'), ['-c', brokerConf], {
    name: `${name}-broker`,
    readyPattern: /broker .* started at/,
    timeoutMs: 30_000,
    env: { HOME: dir },
  });
  return {
    namesrvAddr,
    brokerAddr: `127.0.0.1:${brokerPort}`,
    brokerName,
    clusterName: 'TestCluster',
    dir,
    namesrv,
    broker,
    async addBroker(bName, extra = {}) {
      const b = await launch(bName, { ...(o.broker ?? {}), ...extra });
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
