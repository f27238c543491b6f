import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parseProperties } from '@rocketmq-ts/common';
import { appMain, freePort, removeTempDirs, repoRoot, startCluster, startNode, writeConf, type NodeProcess, type TestCluster } from '@rocketmq-ts/testing';
import { parse } from 'yaml';

/**
 * The Grafana dashboards of infra/grafana/dashboards against what the processes export: every
 * series a panel or a variable queries is read from the /metrics of the process its `job` selects
 * (a name server, a broker, a proxy and the console started here), every job is one of
 * infra/prometheus/prometheus.yml, and every panel uses the provisioned data source.
 */
const root = repoRoot();
const DIR = join(root, 'infra', 'grafana', 'dashboards');
const DATASOURCE_UID = 'prometheus';
/** Series Prometheus makes itself for every target. */
const SYNTHETIC = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped']);
/** Each job of prometheus.yml and the app whose /metrics it scrapes. */
const APP_OF_JOB: Record<string, string> = { nameserver: 'nameserver', broker: 'broker', proxy: 'proxy', dashboard: 'dashboard' };

interface Target {
  expr?: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  panels?: Panel[];
}
interface Dashboard {
  uid?: string;
  title?: string;
  panels?: Panel[];
  templating?: { list: { name: string; type: string; datasource?: { uid?: string }; query?: string | { query?: string }; definition?: string }[] };
}

const files = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .sort();
const dashboards = files.map((f) => [f, JSON.parse(readFileSync(join(DIR, f), 'utf8')) as Dashboard] as const);

/** Panels, rows' collapsed panels included. */
const panelsOf = (d: Dashboard): Panel[] => (d.panels ?? []).flatMap((p) => [p, ...(p.panels ?? [])]);
const variableQuery = (v: NonNullable<Dashboard['templating']>['list'][number]): string | undefined => (typeof v.query === 'string' ? v.query : v.query?.query);

/** Every PromQL expression of a dashboard: panel targets and query variables, with where it was found. */
function queriesOf(d: Dashboard): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = [];
  for (const p of panelsOf(d)) for (const t of p.targets ?? []) if (t.expr !== undefined) out.push({ where: `panel "${p.title}"`, expr: t.expr });
  for (const v of d.templating?.list ?? []) {
    const q = v.type === 'query' ? variableQuery(v) : undefined;
    if (q !== undefined) out.push({ where: `variable $${v.name}`, expr: q });
  }
  return out;
}

interface Selector {
  metric: string;
  matchers: Map<string, { op: string; value: string }>;
}

/**
 * The vector selectors of an expression (`name{...}`): every metric a query reads. Our queries
 * always give a selector braces (at least the job), which the static checks below require.
 */
function selectorsOf(expr: string): Selector[] {
  const out: Selector[] = [];
  for (const m of expr.matchAll(/([a-zA-Z_:][\w:]*)\{([^}]*)\}/g)) {
    const matchers = new Map<string, { op: string; value: string }>();
    for (const x of m[2]!.matchAll(/(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"/g)) matchers.set(x[1]!, { op: x[2]!, value: x[3]! });
    out.push({ metric: m[1]!, matchers });
  }
  return out;
}

const all = dashboards.flatMap(([file, d]) => queriesOf(d).map((q) => ({ file, ...q, selectors: selectorsOf(q.expr) })));

describe('Grafana dashboards (static)', () => {
  const jobs = (
    parse(readFileSync(join(root, 'infra', 'prometheus', 'prometheus.yml'), 'utf8')) as { scrape_configs: { job_name: string }[] }
  ).scrape_configs.map((c) => c.job_name);

  it('has the broker, consumer lag, proxy and HA dashboards, each with its own uid and title', () => {
    expect(files).toEqual(['broker.json', 'consumer-lag.json', 'ha.json', 'proxy.json']);
    for (const [file, d] of dashboards) {
      expect({ file, uid: typeof d.uid, title: typeof d.title }).toEqual({ file, uid: 'string', title: 'string' });
      expect(d.uid!.length).toBeLessThanOrEqual(40); // Grafana's limit
    }
    expect(new Set(dashboards.map(([, d]) => d.uid)).size).toBe(files.length);
    expect(new Set(dashboards.map(([, d]) => d.title)).size).toBe(files.length);
  });

  it.each(files)('%s: panels with unique ids, every one and every target and variable on the provisioned Prometheus', (file) => {
    const d = dashboards.find(([f]) => f === file)![1];
    const panels = panelsOf(d);
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    const queried = panels.filter((p) => p.type !== 'row');
    expect(queried.length).toBeGreaterThan(0);
    for (const p of queried) {
      expect({ panel: p.title, uid: p.datasource?.uid }).toEqual({ panel: p.title, uid: DATASOURCE_UID });
      expect({ panel: p.title, targets: (p.targets ?? []).length > 0 }).toEqual({ panel: p.title, targets: true });
      for (const t of p.targets ?? []) {
        expect({ panel: p.title, uid: t.datasource?.uid ?? DATASOURCE_UID, expr: typeof t.expr }).toEqual({
          panel: p.title,
          uid: DATASOURCE_UID,
          expr: 'string',
        });
      }
    }
    for (const v of (d.templating?.list ?? []).filter((x) => x.type === 'query')) {
      expect({ variable: v.name, uid: v.datasource?.uid }).toEqual({ variable: v.name, uid: DATASOURCE_UID });
    }
  });

  it('selects a job of prometheus.yml in every selector, and uses only defined variables', () => {
    expect(all.length).toBeGreaterThan(0);
    for (const q of all) {
      expect({ file: q.file, where: q.where, selectors: q.selectors.length > 0 }).toEqual({ file: q.file, where: q.where, selectors: true });
      for (const s of q.selectors) {
        const job = s.matchers.get('job');
        expect({ file: q.file, where: q.where, metric: s.metric, job: job?.op }).toEqual({ file: q.file, where: q.where, metric: s.metric, job: '=' });
        expect(jobs).toContain(job!.value);
      }
      // A metric name outside a selector would read every job's series.
      const bare = q.expr.replace(/([a-zA-Z_:][\w:]*)\{[^}]*\}/g, '').match(/\b(rocketmq|process|nodejs)_\w+/g);
      expect({ file: q.file, where: q.where, bare }).toEqual({ file: q.file, where: q.where, bare: null });
    }
    for (const [file, d] of dashboards) {
      const defined = new Set((d.templating?.list ?? []).map((v) => v.name));
      for (const q of queriesOf(d)) {
        for (const m of q.expr.matchAll(/\$(\w+)/g)) {
          if (m[1]!.startsWith('__')) continue; // Grafana's own ($__rate_interval, ...)
          expect({ file, where: q.where, variable: m[1], defined: defined.has(m[1]!) }).toEqual({ file, where: q.where, variable: m[1], defined: true });
        }
      }
    }
  });
});

/** Series names a /metrics body exports: counters and gauges as named, histograms as _bucket, _sum and _count. */
function exportedSeries(body: string): Set<string> {
  const out = new Set<string>();
  for (const m of body.matchAll(/^# TYPE (\S+) (\w+)$/gm)) {
    const [name, type] = [m[1]!, m[2]!];
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) out.add(name + s);
    else if (type === 'summary') for (const s of ['', '_sum', '_count']) out.add(name + s);
    else out.add(name);
  }
  return out;
}

describe('Grafana dashboards (against running processes)', () => {
  let cluster: TestCluster | undefined;
  const processes: NodeProcess[] = [];
  const exported = new Map<string, Set<string>>();

  beforeAll(async () => {
    cluster = await startCluster('grafana');
    const httpPort = (conf: string): number => Number(parseProperties(readFileSync(join(cluster!.dir, conf), 'utf8')).get('metricsPromExporterPort'));
    const [grpcPort, proxyHttp, consolePort] = [await freePort(), await freePort(), await freePort()];
    const proxyConf = writeConf(cluster.dir, 'proxy.conf', {
      grpcServerPort: grpcPort,
      metricsPromExporterPort: proxyHttp,
      bindAddress: '127.0.0.1',
      namesrvAddr: cluster.namesrvAddr,
      rocketMQClusterName: cluster.clusterName,
    });
    const consoleConf = writeConf(cluster.dir, 'dashboard.conf', { listenPort: consolePort, bindAddress: '127.0.0.1', namesrvAddr: cluster.namesrvAddr });
    const [proxy, web] = await Promise.all([
      startNode(appMain('proxy'), ['-c', proxyConf], { name: 'grafana-proxy', readyPattern: /proxy started/, timeoutMs: 20_000 }),
      startNode(appMain('dashboard'), ['-c', consoleConf], { name: 'grafana-console', readyPattern: /dashboard started/, timeoutMs: 20_000 }),
    ]);
    processes.push(proxy, web);
    const ports: Record<string, number> = {
      nameserver: httpPort('namesrv.conf'),
      broker: httpPort('broker.conf'),
      proxy: proxyHttp,
      dashboard: consolePort,
    };
    for (const [app, port] of Object.entries(ports)) {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect({ app, status: res.status }).toEqual({ app, status: 200 });
      exported.set(app, exportedSeries(await res.text()));
    }
  }, 90_000);

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop('SIGTERM', 5_000)));
    await cluster?.stop();
    removeTempDirs();
  }, 30_000);

  it('scrapes families that have no series yet too (prom-client prints their HELP and TYPE)', () => {
    // Nothing was sent or consumed: the per-topic and per-group families are empty but listed.
    for (const name of [
      'rocketmq_messages_in_total',
      'rocketmq_consumer_lag_messages',
      'rocketmq_rpc_latency_bucket',
      'rocketmq_storage_flush_latency_count',
    ]) {
      expect({ name, broker: exported.get('broker')!.has(name) }).toEqual({ name, broker: true });
    }
    expect(exported.get('proxy')!.has('rocketmq_proxy_clients')).toBe(true);
  });

  it.each(files)('%s: every series it queries is exported by the process of the job it selects', (file) => {
    const missing: string[] = [];
    let checked = 0;
    for (const q of all.filter((x) => x.file === file)) {
      for (const s of q.selectors) {
        if (SYNTHETIC.has(s.metric)) continue;
        const app = APP_OF_JOB[s.matchers.get('job')!.value];
        checked++;
        if (app === undefined || !exported.get(app)!.has(s.metric)) missing.push(`${q.where}: ${s.metric} (job ${s.matchers.get('job')!.value})`);
      }
    }
    expect(checked).toBeGreaterThan(0);
    expect(missing).toEqual([]);
  });
});
