// docker-compose.yml for real: the image is built, the cluster comes up healthy, a client inside the
// compose network produces and consumes through both broker groups, the official 5.x client on the
// host sends and receives through both proxies' published ports, and with broker-a's master stopped
// its slave serves reads of what group a held.
//
// Needs a Docker engine: a running one is reused; otherwise dockerd is started (docker.io and
// docker-compose installed with apt when missing) and stopped at the end. Where no image registry is
// reachable, infra/docker/standins.sh builds local stand-ins for the public images (kept for the
// next run). The compose file's published ports go to free host ports below the OS's ephemeral range
// (publishablePort: no other test's port-0 bind can take one while images build; its NAMESRV_1_PORT, ...
// variables), so a cluster already running here on 9876 is no obstacle. The test talks to
// 127.0.0.1 and to the containers it started.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { publishablePort, repoRoot } from '@rocketmq-ts/testing';
import { Producer, SimpleConsumer } from 'rocketmq-client-nodejs';
import { parse } from 'yaml';
import { ensureEngine, lastLines, run, runOk, stopEngine, type Engine } from './docker-engine.js';

const root = repoRoot();
const PROJECT = `rmqts-it-${process.pid}`;
const STALE_PREFIX = 'rmqts-it-';
const APP_IMAGE = 'rocketmq-ts:local';
const NAMESRVS = ['namesrv-1', 'namesrv-2'];
const BROKERS = ['broker-a', 'broker-a-s', 'broker-b', 'broker-b-s'];
/** The two proxies and the variables that publish their gRPC ports on the host. */
const PROXIES = [
  { service: 'proxy-1', portVariable: 'PROXY_1_PORT' },
  { service: 'proxy-2', portVariable: 'PROXY_2_PORT' },
];
const PROXY_TOPIC = 'COMPOSE_PROXY_T';
const TOPIC = 'COMPOSE_UP_T';
const MESSAGES = 16;
// The classic builder, for compose 1.x and the stand-ins alike (no buildx needed).
const ENV: Record<string, string> = { DOCKER_BUILDKIT: '0', COMPOSE_DOCKER_CLI_BUILD: '0' };

interface Sent {
  msgId: string;
  status: string;
  brokerName: string;
  queueId: number;
  queueOffset: number;
  storeHost: string;
}
interface ProduceConsume {
  brokers: Record<string, Record<string, string>>;
  sent: Sent[];
  received: { msgId: string; body: string; brokerName: string }[];
}
interface SlavePull {
  brokers: Record<string, Record<string, string>>;
  slave: string | null;
  found: string[];
  errors: string[];
}

let engine: Engine | undefined;
let composeUp = false;
let oldImageId: string | undefined;
const t0 = Date.now();

function note(line: string): void {
  process.stderr.write(`compose-up [${Math.round((Date.now() - t0) / 1000)} s]: ${line}\n`);
}

function compose(args: string[], timeoutMs: number, input?: string) {
  const [cmd, ...pre] = engine!.compose;
  return run(cmd!, [...pre, '-p', PROJECT, '-f', join(root, 'docker-compose.yml'), ...args], {
    cwd: root,
    env: ENV,
    timeoutMs,
    ...(input !== undefined ? { input } : {}),
  });
}

async function composeOk(args: string[], timeoutMs: number, input?: string): Promise<string> {
  const r = await compose(args, timeoutMs, input);
  if (r.code !== 0) throw new Error(`docker-compose ${args.join(' ')} exited with ${r.code}: ${lastLines(r.stderr || r.stdout)}`);
  return r.stdout;
}

async function imageId(name: string): Promise<string | undefined> {
  const r = await run('docker', ['image', 'inspect', '--format', '{{.Id}}', name], { timeoutMs: 20_000 });
  return r.code === 0 ? r.stdout.trim() : undefined;
}

async function containerOf(service: string): Promise<string> {
  const id = (await composeOk(['ps', '-q', service], 30_000)).trim();
  if (id === '') throw new Error(`no container for ${service}`);
  return id;
}

/** `<status> <health>` of a container, e.g. `running healthy`. */
async function stateOf(id: string): Promise<string> {
  return (
    await runOk('docker', ['inspect', '--format', '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}', id], { timeoutMs: 20_000 })
  ).trim();
}

/** Runs compose-client.mjs in the namesrv-1 container with the image's @rocketmq-ts/client. */
async function client<T>(...args: string[]): Promise<T> {
  const script = readFileSync(join(root, 'packages', 'launcher', 'test', 'compose-client.mjs'), 'utf8');
  const r = await compose(['exec', '-T', 'namesrv-1', 'node', '--input-type=module', '-', ...args], 120_000, script);
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (r.code !== 0 || line === undefined) throw new Error(`client ${args[0]} failed (exit ${r.code}): ${lastLines(r.stderr + r.stdout, 5)}`);
  return JSON.parse(line.slice('RESULT '.length)) as T;
}

/** A free host port for each `${VAR:-port}:port` the compose file publishes, as VAR=port. */
async function hostPortVariables(): Promise<Record<string, string>> {
  const file = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, { ports?: string[] }> };
  const out: Record<string, string> = {};
  for (const [name, s] of Object.entries(file.services)) {
    for (const p of s.ports ?? []) {
      const v = /^\$\{(\w+):-\d+\}:\d+$/.exec(p)?.[1];
      if (v === undefined) throw new Error(`${name} publishes ${p}: not a \${VAR:-port}:port the test can move to a free port`);
      out[v] = String(await publishablePort());
    }
  }
  return out;
}

/** Takes down projects a killed earlier run of this test left behind (they hold the published ports). */
async function downStaleProjects(): Promise<void> {
  const r = await runOk('docker', ['ps', '-a', '--format', '{{.Label "com.docker.compose.project"}}'], { timeoutMs: 20_000 });
  const stale = [...new Set(r.split('\n').map((l) => l.trim()))].filter((p) => p.startsWith(STALE_PREFIX) && p !== PROJECT);
  for (const p of stale) {
    note(`taking down ${p}, left by an earlier run`);
    const [cmd, ...pre] = engine!.compose;
    await run(cmd!, [...pre, '-p', p, '-f', join(root, 'docker-compose.yml'), 'down', '-v', '--remove-orphans'], { cwd: root, env: ENV, timeoutMs: 120_000 });
  }
}

beforeAll(async () => {
  engine = await ensureEngine(note);
  note(`engine ready (${engine.startedPid === undefined ? 'reused' : 'started here'}), compose: ${engine.compose.join(' ')}`);
  await downStaleProjects();
  Object.assign(ENV, await hostPortVariables());
  note(
    `host ports: ${Object.entries(ENV)
      .filter(([k]) => k.endsWith('_PORT'))
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')}`,
  );

  const standins = await run('bash', [join(root, 'infra', 'docker', 'standins.sh')], { cwd: root, env: ENV, timeoutMs: 360_000 });
  if (standins.code !== 0) throw new Error(`infra/docker/standins.sh failed: ${lastLines(standins.stderr || standins.stdout)}`);
  note(lastLines(standins.stdout, 1));

  oldImageId = await imageId(APP_IMAGE);
  composeUp = true;
  await composeOk(['up', '-d', '--build'], 420_000);
  note('docker-compose up -d --build done');

  // Every started service healthy: 3 s apart, at most 40 rounds (2 minutes).
  const services = [...NAMESRVS, ...BROKERS, ...PROXIES.map((p) => p.service), 'dashboard', 'redis', 'prometheus'];
  const ids = new Map<string, string>();
  for (const s of services) ids.set(s, await containerOf(s));
  let states = new Map<string, string>();
  for (let round = 0; round < 40; round++) {
    states = new Map(await Promise.all(services.map(async (s) => [s, await stateOf(ids.get(s)!)] as const)));
    const dead = [...states].find(([, st]) => !st.startsWith('running'));
    if (dead) {
      const logs = await run('docker', ['logs', '--tail', '5', ids.get(dead[0])!], { timeoutMs: 20_000 });
      throw new Error(`${dead[0]} is ${dead[1]}: ${lastLines(logs.stdout + logs.stderr)}`);
    }
    if ([...states.values()].every((st) => st === 'running healthy')) break;
    await sleep(3_000);
  }
  const unhealthy = [...states].filter(([, st]) => st !== 'running healthy');
  if (unhealthy.length > 0) throw new Error(`not healthy within 2 minutes: ${unhealthy.map(([s, st]) => `${s} (${st})`).join(', ')}`);
  note('every service healthy');
}, 540_000);

afterAll(async () => {
  if (engine !== undefined && composeUp) {
    const r = await compose(['down', '-v', '--remove-orphans'], 180_000).catch((e: unknown) => ({ code: -1, stdout: '', stderr: String(e) }));
    note(r.code === 0 ? 'docker-compose down -v done' : `docker-compose down -v failed: ${lastLines(r.stderr)}`);
    // A rebuilt image leaves the previous one untagged: remove it (ignored when still in use).
    const now = await imageId(APP_IMAGE);
    if (oldImageId !== undefined && now !== oldImageId) await run('docker', ['rmi', oldImageId], { timeoutMs: 60_000 });
  }
  if (engine?.startedPid !== undefined) {
    await stopEngine(engine);
    note(`stopped dockerd (pid ${engine.startedPid})`);
  }
  note('done');
}, 300_000);

describe('docker-compose up', () => {
  let pc: ProduceConsume;
  const ipPort = /^\d{1,3}(\.\d{1,3}){3}:\d+$/;

  it('brings up both name servers and all four brokers; brokers resolve their service names to the container address', async () => {
    for (const b of BROKERS) {
      const id = await containerOf(b);
      expect(await stateOf(id)).toBe('running healthy');
      const ip = (await runOk('docker', ['inspect', '--format', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', id], { timeoutMs: 20_000 })).trim();
      const logs = await run('docker', ['logs', id], { timeoutMs: 20_000 });
      expect(logs.stdout + logs.stderr).toContain(`brokerIP1 and brokerIP2 ${b} resolved to ${ip}`);
    }
    for (const n of NAMESRVS) expect(await stateOf(await containerOf(n))).toBe('running healthy');
  }, 60_000);

  it('produces and consumes through both broker groups from a client inside the network', async () => {
    pc = await client<ProduceConsume>('produce-consume', TOPIC, String(MESSAGES));
    // Masters and slaves registered with container addresses (an IP, the conf's listenPort).
    expect(Object.keys(pc.brokers).sort()).toEqual(['broker-a', 'broker-b']);
    const ports = { 'broker-a': ['10911', '11911'], 'broker-b': ['12911', '13911'] } as const;
    for (const name of ['broker-a', 'broker-b'] as const) {
      const addrs = pc.brokers[name]!;
      expect([addrs['0'], addrs['1']].every((a) => a !== undefined && ipPort.test(a))).toBe(true);
      expect([addrs['0']!.split(':')[1], addrs['1']!.split(':')[1]]).toEqual(ports[name]);
    }
    expect(pc.sent).toHaveLength(MESSAGES);
    expect(pc.sent.every((s) => s.status === 'SEND_OK')).toBe(true);
    expect(new Set(pc.sent.map((s) => s.brokerName))).toEqual(new Set(['broker-a', 'broker-b']));
    // The store host in each msgId is the master's registered address.
    for (const s of pc.sent) expect(s.storeHost).toBe(pc.brokers[s.brokerName]!['0']);
    expect(pc.received.map((m) => m.msgId).sort()).toEqual(pc.sent.map((s) => s.msgId).sort());
  }, 150_000);

  it('runs both proxies healthy (their /health) with the Redis service as shared state', async () => {
    for (const { service } of PROXIES) {
      const id = await containerOf(service);
      expect(await stateOf(id)).toBe('running healthy');
      const logs = await run('docker', ['logs', id], { timeoutMs: 20_000 });
      expect(logs.stdout + logs.stderr).toContain('sharedState=redis redis:6379');
      expect(logs.stdout + logs.stderr).toContain('proxy started');
    }
  }, 60_000);

  it('serves the official 5.x client on the host through each proxy: route, send, receive and ack', async () => {
    // The topic is made inside the network (remoting to both masters); the host reaches the
    // cluster only through the proxies' published ports.
    await client<{ brokers: Record<string, Record<string, string>> }>('create-topic', PROXY_TOPIC);
    const quiet = { info: () => undefined, warn: () => undefined, debug: () => undefined, error: () => undefined };
    const endpoints = PROXIES.map((p) => `127.0.0.1:${ENV[p.portVariable]}`);
    const sent = new Map<string, string>();
    for (const [i, ep] of endpoints.entries()) {
      // startup() queries the topic's route through this proxy; it fails if the proxy cannot answer.
      const producer = new Producer({ endpoints: ep, namespace: '', topics: [PROXY_TOPIC], logger: quiet, requestTimeout: 10_000 });
      await producer.startup();
      try {
        for (let n = 0; n < 4; n++) {
          const body = `via ${PROXIES[i]!.service} #${n}`;
          const r = await producer.send({ topic: PROXY_TOPIC, tag: 'P', keys: [`p${i}-${n}`], body: Buffer.from(body) });
          sent.set(r.messageId, body);
        }
      } finally {
        await producer.shutdown();
      }
    }
    expect(sent.size).toBe(8);
    // One consumer group, one consumer per proxy: together they receive every message once acked.
    const consumers = endpoints.map(
      (ep) =>
        new SimpleConsumer({
          endpoints: ep,
          namespace: '',
          consumerGroup: 'G_COMPOSE_PROXY',
          subscriptions: new Map([[PROXY_TOPIC, '*']]),
          awaitDuration: 3_000,
          logger: quiet,
          requestTimeout: 10_000,
        }),
    );
    const got = new Map<string, string>();
    try {
      for (const c of consumers) await c.startup();
      const deadline = Date.now() + 60_000;
      while (got.size < sent.size && Date.now() < deadline) {
        for (const c of consumers) {
          for (const m of await c.receive(16, 30_000)) {
            got.set(m.messageId, m.body.toString());
            await c.ack(m);
          }
        }
      }
    } finally {
      for (const c of consumers) await c.shutdown().catch(() => undefined);
    }
    expect(new Map([...got].sort())).toEqual(new Map([...sent].sort()));
  }, 180_000);

  it('has Prometheus (published on the host) scraping every running app', async () => {
    const want = [
      ...NAMESRVS.map((n, i) => `${n}:${[9880, 9890][i]}`),
      'broker-a:5557',
      'broker-a-s:5558',
      'broker-b:5559',
      'broker-b-s:5560',
      ...PROXIES.map((p) => `${p.service}:5561`),
      'dashboard:8082',
    ];
    let targets: { labels: { instance: string; job: string }; health: string }[] = [];
    let up: string[] = [];
    // The first scrape comes within scrape_interval (15 s): 2 s apart, at most 20 rounds.
    for (let round = 0; round < 20; round++) {
      const res = await fetch(`http://127.0.0.1:${ENV['PROMETHEUS_PORT']}/api/v1/targets`, { signal: AbortSignal.timeout(2_000) }).catch(() => undefined);
      const body = res?.ok ? ((await res.json()) as { data: { activeTargets: typeof targets } }) : undefined;
      targets = body?.data.activeTargets ?? [];
      up = targets.filter((t) => t.health === 'up').map((t) => t.labels.instance);
      if (want.every((w) => up.includes(w))) break;
      await sleep(2_000);
    }
    expect(up).toEqual(expect.arrayContaining(want));
    expect(
      targets
        .filter((t) => t.labels.job === 'proxy')
        .map((t) => t.labels.instance)
        .sort(),
    ).toEqual(PROXIES.map((p) => `${p.service}:5561`));
  }, 90_000);

  it('serves reads of group a from the slave broker-a-s while the master broker-a is stopped', async () => {
    expect(pc).toBeDefined();
    const ofA = pc.sent.filter((s) => s.brokerName === 'broker-a');
    expect(ofA.length).toBeGreaterThan(0);
    // broker-a is an ASYNC_MASTER: its acknowledgements do not wait for the slave, so let it catch up.
    const caught = await client<{ ok: boolean; ms: number; why?: string }>('caught-up', 'broker-a');
    expect(caught).toMatchObject({ ok: true });
    await composeOk(['stop', 'broker-a'], 60_000);
    expect(await stateOf(await containerOf('broker-a'))).toMatch(/^exited/);
    const queues = [...new Set(ofA.map((s) => s.queueId))].sort().map(String);
    const r = await client<SlavePull>('pull', TOPIC, 'broker-a', ...queues);
    // The pull went to the slave the name servers route, at its container address.
    expect(r.slave).toBe(pc.brokers['broker-a']!['1']);
    expect({ errors: r.errors, msgIds: [...r.found].sort() }).toEqual({ errors: [], msgIds: ofA.map((s) => s.msgId).sort() });
  }, 180_000);
});
