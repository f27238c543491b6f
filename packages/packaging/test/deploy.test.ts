// Per-service deploys: each app turned into a self-contained folder with `pnpm deploy --prod`, moved
// away from where it was made (nothing may point back into the repository), then started there with
// only Node.js and a conf file: a name server, a broker registering with it, a proxy in front and
// the console; a message goes through the broker with our SDK and through the proxy with the official
// 5.x client, and the console shows the broker.
import { mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Message, Producer } from '@rocketmq-ts/client';
import { freePort, makeTempDir, removeTempDir, repoRoot, startNode, waitFor, writeConf, type NodeProcess } from '@rocketmq-ts/testing';
import { Producer as V5Producer, SimpleConsumer as V5Consumer } from 'rocketmq-client-nodejs';
import { DEPLOYABLE_APPS, duBytes, deployApp, linksLeaving } from '../src/index.js';

const root = repoRoot();
let tmp: string;
const folders: Record<string, string> = {};
const procs: NodeProcess[] = [];
const quiet = { info: () => undefined, warn: () => undefined, debug: () => undefined, error: () => undefined };

beforeAll(async () => {
  tmp = makeTempDir('deploy-');
  mkdirSync(join(tmp, 'host'));
  for (const app of DEPLOYABLE_APPS) {
    const made = join(tmp, `made-${app}`);
    await deployApp(root, app, made);
    // A move proves the folder carries everything (its links are relative and stay inside).
    folders[app] = join(tmp, 'host', app);
    renameSync(made, folders[app]!);
  }
}, 300_000);

afterAll(async () => {
  for (const p of procs.reverse()) await p.stop('SIGTERM', 10_000);
  if (tmp) removeTempDir(tmp);
});

/** Starts `<folder>/dist/main.js -c <conf>` from inside the folder, with none of the repo's paths. */
async function startDeployed(app: string, props: Record<string, string | number>, ready: { port?: number; pattern?: RegExp }): Promise<NodeProcess> {
  const dir = folders[app]!;
  const conf = writeConf(dir, `${app}.conf`, props);
  const p = await startNode(join(dir, 'dist', 'main.js'), ['-c', conf], {
    name: `deployed-${app}`,
    cwd: dir,
    env: { NODE_PATH: undefined },
    timeoutMs: 30_000,
    ...(ready.port !== undefined ? { readyPort: ready.port } : {}),
    ...(ready.pattern !== undefined ? { readyPattern: ready.pattern } : {}),
  });
  procs.push(p);
  return p;
}

describe('apps deployed as self-contained folders (pnpm deploy --prod)', () => {
  it('each folder has dist, package.json and its own node_modules, with no link out of it', () => {
    for (const app of DEPLOYABLE_APPS) {
      const dir = folders[app]!;
      expect(linksLeaving(dir)).toEqual([]);
      console.log(`[deploy] ${app}: ${(duBytes(dir) / 1024 / 1024).toFixed(1)} MiB`);
    }
  });

  it('name server, broker, proxy and console start from their folders and work', async () => {
    const [nsPort, brokerPort, grpcPort] = [await freePort(), await freePort(), await freePort()];
    const namesrvAddr = `127.0.0.1:${nsPort}`;
    await startDeployed('nameserver', { listenPort: nsPort, bindAddress: '127.0.0.1', metricsPromExporterPort: 0 }, { port: nsPort });
    await startDeployed(
      'broker',
      {
        brokerClusterName: 'DeployCluster',
        brokerName: 'deployed-broker',
        brokerIP1: '127.0.0.1',
        bindAddress: '127.0.0.1',
        listenPort: brokerPort,
        haListenPort: await freePort(),
        metricsPromExporterPort: 0,
        namesrvAddr,
        storePathRootDir: './data/store',
        mappedFileSizeCommitLog: 16 * 1024 * 1024,
        preallocateMode: 'truncate',
      },
      { port: brokerPort },
    );
    const topic = 'DeployedTopic';
    const producer = new Producer({ group: 'deployed-producer', namesrvAddr });
    await producer.start();
    try {
      await waitFor(
        async () => {
          try {
            return (await producer.send(new Message(topic, Buffer.from('warm')))).sendStatus === 'SEND_OK';
          } catch {
            return false;
          }
        },
        { timeoutMs: 30_000, message: 'first send to the deployed broker' },
      );
      const sent = await producer.send(new Message(topic, Buffer.from('from a deployed broker')));
      expect(sent.sendStatus).toBe('SEND_OK');
    } finally {
      await producer.shutdown();
    }

    await startDeployed(
      'proxy',
      { grpcServerPort: grpcPort, bindAddress: '127.0.0.1', metricsPromExporterPort: 0, namesrvAddr, rocketMQClusterName: 'DeployCluster' },
      { pattern: /proxy started/ },
    );
    const endpoints = `127.0.0.1:${grpcPort}`;
    const consumer = new V5Consumer({
      endpoints,
      namespace: '',
      consumerGroup: 'deployed_v5_group',
      subscriptions: new Map([[topic, '*']]),
      awaitDuration: 5000,
      logger: quiet,
    } as never);
    await consumer.startup();
    const v5 = new V5Producer({ endpoints, namespace: '', topics: [topic], logger: quiet, requestTimeout: 5000 } as never);
    await v5.startup();
    try {
      // The 5.x group starts at the queues' ends: create it (one receive) before sending.
      await consumer.receive(16, 10_000);
      await v5.send({ topic, body: Buffer.from('through a deployed proxy') });
      const bodies: string[] = [];
      await waitFor(
        async () => {
          for (const m of await consumer.receive(16, 10_000)) {
            bodies.push(m.body.toString());
            await consumer.ack(m);
          }
          return bodies.includes('through a deployed proxy');
        },
        { timeoutMs: 30_000, message: 'the 5.x message back through the deployed proxy' },
      );
    } finally {
      await v5.shutdown();
      await consumer.shutdown();
    }

    const consolePort = await freePort();
    await startDeployed('dashboard', { listenPort: consolePort, bindAddress: '127.0.0.1', namesrvAddr }, { port: consolePort });
    const cluster = (await (await fetch(`http://127.0.0.1:${consolePort}/api/cluster`)).json()) as unknown;
    expect(JSON.stringify(cluster)).toContain('deployed-broker');
    const page = await (await fetch(`http://127.0.0.1:${consolePort}/`)).text();
    expect(page).toContain('<html');
    // The chart library's browser file, served from the deployed folder's own node_modules.
    const uplot = await fetch(`http://127.0.0.1:${consolePort}/vendor/uplot/uPlot.esm.js`);
    expect(uplot.status).toBe(200);
    expect(await uplot.text()).toContain('export { uPlot as default }');
  });
});
