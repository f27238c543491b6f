import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { envNameOf, parseProperties } from '@rocketmq-ts/common';
import { repoRoot } from '@rocketmq-ts/testing';
import { parse } from 'yaml';
import { APP_NODE_ARGS, type TopologyFile } from '../src/topology.js';

/**
 * docker-compose.yml checked without an engine: every service's conf exists and agrees with the
 * compose wiring, and the compose cluster is the same as the 2m-2s-async topology that the launcher
 * runs locally. compose-up.test.ts runs it for real.
 */
const root = repoRoot();
const TOPOLOGY = '2m-2s-async';
const KNOWN_APPS = ['nameserver', 'broker', 'proxy', 'dashboard'];
const CONF_MOUNT = `./infra/conf/${TOPOLOGY}:/app/conf:ro`;
/** Processes of the topology that compose runs several times: same app, same conf, state shared in Redis. */
const REPLICAS: Record<string, string[]> = { proxy: ['proxy-1', 'proxy-2'] };
const PROXIES = REPLICAS['proxy']!;

interface Service {
  profiles?: string[];
  build?: unknown;
  image?: string;
  environment?: Record<string, string>;
  command?: string[];
  volumes?: string[];
  ports?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
}
interface ComposeFile {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

// Merge keys (`<<: *proxy`) as Compose reads them.
const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as ComposeFile;
const topology = JSON.parse(readFileSync(join(root, 'infra', 'conf', TOPOLOGY, 'topology.json'), 'utf8')) as TopologyFile;
const appServices = Object.entries(compose.services).filter(([, s]) => s.environment?.['APP'] !== undefined);

function confOf(name: string): { file: string; props: Map<string, string> } {
  const s = compose.services[name]!;
  const cmd = s.command ?? [];
  const i = cmd.indexOf('-c');
  const inContainer = cmd[i + 1];
  if (i < 0 || inContainer === undefined || !inContainer.startsWith('conf/')) {
    throw new Error(`${name}: command must be -c conf/<file>, got ${JSON.stringify(cmd)}`);
  }
  const file = inContainer.slice('conf/'.length);
  const hostPath = join(root, 'infra', 'conf', TOPOLOGY, file);
  return { file, props: existsSync(hostPath) ? parseProperties(readFileSync(hostPath, 'utf8')) : new Map() };
}

/** The host side of a `ports` entry, `${VAR:-9876}` read as its default. */
const hostPort = (entry: string): number => Number(/^(?:\$\{\w+:-)?(\d+)\}?:\d+$/.exec(entry)?.[1]);
/** The container side of a `ports` entry. */
const innerPort = (entry: string): number => Number(entry.split(':').at(-1));
const portOf = (name: string, prop: string): number => Number(confOf(name).props.get(prop));
/** The port of /metrics and /health: the console has one HTTP port for everything. */
const httpPortOf = (name: string): number =>
  compose.services[name]!.environment!['APP'] === 'dashboard' ? portOf(name, 'listenPort') : portOf(name, 'metricsPromExporterPort');
const mainPortOf = (name: string): number => portOf(name, compose.services[name]!.environment!['APP'] === 'proxy' ? 'grpcServerPort' : 'listenPort');

describe('docker-compose.yml', () => {
  it('has the cluster services, the console, Redis, Prometheus and Grafana', () => {
    expect(Object.keys(compose.services).sort()).toEqual(
      ['broker-a', 'broker-a-s', 'broker-b', 'broker-b-s', 'dashboard', 'grafana', 'namesrv-1', 'namesrv-2', 'prometheus', ...PROXIES, 'redis'].sort(),
    );
  });

  it('starts every service but Grafana by default (Grafana only with --profile grafana)', () => {
    const withProfiles = Object.entries(compose.services).filter(([, s]) => s.profiles !== undefined);
    expect(withProfiles.map(([n, s]) => [n, s.profiles])).toEqual([['grafana', ['grafana']]]);
    // Nothing started by default waits for it.
    const waiting = Object.entries(compose.services).filter(([, s]) => Object.keys(s.depends_on ?? {}).includes('grafana'));
    expect(waiting.map(([n]) => n)).toEqual([]);
  });

  it('provisions Grafana with the Prometheus service as data source and the dashboards of infra/grafana', () => {
    const g = compose.services['grafana']!;
    expect(g.image).toMatch(/^grafana\/grafana:\d+\.\d+\.\d+$/);
    expect(g.build).toBeUndefined();
    expect(g.volumes).toEqual(
      expect.arrayContaining(['./infra/grafana/provisioning:/etc/grafana/provisioning:ro', './infra/grafana/dashboards:/var/lib/grafana/dashboards:ro']),
    );
    expect(g.ports).toEqual(['${GRAFANA_PORT:-3000}:3000']);
    expect(g.environment).toMatchObject({ GF_AUTH_ANONYMOUS_ENABLED: 'true', GF_AUTH_ANONYMOUS_ORG_ROLE: 'Viewer' });
    expect(g.depends_on).toEqual({ prometheus: { condition: 'service_healthy' } });
    const provisioning = join(root, 'infra', 'grafana', 'provisioning');
    const ds = parse(readFileSync(join(provisioning, 'datasources', 'prometheus.yml'), 'utf8')) as {
      datasources: { uid: string; type: string; url: string }[];
    };
    expect(ds.datasources).toEqual([expect.objectContaining({ uid: 'prometheus', type: 'prometheus', url: 'http://prometheus:9090' })]);
    // The URL names the compose service and the port it listens on.
    expect(compose.services['prometheus']!.ports).toEqual(['${PROMETHEUS_PORT:-9090}:9090']);
    const dash = parse(readFileSync(join(provisioning, 'dashboards', 'rocketmq-ts.yml'), 'utf8')) as {
      providers: { type: string; options: { path: string } }[];
    };
    expect(dash.providers).toEqual([expect.objectContaining({ type: 'file', options: expect.objectContaining({ path: '/var/lib/grafana/dashboards' }) })]);
    // The home dashboard is one of the mounted files.
    const home = g.environment!['GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH']!;
    expect(home.startsWith('/var/lib/grafana/dashboards/')).toBe(true);
    expect(existsSync(join(root, 'infra', 'grafana', 'dashboards', home.slice('/var/lib/grafana/dashboards/'.length)))).toBe(true);
  });

  it.each(appServices.map(([n]) => n))('%s: one image build, a known app, its conf mounted read-only and present', (name) => {
    const s = compose.services[name]!;
    expect(s.build).toEqual({ context: '.', dockerfile: 'infra/docker/Dockerfile' });
    expect(KNOWN_APPS).toContain(s.environment!['APP']);
    expect(s.volumes).toContain(CONF_MOUNT);
    const { file, props } = confOf(name);
    expect(existsSync(join(root, 'infra', 'conf', TOPOLOGY, file))).toBe(true);
    expect(props.size).toBeGreaterThan(0);
    // Same conf for local and container runs: no addresses inside.
    for (const [k, v] of props) {
      expect(k).not.toMatch(/^(namesrvAddr|brokerIP\d|haMasterAddress)$/);
      expect(`${k}=${v}`).not.toMatch(/\d+\.\d+\.\d+\.\d+|=[\w.-]+:\d+/);
    }
  });

  it('publishes ports as ${<SERVICE>_PORT:-<port>}:<port>, the host side movable', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      for (const p of s.ports ?? []) {
        const v = `${name.toUpperCase().replace(/-/g, '_')}_PORT`;
        // A replica publishes the port its conf listens on under another host port (proxy-2: 8083 → 8081).
        expect(p).toMatch(new RegExp(PROXIES.includes(name) ? `^\\$\\{${v}:-\\d+\\}:\\d+$` : `^\\$\\{${v}:-(\\d+)\\}:\\1$`));
      }
    }
    expect(PROXIES.map((n) => compose.services[n]!.ports)).toEqual([['${PROXY_1_PORT:-8081}:8081'], ['${PROXY_2_PORT:-8083}:8081']]);
    // The console on RocketMQ dashboard's usual port.
    expect(compose.services['dashboard']!.ports).toEqual(['${DASHBOARD_PORT:-8082}:8082']);
  });

  it('uses each port once, published or not', () => {
    const published = Object.values(compose.services).flatMap((s) => (s.ports ?? []).map(hostPort));
    expect(new Set(published).size).toBe(published.length);
    // Replicas listen on the same ports, each in its own container: count one of them.
    const bound = appServices
      .filter(([n]) => !PROXIES.slice(1).includes(n))
      .flatMap(([n]) => {
        const ports = [...new Set([mainPortOf(n), httpPortOf(n)])];
        if (compose.services[n]!.environment!['APP'] === 'broker') ports.push(portOf(n, 'haListenPort') || portOf(n, 'listenPort') + 1);
        return ports;
      });
    expect(bound.every((p) => Number.isInteger(p) && p > 0)).toBe(true);
    expect(new Set(bound).size).toBe(bound.length);
    // A published port is one the service really listens on.
    for (const [n, s] of appServices) for (const p of s.ports ?? []) expect(innerPort(p)).toBe(mainPortOf(n));
  });

  it('points NAMESRV_ADDR at name server services and the ports their confs listen on', () => {
    const users = appServices.filter(([, s]) => s.environment!['APP'] !== 'nameserver');
    expect(users.length).toBe(7);
    for (const [name, s] of users) {
      const addr = s.environment!['NAMESRV_ADDR'];
      expect(addr).toBeDefined();
      const entries = addr!.split(';');
      expect(entries.length).toBe(2);
      for (const entry of entries) {
        const [host, port] = entry.split(':');
        const target = compose.services[host!];
        expect({ name, entry, app: target?.environment?.['APP'] }).toEqual({ name, entry, app: 'nameserver' });
        expect(Number(port)).toBe(portOf(host!, 'listenPort'));
      }
    }
  });

  it('pairs brokers: each brokerName has a master with id 0 and a slave with id 1, advertised by service name', () => {
    const groups = new Map<string, { id: string; role: string; service: string }[]>();
    for (const [name, s] of appServices.filter(([, x]) => x.environment!['APP'] === 'broker')) {
      const { props } = confOf(name);
      expect(props.get('brokerClusterName')).toBe('DefaultCluster');
      expect(s.environment!['ROCKETMQ_BROKER_IP1']).toBe(name);
      const g = groups.get(props.get('brokerName')!) ?? [];
      g.push({ id: props.get('brokerId')!, role: props.get('brokerRole')!, service: name });
      groups.set(props.get('brokerName')!, g);
    }
    expect([...groups.keys()].sort()).toEqual(['broker-a', 'broker-b']);
    for (const [, g] of groups) {
      g.sort((a, b) => a.id.localeCompare(b.id));
      expect(g.map((b) => [b.id, b.role])).toEqual([
        ['0', 'ASYNC_MASTER'],
        ['1', 'SLAVE'],
      ]);
      // The slave waits for its master.
      expect(compose.services[g[1]!.service]!.depends_on?.[g[0]!.service]).toEqual({ condition: 'service_healthy' });
    }
  });

  it('keeps data in named volumes where the confs write it', () => {
    for (const [name, s] of appServices) {
      const { props } = confOf(name);
      const dir = props.get('storePathRootDir') ?? props.get('kvConfigPath')?.replace(/\/[^/]+$/, '');
      if (dir === undefined) continue; // the proxy keeps nothing on disk
      const target = '/app/' + dir.replace(/^\.\//, '');
      const mount = (s.volumes ?? []).find((v) => v.endsWith(':' + target));
      expect({ name, mount }).toEqual({ name, mount: `${name}-data:${target}` });
      expect(compose.volumes).toHaveProperty(`${name}-data`);
    }
  });

  it('has a healthcheck on every service; the apps check /health on their metrics port', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      expect({ name, test: s.healthcheck?.test?.[0] }).toEqual({ name, test: 'CMD' });
    }
    for (const [name, s] of appServices) {
      expect(s.healthcheck!.test).toEqual(['CMD', 'node', '/app/infra/docker/healthcheck.mjs', String(httpPortOf(name)), '/health']);
    }
    expect(existsSync(join(root, 'infra', 'docker', 'healthcheck.mjs'))).toBe(true);
  });

  it('orders start-up with depends_on conditions on defined services', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      for (const [dep, cond] of Object.entries(s.depends_on ?? {})) {
        expect({ name, dep, defined: dep in compose.services }).toEqual({ name, dep, defined: true });
        expect(['service_healthy', 'service_started', 'service_completed_successfully']).toContain(cond.condition);
      }
    }
    for (const name of PROXIES) {
      expect(Object.keys(compose.services[name]!.depends_on ?? {})).toEqual(
        expect.arrayContaining(['namesrv-1', 'namesrv-2', 'broker-a', 'broker-b', 'redis']),
      );
    }
  });

  it('runs two proxies of one conf that share their state in the Redis service, each with its own name', () => {
    const [a, b] = PROXIES.map((n) => compose.services[n]!);
    expect(confOf(PROXIES[0]!).file).toBe('proxy.conf');
    expect(confOf(PROXIES[1]!).file).toBe('proxy.conf');
    // redisAddr (host:port) through the environment: the conf stays the local topology's, in memory.
    expect(envNameOf('redisAddr')).toBe('ROCKETMQ_REDIS_ADDR');
    for (const s of [a!, b!]) {
      expect(s.environment!['ROCKETMQ_REDIS_ADDR']).toBe('redis:6379');
      expect(s.volumes).toEqual([CONF_MOUNT]); // nothing on disk
    }
    expect(confOf(PROXIES[0]!).props.get('redisAddr')).toBe('');
    expect(compose.services['redis']!.healthcheck).toBeDefined();
    expect(PROXIES.map((n) => compose.services[n]!.environment!['ROCKETMQ_PROXY_NAME'])).toEqual(PROXIES);
    expect(a!.healthcheck).toEqual(b!.healthcheck);
    // Nothing refers to a Redis URL any more.
    expect(readFileSync(join(root, 'docker-compose.yml'), 'utf8')).not.toMatch(/REDIS_URL|redis:\/\//);
  });

  it(`runs the same processes with the same confs as infra/conf/${TOPOLOGY}/topology.json (the proxy twice)`, () => {
    const byName = (a: { name: string }, b: { name: string }): number => a.name.localeCompare(b.name);
    const fromCompose = appServices.map(([n, s]) => ({ name: n, app: s.environment!['APP'], config: confOf(n).file })).sort(byName);
    const fromTopology = topology.processes.flatMap((p) => (REPLICAS[p.name] ?? [p.name]).map((name) => ({ name, app: p.app, config: p.config }))).sort(byName);
    expect(fromCompose).toEqual(fromTopology);
    // Local processes get the same variables, with 127.0.0.1 instead of service names; compose adds
    // the proxies' shared Redis and their names.
    const composeOnly = new Set(['APP', 'ROCKETMQ_REDIS_ADDR', 'ROCKETMQ_PROXY_NAME']);
    for (const p of topology.processes) {
      for (const service of REPLICAS[p.name] ?? [p.name]) {
        const env = compose.services[service]!.environment!;
        expect(Object.keys(p.env ?? {}).sort()).toEqual(
          Object.keys(env)
            .filter((k) => !composeOnly.has(k))
            .sort(),
        );
        if (p.env?.['NAMESRV_ADDR']) expect(p.env['NAMESRV_ADDR']).toBe(env['NAMESRV_ADDR']!.replace(/namesrv-\d/g, '127.0.0.1'));
      }
    }
  });

  it('has Prometheus scrape every app on its metrics port, with the alert rules loaded', () => {
    const prom = parse(readFileSync(join(root, 'infra', 'prometheus', 'prometheus.yml'), 'utf8')) as {
      rule_files: string[];
      scrape_configs: { job_name: string; static_configs?: { targets: string[] }[] }[];
    };
    const targets = prom.scrape_configs.flatMap((c) => (c.static_configs ?? []).flatMap((s) => s.targets));
    // Every target is a service of the compose file (or Prometheus itself).
    for (const t of targets) expect(t === '127.0.0.1:9090' || t.split(':')[0]! in compose.services).toBe(true);
    for (const [name] of appServices) expect(targets).toContain(`${name}:${httpPortOf(name)}`);
    // Both proxies under the job the RocketMQProxyDown alert watches.
    const proxyJob = prom.scrape_configs.find((c) => c.job_name === 'proxy')!;
    expect(proxyJob.static_configs!.flatMap((s) => s.targets)).toEqual(PROXIES.map((n) => `${n}:${portOf(n, 'metricsPromExporterPort')}`));
    expect(prom.rule_files).toEqual(['/etc/prometheus/alerts.yml']);
    expect(compose.services['prometheus']!.volumes).toContain('./infra/prometheus:/etc/prometheus:ro');
    const alerts = parse(readFileSync(join(root, 'infra', 'prometheus', 'alerts.yml'), 'utf8')) as { groups: { rules: { alert: string; expr: string }[] }[] };
    const names = alerts.groups.flatMap((g) => g.rules.map((r) => r.alert));
    expect(names).toEqual(expect.arrayContaining(['RocketMQBrokerDown', 'RocketMQConsumerLagHigh', 'RocketMQDiskFlushBehind']));
  });

  it('builds an image whose entrypoint runs apps/$APP/dist/main.js', () => {
    const dockerfile = readFileSync(join(root, 'infra', 'docker', 'Dockerfile'), 'utf8');
    // The base is a build arg whose default is the public Node.js 20 image (stand-ins reuse its name).
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:20-bookworm-slim$/m);
    expect(dockerfile).toMatch(/^FROM \$\{NODE_IMAGE\}$/m);
    expect(dockerfile).toContain('npm i -g pnpm@12.4.2');
    expect(dockerfile).toMatch(/pnpm install --frozen-lockfile.* && pnpm build/);
    // The runtime stage is the per-service deploy output (`pnpm deploy --prod`), as on a bare host.
    expect(dockerfile).toMatch(/pnpm --filter "@rocketmq-ts\/\$app" deploy --prod/);
    // Every app of the compose file is deployed into the image.
    const loop = /for app in ([\w ]+); do/.exec(dockerfile)?.[1]?.split(' ') ?? [];
    expect(loop.sort()).toEqual([...new Set(appServices.map(([, x]) => x.environment!['APP']!))].sort());
    expect(dockerfile).toContain('COPY --from=build /out /app');
    // The ignore file is at the context root, where every builder (also docker-compose 1.x's) reads it.
    const ignore = readFileSync(join(root, '.dockerignore'), 'utf8').split('\n');
    expect(ignore).toEqual(expect.arrayContaining(['.git', '**/node_modules', '**/dist']));
    const entry = readFileSync(join(root, 'infra', 'docker', 'entrypoint.sh'), 'utf8');
    expect(entry).toContain('exec node "$main" "$@"');
    // The broker starts with the Node.js options the launcher gives it.
    expect(entry).toContain(`broker) exec node ${APP_NODE_ARGS['broker']!.join(' ')} "$main" "$@"`);
    expect(entry).toContain('main="/app/apps/$APP/dist/main.js"');
  });

  // `docker compose config` needs no engine; use it (or the older docker-compose) when installed.
  const composeCli = [['docker', 'compose'], ['docker-compose']].find(
    ([cmd, ...pre]) => spawnSync(cmd!, [...pre, 'version'], { stdio: 'ignore' }).status === 0,
  );
  (composeCli ? it : it.skip)(`is accepted by \`${composeCli?.join(' ') ?? 'docker compose'} config\``, () => {
    const [cmd, ...pre] = composeCli!;
    const r = spawnSync(cmd!, [...pre, '-f', join(root, 'docker-compose.yml'), 'config', '-q'], { cwd: root, encoding: 'utf8', timeout: 30_000 });
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
  });
});
