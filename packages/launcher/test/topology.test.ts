import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { parseProperties } from '@rocketmq-ts/common';
import { removeTempDirs, repoRoot } from '@rocketmq-ts/testing';
import { listTopologies, loadTopology, type ProcessPlan } from '../src/topology.js';
import { makeFakeTree } from './fake-tree.js';

afterAll(() => removeTempDirs());

const ports = (p: ProcessPlan | undefined): [string, number][] => (p?.ports ?? []).map((u) => [u.property, u.port]);

describe('topology loading', () => {
  const root = repoRoot();

  it('lists the topologies under infra/conf', () => {
    expect(listTopologies(root)).toEqual(expect.arrayContaining(['standalone', '2m-2s-async', '2m-2s-sync']));
  });

  it('reads the standalone topology', () => {
    const plan = loadTopology(root, 'standalone', {});
    expect(plan.processes.map((p) => p.name)).toEqual(['namesrv', 'broker', 'proxy', 'dashboard']);
    const ns = plan.processes[0]!;
    expect(ns).toMatchObject({ name: 'namesrv', app: 'nameserver', configRel: 'infra/conf/standalone/namesrv.conf' });
    expect(ns.main).toBe(join(root, 'apps', 'nameserver', 'dist', 'main.js'));
    expect(ports(ns)).toEqual([
      ['listenPort', 9876],
      ['metricsPromExporterPort', 9880],
    ]);
    const broker = plan.processes[1]!;
    expect(broker).toMatchObject({ app: 'broker', configRel: 'infra/conf/standalone/broker.conf', env: { NAMESRV_ADDR: '127.0.0.1:9876' } });
    expect(ports(broker)).toEqual([
      ['listenPort', 10911],
      ['haListenPort', 10912],
      ['metricsPromExporterPort', 5557],
    ]);
    // Started last: 5.x clients reach the cluster through it, with sessions in memory (no Redis).
    const proxy = plan.processes[2]!;
    expect(proxy).toMatchObject({ app: 'proxy', configRel: 'infra/conf/standalone/proxy.conf', env: { NAMESRV_ADDR: '127.0.0.1:9876' } });
    expect(proxy.readyPort).toMatchObject({ property: 'grpcServerPort', port: 8081 });
    expect(ports(proxy)).toEqual([
      ['grpcServerPort', 8081],
      ['metricsPromExporterPort', 5561],
    ]);
    expect(parseProperties(readFileSync(proxy.configPath, 'utf8')).get('redisAddr')).toBe('');
    // The console last, on its one HTTP port (pages, /api, /metrics).
    const dashboard = plan.processes[3]!;
    expect(dashboard).toMatchObject({ app: 'dashboard', configRel: 'infra/conf/standalone/dashboard.conf', env: { NAMESRV_ADDR: '127.0.0.1:9876' } });
    expect(dashboard.main).toBe(join(root, 'apps', 'dashboard', 'dist', 'main.js'));
    expect(ports(dashboard)).toEqual([['listenPort', 8082]]);
  });

  it.each(['2m-2s-async', '2m-2s-sync'])('reads %s with distinct ports for every process', (name) => {
    const plan = loadTopology(root, name, {});
    expect(plan.processes.map((p) => p.name)).toEqual(['namesrv-1', 'namesrv-2', 'broker-a', 'broker-a-s', 'broker-b', 'broker-b-s', 'proxy', 'dashboard']);
    const byName = new Map(plan.processes.map((p) => [p.name, p]));
    expect(ports(byName.get('broker-a'))).toEqual([
      ['listenPort', 10911],
      ['haListenPort', 10912],
      ['metricsPromExporterPort', 5557],
    ]);
    expect(ports(byName.get('proxy'))).toEqual([
      ['grpcServerPort', 8081],
      ['metricsPromExporterPort', 5561],
    ]);
    expect(byName.get('proxy')?.env['NAMESRV_ADDR']).toBe('127.0.0.1:9876;127.0.0.1:9886');
    expect(byName.get('broker-b-s')?.env['NAMESRV_ADDR']).toBe('127.0.0.1:9876;127.0.0.1:9886');
    expect(ports(byName.get('dashboard'))).toEqual([['listenPort', 8082]]);
    expect(byName.get('dashboard')?.env['NAMESRV_ADDR']).toBe('127.0.0.1:9876;127.0.0.1:9886');
    const all = plan.processes.flatMap((p) => p.ports.map((u) => u.port));
    expect(new Set(all).size).toBe(all.length);
  });

  it('takes the environment into account and defaults haListenPort to listenPort+1', () => {
    const tree = makeFakeTree('envy', [
      { name: 'a', conf: { listenPort: 7000 }, env: { ROCKETMQ_LISTEN_PORT: '7100' } },
      { name: 'b', app: 'broker', conf: { listenPort: 7200 } },
    ]);
    const plan = loadTopology(tree, 'envy', {});
    expect(plan.processes[0]?.readyPort).toEqual({ property: 'listenPort', port: 7100, from: 'env' });
    expect(ports(plan.processes[1])).toEqual([
      ['listenPort', 7200],
      ['haListenPort', 7201],
      ['metricsPromExporterPort', 5557],
    ]);
  });

  it("counts the apps' default ports a conf leaves out, and none for metricsPromExporterPort=0", () => {
    const tree = makeFakeTree('defaults', [
      { name: 'ns', app: 'nameserver', conf: {} },
      { name: 'px', app: 'proxy', conf: { grpcServerPort: 7300 } },
      { name: 'quiet', app: 'proxy', conf: { grpcServerPort: 7301, metricsPromExporterPort: 0 } },
    ]);
    const plan = loadTopology(tree, 'defaults', {});
    expect(plan.processes.map(ports)).toEqual([
      [
        ['listenPort', 9876],
        ['metricsPromExporterPort', 9880],
      ],
      [
        ['grpcServerPort', 7300],
        ['metricsPromExporterPort', 5561],
      ],
      [['grpcServerPort', 7301]],
    ]);
    expect(plan.processes[1]!.ports[1]).toMatchObject({ from: 'default' });
  });

  it('refuses a broker whose metrics port is the proxy default 5561', () => {
    const tree = makeFakeTree('clash5561', [
      { name: 'b', app: 'broker', conf: { listenPort: 7400, metricsPromExporterPort: 5561 } },
      { name: 'px', app: 'proxy', conf: {} },
    ]);
    expect(() => loadTopology(tree, 'clash5561', {})).toThrow('port 5561 is used twice: by b metricsPromExporterPort and by px metricsPromExporterPort');
  });

  // Each shipped conf, read by its own app (`-p` prints the effective configuration): a property the
  // app does not know (a typo, or a name from another app) is only a warning at start-up, so catch it here.
  const shipped = listTopologies(root).flatMap((t) => loadTopology(root, t, {}).processes.map((p) => [p.configRel, p] as const));
  it.each(shipped)('%s uses only property names its app knows', (_rel, p) => {
    const r = spawnSync(process.execPath, [p.main, '-c', p.configPath, '-p'], {
      cwd: root,
      encoding: 'utf8',
      env: { PATH: process.env['PATH'] },
      timeout: 30_000,
    });
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    const printed = parseProperties(r.stdout);
    for (const [k, v] of parseProperties(readFileSync(p.configPath, 'utf8'))) expect([k, printed.get(k)]).toEqual([k, v]);
  });

  it('rejects two processes on one port, a missing conf, and a bad topology file', () => {
    const tree = makeFakeTree('clash', [
      { name: 'a', conf: { listenPort: 7000, metricsPromExporterPort: 7001 } },
      { name: 'b', conf: { listenPort: 7001 } },
    ]);
    expect(() => loadTopology(tree, 'clash', {})).toThrow(
      'port 7001 is used twice: by a metricsPromExporterPort and by b listenPort (infra/conf/clash/b.conf)',
    );

    const topo = join(tree, 'infra', 'conf', 'clash', 'topology.json');
    writeFileSync(topo, JSON.stringify({ processes: [{ name: 'x', app: 'fake', config: 'nope.conf' }] }));
    expect(() => loadTopology(tree, 'clash', {})).toThrow('x: config file infra/conf/clash/nope.conf does not exist');

    writeFileSync(topo, JSON.stringify({ processes: [{ name: 'x', app: 'fake' }] }));
    expect(() => loadTopology(tree, 'clash', {})).toThrow('processes[0].config must be a non-empty string');

    writeFileSync(topo, '{ nope');
    expect(() => loadTopology(tree, 'clash', {})).toThrow(/is not valid JSON/);

    expect(() => loadTopology(tree, 'other', {})).toThrow('no topology "other": infra/conf/other/topology.json does not exist (known: clash)');
  });

  it('reports a conf value that is not a port', () => {
    const tree = makeFakeTree('badport', [{ name: 'a', conf: { listenPort: 'ninety' } }]);
    expect(() => loadTopology(tree, 'badport', {})).toThrow('a: infra/conf/badport/a.conf: listenPort: expected an integer, got "ninety"');
  });
});
