// `pnpm start` for real: the shipped standalone topology (name server, broker, proxy, console) run by the
// launcher with the built apps. The test runs it in a temp copy of infra/conf/standalone whose ports
// are moved to free ones (apps/ is a link to this repo's), so a cluster already running on 9876 is
// no obstacle; everything else, start order included, is the shipped topology's.
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { parseProperties, stringifyProperties } from '@rocketmq-ts/common';
import { canConnect, freePort, isPidAlive, makeTempDir, removeTempDirs, repoRoot, startNode, stopAllProcesses, waitFor } from '@rocketmq-ts/testing';
import { Producer } from 'rocketmq-client-nodejs';
import type { TopologyFile } from '../src/topology.js';
import { CLI, pidOf } from './fake-tree.js';

const repo = repoRoot();
const TOPOLOGY = 'standalone';
const PORT_PROPERTIES = ['listenPort', 'haListenPort', 'grpcServerPort', 'metricsPromExporterPort'];

afterAll(async () => {
  await stopAllProcesses(5_000);
  removeTempDirs();
});

/** A temp root with apps/ linked to the repo's and the standalone confs on free ports; returns the root and each process's ports. */
async function standaloneCopy(): Promise<{ root: string; ports: Map<string, Map<string, number>> }> {
  const root = makeTempDir('launcher-standalone');
  symlinkSync(join(repo, 'apps'), join(root, 'apps'), 'dir');
  const from = join(repo, 'infra', 'conf', TOPOLOGY);
  const to = join(root, 'infra', 'conf', TOPOLOGY);
  mkdirSync(to, { recursive: true });
  const topology = JSON.parse(readFileSync(join(from, 'topology.json'), 'utf8')) as TopologyFile;
  const ports = new Map<string, Map<string, number>>();
  for (const p of topology.processes) {
    const props = parseProperties(readFileSync(join(from, p.config), 'utf8'));
    const mine = new Map<string, number>();
    // The broker's HA port defaults to listenPort+1, which need not be free: name it too.
    for (const k of PORT_PROPERTIES.filter((k) => props.has(k) || (p.app === 'broker' && k === 'haListenPort'))) {
      const port = await freePort();
      props.set(k, String(port));
      mine.set(k, port);
    }
    ports.set(p.name, mine);
    writeFileSync(join(to, p.config), stringifyProperties([...props]));
  }
  const ns = topology.processes.find((p) => p.app === 'nameserver')!;
  const nsAddr = `127.0.0.1:${ports.get(ns.name)!.get('listenPort')}`;
  for (const p of topology.processes) if (p.env?.['NAMESRV_ADDR'] !== undefined) p.env['NAMESRV_ADDR'] = nsAddr;
  writeFileSync(join(to, 'topology.json'), JSON.stringify(topology, null, 2));
  return { root, ports };
}

/** When the launcher wrote "<name> exited" into logs/<name>.log. */
function exitTime(root: string, name: string): number {
  const m = /^--- (\S+) \S+ exited/m.exec(readFileSync(join(root, 'logs', `${name}.log`), 'utf8'));
  if (!m) throw new Error(`logs/${name}.log has no exit line`);
  return Date.parse(m[1]!);
}

describe('the standalone topology (pnpm start)', () => {
  it('starts the name server, the broker, the proxy, which answers 5.x clients, and the console; stops them in reverse order', async () => {
    const { root, ports } = await standaloneCopy();
    const grpc = ports.get('proxy')!.get('grpcServerPort')!;
    const http = ports.get('proxy')!.get('metricsPromExporterPort')!;
    const consolePort = ports.get('dashboard')!.get('listenPort')!;
    const launcher = await startNode(CLI, [TOPOLOGY, '--root', root, '--grace', '10000'], { name: 'launcher', readyPattern: /is ready/, timeoutMs: 120_000 });
    const out = launcher.output();
    const started = ['namesrv', 'broker', 'proxy', 'dashboard'].map((n) => out.indexOf(`started ${n} (pid`));
    expect(started.every((i) => i >= 0)).toBe(true);
    expect([...started].sort((a, b) => a - b)).toEqual(started);
    // The proxy starts once the broker accepts connections, and comes up with its state in memory.
    expect(out).toMatch(/^proxy +\| .*sharedState=memory/m);
    expect(out).toContain(`proxy 127.0.0.1:${grpc} (metrics http://127.0.0.1:${http}/metrics)`);
    expect(out).toContain(`5.x clients use endpoints 127.0.0.1:${grpc}`);
    expect(out).toContain(`the console is at http://127.0.0.1:${consolePort}/`);
    await launcher.waitForOutput(/^proxy +\| .*proxy started$/m, 30_000);

    expect(await canConnect(grpc)).toBe(true);
    const health = await fetch(`http://127.0.0.1:${http}/health`, { signal: AbortSignal.timeout(5_000) });
    expect(health.status).toBe(200);
    // A QueryRoute through the proxy: the official client's start-up fetches the route of its
    // topics (TBW102 is on every broker that auto-creates topics), from the launched name server.
    const quiet = { info: () => undefined, warn: () => undefined, debug: () => undefined, error: () => undefined };
    const producer = new Producer({ endpoints: `127.0.0.1:${grpc}`, namespace: '', topics: ['TBW102'], logger: quiet, requestTimeout: 5_000 });
    try {
      await producer.startup();
    } finally {
      await producer.shutdown();
    }

    // The console sees the launched broker through the launched name server.
    await launcher.waitForOutput(/^dashboard +\| .*dashboard started$/m, 30_000);
    const cluster = (await (await fetch(`http://127.0.0.1:${consolePort}/api/cluster`, { signal: AbortSignal.timeout(10_000) })).json()) as {
      clusters: { brokerGroups: { brokerName: string }[] }[];
    };
    expect(cluster.clusters.flatMap((c) => c.brokerGroups.map((g) => g.brokerName))).toEqual(['broker-a']);
    expect((await fetch(`http://127.0.0.1:${consolePort}/`, { signal: AbortSignal.timeout(5_000) })).headers.get('content-type')).toMatch(/text\/html/);

    // Data under ./data of the root, as the confs say.
    expect(existsSync(join(root, 'data', 'broker-a'))).toBe(true);
    expect(readdirSync(join(root, 'logs')).sort()).toEqual(['broker.log', 'dashboard.log', 'namesrv.log', 'proxy.log']);

    const pids = ['namesrv', 'broker', 'proxy', 'dashboard'].map((n) => pidOf(out, n));
    expect(await launcher.stop('SIGTERM', 40_000)).toBe(0);
    expect(launcher.output()).toContain('stopping dashboard, proxy, broker, namesrv');
    expect(launcher.output()).toContain('all processes stopped');
    for (const pid of pids) await waitFor(() => !isPidAlive(pid), { timeoutMs: 5_000, message: `pid ${pid} to be gone` });
    expect(await canConnect(grpc)).toBe(false);
    // Stopped one app at a time: the console and the proxy were gone before the broker stopped, the broker before the name server.
    expect(exitTime(root, 'dashboard')).toBeLessThanOrEqual(exitTime(root, 'proxy'));
    expect(exitTime(root, 'proxy')).toBeLessThanOrEqual(exitTime(root, 'broker'));
    expect(exitTime(root, 'broker')).toBeLessThanOrEqual(exitTime(root, 'namesrv'));
    expect(readFileSync(join(root, 'logs', 'proxy.log'), 'utf8')).toMatch(/proxy exited \((exit code 0|killed by SIGTERM)\)/);
  }, 240_000);
});
