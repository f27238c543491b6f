import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parseProperties } from '@rocketmq-ts/common';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  appMain,
  freePort,
  removeTempDirs,
  repoRoot,
  startCluster,
  startNode,
  waitFor,
  writeConf,
  type NodeProcess,
  type TestCluster,
} from '@rocketmq-ts/testing';
import { Producer, SimpleConsumer } from 'rocketmq-client-nodejs';
import { parse } from 'yaml';

/**
 * The Grafana dashboards of infra/grafana/dashboards against what the processes export: every
 * series a panel or a variable queries is read from the /metrics of the process its `job` selects
 * (a name server, a broker, a proxy and the console started here), every job is one of
 * infra/prometheus/prometheus.yml, and every panel uses the provisioned data source. After a little
 * traffic (a topic made through the console, messages sent and received through the proxy), every
 * label a query uses must be on the samples of the series it reads; families still without samples
 * then (timer, transactions, POP revive, routed commands) are listed on stderr, their labels unchecked.
 */
const root = repoRoot();
const DIR = join(root, 'infra', 'grafana', 'dashboards');
const DATASOURCE_UID = 'prometheus';
/** Series Prometheus makes itself for every target. */
const SYNTHETIC = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped']);
/** Each job of prometheus.yml and the app whose /metrics it scrapes. */
const APP_OF_JOB: Record<string, string> = { nameserver: 'nameserver', broker: 'broker', proxy: 'proxy', dashboard: 'dashboard' };
const TOPIC = 'GRAFANA_T';
const GROUP = 'GRAFANA_G';
const QUIET = { info: () => undefined, warn: () => undefined, debug: () => undefined, error: () => undefined };

interface Target {
  expr?: string;
  legendFormat?: string;
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

/** Every PromQL expression of a dashboard: panel targets (with their legend) and query variables, with where it was found. */
function queriesOf(d: Dashboard): { where: string; expr: string; legend?: string }[] {
  const out: { where: string; expr: string; legend?: string }[] = [];
  for (const p of panelsOf(d)) {
    for (const t of p.targets ?? []) {
      if (t.expr !== undefined) out.push({ where: `panel "${p.title}"`, expr: t.expr, ...(t.legendFormat ? { legend: t.legendFormat } : {}) });
    }
  }
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

/** Labels Prometheus puts on every series of a target (prometheus.yml), and the bucket bound. */
const TARGET_LABELS = new Set(['job', 'instance', 'broker_name', 'broker_id', 'proxy_name', 'le']);

/**
 * Label names a query relies on: in its matchers, its `by (...)` / `without (...)` / `on (...)` /
 * `ignoring (...)` / `group_left (...)` clauses, `label_values(..., name)` and its legend's `{{name}}`.
 */
function labelsOf(expr: string, legend = ''): Set<string> {
  const out = new Set<string>();
  for (const m of expr.matchAll(/\{([^}]*)\}/g)) for (const x of m[1]!.matchAll(/(\w+)\s*(?:=~|!~|!=|=)/g)) out.add(x[1]!);
  for (const m of expr.matchAll(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g)) {
    for (const l of m[1]!.split(',')) if (l.trim()) out.add(l.trim());
  }
  for (const m of expr.matchAll(/label_values\([^,]*,\s*(\w+)\s*\)/g)) out.add(m[1]!);
  for (const m of legend.matchAll(/\{\{\s*(\w+)\s*\}\}/g)) out.add(m[1]!);
  return out;
}

const all = dashboards.flatMap(([file, d]) => queriesOf(d).map((q) => ({ file, ...q, selectors: selectorsOf(q.expr), labels: labelsOf(q.expr, q.legend) })));

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

/**
 * Series names a /metrics body exports (counters and gauges as named, histograms as _bucket, _sum
 * and _count), each with the label names of its samples (empty while a family has none yet).
 */
function exportedSeries(body: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const m of body.matchAll(/^# TYPE (\S+) (\w+)$/gm)) {
    const [name, type] = [m[1]!, m[2]!];
    const names = type === 'histogram' ? ['_bucket', '_sum', '_count'] : type === 'summary' ? ['', '_sum', '_count'] : [''];
    for (const suffix of names) out.set(name + suffix, new Set());
  }
  for (const m of body.matchAll(/^([a-zA-Z_:][\w:]*)\{([^}]*)\}/gm)) for (const l of m[2]!.matchAll(/(\w+)="/g)) out.get(m[1]!)?.add(l[1]!);
  return out;
}

describe('Grafana dashboards (against running processes)', () => {
  let cluster: TestCluster | undefined;
  const processes: NodeProcess[] = [];
  /** Per app: before any traffic, and after a topic, messages and a consumer group. */
  const idle = new Map<string, Map<string, Set<string>>>();
  const busy = new Map<string, Map<string, Set<string>>>();
  const ports: Record<string, number> = {};

  const scrape = async (into: Map<string, Map<string, Set<string>>>): Promise<void> => {
    for (const [app, port] of Object.entries(ports)) {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect({ app, status: res.status }).toEqual({ app, status: 200 });
      into.set(app, exportedSeries(await res.text()));
    }
  };

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
    Object.assign(ports, { nameserver: httpPort('namesrv.conf'), broker: httpPort('broker.conf'), proxy: proxyHttp, dashboard: consolePort });
    await scrape(idle);

    // Some traffic, so that the families the dashboards group by topic, group or code have series:
    // a topic made through the console, three messages sent and one received through the proxy.
    const created = await fetch(`http://127.0.0.1:${consolePort}/api/topics`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ topic: TOPIC, readQueueNums: 2, writeQueueNums: 2 }),
    });
    expect(created.status).toBeLessThan(300);
    const endpoints = `127.0.0.1:${grpcPort}`;
    let producer: Producer | undefined;
    const consumer = new SimpleConsumer({
      endpoints,
      namespace: '',
      consumerGroup: GROUP,
      subscriptions: new Map([[TOPIC, '*']]),
      awaitDuration: 2_000,
      logger: QUIET,
      requestTimeout: 10_000,
    });
    try {
      // The route reaches the name server with the broker's next registration.
      await waitFor(
        async () => {
          const p = new Producer({ endpoints, namespace: '', topics: [TOPIC], logger: QUIET, requestTimeout: 10_000 });
          try {
            await p.startup();
            producer = p;
            return true;
          } catch {
            await p.shutdown().catch(() => undefined);
            return false;
          }
        },
        { timeoutMs: 40_000, intervalMs: 500, message: `route of ${TOPIC} through the proxy` },
      );
      for (let n = 0; n < 3; n++) await producer!.send({ topic: TOPIC, tag: 'G', keys: [`k${n}`], body: Buffer.from(`grafana #${n}`) });
      await consumer.startup();
      let received = 0;
      const deadline = Date.now() + 20_000;
      while (received === 0 && Date.now() < deadline) {
        for (const m of await consumer.receive(1, 30_000)) {
          await consumer.ack(m);
          received++;
        }
      }
      expect(received).toBeGreaterThan(0);
      await sleep(1_500); // a flush of each file kind
      await scrape(busy); // while both clients are connected
    } finally {
      await consumer.shutdown().catch(() => undefined);
      await producer?.shutdown().catch(() => undefined);
    }
  }, 120_000);

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop('SIGTERM', 5_000)));
    await cluster?.stop();
    removeTempDirs();
  }, 30_000);

  it('scrapes families that have no series yet too (prom-client prints their HELP and TYPE)', () => {
    // Nothing sent or consumed yet: the per-topic and per-group families are empty but listed. (The
    // broker's rpc latency is not: the console's chart sampler asks it for stats from the start.)
    for (const name of ['rocketmq_messages_in_total', 'rocketmq_consumer_lag_messages', 'rocketmq_half_messages']) {
      expect({ name, broker: idle.get('broker')!.get(name)?.size }).toEqual({ name, broker: 0 });
    }
    expect(idle.get('proxy')!.get('rocketmq_proxy_clients')?.size).toBe(0);
    // ... and the same names after traffic.
    for (const [app, series] of idle) expect([...series.keys()].filter((n) => !busy.get(app)!.has(n))).toEqual([]);
  });

  it.each(files)('%s: every series it queries is exported by the process of the job it selects', (file) => {
    const missing: string[] = [];
    let checked = 0;
    for (const q of all.filter((x) => x.file === file)) {
      for (const s of q.selectors) {
        if (SYNTHETIC.has(s.metric)) continue;
        const app = APP_OF_JOB[s.matchers.get('job')!.value];
        checked++;
        if (app === undefined || !idle.get(app)!.has(s.metric)) missing.push(`${q.where}: ${s.metric} (job ${s.matchers.get('job')!.value})`);
      }
    }
    expect(checked).toBeGreaterThan(0);
    expect(missing).toEqual([]);
  });

  it.each(files)('%s: every label a query uses is on the series it reads (where the traffic made series)', (file) => {
    const wrong: string[] = [];
    const unchecked = new Set<string>();
    for (const q of all.filter((x) => x.file === file)) {
      // The labels the query's series can have: those of prometheus.yml's targets and, per metric, those of its samples.
      const have = new Set(TARGET_LABELS);
      let complete = true;
      for (const s of q.selectors) {
        if (SYNTHETIC.has(s.metric)) continue;
        const labels = busy.get(APP_OF_JOB[s.matchers.get('job')!.value]!)?.get(s.metric);
        if (labels === undefined || labels.size === 0) {
          complete = false;
          unchecked.add(s.metric);
          continue;
        }
        for (const l of labels) have.add(l);
      }
      for (const l of q.labels) if (!have.has(l) && complete) wrong.push(`${q.where}: ${l} (${q.expr})`);
    }
    expect(wrong).toEqual([]);
    process.stderr.write(`grafana.test ${file}: labels not checked (no series after the traffic) for ${[...unchecked].sort().join(', ') || 'none'}\n`);
  });
});
